/* A test-controlled CLOCK_REALTIME offset (see step_offset.h). */
#include "step_offset.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t reload = 1;
static int64_t offset_ns;

static void on_usr1(int sig)
{
    (void)sig;
    reload = 1;
}

void step_offset_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    reload = 1;
    (void)step_offset_ns();
}

int64_t step_offset_ns(void)
{
    if (reload) {
        reload = 0;
        const char *path = getenv("ORACLE_TEST_STEP_FILE");
        FILE *f = path != NULL ? fopen(path, "r") : NULL;
        long long v = 0;
        if (f != NULL) {
            if (fscanf(f, "%lld", &v) != 1) {
                v = 0;
            }
            fclose(f);
        }
        offset_ns = v;
    }
    return offset_ns;
}

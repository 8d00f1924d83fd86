/* Start-up checks of the host (see hostcheck.h). */
#include "hostcheck.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "log.h"

const char *hostcheck_clocksource(const char *name, char *buf, size_t cap)
{
    size_t len = strcspn(name, "\n");
    if (len == 3 && strncmp(name, "tsc", 3) == 0) {
        return NULL;
    }
    snprintf(buf, cap,
             "the kernel clocksource is '%.*s', not tsc: every clock reading is a system call "
             "(microseconds instead of ~20 ns), which slows every request and commit-wait "
             "release; see OPERATIONS.md, 'Clocksource'",
             (int)(len > 32 ? 32 : len), name);
    return buf;
}

const char *hostcheck_nofile(uint64_t nofile, uint64_t max_connections, char *buf, size_t cap)
{
    if (nofile >= max_connections + HOSTCHECK_FD_RESERVE) {
        return NULL;
    }
    snprintf(buf, cap,
             "the file descriptor limit (%llu) is below --max-connections (%llu) plus %d: "
             "accepting fails (EMFILE) before that limit is reached; raise LimitNOFILE "
             "(systemd) or ulimit -n",
             (unsigned long long)nofile, (unsigned long long)max_connections, HOSTCHECK_FD_RESERVE);
    return buf;
}

void hostcheck_run(uint64_t max_connections)
{
    char buf[320];
    FILE *f = fopen(HOSTCHECK_CLOCKSOURCE_PATH, "r");
    if (f != NULL) {
        char name[64];
        if (fgets(name, sizeof(name), f) != NULL) {
            const char *warning = hostcheck_clocksource(name, buf, sizeof(buf));
            if (warning != NULL) {
                log_warn("%s", warning);
            }
        }
        fclose(f);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        const char *warning =
            hostcheck_nofile((uint64_t)rl.rlim_cur, max_connections, buf, sizeof(buf));
        if (warning != NULL) {
            log_warn("%s", warning);
        }
    }
}

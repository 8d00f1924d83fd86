/*
 * reset-probe: asks a chronyd to start over the way AWS ClockBound does after a clock
 * disruption, through chrony_client and chrony_proto (the code oracled runs): RESET_SOURCES
 * (drop every sample of every source) or BURST (sample every source again now).
 * Usage: reset-probe CHRONY_ADDR reset
 *        reset-probe CHRONY_ADDR burst [GOOD/TOTAL]   (default 4/8, as ClockBound)
 * e.g. reset-probe unix:/run/chrony/chronyd.sock reset
 * Exit 0 with "ok" on stdout when chronyd did it; 1 with "reset-probe: WHY" on stderr (chronyd's
 * refusal as the decoder names it, e.g. "unauthorised" over UDP, "no such source"); 2 for bad
 * arguments.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "chrony_client.h"

static int usage(void)
{
    fprintf(stderr, "usage: reset-probe CHRONY_ADDR reset | burst [GOOD/TOTAL]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        return usage();
    }
    bool burst = strcmp(argv[2], "burst") == 0;
    if (!burst && (strcmp(argv[2], "reset") != 0 || argc != 3)) {
        return usage();
    }
    int n_good = CHRONY_BURST_GOOD_SAMPLES;
    int n_total = CHRONY_BURST_TOTAL_SAMPLES;
    char extra = '\0';
    if (argc == 4 && sscanf(argv[3], "%d/%d%c", &n_good, &n_total, &extra) != 2) {
        return usage();
    }
    struct chrony_addr a;
    const char *why = NULL;
    if (chrony_addr_parse(argv[1], &a, &why) < 0) {
        fprintf(stderr, "reset-probe: %s\n", why);
        return 2;
    }
    int err = 0;
    struct chrony_client *c = chrony_client_new(&a, cb_clock_system(), &err);
    if (c == NULL) {
        fprintf(stderr, "reset-probe: %s\n", strerror(-err));
        return 1;
    }
    struct chrony_query_opts o = {.timeout_ns = CHRONY_QUERY_DEFAULT_TIMEOUT_NS,
                                  .attempts = CHRONY_QUERY_DEFAULT_ATTEMPTS};
    int rc = burst ? chrony_client_query_burst(c, &o, n_good, n_total, &why)
                   : chrony_client_query_reset_sources(c, &o, &why);
    chrony_client_free(c);
    if (rc < 0) {
        fprintf(stderr, "reset-probe: %s\n", why != NULL ? why : strerror(-rc));
        return rc == -EINVAL ? 2 : 1;
    }
    printf("ok\n");
    return 0;
}

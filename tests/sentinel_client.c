/*
 * The sentinel for the connection-flood test: one client, one connection kept across calls (as
 * a database's pooled connection is), asking for a commit-waited timestamp every INTERVAL_MS for
 * SECONDS. A call that fails with a retriable error is retried at once, on a new connection if
 * the server closed this one (an eviction racing a request); a second failure is a lost request.
 * Checks every timestamp is above the one before. Prints one JSON line: requests, answered,
 * retried, lost, regressions, and the last error. (An eviction seen before a call is no failure:
 * the client finds the error frame waiting on its idle connection and reconnects first.)
 * Usage: sentinel_client HOST:PORT SECONDS INTERVAL_MS
 */
#include <oracle/client.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "it_util.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: sentinel_client HOST:PORT SECONDS INTERVAL_MS\n");
        return 2;
    }
    struct oracle_client_options o;
    oracle_client_options_init(&o);
    o.servers = argv[1];
    o.connect_timeout_ms = 2000;
    o.request_timeout_ms = 2000;
    struct oracle_error err;
    oracle_client *c = oracle_client_new(&o, &err);
    if (c == NULL) {
        fprintf(stderr, "sentinel_client: %s\n", err.message);
        return 2;
    }
    int64_t end = it_clock_ns(CLOCK_MONOTONIC) + (int64_t)atoi(argv[2]) * 1000000000;
    long interval_ns = atol(argv[3]) * 1000000;
    unsigned long requests = 0, answered = 0, retried = 0, lost = 0, regressions = 0;
    uint64_t last = 0;
    char last_error[ORACLE_MESSAGE_MAX] = "";
    while (it_clock_ns(CLOCK_MONOTONIC) < end) {
        requests++;
        uint64_t ts = 0;
        int rc = -1;
        for (int attempt = 0; attempt < 3 && rc < 0; attempt++) {
            rc = oracle_commit_timestamp(c, &ts, &err);
            if (rc < 0) {
                snprintf(last_error, sizeof(last_error), "%s", err.message);
                if (!err.retriable) {
                    break;
                }
                retried += attempt < 2;
            }
        }
        if (rc < 0) {
            lost++;
        } else {
            answered++;
            regressions += ts <= last;
            last = ts;
        }
        struct timespec pause = {.tv_sec = 0, .tv_nsec = interval_ns};
        nanosleep(&pause, NULL);
    }
    printf("{\"requests\":%lu,\"answered\":%lu,\"retried\":%lu,\"lost\":%lu,\"regressions\":%lu,"
           "\"last_error\":\"",
           requests, answered, retried, lost, regressions);
    for (const char *p = last_error; *p != '\0'; p++) {
        putchar(*p == '"' || *p == '\\' || (unsigned char)*p < 0x20 ? '?' : *p);
    }
    printf("\"}\n");
    oracle_client_free(c);
    return 0;
}

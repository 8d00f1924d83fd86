/*
 * A sequential client for the load-balancer test: COUNT timestamps, each on a new connection
 * (so each may reach another instance), with or without commit-wait, and no session minimum
 * (min_ts_ns stays 0: only commit-wait may keep the order). A failed attempt (an instance
 * killed or draining, a retriable error) is retried on a new connection, up to 50 times.
 * Prints one JSON line: requests, regressions (a timestamp not above the one before), distinct
 * instances seen, retries, failures. Usage: lb_client HOST:PORT COUNT wait|nowait
 */
#include <oracle/client.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_INSTANCES 16
#define MAX_RETRIES   50

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = ms * 1000000};
    nanosleep(&ts, NULL);
}

/* One timestamp and the instance that gave it, on a new connection. Returns 0 or the rc. */
static int one(const char *addr, bool wait, uint64_t *ts, char *instance, size_t cap,
               struct oracle_error *err)
{
    struct oracle_client_options o;
    oracle_client_options_init(&o);
    o.servers = addr;
    o.session_min = false;
    o.connect_timeout_ms = 1000;
    o.request_timeout_ms = 2000;
    oracle_client *c = oracle_client_new(&o, err);
    if (c == NULL) {
        return err->rc;
    }
    struct oracle_ts_request req = {.count = 1, .commit_wait = wait};
    struct oracle_timestamps t;
    int rc = oracle_get_timestamps(c, &req, &t, err);
    if (rc == 0) {
        *ts = t.first_ns;
        struct oracle_info info;
        rc = oracle_server_info(c, &info, err);
        if (rc == 0) {
            snprintf(instance, cap, "%s", info.instance_id);
        }
    }
    oracle_client_free(c);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[3], "wait") != 0 && strcmp(argv[3], "nowait") != 0)) {
        fprintf(stderr, "usage: lb_client HOST:PORT COUNT wait|nowait\n");
        return 2;
    }
    const char *addr = argv[1];
    long count = atol(argv[2]);
    bool wait = strcmp(argv[3], "wait") == 0;
    char seen[MAX_INSTANCES][ORACLE_INFO_TEXT_MAX];
    int n_seen = 0;
    uint64_t last = 0;
    long regressions = 0;
    long retries = 0;
    long failures = 0;
    for (long i = 0; i < count; i++) {
        uint64_t ts = 0;
        char instance[ORACLE_INFO_TEXT_MAX] = "";
        struct oracle_error err;
        int rc = -1;
        for (int attempt = 0; attempt <= MAX_RETRIES; attempt++) {
            rc = one(addr, wait, &ts, instance, sizeof(instance), &err);
            if (rc == 0 || !err.retriable) {
                break;
            }
            retries++;
            sleep_ms(20);
        }
        if (rc != 0) {
            fprintf(stderr, "lb_client: request %ld: %s\n", i, err.message);
            failures++;
            continue;
        }
        if (ts <= last) {
            regressions++;
        }
        last = ts;
        bool known = false;
        for (int k = 0; k < n_seen; k++) {
            known = known || strcmp(seen[k], instance) == 0;
        }
        if (!known && n_seen < MAX_INSTANCES) {
            snprintf(seen[n_seen++], sizeof(seen[0]), "%s", instance);
        }
    }
    printf("{\"requests\":%ld,\"regressions\":%ld,\"instances\":%d,\"retries\":%ld,"
           "\"failures\":%ld}\n",
           count, regressions, n_seen, retries, failures);
    return 0;
}

/*
 * Stress: THREADS threads x CALLS calls through one shared client (oracle_shared_new())
 * against a real oracled. Every timestamp is unique across threads and increasing per thread;
 * every commit-waited timestamp is in the past at its return, by the client's own Now asked
 * after it; every WaitUntil returned with its timestamp past; the client merged calls (fewer
 * requests than calls). Exit 0 when all hold, 1 with what failed, 2 on a usage error.
 *
 * Usage: it_shared SERVER THREADS CALLS
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle/client.h"

struct worker {
    oracle_client *client;
    pthread_t thread;
    unsigned index;
    size_t calls;
    uint64_t *ts; /* every timestamp this thread got, in order */
    size_t n_ts;
    char failure[512];
};

static atomic_bool failed;

static void *work(void *arg)
{
    struct worker *w = arg;
    struct oracle_error err;
    uint64_t last = 0;
    for (size_t i = 0; i < w->calls && !atomic_load(&failed); i++) {
        unsigned kind = (unsigned)((i + w->index) % 8);
        uint64_t ts = 0;
        int rc;
        if (kind < 5) {
            rc = oracle_timestamp(w->client, &ts, &err);
        } else if (kind < 7) {
            rc = oracle_commit_timestamp(w->client, &ts, &err);
            struct oracle_bounds now;
            if (rc == 0) {
                rc = oracle_now(w->client, &now, &err);
                if (rc == 0 && now.earliest_ns <= ts) {
                    snprintf(w->failure, sizeof(w->failure),
                             "commit-waited %" PRIu64 " not past at its return: earliest %" PRIu64,
                             ts, now.earliest_ns);
                    break;
                }
            }
        } else {
            /* A WaitUntil on a timestamp already handed out: past on return. */
            uint64_t waited;
            rc = last == 0 ? 0 : oracle_wait_until(w->client, last, 0, &waited, &err);
            bool past = false;
            if (rc == 0 && last != 0) {
                rc = oracle_before(w->client, last, &past, &err);
                if (rc == 0 && !past) {
                    snprintf(w->failure, sizeof(w->failure),
                             "WaitUntil(%" PRIu64 ") returned, Before says not past", last);
                    break;
                }
            }
        }
        if (rc != 0) {
            snprintf(w->failure, sizeof(w->failure), "call %zu: %s: %s", i, oracle_rc_name(rc),
                     err.message);
            break;
        }
        if (kind == 7) {
            continue;
        }
        if (ts <= last) {
            snprintf(w->failure, sizeof(w->failure),
                     "call %zu: %" PRIu64 " not above this thread's previous %" PRIu64, i, ts,
                     last);
            break;
        }
        last = ts;
        w->ts[w->n_ts++] = ts;
    }
    if (w->failure[0] != '\0') {
        atomic_store(&failed, true);
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: it_shared SERVER THREADS CALLS\n");
        return 2;
    }
    unsigned threads = (unsigned)strtoul(argv[2], NULL, 10);
    size_t calls = strtoul(argv[3], NULL, 10);
    if (threads == 0 || calls == 0) {
        fprintf(stderr, "it_shared: THREADS and CALLS must be positive\n");
        return 2;
    }
    struct oracle_client_options o;
    oracle_client_options_init(&o);
    o.servers = argv[1];
    o.request_timeout_ms = 10000; /* sanitizers are slow; a stall still fails the run */
    /* TLS, when the script asks for it (it_shared.sh's second run). */
    o.tls_ca = getenv("ORACLE_TLS_CA");
    o.tls_cert = getenv("ORACLE_TLS_CERT");
    o.tls_key = getenv("ORACLE_TLS_KEY");
    struct oracle_error err;
    oracle_client *c = oracle_shared_new(&o, &err);
    if (c == NULL) {
        fprintf(stderr, "it_shared: %s\n", err.message);
        return 1;
    }
    struct worker *w = calloc(threads, sizeof(*w));
    for (unsigned i = 0; i < threads; i++) {
        w[i].client = c;
        w[i].index = i;
        w[i].calls = calls;
        w[i].ts = calloc(calls, sizeof(uint64_t));
        if (w[i].ts == NULL || pthread_create(&w[i].thread, NULL, work, &w[i]) != 0) {
            fprintf(stderr, "it_shared: cannot start thread %u\n", i);
            return 1;
        }
    }
    size_t total = 0;
    int rc = 0;
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(w[i].thread, NULL);
        if (w[i].failure[0] != '\0') {
            fprintf(stderr, "FAIL: thread %u: %s\n", i, w[i].failure);
            rc = 1;
        }
        total += w[i].n_ts;
    }
    struct oracle_client_counts n;
    oracle_client_counts(c, &n);
    oracle_client_free(c);
    uint64_t *all = malloc((total + 1) * sizeof(uint64_t));
    size_t k = 0;
    for (unsigned i = 0; i < threads; i++) {
        memcpy(all + k, w[i].ts, w[i].n_ts * sizeof(uint64_t));
        k += w[i].n_ts;
        free(w[i].ts);
    }
    qsort(all, total, sizeof(uint64_t), cmp_u64);
    for (size_t i = 1; i < total; i++) {
        if (all[i] == all[i - 1]) {
            fprintf(stderr, "FAIL: timestamp %" PRIu64 " handed out twice\n", all[i]);
            rc = 1;
            break;
        }
    }
    if (rc == 0 && total != (size_t)threads * calls * 7 / 8 && calls % 8 == 0) {
        fprintf(stderr, "FAIL: %zu timestamps, expected %zu\n", total,
                (size_t)threads * calls * 7 / 8);
        rc = 1;
    }
    if (rc == 0 && threads > 1 && n.requests >= n.calls) {
        fprintf(stderr, "FAIL: %" PRIu64 " requests for %" PRIu64 " calls: nothing merged\n",
                n.requests, n.calls);
        rc = 1;
    }
    printf("%u threads x %zu calls: %zu timestamps, all unique, increasing per thread; "
           "%" PRIu64 " calls in %" PRIu64 " requests (%.1f per request), %" PRIu64
           " merged, %" PRIu64 " connection(s)\n",
           threads, calls, total, n.calls, n.requests,
           n.requests > 0 ? (double)n.calls / (double)n.requests : 0.0, n.batched, n.connects);
    free(all);
    free(w);
    return rc;
}

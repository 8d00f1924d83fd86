/* oracle-bench's client scenarios (see clientload.h). */
#include "clientload.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <uv.h>

#include "histjson.h"
#include "histogram.h"
#include "oracle/async.h"
#include "oracle/client.h"
#include "procstat.h"

enum phase { WARMUP, MEASURE, STOP };

/* One caller's record: a thread's, or, with async, the loop's for all its calls. */
struct caller {
    pthread_t thread;
    oracle_client *client; /* per-thread: its own; shared: the one */
    struct histogram latency;
    struct histogram waited;
    uint64_t delivered; /* timestamps returned within the measured window */
    uint64_t errors;
    char error[ORACLE_MESSAGE_MAX + 32];
};

struct load {
    const struct client_load *l;
    _Atomic int phase;
    struct caller *callers;
    /* async */
    oracle_async *async;
    unsigned outstanding;
    uv_timer_t timer;
    struct oracle_client_counts counts0, counts1;
    int64_t from_ns, to_ns, cpu0_ns, cpu1_ns, server0_ns, server1_ns;
    uint64_t host_total0, host_steal0, host_total1, host_steal1;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t self_cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

int client_mode_parse(const char *name, enum client_mode *out)
{
    if (strcmp(name, "shared") == 0) {
        *out = CLIENT_SHARED;
    } else if (strcmp(name, "per-thread") == 0) {
        *out = CLIENT_PER_THREAD;
    } else if (strcmp(name, "async") == 0) {
        *out = CLIENT_ASYNC;
    } else {
        return -1;
    }
    return 0;
}

static const char *mode_name(enum client_mode m)
{
    return m == CLIENT_SHARED ? "shared" : m == CLIENT_PER_THREAD ? "per-thread" : "async";
}

static void options_for(const struct client_load *l, struct oracle_client_options *o)
{
    oracle_client_options_init(o);
    o->servers = l->addr;
    o->request_timeout_ms = 10000;
    o->max_batch_delay_us = l->max_batch_delay_us;
    o->tls_ca = l->tls_ca;
    o->tls_cert = l->tls_cert;
    o->tls_key = l->tls_key;
}

/* A call's end, counted when it ends inside the measured window. */
static void record(struct load *ld, struct caller *k, int64_t sent_ns, int rc,
                   const struct oracle_timestamps *t, const struct oracle_error *err)
{
    if (atomic_load_explicit(&ld->phase, memory_order_relaxed) != MEASURE) {
        return;
    }
    if (rc != 0) {
        if (k->errors++ == 0) {
            snprintf(k->error, sizeof(k->error), "%s: %s", oracle_rc_name(rc), err->message);
        }
        return;
    }
    hist_record(&k->latency, mono_ns() - sent_ns);
    if (ld->l->commit_wait) {
        hist_record(&k->waited, (int64_t)t->waited_ns);
    }
    k->delivered += t->count;
}

struct thread_arg {
    struct load *ld;
    struct caller *k;
};

static void *thread_main(void *arg)
{
    struct thread_arg *ta = arg;
    struct load *ld = ta->ld;
    struct caller *k = ta->k;
    struct oracle_ts_request req = {.count = 1, .commit_wait = ld->l->commit_wait};
    while (atomic_load_explicit(&ld->phase, memory_order_relaxed) != STOP) {
        struct oracle_timestamps t;
        struct oracle_error err;
        int64_t sent = mono_ns();
        int rc = oracle_get_timestamps(k->client, &req, &t, &err);
        record(ld, k, sent, rc, &t, &err);
    }
    return NULL;
}

/* ---- async ---- */

struct async_call {
    struct load *ld;
    int64_t sent_ns;
};

static void submit(struct load *ld, struct async_call *c);

static void on_async(const struct oracle_response *r, void *arg)
{
    struct async_call *c = arg;
    struct load *ld = c->ld;
    record(ld, &ld->callers[0], c->sent_ns, r->rc, &r->u.ts, &r->error);
    if (atomic_load_explicit(&ld->phase, memory_order_relaxed) == STOP ||
        r->rc == ORACLE_E_CLOSED) {
        ld->outstanding--;
        free(c);
        if (ld->outstanding == 0) {
            oracle_async_close(ld->async, NULL, NULL);
        }
        return;
    }
    submit(ld, c);
}

static void submit(struct load *ld, struct async_call *c)
{
    struct oracle_request req = {.op = ORACLE_OP_GET_TIMESTAMP,
                                 .ts = {.count = 1, .commit_wait = ld->l->commit_wait}};
    struct oracle_error err;
    c->sent_ns = mono_ns();
    if (oracle_async_submit(ld->async, &req, on_async, c, &err) < 0) {
        fprintf(stderr, "oracle-bench: %s\n", err.message);
        exit(1);
    }
}

static void snapshot(struct load *ld, bool start);

static void on_phase(uv_timer_t *t)
{
    struct load *ld = t->data;
    if (atomic_load(&ld->phase) == WARMUP) {
        snapshot(ld, true);
        atomic_store(&ld->phase, MEASURE);
        uv_timer_start(t, on_phase, (uint64_t)(ld->l->duration_ns / 1000000), 0);
        return;
    }
    snapshot(ld, false);
    atomic_store(&ld->phase, STOP);
    uv_close((uv_handle_t *)t, NULL);
}

static void run_async(struct load *ld)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct oracle_client_options o;
    options_for(ld->l, &o);
    struct oracle_error err;
    ld->async = oracle_async_new(&loop, &o, &err);
    if (ld->async == NULL) {
        fprintf(stderr, "oracle-bench: %s\n", err.message);
        exit(1);
    }
    uv_timer_init(&loop, &ld->timer);
    ld->timer.data = ld;
    uv_timer_start(&ld->timer, on_phase, (uint64_t)(ld->l->warmup_ns / 1000000), 0);
    for (unsigned i = 0; i < ld->l->threads; i++) {
        struct async_call *c = malloc(sizeof(*c));
        if (c == NULL) {
            fprintf(stderr, "oracle-bench: out of memory\n");
            exit(1);
        }
        c->ld = ld;
        ld->outstanding++;
        submit(ld, c);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
}

/* ---- the window ---- */

static void counts_of(struct load *ld, struct oracle_client_counts *out)
{
    memset(out, 0, sizeof(*out));
    if (ld->l->mode == CLIENT_ASYNC) {
        oracle_async_counts(ld->async, out);
    } else if (ld->l->mode == CLIENT_SHARED) {
        oracle_client_counts(ld->callers[0].client, out);
    }
}

static void snapshot(struct load *ld, bool start)
{
    int64_t server = 0;
    if (ld->l->server_pid > 0) {
        (void)procstat_cpu_ns(ld->l->server_pid, &server);
    }
    if (start) {
        counts_of(ld, &ld->counts0);
        ld->from_ns = mono_ns();
        ld->cpu0_ns = self_cpu_ns();
        ld->server0_ns = server;
        (void)procstat_steal(&ld->host_total0, &ld->host_steal0);
    } else {
        counts_of(ld, &ld->counts1);
        ld->to_ns = mono_ns();
        ld->cpu1_ns = self_cpu_ns();
        ld->server1_ns = server;
        (void)procstat_steal(&ld->host_total1, &ld->host_steal1);
    }
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

int client_load_run(const struct client_load *l)
{
    struct load ld;
    memset(&ld, 0, sizeof(ld));
    ld.l = l;
    unsigned n_callers = l->mode == CLIENT_ASYNC ? 1 : l->threads;
    ld.callers = calloc(n_callers, sizeof(ld.callers[0]));
    struct thread_arg *args = calloc(n_callers, sizeof(args[0]));
    if (ld.callers == NULL || args == NULL) {
        fprintf(stderr, "oracle-bench: out of memory\n");
        return 1;
    }
    for (unsigned i = 0; i < n_callers; i++) {
        hist_init(&ld.callers[i].latency);
        hist_init(&ld.callers[i].waited);
    }
    struct oracle_client_options o;
    options_for(l, &o);
    struct oracle_error err;
    oracle_client *shared = NULL;
    if (l->mode == CLIENT_SHARED) {
        shared = oracle_shared_new(&o, &err);
        if (shared == NULL) {
            fprintf(stderr, "oracle-bench: %s\n", err.message);
            return 1;
        }
    }
    if (l->mode == CLIENT_ASYNC) {
        run_async(&ld);
    } else {
        for (unsigned i = 0; i < n_callers; i++) {
            struct caller *k = &ld.callers[i];
            k->client = shared != NULL ? shared : oracle_client_new(&o, &err);
            args[i] = (struct thread_arg){.ld = &ld, .k = k};
            if (k->client == NULL || pthread_create(&k->thread, NULL, thread_main, &args[i])) {
                fprintf(stderr, "oracle-bench: cannot start caller %u\n", i);
                return 1;
            }
        }
        sleep_ns(l->warmup_ns);
        snapshot(&ld, true);
        atomic_store(&ld.phase, MEASURE);
        sleep_ns(l->duration_ns);
        snapshot(&ld, false);
        atomic_store(&ld.phase, STOP);
        for (unsigned i = 0; i < n_callers; i++) {
            pthread_join(ld.callers[i].thread, NULL);
            if (shared == NULL) {
                oracle_client_free(ld.callers[i].client);
            }
        }
        oracle_client_free(shared);
    }
    struct histogram latency, waited;
    hist_init(&latency);
    hist_init(&waited);
    uint64_t delivered = 0, errors = 0;
    const char *first_error = "";
    for (unsigned i = 0; i < n_callers; i++) {
        hist_merge(&latency, &ld.callers[i].latency);
        hist_merge(&waited, &ld.callers[i].waited);
        delivered += ld.callers[i].delivered;
        if (ld.callers[i].errors > 0 && errors == 0) {
            first_error = ld.callers[i].error;
        }
        errors += ld.callers[i].errors;
    }
    double s = (double)(ld.to_ns - ld.from_ns) / 1e9;
    /* A blocking client of its own per thread sends one request per call. */
    uint64_t requests = l->mode == CLIENT_PER_THREAD ? latency.total + errors
                                                     : ld.counts1.requests - ld.counts0.requests;
    uint64_t calls = latency.total + errors;
    printf("{\"scenario\":\"%s\",\"target\":\"oracled\",\"mode\":\"client\",\"client\":\"%s\","
           "\"op\":\"%s\",\"threads\":%u,\"seconds\":%.3f,\"calls\":%" PRIu64 ",\"errors\":%" PRIu64
           ",\"timestamps_per_s\":%.1f,\"server_requests\":%" PRIu64
           ",\"server_requests_per_s\":%.1f,\"calls_per_request\":%.2f,\"client_cpu_s\":%.3f",
           l->scenario, mode_name(l->mode), l->commit_wait ? "ts-wait" : "ts", l->threads, s, calls,
           errors, s > 0 ? (double)delivered / s : 0, requests, s > 0 ? (double)requests / s : 0,
           requests > 0 ? (double)calls / (double)requests : 0,
           (double)(ld.cpu1_ns - ld.cpu0_ns) / 1e9);
    if (l->server_pid > 0) {
        printf(",\"server_cpu_s\":%.3f", (double)(ld.server1_ns - ld.server0_ns) / 1e9);
    }
    double steal =
        procstat_steal_percent(ld.host_total0, ld.host_steal0, ld.host_total1, ld.host_steal1);
    if (steal >= 0) {
        printf(",\"host_steal_percent\":%.1f", steal);
    }
    hist_json("latency_us", &latency);
    hist_json("waited_us", &waited);
    printf("}\n");
    fprintf(stderr,
            "%s client %s %s x%u: %.0f timestamps/s, %.0f requests/s (%.1f calls each), p50 "
            "%.1f us, p99 %.1f us, %" PRIu64 " errors%s%s\n",
            l->scenario, mode_name(l->mode), l->commit_wait ? "ts-wait" : "ts", l->threads,
            s > 0 ? (double)delivered / s : 0, s > 0 ? (double)requests / s : 0,
            requests > 0 ? (double)calls / (double)requests : 0,
            (double)hist_quantile(&latency, 0.5) / 1e3, (double)hist_quantile(&latency, 0.99) / 1e3,
            errors, errors > 0 ? ": " : "", first_error);
    free(ld.callers);
    free(args);
    return delivered > 0 ? 0 : 1;
}

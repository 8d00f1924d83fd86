/*
 * oracle-bench's client scenarios (issue 19): liboracle-client itself under load from many
 * callers, in one of three ways, for a fixed time:
 *  - shared:     N threads calling one oracle_shared_new() client (batching);
 *  - per-thread: N threads, each with its own oracle_client_new() client (one request per call);
 *  - async:      one libuv loop keeping N oracle_async_submit() calls outstanding.
 * Reports, as one JSON object on stdout: timestamps delivered per second, the caller's latency,
 * the requests the server saw (the batching factor), the server's and the client's CPU, and
 * with commit-wait the wait the server added.
 */
#ifndef BENCH_CLIENTLOAD_H
#define BENCH_CLIENTLOAD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum client_mode {
    CLIENT_NONE,
    CLIENT_SHARED,
    CLIENT_PER_THREAD,
    CLIENT_ASYNC,
};

struct client_load {
    enum client_mode mode;
    const char *addr;
    unsigned threads; /* callers: threads, or outstanding calls with async */
    bool commit_wait;
    int64_t duration_ns;
    int64_t warmup_ns;
    uint32_t max_batch_delay_us;
    pid_t server_pid; /* 0: no server CPU */
    const char *scenario;
    const char *tls_ca; /* TLS: the client's tls_ca, tls_cert and tls_key (NULL: plaintext) */
    const char *tls_cert;
    const char *tls_key;
};

/* "shared", "per-thread", "async" into *out; -1 for another name. */
int client_mode_parse(const char *name, enum client_mode *out);

/* Runs the load and prints its results. Returns the exit status (0, or 1 when nothing was
 * delivered). */
int client_load_run(const struct client_load *l);

#endif

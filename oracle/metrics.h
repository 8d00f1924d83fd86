/*
 * What the HTTP endpoint answers: GET /healthz (200 when the clock is trusted and the server is
 * ready and not draining, else 503 with the reason; a small JSON body either way) and
 * GET /metrics (Prometheus text format 0.0.4).
 *
 * Pure: a formatter over a snapshot that the server fills from each module's *_stats(), so the
 * text is unit-tested from a snapshot built by hand. Changes nothing.
 */
#ifndef ORACLE_METRICS_H
#define ORACLE_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "admit.h"
#include "clockbound.h"
#include "compat/cbcompat.h"
#include "conn.h"
#include "histogram.h"
#include "httpd.h"
#include "ops.h"
#include "poller.h"
#include "reserve.h"
#include "strbuf.h"
#include "vmwatch.h"

/* TLS on the oracle port, as the server runs it. */
struct metrics_tls {
    bool enabled;
    bool mutual;             /* client certificates required (--tls-ca) */
    size_t n_allow;          /* identities on the allow-list, 0: any the CA signed */
    bool http;               /* the HTTP endpoint takes TLS too */
    const char *records;     /* who encrypts the records: "userspace" (OpenSSL) or "kernel" */
    bool ktls_available;     /* the kernel offers kernel TLS */
    const char *ktls_why;    /* ... what the probe found */
    int64_t not_after_s;     /* the certificate in use expires (Unix seconds) */
    uint64_t reloads_ok;     /* SIGHUP: certificates reread */
    uint64_t reloads_failed; /* ... refused (the old ones kept) */
    uint64_t steps_deferred; /* handshake steps that waited for a later loop turn (hspacer.h) */
    uint64_t steps_waiting;  /* ... waiting now */
};

struct metrics_snapshot {
    const char *version;
    const char *instance_id;
    const char *time_source;
    int64_t start_rt_ns; /* when the process started, CLOCK_REALTIME */
    bool demo;           /* the time source is a loopback NTP server */
    bool starting;       /* not yet serving: the clock, the high-water mark, the state file */
    bool ready;          /* serving, not draining */
    bool draining;       /* SIGTERM received */
    struct cb_now now;   /* a clock reading taken for this snapshot */
    const struct cb_state *clock;
    uint64_t bound_violations;
    int64_t worst_violation_ns;
    const struct histogram *chrony_rtt; /* chrony tracking queries, send to reply */
    struct ops_stats ops;
    struct conn_stats conns;
    struct admit_stats admit;
    struct reserve_stats reserve;
    struct poller_stats poller;
    struct httpd_stats httpd;
    struct cbcompat_stats cbcompat;
    struct vmwatch_stats vmwatch;
    struct metrics_tls tls;
};

/* The /healthz answer: returns 200 or 503 and writes the JSON body. */
int metrics_health(const struct metrics_snapshot *m, struct strbuf *body);

/* The /metrics text. */
void metrics_prometheus(const struct metrics_snapshot *m, struct strbuf *body);

enum metrics_page {
    METRICS_NOT_FOUND,
    METRICS_HEALTH,     /* /healthz */
    METRICS_PROMETHEUS, /* /metrics */
};

/* The page a GET of target asks for (a query string is ignored). */
enum metrics_page metrics_page_of(const char *target);

/* The answer for a page; m may be NULL for METRICS_NOT_FOUND (the server reads the clock for a
 * snapshot only when a page needs one). */
void metrics_answer(const struct metrics_snapshot *m, enum metrics_page page, int *status,
                    const char **content_type, struct strbuf *body);

#endif

/* The daemon's loop: listeners, chrony poller, commit-wait queue, flushing (see server.h). */
#include "server.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "admit.h"
#include "clockwatch.h"
#include "compat/cbcompat.h"
#include "conn.h"
#include "errtext.h"
#include "histogram.h"
#include "ktls.h"
#include "log.h"
#include "metrics.h"
#include "netaddr.h"
#include "notify.h"
#include "ops.h"
#include "poller.h"
#include "reserve.h"
#include "timefmt.h"
#include "tlsctx.h"
#include "util.h"
#include "vmwatch.h"
#include "waketimer.h"

#define LISTEN_BACKLOG 4096

enum server_phase {
    PHASE_STARTING,
    PHASE_SERVING,
    PHASE_DRAINING, /* /healthz 503; still serving until the drain delay is over */
    PHASE_CLOSING,  /* no new connections or requests; pending waits finish or fail */
    PHASE_STOPPED,
};

struct server {
    uv_loop_t *loop;
    const struct server_config *cfg;
    struct cb_clock *clock;
    struct clockwatch watch; /* the clock's state, and what is said of it */
    enum server_phase phase;
    int64_t start_mono_ns;
    int64_t start_rt_ns;

    struct poller poller;
    struct vmwatch vmwatch; /* the VMClock page, when there is one */
    struct reserve reserve;
    struct ops ops; /* the requests, the timestamps and the commit-waits */
    struct waketimer wake;
    struct cbcompat cbcompat;
    struct httpd httpd;
    struct conn_env conns; /* the oracle protocol's connections */
    struct admit admit;    /* ... and their caps */

    uv_tcp_t listeners[2 * SERVER_MAX_LISTEN]; /* --listen, then --tls-listen */
    bool listener_tls[2 * SERVER_MAX_LISTEN];
    int n_listeners;
    SSL_CTX *tls_ctx;           /* NULL: TLS off; replaced on SIGHUP (sessions keep theirs) */
    struct metrics_tls tls;     /* what /metrics and /healthz say of it */
    uint64_t tls_unlogged_said; /* handshake failures not logged, as last reported */
    char ktls_why[128];         /* what the kernel TLS probe found */
    uv_check_t flush_check;
    uv_timer_t stats_timer;
    uv_timer_t sweep_timer;
    uv_timer_t drain_timer;
    uv_timer_t shutdown_timer;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    uv_signal_t sighup;

    char instance_id[33];
};

static void close_shutdown_timer(struct server *s);
static void begin_closing(struct server *s);

void server_now(struct server *s, struct cb_now *now)
{
    struct cb_reading r;
    cb_clock_read(s->clock, &r);
    cb_now(&s->watch.state, &r, now);
    if (clockwatch_take_disruptions(&s->watch) > 0) {
        /* DISRUPTED now: chrony is asked to drop its samples, all taken before the disruption,
         * as AWS ClockBound does. */
        poller_reset_chrony(&s->poller);
    }
    s->conns.clock_status = (int)now->status; /* what error frames report */
    cbcompat_reading(&s->cbcompat, &s->watch.state, now);
}

bool server_ready(const struct server *s)
{
    return s->phase == PHASE_SERVING;
}

/* --- the commit-wait wake-up and the flush --- */

static void on_wake(struct waketimer *wt)
{
    ops_wake(&((struct server *)wt->data)->ops);
}

/* After the poll phase: the responses to this turn's requests. */
static void on_flush(uv_check_t *h)
{
    ops_flush(&container_of(h, struct server, flush_check)->ops);
}

/* --- connections (conn_events) --- */

static void on_conn_opened(void *ctx, struct conn *c)
{
    struct server *s = ctx;
    admit_opened(&s->admit, c);
    log_debug("conn %s: open (%zu connections)", c->peer, s->admit.n_live);
}

static void on_conn_active(void *ctx, struct conn *c)
{
    admit_active(&((struct server *)ctx)->admit, c);
}

static void on_conn_batch(void *ctx, bool begin)
{
    ops_batch(&((struct server *)ctx)->ops, begin);
}

static void on_conn_request(void *ctx, struct conn *c, const struct request *req)
{
    ops_handle(&((struct server *)ctx)->ops, c, req);
}

static void on_conn_bad_input(void *ctx, struct conn *c, const char *why)
{
    ops_reject(&((struct server *)ctx)->ops, c, why);
}

static void on_conn_leaving(void *ctx, struct conn *c)
{
    admit_closing(&((struct server *)ctx)->admit, c);
}

static void on_conn_closing(void *ctx, struct conn *c)
{
    ops_conn_closing(&((struct server *)ctx)->ops, c);
}

static void on_conn_freed(void *ctx, struct conn *c)
{
    (void)c;
    struct server *s = ctx;
    if (s->conns.all.len == 0) {
        if (s->phase == PHASE_CLOSING) {
            server_stop(s); /* the last one is gone: nothing left to wait for */
        } else if (s->phase == PHASE_STOPPED) {
            close_shutdown_timer(s);
        }
    }
}

static const struct conn_events conn_events = {
    .opened = on_conn_opened,
    .active = on_conn_active,
    .batch = on_conn_batch,
    .request = on_conn_request,
    .bad_input = on_conn_bad_input,
    .leaving = on_conn_leaving,
    .closing = on_conn_closing,
    .freed = on_conn_freed,
};

static void accept_one(struct server *s, uv_stream_t *listener, int status, SSL_CTX *tls)
{
    if (status < 0) {
        log_warn_errno(status, "accept");
        return;
    }
    int err = 0;
    struct conn *c = conn_accept(&s->conns, listener, tls, &err);
    if (c == NULL) {
        log_warn_errno(err, "accept");
        return;
    }
    if (!c->closing) {
        admit_check(&s->admit, c);
    }
}

static void on_connection(uv_stream_t *listener, int status)
{
    accept_one(listener->data, listener, status, NULL);
}

static void on_tls_connection(uv_stream_t *listener, int status)
{
    struct server *s = listener->data;
    accept_one(s, listener, status, s->tls_ctx);
}

/* Closes connections idle too long, and cuts off clients whose replies stay unread. */
static void on_sweep(uv_timer_t *h)
{
    struct server *s = container_of(h, struct server, sweep_timer);
    int64_t now = cb_clock_ns(s->clock, CB_CLOCK_MONOTONIC);
    for (struct conn *c = conn_of_activity(s->conns.all.newest); c != NULL;
         c = conn_of_activity(c->by_activity.older)) {
        if (c->closing) {
            continue;
        }
        if (conn_tls_handshaking(c) &&
            now - c->accepted_mono_ns > s->cfg->tls_handshake_timeout_ns) {
            conn_tls_expired(c);
            continue;
        }
        bool unsent = conn_unsent(c);
        if (unsent && s->cfg->write_timeout_ns > 0 &&
            now - c->progress_mono_ns > s->cfg->write_timeout_ns) {
            char why[64];
            snprintf(why, sizeof(why), "replies unread for %" PRId64 " s",
                     (now - c->progress_mono_ns) / 1000000000);
            conn_cut_off(c, why);
        } else if (!unsent && c->waits == NULL && s->cfg->idle_timeout_ns > 0 &&
                   now - c->activity_mono_ns > s->cfg->idle_timeout_ns) {
            conn_close_idle(c);
        }
    }
}

/* --- readiness and chrony's news --- */

/* Starting -> serving, once the clock is trusted, earliest has passed the high-water mark
 * found on disk, and a new one is durable. */
static void update_readiness(struct server *s, const struct cb_now *now)
{
    if (s->phase != PHASE_STARTING || !cb_status_trusted(now->status)) {
        return;
    }
    const struct reserve *r = &s->reserve;
    if (r->enabled && (now->earliest_ns <= (int64_t)r->h_start || r->h_committed <= r->h_start)) {
        return;
    }
    s->phase = PHASE_SERVING;
    s->ops.started = true;
    int64_t took = cb_clock_ns(s->clock, CB_CLOCK_MONOTONIC) - s->start_mono_ns;
    log_info("ready: serving timestamps (started %.3f s ago)", (double)took / 1e9);
    notify_ready();
}

static void on_poll_done(struct poller *p)
{
    struct server *s = p->data;
    clockwatch_polled(&s->watch, p->last_error == 0, p->last_rtt_ns);
    if (vmwatch_poll(&s->vmwatch)) {
        struct cb_reading r;
        cb_clock_read(s->clock, &r);
        cb_on_disruption(&s->watch.state, &r);
    }
    struct cb_now now;
    server_now(s, &now);
    clockwatch_note(&s->watch, &now);
    /* The marker kept for the next start: once the clock is trusted at it. */
    if (s->watch.state.vm_have_marker && cb_status_trusted(now.status)) {
        vmwatch_keep(&s->vmwatch, s->watch.state.vm_marker);
    }
    cbcompat_query_sent(&s->cbcompat, p->sent_coarse_ns);
    cbcompat_publish(&s->cbcompat, &s->watch.state, &now);
    if (cb_status_trusted(now.status)) {
        reserve_check(&s->reserve, s->ops.alloc.last_issued, now.latest_ns);
    }
    update_readiness(s, &now);
    /* The bound changed: releases may be due sooner, or the clock may no longer be trusted. */
    ops_wake(&s->ops);
}

/* An NTPDATA answer may have changed the status: an upstream NTP server on its own local clock
 * makes it UNKNOWN at once, not at the next poll. */
static void on_upstream_done(struct poller *p)
{
    struct server *s = p->data;
    struct cb_now now;
    server_now(s, &now);
    clockwatch_note(&s->watch, &now);
    cbcompat_publish(&s->cbcompat, &s->watch.state, &now);
    update_readiness(s, &now);
    ops_wake(&s->ops);
}

static void on_reserved(struct reserve *r, uint64_t high_water_ns)
{
    struct server *s = r->data;
    tsalloc_set_limit(&s->ops.alloc, high_water_ns);
    struct cb_now now;
    server_now(s, &now);
    update_readiness(s, &now);
}

static void log_lateness(const char *what, const struct histogram *h)
{
    log_info("%s: %" PRIu64 " releases, lateness p50 %.1f us, p90 %.1f us, p99 %.1f us, max "
             "%.1f us",
             what, h->total, (double)hist_quantile(h, 0.50) / 1e3,
             (double)hist_quantile(h, 0.90) / 1e3, (double)hist_quantile(h, 0.99) / 1e3,
             (double)h->max_ns / 1e3);
}

static void on_stats(uv_timer_t *h)
{
    struct server *s = container_of(h, struct server, stats_timer);
    uint64_t unlogged = s->conns.stats.tls_unlogged;
    if (unlogged > s->tls_unlogged_said) {
        log_warn("TLS: %" PRIu64 " more handshakes refused and not logged (at most %d lines in "
                 "%d s; oracled_tls_handshakes_total counts them all)",
                 unlogged - s->tls_unlogged_said, CONN_TLS_LOG_BURST,
                 (int)(CONN_TLS_LOG_WINDOW_NS / 1000000000));
        s->tls_unlogged_said = unlogged;
    }
    struct histogram recent;
    ops_take_recent_lateness(&s->ops, &recent);
    if (recent.total > 0) {
        log_lateness("commit-wait (last 10 s)", &recent);
    }
}

/* --- draining and stopping --- */

static void on_signal(uv_signal_t *h, int signum)
{
    struct server *s = h->data;
    log_info("%s received", signum == SIGINT ? "SIGINT" : "SIGTERM");
    server_drain(s);
}

/* --- TLS --- */

/* The server's TLS context from the configured files, checked at the time now. NULL with a
 * sentence in why. */
static SSL_CTX *load_tls(struct server *s, char *why, size_t cap)
{
    int64_t now_s = cb_clock_ns(s->clock, CB_CLOCK_REALTIME) / 1000000000;
    SSL_CTX *ctx = tlsctx_server_new(&s->cfg->tls, now_s, why, cap);
    int64_t from = 0;
    if (ctx != NULL && tlsctx_validity(ctx, &from, &s->tls.not_after_s) < 0) {
        s->tls.not_after_s = 0;
    }
    return ctx;
}

static void log_tls_certificate(const struct server *s, const char *what)
{
    char until[TIMEFMT_UTC_LEN];
    timefmt_utc(s->tls.not_after_s * INT64_C(1000000000), until, sizeof(until));
    log_info("TLS: %s %s (valid until %s)%s", what, s->cfg->tls.cert, until,
             s->cfg->tls.ca == NULL    ? ""
             : s->cfg->tls.n_allow > 0 ? "; client certificates required, from the allow-list"
                                       : "; client certificates required");
}

/* SIGHUP: rereads the certificate, key and CA. New handshakes use them; connections keep the
 * session they have. Files that are refused change nothing. */
void server_reload(struct server *s)
{
    if (s->tls_ctx == NULL) {
        log_info("SIGHUP received: nothing to reread (TLS is off)");
        return;
    }
    char why[TLSCTX_WHY_MAX];
    int64_t kept_until = s->tls.not_after_s;
    SSL_CTX *ctx = load_tls(s, why, sizeof(why));
    if (ctx == NULL) {
        s->tls.not_after_s = kept_until;
        s->tls.reloads_failed++;
        log_err("TLS: SIGHUP: %s; still using the certificate loaded before", why);
        return;
    }
    SSL_CTX_free(s->tls_ctx);
    s->tls_ctx = ctx;
    s->tls.reloads_ok++;
    log_tls_certificate(s, "SIGHUP: reread");
}

static void on_sighup(uv_signal_t *h, int signum)
{
    (void)signum;
    server_reload(h->data);
}

/* TLS on (with --tls-cert): the context, and what the log and /metrics say of it. */
static int open_tls(struct server *s)
{
    const struct server_config *cfg = s->cfg;
    if (cfg->tls.cert == NULL) {
        return 0;
    }
    char why[TLSCTX_WHY_MAX];
    s->tls_ctx = load_tls(s, why, sizeof(why));
    if (s->tls_ctx == NULL) {
        log_err("TLS: %s", why);
        return -EINVAL;
    }
    s->tls.enabled = true;
    s->tls.mutual = cfg->tls.ca != NULL;
    s->tls.n_allow = cfg->tls.n_allow;
    s->tls.http = cfg->http_tls;
    s->tls.records = "userspace";
    s->tls.ktls_available = ktls_probe(s->ktls_why, sizeof(s->ktls_why));
    s->tls.ktls_why = s->ktls_why;
    log_tls_certificate(s, "certificate");
    log_info("TLS: records encrypted in userspace (OpenSSL); kernel TLS: %s", s->ktls_why);
    return 0;
}

static void close_listeners(struct server *s)
{
    for (int i = 0; i < s->n_listeners; i++) {
        if (!uv_is_closing((uv_handle_t *)&s->listeners[i])) {
            uv_close((uv_handle_t *)&s->listeners[i], NULL);
        }
    }
}

static void on_drain_delay_over(uv_timer_t *h)
{
    begin_closing(container_of(h, struct server, drain_timer));
}

static void on_closing_deadline(uv_timer_t *h)
{
    struct server *s = container_of(h, struct server, drain_timer);
    log_warn("commit-waits still pending after the maximum wait: failing them");
    server_stop(s);
}

/* No new connections or requests; pending waits finish within the max wait, or fail. */
static void begin_closing(struct server *s)
{
    if (s->phase >= PHASE_CLOSING) {
        return;
    }
    s->phase = PHASE_CLOSING;
    s->ops.closing = true;
    close_listeners(s);
    log_info("draining: no new connections; %zu commit-waits to finish", waits_len(&s->ops.waits));
    for (struct conn *c = conn_of_activity(s->conns.all.newest); c != NULL;
         c = conn_of_activity(c->by_activity.older)) {
        if (c->waits == NULL && !c->closing) {
            conn_close_after_flush(c);
        }
    }
    ops_flush(&s->ops);
    if (s->conns.all.len == 0) {
        server_stop(s);
        return;
    }
    uint64_t ms = (uint64_t)(s->cfg->max_wait_ns / 1000000) + 100;
    uv_timer_start(&s->drain_timer, on_closing_deadline, ms, 0);
}

void server_drain(struct server *s)
{
    if (s->phase >= PHASE_DRAINING) {
        log_info("stopping now");
        server_stop(s);
        return;
    }
    s->phase = PHASE_DRAINING;
    notify_stopping();
    uint64_t ms = (uint64_t)(s->cfg->drain_delay_ns / 1000000);
    log_info("draining: /healthz answers 503; serving for %" PRIu64 " ms more", ms);
    if (ms == 0) {
        begin_closing(s);
    } else {
        uv_timer_start(&s->drain_timer, on_drain_delay_over, ms, 0);
    }
}

static void close_shutdown_timer(struct server *s)
{
    if (!uv_is_closing((uv_handle_t *)&s->shutdown_timer)) {
        uv_close((uv_handle_t *)&s->shutdown_timer, NULL);
    }
}

static void on_shutdown_timeout(uv_timer_t *h)
{
    struct server *s = h->data;
    for (struct conn *c = conn_of_activity(s->conns.all.newest); c != NULL;
         c = conn_of_activity(c->by_activity.older)) {
        conn_close(c, "shutting down: replies not read in time");
    }
    close_shutdown_timer(s);
}

void server_stop(struct server *s)
{
    if (s->loop == NULL || s->phase == PHASE_STOPPED) {
        return; /* never initialised, or stopped already */
    }
    s->phase = PHASE_STOPPED;
    s->ops.closing = true;
    close_listeners(s);
    struct cb_now now;
    server_now(s, &now);
    for (struct conn *c = conn_of_activity(s->conns.all.newest); c != NULL;
         c = conn_of_activity(c->by_activity.older)) {
        /* Pending waits get SHUTTING_DOWN; the connection closes once that is written. */
        ops_shutdown_conn(&s->ops, c);
        /* Idle connections close now; the others once their replies are written. */
        if (!conn_unsent(c)) {
            conn_close(c, "shutting down");
        } else {
            conn_close_after_flush(c);
            conn_flush(c);
        }
    }
    /* Each module's close is safe on what it never opened, or opened in part. */
    poller_close(&s->poller, NULL);
    waketimer_close(&s->wake, NULL);
    httpd_close(&s->httpd, NULL);
    cbcompat_close(&s->cbcompat, NULL);
    conn_env_close(&s->conns);
    uv_handle_t *handles[] = {
        (uv_handle_t *)&s->flush_check, (uv_handle_t *)&s->stats_timer,
        (uv_handle_t *)&s->sweep_timer, (uv_handle_t *)&s->drain_timer,
        (uv_handle_t *)&s->sigint,      (uv_handle_t *)&s->sigterm,
        (uv_handle_t *)&s->sighup,
    };
    for (size_t i = 0; i < ARRAY_SIZE(handles); i++) {
        uv_close(handles[i], NULL);
    }
    if (s->conns.all.len > 0) {
        /* A client that does not read cannot hold the exit up for long. */
        uv_timer_start(&s->shutdown_timer, on_shutdown_timeout, SERVER_SHUTDOWN_WRITE_MS, 0);
    } else {
        close_shutdown_timer(s);
    }
    struct ops_stats st;
    ops_stats(&s->ops, &st);
    if (st.lateness->total > 0) {
        log_lateness("commit-wait since start", st.lateness);
    }
    uint64_t answered = 0, errors = 0;
    for (int op = 0; op < OPS_COUNTED_OPS; op++) {
        for (int r = 0; r < OPS_COUNTED_RESULTS; r++) {
            answered += st.requests[op][r];
            errors += r > 0 ? st.requests[op][r] : 0;
        }
    }
    log_info("answered %" PRIu64 " requests (%" PRIu64 " errors)", answered, errors);
}

/* --- set-up and tear-down --- */

static void clockbound_now(void *ctx, struct cb_now *now)
{
    server_now(ctx, now);
}

void server_snapshot(struct server *s, struct metrics_snapshot *out)
{
    memset(out, 0, sizeof(*out));
    server_now(s, &out->now);
    out->version = s->cfg->version;
    out->instance_id = s->instance_id;
    out->time_source = s->watch.time_source;
    out->start_rt_ns = s->start_rt_ns;
    out->demo = s->watch.demo;
    out->starting = s->phase == PHASE_STARTING;
    out->ready = server_ready(s);
    out->draining = s->phase >= PHASE_DRAINING;
    out->clock = &s->watch.state;
    out->bound_violations = s->watch.bound_violations;
    out->worst_violation_ns = s->watch.worst_violation_ns;
    out->chrony_rtt = &s->watch.chrony_rtt;
    ops_stats(&s->ops, &out->ops);
    out->conns = s->conns.stats;
    admit_stats(&s->admit, &out->admit);
    reserve_stats(&s->reserve, &out->reserve);
    poller_stats(&s->poller, &out->poller);
    httpd_stats(&s->httpd, &out->httpd);
    cbcompat_stats(&s->cbcompat, &out->cbcompat);
    vmwatch_stats(&s->vmwatch, &out->vmwatch);
    out->tls = s->tls;
    out->tls.steps_deferred = s->conns.hs.deferred;
    out->tls.steps_waiting = hspacer_waiting(&s->conns.hs);
}

int server_listener_address(const struct server *s, int i, struct sockaddr_storage *out)
{
    if (i < 0 || i >= s->n_listeners) {
        return UV_EINVAL;
    }
    int len = sizeof(*out);
    return uv_tcp_getsockname(&s->listeners[i], (struct sockaddr *)out, &len);
}

static void on_http(void *ctx, const struct http_request *req, int *status,
                    const char **content_type, struct strbuf *body)
{
    struct server *s = ctx;
    enum metrics_page page = metrics_page_of(req->target);
    if (s->cfg->http_tls && !req->over_tls && page != METRICS_HEALTH) {
        /* --http-tls: only the load balancer's check is answered in plain HTTP. */
        *status = 403;
        strbuf_printf(body, "this endpoint speaks HTTPS: only /healthz is answered in plain "
                            "HTTP\n");
        return;
    }
    if (page == METRICS_NOT_FOUND) {
        metrics_answer(NULL, page, status, content_type, body); /* no clock reading for a 404 */
        return;
    }
    struct metrics_snapshot m;
    server_snapshot(ctx, &m);
    metrics_answer(&m, page, status, content_type, body);
}

/* The PHC's own error bound (--phc-interface or --phc-error-bound-file): found, opened and read
 * once now, so a wrong setting stops the start with a clear message. */
static int open_phc(struct server *s)
{
    const struct server_config *cfg = s->cfg;
    if (cfg->phc_interface == NULL && cfg->phc_error_bound_file == NULL) {
        return 0;
    }
    char why[2 * CB_PHC_PATH_MAX + 256];
    int rc = poller_set_phc(&s->poller, cfg->phc_interface, cfg->phc_error_bound_file,
                            cfg->phc_ref_id, why, sizeof(why));
    if (rc < 0) {
        log_err("%s", why);
        return rc;
    }
    const char *path = s->poller.phc.path;
    char refid[5] = {(char)(cfg->phc_ref_id >> 24), (char)(cfg->phc_ref_id >> 16),
                     (char)(cfg->phc_ref_id >> 8), (char)cfg->phc_ref_id, '\0'};
    int64_t ns = 0;
    rc = cb_phc_read(&s->poller.phc, &ns);
    if (rc < 0) {
        log_warn("PHC error bound %s: cannot be read now (%s): the clock is UNKNOWN while "
                 "chrony's reference is %s and it cannot be read",
                 path, err_text(rc), refid);
    } else {
        log_info("PHC error bound %s: %" PRId64 " ns now; added while chrony's reference is %s",
                 path, ns, refid);
    }
    return 0;
}

struct server *server_new(void)
{
    return calloc(1, sizeof(struct server));
}

int server_init(struct server *s, uv_loop_t *loop, const struct server_config *cfg,
                struct cb_clock *clock)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->cfg = cfg;
    s->clock = clock;
    s->phase = PHASE_STARTING;
    s->start_mono_ns = cb_clock_ns(clock, CB_CLOCK_MONOTONIC);
    s->start_rt_ns = cb_clock_ns(clock, CB_CLOCK_REALTIME);
    clockwatch_init(&s->watch, &cfg->clock, cfg->chrony_text);
    reserve_disabled(&s->reserve);
    /* The server's own handles first (they cannot fail): from here on server_stop() closes
     * them, and every module closes whatever part of it was opened. */
    uv_check_init(loop, &s->flush_check);
    uv_timer_init(loop, &s->stats_timer);
    uv_timer_init(loop, &s->sweep_timer);
    uv_timer_init(loop, &s->drain_timer);
    uv_timer_init(loop, &s->shutdown_timer);
    s->shutdown_timer.data = s;
    uv_signal_init(loop, &s->sigint);
    uv_signal_init(loop, &s->sigterm);
    uv_signal_init(loop, &s->sighup);
    s->sigint.data = s;
    s->sigterm.data = s;
    s->sighup.data = s;

    int rc = conn_env_init(&s->conns, loop, clock, cfg->max_output_bytes, cfg->keepalive_s,
                           &conn_events, s);
    if (rc < 0) {
        log_err("out of memory");
        goto fail;
    }
    rc = admit_init(&s->admit, &s->conns, cfg->max_connections, cfg->max_connections_per_peer);
    if (rc < 0) {
        log_err("out of memory for the table of peers (--max-connections-per-peer)");
        goto fail;
    }
    char why[768];
    rc = vmwatch_open(&s->vmwatch, cfg->vmclock, clock, why, sizeof(why));
    if (rc < 0) {
        log_err("%s", why);
        goto fail;
    }
    s->clock = vmwatch_clock(&s->vmwatch);
    s->conns.clock = s->clock;

    uint8_t id[16];
    if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id)) {
        rc = -EIO;
        log_err_errno(errno, "getrandom");
        goto fail;
    }
    for (size_t i = 0; i < sizeof(id); i++) {
        snprintf(s->instance_id + 2 * i, 3, "%02x", id[i]);
    }

    if (cfg->state_dir != NULL) {
        rc = reserve_open(&s->reserve, loop, cfg->state_dir, cfg->state_window_ns,
                          cfg->clock.max_bound_ns, s->start_rt_ns, on_reserved, why, sizeof(why));
        if (rc < 0) {
            log_err("%s", why);
            reserve_disabled(&s->reserve);
            goto fail;
        }
        s->reserve.data = s;
    }
    struct ops_config ops = {
        .max_wait_ns = cfg->max_wait_ns,
        .max_run_ahead_ns = cfg->max_run_ahead_ns,
        .max_drift_ppb = (uint32_t)cfg->clock.max_drift_ppb,
        .max_pending = cfg->max_pending,
        .max_pending_per_conn = cfg->max_pending_per_conn,
        .version = cfg->version,
        .instance_id = s->instance_id,
        .time_source = s->watch.time_source,
        .now = clockbound_now,
        .now_ctx = s,
        .conns = &s->conns,
        .reserve = &s->reserve,
        .wake = &s->wake,
    };
    ops_init(&s->ops, &ops);
    rc = poller_init(&s->poller, loop, &cfg->chrony, s->clock, &s->watch.state,
                     cfg->poll_interval_ns, on_poll_done);
    if (rc < 0) {
        log_err("cannot open a socket to chrony at %s: %s", cfg->chrony_text,
                rc == -EADDRNOTAVAIL ? "host name does not resolve" : err_text(rc));
        goto fail;
    }
    s->poller.data = s;
    s->poller.upstream_cb = on_upstream_done;
    rc = open_phc(s);
    if (rc < 0) {
        goto fail;
    }
    bool have_marker = false;
    uint64_t marker = 0;
    bool start_disrupted = vmwatch_kept_differs(&s->vmwatch, cfg->state_dir, &have_marker, &marker);
    if (have_marker) {
        cb_set_marker(&s->watch.state, marker); /* a change from here on is a disruption */
    }
    if (start_disrupted) {
        struct cb_reading r;
        cb_clock_read(s->clock, &r);
        cb_on_disruption(&s->watch.state, &r);
    }
    rc = waketimer_init(&s->wake, loop, s->clock, on_wake);
    if (rc < 0) {
        log_err_errno(rc, "commit-wait timer");
        goto fail;
    }
    s->wake.data = s;
    rc = cbcompat_open(&s->cbcompat, loop, s->clock, &s->watch.state, cfg->clockbound_socket,
                       cfg->clockbound_socket_mode, cfg->clockbound_shm,
                       (uint32_t)cfg->clock.max_drift_ppb, cfg->clock.grace_ns, clockbound_now, s);
    if (rc < 0) {
        goto fail; /* (logged) */
    }
    rc = open_tls(s);
    if (rc < 0) {
        goto fail; /* (logged) */
    }
    /* With a certificate, --listen speaks TLS unless --tls-listen names where TLS goes. */
    bool listen_tls = s->tls_ctx != NULL && cfg->n_tls_listen == 0;
    for (int i = 0; i < cfg->n_listen + cfg->n_tls_listen; i++) {
        bool tls = i < cfg->n_listen ? listen_tls : true;
        const char *addr = i < cfg->n_listen ? cfg->listen[i] : cfg->tls_listen[i - cfg->n_listen];
        uv_tcp_t *l = &s->listeners[s->n_listeners];
        s->listener_tls[s->n_listeners++] = tls;
        rc = netaddr_listen(loop, l, addr, LISTEN_BACKLOG, tls ? on_tls_connection : on_connection,
                            tls ? "oracle (TLS)" : "oracle");
        l->data = s;
        if (rc < 0) {
            goto fail; /* (logged) */
        }
    }
    rc = httpd_init(&s->httpd, loop, cfg->http_listen, cfg->n_http_listen,
                    cfg->http_max_connections, cfg->http_tls ? &s->tls_ctx : NULL, on_http, s);
    if (rc < 0) {
        goto fail; /* (logged) */
    }
    return 0;

fail:
    server_stop(s);
    return rc;
}

int server_start(struct server *s)
{
    uv_check_start(&s->flush_check, on_flush);
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_signal_start(&s->sighup, on_sighup, SIGHUP);
    uv_timer_start(&s->stats_timer, on_stats, SERVER_STATS_INTERVAL_MS, SERVER_STATS_INTERVAL_MS);
    uv_timer_start(&s->sweep_timer, on_sweep, SERVER_SWEEP_INTERVAL_MS, SERVER_SWEEP_INTERVAL_MS);
    int rc = poller_start(&s->poller);
    if (rc < 0) {
        log_err_errno(rc, "chrony poller");
        return rc;
    }
    for (int i = 0; i < s->n_listeners; i++) {
        netaddr_log_listening(&s->listeners[i],
                              s->listener_tls[i] ? "oracle protocol over TLS" : "oracle protocol");
    }
    log_info("polling chrony at %s every %" PRId64 " ms; instance %s", s->cfg->chrony_text,
             s->cfg->poll_interval_ns / 1000000, s->instance_id);
    return 0;
}

void server_free(struct server *s)
{
    if (s == NULL) {
        return;
    }
    admit_fini(&s->admit);
    vmwatch_close(&s->vmwatch);
    reserve_close(&s->reserve);
    ops_fini(&s->ops);
    conn_env_fini(&s->conns);
    SSL_CTX_free(s->tls_ctx);
    free(s);
}

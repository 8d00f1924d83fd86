/* The daemon's loop: listeners, chrony poller, commit-wait queue, flushing (see server.h). */
#include "server.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "metrics.h"
#include "netaddr.h"
#include "notify.h"
#include "ops.h"
#include "util.h"

#define PENDING_CHUNK  256
#define ARENA_BYTES    (2 * FRAME_MAX_TOTAL) /* unknown fields are copied: room for a whole frame */
#define LISTEN_BACKLOG 4096

static void close_shutdown_timer(struct server *s);
static void begin_closing(struct server *s);

uint8_t *server_read_buffer(struct server *s)
{
    return s->read_buf;
}

/* A VMClock disruption was seen (clockbound made the status DISRUPTED): say so once, and ask
 * chrony to drop its samples, all taken before it, as AWS ClockBound does. */
static void on_vm_disruption(struct server *s)
{
    uint64_t n = s->clock_state.vm_disruptions - s->vm_disruptions_seen;
    s->vm_disruptions_seen = s->clock_state.vm_disruptions;
    log_warn("VMClock: the VM's clock was disrupted (disruption marker %" PRIu64 ", %" PRIu64
             " disruption%s seen now: a live migration, a long pause or a clone): clock "
             "DISRUPTED until chrony has measured %d times since",
             s->clock_state.vm_marker, n, n == 1 ? "" : "s", CB_VMCLOCK_UPDATES);
    poller_reset_chrony(&s->poller);
}

void server_now(struct server *s, struct cb_now *now)
{
    struct cb_reading r;
    cb_clock_read(s->clock, &r);
    cb_now(&s->clock_state, &r, now);
    if (s->clock_state.vm_disruptions != s->vm_disruptions_seen) {
        on_vm_disruption(s);
    }
    s->last_status = now->status;
    cbcompat_reading(&s->cbcompat, &s->clock_state, now);
}

void server_request_now(struct server *s, struct cb_now *now)
{
    if (s->in_batch && s->batch_now_valid) {
        *now = s->batch_now;
        return;
    }
    server_now(s, now);
    if (s->in_batch) {
        s->batch_now = *now;
        s->batch_now_valid = true;
    }
}

void server_batch_begin(struct server *s)
{
    s->in_batch = true;
    s->batch_now_valid = false;
}

void server_batch_end(struct server *s)
{
    s->in_batch = false;
    s->batch_now_valid = false;
}

static void count(struct server *s, enum req_op op, int result)
{
    if ((unsigned)op < STATS_OPS && result >= 0 && result < STATS_RESULTS) {
        s->stats.requests[op][result]++;
    }
}

void server_count_ok(struct server *s, enum req_op op)
{
    count(s, op, 0);
}

static void send_error_frame(struct server *s, struct conn *c, uint64_t id, enum wire_error code,
                             bool retriable, const char *message)
{
    struct response r;
    memset(&r, 0, sizeof(r));
    r.id = id;
    r.clock_status = (int)s->last_status;
    r.kind = RESP_ERROR;
    r.u.error.code = code;
    r.u.error.retriable = retriable;
    r.u.error.message = message;
    conn_send(c, &r);
}

void server_send_error(struct server *s, struct conn *c, enum req_op op, uint64_t id,
                       enum wire_error code, bool retriable, const char *message)
{
    count(s, op, (int)code);
    send_error_frame(s, c, id, code, retriable, message);
}

void server_send_goodbye(struct server *s, struct conn *c, enum wire_error code, bool retriable,
                         const char *message)
{
    send_error_frame(s, c, 0, code, retriable, message);
    conn_close_after_flush(c);
    /* Now, not at the end of this loop turn: an eviction comes in a burst of accepts, and a
     * request the client sends before it sees the frame would be lost with the connection. */
    conn_flush(c);
}

bool server_ready(const struct server *s)
{
    return s->phase == PHASE_SERVING;
}

/* --- the pending-wait pool: grown in chunks, never freed per request --- */

struct pending *server_pending_get(struct server *s)
{
    if (s->free_pending == NULL) {
        struct pending *chunk = calloc(PENDING_CHUNK, sizeof(*chunk));
        struct pending **chunks =
            realloc(s->pending_chunks, (s->n_pending_chunks + 1) * sizeof(*chunks));
        if (chunks != NULL) {
            s->pending_chunks = chunks;
        }
        if (chunk == NULL || chunks == NULL) {
            free(chunk);
            return NULL;
        }
        s->pending_chunks[s->n_pending_chunks++] = chunk;
        for (size_t i = 0; i < PENDING_CHUNK; i++) {
            chunk[i].free_next = s->free_pending;
            s->free_pending = &chunk[i];
        }
    }
    struct pending *p = s->free_pending;
    s->free_pending = p->free_next;
    memset(p, 0, sizeof(*p));
    p->cw.by_release.index = PQ_NOT_QUEUED;
    p->cw.by_deadline.index = PQ_NOT_QUEUED;
    return p;
}

void server_pending_put(struct server *s, struct pending *p)
{
    p->conn = NULL;
    p->free_next = s->free_pending;
    s->free_pending = p;
}

static void link_pending(struct pending *p)
{
    struct conn *c = p->conn;
    p->conn_prev = NULL;
    p->conn_next = c->waits;
    if (c->waits != NULL) {
        c->waits->conn_prev = p;
    }
    c->waits = p;
    c->n_waits++;
}

static void unlink_pending(struct pending *p)
{
    struct conn *c = p->conn;
    if (p->conn_prev != NULL) {
        p->conn_prev->conn_next = p->conn_next;
    } else {
        c->waits = p->conn_next;
    }
    if (p->conn_next != NULL) {
        p->conn_next->conn_prev = p->conn_prev;
    }
    p->conn_prev = p->conn_next = NULL;
    c->n_waits--;
}

/* Takes a waiter just popped from the queue off its connection too, so that nothing the answer
 * does (a connection closed on error) can reach it; returns its pending. */
static struct pending *detach(struct cw_waiter *w)
{
    struct pending *p = container_of(w, struct pending, cw);
    unlink_pending(p);
    return p;
}

/* --- commit-wait: release, expire, fail, and schedule the next wake-up --- */

static void mark_release(struct server *s, struct conn *c, int64_t late_ns, int64_t mono_ns)
{
    if (s->n_marks == s->marks_cap) {
        size_t cap = s->marks_cap ? 2 * s->marks_cap : 256;
        struct release_mark *m = realloc(s->marks, cap * sizeof(*m));
        if (m == NULL) {
            return; /* lateness goes unmeasured; the release itself is unaffected */
        }
        s->marks = m;
        s->marks_cap = cap;
    }
    s->marks[s->n_marks++] = (struct release_mark){c, late_ns, mono_ns};
}

/* After one of c's waits was answered: while closing, a connection with nothing left to wait
 * for closes once its replies are out. */
static void wait_answered(struct server *s, struct conn *c)
{
    if (s->phase == PHASE_CLOSING && c->waits == NULL && !c->closing) {
        conn_close_after_flush(c);
    }
    conn_wait_done(c);
}

static void flush_all(struct server *s);

static void schedule_wake(struct server *s, const struct cb_now *now)
{
    struct cw_wake wake = cw_next_wake(&s->waits, now);
    int64_t delay =
        wake.release_in_ns < wake.deadline_in_ns ? wake.release_in_ns : wake.deadline_in_ns;
    waketimer_schedule(&s->wake, now->rt_ns, delay);
}

#define RELEASE_COALESCE_NS    5000  /* waiters due this soon join the current release pass */
#define RELEASE_PASS_MAX_NS    25000 /* the longest a pass spends gathering them */
#define RELEASE_PASS_MAX_SPINS 10000

static void check_waits(struct server *s)
{
    bool answered = false;
    struct cb_now now;
    server_now(s, &now);
    struct cw_waiter *w;
    if (!cb_status_trusted(now.status)) {
        while ((w = cw_pop_any(&s->waits)) != NULL) {
            struct pending *p = detach(w);
            ops_fail_clock(s, p, &now);
            server_pending_put(s, p);
            answered = true;
        }
        waketimer_schedule(&s->wake, now.rt_ns, INT64_MAX);
        if (answered) {
            flush_all(s);
        }
        return;
    }
    int64_t pass_start_ns = now.mono_ns;
    for (int spins = 0;; spins++) {
        while ((w = cw_pop_released(&s->waits, &now)) != NULL) {
            struct pending *p = detach(w);
            struct conn *c = p->conn;
            /* earliest passed release_ts + 1 this many ns (of earliest's progress) ago. */
            int64_t late = now.earliest_ns - (int64_t)(w->release_ts + 1);
            mark_release(s, c, late, now.mono_ns);
            ops_release(s, p, &now);
            server_pending_put(s, p);
            wait_answered(s, c);
            answered = true;
        }
        /* A write that wakes a sleeping client costs ~50 us on a virtual machine (measured:
         * the first flush of a pass 52-56 us, the next 6 us), and the next waiter would wait
         * for it. So the waiters due within RELEASE_COALESCE_NS join this pass: the clock is
         * re-read until they are due (never earlier), up to RELEASE_PASS_MAX_NS in all. */
        if (!answered || now.mono_ns - pass_start_ns > RELEASE_PASS_MAX_NS ||
            spins == RELEASE_PASS_MAX_SPINS) {
            break; /* (the spin cap: a clock that stands still, as a test's may) */
        }
        struct cw_wake next = cw_next_wake(&s->waits, &now);
        if (next.release_in_ns > RELEASE_COALESCE_NS) {
            break;
        }
        server_now(s, &now);
        if (!cb_status_trusted(now.status)) {
            break; /* the next wake-up fails them */
        }
    }
    while ((w = cw_pop_expired(&s->waits, now.mono_ns)) != NULL) {
        struct pending *p = detach(w);
        struct conn *c = p->conn;
        ops_expire(s, p);
        server_pending_put(s, p);
        wait_answered(s, c);
        answered = true;
    }
    /* Released from the idle or timer callback: write now, not after the loop's next poll,
     * which may block until the next chrony tick. */
    if (answered) {
        flush_all(s);
    }
    schedule_wake(s, &now);
}

int server_enqueue(struct server *s, struct pending *p, uint64_t release_ts, int64_t max_wait_ns,
                   const struct cb_now *now)
{
    if (p->conn->n_waits >= s->cfg->max_pending_per_conn ||
        cw_len(&s->waits) >= s->cfg->max_pending) {
        server_pending_put(s, p);
        return -EBUSY;
    }
    int rc = cw_add(&s->waits, &p->cw, release_ts, now->mono_ns + max_wait_ns, now->mono_ns);
    if (rc < 0) {
        server_pending_put(s, p);
        return rc;
    }
    link_pending(p);
    /* Only a new head of either queue can need an earlier wake-up; otherwise the timer is
     * already right (and re-arming it costs a system call per request). */
    if (p->cw.by_release.index == 0 || p->cw.by_deadline.index == 0) {
        schedule_wake(s, now);
    }
    return 0;
}

void server_issued(struct server *s, const struct cb_now *now)
{
    reserve_check(&s->reserve, s->alloc.last_issued, now->latest_ns);
}

static void on_wake(struct waketimer *wt)
{
    check_waits(wt->data);
}

/* --- flushing --- */

/* Writes every connection's gathered responses (one write each), then completes the lateness
 * of the releases they carried. */
static void flush_all(struct server *s)
{
    while (s->dirty != NULL) {
        struct conn *c = s->dirty;
        s->dirty = c->dirty_next;
        c->dirty = false;
        conn_flush(c);
    }
    size_t kept = 0;
    for (size_t i = 0; i < s->n_marks; i++) {
        const struct release_mark *m = &s->marks[i];
        if (m->conn == NULL || m->conn->closing) {
            continue;
        }
        if (m->conn->flushed_mono_ns < m->release_mono_ns) {
            /* Behind a write still in flight: complete it once the reply goes out. */
            s->marks[kept++] = *m;
            continue;
        }
        int64_t late = m->late_at_release_ns + (m->conn->flushed_mono_ns - m->release_mono_ns);
        hist_record(&s->stats.lateness, late);
        hist_record(&s->stats.lateness_recent, late);
    }
    s->n_marks = kept;
}

/* After the poll phase: the responses to this turn's requests. */
static void on_flush(uv_check_t *h)
{
    flush_all(container_of(h, struct server, flush_check));
}

/* --- connections --- */

void server_mark_dirty(struct server *s, struct conn *c)
{
    if (!c->dirty) {
        c->dirty = true;
        c->dirty_next = s->dirty;
        s->dirty = c;
    }
}

void server_conn_opened(struct server *s, struct conn *c)
{
    c->serial = ++s->next_serial;
    cs_list_push(&s->conns, &c->by_activity);
    admit_opened(s, c);
    s->stats.conns_accepted++;
    log_debug("conn %s: open (%zu connections)", c->peer, s->n_live);
}

void server_conn_active(struct server *s, struct conn *c)
{
    admit_active(s, c);
}

void server_conn_closing(struct server *s, struct conn *c)
{
    admit_closing(s, c);
    while (c->waits != NULL) {
        struct pending *p = c->waits;
        cw_remove(&s->waits, &p->cw);
        unlink_pending(p);
        server_pending_put(s, p);
    }
    /* Lateness marks for this connection cannot complete. */
    for (size_t i = 0; i < s->n_marks; i++) {
        if (s->marks[i].conn == c) {
            s->marks[i].conn = NULL;
        }
    }
}

void server_conn_freed(struct server *s, struct conn *c)
{
    cs_list_remove(&s->conns, &c->by_activity);
    /* A closing connection may still be in the dirty list if it was marked after the last
     * flush; take it out before its memory goes. */
    struct conn **pp = &s->dirty;
    while (*pp != NULL) {
        if (*pp == c) {
            *pp = c->dirty_next;
            break;
        }
        pp = &(*pp)->dirty_next;
    }
    if (s->conns.len == 0) {
        if (s->phase == PHASE_CLOSING) {
            server_stop(s); /* the last one is gone: nothing left to wait for */
        } else if (s->phase == PHASE_STOPPED && s->handles_ok) {
            close_shutdown_timer(s);
        }
    }
}

void server_on_frame(struct server *s, struct conn *c, const uint8_t *msg, size_t len)
{
    struct request req;
    int rc = wire_decode_request(msg, len, &s->arena, &req);
    arena_reset(&s->arena);
    if (rc < 0) {
        server_send_error(s, c, REQ_OP_NONE, 0, WIRE_ERROR_BAD_REQUEST, false,
                          "message is not an oracle.v1.Request");
        return;
    }
    if (s->phase >= PHASE_CLOSING) {
        server_send_error(s, c, req.op, req.id, WIRE_ERROR_SHUTTING_DOWN, true,
                          "server shutting down; retry on another instance");
        conn_close_after_flush(c);
        return;
    }
    ops_handle(s, c, &req);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct server *s = listener->data;
    if (status < 0) {
        log_warn("accept: %s", uv_strerror(status));
        return;
    }
    int err = 0;
    struct conn *c = conn_accept(s, listener, &err);
    if (c == NULL) {
        log_warn("accept: %s", err < -1000 ? uv_strerror(err) : strerror(-err));
        return;
    }
    admit_check(s, c);
}

/* Closes connections idle too long, and cuts off clients whose replies stay unread. */
static void on_sweep(uv_timer_t *h)
{
    struct server *s = container_of(h, struct server, sweep_timer);
    int64_t now = cb_clock_ns(s->clock, CB_CLOCK_MONOTONIC);
    for (struct conn *c = conn_of_activity(s->conns.newest); c != NULL;
         c = conn_of_activity(c->by_activity.older)) {
        if (c->closing) {
            continue;
        }
        bool unsent = c->out_len > 0 || c->writing;
        if (unsent && s->cfg->write_timeout_ns > 0 &&
            now - c->progress_mono_ns > s->cfg->write_timeout_ns) {
            s->stats.conns_cut_off++;
            log_warn("conn %s: replies unread for %" PRId64 " s, cutting the client off", c->peer,
                     (now - c->progress_mono_ns) / 1000000000);
            conn_close(c, NULL);
        } else if (!unsent && c->waits == NULL && s->cfg->idle_timeout_ns > 0 &&
                   now - c->activity_mono_ns > s->cfg->idle_timeout_ns) {
            s->stats.conns_idle_closed++;
            conn_close(c, "idle");
        }
    }
}

/* --- clock status, readiness, the time source --- */

static void describe_source(struct server *s)
{
    const struct cb_state *st = &s->clock_state;
    if (!st->have_poll) {
        snprintf(s->time_source, sizeof(s->time_source), "chrony %s", s->cfg->chrony_text);
        return;
    }
    const struct chrony_tracking *t = &st->last.tracking;
    char ref[64];
    if (!cb_tracking_addr_text(t, ref, sizeof(ref))) {
        snprintf(ref, sizeof(ref), "refid %08" PRIX32, t->ref_id);
    }
    bool demo = cb_tracking_is_demo(t);
    snprintf(s->time_source, sizeof(s->time_source), "chrony %s, reference %s, stratum %u%s",
             s->cfg->chrony_text, ref, (unsigned)t->stratum,
             demo ? ", DEMO (loopback NTP server)" : "");
    if (demo && !s->demo) {
        log_warn("time source is a loopback NTP server (%s): a DEMO source, not real time", ref);
    }
    s->demo = demo;
}

static void note_status(struct server *s, const struct cb_now *now)
{
    if (now->status == s->logged_status && now->reason == s->logged_reason) {
        return;
    }
    if (cb_status_trusted(now->status)) {
        log_info("clock %s: %s (bound %" PRId64 " ns)", cb_status_name(now->status),
                 cb_reason_text(now->reason), now->bound_ns);
    } else {
        log_warn("clock %s: %s; requests get retriable errors", cb_status_name(now->status),
                 cb_reason_text(now->reason));
    }
    s->logged_status = now->status;
    s->logged_reason = now->reason;
}

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
    int64_t took = cb_clock_ns(s->clock, CB_CLOCK_MONOTONIC) - s->start_mono_ns;
    log_info("ready: serving timestamps (started %.3f s ago)", (double)took / 1e9);
    notify_ready();
}

/* chrony's maxclockerror, measured from its reports, certainly below what oracled was told:
 * the bound already uses the measured value (clockbound/dispersion.h); say so once, with the
 * fix. */
static void note_chrony_growth(struct server *s)
{
    const struct cb_dispersion *d = &s->clock_state.dispersion;
    int64_t told = s->cfg->clock.chrony_maxclockerror_ppb;
    if (s->maxclockerror_warned || !d->measured || d->maxclockerror_hi_ppb >= told) {
        return;
    }
    s->maxclockerror_warned = true;
    log_warn("chrony's maxclockerror measures %" PRId64 "..%" PRId64
             " ppb (its dispersion grows at %" PRId64 " ppb), below the %" PRId64
             " ppb of --chrony-maxclockerror-ppb: the bound uses the measured value and tops up "
             "to --max-drift-ppb (%" PRId64 " ppb) itself. To match, set 'maxclockerror %.3f' "
             "(ppm) in chrony.conf, or chrony-maxclockerror-ppb to what chrony has",
             d->maxclockerror_lo_ppb, d->maxclockerror_hi_ppb, d->rate_lo_ppb, told,
             s->cfg->clock.max_drift_ppb, (double)s->cfg->clock.max_drift_ppb / 1000.0);
}

static void on_poll_done(struct poller *p)
{
    struct server *s = p->data;
    if (p->last_error == 0) {
        int64_t excess = 0;
        if (cb_bound_violated(&s->prev_clock_state, &s->clock_state.last, &excess)) {
            s->stats.bound_violations++;
            if (excess > s->stats.worst_violation_ns) {
                s->stats.worst_violation_ns = excess;
            }
            log_err("bound violation: chrony now measures the clock at least %" PRId64
                    " ns further off than the bound given a moment ago",
                    excess);
        }
        hist_record(&s->stats.chrony_rtt, p->last_rtt_ns);
    }
    s->prev_clock_state = s->clock_state;
    if (vmwatch_poll(&s->vmwatch)) {
        struct cb_reading r;
        cb_clock_read(s->clock, &r);
        cb_on_disruption(&s->clock_state, &r);
    }
    describe_source(s);
    note_chrony_growth(s);
    struct cb_now now;
    server_now(s, &now);
    note_status(s, &now);
    /* The marker kept for the next start: once the clock is trusted at it. */
    if (s->clock_state.vm_have_marker && cb_status_trusted(now.status)) {
        vmwatch_keep(&s->vmwatch, s->clock_state.vm_marker);
    }
    cbcompat_query_sent(&s->cbcompat, p->sent_coarse_ns);
    cbcompat_publish(&s->cbcompat, &s->clock_state, &now);
    if (cb_status_trusted(now.status)) {
        reserve_check(&s->reserve, s->alloc.last_issued, now.latest_ns);
    }
    update_readiness(s, &now);
    /* The bound changed: releases may be due sooner, or the clock may no longer be trusted. */
    check_waits(s);
}

/* An NTPDATA answer may have changed the status: an upstream NTP server on its own local clock
 * makes it UNKNOWN at once, not at the next poll. */
static void on_upstream_done(struct poller *p)
{
    struct server *s = p->data;
    struct cb_now now;
    server_now(s, &now);
    note_status(s, &now);
    cbcompat_publish(&s->cbcompat, &s->clock_state, &now);
    update_readiness(s, &now);
    check_waits(s);
}

static void on_reserved(struct reserve *r, uint64_t high_water_ns)
{
    struct server *s = r->data;
    tsalloc_set_limit(&s->alloc, high_water_ns);
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
    if (s->stats.lateness_recent.total > 0) {
        log_lateness("commit-wait (last 10 s)", &s->stats.lateness_recent);
        hist_init(&s->stats.lateness_recent);
    }
}

/* --- draining and stopping --- */

static void on_signal(uv_signal_t *h, int signum)
{
    struct server *s = h->data;
    log_info("%s received", signum == SIGINT ? "SIGINT" : "SIGTERM");
    server_drain(s);
}

static void on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

static void close_listeners(struct server *s)
{
    if (!s->listeners_closed) {
        s->listeners_closed = true;
        for (int i = 0; i < s->n_listeners; i++) {
            uv_close((uv_handle_t *)&s->listeners[i], on_handle_closed);
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
    close_listeners(s);
    log_info("draining: no new connections; %zu commit-waits to finish", cw_len(&s->waits));
    for (struct conn *c = conn_of_activity(s->conns.newest); c != NULL;
         c = conn_of_activity(c->by_activity.older)) {
        if (c->waits == NULL && !c->closing) {
            conn_close_after_flush(c);
        }
    }
    flush_all(s);
    if (s->conns.len == 0) {
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
    if (!s->shutdown_timer_closed) {
        s->shutdown_timer_closed = true;
        uv_close((uv_handle_t *)&s->shutdown_timer, on_handle_closed);
    }
}

static void on_shutdown_timeout(uv_timer_t *h)
{
    struct server *s = h->data;
    for (struct conn *c = conn_of_activity(s->conns.newest); c != NULL;
         c = conn_of_activity(c->by_activity.older)) {
        conn_close(c, "shutting down: replies not read in time");
    }
    close_shutdown_timer(s);
}

static void on_poller_closed(struct poller *p)
{
    (void)p;
}

static void on_wake_closed(struct waketimer *wt)
{
    (void)wt;
}

static void on_httpd_closed(struct httpd *h)
{
    (void)h;
}

static void on_cbcompat_closed(struct cbcompat *c)
{
    (void)c;
}

void server_stop(struct server *s)
{
    if (s->phase == PHASE_STOPPED) {
        return;
    }
    s->phase = PHASE_STOPPED;
    close_listeners(s);
    struct cb_now now;
    server_now(s, &now);
    for (struct conn *c = conn_of_activity(s->conns.newest); c != NULL;
         c = conn_of_activity(c->by_activity.older)) {
        /* Pending waits get SHUTTING_DOWN; the connection closes once that is written. */
        while (c->waits != NULL) {
            struct pending *p = c->waits;
            cw_remove(&s->waits, &p->cw);
            unlink_pending(p);
            server_send_error(s, c, p->op, p->id, WIRE_ERROR_SHUTTING_DOWN, true,
                              "server shutting down; retry on another instance");
            server_pending_put(s, p);
        }
        /* Idle connections close now; the others once their replies are written. */
        if (c->out_len == 0 && !c->writing) {
            conn_close(c, "shutting down");
        } else {
            conn_close_after_flush(c);
            conn_flush(c);
        }
    }
    if (s->poller_ok) {
        poller_close(&s->poller, on_poller_closed);
    }
    if (s->wake_ok) {
        waketimer_close(&s->wake, on_wake_closed);
    }
    if (s->httpd_ok) {
        httpd_close(&s->httpd, on_httpd_closed);
    }
    if (s->cbcompat_ok) {
        s->cbcompat_ok = false;
        cbcompat_close(&s->cbcompat, on_cbcompat_closed);
    }
    if (s->handles_ok) {
        uv_close((uv_handle_t *)&s->flush_check, on_handle_closed);
        uv_close((uv_handle_t *)&s->stats_timer, on_handle_closed);
        uv_close((uv_handle_t *)&s->sweep_timer, on_handle_closed);
        uv_close((uv_handle_t *)&s->drain_timer, on_handle_closed);
        uv_close((uv_handle_t *)&s->sigint, on_handle_closed);
        uv_close((uv_handle_t *)&s->sigterm, on_handle_closed);
        if (s->conns.len > 0) {
            /* A client that does not read cannot hold the exit up for long. */
            uv_timer_start(&s->shutdown_timer, on_shutdown_timeout, SERVER_SHUTDOWN_WRITE_MS, 0);
        } else {
            close_shutdown_timer(s);
        }
    }
    if (s->stats.lateness.total > 0) {
        log_lateness("commit-wait since start", &s->stats.lateness);
    }
    uint64_t answered = 0, errors = 0;
    for (int op = 0; op < STATS_OPS; op++) {
        for (int r = 0; r < STATS_RESULTS; r++) {
            answered += s->stats.requests[op][r];
            errors += r > 0 ? s->stats.requests[op][r] : 0;
        }
    }
    log_info("answered %" PRIu64 " requests (%" PRIu64 " errors)", answered, errors);
}

/* --- set-up and tear-down --- */

static void clockbound_now(void *ctx, struct cb_now *now)
{
    server_now(ctx, now);
}

static void on_http(void *ctx, const struct http_request *req, int *status,
                    const char **content_type, struct strbuf *body)
{
    metrics_http(ctx, req, status, content_type, body);
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
                 path, strerror(-rc), refid);
    } else {
        log_info("PHC error bound %s: %" PRId64 " ns now; added while chrony's reference is %s",
                 path, ns, refid);
    }
    return 0;
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
    s->logged_status = CB_STATUS_UNKNOWN;
    s->logged_reason = CB_REASON_NO_DATA;
    cb_init(&s->clock_state, &cfg->clock);
    s->prev_clock_state = s->clock_state;
    cw_init(&s->waits);
    hist_init(&s->stats.commit_wait);
    hist_init(&s->stats.lateness);
    hist_init(&s->stats.lateness_recent);
    hist_init(&s->stats.chrony_rtt);
    reserve_disabled(&s->reserve);
    if (admit_init(s) < 0) {
        log_err("out of memory for the table of peers (--max-connections-per-peer)");
        return -ENOMEM;
    }

    char vm_why[768];
    int vm_rc = vmwatch_open(&s->vmwatch, cfg->vmclock, clock, vm_why, sizeof(vm_why));
    if (vm_rc < 0) {
        log_err("%s", vm_why);
        return vm_rc;
    }
    s->clock = vmwatch_clock(&s->vmwatch);

    uint8_t id[16];
    if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id)) {
        log_err_errno(errno, "getrandom");
        return -EIO;
    }
    for (size_t i = 0; i < sizeof(id); i++) {
        snprintf(s->instance_id + 2 * i, 3, "%02x", id[i]);
    }
    describe_source(s);

    /* Handles first: whatever fails later, server_stop() closes what exists. */
    uv_check_init(loop, &s->flush_check);
    uv_timer_init(loop, &s->stats_timer);
    uv_timer_init(loop, &s->sweep_timer);
    uv_timer_init(loop, &s->drain_timer);
    uv_timer_init(loop, &s->shutdown_timer);
    s->shutdown_timer.data = s;
    uv_signal_init(loop, &s->sigint);
    uv_signal_init(loop, &s->sigterm);
    s->sigint.data = s;
    s->sigterm.data = s;
    s->handles_ok = true;

    int rc = arena_init(&s->arena, ARENA_BYTES);
    if (rc < 0) {
        log_err("out of memory");
        return rc;
    }
    if (cfg->state_dir != NULL) {
        char why[768];
        rc = reserve_open(&s->reserve, loop, cfg->state_dir, cfg->state_window_ns,
                          cfg->clock.max_bound_ns, s->start_rt_ns, on_reserved, why, sizeof(why));
        if (rc < 0) {
            log_err("%s", why);
            reserve_disabled(&s->reserve);
            return rc;
        }
        s->reserve.data = s;
    }
    tsalloc_init(&s->alloc, s->reserve.enabled ? s->reserve.h_start : 0, cfg->max_run_ahead_ns,
                 s->reserve.h_committed);
    rc = poller_init(&s->poller, loop, &cfg->chrony, s->clock, &s->clock_state,
                     cfg->poll_interval_ns, on_poll_done);
    if (rc < 0) {
        log_err("cannot open a socket to chrony at %s: %s", cfg->chrony_text,
                rc == -EADDRNOTAVAIL ? "host name does not resolve" : strerror(-rc));
        return rc;
    }
    s->poller.data = s;
    s->poller.upstream_cb = on_upstream_done;
    s->poller_ok = true;
    rc = open_phc(s);
    if (rc < 0) {
        return rc;
    }
    bool have_marker = false;
    uint64_t marker = 0;
    bool start_disrupted = vmwatch_kept_differs(&s->vmwatch, cfg->state_dir, &have_marker, &marker);
    if (have_marker) {
        cb_set_marker(&s->clock_state, marker); /* a change from here on is a disruption */
    }
    if (start_disrupted) {
        struct cb_reading r;
        cb_clock_read(s->clock, &r);
        cb_on_disruption(&s->clock_state, &r);
    }
    rc = waketimer_init(&s->wake, loop, s->clock, on_wake);
    s->wake_ok = s->wake.initialised;
    if (rc < 0) {
        log_err("commit-wait timer: %s", rc < -1000 ? uv_strerror(rc) : strerror(-rc));
        return rc;
    }
    s->wake.data = s;
    rc = cbcompat_open(&s->cbcompat, loop, s->clock, &s->clock_state, cfg->clockbound_socket,
                       cfg->clockbound_socket_mode, cfg->clockbound_shm,
                       (uint32_t)cfg->clock.max_drift_ppb, cfg->clock.grace_ns, clockbound_now, s);
    s->cbcompat_ok = true;
    if (rc < 0) {
        return rc;
    }

    for (int i = 0; i < cfg->n_listen; i++) {
        uv_tcp_t *l = &s->listeners[s->n_listeners++];
        rc = netaddr_listen(loop, l, cfg->listen[i], LISTEN_BACKLOG, on_connection, "oracle");
        l->data = s;
        if (rc < 0) {
            return rc;
        }
    }
    rc = httpd_init(&s->httpd, loop, cfg->http_listen, cfg->n_http_listen,
                    cfg->http_max_connections, on_http, s);
    s->httpd_ok = true;
    return rc;
}

int server_start(struct server *s)
{
    uv_check_start(&s->flush_check, on_flush);
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_timer_start(&s->stats_timer, on_stats, SERVER_STATS_INTERVAL_MS, SERVER_STATS_INTERVAL_MS);
    uv_timer_start(&s->sweep_timer, on_sweep, SERVER_SWEEP_INTERVAL_MS, SERVER_SWEEP_INTERVAL_MS);
    int rc = poller_start(&s->poller);
    if (rc < 0) {
        log_err("chrony poller: %s", uv_strerror(rc));
        return rc;
    }
    for (int i = 0; i < s->n_listeners; i++) {
        netaddr_log_listening(&s->listeners[i], "oracle protocol");
    }
    log_info("polling chrony at %s every %" PRId64 " ms; instance %s", s->cfg->chrony_text,
             s->cfg->poll_interval_ns / 1000000, s->instance_id);
    return 0;
}

void server_fini(struct server *s)
{
    admit_fini(s);
    vmwatch_close(&s->vmwatch);
    reserve_close(&s->reserve);
    cw_fini(&s->waits);
    arena_fini(&s->arena);
    for (size_t i = 0; i < s->n_pending_chunks; i++) {
        free(s->pending_chunks[i]);
    }
    free(s->pending_chunks);
    free(s->marks);
    s->pending_chunks = NULL;
    s->marks = NULL;
}

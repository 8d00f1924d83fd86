/* The daemon's loop: listeners, chrony poller, commit-wait queue, flushing (see server.h). */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "ops.h"
#include "util.h"

static void close_shutdown_timer(struct server *s);

#define PENDING_CHUNK  256
#define ARENA_BYTES    (2 * FRAME_MAX_TOTAL) /* unknown fields are copied: room for a whole frame */
#define LISTEN_BACKLOG 4096

uint8_t *server_read_buffer(struct server *s)
{
    return s->read_buf;
}

void server_now(struct server *s, struct cb_now *now)
{
    struct cb_reading r;
    cb_clock_read(s->clock, &r);
    cb_now(&s->clock_state, &r, now);
    s->last_status = now->status;
}

void server_send_error(struct server *s, struct conn *c, uint64_t id, enum wire_error code,
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
    s->errors++;
    conn_send(c, &r);
}

/* --- the pending-wait pool: grown in chunks, never freed per request --- */

struct pending *server_pending_get(struct server *s)
{
    if (s->free_pending == NULL) {
        struct pending *chunk = calloc(PENDING_CHUNK, sizeof(*chunk));
        struct pending **chunks =
            realloc(s->pending_chunks, (s->n_pending_chunks + 1) * sizeof(*chunks));
        if (chunk == NULL || chunks == NULL) {
            free(chunk);
            if (chunks != NULL) {
                s->pending_chunks = chunks;
            }
            return NULL;
        }
        s->pending_chunks = chunks;
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

/* Takes p off its connection and returns it to the pool (it is already out of the queue). */
static void finish_pending(struct server *s, struct pending *p)
{
    unlink_pending(p);
    server_pending_put(s, p);
}

/* Takes a waiter just popped from the queue off its connection too, so that nothing the answer
 * does (a connection closed on error) can reach it; returns its pending. */
static struct pending *detach(struct cw_waiter *w)
{
    struct pending *p = container_of(w, struct pending, cw);
    unlink_pending(p);
    return p;
}

static void flush_all(struct server *s);

static void check_waits(struct server *s)
{
    bool answered = false;
    struct cb_now now;
    server_now(s, &now);
    if (!cb_status_trusted(now.status)) {
        struct cw_waiter *w;
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
    struct cw_waiter *w;
    while ((w = cw_pop_released(&s->waits, &now)) != NULL) {
        struct pending *p = detach(w);
        struct conn *c = p->conn;
        /* earliest passed release_ts + 1 this many ns (of earliest's progress) ago. */
        int64_t late = now.earliest_ns - (int64_t)(w->release_ts + 1);
        mark_release(s, c, late, now.mono_ns);
        ops_release(s, p, &now);
        server_pending_put(s, p);
        conn_wait_done(c);
        answered = true;
    }
    while ((w = cw_pop_expired(&s->waits, now.mono_ns)) != NULL) {
        struct pending *p = detach(w);
        struct conn *c = p->conn;
        ops_expire(s, p);
        server_pending_put(s, p);
        conn_wait_done(c);
        answered = true;
    }
    /* Released from the idle or timer callback: write now, not after the loop's next poll,
     * which may block until the next chrony tick. */
    if (answered) {
        flush_all(s);
    }
    struct cw_wake wake = cw_next_wake(&s->waits, &now);
    int64_t delay =
        wake.release_in_ns < wake.deadline_in_ns ? wake.release_in_ns : wake.deadline_in_ns;
    waketimer_schedule(&s->wake, now.rt_ns, delay);
}

int server_enqueue(struct server *s, struct pending *p, uint64_t release_ts, int64_t max_wait_ns,
                   const struct cb_now *now)
{
    if (p->conn->n_waits >= CONN_MAX_PENDING || cw_len(&s->waits) >= SERVER_MAX_PENDING) {
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
        struct cw_wake wake = cw_next_wake(&s->waits, now);
        int64_t delay =
            wake.release_in_ns < wake.deadline_in_ns ? wake.release_in_ns : wake.deadline_in_ns;
        waketimer_schedule(&s->wake, now->rt_ns, delay);
    }
    return 0;
}

static void on_wake(struct waketimer *wt)
{
    check_waits(wt->data);
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
    c->prev = NULL;
    c->next = s->conns;
    if (s->conns != NULL) {
        s->conns->prev = c;
    }
    s->conns = c;
    s->n_conns++;
    log_debug("conn %s: open (%zu connections)", c->peer, s->n_conns);
}

void server_conn_closing(struct server *s, struct conn *c)
{
    while (c->waits != NULL) {
        struct pending *p = c->waits;
        cw_remove(&s->waits, &p->cw);
        finish_pending(s, p);
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
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        s->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    s->n_conns--;
    if (s->stopping && s->conns == NULL && s->handles_ok) {
        close_shutdown_timer(s); /* the last one is gone: nothing left to wait for */
    }
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
}

void server_on_frame(struct server *s, struct conn *c, const uint8_t *msg, size_t len)
{
    struct request req;
    int rc = wire_decode_request(msg, len, &s->arena, &req);
    arena_reset(&s->arena);
    s->requests++;
    if (rc < 0) {
        server_send_error(s, c, 0, WIRE_ERROR_BAD_REQUEST, false,
                          "message is not an oracle.v1.Request");
        return;
    }
    ops_handle(s, c, &req);
}

/* Writes every connection's gathered responses (one write each), then completes the
 * lateness of the releases they carried. */
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
        hist_record(&s->lateness, late);
        hist_record(&s->lateness_recent, late);
    }
    s->n_marks = kept;
}

/* After the poll phase: the responses to this turn's requests. */
static void on_flush(uv_check_t *h)
{
    flush_all(container_of(h, struct server, flush_check));
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct server *s = listener->data;
    if (status < 0) {
        log_warn("accept: %s", uv_strerror(status));
        return;
    }
    int err = 0;
    if (conn_accept(s, listener, &err) == NULL) {
        log_warn("accept: %s", err < -1000 ? uv_strerror(err) : strerror(-err));
    }
}

/* --- clock status: logging and the time source --- */

static void describe_source(struct server *s)
{
    const struct cb_state *st = &s->clock_state;
    if (!st->have_poll) {
        snprintf(s->time_source, sizeof(s->time_source), "chrony %s", s->cfg->chrony_text);
        return;
    }
    const struct chrony_tracking *t = &st->last.tracking;
    char ref[64];
    if (t->addr_family == 1) {
        snprintf(ref, sizeof(ref), "%u.%u.%u.%u", t->addr[0], t->addr[1], t->addr[2], t->addr[3]);
    } else {
        snprintf(ref, sizeof(ref), "refid %08" PRIX32, t->ref_id);
    }
    bool demo = cb_tracking_is_demo(t);
    snprintf(s->time_source, sizeof(s->time_source), "chrony %s, reference %s, stratum %u%s",
             s->cfg->chrony_text, ref, (unsigned)t->stratum,
             demo ? ", DEMO (loopback NTP server)" : "");
    if (demo && !s->demo_warned) {
        log_warn("time source is a loopback NTP server (%s): a DEMO source, not real time", ref);
        s->demo_warned = true;
    }
}

static void note_status(struct server *s)
{
    struct cb_now now;
    server_now(s, &now);
    if (now.status == s->logged_status && now.reason == s->logged_reason) {
        return;
    }
    if (cb_status_trusted(now.status)) {
        log_info("clock %s: %s (bound %" PRId64 " ns)", cb_status_name(now.status),
                 cb_reason_text(now.reason), now.bound_ns);
    } else {
        log_warn("clock %s: %s; requests get retriable errors", cb_status_name(now.status),
                 cb_reason_text(now.reason));
    }
    s->logged_status = now.status;
    s->logged_reason = now.reason;
}

static void on_poll_done(struct poller *p)
{
    struct server *s = p->data;
    describe_source(s);
    note_status(s);
    /* The bound changed: releases may be due sooner, or the clock may no longer be trusted. */
    check_waits(s);
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
    if (s->lateness_recent.total > 0) {
        log_lateness("commit-wait (last 10 s)", &s->lateness_recent);
        hist_init(&s->lateness_recent);
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct server *s = h->data;
    log_info("%s: shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    server_stop(s);
}

/* --- set-up and tear-down --- */

static int parse_listen(const char *text, struct sockaddr_storage *ss)
{
    char host[64];
    const char *colon = strrchr(text, ':');
    if (colon == NULL || colon == text || colon[1] == '\0') {
        return -EINVAL;
    }
    size_t hl = (size_t)(colon - text);
    if (text[0] == '[') {
        if (hl < 3 || text[hl - 1] != ']') {
            return -EINVAL;
        }
        text++;
        hl -= 2;
    }
    if (hl >= sizeof(host)) {
        return -EINVAL;
    }
    memcpy(host, text, hl);
    host[hl] = '\0';
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535) {
        return -EINVAL;
    }
    if (strchr(host, ':') != NULL) {
        return uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss);
    }
    return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss);
}

int server_init(struct server *s, uv_loop_t *loop, const struct server_config *cfg,
                struct cb_clock *clock)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->cfg = cfg;
    s->clock = clock;
    s->logged_status = CB_STATUS_UNKNOWN;
    s->logged_reason = CB_REASON_NO_DATA;
    cb_init(&s->clock_state, &cfg->clock);
    tsalloc_init(&s->alloc, 0, cfg->max_run_ahead_ns);
    cw_init(&s->waits);
    hist_init(&s->lateness);
    hist_init(&s->lateness_recent);
    hist_init(&s->waited);

    uint8_t id[16];
    if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id)) {
        log_err_errno(errno, "getrandom");
        return -EIO;
    }
    for (size_t i = 0; i < sizeof(id); i++) {
        snprintf(s->instance_id + 2 * i, 3, "%02x", id[i]);
    }
    describe_source(s);

    int rc = arena_init(&s->arena, ARENA_BYTES);
    if (rc < 0) {
        log_err("out of memory");
        return rc;
    }
    rc = poller_init(&s->poller, loop, &cfg->chrony, clock, &s->clock_state, cfg->poll_interval_ns,
                     on_poll_done);
    if (rc < 0) {
        log_err("cannot open a socket to chrony at %s: %s", cfg->chrony_text,
                rc == -EADDRNOTAVAIL ? "host name does not resolve" : strerror(-rc));
        return rc;
    }
    s->poller.data = s;
    s->poller_ok = true;
    rc = waketimer_init(&s->wake, loop, clock, on_wake);
    s->wake_ok = s->wake.initialised;
    if (rc < 0) {
        log_err("commit-wait timer: %s", rc < -1000 ? uv_strerror(rc) : strerror(-rc));
        return rc;
    }
    s->wake.data = s;
    uv_check_init(loop, &s->flush_check);
    uv_timer_init(loop, &s->stats_timer);
    uv_timer_init(loop, &s->shutdown_timer);
    s->shutdown_timer.data = s;
    uv_signal_init(loop, &s->sigint);
    uv_signal_init(loop, &s->sigterm);
    s->sigint.data = s;
    s->sigterm.data = s;
    s->handles_ok = true;

    for (int i = 0; i < cfg->n_listen; i++) {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof(ss));
        if (parse_listen(cfg->listen[i], &ss) < 0) {
            log_err("invalid --listen '%s': expected HOST:PORT or [IPV6]:PORT", cfg->listen[i]);
            return -EINVAL;
        }
        uv_tcp_t *l = &s->listeners[s->n_listeners];
        uv_tcp_init(loop, l);
        l->data = s;
        s->n_listeners++;
        rc = uv_tcp_bind(l, (const struct sockaddr *)&ss, 0);
        if (rc == 0) {
            rc = uv_listen((uv_stream_t *)l, LISTEN_BACKLOG, on_connection);
        }
        if (rc < 0) {
            log_err("cannot listen on %s: %s", cfg->listen[i], uv_strerror(rc));
            return rc;
        }
    }
    return 0;
}

int server_start(struct server *s)
{
    uv_check_start(&s->flush_check, on_flush);
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_timer_start(&s->stats_timer, on_stats, SERVER_STATS_INTERVAL_MS, SERVER_STATS_INTERVAL_MS);
    int rc = poller_start(&s->poller);
    if (rc < 0) {
        log_err("chrony poller: %s", uv_strerror(rc));
        return rc;
    }
    for (int i = 0; i < s->n_listeners; i++) {
        struct sockaddr_storage ss;
        int len = sizeof(ss);
        char host[64] = "?";
        int port = 0;
        if (uv_tcp_getsockname(&s->listeners[i], (struct sockaddr *)&ss, &len) == 0) {
            if (ss.ss_family == AF_INET6) {
                uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof(host));
                port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
            } else {
                uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof(host));
                port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
            }
        }
        log_info("listening on %s%s%s:%d", ss.ss_family == AF_INET6 ? "[" : "", host,
                 ss.ss_family == AF_INET6 ? "]" : "", port);
    }
    log_info("polling chrony at %s every %" PRId64 " ms; instance %s", s->cfg->chrony_text,
             s->cfg->poll_interval_ns / 1000000, s->instance_id);
    return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_poller_closed(struct poller *p)
{
    (void)p;
}

static void on_wake_closed(struct waketimer *wt)
{
    (void)wt;
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
    for (struct conn *c = s->conns; c != NULL; c = c->next) {
        conn_close(c, "shutting down: replies not read in time");
    }
    close_shutdown_timer(s);
}

void server_stop(struct server *s)
{
    if (s->stopping) {
        return;
    }
    s->stopping = true;
    for (int i = 0; i < s->n_listeners; i++) {
        uv_close((uv_handle_t *)&s->listeners[i], on_handle_closed);
    }
    struct cb_now now;
    server_now(s, &now);
    for (struct conn *c = s->conns; c != NULL; c = c->next) {
        /* Pending waits get SHUTTING_DOWN; the connection closes once that is written. */
        while (c->waits != NULL) {
            struct pending *p = c->waits;
            cw_remove(&s->waits, &p->cw);
            unlink_pending(p);
            server_send_error(s, c, p->id, WIRE_ERROR_SHUTTING_DOWN, true,
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
    if (s->handles_ok) {
        if (s->conns != NULL) {
            /* A client that does not read cannot hold the exit up for long. */
            uv_timer_start(&s->shutdown_timer, on_shutdown_timeout, SERVER_SHUTDOWN_WRITE_MS, 0);
        } else {
            close_shutdown_timer(s);
        }
    }
    if (s->poller_ok) {
        poller_close(&s->poller, on_poller_closed);
    }
    if (s->wake_ok) {
        waketimer_close(&s->wake, on_wake_closed);
    }
    if (s->handles_ok) {
        uv_close((uv_handle_t *)&s->flush_check, on_handle_closed);
        uv_close((uv_handle_t *)&s->stats_timer, on_handle_closed);
        uv_close((uv_handle_t *)&s->sigint, on_handle_closed);
        uv_close((uv_handle_t *)&s->sigterm, on_handle_closed);
    }
    if (s->lateness.total > 0) {
        log_lateness("commit-wait since start", &s->lateness);
    }
    log_info("served %" PRIu64 " requests (%" PRIu64 " errors)", s->requests, s->errors);
}

void server_fini(struct server *s)
{
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

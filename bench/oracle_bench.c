/*
 * oracle-bench: a load generator on libuv for oracled, and, driven the same way for
 * comparison, Redis INCR and a bare echo server. Closed loop (connections x pipeline depth) or
 * open loop (a constant rate, latency from each request's intended send time, so a stall is
 * not hidden: the wrk2 approach). Prints one JSON object with the results on stdout and a
 * summary on stderr.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "args.h"
#include "bproto.h"
#include "clientload.h"
#include "frame.h"
#include "histjson.h"
#include "histogram.h"
#include "netaddr.h"
#include "opts.h"
#include "procstat.h"
#include "promhist.h"
#include "scrape.h"
#include "strbuf.h"
#include "tlsctx.h"
#include "tlssess.h"

enum target { TARGET_ORACLE, TARGET_REDIS, TARGET_ECHO };

struct options {
    enum target target;
    const char *addr;
    enum bp_op op;
    uint32_t count;
    uint32_t connections;
    uint32_t depth;
    double rate; /* requests/s in all; 0: closed loop */
    int64_t duration_ns;
    uint64_t requests; /* 0: bounded by duration */
    int64_t warmup_ns;
    int64_t wait_ahead_ns; /* wait-until: ts = now + this */
    size_t echo_size;
    int cpu;
    pid_t server_pid;
    const char *metrics_addr;
    const char *scenario;
    const char *cdf_path;
    const char *lateness_cdf_path;
    const char *server_lateness_cdf_path;
    pid_t competitor_pid;
    uint32_t idle;
    int64_t rest_ns;
    bool busy_poll;
    enum client_mode client; /* CLIENT_NONE: oracle-bench's own connections */
    uint32_t threads;
    uint32_t burst;     /* wait-until in rounds of this many waiters on one timestamp (0: off) */
    const char *tls_ca; /* TLS to oracled: on with a CA file */
    const char *tls_cert;
    const char *tls_key;
};

struct bench;

struct bconn {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_write_t write_req;
    struct bench *b;
    uint8_t *rx;
    size_t rx_len;
    uint8_t *tx; /* requests queued this turn */
    size_t tx_len;
    size_t tx_cap;
    uint8_t *wr; /* the bytes of the write in progress */
    size_t wr_cap;
    bool writing;
    /* Requests in flight: send times by slot; oracled answers by id (slot = id & mask), the
     * others in order (slot = counter & mask). */
    int64_t *sent_ns;
    uint64_t *slot_id;
    uint64_t *ts_ns; /* wait-until: the timestamp asked about */
    size_t mask;
    uint64_t next_id;
    uint64_t head;
    size_t outstanding;
    struct tlssess *tls; /* NULL: plaintext */
    bool ready;          /* connected and (TLS) the handshake done */
};

struct bench {
    struct options o;
    uv_loop_t *loop;
    struct bconn *conns;
    uint32_t connected;
    SSL_CTX *tls_ctx;                /* --tls-ca: NULL for plaintext */
    uint8_t tls_in[FRAME_MAX_TOTAL]; /* records read, before they are decrypted */
    uv_timer_t stop_timer;
    uv_idle_t pacer;
    uv_idle_t busy; /* --busy-poll: keeps the loop from sleeping */
    uv_signal_t sigint;
    uint8_t echo_msg[256];
    uint8_t redis_req[BP_REQUEST_MAX];
    size_t redis_req_len;
    int64_t t0_ns;           /* when sending started */
    int64_t measure_from_ns; /* warm-up end */
    int64_t stop_ns;         /* when sending stopped (0: still going) */
    uint64_t sent;
    uint64_t window_sent; /* sent after the warm-up */
    uint64_t measured;    /* replies to requests sent after the warm-up and before the stop */
    uint64_t timestamps;
    uint64_t errors;
    uint64_t backlog_skips; /* open loop: due requests that found their connection's slot busy */
    uint64_t blocked_at;    /* ... the last one counted */
    bool closed;            /* close_all() ran */
    bool stopping;
    bool finishing;
    bool failed;
    int64_t idle_rss_kib; /* --idle: the server's RSS with every connection open */
    struct histogram latency;
    struct histogram waited;
    struct histogram client_lateness;
    int64_t server_cpu0_ns;
    uint64_t host_total0, host_steal0; /* /proc/stat at the start: the host's steal time */
    int64_t bound_ns; /* wait-until: the server's bound before the run (from /metrics) */
    int64_t server_run0_ns, server_wait0_ns; /* the server's schedstat at the start */
    bool server_sched0;                      /* ... read */
    int64_t competitor_cpu0_ns;
    /* --burst: the round in flight */
    uint64_t burst_ts;
    uint32_t burst_left;
    uint32_t burst_errors; /* error replies in the round: it is not measured */
    int64_t burst_sent_ns;
    int64_t burst_first_ns;
    uint64_t burst_rounds;
    struct histogram burst_span;     /* first reply of a round to its last */
    struct histogram burst_released; /* ts certainly past (ts + bound) to the last reply */
};

static int64_t mono_ns(void)
{
    return (int64_t)uv_hrtime();
}

static int64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Says msg (and detail) and exits 2: for bad arguments and a start that cannot go on. */
static void die(const char *msg, const char *detail) __attribute__((noreturn));
static void die(const char *msg, const char *detail)
{
    fprintf(stderr, "oracle-bench: %s%s\n", msg, detail);
    exit(2);
}

/* ---- Sending ---- */

static void on_write(uv_write_t *req, int status);

/* Hands what is queued to the kernel: at once where the socket takes it, else by uv_write. */
/* Over TLS: the requests queued become records in tx, with any the session had waiting (the
 * handshake's); the same one write a turn. */
static bool seal(struct bconn *c)
{
    if (c->tx_len > 0 && tlssess_write(c->tls, c->tx, c->tx_len) < 0) {
        fprintf(stderr, "oracle-bench: TLS: %s\n", c->tls->why);
        return false;
    }
    c->tx_len = 0;
    size_t n = tlssess_pending(c->tls);
    if (n > c->tx_cap) {
        uint8_t *p = realloc(c->tx, n);
        if (p == NULL) {
            return false;
        }
        c->tx = p;
        c->tx_cap = n;
    }
    c->tx_len = tlssess_take(c->tls, c->tx, n);
    return true;
}

static void flush_conn(struct bconn *c)
{
    if (c->writing) {
        return;
    }
    if (c->tls != NULL && !seal(c)) {
        c->b->failed = true;
        uv_stop(c->b->loop);
        return;
    }
    if (c->tx_len == 0) {
        return;
    }
    uv_buf_t buf = uv_buf_init((char *)c->tx, (unsigned)c->tx_len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
    size_t done = n > 0 ? (size_t)n : 0;
    if (n < 0 && n != UV_EAGAIN) {
        c->b->failed = true;
        fprintf(stderr, "oracle-bench: write: %s\n", uv_strerror(n));
        uv_stop(c->b->loop);
        return;
    }
    if (done == c->tx_len) {
        c->tx_len = 0;
        return;
    }
    /* The rest goes by uv_write from the other buffer; new requests queue meanwhile. */
    uint8_t *t = c->wr;
    size_t tc = c->wr_cap;
    c->wr = c->tx;
    c->wr_cap = c->tx_cap;
    c->tx = t;
    c->tx_cap = tc;
    size_t rest = c->tx_len - done;
    c->tx_len = 0;
    buf = uv_buf_init((char *)c->wr + done, (unsigned)rest);
    c->writing = true;
    int rc = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &buf, 1, on_write);
    if (rc < 0) {
        c->writing = false;
        c->b->failed = true;
        fprintf(stderr, "oracle-bench: write: %s\n", uv_strerror(rc));
        uv_stop(c->b->loop);
    }
}

static void on_write(uv_write_t *req, int status)
{
    struct bconn *c = (struct bconn *)((char *)req - offsetof(struct bconn, write_req));
    c->writing = false;
    if (status < 0) {
        if (!c->b->stopping) {
            c->b->failed = true;
            fprintf(stderr, "oracle-bench: write: %s\n", uv_strerror(status));
            uv_stop(c->b->loop);
        }
        return;
    }
    flush_conn(c);
}

static bool reserve_tx(struct bconn *c, size_t more)
{
    if (c->tx_len + more <= c->tx_cap) {
        return true;
    }
    size_t cap = c->tx_cap * 2;
    while (cap < c->tx_len + more) {
        cap *= 2;
    }
    uint8_t *p = realloc(c->tx, cap);
    if (p == NULL) {
        return false;
    }
    c->tx = p;
    c->tx_cap = cap;
    return true;
}

/* Queues one request sent (or due) at send_ns. Returns false when its slot is still busy. */
static bool queue_request(struct bconn *c, int64_t send_ns)
{
    struct bench *b = c->b;
    const struct options *o = &b->o;
    if (!reserve_tx(c, BP_REQUEST_MAX + sizeof(b->echo_msg))) {
        return false;
    }
    uint64_t id = c->next_id;
    size_t slot = id & c->mask;
    if (c->slot_id[slot] != 0) {
        return false;
    }
    switch (o->target) {
    case TARGET_ORACLE: {
        uint64_t ts = 0;
        if (o->op == BP_OP_WAIT_UNTIL) {
            ts = o->burst > 0 ? b->burst_ts : (uint64_t)(realtime_ns() + o->wait_ahead_ns);
            c->ts_ns[id & c->mask] = ts;
        }
        c->tx_len += bp_oracle_request(c->tx + c->tx_len, id, o->op, o->count, ts);
        break;
    }
    case TARGET_REDIS:
        memcpy(c->tx + c->tx_len, b->redis_req, b->redis_req_len);
        c->tx_len += b->redis_req_len;
        break;
    case TARGET_ECHO:
        memcpy(c->tx + c->tx_len, b->echo_msg, o->echo_size);
        c->tx_len += o->echo_size;
        break;
    }
    c->slot_id[slot] = id;
    c->sent_ns[slot] = send_ns;
    c->next_id++;
    c->outstanding++;
    b->sent++;
    if (send_ns >= b->measure_from_ns) {
        b->window_sent++;
    }
    return true;
}

/* --requests N counts the requests sent after the warm-up. */
static bool count_reached(const struct bench *b)
{
    return b->o.requests != 0 && b->window_sent >= b->o.requests;
}

static bool may_send(const struct bench *b)
{
    return !b->stopping && !count_reached(b);
}

static void begin_stop(struct bench *b);

/* Closed loop: refill the connection's pipeline. */
static void refill(struct bconn *c)
{
    int64_t now = mono_ns();
    while (c->outstanding < c->b->o.depth && may_send(c->b)) {
        if (!queue_request(c, now)) {
            break;
        }
    }
    if (count_reached(c->b)) {
        begin_stop(c->b);
    }
    flush_conn(c);
}

/* Open loop: send every request that is due by now, each stamped with its intended time. */
static void on_pace(uv_idle_t *h)
{
    struct bench *b = h->data;
    int64_t now = mono_ns();
    double elapsed_s = (double)(now - b->t0_ns) / 1e9;
    /* Request k is due at t0 + k / rate: those up to k = elapsed x rate are due now. */
    uint64_t due = (uint64_t)(elapsed_s * b->o.rate) + 1;
    while (b->sent < due && may_send(b)) {
        struct bconn *c = &b->conns[b->sent % b->o.connections];
        int64_t intended = b->t0_ns + (int64_t)((double)b->sent * 1e9 / b->o.rate);
        if (!queue_request(c, intended)) {
            /* Its connection is this far behind: the request is late, and will show it. */
            if (b->blocked_at != b->sent) {
                b->backlog_skips++;
                b->blocked_at = b->sent;
            }
            break;
        }
    }
    for (uint32_t i = 0; i < b->o.connections; i++) {
        flush_conn(&b->conns[i]);
    }
    if (count_reached(b)) {
        begin_stop(b);
    }
}

static bool in_window(const struct bench *b, int64_t sent_ns);

/* --burst: a round of N waiters on one timestamp, wait_ahead from now, spread over the
 * connections; the next round starts once every reply of this one is in. */
static void start_burst(struct bench *b)
{
    if (!may_send(b)) {
        begin_stop(b);
        return;
    }
    int64_t now = mono_ns();
    b->burst_ts = (uint64_t)(realtime_ns() + b->o.wait_ahead_ns);
    b->burst_sent_ns = now;
    b->burst_left = 0;
    b->burst_errors = 0;
    for (uint32_t i = 0; i < b->o.burst; i++) {
        if (!queue_request(&b->conns[i % b->o.connections], now)) {
            die("--burst: a connection has no free slot", "");
        }
        b->burst_left++;
    }
    for (uint32_t i = 0; i < b->o.connections; i++) {
        flush_conn(&b->conns[i]);
    }
}

/* A reply of the round in flight arrived at now. */
static void burst_reply(struct bench *b, int64_t now, bool error)
{
    if (b->burst_left == b->o.burst) {
        b->burst_first_ns = now;
    }
    b->burst_errors += error ? 1 : 0;
    if (--b->burst_left > 0 || !in_window(b, b->burst_sent_ns) || b->burst_errors > 0) {
        return;
    }
    b->burst_rounds++;
    hist_record(&b->burst_span, now - b->burst_first_ns);
    if (b->bound_ns > 0) {
        int64_t late = realtime_ns() - ((int64_t)b->burst_ts + b->bound_ns);
        hist_record(&b->burst_released, late > 0 ? late : 0);
    }
}

/* --busy-poll: an active idle handle makes every loop turn poll with a zero timeout. */
static void on_busy(uv_idle_t *h)
{
    (void)h;
}

/* ---- Receiving ---- */

/* Was a request sent at sent_ns inside the measured window (after the warm-up, before the
 * stop)? */
static bool in_window(const struct bench *b, int64_t sent_ns)
{
    return sent_ns >= b->measure_from_ns && (b->stop_ns == 0 || sent_ns < b->stop_ns);
}

static void account(struct bench *b, int64_t sent_ns, int64_t now_ns)
{
    if (in_window(b, sent_ns)) {
        b->measured++;
        hist_record(&b->latency, now_ns - sent_ns);
    }
}

/* Takes the in-order reply's slot. */
static int64_t take_fifo(struct bconn *c)
{
    size_t slot = c->head & c->mask;
    int64_t s = c->sent_ns[slot];
    c->slot_id[slot] = 0;
    c->head++;
    c->outstanding--;
    return s;
}

/* Parses every whole reply in the connection's input. Returns false on a bad stream. */
static bool take_replies(struct bconn *c, int64_t now)
{
    struct bench *b = c->b;
    size_t off = 0;
    int64_t real_now = 0;
    while (off < c->rx_len) {
        const uint8_t *p = c->rx + off;
        size_t left = c->rx_len - off;
        if (b->o.target == TARGET_ECHO) {
            if (left < b->o.echo_size) {
                break;
            }
            if (memcmp(p, b->echo_msg, b->o.echo_size) != 0 || c->outstanding == 0) {
                return false;
            }
            account(b, take_fifo(c), now);
            off += b->o.echo_size;
            continue;
        }
        if (b->o.target == TARGET_REDIS) {
            bool ok = false;
            int n = bp_redis_reply(p, left, &ok);
            if (n < 0 || (n > 0 && c->outstanding == 0)) {
                return false;
            }
            if (n == 0) {
                break;
            }
            int64_t sent = take_fifo(c);
            b->errors += !ok && in_window(b, sent) ? 1 : 0;
            account(b, sent, now);
            off += (size_t)n;
            continue;
        }
        const uint8_t *msg;
        size_t msg_len;
        int n = frame_decode(p, left, FRAME_MAX_LEN, &msg, &msg_len);
        if (n < 0) {
            return false;
        }
        if (n == 0) {
            break;
        }
        struct bp_reply r;
        if (bp_oracle_parse(msg, msg_len, &r) < 0) {
            return false;
        }
        size_t slot = r.id & c->mask;
        if (r.id == 0 || c->slot_id[slot] != r.id) {
            return false;
        }
        int64_t sent = c->sent_ns[slot];
        c->slot_id[slot] = 0;
        c->outstanding--;
        account(b, sent, now);
        if (b->o.burst > 0) {
            burst_reply(b, now, r.error);
        }
        if (r.error) {
            b->errors += in_window(b, sent) ? 1 : 0;
        } else if (in_window(b, sent)) {
            if (r.timestamps) {
                b->timestamps += r.count;
            }
            if (b->o.op == BP_OP_TS_WAIT || b->o.op == BP_OP_WAIT_UNTIL) {
                hist_record(&b->waited, (int64_t)r.waited_ns);
            }
            /* The timestamp was certainly past once the clock read ts + bound: with
             * GetTimestamp the reply's own bound, with WaitUntil the one read before the run
             * (it moves by a few us over a run). */
            int64_t past_at = -1;
            if (b->o.op == BP_OP_TS_WAIT && r.timestamps) {
                past_at = (int64_t)(r.first_ns + r.count - 1 + r.bound_ns);
            } else if (b->o.op == BP_OP_WAIT_UNTIL && r.waited && b->bound_ns > 0) {
                past_at = (int64_t)c->ts_ns[slot] + b->bound_ns;
            }
            if (past_at >= 0) {
                real_now = real_now != 0 ? real_now : realtime_ns();
                hist_record(&b->client_lateness, real_now - past_at);
            }
        }
        off += (size_t)n;
    }
    memmove(c->rx, c->rx + off, c->rx_len - off);
    c->rx_len -= off;
    return true;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct bconn *c = h->data;
    if (c->tls != NULL) {
        buf->base = (char *)c->b->tls_in;
        buf->len = sizeof(c->b->tls_in);
        return;
    }
    buf->base = (char *)c->rx + c->rx_len;
    buf->len = FRAME_MAX_TOTAL * 2 - c->rx_len;
}

static void maybe_finish(struct bench *b);
static void conn_ready(struct bconn *c);

/* Over TLS: records read. The handshake first; then the replies decrypted into rx and taken.
 * Returns false on a failure (said). */
static bool tls_read(struct bconn *c, const uint8_t *data, size_t n)
{
    if (tlssess_feed(c->tls, data, n) < 0) {
        return false;
    }
    if (!c->ready) {
        int rc = tlssess_handshake(c->tls);
        flush_conn(c);
        if (rc < 0) {
            fprintf(stderr, "oracle-bench: TLS handshake: %s\n", c->tls->why);
            return false;
        }
        if (rc == 0) {
            return true;
        }
        conn_ready(c);
    }
    for (;;) {
        ssize_t got = tlssess_read(c->tls, c->rx + c->rx_len, FRAME_MAX_TOTAL * 2 - c->rx_len);
        if (got == 0) {
            return true;
        }
        if (got < 0) {
            fprintf(stderr, "oracle-bench: TLS: %s\n",
                    got == TLSSESS_EOF ? "the server ended the session" : c->tls->why);
            return false;
        }
        c->rx_len += (size_t)got;
        if (!take_replies(c, mono_ns())) {
            fprintf(stderr, "oracle-bench: a malformed or unexpected reply\n");
            return false;
        }
    }
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct bconn *c = s->data;
    struct bench *b = c->b;
    if (n < 0) {
        if (!b->stopping || c->outstanding > 0) {
            fprintf(stderr, "oracle-bench: connection closed by the server: %s\n",
                    uv_strerror((int)n));
            b->failed = true;
            uv_stop(b->loop);
        }
        uv_read_stop(s);
        return;
    }
    if (c->tls != NULL) {
        if (!tls_read(c, (const uint8_t *)buf->base, (size_t)n)) {
            b->failed = true;
            uv_stop(b->loop);
            return;
        }
        if (!c->ready) {
            return;
        }
    } else {
        c->rx_len += (size_t)n;
        if (!take_replies(c, mono_ns())) {
            fprintf(stderr, "oracle-bench: a malformed or unexpected reply\n");
            b->failed = true;
            uv_stop(b->loop);
            return;
        }
    }
    if (b->o.burst > 0) {
        if (b->burst_left == 0) {
            start_burst(b);
        }
    } else if (b->o.rate == 0) {
        refill(c);
    }
    maybe_finish(b);
}

/* ---- Start and stop ---- */

static void on_stop_timer(uv_timer_t *t)
{
    begin_stop(t->data);
}

static void close_all(struct bench *b)
{
    if (b->closed) {
        return;
    }
    b->closed = true;
    for (uint32_t i = 0; i < b->o.connections; i++) {
        if (!uv_is_closing((uv_handle_t *)&b->conns[i].tcp)) {
            uv_close((uv_handle_t *)&b->conns[i].tcp, NULL);
        }
    }
    uv_close((uv_handle_t *)&b->stop_timer, NULL);
    uv_close((uv_handle_t *)&b->pacer, NULL);
    uv_close((uv_handle_t *)&b->busy, NULL);
    uv_close((uv_handle_t *)&b->sigint, NULL);
}

static void on_idle_settled(uv_timer_t *t)
{
    struct bench *b = t->data;
    (void)procstat_rss_kib(b->o.server_pid, &b->idle_rss_kib);
    close_all(b);
}

static void maybe_finish(struct bench *b)
{
    if (!b->stopping || b->finishing) {
        return;
    }
    for (uint32_t i = 0; i < b->o.connections; i++) {
        if (b->conns[i].outstanding > 0) {
            return;
        }
    }
    b->finishing = true;
    if (b->o.idle > 0) {
        /* Every connection made and answered once: let the server settle, then read its RSS
         * while they are all still open. */
        uv_timer_stop(&b->stop_timer);
        uv_timer_start(&b->stop_timer, on_idle_settled, 500, 0);
        return;
    }
    close_all(b);
}

static void on_drain_timeout(uv_timer_t *t)
{
    struct bench *b = t->data;
    fprintf(stderr, "oracle-bench: replies still missing 5 s after the end; giving up\n");
    b->failed = true;
    close_all(b);
}

static void begin_stop(struct bench *b)
{
    if (b->stopping) {
        return;
    }
    b->stopping = true;
    b->stop_ns = mono_ns();
    uv_idle_stop(&b->pacer);
    uv_idle_stop(&b->busy);
    uv_timer_stop(&b->stop_timer);
    uv_timer_start(&b->stop_timer, on_drain_timeout, 5000, 0);
    maybe_finish(b);
}

static void on_sigint(uv_signal_t *s, int sig)
{
    (void)sig;
    begin_stop(s->data);
}

static void start_sending(struct bench *b)
{
    b->t0_ns = mono_ns();
    b->measure_from_ns = b->t0_ns + b->o.warmup_ns;
    (void)procstat_steal(&b->host_total0, &b->host_steal0);
    if (b->o.server_pid > 0) {
        (void)procstat_cpu_ns(b->o.server_pid, &b->server_cpu0_ns);
        b->server_sched0 =
            procstat_schedstat(b->o.server_pid, &b->server_run0_ns, &b->server_wait0_ns) == 0;
    }
    if (b->o.competitor_pid > 0) {
        (void)procstat_cpu_ns(b->o.competitor_pid, &b->competitor_cpu0_ns);
    }
    if (b->o.duration_ns > 0) {
        uv_timer_start(&b->stop_timer, on_stop_timer,
                       (uint64_t)((b->o.warmup_ns + b->o.duration_ns) / 1000000), 0);
    }
    if (b->o.burst > 0) {
        start_burst(b);
    } else if (b->o.rate > 0) {
        uv_idle_start(&b->pacer, on_pace);
    } else {
        for (uint32_t i = 0; i < b->o.connections; i++) {
            refill(&b->conns[i]);
        }
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    struct bconn *c = req->data;
    struct bench *b = c->b;
    if (status == UV_ECANCELED && b->stopping) {
        return; /* stopped (Ctrl-C) before every connection was made */
    }
    if (status < 0) {
        fprintf(stderr, "oracle-bench: cannot connect to %s: %s\n", b->o.addr, uv_strerror(status));
        b->failed = true;
        uv_stop(b->loop);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (b->tls_ctx == NULL) {
        conn_ready(c);
        return;
    }
    c->tls = malloc(sizeof(*c->tls));
    char host[64];
    snprintf(host, sizeof(host), "%s", b->o.addr);
    char *colon = strrchr(host, ':');
    if (colon != NULL) {
        *colon = '\0';
    }
    if (c->tls == NULL || tlssess_init(c->tls, b->tls_ctx, false, host) < 0) {
        die("cannot start a TLS session", "");
    }
    (void)tlssess_handshake(c->tls); /* the ClientHello */
    flush_conn(c);
}

/* Connected (and the handshake done): sending starts once every connection is. */
static void conn_ready(struct bconn *c)
{
    struct bench *b = c->b;
    c->ready = true;
    if (++b->connected == b->o.connections) {
        start_sending(b);
    }
}

/* ---- Results ---- */

static void write_cdf(const char *path, const struct histogram *h)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "oracle-bench: cannot write %s: %s\n", path, strerror(errno));
        return;
    }
    fprintf(f, "# us cumulative_fraction\n");
    for (int i = 0; i <= 1000; i++) {
        double q = i / 1000.0;
        fprintf(f, "%.3f %.4f\n", (double)hist_quantile(h, q) / 1e3, q);
    }
    fclose(f);
}

/* The server's histogram over the run as a CDF: each bucket's upper edge (us) and the fraction
 * at or below it (a step curve at the buckets' resolution). */
static void write_bucket_cdf(const char *path, const struct promhist *before,
                             const struct promhist *after)
{
    struct promhist d;
    if (promhist_delta(after, before, &d) < 0 || d.count[d.n - 1] == 0) {
        return;
    }
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "oracle-bench: cannot write %s: %s\n", path, strerror(errno));
        return;
    }
    fprintf(f, "# us cumulative_fraction\n");
    for (size_t i = 0; i < d.n && isfinite(d.le[i]); i++) {
        fprintf(f, "%.3f %.5f\n", d.le[i] * 1e6, (double)d.count[i] / (double)d.count[d.n - 1]);
    }
    fclose(f);
}

static const char *target_name(enum target t)
{
    return t == TARGET_ORACLE ? "oracled" : t == TARGET_REDIS ? "redis" : "echo";
}

static const char *op_name(const struct options *o)
{
    if (o->target == TARGET_REDIS) {
        return "incr";
    }
    if (o->target == TARGET_ECHO) {
        return "echo";
    }
    switch (o->op) {
    case BP_OP_TS:
        return "ts";
    case BP_OP_TS_WAIT:
        return "ts-wait";
    case BP_OP_NOW:
        return "now";
    case BP_OP_WAIT_UNTIL:
        return "wait-until";
    }
    return "?";
}

/* oracled's release lateness, whole and in its two parts (/metrics), over the run. */
static const char *const lateness_metrics[][2] = {
    {"oracled_release_lateness_seconds", "server_lateness_us"},
    {"oracled_release_lateness_at_release_seconds", "server_late_at_release_us"},
    {"oracled_release_lateness_write_seconds", "server_late_write_us"},
};
#define N_LATENESS_METRICS (sizeof(lateness_metrics) / sizeof(lateness_metrics[0]))

struct server_lateness {
    struct promhist h[N_LATENESS_METRICS];
    double passes;
};

/* Reads them from /metrics' text. Returns 0, or -1 when the whole lateness is not there. */
static int read_server_lateness(const char *text, struct server_lateness *l)
{
    memset(l, 0, sizeof(*l));
    for (size_t i = 0; i < N_LATENESS_METRICS; i++) {
        if (promhist_parse(text, lateness_metrics[i][0], &l->h[i]) < 0 && i == 0) {
            return -1;
        }
    }
    if (prom_value(text, "oracled_release_passes_total", &l->passes) < 0) {
        l->passes = -1;
    }
    return 0;
}

static void print_server_hist(const char *key, const struct promhist *before,
                              const struct promhist *after)
{
    struct promhist d;
    if (after->n == 0 || promhist_delta(after, before, &d) < 0 || d.count[d.n - 1] == 0) {
        return;
    }
    printf(",\"%s\":{\"count\":%" PRIu64 ",\"p50\":%.3f,\"p90\":%.3f,"
           "\"p99\":%.3f,\"p999\":%.3f,\"max_le\":%.3f}",
           key, d.count[d.n - 1], promhist_quantile(&d, 0.5) * 1e6,
           promhist_quantile(&d, 0.9) * 1e6, promhist_quantile(&d, 0.99) * 1e6,
           promhist_quantile(&d, 0.999) * 1e6, promhist_max_bound(&d) * 1e6);
}

static void print_server_lateness(const struct server_lateness *before,
                                  const struct server_lateness *after)
{
    for (size_t i = 0; i < N_LATENESS_METRICS; i++) {
        print_server_hist(lateness_metrics[i][1], &before->h[i], &after->h[i]);
    }
    struct promhist d;
    double passes = after->passes - before->passes;
    if (before->passes >= 0 && after->passes >= 0 && passes > 0 &&
        promhist_delta(&after->h[0], &before->h[0], &d) == 0) {
        printf(",\"server_release_passes\":%.0f,\"server_releases_per_pass\":%.2f", passes,
               (double)d.count[d.n - 1] / passes);
    }
}

/* ---- Modes without load: idle connections, the server at rest ---- */

static int run_rest(const struct options *o)
{
    int64_t cpu0;
    int64_t cpu1;
    if (o->server_pid <= 0 || procstat_cpu_ns(o->server_pid, &cpu0) < 0) {
        die("--rest needs --server-pid of a running server", "");
    }
    struct timespec ts = {.tv_sec = o->rest_ns / 1000000000, .tv_nsec = o->rest_ns % 1000000000};
    nanosleep(&ts, NULL);
    if (procstat_cpu_ns(o->server_pid, &cpu1) < 0) {
        die("the server exited during --rest", "");
    }
    double pct = 100.0 * (double)(cpu1 - cpu0) / (double)o->rest_ns;
    printf("{\"scenario\":\"%s\",\"mode\":\"rest\",\"seconds\":%.3f,\"server_cpu_s\":%.3f,"
           "\"server_cpu_percent\":%.3f}\n",
           o->scenario, (double)o->rest_ns / 1e9, (double)(cpu1 - cpu0) / 1e9, pct);
    fprintf(stderr, "%s: server CPU %.3f s in %.1f s at rest (%.3f %% of a core)\n", o->scenario,
            (double)(cpu1 - cpu0) / 1e9, (double)o->rest_ns / 1e9, pct);
    return 0;
}

/* ---- Command line ---- */

static int set_target(void *target, const struct opts_entry *e, const char *value,
                      const struct opts_where *w, struct opts_why *why)
{
    (void)e;
    (void)w;
    struct options *o = target;
    if (strcmp(value, "oracled") == 0) {
        o->target = TARGET_ORACLE;
    } else if (strcmp(value, "redis") == 0) {
        o->target = TARGET_REDIS;
    } else if (strcmp(value, "echo") == 0) {
        o->target = TARGET_ECHO;
    } else {
        snprintf(why->text, sizeof(why->text), "--target is oracled, redis or echo, not %s", value);
        why->sentence = true;
        return -EINVAL;
    }
    return 0;
}

static int set_op(void *target, const struct opts_entry *e, const char *value,
                  const struct opts_where *w, struct opts_why *why)
{
    (void)e;
    (void)w;
    struct options *o = target;
    if (strcmp(value, "ts") == 0) {
        o->op = BP_OP_TS;
    } else if (strcmp(value, "ts-wait") == 0) {
        o->op = BP_OP_TS_WAIT;
    } else if (strcmp(value, "now") == 0) {
        o->op = BP_OP_NOW;
    } else if (strcmp(value, "wait-until") == 0) {
        o->op = BP_OP_WAIT_UNTIL;
    } else {
        snprintf(why->text, sizeof(why->text), "--op is ts, ts-wait, now or wait-until, not %s",
                 value);
        why->sentence = true;
        return -EINVAL;
    }
    return 0;
}

static int set_rate(void *target, const struct opts_entry *e, const char *value,
                    const struct opts_where *w, struct opts_why *why)
{
    (void)e;
    (void)w;
    int64_t rate = 0;
    if (args_parse_i64(value, 1, 100000000, &rate) < 0) {
        snprintf(why->text, sizeof(why->text), "an integer from 1 to 100000000");
        return -EINVAL;
    }
    ((struct options *)target)->rate = (double)rate;
    return 0;
}

/* --requests N also ends the run by count rather than by --duration (a later --duration sets
 * that again). */
static int set_requests(void *target, const struct opts_entry *e, const char *value,
                        const struct opts_where *w, struct opts_why *why)
{
    (void)e;
    (void)w;
    struct options *o = target;
    int64_t n = 0;
    if (args_parse_i64(value, 1, INT64_MAX, &n) < 0) {
        snprintf(why->text, sizeof(why->text), "an integer from 1 to %" PRId64, INT64_MAX);
        return -EINVAL;
    }
    o->requests = (uint64_t)n;
    o->duration_ns = 0;
    return 0;
}

/* The scenario is written into JSON unescaped. */
static int set_client(void *target, const struct opts_entry *e, const char *value,
                      const struct opts_where *w, struct opts_why *why)
{
    (void)e;
    (void)w;
    struct options *o = target;
    if (client_mode_parse(value, &o->client) < 0) {
        snprintf(why->text, sizeof(why->text), "--client is shared, per-thread or async, not %s",
                 value);
        why->sentence = true;
        return -1;
    }
    return 0;
}

static int set_scenario(void *target, const struct opts_entry *e, const char *value,
                        const struct opts_where *w, struct opts_why *why)
{
    (void)e;
    (void)w;
    if (value[strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                            "0123456789._-")] != '\0') {
        snprintf(why->text, sizeof(why->text),
                 "--scenario takes letters, digits, '.', '_' and '-', not %s", value);
        why->sentence = true;
        return -EINVAL;
    }
    ((struct options *)target)->scenario = value;
    return 0;
}

#define DURATION_EXPECT "a duration such as 5s"

static const struct opts_entry entries[] = {
    {.kind = OPTS_CALL,
     .name = "target",
     .metavar = "oracled|redis|echo",
     .set = set_target,
     .help = "what --addr is (default oracled)"},
    {.kind = OPTS_STRING,
     .name = "addr",
     .metavar = "HOST:PORT",
     OPTS_AT(struct options, addr),
     .help = "the server"},
    {.kind = OPTS_CALL,
     .name = "op",
     .metavar = "ts|ts-wait|now|wait-until",
     .set = set_op,
     .help = "oracled operation (default ts)"},
    {.kind = OPTS_INT,
     .name = "count",
     .metavar = "N",
     OPTS_AT(struct options, count),
     .min = 1,
     .max = 65536,
     .help = "timestamps per GetTimestamp"},
    {.kind = OPTS_DURATION,
     .name = "wait-ahead",
     .metavar = "D",
     OPTS_AT(struct options, wait_ahead_ns),
     .min = 0,
     .max = INT64_MAX,
     .expect = DURATION_EXPECT,
     .help = "wait-until: the timestamp is now + D"},
    {.kind = OPTS_INT,
     .name = "connections",
     .metavar = "N",
     OPTS_AT(struct options, connections),
     .min = 1,
     .max = 100000,
     .help = "connections to the server"},
    {.kind = OPTS_INT,
     .name = "depth",
     .metavar = "N",
     OPTS_AT(struct options, depth),
     .min = 1,
     .max = 65536,
     .help = "closed loop: requests in flight per connection"},
    {.kind = OPTS_CALL,
     .name = "rate",
     .metavar = "R",
     .set = set_rate,
     .help = "open loop: R requests/s in all, latency from each request's intended send time"},
    {.kind = OPTS_DURATION,
     .name = "duration",
     .metavar = "D",
     OPTS_AT(struct options, duration_ns),
     .min = 0,
     .max = INT64_MAX,
     .expect = DURATION_EXPECT,
     .help = "measure this long after the warm-up"},
    {.kind = OPTS_CALL,
     .name = "requests",
     .metavar = "N",
     .set = set_requests,
     .help = "or stop after N requests (after the warm-up)"},
    {.kind = OPTS_DURATION,
     .name = "warmup",
     .metavar = "D",
     OPTS_AT(struct options, warmup_ns),
     .min = 0,
     .max = INT64_MAX,
     .expect = DURATION_EXPECT,
     .help = "not measured"},
    {.kind = OPTS_INT,
     .name = "echo-size",
     .metavar = "N",
     OPTS_AT(struct options, echo_size),
     .min = 1,
     .max = 256,
     .help = "echo message bytes, about a request's size"},
    {.kind = OPTS_INT,
     .name = "cpu",
     .metavar = "N",
     .flags = OPTS_NO_DEFAULT,
     OPTS_AT(struct options, cpu),
     .min = 0,
     .max = 1023,
     .help = "pin this process to CPU N"},
    {.kind = OPTS_FLAG,
     .name = "busy-poll",
     OPTS_AT(struct options, busy_poll),
     .help = "never sleep in epoll_wait (a client that is always busy: the server's writes "
             "then wake no one)"},
    {.kind = OPTS_INT,
     .name = "server-pid",
     .metavar = "PID",
     .flags = OPTS_NO_DEFAULT,
     OPTS_AT(struct options, server_pid),
     .min = 1,
     .max = INT32_MAX,
     .help = "report that process's CPU time during the run"},
    {.kind = OPTS_STRING,
     .name = "metrics",
     .metavar = "HOST:PORT",
     OPTS_AT(struct options, metrics_addr),
     .help = "oracled's HTTP port: report its release lateness"},
    {.kind = OPTS_CALL,
     .name = "scenario",
     .metavar = "NAME",
     .set = set_scenario,
     .help = "a label for the results"},
    {.kind = OPTS_STRING,
     .name = "cdf",
     .metavar = "FILE",
     OPTS_AT(struct options, cdf_path),
     .help = "write the latency CDF (us, fraction) for gnuplot"},
    {.kind = OPTS_STRING,
     .name = "lateness-cdf",
     .metavar = "FILE",
     OPTS_AT(struct options, lateness_cdf_path),
     .help = "... and the commit-wait client lateness CDF"},
    {.kind = OPTS_STRING,
     .name = "server-lateness-cdf",
     .metavar = "FILE",
     OPTS_AT(struct options, server_lateness_cdf_path),
     .help = "... and the server's release lateness CDF (its /metrics buckets; needs --metrics)"},
    {.kind = OPTS_INT,
     .name = "competitor-pid",
     .metavar = "PID",
     .flags = OPTS_NO_DEFAULT,
     OPTS_AT(struct options, competitor_pid),
     .min = 1,
     .max = INT32_MAX,
     .help = "report that process's CPU time during the run too (a CPU hog beside the server)"},
    {.kind = OPTS_INT,
     .name = "idle",
     .metavar = "N",
     .flags = OPTS_NO_DEFAULT,
     OPTS_AT(struct options, idle),
     .min = 1,
     .max = 100000,
     .help = "instead: open N idle connections, report the server's RSS per connection (needs "
             "--server-pid)"},
    {.kind = OPTS_DURATION,
     .name = "rest",
     .metavar = "D",
     .flags = OPTS_NO_DEFAULT,
     OPTS_AT(struct options, rest_ns),
     .min = 0,
     .max = INT64_MAX,
     .expect = DURATION_EXPECT,
     .help = "instead: the server's CPU time over D with no load"},
    {.kind = OPTS_CALL,
     .name = "client",
     .metavar = "MODE",
     .set = set_client,
     .help = "instead: load through liboracle-client, --threads callers: shared (one "
             "oracle_shared_new client), per-thread (a client each) or async (one loop); "
             "--op ts or ts-wait"},
    {.kind = OPTS_INT,
     .name = "threads",
     .metavar = "N",
     OPTS_AT(struct options, threads),
     .min = 1,
     .max = 4096,
     .help = "--client's callers (threads, or outstanding calls with async)"},
    {.kind = OPTS_INT,
     .name = "burst",
     .metavar = "N",
     .flags = OPTS_NO_DEFAULT,
     OPTS_AT(struct options, burst),
     .min = 1,
     .max = 1000000,
     .help = "instead: rounds of N WaitUntil on one timestamp --wait-ahead from now, spread "
             "over the connections; reports how long each round took to be released"},
    {.kind = OPTS_STRING,
     .name = "tls-ca",
     .metavar = "FILE",
     .flags = OPTS_NO_DEFAULT,
     OPTS_AT(struct options, tls_ca),
     .help = "TLS to oracled, trusting these PEM CA certificates (the server's certificate must "
             "name --addr's host)"},
    {.kind = OPTS_STRING,
     .name = "tls-cert",
     .metavar = "FILE",
     .flags = OPTS_NO_DEFAULT,
     OPTS_AT(struct options, tls_cert),
     .help = "... with this PEM client certificate (mutual TLS)"},
    {.kind = OPTS_STRING,
     .name = "tls-key",
     .metavar = "FILE",
     .flags = OPTS_NO_DEFAULT,
     OPTS_AT(struct options, tls_key),
     .help = "... and its key"},
    {.kind = OPTS_HELP, .name = "help", .short_name = 'h', .help = "this help"},
};

static const struct opts_program program = {
    .name = "oracle-bench",
    .usage = "Usage: oracle-bench [OPTIONS]\n"
             "Loads oracled (or, for comparison, Redis INCR or an echo server) and reports "
             "latency\n"
             "and throughput as one JSON object on stdout.\n"
             "\n",
    .footer = "Durations take a unit: 500ms, 5s.\n",
    .entries = entries,
    .n_entries = sizeof(entries) / sizeof(entries[0]),
    .style = OPTS_STYLE_NAME_VALUE,
};

static void set_defaults(struct options *o)
{
    memset(o, 0, sizeof(*o));
    o->target = TARGET_ORACLE;
    o->addr = "127.0.0.1:7600";
    o->op = BP_OP_TS;
    o->count = 1;
    o->connections = 1;
    o->depth = 1;
    o->duration_ns = 5000000000;
    o->warmup_ns = 500000000;
    o->wait_ahead_ns = 100000;
    o->echo_size = 10;
    o->cpu = -1;
    o->scenario = "";
    o->threads = 1;
}

static void parse(int argc, char **argv, struct options *o)
{
    set_defaults(o);
    struct opts_state st;
    int rc = opts_command_line(&st, &program, o, argc, argv);
    if (rc < 0) {
        opts_fini(&st);
        exit(2);
    }
    int next = st.next_arg;
    opts_fini(&st);
    if (rc == OPTS_HELP_ASKED) {
        struct options defaults;
        set_defaults(&defaults);
        struct strbuf b;
        strbuf_init(&b);
        opts_help(&program, &defaults, &b);
        fputs(b.failed ? "oracle-bench: out of memory\n" : b.data, stdout);
        strbuf_fini(&b);
        exit(0);
    }
    if (next < argc) {
        die("unexpected argument ", argv[next]);
    }
    if (o->idle > 0) {
        /* One request per connection, then hold them all open. */
        o->connections = o->idle;
        o->depth = 1;
        o->rate = 0;
        o->requests = o->idle;
        o->duration_ns = 0;
        o->warmup_ns = 0;
        if (o->server_pid <= 0) {
            die("--idle needs --server-pid", "");
        }
    }
    if (o->burst > 0) {
        if (o->target != TARGET_ORACLE || o->rate > 0 || o->idle > 0 || o->client != CLIENT_NONE) {
            die("--burst loads oracled with WaitUntil in rounds: no --rate, --idle, --client or "
                "other --target",
                "");
        }
        o->op = BP_OP_WAIT_UNTIL;
        o->depth = (o->burst + o->connections - 1) / o->connections;
        if (o->depth > 65536) {
            die("--burst: more than 65,536 waiters a connection; add --connections", "");
        }
    }
}

/* ---- Main ---- */

static void init_conn(struct bench *b, struct bconn *c, const struct sockaddr_storage *ss)
{
    size_t slots = 1;
    size_t need = b->o.rate > 0 ? 65536 : 2 * (size_t)b->o.depth;
    while (slots < need) {
        slots <<= 1;
    }
    memset(c, 0, sizeof(*c));
    c->b = b;
    c->mask = slots - 1;
    c->next_id = 1;
    c->head = 1;
    c->sent_ns = calloc(slots, sizeof(c->sent_ns[0]));
    c->slot_id = calloc(slots, sizeof(c->slot_id[0]));
    c->ts_ns = calloc(slots, sizeof(c->ts_ns[0]));
    c->rx = malloc(FRAME_MAX_TOTAL * 2);
    c->tx_cap = 4096;
    c->tx = malloc(c->tx_cap);
    c->wr_cap = 4096;
    c->wr = malloc(c->wr_cap);
    if (c->sent_ns == NULL || c->slot_id == NULL || c->ts_ns == NULL || c->rx == NULL ||
        c->tx == NULL || c->wr == NULL) {
        die("out of memory", "");
    }
    uv_tcp_init(b->loop, &c->tcp);
    c->tcp.data = c;
    c->connect_req.data = c;
    int rc = uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)ss, on_connect);
    if (rc < 0) {
        die("cannot connect: ", uv_strerror(rc));
    }
}

static void fini_conn(struct bconn *c)
{
    free(c->sent_ns);
    free(c->slot_id);
    free(c->ts_ns);
    free(c->rx);
    free(c->tx);
    free(c->wr);
    if (c->tls != NULL) {
        tlssess_fini(c->tls);
        free(c->tls);
    }
}

static void raise_nofile(uint32_t need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need + 64) {
        rl.rlim_cur = rl.rlim_max < need + 64 ? rl.rlim_max : need + 64;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    static struct bench bench;
    struct bench *b = &bench;
    parse(argc, argv, &b->o);
    const struct options *o = &b->o;
    signal(SIGPIPE, SIG_IGN);
    if (o->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(o->cpu, &set);
        if (sched_setaffinity(0, sizeof(set), &set) < 0) {
            fprintf(stderr, "oracle-bench: cannot pin to CPU %d: %s\n", o->cpu, strerror(errno));
            return 2;
        }
    }
    if (o->rest_ns > 0) {
        return run_rest(o);
    }
    if (o->client != CLIENT_NONE) {
        if (o->target != TARGET_ORACLE || (o->op != BP_OP_TS && o->op != BP_OP_TS_WAIT) ||
            o->count != 1) {
            die("--client loads oracled with --op ts or ts-wait, one timestamp a call", "");
        }
        struct client_load l = {.mode = o->client,
                                .addr = o->addr,
                                .threads = o->threads,
                                .commit_wait = o->op == BP_OP_TS_WAIT,
                                .duration_ns = o->duration_ns,
                                .warmup_ns = o->warmup_ns,
                                .server_pid = o->server_pid > 0 ? o->server_pid : 0,
                                .scenario = o->scenario,
                                .tls_ca = o->tls_ca,
                                .tls_cert = o->tls_cert,
                                .tls_key = o->tls_key};
        return client_load_run(&l);
    }
    struct sockaddr_storage ss;
    if (netaddr_parse(o->addr, &ss) < 0) {
        die("invalid --addr (expected HOST:PORT with a numeric host): ", o->addr);
    }
    raise_nofile(o->connections);
    if (o->tls_ca != NULL) {
        if (o->target != TARGET_ORACLE) {
            die("--tls-ca is for oracled", "");
        }
        struct tlsctx_settings ts = {.ca = o->tls_ca, .cert = o->tls_cert, .key = o->tls_key};
        char why[TLSCTX_WHY_MAX];
        b->tls_ctx = tlsctx_client_new(&ts, why, sizeof(why));
        if (b->tls_ctx == NULL) {
            die("TLS: ", why);
        }
    }
    memset(b->echo_msg, 'e', sizeof(b->echo_msg));
    b->redis_req_len = bp_redis_incr(b->redis_req, "oracle-bench");
    hist_init(&b->latency);
    hist_init(&b->waited);
    hist_init(&b->client_lateness);
    hist_init(&b->burst_span);
    hist_init(&b->burst_released);
    static struct server_lateness lat_before;
    static struct server_lateness lat_after;
    bool have_metrics = false;
    if (o->metrics_addr != NULL) {
        char *text = scrape_metrics(o->metrics_addr);
        if (text == NULL) {
            die("cannot read /metrics from ", o->metrics_addr);
        }
        have_metrics = read_server_lateness(text, &lat_before) == 0;
        double bound_s;
        if (prom_value(text, "oracled_clock_bound_seconds", &bound_s) == 0 && bound_s > 0 &&
            bound_s < 1) {
            b->bound_ns = (int64_t)(bound_s * 1e9);
        }
        free(text);
    }
    int64_t rss0 = 0;
    if (o->server_pid > 0) {
        (void)procstat_rss_kib(o->server_pid, &rss0);
    }
    b->loop = uv_default_loop();
    uv_timer_init(b->loop, &b->stop_timer);
    b->stop_timer.data = b;
    uv_idle_init(b->loop, &b->pacer);
    b->pacer.data = b;
    uv_idle_init(b->loop, &b->busy);
    if (o->busy_poll) {
        uv_idle_start(&b->busy, on_busy);
    }
    uv_signal_init(b->loop, &b->sigint);
    b->sigint.data = b;
    uv_signal_start(&b->sigint, on_sigint, SIGINT);
    b->conns = calloc(o->connections, sizeof(b->conns[0]));
    if (b->conns == NULL) {
        die("out of memory", "");
    }
    for (uint32_t i = 0; i < o->connections; i++) {
        init_conn(b, &b->conns[i], &ss);
    }
    uv_run(b->loop, UV_RUN_DEFAULT);
    int64_t end_ns = mono_ns();
    uint64_t host_total1 = 0, host_steal1 = 0;
    (void)procstat_steal(&host_total1, &host_steal1);
    int64_t cpu1 = 0;
    int64_t rss1 = 0;
    int64_t run1 = -1, wait1 = -1;
    int64_t competitor1 = -1;
    if (o->competitor_pid > 0 && procstat_cpu_ns(o->competitor_pid, &competitor1) < 0) {
        competitor1 = -1;
    }
    if (o->server_pid > 0) {
        (void)procstat_schedstat(o->server_pid, &run1, &wait1);
        (void)procstat_cpu_ns(o->server_pid, &cpu1);
        (void)procstat_rss_kib(o->server_pid, &rss1);
    }
    if (have_metrics) {
        char *text = scrape_metrics(o->metrics_addr);
        have_metrics = text != NULL && read_server_lateness(text, &lat_after) == 0;
        free(text);
    }
    if (b->failed) {
        close_all(b);
        uv_run(b->loop, UV_RUN_DEFAULT);
    }
    int close_rc = uv_loop_close(b->loop);
    for (uint32_t i = 0; i < o->connections; i++) {
        fini_conn(&b->conns[i]);
    }
    free(b->conns);
    SSL_CTX_free(b->tls_ctx);
    if (b->failed) {
        return 1;
    }
    if (close_rc != 0) {
        fprintf(stderr, "oracle-bench: handles left open at exit\n");
        return 1;
    }

    int64_t stop = b->stop_ns != 0 ? b->stop_ns : end_ns;
    /* Stopped before it ever started sending (Ctrl-C while connecting): nothing measured. */
    double window_s = b->t0_ns == 0 ? 0 : (double)(stop - b->measure_from_ns) / 1e9;
    if (window_s < 0) {
        window_s = 0;
    }
    double rps = window_s > 0 ? (double)b->measured / window_s : 0;
    printf("{\"scenario\":\"%s\",\"target\":\"%s\",\"op\":\"%s\",\"mode\":\"%s\","
           "\"connections\":%" PRIu32 ",\"depth\":%" PRIu32 ",\"count\":%" PRIu32
           ",\"rate\":%.0f,\"seconds\":%.3f,\"requests\":%" PRIu64 ",\"errors\":%" PRIu64
           ",\"rps\":%.1f",
           o->scenario, target_name(o->target), op_name(o),
           o->idle > 0   ? "idle"
           : o->rate > 0 ? "open"
                         : "closed",
           o->connections, o->depth, o->count, o->rate, window_s, b->measured, b->errors, rps);
    printf(",\"tls\":%s", b->tls_ctx != NULL ? "true" : "false");
    if (o->target == TARGET_ORACLE && (o->op == BP_OP_TS || o->op == BP_OP_TS_WAIT)) {
        printf(",\"timestamps_per_s\":%.1f", window_s > 0 ? (double)b->timestamps / window_s : 0);
    }
    if (o->rate > 0) {
        printf(",\"backlog_skips\":%" PRIu64, b->backlog_skips);
    }
    double steal = procstat_steal_percent(b->host_total0, b->host_steal0, host_total1, host_steal1);
    if (steal >= 0) {
        printf(",\"host_steal_percent\":%.1f", steal);
    }
    int64_t span = b->t0_ns != 0 ? end_ns - b->t0_ns : 0; /* since sending started */
    if (o->server_pid > 0) {
        printf(",\"server_cpu_s\":%.3f,\"server_rss_kib_before\":%" PRId64
               ",\"server_rss_kib_after\":%" PRId64,
               (double)(cpu1 - b->server_cpu0_ns) / 1e9, rss0, rss1);
        /* The loop thread's time runnable but not running (another task had its CPU), as a
         * share of the run: what a busy host does to lateness. */
        if (b->server_sched0 && wait1 >= b->server_wait0_ns && span > 0) {
            printf(",\"server_runqueue_wait_percent\":%.2f,\"server_run_percent\":%.1f",
                   100.0 * (double)(wait1 - b->server_wait0_ns) / (double)span,
                   100.0 * (double)(run1 - b->server_run0_ns) / (double)span);
        }
        if (o->idle > 0) {
            printf(",\"server_rss_kib_connected\":%" PRId64
                   ",\"server_rss_bytes_per_connection\":%.0f",
                   b->idle_rss_kib, (double)(b->idle_rss_kib - rss0) * 1024.0 / o->idle);
        }
    }
    if (competitor1 >= 0 && span > 0) {
        printf(",\"competitor_cpu_percent\":%.1f",
               100.0 * (double)(competitor1 - b->competitor_cpu0_ns) / (double)span);
    }
    hist_json("latency_us", &b->latency);
    hist_json("waited_us", &b->waited);
    hist_json("client_lateness_us", &b->client_lateness);
    if (o->burst > 0) {
        printf(",\"burst\":%" PRIu32 ",\"burst_rounds\":%" PRIu64
               ",\"burst_span_per_waiter_us\":%.3f",
               o->burst, b->burst_rounds,
               (double)hist_quantile(&b->burst_span, 0.5) / 1e3 / (double)o->burst);
        hist_json("burst_span_us", &b->burst_span);
        hist_json("burst_released_us", &b->burst_released);
    }
    if (have_metrics) {
        print_server_lateness(&lat_before, &lat_after);
    }
    printf("}\n");
    fprintf(stderr,
            "%s %s %s: %" PRIu32 " conn x %" PRIu32 ", %.0f req/s, p50 %.1f us, p99 %.1f us, "
            "%" PRIu64 " errors, host steal %.1f %%\n",
            o->scenario, target_name(o->target), op_name(o), o->connections, o->depth, rps,
            (double)hist_quantile(&b->latency, 0.5) / 1e3,
            (double)hist_quantile(&b->latency, 0.99) / 1e3, b->errors, steal);
    if (o->burst > 0) {
        fprintf(stderr,
                "%s: %" PRIu64 " bursts of %" PRIu32 ": first to last reply p50 %.1f us (%.3f us a "
                "waiter), max %.1f us\n",
                o->scenario, b->burst_rounds, o->burst,
                (double)hist_quantile(&b->burst_span, 0.5) / 1e3,
                (double)hist_quantile(&b->burst_span, 0.5) / 1e3 / (double)o->burst,
                (double)hist_quantile(&b->burst_span, 1.0) / 1e3);
    }
    if (o->cdf_path != NULL) {
        write_cdf(o->cdf_path, &b->latency);
    }
    if (o->lateness_cdf_path != NULL && b->client_lateness.total > 0) {
        write_cdf(o->lateness_cdf_path, &b->client_lateness);
    }
    if (o->server_lateness_cdf_path != NULL && have_metrics) {
        write_bucket_cdf(o->server_lateness_cdf_path, &lat_before.h[0], &lat_after.h[0]);
    }
    return b->errors > 0 && b->measured == 0 ? 1 : 0;
}

/*
 * The engine behind the shared and asynchronous clients (see engine.h): calls queued, merged
 * and sent on a libuv loop, replies split back, connections made and left.
 *
 * A call (struct ecall) is in one place at a time: queued (in the batch queue of its kind,
 * the calls that go alone being one more kind), in a flight (a request sent and not yet
 * answered), or nowhere once ended. It is freed when it has ended and no flight holds it: a
 * call whose deadline passed while in flight is ended at once, and freed when its flight ends
 * (its connection is taken down then).
 */
#include "engine.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "batch.h"
#include "ctls.h"
#include "frame.h"
#include "reply.h"
#include "request.h"
#include "servers.h"
#include "wire.h"

#define TLS_READ_BYTES   (64 * 1024) /* records read at once, before they are decrypted */
#define BACKOFF_FIRST_NS UINT64_C(1000000)
#define BACKOFF_MAX_NS   UINT64_C(100000000)
#define NS_PER_MS        UINT64_C(1000000)
/* Batches of one kind in flight at once: one on the wire while the next fills. With one, the
 * callers split into two groups taking turns, each waiting a whole round trip plus the others'
 * wake-ups; with two, 8 threads got 1.6x the timestamps/s and larger batches (bench, s8). */
#define BATCHES_IN_FLIGHT 2

struct ecall {
    struct batch_call b;       /* first: its place in a batch queue, then in its batch */
    struct ecall *prev, *next; /* the calls not yet ended, in the order they came */
    struct oracle_request req; /* max_wait_ns resolved against the client's max_wait_ms */
    bool in_flight;            /* held by a flight ... */
    struct econn *conn;        /* ... on this connection */
    bool ended;                /* done was called */
    uint64_t submitted_ns;     /* uv_hrtime() */
    uint64_t deadline_ns;      /* uv_hrtime() */
    engine_done_fn done;
    void *arg;
    struct oracle_error last; /* the last retriable failure met (rc 0: none) */
};

/* A request sent and not yet answered: the calls it carries. */
struct eflight {
    uint64_t id; /* 0: the slot is free */
    struct flight f;
    struct econn *conn;
    bool split;         /* a GetTimestamp range shared out among the batch's calls */
    struct batch batch; /* the calls, oldest first (one for a call sent alone) */
};

enum conn_state {
    CONN_CONNECTING,
    CONN_OPEN,     /* carries new requests */
    CONN_RETIRING, /* the server closes it: only its replies are awaited */
};

struct econn {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    struct engine *e;
    struct econn *next; /* the engine's connections */
    enum conn_state state;
    bool closing; /* uv_close() called */
    size_t server;
    size_t flights;
    char peer[80];
    uint8_t *in; /* bytes received (TLS: decrypted), not yet decoded */
    size_t in_len;
    struct tlssess *tls; /* NULL: plaintext; CONNECTING until its handshake is done */
};

struct ewrite {
    uv_write_t req;
    size_t len;
    uint8_t data[];
};

struct engine {
    uv_loop_t *loop;
    struct client_config cfg;
    SSL_CTX *tls_ctx; /* NULL: plaintext */
    uint8_t *tls_in;  /* TLS_READ_BYTES: every connection's records land here first */
    bool closing;
    void (*closed)(void *arg);
    void *closed_arg;
    unsigned handles; /* libuv handles and requests not yet given back */

    struct ecall *live_head, *live_tail; /* calls not yet ended */
    struct batch_queue queue;

    struct eflight *flights; /* cfg.max_in_flight slots, id modulo the count */
    size_t flights_used;
    uint64_t next_id;
    uint64_t next_seq; /* the order calls are made in */
    unsigned kind_in_flight[BATCH_KINDS];

    struct econn *conns;
    struct econn *current; /* CONNECTING or OPEN; NULL when none */
    size_t next_server;
    uint64_t backoff_ns;
    uint64_t connect_not_before_ns;

    /* The connection attempt under way. */
    bool resolving;
    size_t pass_tried;  /* servers of the list tried in this pass */
    size_t pass_server; /* the one being tried */
    uv_getaddrinfo_t gai;
    bool gai_pending;
    struct addrinfo *ai_list, *ai;
    char why[ORACLE_MESSAGE_MAX / 2];
    bool why_settings; /* a TLS refusal among the reasons: the settings', not retriable */

    uv_timer_t deadline_timer; /* at the earliest deadline */
    uint64_t deadline_due_ns;  /* 0: not armed */
    uv_timer_t connect_timer;  /* the connection attempt's timeout, or the backoff */
    uv_timer_t delay_timer;    /* max_batch_delay */
    uv_idle_t send_idle;       /* sends on the loop's next turn */
    bool send_idle_on;
    bool delay_on;

    struct arena arena;
    uint8_t *out; /* a send pass's requests, encoded */
    size_t out_cap;

    _Atomic uint64_t max_seen;
    pthread_mutex_t peer_lock;
    char peer[80];
    _Atomic uint64_t n_calls, n_requests, n_batched, n_connects;
};

static void pump(struct engine *e);
static void start_connect(struct engine *e);
static void try_address(struct engine *e);
static void conn_fail(struct econn *c, const struct oracle_error *why);
static void attempt_failed(struct engine *e, struct econn *c, const char *what);
static void on_deadline(uv_timer_t *t);
static void on_delay(uv_timer_t *t);

/* ---- Calls ---- */

static void live_unlink(struct engine *e, struct ecall *c)
{
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        e->live_head = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    } else {
        e->live_tail = c->prev;
    }
    c->prev = c->next = NULL;
}

/* Frees c once it has ended and nothing holds it. */
static void call_release(struct ecall *c)
{
    if (c->ended && !c->in_flight && !c->b.queued) {
        free(c);
    }
}

/* Ends c with r (once): the caller's callback. */
static void call_end(struct engine *e, struct ecall *c, const struct oracle_response *r)
{
    if (c->ended) {
        return;
    }
    c->ended = true;
    live_unlink(e, c);
    atomic_fetch_add_explicit(&e->n_calls, 1, memory_order_relaxed);
    c->done(r, c->arg);
}

/* Ends c with the failure err. */
static void call_fail(struct engine *e, struct ecall *c, const struct oracle_error *err)
{
    struct oracle_response r;
    client_failed_response(&r, c->req.op, err);
    call_end(e, c, &r);
}

/* Queues c in the order of the calls' making (a call sent again goes before later ones). */
static void queue_call(struct engine *e, struct ecall *c)
{
    batch_requeue(&e->queue, &c->b);
}

/* Takes c out of its queue, if queued. */
static void unqueue_call(struct engine *e, struct ecall *c)
{
    batch_cancel(&e->queue, &c->b);
}

static bool anything_queued(const struct engine *e)
{
    for (int k = 0; k < BATCH_KINDS; k++) {
        if (batch_waiting(&e->queue, (enum batch_kind)k) > 0) {
            return true;
        }
    }
    return false;
}

/* Ends every queued call with err (no server to send them to). */
static void fail_queued(struct engine *e, const struct oracle_error *err)
{
    struct ecall *last = e->live_tail; /* not the calls made by the callbacks below */
    struct ecall *c = e->live_head;
    while (c != NULL && !e->closing) {
        struct ecall *next = c->next;
        bool stop = c == last;
        if (c->b.queued) {
            unqueue_call(e, c);
            call_fail(e, c, err);
            call_release(c);
        }
        if (stop) {
            break;
        }
        c = next;
    }
}

/* ---- Deadlines ---- */

static void arm_deadline(struct engine *e, uint64_t at_ns)
{
    if (e->closing || (e->deadline_due_ns != 0 && e->deadline_due_ns <= at_ns)) {
        return;
    }
    uint64_t now = uv_hrtime();
    uint64_t ms = at_ns > now ? (at_ns - now + NS_PER_MS - 1) / NS_PER_MS : 0;
    e->deadline_due_ns = at_ns;
    uv_timer_start(&e->deadline_timer, on_deadline, ms, 0);
}

static void timeout_error(const struct engine *e, const struct ecall *c, const char *peer,
                          struct oracle_error *err)
{
    if (c->last.rc != 0) {
        *err = c->last;
        return;
    }
    if (c->in_flight) {
        client_error(err, ORACLE_E_TIMEOUT, true,
                     "oracled at %s: no reply within %u ms (and the commit-wait allowed); the "
                     "connection is left for the next server",
                     peer, (unsigned)e->cfg.request_timeout_ms);
        snprintf(err->peer, sizeof(err->peer), "%s", peer);
        return;
    }
    client_error(err, ORACLE_E_TIMEOUT, true,
                 "no reply within %u ms (and the commit-wait allowed): no connection could carry "
                 "the request in time",
                 (unsigned)e->cfg.request_timeout_ms);
}

static void on_deadline(uv_timer_t *t)
{
    struct engine *e = t->data;
    e->deadline_due_ns = 0;
    uint64_t now = uv_hrtime();
    uint64_t next_due = 0;
    struct econn *stuck[8];
    size_t n_stuck = 0;
    bool ended_in_flight = false; /* else no connection can have become stuck */
    struct ecall *c = e->live_head;
    while (c != NULL && !e->closing) {
        struct ecall *next = c->next;
        if (c->deadline_ns > now) {
            next_due = next_due == 0 || c->deadline_ns < next_due ? c->deadline_ns : next_due;
            c = next;
            continue;
        }
        struct oracle_error err;
        timeout_error(e, c, c->in_flight ? c->conn->peer : "", &err);
        if (c->in_flight) {
            /* Its connection goes: which one is found below, from the flights. */
            call_fail(e, c, &err);
            ended_in_flight = true;
        } else {
            unqueue_call(e, c);
            call_fail(e, c, &err);
            call_release(c);
        }
        c = next;
    }
    if (e->closing) {
        return;
    }
    /* Connections with a request in flight whose calls have all ended are stuck: leave them. */
    for (size_t i = 0; ended_in_flight && i < e->cfg.max_in_flight && n_stuck < 8; i++) {
        struct eflight *f = &e->flights[i];
        if (f->id == 0) {
            continue;
        }
        bool all_ended = true;
        for (struct batch_call *b = f->batch.calls; b != NULL; b = b->next) {
            all_ended = all_ended && ((struct ecall *)b)->ended;
        }
        bool known = false;
        for (size_t j = 0; j < n_stuck; j++) {
            known = known || stuck[j] == f->conn;
        }
        if (all_ended && !known) {
            stuck[n_stuck++] = f->conn;
        }
    }
    for (size_t j = 0; j < n_stuck && !e->closing; j++) {
        struct oracle_error err;
        client_error(&err, ORACLE_E_TIMEOUT, true, "oracled at %s: no reply within %u ms",
                     stuck[j]->peer, (unsigned)e->cfg.request_timeout_ms);
        snprintf(err.peer, sizeof(err.peer), "%s", stuck[j]->peer);
        conn_fail(stuck[j], &err);
    }
    if (next_due != 0) {
        arm_deadline(e, next_due);
    }
}

/* ---- Sending ---- */

static struct eflight *flight_new(struct engine *e, struct econn *conn)
{
    size_t cap = e->cfg.max_in_flight;
    while (e->flights[e->next_id % cap].id != 0 || e->next_id == 0) {
        e->next_id++;
    }
    struct eflight *f = &e->flights[e->next_id % cap];
    memset(f, 0, sizeof(*f));
    f->id = e->next_id++;
    f->conn = conn;
    e->flights_used++;
    conn->flights++;
    atomic_fetch_add_explicit(&e->n_requests, 1, memory_order_relaxed);
    return f;
}

static uint64_t session_min(const struct engine *e, uint64_t min_ts_ns)
{
    uint64_t seen = atomic_load_explicit(&e->max_seen, memory_order_relaxed);
    return e->cfg.session_min && seen > min_ts_ns ? seen : min_ts_ns;
}

/* Encodes a lone call's request into f and the output. Returns the bytes written. */
static int encode_alone(struct engine *e, struct eflight *f, const struct ecall *c, uint8_t *out,
                        size_t cap)
{
    const struct oracle_request *req = &c->req;
    f->f.id = f->id;
    f->f.op = req->op;
    uint64_t wait_ns = req->max_wait_ns;
    if (req->op == ORACLE_OP_GET_TIMESTAMP) {
        f->f.count = req->ts.count;
        f->f.commit_wait = req->ts.commit_wait;
        f->f.min_ts_ns = session_min(e, req->ts.min_ts_ns);
        wait_ns = req->ts.max_wait_ns;
    }
    if (req->op == ORACLE_OP_WAIT_UNTIL) {
        f->f.commit_wait = true;
    }
    if (f->f.commit_wait) {
        f->f.allowance_ns = request_allowance(wait_ns);
    }
    struct request w = request_to_wire(req, f->id, f->f.min_ts_ns, wait_ns);
    return wire_encode_request(&w, out, cap);
}

/* Encodes flight f's request (its batch taken) into the output. Returns the bytes written. */
static int encode_flight(struct engine *e, struct eflight *f, uint8_t *out, size_t cap)
{
    struct oracle_request req;
    memset(&req, 0, sizeof(req));
    struct batch *b = &f->batch;
    switch (b->kind) {
    case BATCH_TS:
    case BATCH_COMMIT_TS:
        req.op = ORACLE_OP_GET_TIMESTAMP;
        req.ts.count = b->n;
        req.ts.commit_wait = b->kind == BATCH_COMMIT_TS;
        f->f.count = b->n;
        f->f.commit_wait = req.ts.commit_wait;
        f->f.min_ts_ns = session_min(e, 0);
        f->split = true; /* a range to share out, even of one */
        break;
    case BATCH_WAIT_UNTIL:
        req.op = ORACLE_OP_WAIT_UNTIL;
        req.ts_ns = b->wait_ts_ns;
        f->f.commit_wait = true;
        break;
    case BATCH_NOW:
        req.op = ORACLE_OP_NOW;
        break;
    case BATCH_ALONE:
    case BATCH_KINDS:
        return encode_alone(e, f, (const struct ecall *)b->calls, out, cap);
    }
    f->f.op = req.op;
    if (f->f.commit_wait) {
        f->f.allowance_ns = request_allowance(b->max_wait_ns);
    }
    f->f.id = f->id;
    struct request w = request_to_wire(&req, f->id, f->f.min_ts_ns, b->max_wait_ns);
    return wire_encode_request(&w, out, cap);
}

static void on_written(uv_write_t *req, int status)
{
    struct ewrite *w = (struct ewrite *)req;
    struct econn *c = req->handle->data;
    free(w);
    if (status < 0 && !c->closing) {
        struct oracle_error err;
        client_error(&err, ORACLE_E_CLOSED, true, "oracled at %s: connection lost: %s", c->peer,
                     uv_strerror(status));
        snprintf(err.peer, sizeof(err.peer), "%s", c->peer);
        conn_fail(c, &err);
    }
}

/* Writes len bytes on c: the bytes themselves, or (TLS) the records they are encrypted into,
 * with any the session had waiting (data NULL: those only). The connection fails when it
 * cannot. */
static void conn_send(struct econn *c, const uint8_t *data, size_t len)
{
    struct oracle_error err;
    if (c->tls != NULL && data != NULL && tlssess_write(c->tls, data, len) < 0) {
        client_error(&err, ORACLE_E_CLOSED, true, "oracled at %s: TLS: %s", c->peer, c->tls->why);
        conn_fail(c, &err);
        return;
    }
    if (c->tls != NULL) {
        len = tlssess_pending(c->tls);
    }
    if (len == 0) {
        return;
    }
    struct ewrite *w = malloc(sizeof(*w) + len);
    if (w == NULL) {
        client_error(&err, ORACLE_E_NOMEM, true, "out of memory for a request");
        conn_fail(c, &err);
        return;
    }
    if (c->tls != NULL) {
        len = tlssess_take(c->tls, w->data, len);
    } else {
        memcpy(w->data, data, len);
    }
    w->len = len;
    uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_written);
    if (rc < 0) {
        free(w);
        client_error(&err, ORACLE_E_CLOSED, true, "oracled at %s: connection lost: %s", c->peer,
                     uv_strerror(rc));
        conn_fail(c, &err);
    }
}

/* Room for n more requests in the send pass's buffer. */
static bool out_reserve(struct engine *e, size_t used, size_t n)
{
    size_t want = used + n * REQUEST_ENCODED_MAX;
    if (want <= e->out_cap) {
        return true;
    }
    size_t cap = e->out_cap == 0 ? 4096 : e->out_cap;
    while (cap < want) {
        cap *= 2;
    }
    uint8_t *p = realloc(e->out, cap);
    if (p == NULL) {
        return false;
    }
    e->out = p;
    e->out_cap = cap;
    return true;
}

/* Whether a batch of kind k may leave now; arms the batch delay when it must wait for it. */
static bool batch_may_leave(struct engine *e, enum batch_kind k, uint64_t now)
{
    size_t waiting = batch_waiting(&e->queue, k);
    if (waiting == 0) {
        return false;
    }
    if (k == BATCH_ALONE) {
        return true; /* pipelined: nothing to wait for */
    }
    if (k != BATCH_WAIT_UNTIL && e->kind_in_flight[k] >= BATCHES_IN_FLIGHT &&
        waiting < REQUEST_MAX_COUNT) {
        return false; /* it leaves when a reply to those in flight comes */
    }
    if (e->cfg.max_batch_delay_ns == 0) {
        return true;
    }
    const struct ecall *oldest = (const struct ecall *)e->queue.head[k];
    uint64_t at = oldest->submitted_ns + e->cfg.max_batch_delay_ns;
    if (at <= now) {
        return true;
    }
    if (!e->delay_on) {
        e->delay_on = true;
        uv_timer_start(&e->delay_timer, on_delay, (at - now + NS_PER_MS - 1) / NS_PER_MS, 0);
    }
    return false;
}

/* Sends what may leave on the current connection. */
static void send_pass(struct engine *e, struct econn *conn)
{
    size_t used = 0;
    uint64_t now = uv_hrtime();
    static const enum batch_kind order[] = {BATCH_COMMIT_TS, BATCH_TS, BATCH_WAIT_UNTIL, BATCH_NOW,
                                            BATCH_ALONE};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        enum batch_kind k = order[i];
        while (e->flights_used < e->cfg.max_in_flight && batch_may_leave(e, k, now)) {
            if (!out_reserve(e, used, 1)) {
                goto write;
            }
            struct eflight *f = flight_new(e, conn);
            batch_take(&e->queue, k, k == BATCH_ALONE ? 1 : REQUEST_MAX_COUNT, &f->batch);
            for (struct batch_call *b = f->batch.calls; b != NULL; b = b->next) {
                ((struct ecall *)b)->in_flight = true;
                ((struct ecall *)b)->conn = conn;
            }
            if (f->batch.n > 1) {
                atomic_fetch_add_explicit(&e->n_batched, f->batch.n, memory_order_relaxed);
            }
            e->kind_in_flight[k]++;
            int n = encode_flight(e, f, e->out + used, e->out_cap - used);
            used += n > 0 ? (size_t)n : 0;
        }
    }
write:
    if (used > 0) {
        conn_send(conn, e->out, used);
    }
}

/* Sends what can be sent, connecting first when needed. */
static void pump(struct engine *e)
{
    if (e->closing) {
        return;
    }
    if (e->current != NULL && e->current->state == CONN_OPEN) {
        send_pass(e, e->current);
        return;
    }
    if (e->current == NULL && !e->resolving && anything_queued(e)) {
        start_connect(e);
    }
}

static void on_send_idle(uv_idle_t *h)
{
    struct engine *e = h->data;
    uv_idle_stop(h);
    e->send_idle_on = false;
    pump(e);
}

static void on_delay(uv_timer_t *t)
{
    struct engine *e = t->data;
    e->delay_on = false;
    pump(e);
}

/* ---- Connections ---- */

static void set_peer(struct engine *e, const char *peer)
{
    pthread_mutex_lock(&e->peer_lock);
    snprintf(e->peer, sizeof(e->peer), "%s", peer);
    pthread_mutex_unlock(&e->peer_lock);
}

static void gone(struct engine *e);

static void conn_closed(uv_handle_t *h)
{
    struct econn *c = h->data;
    struct engine *e = c->e;
    if (c->tls != NULL) {
        tlssess_fini(c->tls);
        free(c->tls);
    }
    free(c->in);
    free(c);
    gone(e);
}

/* Takes c out of the engine and closes it (its flights already ended). */
static void conn_close(struct econn *c)
{
    struct engine *e = c->e;
    if (c->closing) {
        return;
    }
    c->closing = true;
    for (struct econn **p = &e->conns; *p != NULL; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    if (e->current == c) {
        e->current = NULL;
        if (c->state != CONN_CONNECTING) {
            e->next_server = (c->server + 1) % e->cfg.n_servers;
            set_peer(e, "");
        }
    }
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void backoff_more(struct engine *e);

/* No new requests on c (its server answered with an error after which it closes it, or that
 * sends its calls elsewhere); closed once its replies are in. Leaving the current connection
 * so counts as a failure: the next one waits the backoff. */
static void conn_retire(struct econn *c)
{
    struct engine *e = c->e;
    c->state = CONN_RETIRING;
    if (e->current == c) {
        e->current = NULL;
        e->next_server = (c->server + 1) % e->cfg.n_servers;
        set_peer(e, "");
        backoff_more(e);
    }
    if (c->flights == 0) {
        conn_close(c);
    }
}

static void backoff_more(struct engine *e)
{
    e->backoff_ns = e->backoff_ns == 0 ? BACKOFF_FIRST_NS : 2 * e->backoff_ns;
    if (e->backoff_ns > BACKOFF_MAX_NS) {
        e->backoff_ns = BACKOFF_MAX_NS;
    }
    e->connect_not_before_ns = uv_hrtime() + e->backoff_ns;
}

/* Ends flight f (taken out of the table) and returns its calls. */
static struct batch_call *flight_end(struct engine *e, struct eflight *f, struct batch *out)
{
    *out = f->batch;
    e->kind_in_flight[f->batch.kind]--;
    f->conn->flights--;
    e->flights_used--;
    memset(f, 0, sizeof(*f));
    for (struct batch_call *b = out->calls; b != NULL; b = b->next) {
        ((struct ecall *)b)->in_flight = false;
    }
    return out->calls;
}

/* Calls whose request failed in a way another server may not: queued again (the failure kept
 * for their deadline), those already ended freed. */
static void requeue(struct engine *e, struct batch_call *calls, const struct oracle_error *why,
                    bool alone)
{
    struct batch_call *b = calls;
    while (b != NULL) {
        struct ecall *c = (struct ecall *)b;
        b = b->next;
        if (c->ended || e->closing) {
            call_release(c);
            continue;
        }
        c->last = *why;
        if (alone) {
            c->b.kind = BATCH_ALONE;
        }
        queue_call(e, c);
    }
}

/* c cannot go on: its calls are sent again elsewhere (why retriable) or end with why. */
static void conn_fail(struct econn *c, const struct oracle_error *why)
{
    struct engine *e = c->e;
    if (c->closing) {
        return;
    }
    if (c->state == CONN_CONNECTING) {
        /* A TLS handshake's write failed, say: no call is on it yet, and the attempt goes on
         * to the next address as any failed connect does (leaving resolving set otherwise
         * would keep the engine from ever connecting again). */
        uv_timer_stop(&e->connect_timer);
        /* attempt_failed names the peer itself: the message without its "oracled at PEER: ". */
        const char *what = why->message;
        const char *after = strncmp(what, "oracled at ", 11) == 0 ? strstr(what, ": ") : NULL;
        attempt_failed(e, c, after != NULL ? after + 2 : what);
        return;
    }
    bool was_current = e->current == c;
    conn_close(c);
    for (size_t i = 0; i < e->cfg.max_in_flight; i++) {
        struct eflight *f = &e->flights[i];
        if (f->id == 0 || f->conn != c) {
            continue;
        }
        struct batch calls;
        flight_end(e, f, &calls);
        if (why->retriable) {
            requeue(e, calls.calls, why, false);
            continue;
        }
        struct batch_call *b = calls.calls;
        while (b != NULL) {
            struct ecall *call = (struct ecall *)b;
            b = b->next;
            call_fail(e, call, why);
            call_release(call);
        }
    }
    if (was_current) {
        backoff_more(e); /* a connection already left (retiring) counted when it was */
    }
    pump(e);
}

/* Whether a server's error sends its calls to the next server: the retriable errors of a server
 * that cannot serve now (WAIT_TOO_LONG, retriable too, would be the same anywhere). */
static bool moves_on(const struct oracle_error *err)
{
    switch (err->code) {
    case ORACLE_ERROR_NOT_READY:
    case ORACLE_ERROR_OVERLOADED:
    case ORACLE_ERROR_CLOCK_UNAVAILABLE:
    case ORACLE_ERROR_SHUTTING_DOWN:
    case ORACLE_ERROR_BOUND_TOO_WIDE:
        return err->rc == ORACLE_E_SERVER && err->retriable;
    default:
        return false;
    }
}

/* A reply (r, for flight f's calls): split among them, or handed to each. */
static void flight_answered(struct engine *e, struct eflight *f, struct oracle_response *r)
{
    struct econn *conn = f->conn;
    bool split = f->split;
    struct batch calls;
    flight_end(e, f, &calls);
    if (r->rc < 0 && calls.n > 1 && r->error.code == ORACLE_ERROR_WAIT_TOO_LONG) {
        /* Refused for asking more than one call would (its largest timestamp too far ahead):
         * no answer for each; each alone. (OVERLOADED is not split: oracled says it for
         * pending commit-waits and far min_ts_ns too, where n requests would weigh more than
         * one; and no batch of at most 65,536 timestamps passes the run-ahead cap unless the
         * cap is set below 65.536 us.) */
        requeue(e, calls.calls, &r->error, true);
        return;
    }
    if (r->rc < 0 && moves_on(&r->error)) {
        requeue(e, calls.calls, &r->error, false);
        if (conn->state != CONN_RETIRING) {
            conn_retire(conn); /* once per connection left, not per request it carried */
        }
        return;
    }
    e->backoff_ns = 0;
    e->connect_not_before_ns = 0;
    if (r->rc == 0 && split) {
        batch_split(&calls, r->u.ts.first_ns, r->u.ts.count); /* count checked: calls.n */
        r->u.ts.count = 1;
    }
    struct batch_call *b = calls.calls;
    while (b != NULL) {
        struct ecall *c = (struct ecall *)b;
        b = b->next;
        if (r->rc == 0 && split) {
            r->u.ts.first_ns = c->b.ts_ns;
        }
        call_end(e, c, r);
        call_release(c);
    }
}

static void protocol_failure(struct econn *c, const char *what)
{
    struct oracle_error err;
    client_error(&err, ORACLE_E_PROTOCOL, false, "oracled at %s: %s; is that address an oracled?",
                 c->peer, what);
    snprintf(err.peer, sizeof(err.peer), "%s", c->peer);
    conn_fail(c, &err);
}

/* One decoded reply on c. */
static void take_reply(struct econn *c, const struct response *w)
{
    struct engine *e = c->e;
    if (w->id == 0) {
        if (w->kind != RESP_ERROR) {
            protocol_failure(c, "sent a reply with id 0 that is no error");
            return;
        }
        struct oracle_error err;
        client_error(&err, ORACLE_E_SERVER, w->u.error.retriable,
                     "oracled at %s: closed the connection: %s", c->peer,
                     w->u.error.message != NULL ? w->u.error.message : "");
        err.code = (enum oracle_error_code)w->u.error.code;
        snprintf(err.peer, sizeof(err.peer), "%s", c->peer);
        conn_fail(c, &err);
        return;
    }
    struct eflight *f = &e->flights[w->id % e->cfg.max_in_flight];
    struct oracle_response r;
    bool closes;
    char what[160];
    if (!reply_accept(f->id == w->id && f->conn == c ? &f->f : NULL, w, &r, &closes, what,
                      sizeof(what))) {
        protocol_failure(c, what);
        return;
    }
    if (r.rc < 0) {
        snprintf(r.error.peer, sizeof(r.error.peer), "%s", c->peer);
    } else if (r.op == ORACLE_OP_GET_TIMESTAMP) {
        engine_observe(e, r.u.ts.first_ns + r.u.ts.count - 1);
    }
    r.id = 0;
    if (closes && c->state != CONN_RETIRING) {
        conn_retire(c); /* before the calls end: their callers' next calls go elsewhere */
    }
    flight_answered(e, f, &r);
    if (c->state == CONN_RETIRING && c->flights == 0) {
        conn_close(c);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct econn *c = h->data;
    if (c->tls != NULL) {
        *buf = uv_buf_init((char *)c->e->tls_in, TLS_READ_BYTES);
        return;
    }
    *buf = uv_buf_init((char *)c->in + c->in_len, (unsigned)(REPLY_IN_CAP - c->in_len));
}

/* Decodes the whole replies in c->in and takes them. Returns false when c was closed. */
static bool take_input(struct econn *c)
{
    struct engine *e = c->e;
    size_t off = 0;
    while (!c->closing) {
        struct response w;
        const char *bad;
        int fl = reply_decode(c->in + off, c->in_len - off, &e->arena, &w, &bad);
        if (fl == 0) {
            break;
        }
        if (fl < 0) {
            protocol_failure(c, bad);
            return false;
        }
        off += (size_t)fl;
        take_reply(c, &w);
    }
    if (c->closing) {
        return false;
    }
    if (off > 0) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    return true;
}

static void conn_opened(struct econn *c);

/* TLS: records read. Runs the handshake (sending what it makes), then decrypts and takes the
 * replies until the session needs more. Returns false when c was closed. */
static bool tls_input(struct econn *c, const uint8_t *data, size_t len)
{
    struct engine *e = c->e;
    char what[ORACLE_MESSAGE_MAX / 2];
    struct oracle_error err;
    if (tlssess_feed(c->tls, data, len) < 0) {
        client_error(&err, ORACLE_E_NOMEM, true, "out of memory for TLS input");
        conn_fail(c, &err);
        return false;
    }
    if (!c->tls->established) {
        int rc = tlssess_handshake(c->tls);
        conn_send(c, NULL, 0);
        if (c->closing) {
            return false;
        }
        if (rc < 0) {
            uv_timer_stop(&e->connect_timer);
            ctls_explain(c->tls->why, true, what, sizeof(what));
            e->why_settings = e->why_settings || ctls_permanent(c->tls->why);
            attempt_failed(e, c, what);
            return false;
        }
        if (rc == 0) {
            return true;
        }
        conn_opened(c);
        if (c->closing) {
            return false;
        }
    }
    for (;;) {
        ssize_t n = tlssess_read(c->tls, c->in + c->in_len, REPLY_IN_CAP - c->in_len);
        if (n == 0) {
            break;
        }
        if (n < 0) {
            /* The server refused the session after the handshake (TLS 1.3 checks the
             * client's certificate then: its settings, not retriable), or a bad record. */
            bool settings = n != TLSSESS_EOF && ctls_permanent(c->tls->why);
            if (n == TLSSESS_EOF) {
                snprintf(what, sizeof(what), "closed the connection (close_notify)");
            } else {
                ctls_explain(c->tls->why, false, what, sizeof(what));
            }
            client_error(&err, settings ? ORACLE_E_CONNECT : ORACLE_E_CLOSED, !settings,
                         "oracled at %s: %s", c->peer, what);
            snprintf(err.peer, sizeof(err.peer), "%s", c->peer);
            conn_fail(c, &err);
            return false;
        }
        c->in_len += (size_t)n;
        if (!take_input(c)) {
            return false;
        }
    }
    conn_send(c, NULL, 0); /* a KeyUpdate's answer, say */
    return !c->closing;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct econn *c = s->data;
    struct engine *e = c->e;
    if (n == 0 || c->closing) {
        return;
    }
    if (n < 0 && c->state == CONN_CONNECTING) {
        /* Only a TLS connection reads before it is open: the handshake broke off. */
        uv_timer_stop(&e->connect_timer);
        attempt_failed(e, c,
                       n == UV_EOF ? "closed the connection during the TLS handshake: is TLS on "
                                     "at that address (oracled --tls-cert)?"
                                   : uv_strerror((int)n));
        return;
    }
    if (n < 0) {
        struct oracle_error err;
        bool mid = c->in_len > 0;
        client_error(&err, ORACLE_E_CLOSED, true, "oracled at %s: %s", c->peer,
                     mid           ? "closed the connection in the middle of a reply"
                     : n == UV_EOF ? "closed the connection"
                                   : uv_strerror((int)n));
        snprintf(err.peer, sizeof(err.peer), "%s", c->peer);
        conn_fail(c, &err);
        return;
    }
    if (c->tls != NULL) {
        (void)tls_input(c, (const uint8_t *)buf->base, (size_t)n);
    } else {
        c->in_len += (size_t)n;
        (void)take_input(c);
    }
    /* Even when c closed: calls its replies sent elsewhere (a server that is shutting down, say)
     * are queued again, and go out now. */
    pump(e);
}

/* Adds "where: what" to the reasons of the connection pass. */
static void append_why(struct engine *e, const char *where, const char *what)
{
    size_t len = strlen(e->why);
    snprintf(e->why + len, sizeof(e->why) - len, "%s%s: %s", len > 0 ? "; " : "", where, what);
}

/* A pass over every server found none: the calls waiting for a connection end with it. */
static void pass_failed(struct engine *e)
{
    e->resolving = false;
    struct oracle_error err;
    client_connect_error(&err, e->why);
    err.retriable = !e->why_settings;
    backoff_more(e);
    fail_queued(e, &err);
}

static void next_server(struct engine *e);

/* The pass is done with its current server: what went wrong with it (NULL: said already, per
 * address), then the next one. */
static void server_done(struct engine *e, const char *what)
{
    if (what != NULL) {
        char where[SERVERS_HOST_MAX + 10];
        servers_format(&e->cfg.servers[e->pass_server], where, sizeof(where));
        append_why(e, where, what);
    }
    e->pass_tried++;
    e->pass_server = (e->pass_server + 1) % e->cfg.n_servers;
    next_server(e);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct engine *e = req->data;
    e->gai_pending = false;
    if (e->closing) {
        if (res != NULL) {
            uv_freeaddrinfo(res);
        }
        gone(e);
        return;
    }
    e->handles--;
    if (status < 0) {
        server_done(e, uv_strerror(status));
        return;
    }
    e->ai_list = res;
    e->ai = res;
    try_address(e);
}

/* Resolves the next server of the pass, or ends the pass. */
static void next_server(struct engine *e)
{
    if (e->pass_tried >= e->cfg.n_servers) {
        pass_failed(e);
        return;
    }
    const struct server_addr *s = &e->cfg.servers[e->pass_server];
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    e->gai.data = e;
    int rc = uv_getaddrinfo(e->loop, &e->gai, on_resolved, s->host, s->port, &hints);
    if (rc < 0) {
        server_done(e, uv_strerror(rc));
        return;
    }
    e->handles++;
    e->gai_pending = true;
}

static void address_text(const struct sockaddr *sa, char *buf, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        uv_ip6_name(s6, host, sizeof(host));
        port = ntohs(s6->sin6_port);
        snprintf(buf, cap, "[%s]:%d", host, port);
        return;
    }
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
    uv_ip4_name(s4, host, sizeof(host));
    port = ntohs(s4->sin_port);
    snprintf(buf, cap, "%s:%d", host, port);
}

/* The attempt on e->ai failed: the next address, or the next server. */
static void attempt_failed(struct engine *e, struct econn *c, const char *what)
{
    append_why(e, c->peer, what);
    if (e->current == c) {
        e->current = NULL;
    }
    conn_close(c);
    e->ai = e->ai->ai_next;
    try_address(e);
}

/* The connection carries requests from now on: connected, and (TLS) the handshake done. */
static void conn_opened(struct econn *c)
{
    struct engine *e = c->e;
    uv_timer_stop(&e->connect_timer);
    uv_freeaddrinfo(e->ai_list);
    e->ai_list = e->ai = NULL;
    e->resolving = false;
    c->state = CONN_OPEN;
    e->current = c;
    set_peer(e, c->peer);
    atomic_fetch_add_explicit(&e->n_connects, 1, memory_order_relaxed);
}

static void on_connected(uv_connect_t *req, int status)
{
    struct econn *c = req->data;
    struct engine *e = c->e;
    if (status == UV_ECANCELED || c->closing) {
        return; /* timed out (the timer closed it), or the engine is closing */
    }
    if (status < 0) {
        uv_timer_stop(&e->connect_timer);
        attempt_failed(e, c, uv_strerror(status));
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc < 0) {
        uv_timer_stop(&e->connect_timer);
        attempt_failed(e, c, uv_strerror(rc));
        return;
    }
    if (e->tls_ctx == NULL) {
        conn_opened(c);
        pump(e);
        return;
    }
    /* TLS: the handshake runs within what is left of the connect timeout. */
    const char *name = ctls_server_name(&e->cfg, e->cfg.servers[c->server].host);
    c->tls = malloc(sizeof(*c->tls));
    if (c->tls == NULL || tlssess_init(c->tls, e->tls_ctx, false, name) < 0) {
        free(c->tls);
        c->tls = NULL;
        uv_timer_stop(&e->connect_timer);
        attempt_failed(e, c, "cannot start a TLS session");
        return;
    }
    (void)tlssess_handshake(c->tls); /* the ClientHello */
    conn_send(c, NULL, 0);
}

static void on_connect_timeout(uv_timer_t *t)
{
    struct engine *e = t->data;
    if (e->current != NULL && e->current->state == CONN_CONNECTING) {
        struct econn *c = e->current;
        e->current = NULL;
        char what[64];
        snprintf(what, sizeof(what), "%s within %u ms",
                 c->tls != NULL ? "TLS handshake not finished" : "no answer",
                 (unsigned)e->cfg.connect_timeout_ms);
        attempt_failed(e, c, what);
        return;
    }
    if (!e->resolving && e->current == NULL) {
        pump(e); /* the backoff is over */
    }
}

/* Connects to e->ai, or moves on when the addresses are used up. */
static void try_address(struct engine *e)
{
    while (e->ai != NULL && e->ai->ai_family != AF_INET && e->ai->ai_family != AF_INET6) {
        e->ai = e->ai->ai_next;
    }
    if (e->ai == NULL) {
        if (e->ai_list != NULL) {
            uv_freeaddrinfo(e->ai_list);
        }
        e->ai_list = NULL;
        server_done(e, NULL);
        return;
    }
    struct econn *c = calloc(1, sizeof(*c));
    uint8_t *in = malloc(REPLY_IN_CAP);
    if (c == NULL || in == NULL || uv_tcp_init(e->loop, &c->tcp) < 0) {
        free(c);
        free(in);
        append_why(e, "connection", "out of memory");
        e->ai = NULL;
        try_address(e);
        return;
    }
    e->handles++;
    c->e = e;
    c->in = in;
    c->tcp.data = c;
    c->connect_req.data = c;
    c->server = e->pass_server;
    c->state = CONN_CONNECTING;
    c->next = e->conns;
    e->conns = c;
    e->current = c;
    address_text(e->ai->ai_addr, c->peer, sizeof(c->peer));
    int rc = uv_tcp_connect(&c->connect_req, &c->tcp, e->ai->ai_addr, on_connected);
    if (rc < 0) {
        e->current = NULL;
        attempt_failed(e, c, uv_strerror(rc));
        return;
    }
    uv_timer_start(&e->connect_timer, on_connect_timeout, e->cfg.connect_timeout_ms, 0);
}

static void start_connect(struct engine *e)
{
    uint64_t now = uv_hrtime();
    if (now < e->connect_not_before_ns) {
        if (!uv_is_active((uv_handle_t *)&e->connect_timer)) {
            uv_timer_start(&e->connect_timer, on_connect_timeout,
                           (e->connect_not_before_ns - now + NS_PER_MS - 1) / NS_PER_MS, 0);
        }
        return;
    }
    e->resolving = true;
    e->pass_tried = 0;
    e->pass_server = e->next_server;
    e->why[0] = '\0';
    e->why_settings = false;
    next_server(e);
}

/* ---- Life ---- */

struct engine *engine_new(uv_loop_t *loop, const struct client_config *cfg, SSL_CTX *tls)
{
    struct engine *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        return NULL;
    }
    e->loop = loop;
    e->cfg = *cfg;
    e->next_id = 1;
    e->flights = calloc(cfg->max_in_flight, sizeof(e->flights[0]));
    e->tls_in = tls != NULL ? malloc(TLS_READ_BYTES) : NULL;
    if (e->flights == NULL || (tls != NULL && e->tls_in == NULL) ||
        arena_init(&e->arena, REPLY_ARENA_CAP) < 0) {
        free(e->flights);
        free(e->tls_in);
        free(e);
        return NULL;
    }
    if (tls != NULL) {
        SSL_CTX_up_ref(tls);
        e->tls_ctx = tls;
    }
    pthread_mutex_init(&e->peer_lock, NULL);
    uv_timer_init(loop, &e->deadline_timer);
    uv_timer_init(loop, &e->connect_timer);
    uv_timer_init(loop, &e->delay_timer);
    uv_idle_init(loop, &e->send_idle);
    e->deadline_timer.data = e;
    e->connect_timer.data = e;
    e->delay_timer.data = e;
    e->send_idle.data = e;
    e->handles = 4;
    return e;
}

/* One handle or request fewer; frees the engine after the last once it is closing. */
static void gone(struct engine *e)
{
    e->handles--;
    if (!e->closing || e->handles > 0) {
        return;
    }
    void (*closed)(void *) = e->closed;
    void *arg = e->closed_arg;
    arena_fini(&e->arena);
    free(e->flights);
    free(e->out);
    free(e->tls_in);
    SSL_CTX_free(e->tls_ctx);
    pthread_mutex_destroy(&e->peer_lock);
    free(e);
    if (closed != NULL) {
        closed(arg);
    }
}

static void engine_handle_closed(uv_handle_t *h)
{
    gone(h->data);
}

void engine_close(struct engine *e, void (*closed)(void *arg), void *arg)
{
    if (e->closing) {
        return;
    }
    e->closing = true;
    e->closed = closed;
    e->closed_arg = arg;
    struct oracle_error err;
    client_error(&err, ORACLE_E_CLOSED, false, "the client was freed before the reply came");
    while (e->live_head != NULL) {
        call_fail(e, e->live_head, &err);
    }
    for (int k = 0; k < BATCH_KINDS; k++) {
        struct batch_call *b;
        while ((b = e->queue.head[k]) != NULL) {
            batch_cancel(&e->queue, b);
            call_release((struct ecall *)b);
        }
    }
    for (size_t i = 0; i < e->cfg.max_in_flight; i++) {
        if (e->flights[i].id == 0) {
            continue;
        }
        struct batch calls;
        struct batch_call *b = flight_end(e, &e->flights[i], &calls);
        while (b != NULL) {
            struct ecall *c = (struct ecall *)b;
            b = b->next;
            call_release(c);
        }
    }
    while (e->conns != NULL) {
        conn_close(e->conns);
    }
    if (e->gai_pending) {
        uv_cancel((uv_req_t *)&e->gai); /* on_resolved still comes, and lets go */
    }
    if (e->ai_list != NULL) {
        uv_freeaddrinfo(e->ai_list);
        e->ai_list = e->ai = NULL;
    }
    uv_close((uv_handle_t *)&e->deadline_timer, engine_handle_closed);
    uv_close((uv_handle_t *)&e->connect_timer, engine_handle_closed);
    uv_close((uv_handle_t *)&e->delay_timer, engine_handle_closed);
    uv_close((uv_handle_t *)&e->send_idle, engine_handle_closed);
}

int engine_submit(struct engine *e, const struct oracle_request *req, engine_done_fn done,
                  void *arg, struct oracle_error *err)
{
    client_error_clear(err);
    if (e->closing) {
        return client_error(err, ORACLE_E_CLOSED, false, "the client is being freed");
    }
    char why[ORACLE_MESSAGE_MAX];
    int rc = request_check(req, why, sizeof(why));
    if (rc < 0) {
        return client_error(err, rc, false, "%s", why);
    }
    struct ecall *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return client_error(err, ORACLE_E_NOMEM, false, "out of memory");
    }
    c->req = *req;
    c->done = done;
    c->arg = arg;
    uint64_t allowance = 0;
    switch (req->op) {
    case ORACLE_OP_GET_TIMESTAMP:
        if (req->ts.commit_wait) {
            if (c->req.ts.max_wait_ns == 0) {
                c->req.ts.max_wait_ns = e->cfg.max_wait_ns;
            }
            allowance = request_allowance(c->req.ts.max_wait_ns);
        }
        c->b.kind = req->ts.count > 1 || req->ts.min_ts_ns != 0 ? BATCH_ALONE
                    : req->ts.commit_wait                       ? BATCH_COMMIT_TS
                                                                : BATCH_TS;
        c->b.max_wait_ns = req->ts.commit_wait ? c->req.ts.max_wait_ns : 0;
        break;
    case ORACLE_OP_WAIT_UNTIL:
        if (c->req.max_wait_ns == 0) {
            c->req.max_wait_ns = e->cfg.max_wait_ns;
        }
        allowance = request_allowance(c->req.max_wait_ns);
        c->b.kind = BATCH_WAIT_UNTIL;
        c->b.ts_ns = req->ts_ns;
        c->b.max_wait_ns = c->req.max_wait_ns;
        break;
    case ORACLE_OP_NOW:
        c->b.kind = BATCH_NOW;
        break;
    default:
        c->b.kind = BATCH_ALONE; /* Before, After, ServerInfo */
        break;
    }
    c->b.seq = e->next_seq++;
    c->submitted_ns = uv_hrtime();
    /* As the blocking client allows: a connection attempt, then the reply and its wait. */
    c->deadline_ns = c->submitted_ns +
                     ((uint64_t)e->cfg.connect_timeout_ms + e->cfg.request_timeout_ms) * NS_PER_MS +
                     allowance;
    c->prev = e->live_tail;
    if (e->live_tail != NULL) {
        e->live_tail->next = c;
    } else {
        e->live_head = c;
    }
    e->live_tail = c;
    queue_call(e, c);
    arm_deadline(e, c->deadline_ns);
    if (!e->send_idle_on) {
        e->send_idle_on = true;
        uv_idle_start(&e->send_idle, on_send_idle);
    }
    return 0;
}

void engine_flush(struct engine *e)
{
    pump(e);
}

uint64_t engine_max_seen(struct engine *e)
{
    return atomic_load_explicit(&e->max_seen, memory_order_relaxed);
}

void engine_observe(struct engine *e, uint64_t ts_ns)
{
    if (ts_ns >= REQUEST_TS_LIMIT) {
        return;
    }
    uint64_t seen = atomic_load_explicit(&e->max_seen, memory_order_relaxed);
    while (ts_ns > seen &&
           !atomic_compare_exchange_weak_explicit(&e->max_seen, &seen, ts_ns, memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
}

void engine_peer(struct engine *e, char *buf, size_t cap)
{
    pthread_mutex_lock(&e->peer_lock);
    snprintf(buf, cap, "%s", e->peer);
    pthread_mutex_unlock(&e->peer_lock);
}

void engine_counts(struct engine *e, struct oracle_client_counts *out)
{
    out->calls = atomic_load_explicit(&e->n_calls, memory_order_relaxed);
    out->requests = atomic_load_explicit(&e->n_requests, memory_order_relaxed);
    out->batched = atomic_load_explicit(&e->n_batched, memory_order_relaxed);
    out->connects = atomic_load_explicit(&e->n_connects, memory_order_relaxed);
}

/*
 * liboracle-client (see include/oracle/client.h): a blocking, pipelining client. Requests are
 * encoded and replies decoded by the daemon's own wire adapter (wire/wire.c) and framed by
 * wire/frame.c, compiled into the library; reply.c checks each reply against its request.
 * This file keeps the connection, the requests in flight, the replies received ahead of being
 * asked for, and the failures not yet reported.
 *
 * Every request ends exactly once for the caller: with its reply (from a call, or from
 * oracle_receive()), or counted in a failure a call or oracle_receive() returns. Whole replies
 * that arrived before a connection broke are kept and delivered, the failure after them.
 */
#include "oracle/client.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "arena.h"
#include "config.h"
#include "ctls.h"
#include "frame.h"
#include "reply.h"
#include "request.h"
#include "servers.h"
#include "shared.h"
#include "sock.h"
#include "wire.h"

#define API __attribute__((visibility("default")))

#define OUT_FLUSH_AT (256 * 1024) /* oracle_send() writes once this much is queued */

struct oracle_client {
    struct client_config cfg;
    struct shared *shared; /* a shared client's engine thread (shared.c); NULL: a blocking one */

    int fd;           /* -1: not connected */
    char peer[80];    /* "" when not connected */
    SSL_CTX *tls_ctx; /* NULL: plaintext */
    struct ctls tls;  /* the connection's TLS (tls.on) */
    bool close_idle;  /* the server said it closes this connection: no new requests on it */
    uint64_t next_id;
    struct flight *flights;     /* max_in_flight slots, request id modulo max_in_flight */
    size_t in_flight;           /* requests awaiting their reply on this connection ... */
    size_t waits_in_flight;     /* ... commit-waits among them ... */
    uint64_t wait_allowance_ns; /* ... and the longest any of them may be held */

    uint8_t *out; /* encoded requests out[out_off .. out_len) not yet written */
    size_t out_off;
    size_t out_len;
    size_t out_cap;
    uint8_t *in; /* bytes received and not yet decoded: in[in_off .. in_len), REPLY_IN_CAP bytes */
    size_t in_off;
    size_t in_len;
    struct arena arena; /* replies are unpacked here */

    struct oracle_response *stash; /* replies received before anyone asked for them: a ring */
    size_t stash_head;
    size_t stash_len;
    size_t stash_cap;

    /* A failure oracle_receive() has not reported yet: the requests it ended. */
    size_t lost;
    int lost_rc;
    enum oracle_error_code lost_code;
    bool lost_retriable;
    char lost_what[ORACLE_MESSAGE_MAX / 2];
    char lost_peer[80];

    uint64_t max_seen;
    uint64_t n_requests; /* requests written (queued, rather) */
    uint64_t n_connects;
};

/* The message for a broken connection: where, what, and how many requests it ended. */
static int failure_error(struct oracle_error *err, int rc, bool retriable, const char *peer,
                         const char *what, size_t lost)
{
    const char *after = rc == ORACLE_E_PROTOCOL ? "; is that address an oracled?"
                        : retriable             ? "; the next call reconnects"
                                                : "; fix the TLS settings";
    client_error(err, rc, retriable, "oracled at %s: %s (%zu request%s in flight lost)%s", peer,
                 what, lost, lost == 1 ? "" : "s", after);
    if (err != NULL) {
        snprintf(err->peer, sizeof(err->peer), "%s", peer);
    }
    return rc;
}

static void disconnect(oracle_client *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->fd = -1;
    ctls_close(&c->tls);
    c->peer[0] = '\0';
    c->close_idle = false;
    c->out_off = 0;
    c->out_len = 0;
    c->in_off = 0;
    c->in_len = 0;
    if (c->in_flight > 0) {
        memset(c->flights, 0, c->cfg.max_in_flight * sizeof(c->flights[0]));
    }
    c->in_flight = 0;
    c->waits_in_flight = 0;
    c->wait_allowance_ns = 0;
}

/*
 * The connection is unusable: says why in err, remembers the requests it ends for
 * oracle_receive() to report, and drops it. Returns rc.
 */
static int fail_as(oracle_client *c, struct oracle_error *err, int rc, bool retriable,
                   const char *what)
{
    failure_error(err, rc, retriable, c->peer, what, c->in_flight);
    if (c->in_flight > 0) {
        c->lost += c->in_flight;
        c->lost_rc = rc;
        c->lost_code = ORACLE_ERROR_NONE;
        c->lost_retriable = retriable;
        snprintf(c->lost_what, sizeof(c->lost_what), "%s", what);
        snprintf(c->lost_peer, sizeof(c->lost_peer), "%s", c->peer);
    }
    disconnect(c);
    return rc;
}

static int fail(oracle_client *c, struct oracle_error *err, int rc, const char *what)
{
    return fail_as(c, err, rc, rc != ORACLE_E_PROTOCOL, what);
}

/* A client's struct with its options checked, nothing else yet; NULL with err filled. */
static oracle_client *client_alloc(const struct oracle_client_options *o, struct oracle_error *err)
{
    client_error_clear(err);
    struct client_config cfg;
    if (client_config_from(o, &cfg, err) < 0) {
        return NULL;
    }
    SSL_CTX *tls = NULL;
    if (ctls_context(&cfg, &tls, err) < 0) {
        return NULL;
    }
    oracle_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        SSL_CTX_free(tls);
        client_error(err, ORACLE_E_NOMEM, false, "out of memory");
        return NULL;
    }
    c->fd = -1;
    c->cfg = cfg;
    c->tls_ctx = tls;
    return c;
}

API oracle_client *oracle_client_new(const struct oracle_client_options *o,
                                     struct oracle_error *err)
{
    oracle_client *c = client_alloc(o, err);
    if (c == NULL) {
        return NULL;
    }
    c->next_id = 1;
    c->flights = calloc(c->cfg.max_in_flight, sizeof(c->flights[0]));
    c->in = malloc(REPLY_IN_CAP);
    c->out_cap = 4096;
    c->out = malloc(c->out_cap);
    int arc = arena_init(&c->arena, REPLY_ARENA_CAP);
    if (c->flights == NULL || c->in == NULL || c->out == NULL || arc < 0) {
        if (arc == 0) {
            arena_fini(&c->arena);
        }
        free(c->flights);
        free(c->in);
        free(c->out);
        SSL_CTX_free(c->tls_ctx);
        free(c);
        client_error(err, ORACLE_E_NOMEM, false, "out of memory");
        return NULL;
    }
    return c;
}

/* What a shared client answers to the calls that are for one thread's client. */
static int not_shared(struct oracle_error *err)
{
    return client_error(err, ORACLE_E_INVALID, false,
                        "pipelining is for a client of one thread (oracle_client_new()): a shared "
                        "client batches concurrent calls by itself");
}

API oracle_client *oracle_shared_new(const struct oracle_client_options *o,
                                     struct oracle_error *err)
{
    oracle_client *c = client_alloc(o, err);
    if (c == NULL) {
        return NULL;
    }
    c->shared = shared_new(&c->cfg, c->tls_ctx, err);
    if (c->shared == NULL) {
        SSL_CTX_free(c->tls_ctx);
        free(c);
        return NULL;
    }
    return c;
}

API void oracle_client_free(oracle_client *c)
{
    if (c == NULL) {
        return;
    }
    if (c->shared != NULL) {
        shared_free(c->shared);
        SSL_CTX_free(c->tls_ctx);
        free(c);
        return;
    }
    disconnect(c);
    ctls_fini(&c->tls);
    SSL_CTX_free(c->tls_ctx);
    arena_fini(&c->arena);
    free(c->flights);
    free(c->in);
    free(c->out);
    free(c->stash);
    free(c);
}

/*
 * An idle connection the server (or a load balancer's idle timeout) has closed reads as EOF;
 * one with bytes waiting while nothing is in flight is out of step. Either way it is not worth
 * a failed call: the caller reconnects instead. One poll() per call while idle.
 */
static bool idle_and_stale(const oracle_client *c)
{
    if (c->in_flight > 0 || c->out_off < c->out_len) {
        return false;
    }
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

static int pump(oracle_client *c, int64_t deadline, struct oracle_error *err);
static int stash_input(oracle_client *c, struct oracle_error *err);

/* A connection the server closes after an error: take in what is still coming on it (kept for
 * oracle_receive(), and any failure remembered for it) until it closes or times out. */
static void drain(oracle_client *c)
{
    struct oracle_error ignored;
    int64_t deadline = sock_monotonic_ns() + (int64_t)c->cfg.request_timeout_ms * 1000000 +
                       (int64_t)c->wait_allowance_ns;
    while (c->fd >= 0) {
        if (stash_input(c, &ignored) < 0 || c->fd < 0 || pump(c, deadline, &ignored) < 0) {
            break;
        }
    }
}

static int call(oracle_client *c, const struct oracle_request *req, struct oracle_response *out,
                struct oracle_error *err);

API int oracle_client_connect(oracle_client *c, struct oracle_error *err)
{
    client_error_clear(err);
    if (c->shared != NULL) {
        struct oracle_request now = {.op = ORACLE_OP_NOW}; /* connects, or says why not */
        struct oracle_response r;
        return call(c, &now, &r, err);
    }
    if (c->fd >= 0 && c->close_idle) {
        drain(c);
    }
    if (c->fd >= 0 && !idle_and_stale(c)) {
        return 0;
    }
    disconnect(c);
    char why[ORACLE_MESSAGE_MAX];
    size_t which = 0;
    int64_t deadline = sock_monotonic_ns() + (int64_t)c->cfg.connect_timeout_ms * 1000000;
    if (sock_connect(c->cfg.servers, c->cfg.n_servers, c->cfg.connect_timeout_ms, &c->fd, &which,
                     c->peer, sizeof(c->peer), why, sizeof(why)) < 0) {
        return client_connect_error(err, why);
    }
    if (c->tls_ctx != NULL) {
        int rc = ctls_handshake(&c->tls, c->tls_ctx, c->fd,
                                ctls_server_name(&c->cfg, c->cfg.servers[which].host), deadline,
                                why, sizeof(why));
        if (rc < 0) {
            client_error(err, rc, rc == ORACLE_E_TIMEOUT || !ctls_permanent(why), "%s: %s", c->peer,
                         why);
            if (err != NULL) {
                snprintf(err->peer, sizeof(err->peer), "%s", c->peer);
            }
            disconnect(c);
            return rc;
        }
    }
    c->n_connects++;
    return 0;
}

API const char *oracle_client_peer(const oracle_client *c)
{
    if (c->shared != NULL) {
        static __thread char peer[80]; /* the calling thread's copy */
        shared_peer(c->shared, peer, sizeof(peer));
        return peer;
    }
    return c->peer;
}

API uint64_t oracle_client_max_seen(const oracle_client *c)
{
    return c->shared != NULL ? shared_max_seen(c->shared) : c->max_seen;
}

API void oracle_client_observe(oracle_client *c, uint64_t ts_ns)
{
    if (c->shared != NULL) {
        shared_observe(c->shared, ts_ns);
        return;
    }
    if (ts_ns > c->max_seen && ts_ns < REQUEST_TS_LIMIT) {
        c->max_seen = ts_ns;
    }
}

API void oracle_client_counts(const oracle_client *c, struct oracle_client_counts *out)
{
    if (c->shared != NULL) {
        shared_counts(c->shared, out);
        return;
    }
    memset(out, 0, sizeof(*out));
    out->requests = c->n_requests;
    out->calls = c->n_requests - c->in_flight - c->stash_len;
    out->connects = c->n_connects;
}

API size_t oracle_in_flight(const oracle_client *c)
{
    if (c->shared != NULL) {
        return 0;
    }
    return c->in_flight + c->stash_len + c->lost;
}

/* ---- Requests out ---- */

static int reserve_out(oracle_client *c, size_t more)
{
    if (c->out_off > 0 && c->out_off == c->out_len) {
        c->out_off = 0;
        c->out_len = 0;
    }
    if (c->out_len + more <= c->out_cap) {
        return 0;
    }
    size_t cap = c->out_cap * 2;
    while (cap < c->out_len + more) {
        cap *= 2;
    }
    uint8_t *p = realloc(c->out, cap);
    if (p == NULL) {
        return -ENOMEM;
    }
    c->out = p;
    c->out_cap = cap;
    return 0;
}

/* The deadline for a reply: the request timeout, plus the commit-wait the request may be held
 * (allowance_ns). */
static int64_t reply_deadline(const oracle_client *c, uint64_t allowance_ns)
{
    return sock_monotonic_ns() + (int64_t)c->cfg.request_timeout_ms * 1000000 +
           (int64_t)allowance_ns;
}

/* ---- Replies in ---- */

static int stash_push(oracle_client *c, const struct oracle_response *r)
{
    if (c->stash_len == c->stash_cap) {
        size_t cap = c->stash_cap == 0 ? 8 : 2 * c->stash_cap;
        struct oracle_response *s = malloc(cap * sizeof(*s));
        if (s == NULL) {
            return -ENOMEM;
        }
        for (size_t i = 0; i < c->stash_len; i++) {
            s[i] = c->stash[(c->stash_head + i) % c->stash_cap];
        }
        free(c->stash);
        c->stash = s;
        c->stash_cap = cap;
        c->stash_head = 0;
    }
    c->stash[(c->stash_head + c->stash_len) % c->stash_cap] = *r;
    c->stash_len++;
    return 0;
}

/* Takes the stashed reply for id (the oldest when id is 0) into *out. Returns whether found. */
static bool stash_take(oracle_client *c, uint64_t id, struct oracle_response *out)
{
    for (size_t i = 0; i < c->stash_len; i++) {
        size_t at = (c->stash_head + i) % c->stash_cap;
        if (id != 0 && c->stash[at].id != id) {
            continue;
        }
        *out = c->stash[at];
        if (i == 0) {
            c->stash_head = (c->stash_head + 1) % c->stash_cap;
        } else {
            /* Close the gap, keeping the order of the rest. */
            for (size_t j = i; j + 1 < c->stash_len; j++) {
                c->stash[(c->stash_head + j) % c->stash_cap] =
                    c->stash[(c->stash_head + j + 1) % c->stash_cap];
            }
        }
        c->stash_len--;
        return true;
    }
    return false;
}

static void land(oracle_client *c, struct flight *f)
{
    if (f->commit_wait) {
        c->waits_in_flight--;
        if (c->waits_in_flight == 0) {
            c->wait_allowance_ns = 0;
        }
    }
    memset(f, 0, sizeof(*f));
    c->in_flight--;
}

/* A connection-level error (id 0): the server is closing the connection, for the reason given. */
static int connection_error(oracle_client *c, const struct response *w, struct oracle_error *err)
{
    if (w->kind != RESP_ERROR) {
        return fail(c, err, ORACLE_E_PROTOCOL, "sent a reply with id 0 that is no error");
    }
    char what[ORACLE_MESSAGE_MAX / 2];
    snprintf(what, sizeof(what), "closed the connection: %s",
             w->u.error.message != NULL ? w->u.error.message : "");
    fail(c, err, ORACLE_E_SERVER, what);
    c->lost_code = (enum oracle_error_code)w->u.error.code;
    c->lost_retriable = w->u.error.retriable;
    if (err != NULL) {
        err->code = (enum oracle_error_code)w->u.error.code;
        err->retriable = w->u.error.retriable;
    }
    return ORACLE_E_SERVER;
}

/*
 * Decodes one whole frame from the input into *out. Returns 1 with a reply, 0 when more bytes
 * are needed, or a negative code after dropping the connection (err filled).
 */
static int take_frame(oracle_client *c, struct oracle_response *out, struct oracle_error *err)
{
    struct response w;
    const char *bad;
    int n = reply_decode(c->in + c->in_off, c->in_len - c->in_off, &c->arena, &w, &bad);
    if (n == 0) {
        return 0;
    }
    if (n < 0) {
        return fail(c, err, ORACLE_E_PROTOCOL, bad);
    }
    c->in_off += (size_t)n;
    if (c->in_off == c->in_len) {
        c->in_off = 0;
        c->in_len = 0;
    }
    if (w.id == 0) {
        return connection_error(c, &w, err);
    }
    struct flight *f = &c->flights[w.id % c->cfg.max_in_flight];
    bool closes;
    char what[160];
    if (!reply_accept(f->id == w.id ? f : NULL, &w, out, &closes, what, sizeof(what))) {
        return fail(c, err, ORACLE_E_PROTOCOL, what);
    }
    if (out->rc < 0) {
        snprintf(out->error.peer, sizeof(out->error.peer), "%s", c->peer);
    } else if (out->op == ORACLE_OP_GET_TIMESTAMP) {
        oracle_client_observe(c, out->u.ts.first_ns + out->u.ts.count - 1);
    }
    c->close_idle = c->close_idle || closes;
    land(c, f);
    if (c->close_idle && c->in_flight == 0) {
        disconnect(c);
    }
    return 1;
}

/* Moves whole replies from the input into the stash. Returns 0, or a negative code. */
static int stash_input(oracle_client *c, struct oracle_error *err)
{
    for (;;) {
        struct oracle_response r;
        int rc = take_frame(c, &r, err);
        if (rc <= 0) {
            return rc;
        }
        if (stash_push(c, &r) < 0) {
            return fail(c, err, ORACLE_E_NOMEM, "out of memory for replies");
        }
    }
}

/*
 * The connection ended (EOF, reset, a failed write): keep the whole replies that came before
 * the end (often the reason for it: SHUTTING_DOWN, CLOCK_UNAVAILABLE), then fail.
 */
static int ended(oracle_client *c, struct oracle_error *err, const char *what)
{
    /* A TLS alert record (type 21, version 3.x) where a reply should be: the server speaks TLS
     * there and refused the bytes it took for a handshake. */
    const uint8_t *in = c->in + c->in_off;
    if (!c->tls.on && c->in_len - c->in_off >= 3 && in[0] == 0x15 && in[1] == 0x03) {
        return fail(c, err, ORACLE_E_PROTOCOL,
                    "answered with a TLS alert: TLS is on at that address (set tls_ca; "
                    "oracle-cli --tls-ca)");
    }
    int rc = stash_input(c, err);
    if (rc < 0) {
        return rc;
    }
    if (c->fd < 0) {
        /* Every request was answered and the connection let go (the server closes it after
         * its last error reply): nothing is lost. */
        return 0;
    }
    return fail(c, err, ORACLE_E_CLOSED,
                c->in_len > c->in_off ? "closed the connection in the middle of a reply" : what);
}

/* Reads what has arrived. Returns 0 (maybe nothing read) or a negative code, connection gone. */
static int read_some(oracle_client *c, struct oracle_error *err)
{
    if (c->in_off > 0) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    if (c->in_len == REPLY_IN_CAP) {
        return 0;
    }
    uint8_t *at = c->in + c->in_len;
    size_t room = REPLY_IN_CAP - c->in_len;
    ssize_t n =
        c->tls.on ? ctls_recv(&c->tls, c->fd, at, room) : recv(c->fd, at, room, MSG_DONTWAIT);
    if (n > 0) {
        c->in_len += (size_t)n;
        return 0;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return 0;
    }
    char what[ORACLE_MESSAGE_MAX / 2];
    if (n < 0 && errno == EPROTO && c->tls.on) {
        /* The server refused the session after the handshake (TLS 1.3 checks the client's
         * certificate then), or a record was bad. */
        ctls_explain(c->tls.sess.why, false, what, sizeof(what));
        bool settings = ctls_permanent(c->tls.sess.why);
        return fail_as(c, err, settings ? ORACLE_E_CONNECT : ORACLE_E_CLOSED, !settings, what);
    } else {
        snprintf(what, sizeof(what), "%s",
                 n == 0 ? "closed the connection" : strerrordesc_np(errno));
    }
    return ended(c, err, what);
}

static int write_some(oracle_client *c, struct oracle_error *err)
{
    const uint8_t *at = c->out + c->out_off;
    size_t len = c->out_len - c->out_off;
    ssize_t n = c->tls.on ? ctls_send(&c->tls, c->fd, at, len)
                          : send(c->fd, at, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) {
        c->out_off += (size_t)n;
        return 0;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        return 0;
    }
    char what[96];
    snprintf(what, sizeof(what), "connection lost: %s", strerrordesc_np(errno));
    return ended(c, err, what);
}

/*
 * Waits until the socket can make progress and makes it: writes what is queued and reads
 * what has come (stashing whole replies when the input is full). Returns 0 after progress or
 * a negative code with the connection dropped (ORACLE_E_TIMEOUT at the deadline).
 */
static int pump(oracle_client *c, int64_t deadline, struct oracle_error *err)
{
    if (c->in_len - c->in_off == REPLY_IN_CAP) {
        int rc = stash_input(c, err);
        if (rc < 0) {
            return rc;
        }
    }
    if (c->fd < 0) {
        return 0; /* let go after every request was answered */
    }
    for (;;) {
        int64_t left_ms = (deadline - sock_monotonic_ns() + 999999) / 1000000;
        if (left_ms <= 0) {
            char what[96];
            snprintf(what, sizeof(what), "no reply within %u ms (and the commit-wait allowed)",
                     (unsigned)c->cfg.request_timeout_ms);
            return fail(c, err, ORACLE_E_TIMEOUT, what);
        }
        if (ctls_buffered(&c->tls)) {
            /* Records already read may hold replies: poll() cannot say so. */
            size_t had = c->in_len;
            int rc = read_some(c, err);
            if (rc < 0 || c->fd < 0 || c->in_len > had) {
                return rc;
            }
        }
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (c->out_off < c->out_len) {
            p.events |= POLLOUT;
        }
        int n = poll(&p, 1, left_ms > INT_MAX ? INT_MAX : (int)left_ms);
        if (n < 0 && errno != EINTR) {
            return fail(c, err, ORACLE_E_CLOSED, "poll failed");
        }
        if (n <= 0) {
            continue;
        }
        if (p.revents & (POLLIN | POLLERR | POLLHUP)) {
            int rc = read_some(c, err);
            if (rc < 0) {
                return rc;
            }
        }
        if (c->fd >= 0 && (p.revents & POLLOUT)) {
            int rc = write_some(c, err);
            if (rc < 0) {
                return rc;
            }
        }
        return 0;
    }
}

API int oracle_flush(oracle_client *c, struct oracle_error *err)
{
    client_error_clear(err);
    if (c->shared != NULL) {
        return not_shared(err);
    }
    int64_t deadline = reply_deadline(c, 0);
    while (c->fd >= 0 && c->out_off < c->out_len) {
        int rc = write_some(c, err);
        if (rc < 0) {
            return rc;
        }
        if (c->fd < 0 || c->out_off == c->out_len) {
            break;
        }
        rc = pump(c, deadline, err);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

API int oracle_send(oracle_client *c, const struct oracle_request *req, uint64_t *id,
                    struct oracle_error *err)
{
    client_error_clear(err);
    if (c->shared != NULL) {
        return not_shared(err);
    }
    char why[ORACLE_MESSAGE_MAX];
    int rc = request_check(req, why, sizeof(why));
    if (rc < 0) {
        return client_error(err, rc, false, "%s", why);
    }
    if (c->in_flight + c->stash_len >= c->cfg.max_in_flight) {
        return client_error(err, ORACLE_E_BUSY, true,
                            "%zu requests are in flight or received and not yet taken "
                            "(max_in_flight): receive first",
                            c->in_flight + c->stash_len);
    }
    rc = oracle_client_connect(c, err);
    if (rc < 0) {
        return rc;
    }
    while (c->flights[c->next_id % c->cfg.max_in_flight].id != 0 || c->next_id == 0) {
        c->next_id++;
    }
    struct flight *f = &c->flights[c->next_id % c->cfg.max_in_flight];
    f->id = c->next_id++;
    f->op = req->op;
    uint64_t wait_ns = req->max_wait_ns;
    if (req->op == ORACLE_OP_GET_TIMESTAMP) {
        f->count = req->ts.count;
        f->commit_wait = req->ts.commit_wait;
        f->min_ts_ns = req->ts.min_ts_ns;
        if (c->cfg.session_min && c->max_seen > f->min_ts_ns) {
            f->min_ts_ns = c->max_seen;
        }
        wait_ns = req->ts.max_wait_ns;
    }
    if (req->op == ORACLE_OP_WAIT_UNTIL) {
        f->commit_wait = true;
    }
    if (f->commit_wait && wait_ns == 0) {
        wait_ns = c->cfg.max_wait_ns;
    }
    if (f->commit_wait) {
        f->allowance_ns = request_allowance(wait_ns);
        if (f->allowance_ns > c->wait_allowance_ns) {
            c->wait_allowance_ns = f->allowance_ns;
        }
        c->waits_in_flight++;
    }
    c->in_flight++;
    c->n_requests++;
    struct request w = request_to_wire(req, f->id, f->min_ts_ns, wait_ns);
    int n = reserve_out(c, REQUEST_ENCODED_MAX) < 0
                ? -ENOMEM
                : wire_encode_request(&w, c->out + c->out_len, c->out_cap - c->out_len);
    if (n < 0) {
        land(c, f);
        return client_error(err, ORACLE_E_NOMEM, false, "cannot encode the request: out of memory");
    }
    c->out_len += (size_t)n;
    *id = f->id;
    if (c->out_len - c->out_off >= OUT_FLUSH_AT) {
        return oracle_flush(c, err);
    }
    return 0;
}

/*
 * The connection failed (rc) while the caller waited for id (any reply when 0). A reply that
 * came before the end is still a reply; otherwise the caller is told about the failure, which
 * then counts as reported for the caller's share of it.
 */
static int after_failure(oracle_client *c, uint64_t id, struct oracle_response *out,
                         struct oracle_error *err, int rc)
{
    if (stash_take(c, id, out)) {
        client_error_clear(err);
        return 0;
    }
    if (id != 0) {
        if (c->lost > 0) {
            c->lost--;
        }
    } else {
        c->lost = 0;
    }
    return rc;
}

/* Waits for the reply to id (any reply when id is 0): from the stash or the connection. */
static int wait_reply(oracle_client *c, uint64_t id, struct oracle_response *out,
                      struct oracle_error *err)
{
    if (stash_take(c, id, out)) {
        if (c->fd >= 0 && c->out_off < c->out_len) {
            (void)write_some(c, NULL); /* a failure here is found, and kept, by the next call */
        }
        return 0;
    }
    if (id == 0 && c->lost > 0) {
        int rc =
            failure_error(err, c->lost_rc, c->lost_retriable, c->lost_peer, c->lost_what, c->lost);
        if (err != NULL) {
            err->code = c->lost_code;
            err->retriable = c->lost_retriable;
        }
        c->lost = 0;
        return rc;
    }
    uint64_t allowance = c->wait_allowance_ns;
    if (id != 0) {
        const struct flight *f = &c->flights[id % c->cfg.max_in_flight];
        allowance = f->id == id ? f->allowance_ns : 0;
    }
    if (c->fd < 0 || c->in_flight == 0) {
        return client_error(err, ORACLE_E_INVALID, false, "no request is in flight");
    }
    int64_t deadline = reply_deadline(c, allowance);
    for (;;) {
        int rc = take_frame(c, out, err);
        if (rc < 0) {
            return after_failure(c, id, out, err, rc);
        }
        if (rc == 1) {
            if (id == 0 || out->id == id) {
                return 0;
            }
            if (stash_push(c, out) < 0) {
                rc = fail(c, err, ORACLE_E_NOMEM, "out of memory for replies");
                return after_failure(c, id, out, err, rc);
            }
            continue;
        }
        if (c->fd < 0) {
            /* Let go once every request was answered: what was asked for is in the stash. */
            int closed = client_error(err, ORACLE_E_CLOSED, true,
                                      "the connection was closed; the next call reconnects");
            return after_failure(c, id, out, err, closed);
        }
        rc = pump(c, deadline, err);
        if (rc < 0) {
            return after_failure(c, id, out, err, rc);
        }
    }
}

API int oracle_receive(oracle_client *c, struct oracle_response *out, struct oracle_error *err)
{
    client_error_clear(err);
    if (c->shared != NULL) {
        return not_shared(err);
    }
    return wait_reply(c, 0, out, err);
}

/* One request, one reply: the reply's outcome, a server Error copied into err. */
static int call(oracle_client *c, const struct oracle_request *req, struct oracle_response *out,
                struct oracle_error *err)
{
    if (c->shared != NULL) {
        return shared_call(c->shared, req, out, err);
    }
    uint64_t id;
    int rc = oracle_send(c, req, &id, err);
    if (rc < 0) {
        return rc;
    }
    rc = wait_reply(c, id, out, err);
    if (rc < 0) {
        return rc;
    }
    if (out->rc < 0 && err != NULL) {
        *err = out->error;
    }
    return out->rc;
}

API int oracle_get_timestamps(oracle_client *c, const struct oracle_ts_request *req,
                              struct oracle_timestamps *out, struct oracle_error *err)
{
    struct oracle_request r = {.op = ORACLE_OP_GET_TIMESTAMP};
    if (req != NULL) {
        r.ts = *req;
    }
    struct oracle_response resp;
    int rc = call(c, &r, &resp, err);
    if (rc == 0) {
        *out = resp.u.ts;
    }
    return rc;
}

static int one_timestamp(oracle_client *c, bool commit_wait, uint64_t *ts_ns,
                         struct oracle_error *err)
{
    struct oracle_ts_request req = {.count = 1, .commit_wait = commit_wait};
    struct oracle_timestamps t;
    int rc = oracle_get_timestamps(c, &req, &t, err);
    if (rc == 0) {
        *ts_ns = t.first_ns;
    }
    return rc;
}

API int oracle_timestamp(oracle_client *c, uint64_t *ts_ns, struct oracle_error *err)
{
    return one_timestamp(c, false, ts_ns, err);
}

API int oracle_commit_timestamp(oracle_client *c, uint64_t *ts_ns, struct oracle_error *err)
{
    return one_timestamp(c, true, ts_ns, err);
}

API int oracle_now(oracle_client *c, struct oracle_bounds *out, struct oracle_error *err)
{
    struct oracle_request r = {.op = ORACLE_OP_NOW};
    struct oracle_response resp;
    int rc = call(c, &r, &resp, err);
    if (rc == 0) {
        *out = resp.u.bounds;
    }
    return rc;
}

static int ask(oracle_client *c, enum oracle_op op, uint64_t ts_ns, bool *answer,
               struct oracle_error *err)
{
    struct oracle_request r = {.op = op, .ts_ns = ts_ns};
    struct oracle_response resp;
    int rc = call(c, &r, &resp, err);
    if (rc == 0) {
        *answer = resp.u.answer;
    }
    return rc;
}

API int oracle_before(oracle_client *c, uint64_t ts_ns, bool *answer, struct oracle_error *err)
{
    return ask(c, ORACLE_OP_BEFORE, ts_ns, answer, err);
}

API int oracle_after(oracle_client *c, uint64_t ts_ns, bool *answer, struct oracle_error *err)
{
    return ask(c, ORACLE_OP_AFTER, ts_ns, answer, err);
}

API int oracle_wait_until(oracle_client *c, uint64_t ts_ns, uint64_t max_wait_ns,
                          uint64_t *waited_ns, struct oracle_error *err)
{
    struct oracle_request r = {
        .op = ORACLE_OP_WAIT_UNTIL, .ts_ns = ts_ns, .max_wait_ns = max_wait_ns};
    struct oracle_response resp;
    int rc = call(c, &r, &resp, err);
    if (rc == 0 && waited_ns != NULL) {
        *waited_ns = resp.u.waited_ns;
    }
    return rc;
}

API int oracle_server_info(oracle_client *c, struct oracle_info *out, struct oracle_error *err)
{
    struct oracle_request r = {.op = ORACLE_OP_SERVER_INFO};
    struct oracle_response resp;
    int rc = call(c, &r, &resp, err);
    if (rc == 0) {
        *out = resp.u.info;
    }
    return rc;
}

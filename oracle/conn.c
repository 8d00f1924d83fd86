/* Client connections: framing in, gathered responses out (see conn.h). */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "errtext.h"
#include "frame.h"
#include "log.h"
#include "util.h"

#define IN_MIN_CAP  4096
#define OUT_MIN_CAP 4096
#define ARENA_BYTES (2 * FRAME_MAX_TOTAL) /* unknown fields are copied: room for a whole frame */

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void resume(struct conn *c);
static void tls_input(struct conn *c);
static void tls_refused(struct conn *c, enum tlssess_failure f, const char *why);
static bool paused(const struct conn *c);
static void tls_not_tls(struct conn *c);

#define TLS_HANDSHAKE_RECORD 0x16 /* the content type every TLS client's first record has */
#define TLS_VERSION_MAJOR    0x03 /* ... and its version's first byte (SSL 3.0 and every TLS) */

static void on_closed(uv_handle_t *h)
{
    struct conn *c = container_of((uv_tcp_t *)h, struct conn, tcp);
    struct conn_env *env = c->env;
    cs_list_remove(&env->all, &c->by_activity);
    /* A closing connection may still be in the dirty list if it was marked after the last
     * flush; take it out before its memory goes. */
    for (struct conn **pp = &env->dirty; *pp != NULL; pp = &(*pp)->dirty_next) {
        if (*pp == c) {
            *pp = c->dirty_next;
            break;
        }
    }
    hspacer_forget(&env->hs, &c->hs_node); /* before freed: that may stop the server */
    env->events->freed(env->ctx, c);
    if (c->tls != NULL) {
        tlssess_fini(c->tls);
        free(c->tls);
    }
    free(c->in);
    free(c->out);
    free(c->wbuf);
    free(c);
}

void conn_close(struct conn *c, const char *why)
{
    if (c->closing) {
        return;
    }
    c->closing = true;
    if (why != NULL) {
        log_debug("conn %s: closing: %s", c->peer, why);
    }
    c->env->events->leaving(c->env->ctx, c);
    c->env->events->closing(c->env->ctx, c);
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

void conn_cut_off(struct conn *c, const char *why)
{
    if (c->closing) {
        return;
    }
    c->env->stats.cut_off++;
    log_warn("conn %s: %s, cutting the client off", c->peer, why);
    conn_close(c, NULL);
}

void conn_close_idle(struct conn *c)
{
    if (c->closing) {
        return;
    }
    c->env->stats.idle_closed++;
    conn_close(c, "idle");
}

static void mark_dirty(struct conn *c)
{
    struct conn_env *env = c->env;
    if (!c->dirty) {
        c->dirty = true;
        c->dirty_next = env->dirty;
        env->dirty = c;
    }
}

void conn_flush_all(struct conn_env *env)
{
    while (env->dirty != NULL) {
        struct conn *c = env->dirty;
        env->dirty = c->dirty_next;
        c->dirty = false;
        conn_flush(c);
    }
}

/* Bytes are waiting to be written: responses gathered, or (TLS) records the session made. */
static bool has_output(const struct conn *c)
{
    return c->out_len > 0 || (c->tls != NULL && tlssess_pending(c->tls) > 0);
}

bool conn_unsent(const struct conn *c)
{
    return has_output(c) || c->writing;
}

static void stop_reading(struct conn *c)
{
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

static void start_reading(struct conn *c)
{
    /* A connection whose handshake step waits its turn is not read meanwhile. */
    if (!c->reading && !c->closing && !c->close_after_flush && !c->hs_node.queued) {
        int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        if (rc < 0) {
            conn_close(c, err_text(rc));
            return;
        }
        c->reading = true;
    }
}

void conn_close_after_flush(struct conn *c)
{
    c->close_after_flush = true;
    c->env->events->leaving(c->env->ctx, c); /* no longer counted against the caps */
    stop_reading(c);
    mark_dirty(c);
}

/* Grows *buf to hold need bytes. Returns 0 or -ENOMEM. */
static int reserve(uint8_t **buf, size_t *cap, size_t need, size_t min_cap)
{
    if (need <= *cap) {
        return 0;
    }
    size_t n = *cap > min_cap ? *cap : min_cap;
    while (n < need) {
        n *= 2;
    }
    uint8_t *p = realloc(*buf, n);
    if (p == NULL) {
        return -ENOMEM;
    }
    *buf = p;
    *cap = n;
    return 0;
}

int conn_send(struct conn *c, const struct response *r)
{
    if (c->closing) {
        return 0;
    }
    if (reserve(&c->out, &c->out_cap, c->out_len + WIRE_RESPONSE_MAX, OUT_MIN_CAP) < 0) {
        log_warn("conn %s: out of memory for a response, closing", c->peer);
        conn_close(c, NULL);
        return -ENOMEM;
    }
    int n = wire_encode_response(r, c->out + c->out_len, c->out_cap - c->out_len);
    if (n < 0) {
        /* WIRE_RESPONSE_MAX always suffices: this is a bug, not bad input. */
        log_err("conn %s: response does not fit (%d), closing", c->peer, n);
        conn_close(c, NULL);
        return n;
    }
    if (c->out_len == 0 && !c->writing) {
        c->progress_mono_ns = cb_clock_ns(c->env->clock, CB_CLOCK_MONOTONIC);
    }
    c->out_len += (size_t)n;
    mark_dirty(c);
    if (paused(c)) {
        /* However the replies came (a read's requests, or commit-waits released by the timer),
         * a client this far behind is not read until it catches up (resume). */
        stop_reading(c);
    }
    if (c->out_len >= c->env->max_output_bytes) {
        char why[64];
        snprintf(why, sizeof(why), "%zu bytes of replies unread", c->out_len);
        conn_cut_off(c, why);
        return -ENOBUFS;
    }
    return 0;
}

void conn_send_error(struct conn *c, uint64_t id, enum wire_error code, bool retriable,
                     const char *message)
{
    struct response r;
    memset(&r, 0, sizeof(r));
    r.id = id;
    r.clock_status = c->env->clock_status;
    r.kind = RESP_ERROR;
    r.u.error.code = code;
    r.u.error.retriable = retriable;
    r.u.error.message = message;
    conn_send(c, &r);
}

void conn_goodbye(struct conn *c, enum wire_error code, bool retriable, const char *message)
{
    conn_send_error(c, 0, code, retriable, message);
    conn_close_after_flush(c);
    conn_flush(c);
}

/* Input is held (not handled, not read) while this much output waits for the client: replies
 * gathered, and (TLS) records the session made that are not yet taken. */
static bool paused(const struct conn *c)
{
    size_t half_cap = c->env->max_output_bytes / 2;
    size_t waiting = c->out_len + (c->tls != NULL ? tlssess_pending(c->tls) : 0);
    return waiting >= (half_cap < CONN_OUT_PAUSE_BYTES ? half_cap : CONN_OUT_PAUSE_BYTES);
}

/* Closes a half-closed connection once nothing is left to answer or write (TLS: after a
 * close_notify, so the client knows it has every reply). */
static void finish_if_done(struct conn *c)
{
    if (c->eof && c->waits == NULL && !conn_unsent(c)) {
        if (c->tls != NULL && c->tls->established && !c->close_after_flush) {
            conn_close_after_flush(c);
            conn_flush(c);
            return;
        }
        conn_close(c, "peer closed");
    }
}

void conn_wait_done(struct conn *c)
{
    finish_if_done(c);
}

static void on_write(uv_write_t *req, int status)
{
    struct conn *c = container_of(req, struct conn, wreq);
    c->writing = false;
    c->progress_mono_ns = cb_clock_ns(c->env->clock, CB_CLOCK_MONOTONIC);
    if (status < 0) {
        conn_close(c, err_text(status));
        return;
    }
    if (has_output(c)) {
        conn_flush(c);
    } else if (c->close_after_flush) {
        conn_close(c, "error sent");
    } else {
        resume(c);
    }
}

/* TLS: turns the responses gathered into records, and takes every record waiting to go out
 * (the handshake's, alerts, close_notify) into c->out, which from here on holds bytes for the
 * socket. Returns 0, or a negative errno when c was closed. */
static int tls_seal(struct conn *c)
{
    struct tlssess *t = c->tls;
    if (c->tls_plain_refusal) {
        return 0; /* a plaintext client's Error frame, sent as it is */
    }
    if (c->out_len > 0) {
        /* Before the handshake only a goodbye (an eviction's error frame) can be gathered: the
         * peer has no session to read it in, and the connection closes without it. */
        if (t->established && tlssess_write(t, c->out, c->out_len) < 0) {
            conn_close(c, t->why);
            return -EPROTO;
        }
        c->out_len = 0;
    }
    if (c->close_after_flush) {
        tlssess_close_notify(t);
    }
    size_t n = tlssess_pending(t);
    if (n > 0) {
        if (reserve(&c->out, &c->out_cap, n, OUT_MIN_CAP) < 0) {
            log_warn("conn %s: out of memory for TLS records, closing", c->peer);
            conn_close(c, NULL);
            return -ENOMEM;
        }
        c->out_len = tlssess_take(t, c->out, n);
    }
    return 0;
}

void conn_flush(struct conn *c)
{
    if (c->closing || c->writing) {
        return;
    }
    if (c->tls != NULL && tls_seal(c) < 0) {
        return;
    }
    if (c->out_len == 0) {
        if (c->close_after_flush) {
            conn_close(c, "error sent");
        }
        return;
    }
    uv_buf_t b = uv_buf_init((char *)c->out, (unsigned)c->out_len);
    /* The moment the responses are handed to the kernel: lateness ends here. */
    c->flushed_mono_ns = cb_clock_ns(c->env->clock, CB_CLOCK_MONOTONIC);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == (int)c->out_len) {
        c->out_len = 0;
        if (c->close_after_flush) {
            conn_close(c, "error sent");
        } else {
            resume(c);
        }
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        conn_close(c, err_text(n));
        return;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    if (done > 0) {
        c->progress_mono_ns = c->flushed_mono_ns;
    }
    /* The rest goes out with uv_write, which owns its buffer until on_write: swap the gathering
     * buffer for the (idle) write buffer. */
    uint8_t *tmp = c->wbuf;
    size_t tmp_cap = c->wbuf_cap;
    c->wbuf = c->out;
    c->wbuf_cap = c->out_cap;
    c->out = tmp;
    c->out_cap = tmp_cap;
    size_t left = c->out_len - done;
    c->out_len = 0;
    uv_buf_t rest = uv_buf_init((char *)c->wbuf + done, (unsigned)left);
    int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &rest, 1, on_write);
    if (rc < 0) {
        conn_close(c, err_text(rc));
        return;
    }
    c->writing = true;
}

/* Where the next bytes of the stream go: the shared buffer, or after the incomplete frame in
 * the connection's own (up to one whole frame). base NULL when out of memory. */
static void input_space(struct conn *c, uv_buf_t *buf)
{
    if (c->in_len == 0) {
        buf->base = (char *)c->env->read_buf;
        buf->len = FRAME_MAX_TOTAL;
        return;
    }
    if (reserve(&c->in, &c->in_cap, FRAME_MAX_TOTAL, IN_MIN_CAP) < 0) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    buf->base = (char *)c->in + c->in_len;
    buf->len = c->in_cap - c->in_len;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct conn *c = container_of((uv_tcp_t *)h, struct conn, tcp);
    if (c->tls != NULL) {
        /* Records: fed to the session at once, so one shared buffer does for everyone. During
         * the handshake a read brings at most a record, which the session keeps if its step
         * must wait its turn. */
        buf->base = (char *)c->env->tls_buf;
        buf->len = conn_tls_handshaking(c) ? CONN_TLS_HANDSHAKE_READ : sizeof(c->env->tls_buf);
        return;
    }
    input_space(c, buf);
}

/* Decodes one frame's message and hands the request over. */
static void handle_frame(struct conn *c, const uint8_t *msg, size_t len)
{
    struct conn_env *env = c->env;
    struct request req;
    int rc = wire_decode_request(msg, len, &env->arena, &req);
    arena_reset(&env->arena);
    if (rc < 0) {
        env->events->bad_input(env->ctx, c, "message is not an oracle.v1.Request");
        return;
    }
    env->events->request(env->ctx, c, &req);
}

/* Handles every whole frame in data[0..len); returns the bytes consumed, or -1 when the
 * connection was closed (bad framing). */
static long consume(struct conn *c, const uint8_t *data, size_t len)
{
    size_t off = 0;
    while (off < len && !c->closing && !c->close_after_flush && !paused(c)) {
        const uint8_t *msg = NULL;
        size_t msg_len = 0;
        int n = frame_decode(data + off, len - off, FRAME_MAX_LEN, &msg, &msg_len);
        if (n == 0) {
            break;
        }
        if (n < 0) {
            const char *why = n == -EMSGSIZE ? "frame length exceeds 65536 bytes"
                                             : "frame length varint longer than 10 bytes";
            log_info("conn %s: %s, closing", c->peer, why);
            c->env->stats.bad_frames++;
            c->env->events->bad_input(c->env->ctx, c, why);
            conn_close_after_flush(c);
            return -1;
        }
        c->requests++;
        handle_frame(c, msg, msg_len);
        off += (size_t)n;
    }
    return (long)off;
}

/* Keeps data[used..len) (from the shared buffer or c->in itself) as the connection's held
 * input. Returns 0 or -ENOMEM. */
static int keep_input(struct conn *c, const uint8_t *data, size_t len, size_t used)
{
    size_t left = len - used;
    if (left == 0) {
        c->in_len = 0;
        if (c->in_cap > IN_MIN_CAP) {
            /* Give a large frame's buffer back; idle connections own nothing. */
            free(c->in);
            c->in = NULL;
            c->in_cap = 0;
        }
        return 0;
    }
    if (data == c->in) {
        memmove(c->in, c->in + used, left);
    } else if (reserve(&c->in, &c->in_cap, left, IN_MIN_CAP) < 0) {
        return -ENOMEM;
    } else {
        memcpy(c->in, data + used, left);
    }
    c->in_len = left;
    return 0;
}

/* Handles data (just read, or held), keeps what is left, and stops reading while paused. */
static void handle_input(struct conn *c, const uint8_t *data, size_t len)
{
    c->env->events->batch(c->env->ctx, true);
    long used = consume(c, data, len);
    c->env->events->batch(c->env->ctx, false);
    if (used < 0) {
        c->in_len = 0;
        return;
    }
    if (c->closing) {
        return;
    }
    if (keep_input(c, data, len, (size_t)used) < 0) {
        log_warn("conn %s: out of memory for input, closing", c->peer);
        conn_close(c, NULL);
        return;
    }
    if (paused(c)) {
        /* A client that does not read its replies stops being read. */
        stop_reading(c);
    }
}

static void resume(struct conn *c)
{
    if (c->closing || c->close_after_flush) {
        return;
    }
    /* Frames held while paused come first: they arrived before anything still unread (after a
     * half-close too: the client still waits for their replies). */
    if (c->in_len > 0) {
        handle_input(c, c->in, c->in_len);
    }
    /* ... then what the session holds: records read before the pause. */
    if (c->tls != NULL && !c->closing && !paused(c) && tlssess_has_input(c->tls)) {
        tls_input(c);
    }
    if (c->closing || c->close_after_flush) {
        return;
    }
    if (c->eof) {
        finish_if_done(c);
    } else if (!paused(c)) {
        start_reading(c);
    }
}

/* The peer half-closed (or, over TLS, sent close_notify): the replies it is waiting for still
 * go out. */
static void peer_closed(struct conn *c)
{
    if (c->closing) {
        return;
    }
    c->eof = true;
    stop_reading(c);
    if (c->in_len > 0) {
        handle_input(c, c->in, c->in_len);
    }
    if (!c->closing) {
        finish_if_done(c);
    }
}

/* Handles n bytes of the stream that landed where input_space() said. */
static void take_input(struct conn *c, const uint8_t *base, size_t n)
{
    if (base == c->env->read_buf) {
        handle_input(c, base, n);
    } else {
        c->in_len += n;
        handle_input(c, c->in, c->in_len);
    }
}

/* The client half-closed a TLS connection: what the session still holds (records read while
 * paused or while its handshake step waited: the rest of the handshake, requests) runs first,
 * and is answered as after any EOF. A handshake that still does not finish is refused. */
static void tls_peer_closed(struct conn *c)
{
    c->eof = true;
    stop_reading(c);
    tls_input(c);
    if (c->closing) {
        return;
    }
    if (conn_tls_handshaking(c)) {
        tls_refused(c, TLSSESS_CLOSED, "the client closed the connection mid-handshake");
        conn_close(c, NULL);
        return;
    }
    peer_closed(c);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = container_of((uv_tcp_t *)stream, struct conn, tcp);
    if (nread == UV_EOF) {
        if (conn_tls_handshaking(c)) {
            tls_refused(c, TLSSESS_CLOSED, "the client closed the connection");
            conn_close(c, NULL);
            return;
        }
        if (c->tls != NULL) {
            tls_peer_closed(c);
        } else {
            peer_closed(c);
        }
        return;
    }
    if (nread < 0) {
        conn_close(c, err_text((int)nread));
        return;
    }
    if (nread == 0) {
        return;
    }
    c->activity_mono_ns = cb_clock_ns(c->env->clock, CB_CLOCK_MONOTONIC);
    cs_list_touch(&c->env->all, &c->by_activity);
    c->env->events->active(c->env->ctx, c);
    if (buf->base == NULL) {
        log_warn("conn %s: out of memory for input, closing", c->peer);
        conn_close(c, NULL);
        return;
    }
    if (c->tls == NULL) {
        take_input(c, (const uint8_t *)buf->base, (size_t)nread);
        return;
    }
    if (!c->tls_heard) {
        c->tls_heard = true;
        /* A record starts with its type and the version's major byte, 3; an oracle request of
         * 22 bytes starts with 0x16 too, but then a protobuf tag, never 3. */
        if ((uint8_t)buf->base[0] != TLS_HANDSHAKE_RECORD ||
            (nread > 1 && (uint8_t)buf->base[1] != TLS_VERSION_MAJOR)) {
            tls_not_tls(c);
            return;
        }
    }
    if (tlssess_feed(c->tls, buf->base, (size_t)nread) < 0) {
        log_warn("conn %s: out of memory for TLS input, closing", c->peer);
        conn_close(c, NULL);
        return;
    }
    tls_input(c);
}

bool conn_is_idle(const struct conn *c)
{
    return c->counted && !c->closing && !c->close_after_flush && !c->eof && c->waits == NULL &&
           !conn_unsent(c);
}

void conn_read_pending(struct conn *c)
{
    uv_os_fd_t fd;
    if (!c->reading || c->closing || uv_fileno((const uv_handle_t *)&c->tcp, &fd) < 0) {
        return;
    }
    char peek;
    if (recv(fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
        (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return; /* nothing, and no buffer taken for it (on_alloc may grow the connection's) */
    }
    uv_buf_t buf;
    on_alloc((uv_handle_t *)&c->tcp, FRAME_MAX_TOTAL, &buf); /* (TLS: the shared tls_buf) */
    if (buf.base == NULL) {
        return;
    }
    ssize_t n = recv(fd, buf.base, buf.len, MSG_DONTWAIT);
    if (n > 0) {
        on_read((uv_stream_t *)&c->tcp, n, &buf);
    } else if (n == 0) {
        on_read((uv_stream_t *)&c->tcp, UV_EOF, &buf);
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        on_read((uv_stream_t *)&c->tcp, uv_translate_sys_error(errno), &buf);
    }
}

static void free_unaccepted(uv_handle_t *h)
{
    free(container_of((uv_tcp_t *)h, struct conn, tcp));
}

/* A connection's handshake step that waited comes to its turn: it runs, its records go out now
 * (this turn's flush has passed), and the connection is read again. */
static void handshake_turn(struct hspacer *p, struct hspacer_node *n)
{
    (void)p;
    struct conn *c = container_of(n, struct conn, hs_node);
    if (c->closing || c->close_after_flush) {
        return;
    }
    /* A client that gave up while it waited (a connect timeout, say) costs nothing more: its
     * step is not taken. */
    uv_os_fd_t fd;
    char peek;
    if (uv_fileno((const uv_handle_t *)&c->tcp, &fd) == 0) {
        ssize_t r = recv(fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT);
        if (r == 0 && tlssess_input_held(c->tls) > 0) {
            /* Gone after sending what it had (TLS 1.3: its Finished and requests, then a
             * half-close): the step runs, and the requests are answered as after any EOF. */
            tls_peer_closed(c);
            conn_flush(c);
            return;
        }
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            tls_refused(c, TLSSESS_CLOSED, "the client closed the connection while it waited");
            conn_close(c, NULL);
            return;
        }
    }
    tls_input(c);
    if (c->closing || c->hs_node.queued) {
        return;
    }
    conn_flush(c);
    if (!c->closing && !c->close_after_flush && !c->eof && !paused(c)) {
        start_reading(c);
    }
}

int conn_env_init(struct conn_env *env, uv_loop_t *loop, struct cb_clock *clock,
                  size_t max_output_bytes, unsigned keepalive_s, const struct conn_events *events,
                  void *ctx)
{
    memset(env, 0, sizeof(*env));
    env->loop = loop;
    env->clock = clock;
    env->max_output_bytes = max_output_bytes;
    env->keepalive_s = keepalive_s;
    env->events = events;
    env->ctx = ctx;
    int rc = hspacer_init(&env->hs, loop, 0, handshake_turn, env);
    if (rc < 0) {
        hspacer_close(&env->hs);
        return rc;
    }
    return arena_init(&env->arena, ARENA_BYTES);
}

void conn_env_close(struct conn_env *env)
{
    hspacer_close(&env->hs);
}

void conn_env_fini(struct conn_env *env)
{
    arena_fini(&env->arena);
}

struct conn *conn_accept(struct conn_env *env, uv_stream_t *listener, SSL_CTX *tls, int *err)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    c->env = env;
    int rc = uv_tcp_init(env->loop, &c->tcp);
    if (rc < 0) {
        free(c);
        *err = rc;
        return NULL;
    }
    rc = uv_accept(listener, (uv_stream_t *)&c->tcp);
    if (rc < 0) {
        *err = rc;
        /* The handle is initialised: it must be closed, and freed in the callback. */
        uv_close((uv_handle_t *)&c->tcp, free_unaccepted);
        return NULL;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (env->keepalive_s > 0) {
        uv_tcp_keepalive(&c->tcp, 1, env->keepalive_s);
    }
    c->activity_mono_ns = cb_clock_ns(env->clock, CB_CLOCK_MONOTONIC);
    c->progress_mono_ns = c->activity_mono_ns;
    c->accepted_mono_ns = c->activity_mono_ns;
    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    snprintf(c->peer, sizeof(c->peer), "?");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
        (void)cs_peer_key_from((const struct sockaddr *)&ss, &c->peer_key);
        char host[48] = "";
        if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof(host));
            snprintf(c->peer, sizeof(c->peer), "[%s]:%u", host,
                     ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
        } else {
            uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof(host));
            snprintf(c->peer, sizeof(c->peer), "%s:%u", host,
                     ntohs(((struct sockaddr_in *)&ss)->sin_port));
        }
    }
    c->serial = ++env->next_serial;
    env->stats.accepted++;
    cs_list_push(&env->all, &c->by_activity);
    env->events->opened(env->ctx, c);
    if (tls != NULL) {
        c->tls = malloc(sizeof(*c->tls));
        if (c->tls == NULL || tlssess_init(c->tls, tls, true, NULL) < 0) {
            free(c->tls);
            c->tls = NULL;
            log_warn("conn %s: out of memory for a TLS session, closing", c->peer);
            conn_close(c, NULL);
            return c;
        }
    }
    start_reading(c);
    return c;
}

/* --- TLS --- */

bool conn_tls_handshaking(const struct conn *c)
{
    return c->tls != NULL && !c->tls->established;
}

/* Counts a handshake that failed, and logs it: at most CONN_TLS_LOG_BURST lines a window (the
 * rest are counted, and the server says how many); a peer that closes before finishing, as a
 * load balancer's TCP check does, only at debug level. */
static void tls_refused(struct conn *c, enum tlssess_failure f, const char *why)
{
    struct conn_env *env = c->env;
    env->stats.tls_handshakes[f]++;
    const char *who = c->tls->peer_id;
    if (f == TLSSESS_CLOSED) {
        log_debug("conn %s: TLS handshake not finished: %s", c->peer, why);
        return;
    }
    int64_t now = cb_clock_ns(env->clock, CB_CLOCK_MONOTONIC);
    if (env->tls_logged == 0 || now - env->tls_log_window_mono_ns >= CONN_TLS_LOG_WINDOW_NS) {
        env->tls_log_window_mono_ns = now;
        env->tls_logged = 0;
    }
    if (env->tls_logged >= CONN_TLS_LOG_BURST) {
        env->stats.tls_unlogged++;
        return;
    }
    env->tls_logged++;
    log_warn("conn %s: TLS handshake refused (%s): %s%s%s%s", c->peer, tlssess_failure_name(f), why,
             who[0] != '\0' ? " (client certificate " : "", who, who[0] != '\0' ? ")" : "");
}

/* A client that does not speak TLS (an oracle client without TLS, say) gets a plain Error frame
 * it can read, saying so, instead of bytes it cannot. */
static void tls_not_tls(struct conn *c)
{
    tls_refused(c, TLSSESS_PROTOCOL, "the client does not speak TLS");
    c->tls_plain_refusal = true;
    conn_goodbye(c, WIRE_ERROR_BAD_REQUEST, false,
                 "this address speaks TLS: connect with TLS (the client's tls_ca option; "
                 "oracle-cli --tls-ca)");
}

void conn_tls_expired(struct conn *c)
{
    if (c->closing || c->close_after_flush || !conn_tls_handshaking(c)) {
        return; /* refused already, or its alert still going out */
    }
    tls_refused(c, TLSSESS_TIMEOUT, "the handshake did not finish in time");
    conn_close(c, NULL);
}

/* Runs the handshake as far as the records fed allow, then hands the plaintext over as a plain
 * read would, until the session needs more records or input is paused. */
static void tls_input(struct conn *c)
{
    struct tlssess *t = c->tls;
    if (!t->established) {
        if (c->hs_node.queued) {
            return; /* its step is queued: the bytes just fed wait with it */
        }
        if (!hspacer_take(&c->env->hs)) {
            /* This turn's handshake budget is spent: the step waits for a later turn, and
             * the connection is not read meanwhile. */
            stop_reading(c);
            hspacer_defer(&c->env->hs, &c->hs_node, c->tls_answered);
            return;
        }
        int rc = tlssess_handshake(t);
        if (rc < 0) {
            tls_refused(c, t->failure, t->why);
            conn_close_after_flush(c); /* the alert goes out first */
            return;
        }
        if (rc == 0) {
            if (tlssess_pending(t) > 0) {
                c->tls_answered = true; /* its flight: the client's next is a second step */
                mark_dirty(c);
            }
            return;
        }
        c->env->stats.tls_handshakes[TLSSESS_OK]++;
        if (LOG_LEVEL_DEBUG <= log_threshold) {
            char how[96];
            tlssess_describe(t, how, sizeof(how));
            log_debug("conn %s: TLS established, %s%s%s", c->peer, how,
                      t->peer_id[0] != '\0' ? ", client " : "", t->peer_id);
        }
    }
    while (!c->closing && !c->close_after_flush && !paused(c)) {
        uv_buf_t buf;
        input_space(c, &buf);
        if (buf.base == NULL) {
            log_warn("conn %s: out of memory for input, closing", c->peer);
            conn_close(c, NULL);
            return;
        }
        ssize_t n = tlssess_read(t, buf.base, buf.len);
        if (n > 0) {
            take_input(c, (const uint8_t *)buf.base, (size_t)n);
        } else if (n == 0) {
            break;
        } else if (n == TLSSESS_EOF) {
            peer_closed(c);
            break;
        } else {
            log_info("conn %s: TLS: %s, closing", c->peer, t->why);
            conn_close(c, NULL);
            return;
        }
    }
    if (c->closing) {
        return;
    }
    if (paused(c)) {
        /* As handle_input does: a client that does not read its replies stops being read, and
         * the session holds at most what one read brought. */
        stop_reading(c);
    }
    if (tlssess_pending(t) > 0) {
        mark_dirty(c);
    }
}

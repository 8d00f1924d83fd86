/*
 * One client connection: reads frames, decodes each request and hands it to the owner
 * (struct conn_events), and gathers the responses in an output buffer flushed once per loop turn
 * (one write per connection per turn, whatever the number of responses). Knows nothing of the
 * server: limits, clock and callbacks come in struct conn_env.
 *
 * Memory: an idle connection owns no buffers. Reads land in the shared buffer (conn_env); only
 * the bytes not yet handled are kept (at most FRAME_MAX_TOTAL). Output is two buffers: one
 * gathering, one owned by an in-flight uv_write until its callback. Once CONN_OUT_PAUSE_BYTES
 * are unsent, input stops being handled (and read) until the client reads; past the output cap
 * (max_output_bytes, --max-output) the connection is closed.
 *
 * TLS (a listener with a context): the same, with a struct tlssess between the socket and the
 * framing. Reads land in the shared tls_buf and are fed to the session; the plaintext it gives
 * goes where a plain read would (read_buf, or the held input). The responses gathered in a turn
 * are encrypted at the flush, as one write still. Until the handshake is done the connection
 * has no requests, counts against the caps, and is idle (evicted first at a cap); it must
 * finish within the handshake timeout (conn_tls_expired).
 */
#ifndef ORACLE_CONN_H
#define ORACLE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "arena.h"
#include "clock.h"
#include "connset.h"
#include "frame.h"
#include "hspacer.h"
#include "tlssess.h"
#include "wire.h"

struct conn;
struct pending;

#define CONN_OUT_PAUSE_BYTES                                      \
    (256 * 1024) /* stop handling input while this much is unsent \
                  * (or half the output cap, if smaller) */

/* What the owner of the connections (the server) hears of them, each with conn_env's ctx. */
struct conn_events {
    void (*opened)(void *ctx, struct conn *c); /* accepted, in the list: count it */
    void (*active)(void *ctx, struct conn *c); /* it sent something */
    /* The requests of one read come between a batch(ctx, true) and a batch(ctx, false). */
    void (*batch)(void *ctx, bool begin);
    void (*request)(void *ctx, struct conn *c, const struct request *req);
    /* A frame that is no Request (why says what): answer BAD_REQUEST. After bad framing the
     * connection then closes once that is written. */
    void (*bad_input)(void *ctx, struct conn *c, const char *why);
    /* No longer counted against the caps: closing, or closing once its last reply is written.
     * May come more than once. */
    void (*leaving)(void *ctx, struct conn *c);
    void (*closing)(void *ctx, struct conn *c); /* closing now: its waits go unanswered */
    void (*freed)(void *ctx, struct conn *c);   /* its memory goes after this */
};

/* What the connections count. */
struct conn_stats {
    uint64_t accepted;
    uint64_t cut_off;     /* replies not read (output cap or write timeout) */
    uint64_t idle_closed; /* idle timeout */
    uint64_t bad_frames;  /* closed for bad framing */
    /* TLS handshakes by outcome: [TLSSESS_OK] those established, the others failed. */
    uint64_t tls_handshakes[TLSSESS_FAILURES];
    uint64_t tls_unlogged; /* failures not logged: more than CONN_TLS_LOG_BURST a window */
};

#define CONN_TLS_HANDSHAKE_READ (16384 + 256) /* bytes a read takes during the handshake */
#define CONN_TLS_LOG_BURST      10 /* handshake failures logged per window, the rest counted */
#define CONN_TLS_LOG_WINDOW_NS  INT64_C(10000000000)

/* What every connection shares: the owner's limits, clock and callbacks, the read buffer, the
 * list of connections and of those with output to flush, and the counters. One per server. */
struct conn_env {
    uv_loop_t *loop;
    struct cb_clock *clock;  /* CLOCK_MONOTONIC: activity, progress, flush times */
    size_t max_output_bytes; /* unread replies before the client is cut off */
    unsigned keepalive_s;    /* 0: off */
    const struct conn_events *events;
    void *ctx;
    int clock_status;   /* reported in error frames: the status of the latest reading */
    struct cs_list all; /* every connection until freed, most recently active first */
    struct conn *dirty; /* connections with output to flush */
    struct arena arena; /* requests are decoded into it */
    uint64_t next_serial;
    struct conn_stats stats;
    struct hspacer hs;                 /* TLS handshake steps, a few a turn */
    int64_t tls_log_window_mono_ns;    /* when the current window of failure lines began */
    unsigned tls_logged;               /* ... and how many were written in it */
    uint8_t read_buf[FRAME_MAX_TOTAL]; /* every read lands here first (TLS: the plaintext) */
    uint8_t tls_buf[FRAME_MAX_TOTAL];  /* TLS: every read of records lands here first */
};

struct conn {
    uv_tcp_t tcp; /* first: the handle's memory is the connection's */
    struct conn_env *env;
    char peer[64];
    uint64_t serial;        /* for logs */
    struct tlssess *tls;    /* NULL: plaintext */
    bool tls_heard;         /* its first bytes came */
    bool tls_plain_refusal; /* they were not TLS: the refusal goes out as a plain Error frame */
    struct hspacer_node hs_node; /* its next handshake step waits for a turn (env->hs) */
    bool tls_answered;           /* the server sent its handshake flight: the client waits */
    int64_t accepted_mono_ns; /* CLOCK_MONOTONIC at accept: the handshake's deadline runs from it */

    uint8_t *in; /* input not handled yet: an incomplete frame, or frames held while paused */
    size_t in_len;
    size_t in_cap;

    uint8_t *out; /* responses gathered this turn */
    size_t out_len;
    size_t out_cap;
    uint8_t *wbuf; /* owned by the in-flight write */
    size_t wbuf_cap;
    uv_write_t wreq;
    bool writing;

    bool dirty; /* in the flush list */
    struct conn *dirty_next;
    bool reading;
    bool closing;
    bool close_after_flush;   /* an error was the last word: close once it is written */
    bool eof;                 /* the client half-closed: close once its waits are answered */
    int64_t flushed_mono_ns;  /* CLOCK_MONOTONIC when output was last handed to the kernel
                               * (just before the write call) */
    int64_t activity_mono_ns; /* when the client last sent anything */
    int64_t progress_mono_ns; /* when unsent output last moved (or started waiting) */

    struct pending *waits; /* this connection's pending commit-waits (waits.h) */
    size_t n_waits;
    struct cs_node by_activity;  /* env->all */
    struct cs_node by_peer;      /* its peer's list, while counted and the per-peer cap is on */
    struct cs_peer_key peer_key; /* family 0 when the address could not be read */
    struct cs_peer *peer_entry;  /* NULL when not in a peer's list */
    bool counted;                /* counts against the caps: open, not closing or evicted */
    uint64_t requests;
};

/* The connection whose node by_activity is n. */
static inline struct conn *conn_of_activity(struct cs_node *n)
{
    return n == NULL ? NULL
                     : (struct conn *)(void *)((char *)n - offsetof(struct conn, by_activity));
}

/* The connection whose node by_peer is n. */
static inline struct conn *conn_of_peer_node(struct cs_node *n)
{
    return n == NULL ? NULL : (struct conn *)(void *)((char *)n - offsetof(struct conn, by_peer));
}

/* Whether c could be closed to make room at a cap: open, with nothing pending either way (no
 * commit-wait, no reply unsent, not half-closed). Part of a frame held does not count: a client
 * writes a frame at once, so one arriving now is at the newest end of the activity order, and
 * a peer holding half a frame is holding a slot, as a slow HTTP head is (were it spared, a few
 * such peers would fill the cap and lock every client out). Nothing of it was handled, so the
 * client may send it again. */
bool conn_is_idle(const struct conn *c);
/* Reads and handles at once what the peer has sent and libuv has not read yet (one recv, as a
 * read callback would): before a connection is judged idle, so that a request already sent is
 * served rather than lost with the connection, and half a frame is seen for what it is. c may
 * be closing on return (the peer had gone, or sent garbage). */
void conn_read_pending(struct conn *c);

/* Sets up what connections share. Returns 0 or -ENOMEM. A zeroed struct is safe to fini. */
int conn_env_init(struct conn_env *env, uv_loop_t *loop, struct cb_clock *clock,
                  size_t max_output_bytes, unsigned keepalive_s, const struct conn_events *events,
                  void *ctx);
/* Closes env's own handles (the handshake pacer's), before the loop is run to its end. */
void conn_env_close(struct conn_env *env);
void conn_env_fini(struct conn_env *env);

/*
 * Accepts a connection from the listening stream; with tls (not NULL) it speaks TLS with that
 * context (SSL_new takes a reference). Returns the connection (in env->all until freed after
 * conn_close()) or NULL with *err set (a negative errno or UV_E*).
 */
struct conn *conn_accept(struct conn_env *env, uv_stream_t *listener, SSL_CTX *tls, int *err);

/* Whether c is a TLS connection whose handshake has not finished. */
bool conn_tls_handshaking(const struct conn *c);
/* Closes c, a handshake that took too long (counted as TLSSESS_TIMEOUT, logged). */
void conn_tls_expired(struct conn *c);

/* Queues a response (encoded at once) for the next flush. Returns 0 or -ENOMEM (the connection
 * is then closed). */
int conn_send(struct conn *c, const struct response *r);
/* Queues an Error response to request id (0: the connection's) with env->clock_status. */
void conn_send_error(struct conn *c, uint64_t id, enum wire_error code, bool retriable,
                     const char *message);
/* Sends a connection-level Error (id 0) at once and closes the connection once it is written
 * (c may be closing on return): an eviction comes in a burst of accepts, and a request the
 * client sends before it sees the frame would be lost with the connection. */
void conn_goodbye(struct conn *c, enum wire_error code, bool retriable, const char *message);

/* Writes what was gathered (uv_try_write, then uv_write for the rest). */
void conn_flush(struct conn *c);
/* Writes every connection's gathered responses: one write each. */
void conn_flush_all(struct conn_env *env);

/* Closes at once: pending waits are dropped, buffers freed in the close callback. */
void conn_close(struct conn *c, const char *why);
/* Closes a client whose replies stay unread (counted, logged with why). */
void conn_cut_off(struct conn *c, const char *why);
/* Closes a connection idle too long (counted). */
void conn_close_idle(struct conn *c);

/* Closes once the responses gathered so far are written; reads nothing more. */
void conn_close_after_flush(struct conn *c);

/* Called when one of the connection's commit-waits was answered: a half-closed connection
 * whose last wait this was closes once its output is written. */
void conn_wait_done(struct conn *c);

/* Whether replies are waiting to be written (gathered or in flight). */
bool conn_unsent(const struct conn *c);

#endif

/*
 * One client connection: reads frames, hands each request to the server, and gathers the
 * responses in an output buffer that the server flushes once per loop turn (one write per
 * connection per turn, whatever the number of responses).
 *
 * Memory: an idle connection owns no buffers. Reads land in the server's shared buffer; only
 * the bytes not yet handled are kept (at most FRAME_MAX_TOTAL). Output is two buffers: one
 * gathering, one owned by an in-flight uv_write until its callback. Once CONN_OUT_PAUSE_BYTES
 * are unsent, input stops being handled (and read) until the client reads; past the server's
 * output cap (--max-output) the connection is closed.
 */
#ifndef ORACLE_CONN_H
#define ORACLE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "connset.h"
#include "wire.h"

struct server;
struct pending;

#define CONN_OUT_PAUSE_BYTES                                      \
    (256 * 1024) /* stop handling input while this much is unsent \
                  * (or half the output cap, if smaller) */

struct conn {
    uv_tcp_t tcp; /* first: the handle's memory is the connection's */
    struct server *srv;
    char peer[64];
    uint64_t serial; /* for logs */

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

    bool dirty; /* in the server's flush list */
    struct conn *dirty_next;
    bool reading;
    bool closing;
    bool close_after_flush;   /* an error was the last word: close once it is written */
    bool eof;                 /* the client half-closed: close once its waits are answered */
    int64_t flushed_mono_ns;  /* CLOCK_MONOTONIC when output was last handed to the kernel
                               * (just before the write call) */
    int64_t activity_mono_ns; /* when the client last sent anything */
    int64_t progress_mono_ns; /* when unsent output last moved (or started waiting) */

    struct pending *waits; /* this connection's pending commit-waits */
    size_t n_waits;
    struct cs_node by_activity;  /* the server's list of connections, most recently active first */
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
/* Whether bytes from the peer still wait in the kernel (one ioctl): more than one read took. */
bool conn_input_waiting(const struct conn *c);

/*
 * Accepts a connection from the listening stream server_stream. Returns the connection (owned
 * by the server's list, freed after conn_close()) or NULL with *err set.
 */
struct conn *conn_accept(struct server *srv, uv_stream_t *server_stream, int *err);

/* Queues a response (encoded at once) for the next flush. Returns 0 or -ENOMEM (the connection
 * is then closed). */
int conn_send(struct conn *c, const struct response *r);

/* Writes what was gathered (uv_try_write, then uv_write for the rest). */
void conn_flush(struct conn *c);

/* Closes at once: pending waits are dropped, buffers freed in the close callback. */
void conn_close(struct conn *c, const char *why);

/* Closes once the responses gathered so far are written; reads nothing more. */
void conn_close_after_flush(struct conn *c);

/* Called when one of the connection's commit-waits was answered: a half-closed connection
 * whose last wait this was closes once its output is written. */
void conn_wait_done(struct conn *c);

#endif

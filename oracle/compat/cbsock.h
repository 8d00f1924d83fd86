/*
 * The ClockBound v1 socket on the daemon's loop: a unix datagram socket at a path, answering
 * Now/Before/After (cbproto.h) from the caller's Now, to each client's own bound address (a
 * named path or an abstract one). A datagram from an unbound client has nowhere to go back to:
 * it is dropped and counted, with a log line at most every 10 s.
 */
#ifndef ORACLE_CBSOCK_H
#define ORACLE_CBSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "clockbound.h"

#define CBSOCK_DEFAULT_MODE 0666
/* Datagrams handled per wake-up before the loop gets a turn. */
#define CBSOCK_BATCH 64

/* A count of dropped requests, logged as a rate-limited line (the first, then at most one
 * every CBSOCK_LOG_EVERY_NS with the number since the last). */
struct cbsock_tally {
    uint64_t count;
    uint64_t logged;      /* count at the last log line */
    int64_t logged_at_ns; /* CLOCK_MONOTONIC_COARSE then */
};

#define CBSOCK_LOG_EVERY_NS INT64_C(10000000000)

/* Fills now with the server's Now at this instant, and *bound_holds with whether its bound
 * contains true time (cbp_bound_holds). */
typedef void cbsock_now_fn(void *ctx, struct cb_now *now, bool *bound_holds);

struct cbsock {
    uv_poll_t poll;
    int fd;
    bool open;
    char path[108];
    cbsock_now_fn *now_fn;
    void *ctx;
    /* Each request is counted once, under one of these four. */
    uint64_t answered;           /* well-formed, answered (the error too, for an untrusted clock) */
    uint64_t malformed;          /* answered with an error response */
    struct cbsock_tally unbound; /* from clients with no address to answer to */
    struct cbsock_tally
        send_failed; /* the reply could not go out: a client's socket full or gone */
    void (*close_cb)(struct cbsock *s);
    bool closing;      /* the handle is closing: on_closed has not run yet */
    bool close_called; /* cbsock_close() was called */
};

/*
 * Binds path (replacing a stale socket file nobody answers on; refusing a live one or any
 * other file), sets its mode, and starts answering on loop. Returns 0, or a negative errno
 * with a sentence in why.
 */
int cbsock_open(struct cbsock *s, uv_loop_t *loop, const char *path, unsigned mode,
                cbsock_now_fn *now_fn, void *ctx, char *why, size_t why_cap);

/* Stops, closes and removes the socket file; close_cb runs once the handle is closed (at once
 * when it was never opened). Safe on a zeroed struct and after a failed cbsock_open; a second
 * call does nothing. */
void cbsock_close(struct cbsock *s, void (*close_cb)(struct cbsock *s));

#endif

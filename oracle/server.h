/*
 * The daemon: one libuv loop with the TCP listeners, the chrony poller, the commit-wait queue
 * and its wake timer. A struct server is owned by main() and passed down; nothing is global.
 */
#ifndef ORACLE_SERVER_H
#define ORACLE_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "arena.h"
#include "chrony_client.h"
#include "clockbound.h"
#include "commitwait.h"
#include "conn.h"
#include "frame.h"
#include "histogram.h"
#include "poller.h"
#include "tsalloc.h"
#include "waketimer.h"

#define SERVER_MAX_LISTEN        8
#define SERVER_DEFAULT_LISTEN    "0.0.0.0:7600"
#define SERVER_DEFAULT_MAX_WAIT  100000000 /* 100 ms */
#define SERVER_DEFAULT_RUN_AHEAD 1000000   /* 1 ms */
#define SERVER_STATS_INTERVAL_MS 10000
#define SERVER_MAX_PENDING       262144 /* commit-waits pending in all (OVERLOADED beyond) */
#define SERVER_SHUTDOWN_WRITE_MS 1000   /* how long replies may take to go out at exit */

struct server_config {
    const char *listen[SERVER_MAX_LISTEN]; /* "HOST:PORT" or "[V6]:PORT" */
    int n_listen;
    struct chrony_addr chrony;
    char chrony_text[CHRONY_PATH_MAX + 16];
    int64_t poll_interval_ns;
    struct cb_params clock;
    int64_t max_wait_ns;
    int64_t max_run_ahead_ns;
    const char *version;
};

/* A pending commit-wait: GetTimestamp with commit_wait, or WaitUntil. */
struct pending {
    struct cw_waiter cw;
    struct conn *conn;
    struct pending *conn_prev, *conn_next; /* the connection's list */
    struct pending *free_next;             /* the pool's free list */
    uint64_t id;
    enum req_op op;
    uint64_t first_ns; /* GetTimestamp: the batch */
    uint32_t count;
};

/* A release made this loop turn, whose lateness is complete once its connection is flushed. */
struct release_mark {
    struct conn *conn;
    int64_t late_at_release_ns; /* from the moment earliest passed the timestamp to the release */
    int64_t release_mono_ns;
};

struct server {
    uv_loop_t *loop;
    const struct server_config *cfg;
    struct cb_clock *clock;
    struct cb_state clock_state;
    enum cb_status last_status; /* from the latest clock reading, for every response */
    enum cb_status logged_status;
    enum cb_reason logged_reason;
    bool demo_warned;

    struct poller poller;
    struct tsalloc alloc;
    struct cw_queue waits;
    struct waketimer wake;
    struct arena arena;

    uv_tcp_t listeners[SERVER_MAX_LISTEN];
    int n_listeners;
    uv_check_t flush_check;
    uv_timer_t stats_timer;
    uv_timer_t shutdown_timer;
    uv_signal_t sigint;
    uv_signal_t sigterm;

    uint8_t read_buf[FRAME_MAX_TOTAL]; /* every read lands here first */
    struct conn *conns;                /* all open connections */
    struct conn *dirty;                /* connections with output to flush */
    size_t n_conns;
    uint64_t next_serial;

    struct pending *free_pending;
    struct pending **pending_chunks;
    size_t n_pending_chunks;

    struct release_mark *marks;
    size_t n_marks;
    size_t marks_cap;

    struct histogram lateness;        /* release lateness since start, ns */
    struct histogram lateness_recent; /* since the last stats line */
    struct histogram waited;          /* commit-wait durations, ns */

    uint64_t requests;
    uint64_t errors;
    char instance_id[33];
    char time_source[WIRE_INFO_TEXT_MAX];
    bool stopping;
    bool shutdown_timer_closed;
    bool poller_ok; /* what server_init got as far as, for server_stop() */
    bool wake_ok;
    bool handles_ok;
};

/* Sets up everything (sockets bound and listening, handles initialised). Returns 0 or a
 * negative errno / UV_E* with a message already logged. */
int server_init(struct server *s, uv_loop_t *loop, const struct server_config *cfg,
                struct cb_clock *clock);
/* Starts polling chrony and accepting connections. */
int server_start(struct server *s);
/* Closes every handle and connection; uv_run() then returns. */
void server_stop(struct server *s);
/* Frees what is left once the loop has stopped. */
void server_fini(struct server *s);

/* Used by conn.c. */
uint8_t *server_read_buffer(struct server *s);
void server_conn_opened(struct server *s, struct conn *c);
void server_on_frame(struct server *s, struct conn *c, const uint8_t *msg, size_t len);
void server_mark_dirty(struct server *s, struct conn *c);
void server_conn_closing(struct server *s, struct conn *c);
void server_conn_freed(struct server *s, struct conn *c);

/* Sends an Error response carrying the current clock status. */
void server_send_error(struct server *s, struct conn *c, uint64_t id, enum wire_error code,
                       bool retriable, const char *message);

/* Used by ops.c. */
void server_now(struct server *s, struct cb_now *now);
struct pending *server_pending_get(struct server *s);
void server_pending_put(struct server *s, struct pending *p);
/* Queues p on its connection and in the commit-wait queue, and schedules the wake-up.
 * Returns 0, -EBUSY (too many pending: per connection or in all) or -ENOMEM; p is returned
 * to the pool on failure. */
int server_enqueue(struct server *s, struct pending *p, uint64_t release_ts, int64_t max_wait_ns,
                   const struct cb_now *now);

#endif

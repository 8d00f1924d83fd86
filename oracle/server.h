/*
 * The daemon: one libuv loop with the TCP listeners, the HTTP endpoint, the chrony poller, the
 * commit-wait queue and its wake timer, and the reservation of timestamps on disk. A struct
 * server is owned by main() and passed down; nothing is global.
 *
 * Life cycle: starting (NOT_READY until the clock is trusted, earliest has passed the
 * high-water mark found on disk and a new one is durable), serving, draining (SIGTERM:
 * /healthz 503 at once, still serving for the drain delay), closing (no new connections or
 * requests; pending waits finish within the max wait or fail), stopped.
 */
#ifndef ORACLE_SERVER_H
#define ORACLE_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "admit.h"
#include "arena.h"
#include "chrony_client.h"
#include "clockbound.h"
#include "commitwait.h"
#include "compat/cbcompat.h"
#include "conn.h"
#include "frame.h"
#include "histogram.h"
#include "httpd.h"
#include "poller.h"
#include "reserve.h"
#include "tsalloc.h"
#include "vmwatch.h"
#include "waketimer.h"

#define SERVER_MAX_LISTEN               8
#define SERVER_DEFAULT_LISTEN           "0.0.0.0:7600"
#define SERVER_DEFAULT_HTTP_LISTEN      "0.0.0.0:7601"
#define SERVER_DEFAULT_STATE_DIR        "/var/lib/oracled"
#define SERVER_DEFAULT_MAX_WAIT         100000000 /* 100 ms */
#define SERVER_DEFAULT_RUN_AHEAD        1000000   /* 1 ms */
#define SERVER_DEFAULT_MAX_CONNECTIONS  16384
#define SERVER_DEFAULT_MAX_PENDING      262144                /* commit-waits pending in all */
#define SERVER_DEFAULT_MAX_PENDING_CONN 4096                  /* ... on one connection */
#define SERVER_DEFAULT_MAX_OUTPUT       (2 * 1024 * 1024)     /* unread replies before a cut-off */
#define SERVER_DEFAULT_IDLE_TIMEOUT     INT64_C(600000000000) /* 10 min */
#define SERVER_DEFAULT_WRITE_TIMEOUT    INT64_C(10000000000)  /* 10 s without progress */
#define SERVER_DEFAULT_KEEPALIVE_S      60 /* well below the AWS NLB's 350 s idle timeout */
#define SERVER_STATS_INTERVAL_MS        10000
#define SERVER_SWEEP_INTERVAL_MS        1000
#define SERVER_SHUTDOWN_WRITE_MS        1000 /* how long final replies may take to go out */

struct server_config {
    const char *listen[SERVER_MAX_LISTEN]; /* "HOST:PORT" or "[V6]:PORT" */
    int n_listen;
    const char *http_listen[HTTPD_MAX_LISTEN];
    int n_http_listen;
    struct chrony_addr chrony;
    char chrony_text[CHRONY_PATH_MAX + 16];
    int64_t poll_interval_ns;
    struct cb_params clock;
    int64_t max_wait_ns;
    int64_t max_run_ahead_ns;
    const char *state_dir; /* NULL: no state file (in-process tests only) */
    int64_t state_window_ns;
    size_t max_connections;
    size_t max_connections_per_peer; /* 0: no cap */
    size_t http_max_connections;
    size_t max_pending;
    size_t max_pending_per_conn;
    size_t max_output_bytes;
    int64_t idle_timeout_ns;  /* 0: none */
    int64_t write_timeout_ns; /* 0: none */
    unsigned keepalive_s;     /* 0: off */
    int64_t drain_delay_ns;
    const char *clockbound_socket; /* NULL: off */
    unsigned clockbound_socket_mode;
    const char *clockbound_shm; /* NULL: off */
    /* The PHC's own error bound (clockbound/phc.h): the ENA interface whose PCI device publishes
     * it, or the file itself; at most one, both NULL: off. Added while chrony's reference ID is
     * phc_ref_id. */
    const char *phc_interface;
    const char *phc_error_bound_file;
    uint32_t phc_ref_id;
    /* The VMClock page: NULL for /dev/vmclock0 when it exists, "none" for none (vmwatch.h). */
    const char *vmclock;
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

#define STATS_OPS     (REQ_OP_SERVER_INFO + 1)
#define STATS_RESULTS (WIRE_ERROR_SHUTTING_DOWN + 1) /* 0: ok, then the error codes */

struct server_stats {
    uint64_t requests[STATS_OPS][STATS_RESULTS]; /* by operation and result */
    uint64_t conns_accepted;
    uint64_t conns_evicted[ADMIT_CAPS]; /* idle, closed to make room at a cap (admit.h) */
    uint64_t conns_refused[ADMIT_CAPS]; /* new, closed at a cap where none was idle */
    uint64_t conns_cut_off;             /* replies not read (output cap or write timeout) */
    uint64_t conns_idle_closed;         /* idle timeout */
    uint64_t bad_frames;                /* connections closed for bad framing */
    uint64_t bound_violations;
    int64_t worst_violation_ns;
    struct histogram commit_wait; /* ns */
    struct histogram lateness;
    struct histogram lateness_recent;
    struct histogram chrony_rtt;
};

enum server_phase {
    PHASE_STARTING,
    PHASE_SERVING,
    PHASE_DRAINING, /* /healthz 503; still serving until the drain delay is over */
    PHASE_CLOSING,  /* no new connections or requests; pending waits finish or fail */
    PHASE_STOPPED,
};

struct server {
    uv_loop_t *loop;
    const struct server_config *cfg;
    struct cb_clock *clock;
    struct cb_state clock_state;
    struct cb_state prev_clock_state; /* before the latest poll: for bound violations */
    enum cb_status last_status;       /* from the latest clock reading, for every response */
    /* One clock reading serves every request of a read batch (server_batch_begin/end). */
    bool in_batch;
    bool batch_now_valid;
    struct cb_now batch_now;
    enum cb_status logged_status;
    enum cb_reason logged_reason;
    bool demo;
    bool maxclockerror_warned; /* chrony's maxclockerror was measured below the setting */
    enum server_phase phase;
    int64_t start_mono_ns;
    int64_t start_rt_ns;

    struct poller poller;
    struct vmwatch vmwatch;       /* the VMClock page, when there is one */
    uint64_t vm_disruptions_seen; /* clock_state.vm_disruptions already handled */
    struct reserve reserve;
    struct tsalloc alloc;
    struct cw_queue waits;
    struct waketimer wake;
    struct cbcompat cbcompat;
    struct arena arena;
    struct httpd httpd;

    uv_tcp_t listeners[SERVER_MAX_LISTEN];
    int n_listeners;
    bool listeners_closed;
    uv_check_t flush_check;
    uv_timer_t stats_timer;
    uv_timer_t sweep_timer;
    uv_timer_t drain_timer;
    uv_timer_t shutdown_timer;
    uv_signal_t sigint;
    uv_signal_t sigterm;

    uint8_t read_buf[FRAME_MAX_TOTAL]; /* every read lands here first */
    struct cs_list conns;  /* every connection until freed, most recently active first */
    struct conn *dirty;    /* connections with output to flush */
    size_t n_live;         /* connections counted against --max-connections */
    struct cs_peers peers; /* by address, when --max-connections-per-peer is set */
    struct admit_log admit_log;
    uint64_t next_serial;

    struct pending *free_pending;
    struct pending **pending_chunks;
    size_t n_pending_chunks;

    struct release_mark *marks;
    size_t n_marks;
    size_t marks_cap;

    struct server_stats stats;
    char instance_id[33];
    char time_source[WIRE_INFO_TEXT_MAX];
    bool poller_ok; /* what server_init got as far as, for server_stop() */
    bool cbcompat_ok;
    bool wake_ok;
    bool handles_ok;
    bool httpd_ok;
    bool shutdown_timer_closed;
};

/* Sets up everything (sockets bound and listening, state directory locked, handles
 * initialised). Returns 0 or a negative errno / UV_E* with a message already logged; then call
 * server_stop(), run the loop dry and server_fini(). */
int server_init(struct server *s, uv_loop_t *loop, const struct server_config *cfg,
                struct cb_clock *clock);
/* Starts polling chrony and accepting connections. */
int server_start(struct server *s);
/* SIGTERM: drain (see above), then stop. A second call stops at once. */
void server_drain(struct server *s);
/* Closes every handle and connection now; uv_run() then returns. */
void server_stop(struct server *s);
/* Frees what is left once the loop has stopped. */
void server_fini(struct server *s);

/* True once started up and not yet draining: what /healthz reports (with the clock). */
bool server_ready(const struct server *s);

/* Used by conn.c. */
uint8_t *server_read_buffer(struct server *s);
void server_conn_opened(struct server *s, struct conn *c);
void server_conn_active(struct server *s, struct conn *c); /* it sent something */
void server_on_frame(struct server *s, struct conn *c, const uint8_t *msg, size_t len);
void server_mark_dirty(struct server *s, struct conn *c);
void server_conn_closing(struct server *s, struct conn *c);
void server_conn_freed(struct server *s, struct conn *c);

/* Sends an Error response carrying the current clock status, counted for op. */
void server_send_error(struct server *s, struct conn *c, enum req_op op, uint64_t id,
                       enum wire_error code, bool retriable, const char *message);
/* Sends a connection-level Error (id 0) at once, counted for no request, and closes the
 * connection once it is written (c may be closing on return). */
void server_send_goodbye(struct server *s, struct conn *c, enum wire_error code, bool retriable,
                         const char *message);
/* Counts a successful answer to op. */
void server_count_ok(struct server *s, enum req_op op);

/* Used by ops.c. */
void server_now(struct server *s, struct cb_now *now);
/*
 * The clock for a request: within a read batch, one reading taken at its first request serves
 * them all. It is taken after every request of the batch arrived, so it is a sound "now" for
 * each: a timestamp is still at or above latest when its request arrived, Now's interval
 * still holds true time between request and reply, and WaitUntil's "already past" still
 * means past. Commit-wait releases always read the clock afresh.
 */
void server_request_now(struct server *s, struct cb_now *now);
/* A read batch begins and ends (conn.c, around the requests of one read). */
void server_batch_begin(struct server *s);
void server_batch_end(struct server *s);
struct pending *server_pending_get(struct server *s);
void server_pending_put(struct server *s, struct pending *p);
/* Queues p on its connection and in the commit-wait queue, and schedules the wake-up.
 * Returns 0, -EBUSY (too many pending: per connection or in all) or -ENOMEM; p is returned
 * to the pool on failure. */
int server_enqueue(struct server *s, struct pending *p, uint64_t release_ts, int64_t max_wait_ns,
                   const struct cb_now *now);
/* After timestamps were taken: keeps the reservation on disk ahead of them. */
void server_issued(struct server *s, const struct cb_now *now);

#endif

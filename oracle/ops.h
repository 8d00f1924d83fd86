/*
 * The operations of the wire protocol: what each request gets (DESIGN.md sections 2 and 3), and
 * the commit-waits they leave behind. Immediate answers go out at once; a commit-wait becomes a
 * struct pending (waits.h) and is answered by the release pass, ops_wake(): released once
 * earliest passes its timestamp, WAIT_TOO_LONG at its deadline, or a retriable error when the
 * clock is no longer trusted.
 *
 * Knows nothing of the server's life cycle but two flags the server sets: started (timestamps
 * may be served) and closing (new requests get SHUTTING_DOWN). The clock comes through the
 * now callback (the server's reading, with its side effects), once per read batch for requests
 * (ops_batch) and afresh for every release pass.
 */
#ifndef ORACLE_OPS_H
#define ORACLE_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "clockbound.h"
#include "conn.h"
#include "histogram.h"
#include "reserve.h"
#include "tsalloc.h"
#include "waits.h"
#include "waketimer.h"
#include "wire.h"

#define OPS_COUNTED_OPS     (REQ_OP_SERVER_INFO + 1)
#define OPS_COUNTED_RESULTS (WIRE_ERROR_SHUTTING_DOWN + 1) /* 0: ok, then the error codes */

typedef void ops_now_fn(void *ctx, struct cb_now *now);

/* What ops_init needs. Strings are borrowed and must outlive the struct ops. */
struct ops_config {
    int64_t max_wait_ns;
    int64_t max_run_ahead_ns;
    uint32_t max_drift_ppb;
    size_t max_pending;
    size_t max_pending_per_conn;
    const char *version;
    const char *instance_id;
    const char *time_source; /* read at every ServerInfo: may change */
    ops_now_fn *now;
    void *now_ctx;
    struct conn_env *conns;  /* to flush after a release pass */
    struct reserve *reserve; /* kept ahead of the timestamps issued */
    struct waketimer *wake;  /* armed for the next release or deadline */
};

struct ops_stats {
    uint64_t requests[OPS_COUNTED_OPS][OPS_COUNTED_RESULTS]; /* by operation and result */
    const struct histogram *commit_wait;                     /* how long waits held, ns */
    const struct histogram *lateness;        /* earliest passing the timestamp to the reply sent */
    const struct histogram *late_at_release; /* ... its part before the release */
    const struct histogram *late_write;      /* ... and after */
    uint64_t release_passes;
    size_t pending;       /* commit-waits pending now */
    uint64_t last_issued; /* the last timestamp handed out, 0 before the first */
};

struct ops {
    struct ops_config cfg;
    bool started; /* set by the server: timestamps may be served */
    bool closing; /* set by the server: new requests get SHUTTING_DOWN */
    struct tsalloc alloc;
    struct waits waits;
    bool in_batch;
    bool batch_now_valid;
    struct cb_now batch_now;
    uint64_t requests[OPS_COUNTED_OPS][OPS_COUNTED_RESULTS];
    struct histogram commit_wait;
    struct histogram lateness;
    struct histogram lateness_recent; /* since the last ops_take_recent_lateness */
    struct histogram late_at_release; /* lateness's part before the release */
    struct histogram late_write;      /* ... and after it, to the reply handed to the kernel */
    uint64_t release_passes;          /* release passes that released one waiter or more */
};

/* Sets up the operations; alloc starts from the reservation found on disk (reserve.h). A zeroed
 * struct is safe to fini. */
void ops_init(struct ops *o, const struct ops_config *cfg);
void ops_fini(struct ops *o);

/* A read's requests begin (one clock reading serves them all: it is taken after every one of
 * them arrived, so it is a sound "now" for each) and end. */
void ops_batch(struct ops *o, bool begin);
/* Answers or queues one request. */
void ops_handle(struct ops *o, struct conn *c, const struct request *req);
/* Answers a frame that is no Request: BAD_REQUEST, counted under no operation. */
void ops_reject(struct ops *o, struct conn *c, const char *why);

/* The release pass: releases what is due, expires what is past its deadline, fails everything
 * when the clock is not trusted, writes the replies, and arms the wake-up for what is left. */
void ops_wake(struct ops *o);
/* Writes every connection's replies and completes the lateness of the releases they carry. */
void ops_flush(struct ops *o);

/* c is closing: its waits go unanswered. */
void ops_conn_closing(struct ops *o, struct conn *c);
/* Shutting down: each of c's waits gets SHUTTING_DOWN (retriable). */
void ops_shutdown_conn(struct ops *o, struct conn *c);

/* The figures, pointing into o (valid until o changes). */
void ops_stats(const struct ops *o, struct ops_stats *out);
/* The lateness histogram since the last call, then reset (for the periodic log line). */
void ops_take_recent_lateness(struct ops *o, struct histogram *out);

#endif

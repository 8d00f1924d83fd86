/*
 * The commit-waits in flight: each a struct pending (a GetTimestamp with commit_wait, or a
 * WaitUntil), in the commit-wait queue (commitwait.h) and on its connection's list; the pool
 * they come from (grown in chunks, never freed per request); and the release marks that
 * complete each release's lateness once its reply is handed to the kernel.
 *
 * Memory and lists only: what a release or an expiry answers is ops.c's.
 */
#ifndef ORACLE_WAITS_H
#define ORACLE_WAITS_H

#include <stddef.h>
#include <stdint.h>

#include "commitwait.h"
#include "histogram.h"
#include "wire.h"

struct conn;

struct pending {
    struct cw_waiter cw;
    struct conn *conn;
    struct pending *conn_prev, *conn_next; /* the connection's list (conn->waits) */
    struct pending *free_next;             /* the pool's free list */
    uint64_t id;
    enum req_op op;
    uint64_t first_ns; /* GetTimestamp: the batch */
    uint32_t count;
};

/* A release made this loop turn, whose lateness is complete once its connection is flushed. */
struct release_mark {
    struct conn *conn;          /* NULL once the connection closed: the mark cannot complete */
    int64_t late_at_release_ns; /* from the moment earliest passed the timestamp to the release */
    int64_t release_mono_ns;
};

struct waits {
    struct cw_queue queue;
    size_t max_pending;          /* in all (--max-pending) */
    size_t max_pending_per_conn; /* on one connection */
    struct pending *free;
    struct pending **chunks;
    size_t n_chunks;
    struct release_mark *marks;
    size_t n_marks;
    size_t marks_cap;
};

/* A zeroed struct waits is safe to fini. */
void waits_init(struct waits *w, size_t max_pending, size_t max_pending_per_conn);
/* Frees the pool, the marks and the queue's arrays. Idempotent. */
void waits_fini(struct waits *w);

/* A zeroed pending from the pool (not queued), or NULL when out of memory. */
struct pending *waits_get(struct waits *w);
/* Back to the pool (it must be out of the queue and off its connection). */
void waits_put(struct waits *w, struct pending *p);

/* Queues p (its conn set) on release_ts and its connection, with a deadline max_wait_ns after
 * now_mono_ns. Returns 1 when p is a new head of the queue (the wake-up may be due sooner), 0
 * when queued behind others, -EBUSY when too many are pending (on its connection or in all),
 * -ENOMEM; on failure p is back in the pool. */
int waits_add(struct waits *w, struct pending *p, uint64_t release_ts, int64_t max_wait_ns,
              int64_t now_mono_ns);
/* The pending of a waiter just popped from the queue, taken off its connection too, so nothing
 * its answer does (a connection closed on error) can reach it. */
struct pending *waits_detach(struct cw_waiter *cw);
/* One of c's waits, out of the queue and off c (to answer at shutdown); NULL when none. The
 * caller puts it back in the pool. */
struct pending *waits_take(struct waits *w, struct conn *c);
/* c is closing: its waits go back to the pool unanswered, its marks can no longer complete. */
void waits_drop_conn(struct waits *w, struct conn *c);
/* Commit-waits pending. */
size_t waits_len(const struct waits *w);

/* Notes a release whose reply c carries: late_ns after earliest passed the timestamp, at
 * release_mono_ns. Without memory for the mark, the lateness goes unmeasured (the release itself
 * is unaffected). */
void waits_mark(struct waits *w, struct conn *c, int64_t late_ns, int64_t release_mono_ns);
/* Where each release's lateness is recorded, whole and in its two parts. */
struct release_hists {
    struct histogram *lateness;        /* earliest passing the timestamp to the reply sent */
    struct histogram *lateness_recent; /* ... the same, since the last periodic log line */
    struct histogram *at_release;      /* to the clock reading that released it: the wake-up */
    struct histogram *write;           /* from that reading: the rest of the pass and the writes */
};

/* After a flush: records the lateness of every release whose reply has been handed to the
 * kernel (conn.h flushed_mono_ns); the others wait for a later flush. */
void waits_complete_marks(struct waits *w, const struct release_hists *h);

#endif

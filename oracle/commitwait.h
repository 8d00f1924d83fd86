/*
 * The commit-wait queue: pending waits ordered by the timestamp that `earliest` must pass, and
 * by deadline. Pure: the caller brings the clock (a struct cb_now) and decides what a release
 * or an expiry means; waketimer.c turns cw_next_wake() into a timer.
 *
 * A waiter is released only when the clock is trusted and earliest > release_ts (DESIGN.md
 * section 2, "Commit-wait"): Before(release_ts) is true, so the timestamp is certainly past.
 */
#ifndef ORACLE_COMMITWAIT_H
#define ORACLE_COMMITWAIT_H

#include <stdint.h>

#include "clockbound.h"
#include "pqueue.h"

/* Embed in the caller's own struct; recover it with container_of. */
struct cw_waiter {
    struct pq_node by_release;  /* key: release_ts */
    struct pq_node by_deadline; /* key: deadline (CLOCK_MONOTONIC ns, offset to stay >= 0) */
    uint64_t release_ts;        /* released once earliest > release_ts */
    int64_t deadline_mono_ns;   /* expired (WAIT_TOO_LONG) if still waiting then */
    int64_t enqueued_mono_ns;   /* for waited_ns */
};

struct cw_queue {
    struct pqueue by_release;
    struct pqueue by_deadline;
};

void cw_init(struct cw_queue *q);
/* Frees the queue's arrays; the waiters are the caller's. */
void cw_fini(struct cw_queue *q);

/* Queues w. Returns 0 or -ENOMEM (w is then not queued). */
int cw_add(struct cw_queue *q, struct cw_waiter *w, uint64_t release_ts, int64_t deadline_mono_ns,
           int64_t now_mono_ns);
/* Takes w out of the queue (a connection closed); a no-op when it is not queued. */
void cw_remove(struct cw_queue *q, struct cw_waiter *w);
/* Pending waiters. */
size_t cw_len(const struct cw_queue *q);

/* The next waiter that may be released at now (trusted, earliest > its release_ts), removed
 * from the queue; NULL when there is none. */
struct cw_waiter *cw_pop_released(struct cw_queue *q, const struct cb_now *now);
/* The next waiter whose deadline has come (now_mono_ns >= deadline), removed; else NULL. */
struct cw_waiter *cw_pop_expired(struct cw_queue *q, int64_t now_mono_ns);
/* Any waiter, removed (to fail them all); NULL when empty. */
struct cw_waiter *cw_pop_any(struct cw_queue *q);

/*
 * Real time, ns, from now until `earliest` passes ts: (ts + 1 - earliest) / (1 - growth), as
 * earliest = clock - bound advances by 1 - growth per ns of CLOCK_REALTIME (MONOTONIC, which the
 * bound grows with, moves at REALTIME's rate). 0 when already passed; rounded up.
 */
int64_t cw_wait_estimate_ns(const struct cb_now *now, uint64_t ts);

struct cw_wake {
    int64_t release_in_ns;  /* until the first waiter can be released; INT64_MAX if none */
    int64_t deadline_in_ns; /* until the first deadline; INT64_MAX if none */
};

/* When the queue next needs attention, from now (which should be trusted). */
struct cw_wake cw_next_wake(const struct cw_queue *q, const struct cb_now *now);

#endif

/* The commit-wait queue (see commitwait.h). Pure. */
#include "commitwait.h"

#include <math.h>

#include "util.h"

/* Deadlines are CLOCK_MONOTONIC ns (>= 0 on Linux); the heap keys are unsigned. */
static uint64_t deadline_key(int64_t mono_ns)
{
    return mono_ns > 0 ? (uint64_t)mono_ns : 0;
}

void cw_init(struct cw_queue *q)
{
    pq_init(&q->by_release);
    pq_init(&q->by_deadline);
}

void cw_fini(struct cw_queue *q)
{
    pq_fini(&q->by_release);
    pq_fini(&q->by_deadline);
}

int cw_add(struct cw_queue *q, struct cw_waiter *w, uint64_t release_ts, int64_t deadline_mono_ns,
           int64_t now_mono_ns)
{
    w->release_ts = release_ts;
    w->deadline_mono_ns = deadline_mono_ns;
    w->enqueued_mono_ns = now_mono_ns;
    int rc = pq_push(&q->by_release, &w->by_release, release_ts);
    if (rc < 0) {
        w->by_release.index = PQ_NOT_QUEUED;
        w->by_deadline.index = PQ_NOT_QUEUED;
        return rc;
    }
    rc = pq_push(&q->by_deadline, &w->by_deadline, deadline_key(deadline_mono_ns));
    if (rc < 0) {
        pq_remove(&q->by_release, &w->by_release);
        w->by_deadline.index = PQ_NOT_QUEUED;
        return rc;
    }
    return 0;
}

void cw_remove(struct cw_queue *q, struct cw_waiter *w)
{
    if (pq_queued(&w->by_release)) {
        pq_remove(&q->by_release, &w->by_release);
    }
    if (pq_queued(&w->by_deadline)) {
        pq_remove(&q->by_deadline, &w->by_deadline);
    }
}

size_t cw_len(const struct cw_queue *q)
{
    return pq_len(&q->by_release);
}

static struct cw_waiter *take(struct cw_queue *q, struct cw_waiter *w)
{
    cw_remove(q, w);
    return w;
}

struct cw_waiter *cw_pop_released(struct cw_queue *q, const struct cb_now *now)
{
    if (!cb_status_trusted(now->status)) {
        return NULL;
    }
    struct pq_node *n = pq_peek(&q->by_release);
    if (n == NULL || (int64_t)n->key >= now->earliest_ns) {
        return NULL;
    }
    return take(q, container_of(n, struct cw_waiter, by_release));
}

struct cw_waiter *cw_pop_expired(struct cw_queue *q, int64_t now_mono_ns)
{
    struct pq_node *n = pq_peek(&q->by_deadline);
    if (n == NULL || n->key > deadline_key(now_mono_ns)) {
        return NULL;
    }
    return take(q, container_of(n, struct cw_waiter, by_deadline));
}

struct cw_waiter *cw_pop_any(struct cw_queue *q)
{
    struct pq_node *n = pq_peek(&q->by_release);
    return n == NULL ? NULL : take(q, container_of(n, struct cw_waiter, by_release));
}

int64_t cw_wait_estimate_ns(const struct cb_now *now, uint64_t ts)
{
    if (now->earliest_ns < 0) {
        return INT64_MAX;
    }
    /* Unsigned: ts may be anything below 2^64 here, earliest anything below 2^63. */
    uint64_t earliest = (uint64_t)now->earliest_ns;
    if (ts < earliest) {
        return 0;
    }
    uint64_t need = ts - earliest + 1;
    if (need > (uint64_t)INT64_MAX / 2) {
        return INT64_MAX;
    }
    /* A rate, so double (STYLE.md); the caller re-checks the clock on every wake-up anyway. */
    double rate = 1.0 - (double)now->growth_ppb * 1e-9;
    if (rate <= 0.0) {
        return INT64_MAX;
    }
    double wait = ceil((double)need / rate);
    return wait >= 9.0e18 ? INT64_MAX : (int64_t)wait;
}

struct cw_wake cw_next_wake(const struct cw_queue *q, const struct cb_now *now)
{
    struct cw_wake w = {INT64_MAX, INT64_MAX};
    struct pq_node *r = pq_peek(&q->by_release);
    if (r != NULL) {
        w.release_in_ns = cw_wait_estimate_ns(now, r->key);
    }
    struct pq_node *d = pq_peek(&q->by_deadline);
    if (d != NULL) {
        int64_t left = (int64_t)d->key - now->mono_ns;
        w.deadline_in_ns = left > 0 ? left : 0;
    }
    return w;
}

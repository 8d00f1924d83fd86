/* Batching concurrent calls (see batch.h). */
#include "batch.h"

#include <errno.h>
#include <string.h>

#define TS_LIMIT (UINT64_C(1) << 63)

void batch_push(struct batch_queue *q, struct batch_call *c)
{
    enum batch_kind k = c->kind;
    c->next = NULL;
    c->queued = true;
    if (q->tail[k] != NULL) {
        q->tail[k]->next = c;
    } else {
        q->head[k] = c;
    }
    q->tail[k] = c;
    q->len[k]++;
}

void batch_requeue(struct batch_queue *q, struct batch_call *c)
{
    enum batch_kind k = c->kind;
    if (q->tail[k] == NULL || q->tail[k]->seq < c->seq) {
        batch_push(q, c); /* the usual case, in O(1): a new call */
        return;
    }
    struct batch_call *prev = NULL;
    struct batch_call *at = q->head[k];
    while (at != NULL && at->seq < c->seq) {
        prev = at;
        at = at->next;
    }
    c->next = at;
    c->queued = true;
    if (prev != NULL) {
        prev->next = c;
    } else {
        q->head[k] = c;
    }
    if (at == NULL) {
        q->tail[k] = c;
    }
    q->len[k]++;
}

/* How far apart the timestamps low .. high would be with ts among them. */
static uint64_t spread(uint64_t low, uint64_t high, uint64_t ts)
{
    return (ts > high ? ts : high) - (ts < low ? ts : low);
}

size_t batch_waiting(const struct batch_queue *q, enum batch_kind kind)
{
    return q->len[kind];
}

uint32_t batch_take(struct batch_queue *q, enum batch_kind kind, uint32_t max_count,
                    struct batch *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = kind;
    bool counted = kind == BATCH_TS || kind == BATCH_COMMIT_TS || kind == BATCH_ALONE;
    struct batch_call *last = NULL;
    struct batch_call *c = q->head[kind];
    if (c != NULL) {
        out->max_wait_ns = c->max_wait_ns;
    }
    uint64_t low = c != NULL ? c->ts_ns : 0; /* WAIT_UNTIL: the batch's smallest ... */
    uint64_t high = low;                     /* ... and largest timestamp */
    while (c != NULL && (!counted || out->n < max_count) && c->max_wait_ns == out->max_wait_ns &&
           (kind != BATCH_WAIT_UNTIL || spread(low, high, c->ts_ns) <= BATCH_WAIT_SPREAD_NS)) {
        low = c->ts_ns < low ? c->ts_ns : low;
        high = c->ts_ns > high ? c->ts_ns : high;
        c->queued = false;
        if (c->ts_ns > out->wait_ts_ns && kind == BATCH_WAIT_UNTIL) {
            out->wait_ts_ns = c->ts_ns;
        }
        out->n++;
        last = c;
        c = c->next;
    }
    if (out->n == 0) {
        return 0;
    }
    out->calls = q->head[kind];
    last->next = NULL;
    q->head[kind] = c;
    if (c == NULL) {
        q->tail[kind] = NULL;
    }
    q->len[kind] -= out->n;
    return out->n;
}

bool batch_cancel(struct batch_queue *q, struct batch_call *c)
{
    if (!c->queued) {
        return false;
    }
    enum batch_kind k = c->kind;
    struct batch_call *prev = NULL;
    for (struct batch_call *i = q->head[k]; i != NULL; prev = i, i = i->next) {
        if (i != c) {
            continue;
        }
        if (prev != NULL) {
            prev->next = c->next;
        } else {
            q->head[k] = c->next;
        }
        if (q->tail[k] == c) {
            q->tail[k] = prev;
        }
        q->len[k]--;
        c->queued = false;
        c->next = NULL;
        return true;
    }
    return false; /* (marked queued but not found: cannot happen) */
}

int batch_split(struct batch *b, uint64_t first, uint32_t count)
{
    if (count != b->n || first >= TS_LIMIT || count > TS_LIMIT - first) {
        return -EPROTO;
    }
    uint64_t ts = first;
    for (struct batch_call *c = b->calls; c != NULL; c = c->next) {
        c->ts_ns = ts++;
    }
    return 0;
}

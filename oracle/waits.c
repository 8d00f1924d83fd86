/* The commit-waits in flight (see waits.h). */
#include "waits.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "util.h"

#define PENDING_CHUNK 256
#define MARKS_MIN     256

void waits_init(struct waits *w, size_t max_pending, size_t max_pending_per_conn)
{
    memset(w, 0, sizeof(*w));
    cw_init(&w->queue);
    w->max_pending = max_pending;
    w->max_pending_per_conn = max_pending_per_conn;
}

void waits_fini(struct waits *w)
{
    cw_fini(&w->queue);
    for (size_t i = 0; i < w->n_chunks; i++) {
        free(w->chunks[i]);
    }
    free(w->chunks);
    free(w->marks);
    w->chunks = NULL;
    w->n_chunks = 0;
    w->free = NULL;
    w->marks = NULL;
    w->n_marks = w->marks_cap = 0;
}

struct pending *waits_get(struct waits *w)
{
    if (w->free == NULL) {
        struct pending *chunk = calloc(PENDING_CHUNK, sizeof(*chunk));
        struct pending **chunks = realloc(w->chunks, (w->n_chunks + 1) * sizeof(*chunks));
        if (chunks != NULL) {
            w->chunks = chunks;
        }
        if (chunk == NULL || chunks == NULL) {
            free(chunk);
            return NULL;
        }
        w->chunks[w->n_chunks++] = chunk;
        for (size_t i = 0; i < PENDING_CHUNK; i++) {
            chunk[i].free_next = w->free;
            w->free = &chunk[i];
        }
    }
    struct pending *p = w->free;
    w->free = p->free_next;
    memset(p, 0, sizeof(*p));
    p->cw.by_release.index = PQ_NOT_QUEUED;
    p->cw.by_deadline.index = PQ_NOT_QUEUED;
    return p;
}

void waits_put(struct waits *w, struct pending *p)
{
    p->conn = NULL;
    p->free_next = w->free;
    w->free = p;
}

static void link_conn(struct pending *p)
{
    struct conn *c = p->conn;
    p->conn_prev = NULL;
    p->conn_next = c->waits;
    if (c->waits != NULL) {
        c->waits->conn_prev = p;
    }
    c->waits = p;
    c->n_waits++;
}

static void unlink_conn(struct pending *p)
{
    struct conn *c = p->conn;
    if (p->conn_prev != NULL) {
        p->conn_prev->conn_next = p->conn_next;
    } else {
        c->waits = p->conn_next;
    }
    if (p->conn_next != NULL) {
        p->conn_next->conn_prev = p->conn_prev;
    }
    p->conn_prev = p->conn_next = NULL;
    c->n_waits--;
}

int waits_add(struct waits *w, struct pending *p, uint64_t release_ts, int64_t max_wait_ns,
              int64_t now_mono_ns)
{
    if (p->conn->n_waits >= w->max_pending_per_conn || cw_len(&w->queue) >= w->max_pending) {
        waits_put(w, p);
        return -EBUSY;
    }
    int rc = cw_add(&w->queue, &p->cw, release_ts, now_mono_ns + max_wait_ns, now_mono_ns);
    if (rc < 0) {
        waits_put(w, p);
        return rc;
    }
    link_conn(p);
    return p->cw.by_release.index == 0 || p->cw.by_deadline.index == 0 ? 1 : 0;
}

struct pending *waits_detach(struct cw_waiter *cw)
{
    struct pending *p = container_of(cw, struct pending, cw);
    unlink_conn(p);
    return p;
}

struct pending *waits_take(struct waits *w, struct conn *c)
{
    struct pending *p = c->waits;
    if (p != NULL) {
        cw_remove(&w->queue, &p->cw);
        unlink_conn(p);
    }
    return p;
}

void waits_drop_conn(struct waits *w, struct conn *c)
{
    struct pending *p;
    while ((p = waits_take(w, c)) != NULL) {
        waits_put(w, p);
    }
    for (size_t i = 0; i < w->n_marks; i++) {
        if (w->marks[i].conn == c) {
            w->marks[i].conn = NULL;
        }
    }
}

size_t waits_len(const struct waits *w)
{
    return cw_len(&w->queue);
}

void waits_mark(struct waits *w, struct conn *c, int64_t late_ns, int64_t release_mono_ns)
{
    if (w->n_marks == w->marks_cap) {
        size_t cap = w->marks_cap ? 2 * w->marks_cap : MARKS_MIN;
        struct release_mark *m = realloc(w->marks, cap * sizeof(*m));
        if (m == NULL) {
            return;
        }
        w->marks = m;
        w->marks_cap = cap;
    }
    w->marks[w->n_marks++] = (struct release_mark){c, late_ns, release_mono_ns};
}

void waits_complete_marks(struct waits *w, const struct release_hists *h)
{
    size_t kept = 0;
    for (size_t i = 0; i < w->n_marks; i++) {
        const struct release_mark *m = &w->marks[i];
        if (m->conn == NULL || m->conn->closing) {
            continue;
        }
        if (m->conn->flushed_mono_ns < m->release_mono_ns) {
            /* Behind a write still in flight: complete it once the reply goes out. */
            w->marks[kept++] = *m;
            continue;
        }
        int64_t write = m->conn->flushed_mono_ns - m->release_mono_ns;
        hist_record(h->lateness, m->late_at_release_ns + write);
        hist_record(h->lateness_recent, m->late_at_release_ns + write);
        hist_record(h->at_release, m->late_at_release_ns);
        hist_record(h->write, write);
    }
    w->n_marks = kept;
}

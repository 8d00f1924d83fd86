/* Binary min-heap (see pqueue.h). */
#include "pqueue.h"

#include <errno.h>
#include <stdlib.h>

void pq_init(struct pqueue *q)
{
    q->items = NULL;
    q->len = 0;
    q->cap = 0;
    q->next_seq = 0;
}

void pq_fini(struct pqueue *q)
{
    free(q->items);
    pq_init(q);
}

static bool less(const struct pq_node *a, const struct pq_node *b)
{
    return a->key < b->key || (a->key == b->key && a->seq < b->seq);
}

static void place(struct pqueue *q, size_t i, struct pq_node *n)
{
    q->items[i] = n;
    n->index = i;
}

static void sift_up(struct pqueue *q, size_t i)
{
    struct pq_node *n = q->items[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!less(n, q->items[parent])) {
            break;
        }
        place(q, i, q->items[parent]);
        i = parent;
    }
    place(q, i, n);
}

static void sift_down(struct pqueue *q, size_t i)
{
    struct pq_node *n = q->items[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= q->len) {
            break;
        }
        if (child + 1 < q->len && less(q->items[child + 1], q->items[child])) {
            child++;
        }
        if (!less(q->items[child], n)) {
            break;
        }
        place(q, i, q->items[child]);
        i = child;
    }
    place(q, i, n);
}

int pq_push(struct pqueue *q, struct pq_node *n, uint64_t key)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? 2 * q->cap : 64;
        struct pq_node **items = realloc(q->items, cap * sizeof(*items));
        if (items == NULL) {
            return -ENOMEM;
        }
        q->items = items;
        q->cap = cap;
    }
    n->key = key;
    n->seq = q->next_seq++;
    q->items[q->len] = n;
    n->index = q->len;
    q->len++;
    sift_up(q, q->len - 1);
    return 0;
}

struct pq_node *pq_peek(const struct pqueue *q)
{
    return q->len > 0 ? q->items[0] : NULL;
}

void pq_remove(struct pqueue *q, struct pq_node *n)
{
    size_t i = n->index;
    q->len--;
    n->index = PQ_NOT_QUEUED;
    if (i == q->len) {
        return;
    }
    struct pq_node *last = q->items[q->len];
    place(q, i, last);
    if (i > 0 && less(last, q->items[(i - 1) / 2])) {
        sift_up(q, i);
    } else {
        sift_down(q, i);
    }
}

struct pq_node *pq_pop(struct pqueue *q)
{
    struct pq_node *n = pq_peek(q);
    if (n != NULL) {
        pq_remove(q, n);
    }
    return n;
}

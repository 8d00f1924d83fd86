/*
 * A binary min-heap of intrusive nodes keyed by uint64, ties broken first in, first out. Each
 * node knows its position, so removal from the middle is O(log n). Pure (memory only).
 */
#ifndef ORACLE_PQUEUE_H
#define ORACLE_PQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pq_node {
    uint64_t key;
    uint64_t seq; /* insertion order, for FIFO among equal keys */
    size_t index; /* position in the heap; PQ_NOT_QUEUED when not in one */
};

#define PQ_NOT_QUEUED ((size_t)-1)

struct pqueue {
    struct pq_node **items;
    size_t len;
    size_t cap;
    uint64_t next_seq;
};

void pq_init(struct pqueue *q);
/* Frees the array (not the nodes, which the caller owns). */
void pq_fini(struct pqueue *q);

/* Inserts n (not queued) with key. Returns 0, or -ENOMEM when the array cannot grow. */
int pq_push(struct pqueue *q, struct pq_node *n, uint64_t key);
/* The node with the smallest key (earliest inserted among equals), or NULL when empty. */
struct pq_node *pq_peek(const struct pqueue *q);
/* Removes and returns that node, or NULL when empty. */
struct pq_node *pq_pop(struct pqueue *q);
/* Removes n, which must be in q. */
void pq_remove(struct pqueue *q, struct pq_node *n);

static inline bool pq_queued(const struct pq_node *n)
{
    return n->index != PQ_NOT_QUEUED;
}

static inline size_t pq_len(const struct pqueue *q)
{
    return q->len;
}

#endif

/*
 * Batching for the shared and asynchronous clients (issue 19): concurrent calls of one kind
 * merged into one request, and the reply split back among them. Pure: no I/O, no threads, no
 * clock (the engine that owns a struct batch_queue holds whatever lock it needs).
 *
 * Why each merged call keeps what README "What a client gets" promises:
 *  - GetTimestamp (no wait): a batch is sent after every call in it was made, so each caller's
 *    timestamp is larger than every commit-waited timestamp whose reply arrived before that
 *    caller asked, and larger than the session's largest seen then (the request's min_ts_ns is
 *    the session's largest at sending, which is at least that). Call i gets first + i: unique,
 *    and increasing in the order the calls were made.
 *  - GetTimestamp with commit-wait: the server holds the reply until earliest passes the batch's
 *    last timestamp, so every timestamp of the batch is certainly past when it arrives.
 *  - WaitUntil: one wait on the largest timestamp asked for; once earliest passed it, it passed
 *    every smaller one. Only timestamps within BATCH_WAIT_SPREAD_NS of each other are merged,
 *    so no caller is held more than that past its own timestamp (the usual callers, the
 *    timestamps of one GetTimestamp batch, are nanoseconds apart). A merged wait the server
 *    refuses as too long (its largest timestamp too far ahead) is no answer for the calls in
 *    it: the engine sends each of them alone. Each caller's own deadline still ends its wait
 *    (the engine's part).
 *  - Only calls allowing the same max_wait_ns are merged, so no caller is held longer, or
 *    refused sooner, than its own request would have been.
 *  - Now: one Now sent after every caller asked and answered before any returns: its interval
 *    holds true time at an instant between each caller's call and return, which is what a Now
 *    promises.
 */
#ifndef ORACLE_CLIENT_BATCH_H
#define ORACLE_CLIENT_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum batch_kind {
    BATCH_TS,        /* GetTimestamp, count 1, no wait */
    BATCH_COMMIT_TS, /* GetTimestamp, count 1, commit_wait */
    BATCH_WAIT_UNTIL,
    BATCH_NOW,
    BATCH_ALONE, /* any other request, or a merged call refused for its size: one per request */
    BATCH_KINDS,
};

/* One caller's call; the caller owns the memory (its stack, while it waits). */
struct batch_call {
    struct batch_call *next; /* its queue's, then its batch's */
    uint64_t seq;            /* the order the calls were made in: queues keep it */
    enum batch_kind kind;
    uint64_t ts_ns;       /* WAIT_UNTIL: the timestamp; after batch_split: the caller's timestamp */
    uint64_t max_wait_ns; /* COMMIT_TS, WAIT_UNTIL: as in the request; 0: the server's */
    bool queued;          /* in a queue, not yet taken into a batch */
};

/* Calls waiting to be sent, a FIFO per kind. A zeroed struct is an empty queue. */
struct batch_queue {
    struct batch_call *head[BATCH_KINDS];
    struct batch_call *tail[BATCH_KINDS];
    size_t len[BATCH_KINDS];
};

/* Calls sent as one request. */
struct batch {
    enum batch_kind kind;
    struct batch_call *calls; /* oldest first */
    uint32_t n;
    uint64_t wait_ts_ns;  /* WAIT_UNTIL: the largest timestamp of the calls */
    uint64_t max_wait_ns; /* COMMIT_TS, WAIT_UNTIL: what every call of the batch allows */
};

/* WaitUntil calls merged are at most this far apart (ns): the largest minus the smallest. */
#define BATCH_WAIT_SPREAD_NS 1000

/* Queues c (its kind, arguments and seq set, seq above every queued call's) behind the calls of
 * its kind. */
void batch_push(struct batch_queue *q, struct batch_call *c);
/* Queues c again (its request failed) among the calls of its kind in the order of their seq, so
 * that calls sent again keep the order they were made in. */
void batch_requeue(struct batch_queue *q, struct batch_call *c);
/* Calls of this kind waiting. */
size_t batch_waiting(const struct batch_queue *q, enum batch_kind kind);

/* Takes the next batch of a kind: the oldest calls that allow the same max_wait_ns as the oldest,
 * at most max_count of them for the timestamp kinds (the server's largest count) and ALONE
 * (1: one call per request), for
 * WAIT_UNTIL as long as the timestamps taken stay within BATCH_WAIT_SPREAD_NS of each other,
 * all of them for NOW. Returns how many were taken (0: none waiting; *out is then empty). */
uint32_t batch_take(struct batch_queue *q, enum batch_kind kind, uint32_t max_count,
                    struct batch *out);

/* Takes c out of its queue (its deadline passed, or the client is being freed) if it is still
 * queued. Returns whether it was. A call already in a batch stays there: its batch's reply or
 * failure still ends it. */
bool batch_cancel(struct batch_queue *q, struct batch_call *c);

/* Splits a GetTimestamp reply of count timestamps from first among the batch's calls: call i
 * (oldest first) gets first + i. Returns 0, or -EPROTO when count is not the batch's n or the
 * range would pass 2^63 (a reply that cannot be the batch's). */
int batch_split(struct batch *b, uint64_t first, uint32_t count);

#endif

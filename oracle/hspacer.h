/*
 * Handshake pacing: at most a few TLS handshake steps a loop turn. A server-side handshake step
 * costs about a millisecond or two of CPU here (OpenSSL 3.0: ECDHE, a signature, the client's
 * certificate chain checked), all of it on the loop; a peer opening connection after connection
 * could otherwise fill every turn with them, and every established client's reply would wait
 * behind them. Steps over the budget wait their turn in a queue, in order of arrival (second
 * steps first, their clients waiting on them): each loop
 * turn starts (uv_prepare) by running the oldest, and while any wait the loop polls without
 * blocking (uv_idle), so reads from established clients are handled every turn between them.
 *
 * The pacer knows nothing of connections: it queues nodes the caller embeds (in connset.h's
 * intrusive lists, one for second steps and one for the rest), and calls the caller's run
 * for each when its turn comes.
 */
#ifndef ORACLE_HSPACER_H
#define ORACLE_HSPACER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "connset.h"
#include "uvclose.h"

#define HSPACER_STEPS_PER_TURN 1

struct hspacer_node {
    struct cs_node link; /* in p->urgent or p->waiting while queued */
    bool queued;
    bool urgent; /* ... which of the two */
};

struct hspacer;
typedef void hspacer_run(struct hspacer *p, struct hspacer_node *n);

struct hspacer {
    uv_prepare_t prepare;
    uv_idle_t idle;
    hspacer_run *run;
    void *data;
    unsigned per_turn;
    unsigned used;          /* steps taken this turn */
    struct cs_list urgent;  /* second steps, run before any of waiting's, oldest first */
    struct cs_list waiting; /* the others, oldest first */
    uint64_t deferred;      /* steps that waited a turn or more, ever */
    size_t queue_max;       /* the most that waited at once */
    struct uvclose closer;
};

/* Starts p on loop: per_turn steps a turn (0: HSPACER_STEPS_PER_TURN), run called for each
 * queued node in its turn, out of the queue; run takes its step with hspacer_take (which then
 * succeeds) or, when there is none to take any more, does nothing. Returns 0 or a libuv error. */
int hspacer_init(struct hspacer *p, uv_loop_t *loop, unsigned per_turn, hspacer_run *run,
                 void *data);

/* Whether a step may run now; if so it is counted against this turn. */
bool hspacer_take(struct hspacer *p);

/* Queues n (not queued already) for a later turn: after the others, or, urgent, after the other
 * urgent ones and ahead of the rest (a handshake's second step, whose client is waiting, before
 * new ClientHellos). */
void hspacer_defer(struct hspacer *p, struct hspacer_node *n, bool urgent);

/* Steps waiting now, urgent or not. */
size_t hspacer_waiting(const struct hspacer *p);

/* Takes n out of the queue, if it is in it (its owner is going away). */
void hspacer_forget(struct hspacer *p, struct hspacer_node *n);

/* Closes p's handles (safe on a zeroed p); the queue is forgotten (its nodes no longer
 * queued). */
void hspacer_close(struct hspacer *p);

#endif

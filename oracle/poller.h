/*
 * The chrony poller on the daemon's loop: every interval a uv_timer sends a tracking request
 * (the client takes the m0 reading just before); uv_poll reads the replies. A request still
 * unanswered at the next tick is resent with a fresh sequence number; after `attempts`
 * unanswered ticks in a row, or at once for a refusal or a malformed reply, the poll counts as
 * failed (cb_on_poll_failure). The state it feeds is the caller's.
 */
#ifndef ORACLE_POLLER_H
#define ORACLE_POLLER_H

#include <stdint.h>

#include <uv.h>

#include "chrony_client.h"
#include "clockbound.h"

#define POLLER_DEFAULT_INTERVAL_NS 20000000 /* 20 ms: at 50 ppm the bound grows 1 us between */
#define POLLER_ATTEMPTS            3
#define POLLER_LOG_EVERY_NS        INT64_C(30000000000) /* failure reminders: every 30 s */

struct poller;
/* Called after every poll outcome (success or failure), once the state has taken it in. */
typedef void poller_cb(struct poller *p);

struct poller {
    uv_loop_t *loop;
    struct chrony_client *client;
    struct cb_state *state; /* borrowed: the server's */
    struct cb_clock *clock;
    poller_cb *cb;
    uv_timer_t timer;
    uv_poll_t poll;
    int64_t interval_ns;
    int unanswered;       /* ticks since the last reply */
    int last_error;       /* the last failure's negative errno, 0 after a success */
    const char *last_why; /* ... and what was wrong, when known */
    uint64_t polls_ok;
    uint64_t polls_failed;
    int64_t last_rtt_ns;        /* send to reply of the last success */
    int64_t sent_coarse_ns;     /* CLOCK_MONOTONIC_COARSE just before the latest request */
    uint64_t failures_unlogged; /* failures since the last log line about them */
    int64_t logged_mono_ns;     /* when that line was written */
    unsigned closing;
    void (*close_cb)(struct poller *p);
    void *data; /* the owner's */
};

/*
 * Opens the chrony client (errors: see chrony_client_new) and the handles; does not start.
 * Returns 0 or a negative errno.
 */
int poller_init(struct poller *p, uv_loop_t *loop, const struct chrony_addr *addr,
                struct cb_clock *clock, struct cb_state *state, int64_t interval_ns, poller_cb *cb);
/* Sends the first request now, then every interval. */
int poller_start(struct poller *p);
/* Stops, closes the handles and the client; close_cb runs when done. */
void poller_close(struct poller *p, void (*close_cb)(struct poller *p));

#endif

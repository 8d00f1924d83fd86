/*
 * The commit-wait wake-up: a CLOCK_REALTIME timerfd (absolute, TFD_TIMER_CANCEL_ON_SET) under
 * uv_poll for the long stretch, armed early by the overshoot it has been seen to have, and a
 * uv_idle handle for the last stretch: while it is active the loop polls I/O with a zero
 * timeout and calls back every turn, so the caller re-reads the clock without blocking other
 * connections. uv_timer cannot do this: it has 1 ms granularity (DESIGN.md section 4).
 *
 * Nothing runs while nothing is scheduled: no busy CPU at rest. The timerfd then stays armed an
 * hour ahead, so that setting the clock (TFD_TIMER_CANCEL_ON_SET) still wakes the loop at once
 * and the step is seen without waiting for a request or the next chrony poll.
 */
#ifndef ORACLE_WAKETIMER_H
#define ORACLE_WAKETIMER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "clock.h"
#include "uvclose.h"

#define WAKE_OVERSHOOT_SAMPLES 64
#define WAKE_LEAD_INITIAL_NS   150000 /* before any overshoot was measured */
#define WAKE_LEAD_MIN_NS       30000
#define WAKE_LEAD_MAX_NS       2000000
#define WAKE_LEAD_SLACK_NS     20000                  /* added to the largest recent overshoot */
#define WAKE_IDLE_NS           INT64_C(3600000000000) /* nothing scheduled: armed this far ahead */

struct waketimer;
/* Called when the scheduled moment may have come (or the clock was set). The callee re-reads
 * the clock and calls waketimer_schedule() again. */
typedef void waketimer_cb(struct waketimer *wt);

struct waketimer {
    uv_loop_t *loop;
    struct cb_clock *clock;
    waketimer_cb *cb;
    int tfd;
    uv_poll_t poll;
    uv_idle_t idle;
    bool spinning;           /* idle active */
    bool armed;              /* timerfd armed */
    int64_t armed_for_rt_ns; /* what the timerfd was armed for */
    bool idle_armed;         /* ... only to hear of clock sets (nothing scheduled) */
    int64_t overshoot_ns[WAKE_OVERSHOOT_SAMPLES]; /* recent timerfd overshoots */
    unsigned overshoot_next;
    unsigned overshoot_count;
    int64_t lead_ns;           /* how early the timerfd is armed */
    uint64_t clock_set_events; /* times the timerfd reported the clock was set */
    uint64_t wakeups;
    bool initialised;  /* the handles exist: waketimer_close() must be called */
    bool close_called; /* waketimer_close() was called */
    struct uvclose closer;
    void (*close_cb)(struct waketimer *wt);
    void *data; /* the owner's */
};

/* Creates the timerfd and the handles. Returns 0 or a negative errno / UV_E*. */
int waketimer_init(struct waketimer *wt, uv_loop_t *loop, struct cb_clock *clock, waketimer_cb *cb);

/*
 * Schedules the next callback delay_ns of real time after now_rt_ns (CLOCK_REALTIME): at once
 * (next loop turn) when delay_ns <= 0, by spinning when it is within the timer's lead, else by
 * the timerfd armed lead_ns early. INT64_MAX cancels everything but the idle arming (a clock
 * set calls back; so does each hour passing).
 */
void waketimer_schedule(struct waketimer *wt, int64_t now_rt_ns, int64_t delay_ns);

/* Closes the handles and the timerfd; close_cb runs when all are closed. */
void waketimer_close(struct waketimer *wt, void (*close_cb)(struct waketimer *wt));

#endif

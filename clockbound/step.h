/*
 * Clock step detector (DESIGN.md section 2, "Clock steps"). Pure.
 *
 * CLOCK_REALTIME - CLOCK_MONOTONIC is unchanged by slewing (both clocks are slewed together) and
 * changes only when REALTIME is stepped. The detector keeps that offset as recorded at the last
 * chrony poll, as an interval (a paired reading brackets it, see clock.h), and reports a step
 * when a later reading's interval lies more than the threshold away from it. Because both
 * intervals are widened by whatever preemption happened during their reads, a preempted read
 * can never look like a step; it can only hide a step smaller than its own width. What could
 * have been hidden is reported by cb_step_margin() for the bound to include.
 */
#ifndef CLOCKBOUND_STEP_H
#define CLOCKBOUND_STEP_H

#include <stdbool.h>
#include <stdint.h>

#include "clock.h"

#define CB_STEP_THRESHOLD_NS 1000 /* a change of more than 1 us is a step */

struct cb_step {
    bool have_base;
    int64_t base_lo_ns; /* REALTIME - MONOTONIC at the base reading: lower end */
    int64_t base_hi_ns; /* ... upper end */
    int64_t threshold_ns;
};

/* Starts with no base: nothing is a step until cb_step_rebase() is called. */
void cb_step_init(struct cb_step *s, int64_t threshold_ns);

/* Makes r the base that later readings are compared with. */
void cb_step_rebase(struct cb_step *s, const struct cb_reading *r);

/*
 * Returns true when REALTIME was certainly stepped by more than the threshold between the base
 * reading and r; *step_ns (if non-NULL) then gets the smallest step consistent with both
 * readings, signed (negative: the clock went back). Returns false without a base.
 */
bool cb_step_check(const struct cb_step *s, const struct cb_reading *r, int64_t *step_ns);

/*
 * The largest change of REALTIME - MONOTONIC since the base that r is consistent with: the far
 * ends of the two intervals, max(hi - base_lo, base_hi - lo), at least 0. A change below the
 * threshold is not reported as a step, so a sound bound must include this. 0 without a base.
 */
int64_t cb_step_margin(const struct cb_step *s, const struct cb_reading *r);

#endif

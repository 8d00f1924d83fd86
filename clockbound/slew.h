/*
 * chrony's slew, and what it does to the clock if chronyd stops (DESIGN.md section 2, "Slews
 * that outlive chronyd"). Pure: every time is an argument, every result a whole number of ns
 * rounded towards a wider bound.
 *
 * Facts from chrony 4.3 (sys_generic.c and sys_linux.c, read for facts only; chrony is GPL):
 *  - chrony removes current_correction by setting the kernel's frequency off its base by
 *    slew_freq. The correction it reports falls linearly at that rate (offset_convert) until
 *    chrony's own timer ends the slew (handle_end_of_slew -> update_slew). If chronyd dies, is
 *    killed or stalls, the kernel keeps that frequency: the correction passes zero and grows
 *    at the same rate.
 *  - A slew starts at every update_slew(): a reference update (accrue_offset, set_frequency),
 *    the end of the previous slew (its timer), and also a frequency change without an update
 *    (tempcomp; LCL_ReadAbsoluteFrequency hides it from the report's freq_ppm) or chronyc's
 *    doffset. Each is planned to last d >= MIN_SLEW_DURATION = 1.0 s of system-clock time:
 *    d = max(correction_rate / |offset|, 1 s, 5 x the recent timer lateness), corr = offset / d,
 *    capped by maxslewrate (default 83,333 ppm).
 *  - On Linux the frequency chrony may set is at most max_freq = 100,000 ppm either way
 *    (max_tick_bias = nominal_tick / 10), and slew_freq = (total - base) / (1 - total) with
 *    total = base + corr * (1 - base) clamped to that: so slew_freq = corr / (1 - corr) when not
 *    clamped, and the slew reaches zero at d * (1 - corr) >= 1 s * (1 - 0.1818) (corr is at most
 *    (1e5 + |base|) / (1e6 + |base|) ppm for any base the kernel can hold), 0.82 s; and
 *    |slew_freq| <= (100,000 ppm + |base|) / 0.9 whatever maxslewrate says.
 *  - So a slew that starts when the correction is c goes no faster than |c| / 0.82 s; and the
 *    slew that follows a timer starts from what is left (when the timer was late by
 *    x <= MAX_SLEW_EXCESS_DURATION = 100 s, the overshoot, old rate * x, over at least 5 x).
 *
 * So, with C = |current_correction| at the last report (m0 the CLOCK_MONOTONIC reading before
 * its query) and dt = mono - m0, the correction at mono is at most
 *
 *   rate seen (two polls of one reference update):  max(C, s * dt - C)
 *   before a rate is seen:                           max(C, su * (mono - start_lo - Tmin))
 *   always, moving towards zero (any rate to smax):  max(C, smax * dt - C)
 *   moving away from zero (it passed zero already):  C + s * dt
 *
 * where s is the larger of the rate measured between the last two polls of one reference update
 * (their average covers the slew at the later one, which can only be slower, as long as the
 * correction kept moving one way) and C / Tmin (what a slew restarted after the report, by
 * chrony's timer, tempcomp or doffset, could go at); smax the Linux limit above, start_lo the
 * earliest the current slew can have started (after the previous poll's report),
 * Tmin = CB_SLEW_MIN_DURATION_NS, and su = min(smax, C / (Tmin - (report - start_lo))): a slew
 * that began at or after start_lo and reaches zero no sooner than Tmin after still has C to go
 * at the report, so it is no faster than that. While chronyd answers, every poll renews C and
 * the bound widens only where a slew could pass zero before the next poll (s * interval - C,
 * near a slew's end); when it stops, the bound grows at s on top of the drift.
 */
#ifndef CLOCKBOUND_SLEW_H
#define CLOCKBOUND_SLEW_H

#include <stdbool.h>
#include <stdint.h>

#include "sample.h"

/* How soon after it starts a slew can reach zero: chrony's MIN_SLEW_DURATION (1.0 s) times
 * (1 - corr), corr at most 0.1818 (above), 0.818 s; 0.8 s leaves room for the rounding of the
 * frequency the kernel actually applies. */
#define CB_SLEW_MIN_DURATION_NS INT64_C(800000000)
/* Linux's limit on the frequency chrony sets: 100,000 ppm (sys_linux.c). */
#define CB_SLEW_KERNEL_MAX_FREQ_PPB INT64_C(100000000)
/* The base frequency assumed when the report says exactly 0 (a NaN is sent as 0): the most the
 * kernel can hold. */
#define CB_SLEW_UNKNOWN_BASE_PPB INT64_C(100000000)
/* Two polls further apart than this do not measure the rate: chrony's timer may have been later
 * than MAX_SLEW_EXCESS_DURATION (100 s), after which the next slew need not be slower. */
#define CB_SLEW_MAX_PAIR_SPAN_NS INT64_C(100000000000)
/* ... and two closer than this (send of the later one to the reply of the earlier) do not
 * either: the reports' moments are too uncertain. */
#define CB_SLEW_MIN_PAIR_SPAN_NS INT64_C(1000000)

/* What is known of chrony's slew at the last poll. Plain data. */
struct cb_slew {
    bool have_poll;
    int64_t corr_hi_ns;        /* |current_correction| at the last poll, rounded up */
    int64_t corr_lo_ns;        /* ... rounded down */
    int64_t poll_mono_ns;      /* that poll's m0 */
    int64_t report_mono_hi_ns; /* the latest chrony can have made the report: m0 + round trip */
    int64_t max_rate_ppb;      /* the fastest chrony could be slewing (from the base frequency) */
    int64_t start_lo_mono_ns;  /* the earliest the current slew can have started */
    bool rate_known;  /* a rate was measured since the reference update (and no long gap) */
    int64_t rate_ppb; /* the latest measured, rounded up */
    bool away;        /* the last two polls did not show the correction certainly nearer zero */
    bool beyond;      /* ... they showed it past zero and going on (or a long gap): it may turn */
    int64_t flat_until_mono_ns; /* until then the correction bound is C (derived, for speed) */
};

/* The fastest chrony can slew with the given base frequency (its tracking report's freq_ppm;
 * exactly 0, which may be a NaN, is taken as 100,000 ppm): ceil((100,000 ppm + |freq|) / 0.9), in
 * ppb. */
int64_t cb_slew_max_rate_ppb(struct chrony_float freq_ppm);

/*
 * Takes in a successful poll. prev is the previous successful poll (NULL for the first one);
 * same_update says whether both show the same chrony reference update (cb_poll_same_update).
 * The rate is measured between prev and cur when both belong to one update and lie between
 * CB_SLEW_MIN_PAIR_SPAN_NS and CB_SLEW_MAX_PAIR_SPAN_NS apart; a new update starts a new slew
 * whose rate is unknown.
 */
void cb_slew_observe(struct cb_slew *s, const struct cb_poll *prev, const struct cb_poll *cur,
                     bool same_update);

/* The rules of the table above, each an upper bound of the correction on its own. */
enum cb_slew_rule {
    CB_SLEW_ANY,     /* max(C, smax * dt - C) */
    CB_SLEW_UNKNOWN, /* max(C, su * (mono - start_lo - Tmin)) */
    CB_SLEW_KNOWN,   /* max(C, s * dt - C), once a rate is known */
    CB_SLEW_RULES,
};

/*
 * One rule's bound at CLOCK_MONOTONIC mono_ns, at or after the report (INT64_MAX before it,
 * for KNOWN without a known rate, and before any poll). While the correction moves away from
 * zero every rule is C + s * dt. Each is C and then linear: convex in mono_ns. Saturating.
 */
int64_t cb_slew_rule_ns(const struct cb_slew *s, enum cb_slew_rule rule, int64_t mono_ns);

/* An upper bound of |current_correction| at CLOCK_MONOTONIC mono_ns, were chronyd to stop
 * right after the last poll: the smallest rule, for mono_ns at or after the poll's reply.
 * Before it (a reading older than the reply; the daemon takes none) the correction was at most
 * C + smax * (reply - mono). INT64_MAX before any poll. Saturating. */
int64_t cb_slew_correction_ns(const struct cb_slew *s, int64_t mono_ns);

/*
 * What a slew of a reference update made after the last report, unseen, can add by mono_ns.
 * chronyd may have updated and died between two polls: the new slew began at u after the
 * report, lasts d >= Tmin, and takes chrony's new estimate of the offset, R, to zero. With the
 * offset at u within the bound there, L(u), and chrony's new estimate no further from the truth
 * than that, |R| <= 2 * L(u): the slew ends within the bound, then overshoots at no more than
 * 2 * L(u) / Tmin from u + Tmin on. By mono_ns that is at most
 *   max over u in [report, mono - Tmin] of 2 * L(u) * (mono - u - Tmin) / Tmin,
 * 0 until mono = report + Tmin. L is taken as the line from at_report_ns (the bound without
 * this term at the report) to before_ns (at mono - Tmin), which lies above a convex bound.
 * 0 while chronyd answers (polls come every 20 ms); it matters only when chronyd is silent.
 * Saturating.
 */
int64_t cb_slew_unseen_ns(const struct cb_slew *s, int64_t at_report_ns, int64_t before_ns,
                          int64_t mono_ns);

/* How fast cb_slew_correction_ns() is growing at mono_ns (its slope from there on), in ppb:
 * 0 while it stays C. */
int64_t cb_slew_growth_ppb(const struct cb_slew *s, int64_t mono_ns);

#endif

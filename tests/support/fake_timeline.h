/*
 * The timeline of a fake chronyd (fake-chrony --update-every): what chronyd reports at any instant
 * when it makes reference updates at set times and holds its reference time between them, grows
 * its root dispersion as chrony does, and may slew a correction at a chosen rate and then fall
 * silent for good. Pure: every instant is an argument, nothing is read or written.
 *
 * Clocks. `sys` is the system's CLOCK_REALTIME: true time, by the tests' convention. The fake's
 * own clock, the one its reports are on, is sys + offset, offset (ns) being a test's step of "the
 * clock" (step_offset.h), passed in at every call. Updates are scheduled in sys time (elapsed
 * time: a step does not move them).
 *
 * What chrony reports (chrony 4.3 reference.c, REF_GetTrackingReport and get_root_dispersion):
 * the reference time is the cooked local time of the last update (raw + the correction then
 * outstanding; handle_slew keeps it on the cooked timescale as corrections are accumulated), so
 * here ref_time = update instant on the fake's clock + the correction measured there;
 * current_correction is the offset still to be slewed; the root dispersion is the dispersion at
 * the update + (skew + |resid_freq| + maxclockerror) * |cooked now - ref_time|.
 *
 * What an update measures. The correction chrony measures at an update is the true offset of the
 * fake's clock then, true - (sys + offset) = -offset: after a step of the shared clock, the next
 * update reports it. The one exception is the slew's update (below), which reports C.
 *
 * The slew (a fault model, DESIGN.md section 2 "Slews that outlive chronyd"). chrony removes a
 * correction by slewing at offset / duration with duration >= 1 s (chrony 4.3 sys_generic.c,
 * MIN_SLEW_DURATION 1.0), at most maxslewrate (default 83,333 ppm), and ends the slew with its
 * own timer. Here: before the slew's update at T the clock is already off by C, which chrony has
 * not measured yet; its reports then carry a root dispersion of `before_slew_dispersion_s`
 * (>= |C| + root_dispersion_s), so a bound built from them covers it, as after a start or a
 * source change. At T (sys) an update measures C and chrony slews it away at `slew_rate_ppm`
 * (per second of the system clock), the reference time frozen from then on (no more updates).
 * The fake answers while sys <= T + silent_after_ns, and always answers the first request after
 * T (so the update is seen), then never again. If it was still answering when the slew should
 * end, T + |C| / rate, chronyd stopped the slew there; if not, the kernel slews on past zero,
 * forever. The truth, offset of the system clock from true time (true - sys) at sys instant t:
 *
 *   theta(t) = C                                 for t < T
 *            = 0                                 for t >= T + |C|/rate when the slew stopped
 *            = C - sign(C) * rate * (t - T)      otherwise
 *
 * (fake_slew_theta_ns()). While answering, the fake reports current_correction = theta(t),
 * reaching zero at the end.
 */
#ifndef TESTS_FAKE_TIMELINE_H
#define TESTS_FAKE_TIMELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "fake_chrony.h"

/* chrony 4.3 sys_generic.c: a slew takes at least MIN_SLEW_DURATION (1.0 s), at most at
 * maxslewrate (default 1e6 / 12 ppm). */
#define FAKE_MIN_SLEW_NS       1000000000
#define FAKE_MAX_SLEW_RATE_PPM (1e6 / 12)

struct fake_timeline_params {
    int64_t update_every_ns; /* scheduled reference updates this often (> 0) */
    double root_delay_s;
    double root_dispersion_s;        /* at an update */
    double growth_ppm;               /* skew + |resid_freq| + maxclockerror */
    double slew_correction_s;        /* C; 0: no slew */
    double slew_rate_ppm;            /* > 0 with a slew */
    int64_t silent_after_ns;         /* after T; < 0: never silent */
    double before_slew_dispersion_s; /* root dispersion of updates before T (with a slew) */
};

/* 0, or -EINVAL with *why naming the problem: a slew shorter than 1 s or faster than maxslewrate
 * (neither of which chrony makes) is refused unless any_slew. */
int fake_timeline_check(const struct fake_timeline_params *p, bool any_slew, const char **why);

struct fake_timeline {
    struct fake_timeline_params p;
    int64_t next_sys_ns; /* the next scheduled update; INT64_MAX once frozen */
    unsigned updates;    /* reference updates made */
    /* The last reference update. */
    int64_t update_sys_ns;
    int64_t update_ns;    /* the same instant on the fake's clock */
    double update_corr_s; /* the correction measured then */
    double update_disp_s;
    double update_rate_ppm; /* the rate that correction is slewed at; 0: held as it is */
    /* The slew. */
    bool slewed;
    int64_t slew_sys_ns; /* T */
    bool answered_since_slew;
    bool silent; /* for good */
};

/* Starts the timeline with a first reference update at now_sys_ns. */
void fake_timeline_init(struct fake_timeline *tl, const struct fake_timeline_params *p,
                        int64_t now_sys_ns, int64_t offset_ns);

/* The next scheduled update (sys), INT64_MAX if none. The caller makes those due with
 * fake_timeline_update(tl, fake_timeline_next(tl), offset) before anything else at a later
 * instant, and before a change of offset, so each measures the offset of its own moment. */
int64_t fake_timeline_next(const struct fake_timeline *tl);

/* A reference update at at_sys_ns (scheduled or forced); the schedule continues from it. */
void fake_timeline_update(struct fake_timeline *tl, int64_t at_sys_ns, int64_t offset_ns);

/* The slew's update at at_sys_ns (T): correction C, slewed at the rate; updates stop. No-op
 * without a slew configured, or once made. */
void fake_timeline_slew(struct fake_timeline *tl, int64_t at_sys_ns, int64_t offset_ns);

/* No more scheduled updates after the last one. */
void fake_timeline_freeze(struct fake_timeline *tl);

/* The last update's reference time on the fake's clock (its cooked time). */
int64_t fake_timeline_ref_ns(const struct fake_timeline *tl);

/* What chronyd reports at an instant. */
struct fake_timeline_report {
    int64_t ref_ns; /* the fake's clock */
    double correction_s;
    double root_delay_s;
    double root_dispersion_s;
    double update_interval_s;
};

/* The report to a request at now_sys_ns; false (and nothing filled in) when the fake is silent
 * now (then for good). Counts the request as answered when it returns true. */
bool fake_timeline_answer(struct fake_timeline *tl, int64_t now_sys_ns, int64_t offset_ns,
                          struct fake_timeline_report *out);

/* Puts a report's fields into a script (reference time, correction, delay, dispersion, update
 * interval as chrony floats); the rest of the script is left alone. */
void fake_timeline_apply(const struct fake_timeline_report *r, struct fake_chrony_script *s);

/* The slew's truth (see the top of this file). */
struct fake_slew_truth {
    int64_t t_sys_ns;    /* T */
    double correction_s; /* C */
    double rate_ppm;
    bool stopped; /* chronyd was answering at the end, so it stopped the slew there */
};

/* Fills *out once the slew was made; false before. */
bool fake_timeline_truth(const struct fake_timeline *tl, struct fake_slew_truth *out);

/* theta(t), ns: true time - system time at system instant t_sys_ns. */
double fake_slew_theta_ns(const struct fake_slew_truth *t, int64_t t_sys_ns);

#endif

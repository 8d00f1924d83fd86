/*
 * chrony's root dispersion growth, measured from its own reports (DESIGN.md section 2,
 * "Measured, not assumed, chrony growth"). Pure.
 *
 * Between reference updates chrony reports root_dispersion = disp_at_update + |t - ref_time| *
 * (skew + |resid_freq| + maxclockerror), t its "cooked" time, system time + current_correction
 * (chrony 4.3 reference.c, get_root_dispersion and REF_GetTrackingReport). The growth is exactly
 * linear, so two reports of one update give its rate, and the rate less skew and |resid_freq|
 * gives chrony's maxclockerror, a constant of its configuration. The bound's top-up to D
 * (bound.h) then uses that measured value, never the configured one when the measurement is
 * lower: a chrony left at its default 1 ppm cannot shrink the bound's growth below D.
 *
 * Each report was made at some instant between its query's send and its reply, so the rate is
 * bracketed: lo = (disp_cur rounded down - disp_anchor rounded up) / (latest span), hi the
 * other way. The anchor is the first report of the current update, so the span (and the
 * precision) grows with every poll until the next update; maxclockerror's brackets from one
 * update to the next are intersected (it is one constant) until chronyd fails or is not
 * synchronised, when it is forgotten.
 */
#ifndef CLOCKBOUND_DISPERSION_H
#define CLOCKBOUND_DISPERSION_H

#include <stdbool.h>
#include <stdint.h>

#include "sample.h"

/* Spans shorter than this (the anchor's reply to the latest send) measure nothing. */
#define CB_DISP_MIN_SPAN_NS INT64_C(1000000)

struct cb_dispersion {
    bool have_anchor;
    struct cb_poll anchor; /* the first report of the current reference update */
    bool measured;         /* maxclockerror has been measured since chrony last failed */
    int64_t rate_lo_ppb;   /* chrony's growth rate, skew + |resid| + maxclockerror: bounds */
    int64_t rate_hi_ppb;
    int64_t maxclockerror_lo_ppb; /* rate less skew and |resid_freq|: bounds, >= 0 */
    int64_t maxclockerror_hi_ppb;
};

/* Starts with nothing measured. */
void cb_dispersion_init(struct cb_dispersion *d);

/* Takes in a successful poll that chrony's data can be used from (synchronised). A report of a
 * new update becomes the anchor; a later one of the same update measures the rate. What was
 * measured of maxclockerror is kept across updates (it is chrony's configuration). */
void cb_dispersion_observe(struct cb_dispersion *d, const struct cb_poll *poll);

/* Forgets what was measured: chronyd failed to answer, or is not synchronised (it may have been
 * restarted with another configuration). The next update measures again. */
void cb_dispersion_forget(struct cb_dispersion *d);

#endif

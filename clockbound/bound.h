/*
 * The clock error bound (DESIGN.md section 2, "Bound"). Pure: no I/O, no clock reads; every time
 * is an argument, every result exact integer nanoseconds, every rounding towards a wider bound,
 * every sum and product saturating.
 *
 * At a chrony poll, with t_query the moment just before the request was sent:
 *
 *   b0 = |current_correction_s| + root_delay_s/2 + root_dispersion_s + extra + phc
 *   extra = max(0, D - skew - |resid_freq| - M) * (t_query - ref_time)
 *
 * D is --max-drift-ppb. M is chrony's maxclockerror: the configured value
 * (--chrony-maxclockerror-ppb), or what was measured from chrony's reports when that is lower
 * (dispersion.h), and 0 until something was measured, so the top-up never relies on a setting
 * chrony may not have. chrony's root dispersion grows at skew + |resid_freq| + M since its last
 * reference update (chrony reference.c, REF_GetReferenceParams); `extra` tops that rate up to D,
 * so the bound stays sound when chrony loses its sources. Between polls the bound grows at
 *
 *   rate = max(D, skew + |resid_freq| + M')
 *
 * over CLOCK_MONOTONIC since the reading taken before the query, M' the larger of the configured
 * and measured values: b(t) = b0 + rate * (mono(t) - m0). The max() only matters when chrony
 * itself claims a faster growth than D; then chrony's rate wins, never a slower one. The
 * correction term, constant here, is what chrony still has to slew; clockbound.c replaces it by
 * the slew model of slew.h as time passes.
 *
 * phc is the PTP hardware clock's own error bound while the PHC is chrony's reference (phc.h):
 * chrony's root delay and dispersion then measure the system clock against the PHC only.
 *
 * t_query - ref_time is measured on chrony's timescale: NTP time = system time +
 * current_correction_s (chronyc prints a positive correction as "slow of NTP time").
 */
#ifndef CLOCKBOUND_BOUND_H
#define CLOCKBOUND_BOUND_H

#include <stdint.h>

#include "chrony_proto.h"

/*
 * Rounding-up conversions of chrony floats. chrony's encoder is not exact: for magnitudes of 1
 * and above it rounds at twice the precision and then drops the low bit, so a float with
 * coefficient c may be off by up to 3/4 of a unit of 2^exp2 (1/2 below 1). These conversions
 * allow a whole unit: the true magnitude lies in [(|c| - 1) * 2^exp2, (|c| + 1) * 2^exp2].
 * With 24 significant bits that is a relative margin of 6e-8: 0.06 ns on a 1 ms dispersion.
 *
 * cb_float_upper(f, unit, halvings) = ceil((|c| + 1) * 2^exp2 * unit / 2^halvings), and 0 when
 * c == 0 (chrony encodes exact zero, and NaN, as 0). unit is 1e9 for seconds -> ns and 1e3 for
 * ppm -> ppb. Saturates at INT64_MAX.
 */
int64_t cb_float_upper(struct chrony_float f, int64_t unit, unsigned halvings);

/* floor((|c| - 1) * 2^exp2 * unit), 0 when c == 0: a lower bound of the magnitude. */
int64_t cb_float_lower(struct chrony_float f, int64_t unit);

/* An upper bound of the signed value, in the given unit: the magnitude bound for c > 0,
 * minus the lower magnitude bound for c < 0. */
int64_t cb_float_signed_upper(struct chrony_float f, int64_t unit);

/* A lower bound of the signed value, in the given unit (the mirror of the above). */
int64_t cb_float_signed_lower(struct chrony_float f, int64_t unit);

/* t_query (CLOCK_REALTIME, ns) on chrony's timescale less its reference time: how old chrony's
 * reference update is, rounded towards older, at least 0. */
int64_t cb_ref_age_ns(const struct chrony_tracking *t, int64_t query_rt_ns);

/* Parameters of the bound, validated by cb_params_check() (clockbound.h). */
struct cb_bound_params {
    int64_t max_drift_ppb;            /* D */
    int64_t chrony_maxclockerror_ppb; /* M as configured */
    /* M as measured from chrony's reports (dispersion.h), rounded down and up; -1 when nothing
     * has been measured (the top-up then takes M as 0). */
    int64_t measured_maxclockerror_lo_ppb;
    int64_t measured_maxclockerror_hi_ppb;
    /* The PTP hardware clock's own error against true time, added while the PHC is chrony's
     * reference (phc.h, cb_phc_judge); 0 otherwise. chrony's dispersion does not include it. */
    int64_t phc_error_ns;
};

/* The bound at a poll, with its parts for logging and tests. All ns except the rate. */
struct cb_bound_at_poll {
    int64_t correction_ns;           /* ceil(|current_correction_s|) */
    int64_t half_delay_ns;           /* ceil(root_delay_s / 2) */
    int64_t dispersion_ns;           /* ceil(root_dispersion_s) */
    int64_t ref_age_ns;              /* t_query on chrony's timescale - ref_time, clamped to >= 0 */
    int64_t topup_maxclockerror_ppb; /* the M the top-up used (configured, measured or 0) */
    int64_t extra_rate_ppb; /* max(0, D - skew - |resid_freq| - M), skew and resid rounded down */
    int64_t extra_ns;       /* ceil(extra_rate * ref_age) */
    int64_t phc_ns;         /* the PHC's own error bound (cb_bound_params.phc_error_ns) */
    int64_t b0_ns;          /* the sum of the five parts */
    int64_t growth_ppb;     /* between polls: max(D, ceil(skew + |resid_freq|) + M') */
};

/*
 * Computes the bound at a poll from a tracking report and t_query (CLOCK_REALTIME just before
 * the query was sent, ns). Pure, total (saturating).
 */
void cb_bound_at_poll(const struct cb_bound_params *p, const struct chrony_tracking *t,
                      int64_t query_rt_ns, struct cb_bound_at_poll *out);

/* b0 + ceil(rate_ppb * elapsed_ns / 1e9), with negative elapsed taken as 0. Saturating. */
int64_t cb_bound_grow(int64_t b0_ns, int64_t rate_ppb, int64_t elapsed_ns);

#endif

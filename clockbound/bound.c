/* The clock error bound (see bound.h). Pure. */
#include "bound.h"

#include <stdbool.h>

#include "satmath.h"

/* num * 2^shift for num >= 0, rounded up when shift < 0, saturating when shift > 0. */
static int64_t scale_pow2_ceil(int64_t num, int shift)
{
    if (num == 0) {
        return 0;
    }
    if (shift >= 0) {
        if (shift >= 63 || num > (INT64_MAX >> shift)) {
            return INT64_MAX;
        }
        return num << shift;
    }
    int k = -shift;
    if (k >= 63) {
        return 1; /* 0 < num / 2^k < 1 since num < 2^63 */
    }
    int64_t q = num >> k;
    return q + ((num & ((INT64_C(1) << k) - 1)) != 0);
}

/* num * 2^shift for num >= 0, rounded down, saturating when shift > 0. */
static int64_t scale_pow2_floor(int64_t num, int shift)
{
    if (shift >= 0) {
        return scale_pow2_ceil(num, shift);
    }
    int k = -shift;
    return k >= 63 ? 0 : num >> k;
}

static int64_t coef_abs(struct chrony_float f)
{
    return f.coef < 0 ? -(int64_t)f.coef : (int64_t)f.coef;
}

int64_t cb_float_upper(struct chrony_float f, int64_t unit, unsigned halvings)
{
    if (f.coef == 0) {
        return 0;
    }
    /* (2^24 + 1) * 1e9 < 2^63: no overflow before the scaling. */
    int64_t num = (coef_abs(f) + 1) * unit;
    return scale_pow2_ceil(num, f.exp2 - (int)halvings);
}

int64_t cb_float_lower(struct chrony_float f, int64_t unit)
{
    if (f.coef == 0) {
        return 0;
    }
    int64_t num = (coef_abs(f) - 1) * unit;
    return scale_pow2_floor(num, f.exp2);
}

int64_t cb_float_signed_upper(struct chrony_float f, int64_t unit)
{
    if (f.coef < 0) {
        return -cb_float_lower(f, unit);
    }
    return cb_float_upper(f, unit, 0);
}

int64_t cb_float_signed_lower(struct chrony_float f, int64_t unit)
{
    struct chrony_float neg = {-f.coef, f.exp2};
    return -cb_float_signed_upper(neg, unit);
}

int64_t cb_ref_age_ns(const struct chrony_tracking *t, int64_t query_rt_ns)
{
    /* t_query on chrony's timescale, rounded towards an older reference (a larger age). */
    int64_t query_ntp_ns =
        cb_sat_add(query_rt_ns, cb_float_signed_upper(t->current_correction_s, CB_NS_PER_S));
    int64_t age = cb_sat_sub(query_ntp_ns, t->ref_time_ns);
    return age > 0 ? age : 0;
}

int64_t cb_bound_grow(int64_t b0_ns, int64_t rate_ppb, int64_t elapsed_ns)
{
    return cb_sat_add(b0_ns, cb_ppb_of_ns_ceil(rate_ppb, elapsed_ns));
}

void cb_bound_at_poll(const struct cb_bound_params *p, const struct chrony_tracking *t,
                      int64_t query_rt_ns, struct cb_bound_at_poll *out)
{
    const int64_t ns = CB_NS_PER_S;
    const int64_t ppb_per_ppm = 1000;

    out->correction_ns = cb_float_upper(t->current_correction_s, ns, 0);
    out->half_delay_ns = cb_float_upper(t->root_delay_s, ns, 1);
    out->dispersion_ns = cb_float_upper(t->root_dispersion_s, ns, 0);

    out->ref_age_ns = cb_ref_age_ns(t, query_rt_ns);

    /* chrony's maxclockerror: for the top-up the smaller of the configured and the measured
     * value (0 before a measurement); for the growth the larger. */
    bool measured = p->measured_maxclockerror_lo_ppb >= 0;
    int64_t m_lo = 0;
    int64_t m_hi = p->chrony_maxclockerror_ppb;
    if (measured) {
        m_lo = p->measured_maxclockerror_lo_ppb < p->chrony_maxclockerror_ppb
                   ? p->measured_maxclockerror_lo_ppb
                   : p->chrony_maxclockerror_ppb;
        if (p->measured_maxclockerror_hi_ppb > m_hi) {
            m_hi = p->measured_maxclockerror_hi_ppb;
        }
    }
    out->topup_maxclockerror_ppb = m_lo;

    /* chrony's own growth rate, rounded down for the top-up and up for the growth. */
    int64_t chrony_rate_lo = cb_sat_add(cb_sat_add(cb_float_lower(t->skew_ppm, ppb_per_ppm),
                                                   cb_float_lower(t->resid_freq_ppm, ppb_per_ppm)),
                                        m_lo);
    int64_t chrony_rate_hi =
        cb_sat_add(cb_sat_add(cb_float_upper(t->skew_ppm, ppb_per_ppm, 0),
                              cb_float_upper(t->resid_freq_ppm, ppb_per_ppm, 0)),
                   m_hi);
    int64_t topup = cb_sat_sub(p->max_drift_ppb, chrony_rate_lo);
    out->extra_rate_ppb = topup > 0 ? topup : 0;
    out->extra_ns = cb_ppb_of_ns_ceil(out->extra_rate_ppb, out->ref_age_ns);

    out->phc_ns = p->phc_error_ns > 0 ? p->phc_error_ns : 0;
    out->b0_ns = cb_sat_add(cb_sat_add(cb_sat_add(out->correction_ns, out->half_delay_ns),
                                       cb_sat_add(out->dispersion_ns, out->extra_ns)),
                            out->phc_ns);
    out->growth_ppb = chrony_rate_hi > p->max_drift_ppb ? chrony_rate_hi : p->max_drift_ppb;
}

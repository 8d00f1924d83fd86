/* chrony's root dispersion growth, measured (see dispersion.h). Pure. */
#include "dispersion.h"

#include <string.h>

#include "bound.h"
#include "satmath.h"

void cb_dispersion_init(struct cb_dispersion *d)
{
    memset(d, 0, sizeof(*d));
}

void cb_dispersion_forget(struct cb_dispersion *d)
{
    d->measured = false;
}

/* Bounds of chrony's cooked time at the report, on the REALTIME scale of our readings: the
 * report came between the send and the reply; cooked = system time + current_correction. */
static void cooked_bounds(const struct cb_poll *p, int64_t *lo, int64_t *hi)
{
    struct chrony_float c = p->tracking.current_correction_s;
    *lo = cb_sat_add(p->sent.rt_ns, cb_float_signed_lower(c, CB_NS_PER_S));
    *hi = cb_sat_add(p->recv_rt_ns, cb_float_signed_upper(c, CB_NS_PER_S));
}

void cb_dispersion_observe(struct cb_dispersion *d, const struct cb_poll *poll)
{
    if (!d->have_anchor || !cb_poll_same_update(&d->anchor, poll)) {
        d->anchor = *poll;
        d->have_anchor = true;
        return;
    }
    int64_t a_lo, a_hi, c_lo, c_hi;
    cooked_bounds(&d->anchor, &a_lo, &a_hi);
    cooked_bounds(poll, &c_lo, &c_hi);
    int64_t span_lo = cb_sat_sub(c_lo, a_hi);
    int64_t span_hi = cb_sat_sub(c_hi, a_lo);
    if (span_lo < CB_DISP_MIN_SPAN_NS) {
        return;
    }
    const struct chrony_tracking *t = &poll->tracking;
    const struct chrony_tracking *a = &d->anchor.tracking;
    int64_t grew_lo = cb_sat_sub(cb_float_lower(t->root_dispersion_s, CB_NS_PER_S),
                                 cb_float_upper(a->root_dispersion_s, CB_NS_PER_S, 0));
    int64_t grew_hi = cb_sat_sub(cb_float_upper(t->root_dispersion_s, CB_NS_PER_S, 0),
                                 cb_float_lower(a->root_dispersion_s, CB_NS_PER_S));
    d->rate_lo_ppb = cb_rate_ppb(grew_lo > 0 ? grew_lo : 0, span_hi, 0);
    d->rate_hi_ppb = cb_rate_ppb(grew_hi > 0 ? grew_hi : 0, span_lo, 1);

    /* chrony's own terms of the rate, from the same report (ppm -> ppb). */
    int64_t own_hi = cb_sat_add(cb_float_upper(t->skew_ppm, 1000, 0),
                                cb_float_upper(t->resid_freq_ppm, 1000, 0));
    int64_t own_lo =
        cb_sat_add(cb_float_lower(t->skew_ppm, 1000), cb_float_lower(t->resid_freq_ppm, 1000));
    int64_t m_lo = cb_sat_sub(d->rate_lo_ppb, own_hi);
    int64_t m_hi = cb_sat_sub(d->rate_hi_ppb, own_lo);
    m_lo = m_lo > 0 ? m_lo : 0;
    m_hi = m_hi > 0 ? m_hi : 0;
    /* maxclockerror is one constant: what an earlier measurement (of this chronyd: failures
     * forget) bracketed still holds, so the brackets are intersected. Disjoint ones mean the
     * constant changed after all: the new one is taken. */
    if (d->measured && m_lo <= d->maxclockerror_hi_ppb && d->maxclockerror_lo_ppb <= m_hi) {
        m_lo = m_lo > d->maxclockerror_lo_ppb ? m_lo : d->maxclockerror_lo_ppb;
        m_hi = m_hi < d->maxclockerror_hi_ppb ? m_hi : d->maxclockerror_hi_ppb;
    }
    d->maxclockerror_lo_ppb = m_lo;
    d->maxclockerror_hi_ppb = m_hi;
    d->measured = true;
}

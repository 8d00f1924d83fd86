/* Comparisons of chrony polls (see sample.h). Pure. */
#include "sample.h"

#include <string.h>

#include "satmath.h"

static bool float_eq(struct chrony_float a, struct chrony_float b)
{
    return a.coef == b.coef && a.exp2 == b.exp2;
}

bool cb_poll_same_update(const struct cb_poll *a, const struct cb_poll *b)
{
    const struct chrony_tracking *x = &a->tracking;
    const struct chrony_tracking *y = &b->tracking;
    return x->ref_id == y->ref_id && x->addr_family == y->addr_family &&
           memcmp(x->addr, y->addr, sizeof(x->addr)) == 0 && x->stratum == y->stratum &&
           x->leap == y->leap && x->ref_time_ns == y->ref_time_ns &&
           float_eq(x->last_offset_s, y->last_offset_s) &&
           float_eq(x->rms_offset_s, y->rms_offset_s) && float_eq(x->freq_ppm, y->freq_ppm) &&
           float_eq(x->resid_freq_ppm, y->resid_freq_ppm) && float_eq(x->skew_ppm, y->skew_ppm) &&
           float_eq(x->root_delay_s, y->root_delay_s) &&
           float_eq(x->last_update_interval_s, y->last_update_interval_s);
}

int64_t cb_poll_report_mono_hi(const struct cb_poll *p)
{
    int64_t rtt = cb_sat_sub(p->recv_rt_ns, p->sent.rt_ns);
    return cb_sat_add(p->sent.mono_ns, rtt > 0 ? rtt : 0);
}

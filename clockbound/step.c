/* Clock step detector (see step.h). Pure. */
#include "step.h"

#include <stddef.h>

#include "satmath.h"

/* The REALTIME - MONOTONIC interval a reading brackets, its ends in order. */
static void offset_interval(const struct cb_reading *r, int64_t *lo, int64_t *hi)
{
    int64_t a = cb_sat_sub(r->rt_ns, r->mono_ns);
    int64_t b = cb_sat_sub(r->rt_hi_ns, r->mono_ns);
    *lo = a < b ? a : b;
    *hi = a < b ? b : a;
}

void cb_step_init(struct cb_step *s, int64_t threshold_ns)
{
    s->have_base = false;
    s->base_lo_ns = 0;
    s->base_hi_ns = 0;
    s->threshold_ns = threshold_ns;
}

void cb_step_rebase(struct cb_step *s, const struct cb_reading *r)
{
    offset_interval(r, &s->base_lo_ns, &s->base_hi_ns);
    s->have_base = true;
}

bool cb_step_check(const struct cb_step *s, const struct cb_reading *r, int64_t *step_ns)
{
    if (!s->have_base) {
        return false;
    }
    int64_t lo, hi;
    offset_interval(r, &lo, &hi);
    int64_t step = 0;
    if (lo > s->base_hi_ns) {
        step = cb_sat_sub(lo, s->base_hi_ns); /* forward */
    } else if (hi < s->base_lo_ns) {
        step = cb_sat_sub(hi, s->base_lo_ns); /* backward, negative */
    }
    if (step > s->threshold_ns || step < -s->threshold_ns) {
        if (step_ns != NULL) {
            *step_ns = step;
        }
        return true;
    }
    return false;
}

int64_t cb_step_margin(const struct cb_step *s, const struct cb_reading *r)
{
    if (!s->have_base) {
        return 0;
    }
    int64_t lo, hi;
    offset_interval(r, &lo, &hi);
    int64_t up = cb_sat_sub(hi, s->base_lo_ns);
    int64_t down = cb_sat_sub(s->base_hi_ns, lo);
    int64_t m = up > down ? up : down;
    return m > 0 ? m : 0;
}

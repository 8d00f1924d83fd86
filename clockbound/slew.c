/* chrony's slew and the correction it leaves if chronyd stops (see slew.h). Pure. */
#include "slew.h"

#include "bound.h"
#include "satmath.h"

int64_t cb_slew_max_rate_ppb(struct chrony_float freq_ppm)
{
    /* (1e8 ppb + |freq|) * 10 / 9, rounded up; |freq| <= 1e6 ppm by the decoder's limits. */
    int64_t base_ppb = cb_float_upper(freq_ppm, 1000, 0);
    int64_t num = cb_sat_mul(cb_sat_add(CB_SLEW_KERNEL_MAX_FREQ_PPB, base_ppb), 10);
    return num / 9 + (num % 9 != 0);
}

/* Bounds of the signed value of f in ns: [lo, hi]. */
static void signed_bounds(struct chrony_float f, int64_t *lo, int64_t *hi)
{
    *hi = cb_float_signed_upper(f, CB_NS_PER_S);
    struct chrony_float neg = {-f.coef, f.exp2};
    *lo = -cb_float_signed_upper(neg, CB_NS_PER_S);
}

/* ceil(num_ns * 1e9 / den_ns) for num >= 0, den > 0: a rate in ppb. INT64_MAX when it would
 * not fit (a correction moving seconds per second is no slew). */
static int64_t rate_ppb_ceil(int64_t num_ns, int64_t den_ns)
{
    if (num_ns > INT64_MAX / CB_PPB_PER_1) {
        return INT64_MAX;
    }
    int64_t p = num_ns * CB_PPB_PER_1;
    return p / den_ns + (p % den_ns != 0);
}

/* The earliest a slew started by the reference update in cur can have begun, on its own: the
 * update came after the sample it is based on, chrony's reference time. Rounded towards an
 * older reference (as bound.c's ref_age). */
static int64_t update_mono_lo(const struct cb_poll *cur)
{
    const struct chrony_tracking *t = &cur->tracking;
    int64_t query_ntp =
        cb_sat_add(cur->sent.rt_ns, cb_float_signed_upper(t->current_correction_s, CB_NS_PER_S));
    int64_t age = cb_sat_sub(query_ntp, t->ref_time_ns);
    return cb_sat_sub(cur->sent.mono_ns, age > 0 ? age : 0);
}

/* Whether the correction moved away from zero (or across it) from prev to cur: not the same
 * sign, or certainly larger. chrony always slews towards zero, so this is a slew that went past
 * zero (chrony's timer late, or chronyd gone) or a jump. */
static bool moved_away(const struct cb_poll *prev, const struct cb_poll *cur)
{
    struct chrony_float p = prev->tracking.current_correction_s;
    struct chrony_float c = cur->tracking.current_correction_s;
    if (c.coef == 0) {
        return false;
    }
    bool same_sign = (p.coef > 0 && c.coef > 0) || (p.coef < 0 && c.coef < 0);
    return !same_sign || cb_float_lower(c, CB_NS_PER_S) > cb_float_upper(p, CB_NS_PER_S, 0);
}

/* Measures how fast the correction moved from prev to cur. Returns 1 with *rate_ppb an upper
 * bound of its speed; 0 when the polls are too close together to tell; -1 when they are too
 * far apart for the rule that a later slew of the same update is slower (slew.h). */
static int measure(const struct cb_poll *prev, const struct cb_poll *cur, int64_t *rate_ppb)
{
    int64_t span = cb_sat_sub(cur->sent.mono_ns, prev->sent.mono_ns);
    int64_t span_lo = cb_sat_sub(cur->sent.mono_ns, cb_poll_report_mono_hi(prev));
    if (span > CB_SLEW_MAX_PAIR_SPAN_NS) {
        return -1;
    }
    if (span_lo < CB_SLEW_MIN_PAIR_SPAN_NS) {
        return 0;
    }
    int64_t p_lo, p_hi, c_lo, c_hi;
    signed_bounds(prev->tracking.current_correction_s, &p_lo, &p_hi);
    signed_bounds(cur->tracking.current_correction_s, &c_lo, &c_hi);
    int64_t d1 = cb_sat_sub(p_hi, c_lo);
    int64_t d2 = cb_sat_sub(c_hi, p_lo);
    int64_t moved = d1 > d2 ? d1 : d2; /* >= |prev - cur| */
    *rate_ppb = rate_ppb_ceil(moved > 0 ? moved : 0, span_lo);
    return 1;
}

void cb_slew_observe(struct cb_slew *s, const struct cb_poll *prev, const struct cb_poll *cur,
                     bool same_update)
{
    const struct chrony_tracking *t = &cur->tracking;
    s->corr_hi_ns = cb_float_upper(t->current_correction_s, CB_NS_PER_S, 0);
    s->corr_lo_ns = cb_float_lower(t->current_correction_s, CB_NS_PER_S);
    s->poll_mono_ns = cur->sent.mono_ns;
    s->max_rate_ppb = cb_slew_max_rate_ppb(t->freq_ppm);

    if (prev == NULL || !s->have_poll) {
        /* Nothing to compare with: the slew began no earlier than the reference update. */
        s->start_lo_mono_ns = update_mono_lo(cur);
        s->rate_known = false;
        s->away = false;
    } else if (!same_update) {
        /* A new update, made after prev's report: a new slew of unknown rate. */
        s->start_lo_mono_ns = prev->sent.mono_ns;
        s->rate_known = false;
        s->away = false;
    } else {
        s->away = moved_away(prev, cur);
        int64_t rate = 0;
        int m = measure(prev, cur, &rate);
        if (m > 0 && rate < s->max_rate_ppb) {
            /* Within one update the slews that follow each other never get faster (slew.h),
             * so the pair's average covers the slew at cur. */
            s->rate_ppb = rate;
            s->rate_known = true;
        } else if (m > 0) {
            /* Faster than any slew: the correction jumped, a new slew began after prev. */
            s->start_lo_mono_ns = prev->sent.mono_ns;
            s->rate_known = false;
        } else if (m < 0) {
            /* Another slew may have begun at any time since the update; start_lo stays. */
            s->rate_known = false;
        }
        /* m == 0: too close to tell; what was known still holds. */
    }
    s->have_poll = true;
}

/* How fast a correction moving away from zero grows: the rate measured, else the fastest. */
static int64_t away_rate(const struct cb_slew *s)
{
    return s->rate_known ? s->rate_ppb : s->max_rate_ppb;
}

/* max(C, x) */
static int64_t at_least_c(const struct cb_slew *s, int64_t x)
{
    return x > s->corr_hi_ns ? x : s->corr_hi_ns;
}

/* The three bounds while the correction moves towards zero, each an upper bound on its own
 * (slew.h); the slew is at most the smallest. *rate_ppb gets that one's slope past its knee. */
static int64_t towards_zero(const struct cb_slew *s, int64_t mono_ns, int64_t dt, int64_t *rate_ppb)
{
    int64_t best = at_least_c(s, cb_sat_sub(cb_ppb_of_ns_ceil(s->max_rate_ppb, dt), s->corr_lo_ns));
    *rate_ppb = s->max_rate_ppb;
    int64_t since_start =
        cb_sat_sub(cb_sat_sub(mono_ns, s->start_lo_mono_ns), CB_SLEW_MIN_DURATION_NS);
    int64_t unknown = at_least_c(s, cb_ppb_of_ns_ceil(s->max_rate_ppb, since_start));
    if (unknown < best) {
        best = unknown;
    }
    if (s->rate_known) {
        int64_t known =
            at_least_c(s, cb_sat_sub(cb_ppb_of_ns_ceil(s->rate_ppb, dt), s->corr_lo_ns));
        if (known < best) {
            best = known;
            *rate_ppb = s->rate_ppb;
        }
    }
    if (best <= s->corr_hi_ns) {
        *rate_ppb = 0;
    }
    return best;
}

int64_t cb_slew_correction_ns(const struct cb_slew *s, int64_t mono_ns)
{
    if (!s->have_poll) {
        return INT64_MAX;
    }
    int64_t dt = cb_sat_sub(mono_ns, s->poll_mono_ns);
    if (dt < 0) {
        /* Earlier, the correction was larger by what has been slewed since, at most smax. */
        return cb_sat_add(s->corr_hi_ns, cb_ppb_of_ns_ceil(s->max_rate_ppb, cb_sat_sub(0, dt)));
    }
    if (s->away) {
        return cb_sat_add(s->corr_hi_ns, cb_ppb_of_ns_ceil(away_rate(s), dt));
    }
    int64_t rate = 0;
    return towards_zero(s, mono_ns, dt, &rate);
}

int64_t cb_slew_growth_ppb(const struct cb_slew *s, int64_t mono_ns)
{
    int64_t dt = cb_sat_sub(mono_ns, s->poll_mono_ns);
    if (!s->have_poll || dt < 0) {
        return 0;
    }
    if (s->away) {
        return away_rate(s);
    }
    int64_t rate = 0;
    (void)towards_zero(s, mono_ns, dt, &rate);
    return rate;
}

/* chrony's slew and the correction it leaves if chronyd stops (see slew.h). Pure. */
#include "slew.h"

#include <math.h>

#include "bound.h"
#include "satmath.h"

int64_t cb_slew_max_rate_ppb(struct chrony_float freq_ppm)
{
    /* (1e8 ppb + |freq|) * 10 / 9, rounded up; |freq| <= 1e6 ppm by the decoder's limits. A
     * NaN is sent as 0: exactly 0 cannot be trusted to be small. */
    int64_t base_ppb =
        freq_ppm.coef == 0 ? CB_SLEW_UNKNOWN_BASE_PPB : cb_float_upper(freq_ppm, 1000, 0);
    int64_t num = cb_sat_mul(cb_sat_add(CB_SLEW_KERNEL_MAX_FREQ_PPB, base_ppb), 10);
    return num / 9 + (num % 9 != 0);
}

/* The earliest a slew started by the reference update in cur can have begun, on its own: the
 * update came after the sample it is based on, chrony's reference time. */
static int64_t update_mono_lo(const struct cb_poll *cur)
{
    return cb_sat_sub(cur->sent.mono_ns, cb_ref_age_ns(&cur->tracking, cur->sent.rt_ns));
}

/* Nothing known of the slew's rate or direction. */
static void forget_rate(struct cb_slew *s)
{
    s->rate_known = false;
    s->away = false;
    s->beyond = false;
}

/* Which way the correction went from prev to cur. */
enum direction {
    DIR_TOWARDS, /* certainly nearer zero, on the same side (or at zero) */
    DIR_STILL,   /* the same, within the floats' precision */
    DIR_AWAY,    /* certainly further from zero on the same side, or across zero, or off zero */
};

static enum direction direction(const struct cb_poll *prev, const struct cb_poll *cur)
{
    struct chrony_float p = prev->tracking.current_correction_s;
    struct chrony_float c = cur->tracking.current_correction_s;
    if (c.coef == 0) {
        return DIR_TOWARDS;
    }
    bool same_side = (p.coef > 0 && c.coef > 0) || (p.coef < 0 && c.coef < 0);
    if (!same_side) {
        return DIR_AWAY;
    }
    /* Exact: 25-bit coefficients and a power of two fit a double. A float stands for a value
     * within one unit of its coefficient (bound.h). */
    double pa = fabs((double)p.coef), ca = fabs((double)c.coef);
    double p_lo = ldexp(pa - 1.0, p.exp2), p_hi = ldexp(pa + 1.0, p.exp2);
    double c_lo = ldexp(ca - 1.0, c.exp2), c_hi = ldexp(ca + 1.0, c.exp2);
    if (c_hi < p_lo) {
        return DIR_TOWARDS;
    }
    return c_lo > p_hi ? DIR_AWAY : DIR_STILL;
}

/* An upper bound of how fast the correction moved on average from prev to cur, in ppb;
 * INT64_MAX when the reports' moments are too uncertain to tell (closer than
 * CB_SLEW_MIN_PAIR_SPAN_NS, send of cur to the reply to prev). */
static int64_t average_rate(const struct cb_poll *prev, const struct cb_poll *cur)
{
    int64_t span_lo = cb_sat_sub(cur->sent.mono_ns, cb_poll_report_mono_hi(prev));
    if (span_lo < CB_SLEW_MIN_PAIR_SPAN_NS) {
        return INT64_MAX;
    }
    struct chrony_float p = prev->tracking.current_correction_s;
    struct chrony_float c = cur->tracking.current_correction_s;
    int64_t d1 =
        cb_sat_sub(cb_float_signed_upper(p, CB_NS_PER_S), cb_float_signed_lower(c, CB_NS_PER_S));
    int64_t d2 =
        cb_sat_sub(cb_float_signed_upper(c, CB_NS_PER_S), cb_float_signed_lower(p, CB_NS_PER_S));
    int64_t moved = d1 > d2 ? d1 : d2; /* >= |prev - cur| */
    return cb_rate_ppb(moved > 0 ? moved : 0, span_lo, 1);
}

static void take_in(struct cb_slew *s, const struct cb_poll *prev, const struct cb_poll *cur,
                    bool same_update)
{
    const struct chrony_tracking *t = &cur->tracking;
    s->corr_hi_ns = cb_float_upper(t->current_correction_s, CB_NS_PER_S, 0);
    s->corr_lo_ns = cb_float_lower(t->current_correction_s, CB_NS_PER_S);
    s->poll_mono_ns = cur->sent.mono_ns;
    s->report_mono_hi_ns = cb_poll_report_mono_hi(cur);
    s->max_rate_ppb = cb_slew_max_rate_ppb(t->freq_ppm);

    if (prev == NULL || !s->have_poll) {
        /* Nothing to compare with: the slew began no earlier than the reference update. */
        s->start_lo_mono_ns = update_mono_lo(cur);
        forget_rate(s);
        s->have_poll = true;
        return;
    }
    if (!same_update) {
        /* A new update, made after prev's report: a new slew of unknown rate. */
        s->start_lo_mono_ns = prev->sent.mono_ns;
        forget_rate(s);
        return;
    }
    int64_t span = cb_sat_sub(cur->sent.mono_ns, prev->sent.mono_ns);
    if (span > CB_SLEW_MAX_PAIR_SPAN_NS) {
        /* chrony's timer may have been late by more than 100 s: the slew after it need not be
         * slower. It may have begun at any time since the update (start_lo stays). */
        forget_rate(s);
        return;
    }
    enum direction dir = direction(prev, cur);
    int64_t rate = average_rate(prev, cur);
    bool long_gap = span > CB_SLEW_MIN_DURATION_NS;
    if (long_gap || s->beyond || dir == DIR_AWAY) {
        /* The average bounds the slew at cur only if the correction kept going one way. It
         * may have turned: a slew that went past zero (chrony's timer late) is followed by one
         * taking the overshoot back, and over more than Tmin slews may have ended and begun
         * in any order. The rate known before still bounds the slew at cur (slews of one
         * update only get slower). */
        if (s->rate_known) {
            s->rate_ppb = rate > s->rate_ppb && rate < s->max_rate_ppb ? rate : s->rate_ppb;
        } else if (rate < s->max_rate_ppb && !long_gap) {
            s->rate_ppb = rate;
            s->rate_known = true;
        }
    } else if (rate < s->max_rate_ppb) {
        /* One way all along: the average covers the slew at cur. Too close to tell, or no
         * better than smax (a slow reply leaves the report's moment uncertain): what was known
         * still holds. */
        s->rate_ppb = rate;
        s->rate_known = true;
    }
    /* Past zero and going on, it may turn next; not certainly nearer zero, the bound takes
     * it as moving away (at the rate, which for a still correction is tiny). */
    s->beyond = dir == DIR_AWAY || long_gap;
    s->away = dir != DIR_TOWARDS || long_gap;
    s->have_poll = true;
}

/* The rate a known slew is taken at: what was measured, or what a slew restarted after the
 * report could go at, C / Tmin, whichever is faster (slew.h). */
static int64_t known_rate(const struct cb_slew *s)
{
    int64_t restart = cb_rate_ppb(s->corr_hi_ns, CB_SLEW_MIN_DURATION_NS, 1);
    return s->rate_ppb > restart ? s->rate_ppb : restart;
}

/* How fast a correction moving away from zero grows: the known rate, else the fastest. */
static int64_t away_rate(const struct cb_slew *s)
{
    return s->rate_known ? known_rate(s) : s->max_rate_ppb;
}

/* max(C, x) */
static int64_t at_least_c(const struct cb_slew *s, int64_t x)
{
    return x > s->corr_hi_ns ? x : s->corr_hi_ns;
}

/* How fast a slew begun at or after start_lo can be going, seen at m0 with C left: it lasts
 * d >= Tmin, so C = |s| * (d - (m0 - start)) and |s| <= C / (Tmin - (m0 - start_lo)), when
 * that is positive; never above smax. */
static int64_t unknown_rate(const struct cb_slew *s)
{
    /* C is the correction at the report, which may have come up to a round trip after m0. */
    int64_t left =
        cb_sat_sub(CB_SLEW_MIN_DURATION_NS, cb_sat_sub(s->report_mono_hi_ns, s->start_lo_mono_ns));
    if (left <= 0) {
        return s->max_rate_ppb;
    }
    int64_t r = cb_rate_ppb(s->corr_hi_ns, left, 1);
    return r < s->max_rate_ppb ? r : s->max_rate_ppb;
}

/* The last instant, from `from` on, at which max(C, ceil(rate * dt / 1e9) - (room - C)) is
 * still C: dt <= floor(room * 1e9 / rate). Earlier than exact only where that would not fit. */
static int64_t last_flat(int64_t from, int64_t rate_ppb, int64_t room_ns)
{
    if (rate_ppb <= 0) {
        return INT64_MAX;
    }
    if (room_ns > INT64_MAX / CB_PPB_PER_1) {
        return from; /* corrections of seconds: no shortcut */
    }
    return cb_sat_add(from, room_ns * CB_PPB_PER_1 / rate_ppb);
}

/* Until when every rule's minimum is C: the latest instant at which some rule still is. */
static int64_t flat_until(const struct cb_slew *s)
{
    if (s->away) {
        return INT64_MIN;
    }
    int64_t room = cb_sat_add(s->corr_hi_ns, s->corr_lo_ns);
    int64_t any = last_flat(s->poll_mono_ns, s->max_rate_ppb, room);
    int64_t unknown = last_flat(cb_sat_add(s->start_lo_mono_ns, CB_SLEW_MIN_DURATION_NS),
                                unknown_rate(s), s->corr_hi_ns);
    int64_t until = any > unknown ? any : unknown;
    if (s->rate_known) {
        int64_t known = last_flat(s->poll_mono_ns, known_rate(s), room);
        until = known > until ? known : until;
    }
    return until;
}

void cb_slew_observe(struct cb_slew *s, const struct cb_poll *prev, const struct cb_poll *cur,
                     bool same_update)
{
    take_in(s, prev, cur, same_update);
    s->flat_until_mono_ns = flat_until(s);
}

int64_t cb_slew_rule_ns(const struct cb_slew *s, enum cb_slew_rule rule, int64_t mono_ns)
{
    if (!s->have_poll || mono_ns < s->report_mono_hi_ns) {
        return INT64_MAX;
    }
    /* dt from m0, before the report, only overstates the time slewed. */
    int64_t dt = cb_sat_sub(mono_ns, s->poll_mono_ns);
    if (s->away) {
        return cb_sat_add(s->corr_hi_ns, cb_ppb_of_ns_ceil(away_rate(s), dt));
    }
    switch (rule) {
    case CB_SLEW_ANY:
        return at_least_c(s, cb_sat_sub(cb_ppb_of_ns_ceil(s->max_rate_ppb, dt), s->corr_lo_ns));
    case CB_SLEW_UNKNOWN: {
        int64_t since_start =
            cb_sat_sub(cb_sat_sub(mono_ns, s->start_lo_mono_ns), CB_SLEW_MIN_DURATION_NS);
        return at_least_c(s, cb_ppb_of_ns_ceil(unknown_rate(s), since_start));
    }
    case CB_SLEW_KNOWN:
        if (!s->rate_known) {
            return INT64_MAX;
        }
        return at_least_c(s, cb_sat_sub(cb_ppb_of_ns_ceil(known_rate(s), dt), s->corr_lo_ns));
    case CB_SLEW_RULES:
        break;
    }
    return INT64_MAX;
}

int64_t cb_slew_correction_ns(const struct cb_slew *s, int64_t mono_ns)
{
    if (!s->have_poll) {
        return INT64_MAX;
    }
    if (mono_ns < s->report_mono_hi_ns) {
        /* Before the report could have been made (the daemon reads the clock only after the
         * reply): the correction differed from C by what was slewed between mono and the
         * report, at most smax, either way. */
        int64_t back = cb_sat_sub(s->report_mono_hi_ns, mono_ns);
        int64_t fwd = cb_sat_sub(mono_ns, s->poll_mono_ns);
        return cb_sat_add(s->corr_hi_ns,
                          cb_ppb_of_ns_ceil(s->max_rate_ppb, back > fwd ? back : fwd));
    }
    /* Each rule is an upper bound on its own; the slew is at most the smallest. Moving away
     * (or still), every rule is the same line; until the last rule leaves C (always, while
     * chronyd answers every poll) the smallest is C. These are the hot paths. */
    if (s->away) {
        return cb_slew_rule_ns(s, CB_SLEW_ANY, mono_ns);
    }
    if (mono_ns <= s->flat_until_mono_ns) {
        return s->corr_hi_ns;
    }
    int64_t best = INT64_MAX;
    for (int r = 0; r < CB_SLEW_RULES; r++) {
        int64_t v = cb_slew_rule_ns(s, (enum cb_slew_rule)r, mono_ns);
        best = v < best ? v : best;
    }
    return best;
}

int64_t cb_slew_unseen_ns(const struct cb_slew *s, int64_t at_report_ns, int64_t before_ns,
                          int64_t mono_ns)
{
    if (!s->have_poll) {
        return 0;
    }
    /* u runs from the report to mono - Tmin: X ns. */
    int64_t x = cb_sat_sub(cb_sat_sub(mono_ns, CB_SLEW_MIN_DURATION_NS), s->report_mono_hi_ns);
    if (x <= 0) {
        return 0;
    }
    /* The bound over that stretch lies below the line from a to b (it is convex); the largest
     * 2 * L(u) * (mono - u - Tmin) / Tmin, a product of a rising and a falling line, is at
     * v = X (b - 2a) / (2 (b - a)) from the report when that is positive, else at the report.
     * Products of ns reach 1e20: long double (64-bit mantissa), 2 ns of slack for its
     * rounding. */
    long double a = (long double)at_report_ns;
    long double b = (long double)(before_ns > at_report_ns ? before_ns : at_report_ns);
    long double xl = (long double)x;
    long double g = a * xl;
    if (b > 2.0L * a) {
        long double v = xl * (b - 2.0L * a) / (2.0L * (b - a));
        g = (a + (b - a) * v / xl) * (xl - v);
    }
    long double unseen = ceill(2.0L * g / (long double)CB_SLEW_MIN_DURATION_NS) + 2.0L;
    return unseen >= 9.0e18L ? INT64_MAX : (int64_t)unseen;
}

/* How fast a rule grows past its knee (C + rate * dt moving away: at once). */
static int64_t rule_rate(const struct cb_slew *s, enum cb_slew_rule rule)
{
    if (s->away) {
        return away_rate(s);
    }
    switch (rule) {
    case CB_SLEW_ANY:
        return s->max_rate_ppb;
    case CB_SLEW_UNKNOWN:
        return unknown_rate(s);
    case CB_SLEW_KNOWN:
        return known_rate(s);
    case CB_SLEW_RULES:
        break;
    }
    return 0;
}

int64_t cb_slew_growth_ppb(const struct cb_slew *s, int64_t mono_ns)
{
    if (!s->have_poll || mono_ns < s->report_mono_hi_ns) {
        return 0;
    }
    if (s->away) {
        return away_rate(s);
    }
    if (mono_ns <= s->flat_until_mono_ns) {
        return 0;
    }
    /* The slope of the smallest rule: 0 while it is still C, its rate past its knee. */
    int64_t best = INT64_MAX;
    int64_t slope = 0;
    for (int r = 0; r < CB_SLEW_RULES; r++) {
        int64_t v = cb_slew_rule_ns(s, (enum cb_slew_rule)r, mono_ns);
        if (v < best) {
            best = v;
            slope = v > s->corr_hi_ns || s->away ? rule_rate(s, (enum cb_slew_rule)r) : 0;
        }
    }
    return slope;
}

/*
 * Unit tests: the slew model (clockbound/slew.c): what a correction chrony is slewing does when
 * chronyd stops, with exact expected nanoseconds, and a randomised model of chrony's slews
 * (sys_generic.c's rules) against which every bound is checked, with its negative control.
 *
 * Expected values come from the formulas in slew.h, worked out here independently in long
 * double from the floats' coefficients: a float with coefficient c and exponent e stands for at
 * most (|c| + 1) * 2^e and at least (|c| - 1) * 2^e.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_chrony.h"
#include "satmath.h"
#include "slew.h"
#include "test_seed.h"

#define US  INT64_C(1000)
#define MS  INT64_C(1000000)
#define SEC INT64_C(1000000000)
#define RT0 (INT64_C(1795620000) * SEC)

/* The fastest slew with a base frequency reported as exactly 0 (maybe a NaN, so taken as the
 * kernel's limit): ceil((1e8 + 1e8) ppb * 10 / 9). */
#define SMAX_PPB INT64_C(222222223)

/* A report at CLOCK_MONOTONIC mono (REALTIME = RT0 + mono), answered after rtt_ns, with the
 * given correction and reference update (ref_ns and freq_ppm tell updates apart). */
static struct cb_poll report(int64_t mono, int64_t rtt_ns, double corr_s, int64_t ref_ns,
                             double freq_ppm)
{
    struct cb_poll p;
    memset(&p, 0, sizeof(p));
    p.sent.mono_ns = mono;
    p.sent.rt_ns = RT0 + mono;
    p.sent.rt_hi_ns = p.sent.rt_ns;
    p.recv_rt_ns = p.sent.rt_ns + rtt_ns;
    struct chrony_tracking *t = &p.tracking;
    t->ref_id = 0x7F000001;
    t->addr_family = 1;
    t->stratum = 2;
    t->ref_time_ns = ref_ns;
    t->current_correction_s = chrony_float_decode(fake_chrony_float(corr_s));
    t->freq_ppm = chrony_float_decode(fake_chrony_float(freq_ppm));
    t->skew_ppm = chrony_float_decode(fake_chrony_float(0.1));
    t->root_delay_s = chrony_float_decode(fake_chrony_float(1e-5));
    t->root_dispersion_s = chrony_float_decode(fake_chrony_float(1e-6));
    t->last_update_interval_s = chrony_float_decode(fake_chrony_float(1.0));
    return p;
}

/* Feeds cur after prev (NULL: the first), as clockbound.c does. */
static void observe(struct cb_slew *s, const struct cb_poll *prev, const struct cb_poll *cur)
{
    cb_slew_observe(s, prev, cur, prev != NULL && cb_poll_same_update(prev, cur));
}

/* |value| of a float, rounded up (delta +1) or down (delta -1), in ns; independent of bound.c. */
static int64_t mag_ns(struct chrony_float f, int delta)
{
    if (f.coef == 0) {
        return 0;
    }
    long double c = (long double)(f.coef < 0 ? -(int64_t)f.coef : f.coef);
    long double v = (c + delta) * ldexpl(1.0L, f.exp2) * 1e9L;
    return (int64_t)(delta > 0 ? ceill(v) : floorl(v));
}

static int64_t ppb_of(int64_t rate_ppb, int64_t ns)
{
    return (int64_t)ceill((long double)rate_ppb * (long double)ns / 1e9L);
}

static void test_max_rate(void **state)
{
    (void)state;
    struct chrony_float zero = {0, 0};
    assert_int_equal(cb_slew_max_rate_ppb(zero), SMAX_PPB);
    /* 500 ppm either way: (1e8 + 500,000 + a unit of the float) * 10 / 9. */
    struct chrony_float f = chrony_float_decode(fake_chrony_float(500.0));
    int64_t base = (int64_t)ceill((long double)(f.coef + 1) * ldexpl(1.0L, f.exp2) * 1000.0L);
    int64_t want = (int64_t)ceill((long double)(100000000 + base) * 10.0L / 9.0L);
    assert_int_equal(cb_slew_max_rate_ppb(f), want);
    assert_int_equal(cb_slew_max_rate_ppb(chrony_float_decode(fake_chrony_float(-500.0))), want);
    assert_int_equal(want, 111666668); /* 500 ppm is 500.0000305 ppm rounded up */
}

/* 1 ms being slewed at 1000 ppm (the reproduction): two reports 20 ms apart measure the
 * rate; were chronyd to stop, the bound stays C until the correction could pass zero, then
 * grows at the rate. */
static void test_known_rate(void **state)
{
    (void)state;
    struct cb_slew s;
    memset(&s, 0, sizeof(s));
    struct cb_poll a = report(0, 0, 1e-3, RT0 - 5 * MS, 1.5);
    struct cb_poll b = report(20 * MS, 0, 0.98e-3, RT0 - 5 * MS, 1.5);
    observe(&s, NULL, &a);
    observe(&s, &a, &b);
    struct chrony_float ca = a.tracking.current_correction_s;
    struct chrony_float cbf = b.tracking.current_correction_s;
    int64_t c_hi = mag_ns(cbf, 1), c_lo = mag_ns(cbf, -1);
    int64_t moved = mag_ns(ca, 1) - c_lo;
    int64_t rate = (int64_t)ceill((long double)moved * 1e9L / (long double)(20 * MS));
    assert_true(s.rate_known);
    assert_false(s.away);
    assert_int_equal(s.rate_ppb, rate);
    assert_true(rate >= 1000000 && rate < 1000200); /* 1000 ppm; 2 ns of rounding in 20 ms */
    assert_int_equal(s.corr_hi_ns, c_hi);
    /* The rule takes the faster of that and what a slew restarted after b could go at:
     * C / Tmin = 0.98 ms / 0.8 s, about 1225 ppm (slew.h). */
    int64_t eff = (int64_t)ceill((long double)c_hi * 1e9L / (long double)CB_SLEW_MIN_DURATION_NS);
    assert_true(eff > rate && eff < 1226000);

    /* Flat while eff * dt - C stays below C (until ~1.6 s after b). */
    assert_int_equal(cb_slew_correction_ns(&s, 20 * MS), c_hi);
    assert_int_equal(cb_slew_correction_ns(&s, 20 * MS + SEC), c_hi);
    assert_int_equal(cb_slew_growth_ppb(&s, 20 * MS + SEC), 0);
    /* 3 s after b: eff * 3 s - C, about 2.7 ms. */
    int64_t at3 = cb_slew_correction_ns(&s, 20 * MS + 3 * SEC);
    assert_int_equal(at3, ppb_of(eff, 3 * SEC) - c_lo);
    assert_int_equal(cb_slew_growth_ppb(&s, 20 * MS + 3 * SEC), eff);
    /* The truth, were chronyd killed at b: 0.98 ms - 1000 ppm * 3 s = -2.02 ms. The negative
     * control: the constant-|corr| rule (C) is short of it by about 1.04 ms. */
    int64_t truth = 3 * SEC / 1000 - 980 * US;
    assert_true(at3 >= truth);
    assert_true(c_hi < truth - SEC / 1000);
}

/* The first report of a new reference update: the rate is unknown, but the slew began after
 * the previous report (m0 = 0) and reaches zero no sooner than Tmin = 0.8 s after it began, so
 * with C = 1 ms left at the report (20.05 ms, the round trip's end) it passes zero no earlier
 * than 0.8 s and goes no faster than C / (0.8 s - 20.05 ms). */
static void test_unknown_rate_after_update(void **state)
{
    (void)state;
    struct cb_slew s;
    memset(&s, 0, sizeof(s));
    struct cb_poll a = report(0, 50 * US, 0.0, RT0 - 30 * MS, 1.5);
    struct cb_poll b = report(20 * MS, 50 * US, 1e-3, RT0 + 10 * MS, 1.25);
    observe(&s, NULL, &a);
    observe(&s, &a, &b);
    assert_false(s.rate_known);
    assert_int_equal(s.start_lo_mono_ns, 0);
    int64_t c_hi = mag_ns(b.tracking.current_correction_s, 1);
    int64_t su = (int64_t)ceill((long double)c_hi * 1e9L / (long double)(780 * MS - 50 * US));
    assert_true(su > 1282000 && su < 1283000); /* ~1282 ppm */
    /* No spike at the update: C for the whole poll interval and long after. */
    assert_int_equal(cb_slew_correction_ns(&s, 40 * MS), c_hi);
    assert_int_equal(cb_slew_correction_ns(&s, SEC), c_hi);
    assert_int_equal(cb_slew_growth_ppb(&s, SEC), 0);
    /* 2 s: su * (2 s - 0.8 s), past C. */
    assert_int_equal(cb_slew_correction_ns(&s, 2 * SEC), ppb_of(su, 1200 * MS));
    assert_int_equal(cb_slew_growth_ppb(&s, 2 * SEC), su);
    /* The slew the issue reproduces, 1 ms at 1000 ppm from 10 ms (it began after a): passes
     * zero at 1.01 s and is at 0.99 ms by 2 s; the bound's 1.25 ms holds it, the constant
     * |C| rule does not. */
    assert_true(cb_slew_correction_ns(&s, 2 * SEC) >= 990 * US);
    assert_true(c_hi < 990 * US + 20 * US);
}

/* The very first report: the slew began no earlier than chrony's reference time. */
static void test_first_report_starts_at_reference(void **state)
{
    (void)state;
    struct cb_slew s;
    memset(&s, 0, sizeof(s));
    /* Reference 300 ms before t_query, on chrony's timescale (correction 100 us, which moves
     * it by 100 us). */
    struct cb_poll a = report(5 * SEC, 0, 100e-6, RT0 + 5 * SEC - 300 * MS, 1.5);
    observe(&s, NULL, &a);
    assert_false(s.rate_known);
    int64_t c_up = mag_ns(a.tracking.current_correction_s, 1);
    assert_int_equal(s.start_lo_mono_ns, 5 * SEC - 300 * MS - c_up);
    int64_t left = CB_SLEW_MIN_DURATION_NS - 300 * MS - c_up;
    int64_t su = (int64_t)ceill((long double)c_up * 1e9L / (long double)left);
    /* C until the knee, then su from start_lo + 0.8 s. */
    assert_int_equal(cb_slew_correction_ns(&s, 5 * SEC + 1000), c_up);
    assert_int_equal(cb_slew_correction_ns(&s, 5 * SEC + 700 * MS), c_up);
    int64_t at = 5 * SEC + 1500 * MS;
    assert_int_equal(cb_slew_correction_ns(&s, at),
                     ppb_of(su, at - s.start_lo_mono_ns - CB_SLEW_MIN_DURATION_NS));
    /* Nothing left to slew (C = 0): nothing a slew begun since could still be doing. */
    struct cb_poll z = report(5 * SEC, 0, 0.0, RT0 + 5 * SEC - 300 * MS, 1.5);
    memset(&s, 0, sizeof(s));
    observe(&s, NULL, &z);
    assert_int_equal(cb_slew_correction_ns(&s, 5 * SEC + 2 * SEC), 0);
}

/* An update made after the last report and never seen (chronyd updated, then died): its slew
 * can overshoot from Tmin after the report, at no more than 2 * bound / Tmin. */
static void test_unseen_update(void **state)
{
    (void)state;
    struct cb_slew s;
    memset(&s, 0, sizeof(s));
    assert_int_equal(cb_slew_unseen_ns(&s, 1000, 1000, SEC), 0);
    struct cb_poll a = report(0, 0, 0.0, RT0 - 5 * MS, 1.5);
    observe(&s, NULL, &a);
    /* Nothing before Tmin (0.8 s) after the report. */
    assert_int_equal(cb_slew_unseen_ns(&s, 90 * US, 90 * US, 800 * MS), 0);
    /* 1 s after, the bound a steady 90 us: the worst update came at the report, slewing
     * 2 * 90 us over 0.8 s, 225 ppm, overshooting for 0.2 s: 45 us (and 2 ns of slack). */
    assert_int_equal(cb_slew_unseen_ns(&s, 90 * US, 90 * US, SEC), 45 * US + 2);
    /* A bound rising from a = 90 us to b = 450 us over the X = 0.2 s an update could have come
     * in: 2 L(u) (X - u) / Tmin is largest at u = X (b - 2a) / (2 (b - a)) = 3X/8, where L is
     * 2.5 a: 2 * 2.5 a * 5X/8 / Tmin = 70312.5 ns. */
    assert_int_equal(cb_slew_unseen_ns(&s, 90 * US, 450 * US, SEC), 70313 + 2);
    /* Brute force over u agrees (it can only be lower: it samples). */
    long double worst = 0;
    for (int64_t u = 0; u <= 200 * MS; u += 10 * US) {
        long double l = 90000.0L + 360000.0L * (long double)u / (long double)(200 * MS);
        long double g = 2.0L * l * (long double)(200 * MS - u) / 8e8L;
        worst = g > worst ? g : worst;
    }
    assert_true(worst <= 70312.5L && worst > 70311.0L);
}

/* A correction that went past zero between two reports (chrony's timer late, or chronyd gone):
 * from there it grows at the rate, at once. */
static void test_moving_away(void **state)
{
    (void)state;
    struct cb_slew s;
    memset(&s, 0, sizeof(s));
    struct cb_poll a = report(0, 0, 10e-6, RT0 - 5 * MS, 1.5);
    struct cb_poll b = report(20 * MS, 0, -10e-6, RT0 - 5 * MS, 1.5);
    observe(&s, NULL, &a);
    observe(&s, &a, &b);
    assert_true(s.away);
    assert_true(s.rate_known);
    int64_t moved =
        mag_ns(a.tracking.current_correction_s, 1) + mag_ns(b.tracking.current_correction_s, 1);
    int64_t rate = (int64_t)ceill((long double)moved * 1e9L / (long double)(20 * MS));
    assert_int_equal(s.rate_ppb, rate);
    int64_t c_hi = mag_ns(b.tracking.current_correction_s, 1);
    assert_int_equal(cb_slew_correction_ns(&s, 30 * MS), c_hi + ppb_of(rate, 10 * MS));
    assert_int_equal(cb_slew_growth_ppb(&s, 30 * MS), rate);
    /* Larger in magnitude with the same sign is moving away too. */
    struct cb_poll c = report(40 * MS, 0, -30e-6, RT0 - 5 * MS, 1.5);
    observe(&s, &b, &c);
    assert_true(s.away);
    /* And back towards zero is not. */
    struct cb_poll d = report(60 * MS, 0, -20e-6, RT0 - 5 * MS, 1.5);
    observe(&s, &c, &d);
    assert_false(s.away);
}

static void test_pairs_that_measure_nothing(void **state)
{
    (void)state;
    struct cb_slew s;
    memset(&s, 0, sizeof(s));
    struct cb_poll a = report(0, 0, 1e-3, RT0 - 5 * MS, 1.5);
    struct cb_poll b = report(20 * MS, 0, 0.98e-3, RT0 - 5 * MS, 1.5);
    observe(&s, NULL, &a);
    observe(&s, &a, &b);
    int64_t rate = s.rate_ppb;
    /* The previous reply took 19.5 ms: the reports' moments are within 0.5 ms of each other's
     * uncertainty, too close to measure; what was known still holds. */
    struct cb_poll b2 = report(20 * MS, 19500 * US, 0.98e-3, RT0 - 5 * MS, 1.5);
    struct cb_poll c = report(40 * MS, 0, 0.96e-3, RT0 - 5 * MS, 1.5);
    observe(&s, &b2, &c);
    assert_true(s.rate_known);
    assert_int_equal(s.rate_ppb, rate);
    assert_int_equal(s.corr_hi_ns, mag_ns(c.tracking.current_correction_s, 1));
    /* 101 s without a report: chrony's timer may have been late beyond the 100 s after which a
     * following slew need not be slower. Unknown again, and the slew may have begun at any
     * time since the update (start_lo stays). */
    int64_t start_lo = s.start_lo_mono_ns;
    struct cb_poll d = report(40 * MS + 101 * SEC, 0, 0.5e-3, RT0 - 5 * MS, 1.5);
    observe(&s, &c, &d);
    assert_false(s.rate_known);
    assert_int_equal(s.start_lo_mono_ns, start_lo);
    /* A fast slew, 70,000 ppm (5.2 ms left, then 3.8 ms 20 ms later), measured; then a pair
     * whose earlier reply took 18.8 ms, so its bound (1.4 ms in 1.2 ms) is no better than
     * smax: nothing learnt, and what was known holds (slews of one update only get slower),
     * the slew's start too. */
    memset(&s, 0, sizeof(s));
    int64_t t0 = 200 * SEC;
    struct cb_poll e0 = report(t0, 0, -5.2e-3, RT0 - 5 * MS, 1.5);
    struct cb_poll e1 = report(t0 + 20 * MS, 18800 * US, -3.8e-3, RT0 - 5 * MS, 1.5);
    struct cb_poll e2 = report(t0 + 40 * MS, 0, -2.4e-3, RT0 - 5 * MS, 1.5);
    observe(&s, NULL, &e0);
    start_lo = s.start_lo_mono_ns;
    observe(&s, &e0, &e1);
    assert_true(s.rate_known);
    rate = s.rate_ppb;
    assert_true(rate > 70000000 && rate < 70001000);
    observe(&s, &e1, &e2);
    assert_true(s.rate_known);
    assert_int_equal(s.rate_ppb, rate);
    assert_int_equal(s.start_lo_mono_ns, start_lo);
    assert_int_equal(s.corr_hi_ns, mag_ns(e2.tracking.current_correction_s, 1));
}

/* A reviewer's sequence: a poll at 0; chrony updates at 0.1 ms and slews 83.3 ms over 1 s
 * (90,909 ppm, through zero at 0.9168 s); chronyd stalls, the next answered poll is sent at
 * 890 ms and answered 20.5 ms later with 615 us left; then chronyd is killed. C / (Tmin - age)
 * must take the age at the report, not at the send, or the slew's rate comes out too low (taken at
 * the send, with Tmin 0.9 s: "at 947 ms: bound 2762130 < |truth| 2780301"). */
static void test_unknown_rate_late_report(void **state)
{
    (void)state;
    const double r = 83.3e-3, rate = r / 0.9168; /* slew_freq = corr / (1 - corr) */
    const int64_t a_ns = 100 * US;
    struct cb_slew s;
    memset(&s, 0, sizeof(s));
    struct cb_poll p0 = report(0, 100 * US, 0.0, RT0 - 30 * MS, 1.5);
    observe(&s, NULL, &p0);
    /* The report came at the end of the round trip: 615 us left there. */
    int64_t at = 890 * MS + 20500 * US;
    double left = r - rate * (double)(at - a_ns) * 1e-9;
    struct cb_poll p1 = report(890 * MS, 20500 * US, left, RT0, 1.25);
    observe(&s, &p0, &p1);
    assert_false(s.rate_known);
    for (int64_t t = at; t <= 3 * SEC; t += MS) {
        double truth = fabs(r - rate * (double)(t - a_ns) * 1e-9) * 1e9;
        int64_t bound = cb_slew_correction_ns(&s, t);
        if ((double)bound < truth - 1.0) {
            fail_msg("at %lld ms: bound %lld < |truth| %.0f", (long long)(t / MS), (long long)bound,
                     truth);
        }
    }
}

static void test_before_the_poll(void **state)
{
    (void)state;
    struct cb_slew s;
    memset(&s, 0, sizeof(s));
    assert_int_equal(cb_slew_correction_ns(&s, 0), INT64_MAX);
    assert_int_equal(cb_slew_growth_ppb(&s, 0), 0);
    struct cb_poll a = report(SEC, 0, 1e-3, RT0, 0.0);
    observe(&s, NULL, &a);
    int64_t c_hi = mag_ns(a.tracking.current_correction_s, 1);
    /* 10 us before: the correction was larger by at most smax * 10 us = 2223 ns (the base
     * frequency reported as exactly 0, perhaps a NaN, is taken as the kernel's limit). */
    assert_int_equal(cb_slew_correction_ns(&s, SEC - 10 * US), c_hi + 2223);
    assert_int_equal(cb_slew_growth_ppb(&s, SEC - 10 * US), 0);
}

/*
 * A model of chrony's slews, after sys_generic.c: at each reference update the correction left
 * plus a new offset is slewed over a duration of at least 1 s at a rate of at most maxslewrate;
 * chrony's timer ends a slew (sometimes late: the correction overshoots, and the next slew
 * takes the overshoot back over at least 1 s and 5 x the lateness); chronyd dies at some point
 * and the kernel keeps the last rate for ever. Reports come every ~20 ms with random round
 * trips, some lost. What is checked here is the correction chrony has left to slew, given the
 * updates the reports showed; an update after the last report is cb_slew_unseen_ns()'s case,
 * checked with the whole bound in test_clockbound.
 */
struct model {
    int64_t a; /* the current slew: started at a (mono) with r left, rate s (signed, per s) */
    double r;
    double s;
    int64_t end;     /* when chrony's timer fires (a late one included) */
    double freq;     /* base frequency: a new value at each update */
    int64_t ref;     /* reference time of the last update */
    unsigned update; /* updates so far */
    int64_t dead_at;
};

static double model_corr(const struct model *m, int64_t t)
{
    return m->r - m->s * (double)(t - m->a) * 1e-9;
}

static double rnd(void)
{
    return (double)rand() / ((double)RAND_MAX + 1.0);
}

static void model_slew(struct model *m, int64_t at, double r, double min_duration_s)
{
    double duration = 1.0 + rnd() * 4.0;
    if (duration < min_duration_s) {
        duration = min_duration_s;
    }
    double rate = r / duration;
    const double maxslew = 83333.333e-6;
    if (fabs(rate) > maxslew) {
        rate = rate > 0 ? maxslew : -maxslew;
    }
    m->a = at;
    m->r = r;
    m->s = rate;
    double late_s = rnd() < 0.2 ? rnd() * 0.05 : 0.0;
    m->end = at + (int64_t)((r / rate + late_s) * 1e9);
}

/* Runs the model to time t (chronyd alive): timers fire, overshoots are taken back. */
static void model_advance(struct model *m, int64_t t)
{
    while (m->s != 0.0 && t >= m->end && m->end < m->dead_at) {
        int64_t at = m->end;
        double left = model_corr(m, at);
        double late_s = (double)(m->end - m->a) * 1e-9 - m->r / m->s;
        if (fabs(left) < 1e-12) {
            m->a = at;
            m->r = 0.0;
            m->s = 0.0;
        } else {
            /* Late by x: the next slew lasts at least 5 x and 1 s. */
            model_slew(m, at, left, 5.0 * fabs(late_s));
        }
    }
}

/* Checks the bound at t against the correction the model has left; returns whether today's
 * rule (|C| at the last report, constant) would have been short of it. */
static bool check_at(const struct cb_slew *s, const struct model *m, int64_t t, double last_c,
                     unsigned seed, int run, const char *when)
{
    double truth = fabs(model_corr(m, t)) * 1e9;
    int64_t bound = cb_slew_correction_ns(s, t);
    /* The shortcut (C while no rule has left it) agrees with the smallest rule exactly. */
    if (t >= s->report_mono_hi_ns) {
        int64_t least = INT64_MAX;
        for (int r = 0; r < CB_SLEW_RULES; r++) {
            int64_t v = cb_slew_rule_ns(s, (enum cb_slew_rule)r, t);
            least = v < least ? v : least;
        }
        if (bound != least) {
            fail_msg("seed %u run %d: at %lld the bound %lld is not the smallest rule %lld", seed,
                     run, (long long)t, (long long)bound, (long long)least);
        }
        /* ... and right at its edge: the first ns past it has left C. */
        int64_t edge = s->flat_until_mono_ns;
        if (edge >= s->report_mono_hi_ns && edge < INT64_MAX) {
            int64_t past = INT64_MAX;
            for (int r = 0; r < CB_SLEW_RULES; r++) {
                int64_t v = cb_slew_rule_ns(s, (enum cb_slew_rule)r, edge + 1);
                past = v < past ? v : past;
            }
            if (cb_slew_correction_ns(s, edge) != s->corr_hi_ns ||
                past != cb_slew_correction_ns(s, edge + 1)) {
                fail_msg("seed %u run %d: the shortcut's edge %lld is off", seed, run,
                         (long long)edge);
            }
        }
    }
    if ((double)bound < truth - 1.0) {
        fail_msg("seed %u run %d: %s, at %lld: bound %lld < |truth| %.1f (rate known %d %lld, "
                 "away %d, start_lo %lld, m0 %lld; slew from %lld, r %.3g s %.3g)",
                 seed, run, when, (long long)t, (long long)bound, truth, s->rate_known,
                 (long long)s->rate_ppb, s->away, (long long)s->start_lo_mono_ns,
                 (long long)s->poll_mono_ns, (long long)m->a, m->r, m->s);
    }
    return fabs(last_c) * 1e9 + 1.0 < truth;
}

static void test_chrony_model_property(void **state)
{
    (void)state;
    unsigned seed = test_seed("test_chrony_model_property");
    long checks = 0, violations_old = 0, scenarios = 0, unseen = 0;
    for (int run = 0; run < 400; run++) {
        struct model m;
        memset(&m, 0, sizeof(m));
        m.freq = 10.0;
        m.ref = RT0 - 10 * MS;
        /* Updates every 1/16 s (the demo) or every 1 to 16 s; chronyd dies within 40 s. */
        int64_t update_every = (rand() % 3 == 0) ? 62500 * US : (int64_t)(1 + rand() % 16) * SEC;
        m.dead_at = (int64_t)(rnd() * 40.0 * (double)SEC);
        struct cb_slew s;
        memset(&s, 0, sizeof(s));
        struct cb_poll prev;
        bool have_prev = false;
        unsigned seen_update = 0;
        double last_c = 0;
        int64_t next_update = 0;
        for (int64_t t = 0; t < m.dead_at;
             t += 20 * MS + (int64_t)(rand() % 2000) * US - 1000 * US) {
            model_advance(&m, t);
            if (t >= next_update) {
                /* Offsets from 1 us to 100 ms, either sign. */
                double offset = pow(10.0, -6.0 + rnd() * 5.0) * (rand() % 2 ? 1 : -1);
                model_slew(&m, t, model_corr(&m, t) + offset, 1.0);
                m.freq += rnd() - 0.5;
                m.ref = RT0 + t - (int64_t)(rnd() * 50.0 * (double)MS);
                m.update++;
                next_update = t + update_every;
            }
            int64_t rtt = rand() % 10 == 0 ? (int64_t)(rand() % 15000) * US
                                           : (int64_t)(20 + rand() % 500) * US;
            if (rand() % 100 != 0 && t + rtt < m.dead_at) {
                /* chrony reports at some instant of the round trip. */
                int64_t at = t + (int64_t)(rnd() * (double)rtt);
                model_advance(&m, at);
                struct cb_poll cur = report(t, rtt, model_corr(&m, at), m.ref, m.freq);
                observe(&s, have_prev ? &prev : NULL, &cur);
                prev = cur;
                have_prev = true;
                seen_update = m.update;
                last_c = model_corr(&m, at);
            }
            /* Between polls, chronyd alive, no update since the report: the bound holds. */
            int64_t between = t + (int64_t)(rnd() * 20.0 * (double)MS);
            if (have_prev && seen_update == m.update && between < m.dead_at) {
                model_advance(&m, between);
                checks++;
                (void)check_at(&s, &m, between, last_c, seed, run, "alive");
            }
        }
        if (!have_prev) {
            continue;
        }
        model_advance(&m, m.dead_at);
        if (seen_update != m.update) {
            unseen++; /* updated after the last report, then died */
            continue;
        }
        scenarios++;
        /* chronyd is gone: the kernel keeps the last slew's rate for ever (no timer fires).
         * Check up to 10 s on. */
        for (int k = 0; k < 50; k++) {
            int64_t at = m.dead_at + (int64_t)(rnd() * 10.0 * (double)SEC);
            checks++;
            violations_old += check_at(&s, &m, at, last_c, seed, run, "dead");
        }
    }
    print_message("seed %u: %ld scenarios (%ld more updated unseen before dying), %ld checks; "
                  "the constant-|C| rule is short in %ld of them\n",
                  seed, scenarios, unseen, checks, violations_old);
    assert_true(scenarios > 300);
    /* The negative control: the rule this replaced fails the same checks, often. */
    assert_true(violations_old > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_rate),
        cmocka_unit_test(test_known_rate),
        cmocka_unit_test(test_unknown_rate_after_update),
        cmocka_unit_test(test_first_report_starts_at_reference),
        cmocka_unit_test(test_unseen_update),
        cmocka_unit_test(test_moving_away),
        cmocka_unit_test(test_pairs_that_measure_nothing),
        cmocka_unit_test(test_unknown_rate_late_report),
        cmocka_unit_test(test_before_the_poll),
        cmocka_unit_test(test_chrony_model_property),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

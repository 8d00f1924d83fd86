/*
 * Unit tests: chrony's dispersion growth measured from its reports (clockbound/dispersion.c),
 * and the comparisons of reports it stands on (clockbound/sample.c), with exact expected
 * values worked out here from the floats' coefficients.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dispersion.h"
#include "fake_chrony.h"
#include "sample.h"

#define US  INT64_C(1000)
#define MS  INT64_C(1000000)
#define SEC INT64_C(1000000000)
#define RT0 (INT64_C(1795620000) * SEC)

static struct chrony_float fl(double x)
{
    return chrony_float_decode(fake_chrony_float(x));
}

/* A report sent at mono (REALTIME RT0 + mono), answered rtt later, from a chrony whose
 * reference update was at RT0 and whose dispersion has grown to disp_s. */
static struct cb_poll report(int64_t mono, int64_t rtt, double disp_s)
{
    struct cb_poll p;
    memset(&p, 0, sizeof(p));
    p.sent.mono_ns = mono;
    p.sent.rt_ns = RT0 + mono;
    p.sent.rt_hi_ns = p.sent.rt_ns;
    p.recv_rt_ns = p.sent.rt_ns + rtt;
    struct chrony_tracking *t = &p.tracking;
    t->ref_id = 0x0A000001;
    t->addr_family = 1;
    t->stratum = 2;
    t->ref_time_ns = RT0;
    t->root_dispersion_s = fl(disp_s);
    t->root_delay_s = fl(1e-5);
    t->skew_ppm = fl(0.05);
    t->resid_freq_ppm = fl(-0.05);
    t->freq_ppm = fl(12.5);
    t->last_update_interval_s = fl(16.0);
    return p;
}

/* |value| of a float rounded up (+1 unit) or down (-1), in ns, without the library. */
static long double mag(struct chrony_float f, int delta, long double unit)
{
    long double c = (long double)(f.coef < 0 ? -(int64_t)f.coef : f.coef);
    return (c + delta) * ldexpl(1.0L, f.exp2) * unit;
}

/* chrony left at its default maxclockerror (1 ppm) with skew 0.05 and |resid| 0.05: its
 * dispersion grows at 1.1 ppm. Two reports 10 s apart measure that, and maxclockerror. */
static void test_measures_growth(void **state)
{
    (void)state;
    struct cb_dispersion d;
    cb_dispersion_init(&d);
    struct cb_poll a = report(0, 50 * US, 1e-5);
    struct cb_poll b = report(10 * SEC, 50 * US, 1e-5 + 10 * 1.1e-6);
    cb_dispersion_observe(&d, &a);
    assert_false(d.measured); /* one report measures nothing */
    cb_dispersion_observe(&d, &b);
    assert_true(d.measured);
    /* The reports' moments: within their round trips. Rate bounds: the least growth over the
     * longest span, the most over the shortest. */
    struct chrony_float da = a.tracking.root_dispersion_s, db = b.tracking.root_dispersion_s;
    long double grew_lo = floorl(mag(db, -1, 1e9L)) - ceill(mag(da, 1, 1e9L));
    long double grew_hi = ceill(mag(db, 1, 1e9L)) - floorl(mag(da, -1, 1e9L));
    int64_t lo = (int64_t)floorl(grew_lo * 1e9L / (long double)(10 * SEC + 50 * US));
    int64_t hi = (int64_t)ceill(grew_hi * 1e9L / (long double)(10 * SEC - 50 * US));
    assert_int_equal(d.rate_lo_ppb, lo);
    assert_int_equal(d.rate_hi_ppb, hi);
    assert_true(lo >= 1099 && hi <= 1101);
    /* maxclockerror: the rate less skew and |resid| (rounded the other way). */
    int64_t own_hi = (int64_t)ceill(mag(b.tracking.skew_ppm, 1, 1e3L)) +
                     (int64_t)ceill(mag(b.tracking.resid_freq_ppm, 1, 1e3L));
    int64_t own_lo = (int64_t)floorl(mag(b.tracking.skew_ppm, -1, 1e3L)) +
                     (int64_t)floorl(mag(b.tracking.resid_freq_ppm, -1, 1e3L));
    assert_int_equal(d.maxclockerror_lo_ppb, lo - own_hi);
    assert_int_equal(d.maxclockerror_hi_ppb, hi - own_lo);
    assert_true(d.maxclockerror_lo_ppb >= 997 && d.maxclockerror_hi_ppb <= 1003);
}

/* The anchor is the first report of an update, so the span, and the precision, grow. */
static void test_anchor_and_updates(void **state)
{
    (void)state;
    struct cb_dispersion d;
    cb_dispersion_init(&d);
    struct cb_poll a = report(0, 200 * US, 1e-5);
    cb_dispersion_observe(&d, &a);
    struct cb_poll b = report(20 * MS, 200 * US, 1e-5 + 0.02 * 1.1e-6);
    cb_dispersion_observe(&d, &b);
    int64_t width_20ms = d.rate_hi_ppb - d.rate_lo_ppb;
    struct cb_poll c = report(2 * SEC, 200 * US, 1e-5 + 2 * 1.1e-6);
    cb_dispersion_observe(&d, &c);
    int64_t width_2s = d.rate_hi_ppb - d.rate_lo_ppb;
    assert_true(width_2s * 10 < width_20ms);
    /* A new reference update: a new anchor, and maxclockerror, chrony's setting, kept. */
    int64_t m_lo = d.maxclockerror_lo_ppb;
    struct cb_poll n = report(3 * SEC, 200 * US, 2e-5);
    n.tracking.ref_time_ns = RT0 + 3 * SEC;
    n.tracking.skew_ppm = fl(0.07);
    cb_dispersion_observe(&d, &n);
    assert_true(d.measured);
    assert_int_equal(d.maxclockerror_lo_ppb, m_lo);
    assert_int_equal(d.anchor.sent.mono_ns, 3 * SEC);
    /* Forgotten (chronyd failed, or is not synchronised): nothing measured until two reports
     * of one update again. */
    cb_dispersion_forget(&d);
    assert_false(d.measured);
    struct cb_poll n2 = report(3 * SEC + 20 * MS, 200 * US, 2e-5 + 0.02 * 1.12e-6);
    n2.tracking = n.tracking;
    n2.tracking.root_dispersion_s = fl(2e-5 + 0.02 * 1.12e-6);
    cb_dispersion_observe(&d, &n2);
    assert_true(d.measured);
}

/* Reports too close together (the earlier reply's instant to the later send under 1 ms)
 * measure nothing; a dispersion that did not grow measures 0, never below. */
static void test_short_spans_and_no_growth(void **state)
{
    (void)state;
    struct cb_dispersion d;
    cb_dispersion_init(&d);
    struct cb_poll a = report(0, 19500 * US, 1e-5);
    struct cb_poll b = report(20 * MS, 0, 1e-5 + 0.02 * 1.1e-6);
    cb_dispersion_observe(&d, &a);
    cb_dispersion_observe(&d, &b);
    assert_false(d.measured);
    struct cb_poll c = report(40 * MS, 0, 1e-5);
    cb_dispersion_observe(&d, &c);
    assert_true(d.measured);
    assert_int_equal(d.rate_lo_ppb, 0);
    assert_int_equal(d.maxclockerror_lo_ppb, 0);
}

/* What tells two reference updates apart: every field chrony sets only at an update. */
static void test_same_update(void **state)
{
    (void)state;
    struct cb_poll a = report(0, 0, 1e-5);
    struct cb_poll b = report(20 * MS, 30 * US, 2e-5);
    b.tracking.current_correction_s = fl(-3e-6);
    assert_true(cb_poll_same_update(&a, &b)); /* correction and dispersion move between */
    struct cb_poll c;
#define DIFFERS(stmt)                              \
    do {                                           \
        c = b;                                     \
        stmt;                                      \
        assert_false(cb_poll_same_update(&a, &c)); \
    } while (0)
    DIFFERS(c.tracking.ref_id++);
    DIFFERS(c.tracking.addr[3] = 9);
    DIFFERS(c.tracking.addr_family = 2);
    DIFFERS(c.tracking.stratum = 3);
    DIFFERS(c.tracking.leap = 1);
    DIFFERS(c.tracking.ref_time_ns++);
    DIFFERS(c.tracking.last_offset_s = fl(1e-7));
    DIFFERS(c.tracking.rms_offset_s = fl(1e-7));
    DIFFERS(c.tracking.freq_ppm = fl(12.6));
    DIFFERS(c.tracking.resid_freq_ppm = fl(0.01));
    DIFFERS(c.tracking.skew_ppm = fl(0.06));
    DIFFERS(c.tracking.root_delay_s = fl(2e-5));
    DIFFERS(c.tracking.last_update_interval_s = fl(8.0));
#undef DIFFERS
    /* When the report was made, at the latest: the send plus the round trip. */
    assert_int_equal(cb_poll_report_mono_hi(&b), 20 * MS + 30 * US);
    b.recv_rt_ns = b.sent.rt_ns - 5; /* a step back between: no negative round trip */
    assert_int_equal(cb_poll_report_mono_hi(&b), 20 * MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_measures_growth),
        cmocka_unit_test(test_anchor_and_updates),
        cmocka_unit_test(test_short_spans_and_no_growth),
        cmocka_unit_test(test_same_update),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The fake chronyd's timeline (tests/support/fake_timeline.h): the model the fault tests' truth
 * rests on. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fake_timeline.h"

#define MS INT64_C(1000000)
#define S  INT64_C(1000000000)
#define T0 (INT64_C(1800000000) * S)

/* cmocka 1.1.5 has no assert_double_equal. */
static void expect_near(double got, double want, double eps)
{
    if (!(fabs(got - want) <= eps)) {
        fail_msg("%.17g, expected %.17g within %g", got, want, eps);
    }
}

static struct fake_timeline_params params(void)
{
    struct fake_timeline_params p = {
        .update_every_ns = S / 16,
        .root_delay_s = 6e-6,
        .root_dispersion_s = 5e-7,
        .growth_ppm = 1.1,
        .silent_after_ns = -1,
    };
    return p;
}

static void test_reference_held_between_updates(void **state)
{
    (void)state;
    struct fake_timeline_params p = params();
    struct fake_timeline tl;
    fake_timeline_init(&tl, &p, T0, 0);
    struct fake_timeline_report a, b;
    assert_true(fake_timeline_answer(&tl, T0 + 10 * MS, 0, &a));
    assert_true(fake_timeline_answer(&tl, T0 + 50 * MS, 0, &b));
    assert_int_equal(a.ref_ns, T0);
    assert_int_equal(b.ref_ns, T0);
    assert_true(a.correction_s == 0 && b.correction_s == 0);
    /* chrony's growth, exactly linear: 1.1 ppm of the time since the reference. */
    expect_near(a.root_dispersion_s, 5e-7 + 1.1e-6 * 0.010, 1e-15);
    expect_near(b.root_dispersion_s, 5e-7 + 1.1e-6 * 0.050, 1e-15);
    expect_near(b.update_interval_s, 0.0625, 1e-12);
    /* The next update at 1/16 s, then the reference moves to it. */
    assert_int_equal(fake_timeline_next(&tl), T0 + S / 16);
    fake_timeline_update(&tl, fake_timeline_next(&tl), 0);
    assert_true(fake_timeline_answer(&tl, T0 + 70 * MS, 0, &a));
    assert_int_equal(a.ref_ns, T0 + S / 16);
    assert_int_equal(fake_timeline_next(&tl), T0 + S / 8);
    assert_int_equal(tl.updates, 2);
    /* Frozen: no more scheduled updates, the dispersion grows on. */
    fake_timeline_freeze(&tl);
    assert_int_equal(fake_timeline_next(&tl), INT64_MAX);
    assert_true(fake_timeline_answer(&tl, T0 + S / 16 + 10 * S, 0, &a));
    assert_int_equal(a.ref_ns, T0 + S / 16);
    expect_near(a.root_dispersion_s, 5e-7 + 1.1e-6 * 10, 1e-15);
}

static void test_step_measured_at_next_update(void **state)
{
    (void)state;
    struct fake_timeline_params p = params();
    p.update_every_ns = S;
    struct fake_timeline tl;
    fake_timeline_init(&tl, &p, T0, 0);
    /* The shared clock steps back 100 ms: chrony has not measured it yet. */
    struct fake_timeline_report r;
    assert_true(fake_timeline_answer(&tl, T0 + 10 * MS, -100 * MS, &r));
    assert_int_equal(r.ref_ns, T0);
    assert_true(r.correction_s == 0);
    /* Its next update (forced here) measures the clock 100 ms slow: correction +0.1 s, the
     * reference time on the cooked timescale, i.e. true time. */
    fake_timeline_update(&tl, T0 + 20 * MS, -100 * MS);
    assert_true(fake_timeline_answer(&tl, T0 + 30 * MS, -100 * MS, &r));
    expect_near(r.correction_s, 0.1, 1e-15);
    assert_int_equal(r.ref_ns, T0 + 20 * MS);
    /* Held, not slewed: the stepped clock does not move. */
    assert_true(fake_timeline_answer(&tl, T0 + 900 * MS, -100 * MS, &r));
    expect_near(r.correction_s, 0.1, 1e-15);
    /* The schedule goes on from the forced update. */
    assert_int_equal(fake_timeline_next(&tl), T0 + 20 * MS + S);
}

static void test_slew_shrinks_and_stops_at_zero(void **state)
{
    (void)state;
    struct fake_timeline_params p = params();
    p.slew_correction_s = -1e-3;
    p.slew_rate_ppm = 1000;
    p.before_slew_dispersion_s = 1e-3 + 5e-7;
    assert_int_equal(fake_timeline_check(&p, false, NULL), 0);
    struct fake_timeline tl;
    fake_timeline_init(&tl, &p, T0, 0);
    struct fake_timeline_report r;
    /* Before the slew: the dispersion covers the offset not yet measured. */
    assert_true(fake_timeline_answer(&tl, T0 + 10 * MS, 0, &r));
    expect_near(r.root_dispersion_s, 1e-3 + 5e-7 + 1.1e-6 * 0.01, 1e-15);
    const int64_t t = T0 + 30 * MS;
    fake_timeline_slew(&tl, t, 0);
    assert_int_equal(fake_timeline_next(&tl), INT64_MAX);
    assert_true(fake_timeline_answer(&tl, t, 0, &r));
    expect_near(r.correction_s, -1e-3, 1e-15);
    assert_int_equal(r.ref_ns, t - 1 * MS);
    assert_true(fake_timeline_answer(&tl, t + S / 2, 0, &r));
    expect_near(r.correction_s, -0.5e-3, 1e-12);
    assert_int_equal(r.ref_ns, t - 1 * MS);
    assert_true(fake_timeline_answer(&tl, t + 1200 * MS, 0, &r));
    assert_true(r.correction_s == 0);
    /* Never silent: chronyd stopped the slew, the truth stays at zero. */
    struct fake_slew_truth truth;
    assert_true(fake_timeline_truth(&tl, &truth));
    assert_true(truth.stopped);
    expect_near(fake_slew_theta_ns(&truth, t - 1), -1e6, 1e-6);
    expect_near(fake_slew_theta_ns(&truth, t + S / 4), -0.75e6, 1e-6);
    expect_near(fake_slew_theta_ns(&truth, t + 3 * S), 0, 1e-6);
    /* A second SIGUSR2 changes nothing. */
    fake_timeline_slew(&tl, t + 2 * S, 0);
    assert_int_equal(tl.slew_sys_ns, t);
}

static void test_silent_mid_slew_slews_past_zero(void **state)
{
    (void)state;
    struct fake_timeline_params p = params();
    p.slew_correction_s = 83333e-6;
    p.slew_rate_ppm = 83333;
    p.before_slew_dispersion_s = 0.084;
    p.silent_after_ns = 100 * MS;
    struct fake_timeline tl;
    fake_timeline_init(&tl, &p, T0, 0);
    fake_timeline_slew(&tl, T0 + S, 0);
    struct fake_timeline_report r;
    assert_true(fake_timeline_answer(&tl, T0 + S + 50 * MS, 0, &r));
    expect_near(r.correction_s, 83333e-6 * 0.95, 1e-12);
    assert_true(fake_timeline_answer(&tl, T0 + S + 100 * MS, 0, &r));
    assert_false(fake_timeline_answer(&tl, T0 + S + 101 * MS, 0, &r));
    assert_false(fake_timeline_answer(&tl, T0 + S + 50 * MS, 0, &r)); /* for good */
    struct fake_slew_truth truth;
    assert_true(fake_timeline_truth(&tl, &truth));
    assert_false(truth.stopped);
    /* Past zero at the same rate: at T + 2 s the clock is off by -C. */
    expect_near(fake_slew_theta_ns(&truth, T0 + 3 * S), -83333e3, 1e-3);
    expect_near(fake_slew_theta_ns(&truth, T0 + 2 * S), 0, 1e-3);
}

static void test_first_request_after_slew_answered(void **state)
{
    (void)state;
    struct fake_timeline_params p = params();
    p.slew_correction_s = 1e-5;
    p.slew_rate_ppm = 10;
    p.before_slew_dispersion_s = 1e-5 + 5e-7;
    p.silent_after_ns = 0;
    struct fake_timeline tl;
    fake_timeline_init(&tl, &p, T0, 0);
    fake_timeline_slew(&tl, T0 + S, 0);
    struct fake_timeline_report r;
    assert_true(fake_timeline_answer(&tl, T0 + S + 15 * MS, 0, &r));
    expect_near(r.correction_s, 1e-5 - 10e-6 * 0.015, 1e-15);
    assert_false(fake_timeline_answer(&tl, T0 + S + 35 * MS, 0, &r));
    struct fake_slew_truth truth;
    assert_true(fake_timeline_truth(&tl, &truth));
    assert_false(truth.stopped);
    /* Silent at the end: the kernel slews on. */
    expect_near(fake_slew_theta_ns(&truth, T0 + 4 * S), -2e4, 1e-6);
}

static void test_slews_chrony_never_makes(void **state)
{
    (void)state;
    struct fake_timeline_params p = params();
    p.slew_correction_s = 0.5e-3;
    p.slew_rate_ppm = 1000;
    p.before_slew_dispersion_s = 1;
    const char *why = NULL;
    assert_int_equal(fake_timeline_check(&p, false, &why), -EINVAL);
    assert_non_null(why);
    assert_int_equal(fake_timeline_check(&p, true, NULL), 0);
    p.slew_correction_s = 0.2;
    p.slew_rate_ppm = 100000;
    assert_int_equal(fake_timeline_check(&p, false, NULL), -EINVAL);
    p.slew_rate_ppm = 1e6 / 12;
    assert_int_equal(fake_timeline_check(&p, false, NULL), 0);
    p.before_slew_dispersion_s = 0.1;
    assert_int_equal(fake_timeline_check(&p, false, NULL), -EINVAL);
    p.slew_correction_s = 0;
    p.update_every_ns = 0;
    assert_int_equal(fake_timeline_check(&p, false, NULL), -EINVAL);
}

static void test_apply(void **state)
{
    (void)state;
    struct fake_chrony_script s;
    fake_chrony_script_default(&s, 0);
    struct fake_timeline_report r = {
        .ref_ns = T0 + 123456789,
        .correction_s = -0.0025,
        .root_delay_s = 1e-5,
        .root_dispersion_s = 2e-5,
        .update_interval_s = 1,
    };
    fake_timeline_apply(&r, &s);
    assert_int_equal(s.ref_sec_high, 0);
    assert_int_equal(s.ref_sec_low, 1800000000);
    assert_int_equal(s.ref_nsec, 123456789);
    assert_int_equal(s.current_correction_s, fake_chrony_float(-0.0025));
    assert_int_equal(s.root_delay_s, fake_chrony_float(1e-5));
    assert_int_equal(s.root_dispersion_s, fake_chrony_float(2e-5));
    assert_int_equal(s.last_update_interval_s, fake_chrony_float(1));
    assert_int_equal(s.stratum, 2); /* the rest as it was */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_held_between_updates),
        cmocka_unit_test(test_step_measured_at_next_update),
        cmocka_unit_test(test_slew_shrinks_and_stops_at_zero),
        cmocka_unit_test(test_silent_mid_slew_slews_past_zero),
        cmocka_unit_test(test_first_request_after_slew_answered),
        cmocka_unit_test(test_slews_chrony_never_makes),
        cmocka_unit_test(test_apply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests: the error bound (clockbound/bound.c) with exact expected nanoseconds.
 *
 * Expected values were worked out with exact rational arithmetic from the formulas in bound.h:
 * a float with coefficient c and exponent e stands for at most (|c| + 1) * 2^e and at least
 * (|c| - 1) * 2^e, because chrony's encoder rounds.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "bound.h"
#include "chrony_proto.h"
#include "satmath.h"
#include "test_seed.h"

#define NS INT64_C(1000000000)

static struct chrony_float f(uint32_t raw)
{
    return chrony_float_decode(raw);
}

static void test_float_rounding(void **state)
{
    (void)state;
    /* 1e-5 s (0xe2a7c5ac) decodes to 9999.99975 ns, slightly below 1e-5. Rounding that up gives
     * 10000; allowing for chrony's rounding error (up to 10000.0007 ns) gives 10001. Never 9999. */
    assert_int_equal(cb_float_upper(f(0xe2a7c5ac), NS, 0), 10001);
    assert_int_equal(cb_float_upper(f(0xe2a7c5ac), NS, 1), 5001); /* half of it, rounded up */
    assert_int_equal(cb_float_lower(f(0xe2a7c5ac), NS), 9999);
    /* 1.0 s: coefficient 2^23, unit 2^-23 s = 119.2 ns of doubt either way. */
    assert_int_equal(cb_float_upper(f(0x04800000), NS, 0), 1000000120);
    assert_int_equal(cb_float_lower(f(0x04800000), NS), 999999880);
    /* Zero is exact: chrony encodes 0 (and NaN) as 0. */
    assert_int_equal(cb_float_upper(f(0), NS, 0), 0);
    assert_int_equal(cb_float_lower(f(0), NS), 0);
    /* Signed upper bound: -1e-5 s is at most -9999 ns; +1e-5 at most 10001. */
    assert_int_equal(cb_float_signed_upper(f(0xe3583a54), NS), -9999);
    assert_int_equal(cb_float_signed_upper(f(0xe2a7c5ac), NS), 10001);
    /* ppm -> ppb: 2.305 ppm (0x0693851f). */
    assert_int_equal(cb_float_upper(f(0x0693851f), 1000, 0), 2306);
    assert_int_equal(cb_float_lower(f(0x0693851f), 1000), 2304);
    /* The largest float saturates instead of wrapping; the smallest rounds up to 1 ns. */
    assert_int_equal(cb_float_upper(f(0x7effffff), NS, 0), INT64_MAX);
    assert_int_equal(cb_float_upper(f(0x81000000), NS, 0), 1);
    assert_int_equal(cb_float_lower(f(0x81000000), NS), 0);
}

/* The helpers the slew and dispersion measurements share with the bound. */
static void test_shared_helpers(void **state)
{
    (void)state;
    /* The signed value's lower bound mirrors the upper one: -1e-5 s is at least -10001 ns,
     * +1e-5 at least 9999. */
    assert_int_equal(cb_float_signed_lower(f(0xe3583a54), NS), -10001);
    assert_int_equal(cb_float_signed_lower(f(0xe2a7c5ac), NS), 9999);
    assert_int_equal(cb_float_signed_lower(f(0), NS), 0);
    /* The reference's age on chrony's timescale, towards older; never below 0. */
    struct chrony_tracking t = {0};
    t.current_correction_s = f(0xe2a7c5ac); /* +1e-5 s: chrony's time is ahead */
    t.ref_time_ns = 1000 * NS;
    assert_int_equal(cb_ref_age_ns(&t, 1001 * NS), NS + 10001);
    assert_int_equal(cb_ref_age_ns(&t, 999 * NS), 0);
    /* Rates: 1 ns in 3 ns is 333333333.3 ppb, down or up; saturating. */
    assert_int_equal(cb_rate_ppb(1, 3, 0), 333333333);
    assert_int_equal(cb_rate_ppb(1, 3, 1), 333333334);
    assert_int_equal(cb_rate_ppb(20000, 20000000, 1), 1000000);
    assert_int_equal(cb_rate_ppb(INT64_MAX / 1000, 1, 1), INT64_MAX);
}

static void test_growth_exact(void **state)
{
    (void)state;
    /* 50 ppm for 20 ms is exactly 1000 ns; one more ns of time rounds up to 1001. */
    assert_int_equal(cb_ppb_of_ns_ceil(50000, 20000000), 1000);
    assert_int_equal(cb_ppb_of_ns_ceil(50000, 20000001), 1001);
    assert_int_equal(cb_ppb_of_ns_ceil(1, 1), 1);
    assert_int_equal(cb_ppb_of_ns_ceil(0, 1000), 0);
    assert_int_equal(cb_ppb_of_ns_ceil(50000, -5), 0);
    /* 100 h at 50 ppm: 3.6e14 ns * 5e4 overflows int64 if multiplied naively (1.8e19). */
    int64_t h100 = INT64_C(100) * 3600 * NS;
    assert_int_equal(cb_ppb_of_ns_ceil(50000, h100), INT64_C(18000000000));
    assert_int_equal(cb_bound_grow(12345, 50000, h100), INT64_C(18000012345));
    /* All of int64 as elapsed time at 50 ppm: 9223372036 s * 50000 + ceil(0.854775807 s part). */
    assert_int_equal(cb_ppb_of_ns_ceil(50000, INT64_MAX), INT64_C(461168601842739));
    /* Saturation instead of wrap-around. */
    assert_int_equal(cb_bound_grow(INT64_MAX - 5, 50000, NS), INT64_MAX);
    assert_int_equal(cb_ppb_of_ns_ceil(CB_RATE_MAX_PPB + 1, 1), INT64_MAX);
    assert_int_equal(cb_ppb_of_ns_ceil(CB_RATE_MAX_PPB, INT64_MAX), INT64_MAX);
}

struct vector {
    const char *name;
    uint32_t cc, root_delay_s, root_dispersion_s, skew, resid;
    int64_t ref_ns, query_ns;
    int64_t max_drift_ppb;
    struct cb_bound_at_poll want;
};

static const struct vector vectors[] = {
    /* Values seen from a local chrony pair: chrony 1.386 us fast, 6 us root delay. */
    {"typical",
     0xdd45f967,
     0xe0c7d9a7,
     0xda9290d6,
     0x0693851f,
     0x0108b439,
     INT64_C(1795620016012906108),
     INT64_C(1795620016125645487),
     50000,
     {.correction_ns = 1387,
      .half_delay_ns = 2979,
      .dispersion_ns = 547,
      .ref_age_ns = 112737994,
      .extra_rate_ppb = 46214,
      .extra_ns = 5211,
      .b0_ns = 10124,
      .growth_ppb = 50000}},
    /* `offset 0.005` on the server line: chrony 5 ms slow of NTP time, so the reference is
     * 5 ms older on chrony's timescale than on the raw clock. */
    {"offset 5 ms",
     0xf4a3cb14,
     0xe0bc09fe,
     0xdaf7c414,
     0x00883127,
     0x00000000,
     INT64_C(1795620023039644371),
     INT64_C(1795620023592038290),
     50000,
     {.correction_ns = 4998575,
      .half_delay_ns = 2803,
      .dispersion_ns = 924,
      .ref_age_ns = 557392494,
      .extra_rate_ppb = 48735,
      .extra_ns = 27165,
      .b0_ns = 5029467,
      .growth_ppb = 50000}},
    /* Sources lost 10 minutes ago: the extra term tops chrony's 1.6 ppm growth up to 50 ppm. */
    {"lost source",
     0xde8637bd,
     0xf083126f,
     0xf283126f,
     0x02800000,
     0xfccccccd,
     INT64_C(1795600000000000000),
     INT64_C(1795600600000000000),
     50000,
     {.correction_ns = 2001,
      .half_delay_ns = 500001,
      .dispersion_ns = 2000001,
      .ref_age_ns = 600000002001,
      .extra_rate_ppb = 48402,
      .extra_ns = 29041201,
      .b0_ns = 31543204,
      .growth_ppb = 50000}},
    /* chrony claims 66 ppm of growth, above D: no extra, and the bound grows at chrony's rate. */
    {"chrony faster than D",
     0x00000000,
     0xe8d1b717,
     0xe8d1b717,
     0x0ef00000,
     0x09600000,
     INT64_C(1795620000000000000),
     INT64_C(1795620001000000000),
     50000,
     {.correction_ns = 0,
      .half_delay_ns = 50001,
      .dispersion_ns = 100001,
      .ref_age_ns = 1000000000,
      .extra_rate_ppb = 0,
      .extra_ns = 0,
      .b0_ns = 150002,
      .growth_ppb = 66002}},
    /* A reference time after the query (clamped age 0): no extra. */
    {"reference after query",
     0x00000000,
     0xe0c7d9a7,
     0xda9290d6,
     0x0693851f,
     0x0108b439,
     INT64_C(1795620016125645487),
     INT64_C(1795620016012906108),
     50000,
     {.correction_ns = 0,
      .half_delay_ns = 2979,
      .dispersion_ns = 547,
      .ref_age_ns = 0,
      .extra_rate_ppb = 46214,
      .extra_ns = 0,
      .b0_ns = 3526,
      .growth_ppb = 50000}},
};

static void test_bound_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        const struct vector *v = &vectors[i];
        struct chrony_tracking t = {0};
        t.current_correction_s = f(v->cc);
        t.root_delay_s = f(v->root_delay_s);
        t.root_dispersion_s = f(v->root_dispersion_s);
        t.skew_ppm = f(v->skew);
        t.resid_freq_ppm = f(v->resid);
        t.ref_time_ns = v->ref_ns;
        /* chrony's maxclockerror measured at exactly the configured 1 ppm: the formula as
         * bound.h writes it with M = 1 ppm. */
        struct cb_bound_params p = {.max_drift_ppb = v->max_drift_ppb,
                                    .chrony_maxclockerror_ppb = 1000,
                                    .measured_maxclockerror_lo_ppb = 1000,
                                    .measured_maxclockerror_hi_ppb = 1000};
        struct cb_bound_at_poll got;
        cb_bound_at_poll(&p, &t, v->query_ns, &got);
        printf("vector '%s'\n", v->name);
        assert_int_equal(got.correction_ns, v->want.correction_ns);
        assert_int_equal(got.half_delay_ns, v->want.half_delay_ns);
        assert_int_equal(got.dispersion_ns, v->want.dispersion_ns);
        assert_int_equal(got.ref_age_ns, v->want.ref_age_ns);
        assert_int_equal(got.extra_rate_ppb, v->want.extra_rate_ppb);
        assert_int_equal(got.extra_ns, v->want.extra_ns);
        assert_int_equal(got.b0_ns, v->want.b0_ns);
        assert_int_equal(got.growth_ppb, v->want.growth_ppb);
    }
}

static void test_bound_extra_with_maxclockerror(void **state)
{
    (void)state;
    /* chrony deployed with maxclockerror = D: the extra term is 0, whatever the age. */
    struct chrony_tracking t = {0};
    t.skew_ppm = f(0x0693851f);
    t.ref_time_ns = 0;
    struct cb_bound_params p = {.max_drift_ppb = 50000,
                                .chrony_maxclockerror_ppb = 50000,
                                .measured_maxclockerror_lo_ppb = 49990,
                                .measured_maxclockerror_hi_ppb = 50010};
    struct cb_bound_at_poll got;
    cb_bound_at_poll(&p, &t, INT64_C(1795620016125645487), &got);
    /* 50000 - 2304 (skew rounded down) - 49990 (measured, rounded down) < 0. */
    assert_int_equal(got.extra_rate_ppb, 0);
    assert_int_equal(got.extra_ns, 0);
    assert_int_equal(got.topup_maxclockerror_ppb, 49990);
    /* Growth: skew 2306 (rounded up) + 50010 (measured, rounded up) > D. */
    assert_int_equal(got.growth_ppb, 52316);
}

/* DESIGN.md section 2, "Measured, not assumed, chrony growth": the top-up uses chrony's
 * measured maxclockerror when it is below the configured one, and 0 before a measurement. */
static void test_bound_measured_maxclockerror(void **state)
{
    (void)state;
    struct chrony_tracking t = {0};
    t.skew_ppm = f(0x0693851f); /* 2.305 ppm: 2304 down, 2306 up (a unit either way) */
    int64_t query = INT64_C(1795620016000000000);
    t.ref_time_ns = query - 10 * INT64_C(1000000000); /* 10 s old */
    struct cb_bound_params p = {.max_drift_ppb = 50000, .chrony_maxclockerror_ppb = 50000};
    struct cb_bound_at_poll got;

    /* A chrony left at its default 1 ppm (measured 1000..1010), oracled told 50 ppm: the
     * top-up makes up D - 2304 - 1000 = 46696 ppb over the 10 s. */
    p.measured_maxclockerror_lo_ppb = 1000;
    p.measured_maxclockerror_hi_ppb = 1010;
    cb_bound_at_poll(&p, &t, query, &got);
    assert_int_equal(got.topup_maxclockerror_ppb, 1000);
    assert_int_equal(got.extra_rate_ppb, 46696);
    assert_int_equal(got.extra_ns, 466960);
    /* The growth between polls takes the larger M, the configured one. */
    assert_int_equal(got.growth_ppb, 52306);

    /* Nothing measured yet: M taken as 0 for the top-up. */
    p.measured_maxclockerror_lo_ppb = -1;
    p.measured_maxclockerror_hi_ppb = -1;
    cb_bound_at_poll(&p, &t, query, &got);
    assert_int_equal(got.topup_maxclockerror_ppb, 0);
    assert_int_equal(got.extra_rate_ppb, 47696);
    assert_int_equal(got.extra_ns, 476960);
    assert_int_equal(got.growth_ppb, 52306);

    /* Measured above the configured value: the configured (smaller) one for the top-up, the
     * measured (larger) one for the growth. */
    p.chrony_maxclockerror_ppb = 1000;
    p.measured_maxclockerror_lo_ppb = 60000;
    p.measured_maxclockerror_hi_ppb = 60100;
    cb_bound_at_poll(&p, &t, query, &got);
    assert_int_equal(got.topup_maxclockerror_ppb, 1000);
    assert_int_equal(got.extra_rate_ppb, 46696);
    assert_int_equal(got.growth_ppb, 2306 + 60100);

    /* The negative control: today's rule (configured M trusted) gives no top-up at all for
     * the chrony left at 1 ppm, so 10 s on the bound would lack 466960 ns. */
    p.chrony_maxclockerror_ppb = 50000;
    p.measured_maxclockerror_lo_ppb = 50000;
    p.measured_maxclockerror_hi_ppb = 50000;
    cb_bound_at_poll(&p, &t, query, &got);
    assert_int_equal(got.extra_ns, 0);
}

static void test_bound_saturates(void **state)
{
    (void)state;
    /* Absurd inputs (the decoder rejects them, but the math must not wrap anyway). */
    struct chrony_tracking t = {0};
    t.current_correction_s = f(0x7effffff);
    t.root_dispersion_s = f(0x7effffff);
    t.ref_time_ns = INT64_MIN;
    struct cb_bound_params p = {.max_drift_ppb = 100000000, .chrony_maxclockerror_ppb = 0};
    struct cb_bound_at_poll got;
    cb_bound_at_poll(&p, &t, INT64_MAX, &got);
    assert_int_equal(got.b0_ns, INT64_MAX);
    assert_true(got.ref_age_ns >= 0);
}

/* A random float as chrony writes them: a normalised coefficient (2^23 <= |c| < 2^24), sign
 * as asked, exponent giving a magnitude between 2^min_e and 2^(min_e + span). */
static struct chrony_float random_float(int sign, int min_e, int span)
{
    struct chrony_float f;
    f.coef = sign * ((1 << 23) + rand() % (1 << 23));
    f.exp2 = min_e + rand() % span - 24;
    return f;
}

/* The bound's conversions done independently, in long double: (|c| + 1) * 2^e * unit is exact
 * there (below 2^64), so ceil/floor are exact too. */
static long double mag(struct chrony_float f, int delta, long double unit)
{
    long double c = (long double)(f.coef < 0 ? -(int64_t)f.coef : f.coef);
    return (c + delta) * ldexpl(1.0L, f.exp2) * unit;
}

/* Property: every term of the bound is exactly what the formula of bound.h gives, for random
 * floats of both signs, reference ages and rates (extra term on and off, growth from D or from
 * chrony). The seed is printed. */
static void test_bound_random_property(void **state)
{
    (void)state;
    unsigned seed = test_seed("test_bound_random_property");
    for (int i = 0; i < 100000; i++) {
        struct chrony_tracking t = {0};
        t.current_correction_s = random_float(rand() % 2 ? 1 : -1, -30, 24); /* 1 ns .. 16 ms */
        t.root_delay_s = random_float(1, -30, 24);
        t.root_dispersion_s = random_float(1, -30, 24);
        t.skew_ppm = random_float(1, -7, 14); /* 0.008 .. 128 ppm */
        t.resid_freq_ppm = random_float(rand() % 2 ? 1 : -1, -10, 12);
        int64_t query = INT64_C(1795620000000000000);
        t.ref_time_ns = query - (int64_t)(rand() % 1000000) * 1000000; /* 0 .. 1000 s old */
        /* maxclockerror: configured 1 ppm; measured not yet (-1), lower, or higher. */
        int64_t m_meas = (int64_t)(rand() % 3) - 1;
        m_meas = m_meas < 0 ? -1 : m_meas == 0 ? rand() % 1000 : 1000 + rand() % 100000;
        struct cb_bound_params p = {.max_drift_ppb = 50000,
                                    .chrony_maxclockerror_ppb = 1000,
                                    .measured_maxclockerror_lo_ppb = m_meas,
                                    .measured_maxclockerror_hi_ppb = m_meas < 0 ? -1 : m_meas + 7};
        struct cb_bound_at_poll got;
        cb_bound_at_poll(&p, &t, query, &got);
        int64_t m_top = m_meas < 0 ? 0 : m_meas < 1000 ? m_meas : 1000;
        int64_t m_grow = m_meas < 0 || m_meas + 7 < 1000 ? 1000 : m_meas + 7;

        int64_t corr = (int64_t)ceill(mag(t.current_correction_s, 1, 1e9L));
        int64_t hd = (int64_t)ceill(mag(t.root_delay_s, 1, 1e9L) / 2);
        int64_t disp = (int64_t)ceill(mag(t.root_dispersion_s, 1, 1e9L));
        int64_t cc_up = t.current_correction_s.coef > 0
                            ? corr
                            : -(int64_t)floorl(mag(t.current_correction_s, -1, 1e9L));
        int64_t age = query + cc_up - t.ref_time_ns;
        age = age > 0 ? age : 0;
        int64_t chrony_lo = (int64_t)floorl(mag(t.skew_ppm, -1, 1e3L)) +
                            (int64_t)floorl(mag(t.resid_freq_ppm, -1, 1e3L)) + m_top;
        int64_t chrony_hi = (int64_t)ceill(mag(t.skew_ppm, 1, 1e3L)) +
                            (int64_t)ceill(mag(t.resid_freq_ppm, 1, 1e3L)) + m_grow;
        int64_t rate = 50000 - chrony_lo > 0 ? 50000 - chrony_lo : 0;
        long double extra = ceill((long double)rate * (long double)age / 1e9L);
        int64_t growth = chrony_hi > 50000 ? chrony_hi : 50000;
        if (got.correction_ns != corr || got.half_delay_ns != hd || got.dispersion_ns != disp ||
            got.ref_age_ns != age || got.extra_rate_ppb != rate ||
            fabsl((long double)got.extra_ns - extra) > 1 || got.growth_ppb != growth ||
            got.b0_ns != got.correction_ns + got.half_delay_ns + got.dispersion_ns + got.extra_ns) {
            fail_msg("seed %u iteration %d: got corr %lld hd %lld disp %lld age %lld rate %lld "
                     "extra %lld growth %lld; want %lld %lld %lld %lld %lld %.0Lf %lld",
                     seed, i, (long long)got.correction_ns, (long long)got.half_delay_ns,
                     (long long)got.dispersion_ns, (long long)got.ref_age_ns,
                     (long long)got.extra_rate_ppb, (long long)got.extra_ns,
                     (long long)got.growth_ppb, (long long)corr, (long long)hd, (long long)disp,
                     (long long)age, (long long)rate, extra, (long long)growth);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_float_rounding),
        cmocka_unit_test(test_shared_helpers),
        cmocka_unit_test(test_growth_exact),
        cmocka_unit_test(test_bound_vectors),
        cmocka_unit_test(test_bound_extra_with_maxclockerror),
        cmocka_unit_test(test_bound_measured_maxclockerror),
        cmocka_unit_test(test_bound_saturates),
        cmocka_unit_test(test_bound_random_property),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

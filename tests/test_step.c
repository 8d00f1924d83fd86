/* Unit tests: the clock step detector (clockbound/step.c) and the paired reading (clock.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "clock.h"
#include "fake_clock.h"
#include "step.h"

#define RT0   INT64_C(1795620000000000000)
#define MONO0 INT64_C(5000000000)

/* A fake clock at (RT0, MONO0) and a detector based on a first reading of it. */
static void start(struct fake_clock *fc, struct cb_step *s)
{
    fake_clock_init(fc, RT0, MONO0);
    cb_step_init(s, CB_STEP_THRESHOLD_NS);
    struct cb_reading base = fake_clock_reading(fc);
    cb_step_rebase(s, &base);
}

static void test_no_base_no_step(void **state)
{
    (void)state;
    struct cb_step s;
    cb_step_init(&s, CB_STEP_THRESHOLD_NS);
    struct cb_reading r = {.rt_ns = RT0, .mono_ns = MONO0, .rt_hi_ns = RT0};
    assert_false(cb_step_check(&s, &r, NULL));
}

static void test_step_sizes(void **state)
{
    (void)state;
    struct fake_clock fc;
    struct cb_step s;
    start(&fc, &s);

    /* Time passing moves both clocks: never a step, however long. */
    fake_clock_advance(&fc, INT64_C(3600000000000));
    struct cb_reading r = fake_clock_reading(&fc);
    int64_t step = 0;
    assert_false(cb_step_check(&s, &r, &step));

    /* Exactly 1 us is not "more than 1 us"; 1001 ns is. */
    fake_clock_step(&fc, 1000);
    r = fake_clock_reading(&fc);
    assert_false(cb_step_check(&s, &r, &step));
    fake_clock_step(&fc, 1);
    r = fake_clock_reading(&fc);
    assert_true(cb_step_check(&s, &r, &step));
    assert_int_equal(step, 1001);

    /* 2 us forward and backward from the base. */
    fake_clock_step(&fc, 2000 - 1001);
    r = fake_clock_reading(&fc);
    assert_true(cb_step_check(&s, &r, &step));
    assert_int_equal(step, 2000);
    fake_clock_step(&fc, -4000);
    r = fake_clock_reading(&fc);
    assert_true(cb_step_check(&s, &r, &step));
    assert_int_equal(step, -2000);
    fake_clock_step(&fc, 1100);
    r = fake_clock_reading(&fc);
    assert_false(cb_step_check(&s, &r, &step)); /* -900 ns */
}

/* Slewing (chrony -x never slews, but a kernel PLL does) changes the rate of REALTIME and
 * MONOTONIC together: reads at varying rates never look like a step. */
static void test_slewing_is_not_a_step(void **state)
{
    (void)state;
    struct fake_clock fc;
    struct cb_step s;
    start(&fc, &s);
    for (int i = 0; i < 1000; i++) {
        /* 500 ppm fast then slow: both clocks move by the slewed amount. */
        fake_clock_advance(&fc, 1000000 + (i % 2 ? 500 : -500));
        struct cb_reading r = fake_clock_reading(&fc);
        assert_false(cb_step_check(&s, &r, NULL));
    }
}

/* Preempted for 50 us between the first REALTIME and MONOTONIC reads on the first try. */
static void preempt_once(struct fake_clock *fc, enum cb_clock_id id, void *arg)
{
    int *fired = arg;
    if (id == CB_CLOCK_MONOTONIC && *fired == 0) {
        *fired = 1;
        fake_clock_advance(fc, 50000);
    }
}

static void test_preemption_is_not_a_step(void **state)
{
    (void)state;
    struct fake_clock fc;
    struct cb_step s;
    start(&fc, &s);
    fc.tick_ns = 30; /* each read takes 30 ns */

    int fired = 0;
    fc.hook = preempt_once;
    fc.hook_arg = &fired;
    unsigned before = fc.reads;
    struct cb_reading r = fake_clock_reading(&fc);
    assert_int_equal(fired, 1);
    /* The first try (spread 50 us) was retried; the tight second try was returned. */
    assert_int_equal(fc.reads - before, 6);
    assert_true(cb_reading_spread_ns(&r) <= CB_READING_MAX_SPREAD_NS);
    assert_false(cb_step_check(&s, &r, NULL));

    /* Even a wide reading taken as is (no retry) cannot fake a step: its interval contains the
     * true offset. REALTIME read, then 50 us pass, then MONOTONIC and REALTIME. */
    struct cb_reading wide = {
        .rt_ns = fc.rt_ns, .mono_ns = fc.mono_ns + 50000, .rt_hi_ns = fc.rt_ns + 50000};
    assert_false(cb_step_check(&s, &wide, NULL));
}

/* A step of 5 us lands between MONOTONIC and the second REALTIME on every try. */
static void step_mid_read(struct fake_clock *fc, enum cb_clock_id id, void *arg)
{
    int *n = arg;
    if (id == CB_CLOCK_REALTIME && (*n)++ % 2 == 1) {
        fake_clock_step(fc, 5000);
    }
}

static void test_step_during_read(void **state)
{
    (void)state;
    struct fake_clock fc;
    struct cb_step s;
    start(&fc, &s);

    int n = 0;
    fc.hook = step_mid_read;
    fc.hook_arg = &n;
    struct cb_reading r = fake_clock_reading(&fc);
    /* Every try was 5 us wide; each later try sits 5 us further on. The tightest (first) one
     * still brackets the base offset, so it cannot prove a step ... */
    assert_int_equal(cb_reading_spread_ns(&r), 5000);
    assert_false(cb_step_check(&s, &r, NULL));
    /* ... but the next clean reading does. */
    fc.hook = NULL;
    r = fake_clock_reading(&fc);
    int64_t step = 0;
    assert_true(cb_step_check(&s, &r, &step));
    assert_true(step >= 5000);
}

static void test_backward_during_read(void **state)
{
    (void)state;
    /* REALTIME going backwards mid-read gives a negative spread; the interval is reordered. */
    struct cb_step s;
    cb_step_init(&s, CB_STEP_THRESHOLD_NS);
    struct cb_reading base = {.rt_ns = RT0, .mono_ns = MONO0, .rt_hi_ns = RT0 + 40};
    cb_step_rebase(&s, &base);
    struct cb_reading r = {
        .rt_ns = RT0 + 1000, .mono_ns = MONO0 + 1000, .rt_hi_ns = RT0 + 1000 - 3000};
    int64_t step = 0;
    assert_false(cb_step_check(&s, &r, &step)); /* [-3000, 0] overlaps the base */
    struct cb_reading after = {
        .rt_ns = RT0 - 2000, .mono_ns = MONO0 + 2000, .rt_hi_ns = RT0 - 2000};
    assert_true(cb_step_check(&s, &after, &step));
    assert_int_equal(step, -4000);
}

static void test_system_clock_reading(void **state)
{
    (void)state;
    /* The real clocks: REALTIME - MONOTONIC is stable between two readings (nobody steps the
     * clock in these tests), and readings are ordered. */
    struct cb_clock *clk = cb_clock_system();
    struct cb_reading a, b;
    cb_clock_read(clk, &a);
    cb_clock_read(clk, &b);
    assert_true(a.rt_ns > INT64_C(1600000000000000000));
    assert_true(b.mono_ns >= a.mono_ns);
    assert_true(cb_reading_spread_ns(&a) >= 0);
    struct cb_step s;
    cb_step_init(&s, CB_STEP_THRESHOLD_NS);
    cb_step_rebase(&s, &a);
    assert_false(cb_step_check(&s, &b, NULL));
    int64_t coarse = cb_clock_ns(clk, CB_CLOCK_MONOTONIC_COARSE);
    assert_true(coarse > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_base_no_step),
        cmocka_unit_test(test_step_sizes),
        cmocka_unit_test(test_slewing_is_not_a_step),
        cmocka_unit_test(test_preemption_is_not_a_step),
        cmocka_unit_test(test_step_during_read),
        cmocka_unit_test(test_backward_during_read),
        cmocka_unit_test(test_system_clock_reading),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

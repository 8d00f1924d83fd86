/* Unit tests: the latency histogram (oracle/histogram.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "histogram.h"

static void test_empty_and_small(void **state)
{
    (void)state;
    static struct histogram h;
    hist_init(&h);
    assert_int_equal(hist_quantile(&h, 0.5), 0);
    for (int64_t v = 0; v < 32; v++) {
        hist_record(&h, v);
    }
    /* Below 32 ns every value has its own bucket: exact. */
    assert_int_equal(hist_quantile(&h, 0.0), 0);
    assert_int_equal(hist_quantile(&h, 0.5), 16);
    assert_int_equal(hist_quantile(&h, 1.0), 31);
    hist_record(&h, -7); /* counts as 0 */
    assert_int_equal(h.min_ns, 0);
    assert_int_equal(h.total, 33);
}

static void test_relative_error(void **state)
{
    (void)state;
    static struct histogram h;
    hist_init(&h);
    for (int64_t v = 1; v <= 100000; v++) {
        hist_record(&h, v * 100); /* 100 ns .. 10 ms */
    }
    const double qs[] = {0.5, 0.9, 0.99, 0.999};
    for (size_t i = 0; i < 4; i++) {
        double exact = qs[i] * 1e7;
        double got = (double)hist_quantile(&h, qs[i]);
        assert_true(got >= exact * 0.999);
        assert_true(got <= exact * 1.04); /* buckets are 1/32 wide */
    }
    assert_int_equal(hist_quantile(&h, 1.0), 10000000);
    /* Cumulative counts for Prometheus: exact below 32 ns, within a bucket above. */
    assert_int_equal(hist_count_le(&h, -1), 0);
    assert_int_equal(hist_count_le(&h, 99), 0);
    uint64_t le_1ms = hist_count_le(&h, 1000000);
    assert_true(le_1ms >= 10000 && le_1ms <= 10000 * 103 / 100);
    assert_int_equal(hist_count_le(&h, 10000000), 100000);
    assert_int_equal(h.max_ns, 10000000);
    /* Huge values do not overflow the buckets. */
    hist_record(&h, INT64_MAX);
    assert_true(hist_quantile(&h, 1.0) == INT64_MAX);
}

static void test_merge(void **state)
{
    (void)state;
    static struct histogram a, b;
    hist_init(&a);
    hist_init(&b);
    hist_record(&a, 1000);
    hist_record(&b, 5);
    hist_record(&b, 2000000);
    hist_merge(&a, &b);
    assert_int_equal(a.total, 3);
    assert_int_equal(a.min_ns, 5);
    assert_int_equal(a.max_ns, 2000000);
    assert_int_equal(hist_quantile(&a, 0.0), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_small),
        cmocka_unit_test(test_relative_error),
        cmocka_unit_test(test_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests: timestamp allocation (oracle/tsalloc.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "test_seed.h"
#include "tsalloc.h"

#define MS      INT64_C(1000000)
#define LATEST0 INT64_C(1795620000000000000)
#define LIMIT   (UINT64_C(1) << 63)

static uint64_t take(struct tsalloc *a, int64_t latest, uint64_t min_ts, uint32_t count)
{
    uint64_t first = 0;
    int rc = tsalloc_reserve(a, latest, min_ts, count, &first);
    if (rc != 0) {
        fail_msg("reserve(latest %lld, min %llu, count %u) = %d", (long long)latest,
                 (unsigned long long)min_ts, count, rc);
    }
    tsalloc_commit(a, first, count);
    return first;
}

static void test_follows_latest(void **state)
{
    (void)state;
    struct tsalloc a;
    tsalloc_init(&a, 0, MS, UINT64_MAX);
    assert_true(take(&a, LATEST0, 0, 1) == (uint64_t)LATEST0);
    /* The clock moved on: the next one is its latest again. */
    assert_true(take(&a, LATEST0 + 5000, 0, 1) == (uint64_t)LATEST0 + 5000);
    /* The same latest twice: one above the last. */
    assert_true(take(&a, LATEST0 + 5000, 0, 1) == (uint64_t)LATEST0 + 5001);
}

static void test_clock_going_backwards(void **state)
{
    (void)state;
    struct tsalloc a;
    tsalloc_init(&a, 0, MS, UINT64_MAX);
    uint64_t prev = take(&a, LATEST0, 0, 1);
    /* The clock steps back 0.5 ms: still strictly increasing, within the run-ahead. */
    for (int i = 0; i < 1000; i++) {
        uint64_t ts = take(&a, LATEST0 - 500000 + i, 0, 1);
        assert_true(ts > prev);
        prev = ts;
    }
    /* Back 2 ms: the next timestamp would be 2 ms ahead of latest, beyond the 1 ms allowed. */
    uint64_t first = 0;
    assert_int_equal(tsalloc_reserve(&a, LATEST0 - 2 * MS, 0, 1, &first), -EBUSY);
    assert_true(a.last_issued == prev); /* nothing taken */
}

static void test_batches_never_overlap(void **state)
{
    (void)state;
    (void)test_seed("test_batches_never_overlap");
    struct tsalloc a;
    tsalloc_init(&a, 0, INT64_C(1) << 50,
                 UINT64_MAX); /* this test is about overlap, not run-ahead */
    uint64_t last = 0;
    int64_t latest = LATEST0;
    for (int i = 0; i < 100000; i++) {
        uint32_t count = (uint32_t)(1 + rand() % (rand() % 10 == 0 ? TSALLOC_MAX_COUNT : 10));
        latest += rand() % 3000 - 1000; /* jitters, sometimes backwards */
        uint64_t first = take(&a, latest, 0, count);
        assert_true(first > last);
        last = first + count - 1;
        assert_true(a.last_issued == last);
    }
}

static void test_min_ts(void **state)
{
    (void)state;
    struct tsalloc a;
    tsalloc_init(&a, 0, MS, UINT64_MAX);
    /* Above min_ts even when min_ts is ahead of the clock (by less than the run-ahead). */
    assert_true(take(&a, LATEST0, (uint64_t)LATEST0 + 500000, 1) == (uint64_t)LATEST0 + 500001);
    /* A min_ts behind changes nothing. */
    assert_true(take(&a, LATEST0, 5, 1) == (uint64_t)LATEST0 + 500002);
    /* Far ahead: OVERLOADED rather than dragging the timestamp space along. */
    uint64_t first = 0;
    assert_int_equal(tsalloc_reserve(&a, LATEST0, (uint64_t)LATEST0 + 2 * MS, 1, &first), -EBUSY);
    /* At 2^63, or so close that the batch would reach it: out of range. */
    assert_int_equal(tsalloc_reserve(&a, LATEST0, LIMIT - 1, 1, &first), -ERANGE);
    assert_int_equal(tsalloc_reserve(&a, LATEST0, LIMIT - 10, 10, &first), -ERANGE);
    assert_int_equal(tsalloc_reserve(&a, LATEST0, UINT64_MAX, 1, &first), -ERANGE);
}

static void test_run_ahead_boundary(void **state)
{
    (void)state;
    struct tsalloc a;
    tsalloc_init(&a, 0, 1000, UINT64_MAX);
    uint64_t first = 0;
    /* A batch of 1001 from latest ends exactly 1000 ns past it: allowed; 1002 is not. */
    assert_int_equal(tsalloc_reserve(&a, LATEST0, 0, 1001, &first), 0);
    assert_int_equal(tsalloc_reserve(&a, LATEST0, 0, 1002, &first), -EBUSY);
}

static void test_limit(void **state)
{
    (void)state;
    /* Nothing above the durable high-water mark: the batch ending exactly on it is fine. */
    struct tsalloc a;
    tsalloc_init(&a, 0, MS, (uint64_t)LATEST0 + 9);
    uint64_t first = 0;
    assert_int_equal(tsalloc_reserve(&a, LATEST0, 0, 10, &first), 0);
    assert_int_equal(tsalloc_reserve(&a, LATEST0, 0, 11, &first), -EAGAIN);
    /* Raised: allowed again; never lowered. */
    tsalloc_set_limit(&a, (uint64_t)LATEST0 + 1000);
    assert_int_equal(tsalloc_reserve(&a, LATEST0, 0, 11, &first), 0);
    tsalloc_set_limit(&a, 5);
    assert_true(a.limit_ns == (uint64_t)LATEST0 + 1000);
}

static void test_counts(void **state)
{
    (void)state;
    struct tsalloc a;
    tsalloc_init(&a, 0, 100 * MS, UINT64_MAX);
    uint64_t first = 0;
    assert_int_equal(tsalloc_reserve(&a, LATEST0, 0, 0, &first), -EINVAL);
    assert_int_equal(tsalloc_reserve(&a, LATEST0, 0, TSALLOC_MAX_COUNT + 1, &first), -EINVAL);
    assert_int_equal(tsalloc_reserve(&a, LATEST0, 0, TSALLOC_MAX_COUNT, &first), 0);
    /* A latest below zero (an absurd bound) counts as zero. */
    tsalloc_init(&a, 0, MS, UINT64_MAX);
    assert_int_equal(tsalloc_reserve(&a, -5, 0, 1, &first), 0);
    assert_true(first == 1);
    /* Restart from a high-water mark: above it whatever the clock says. */
    tsalloc_init(&a, (uint64_t)LATEST0 + 100, MS, UINT64_MAX);
    assert_true(take(&a, LATEST0, 0, 1) == (uint64_t)LATEST0 + 101);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_follows_latest),
        cmocka_unit_test(test_clock_going_backwards),
        cmocka_unit_test(test_batches_never_overlap),
        cmocka_unit_test(test_min_ts),
        cmocka_unit_test(test_run_ahead_boundary),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

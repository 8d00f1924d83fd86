/*
 * Unit tests: the commit-wait queue (oracle/commitwait.c) driven by the real clockbound state
 * machine over a fake clock: nothing is released while earliest <= ts, a batch waits for its
 * last timestamp, a clock step releases nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "clockbound.h"
#include "commitwait.h"
#include "fake_chrony.h"
#include "fake_clock.h"

#define MS    INT64_C(1000000)
#define RT0   (INT64_C(1795620000) * INT64_C(1000000000))
#define MONO0 (INT64_C(5000) * INT64_C(1000000000))

struct env {
    struct fake_clock fc;
    struct cb_state st;
    struct cw_queue q;
};

/* A synchronised clock state at RT0, with a bound of B0 = 8148 ns (see test_clockbound.c): two
 * reports of one reference update 20 ms apart (so chrony's slew rate, 0, and its dispersion
 * growth are measured), answered at once. */
static void setup_env(struct env *e)
{
    fake_clock_init(&e->fc, RT0 - 20 * MS, MONO0 - 20 * MS);
    struct cb_params p;
    cb_params_default(&p);
    p.await_update_after_start = false;
    cb_init(&e->st, &p);
    struct cb_poll poll;
    memset(&poll, 0, sizeof(poll));
    poll.tracking.ref_id = 0x7F000001;
    poll.tracking.stratum = 2;
    poll.tracking.ref_time_ns = RT0 - 100 * MS;
    poll.tracking.root_delay_s = chrony_float_decode(0xe0c7d9a7);
    poll.tracking.skew_ppm = chrony_float_decode(0x0693851f);
    poll.tracking.resid_freq_ppm = chrony_float_decode(0x0108b439);
    poll.tracking.last_update_interval_s = chrony_float_decode(fake_chrony_float(16.0));
    for (int i = 0; i < 2; i++) {
        /* chrony's dispersion grows at 4.788 ppm: 4.50e-7 s 20 ms before 5.46e-7 s. */
        poll.tracking.root_dispersion_s = chrony_float_decode(i == 0 ? 0xd8f1b884 : 0xda9290d6);
        poll.sent = fake_clock_reading(&e->fc);
        poll.recv_rt_ns = poll.sent.rt_ns;
        cb_on_poll(&e->st, &poll);
        if (i == 0) {
            fake_clock_advance(&e->fc, 20 * MS);
        }
    }
    cw_init(&e->q);
}

static struct cb_now now_of(struct env *e)
{
    struct cb_reading r = fake_clock_reading(&e->fc);
    struct cb_now n;
    cb_now(&e->st, &r, &n);
    return n;
}

/* Moves the fake clock so that earliest is exactly `earliest`. */
static struct cb_now at_earliest(struct env *e, int64_t earliest)
{
    for (int i = 0; i < 4; i++) {
        struct cb_now n = now_of(e);
        if (n.earliest_ns == earliest) {
            return n;
        }
        /* earliest moves by 1 - 50 ppm per ns of clock: close in, then adjust. */
        fake_clock_advance(&e->fc, earliest - n.earliest_ns);
    }
    for (int i = 0; i < 100; i++) {
        struct cb_now n = now_of(e);
        if (n.earliest_ns == earliest) {
            return n;
        }
        fake_clock_advance(&e->fc, n.earliest_ns < earliest ? 1 : -1);
    }
    fail_msg("could not place earliest at %lld", (long long)earliest);
    return now_of(e);
}

static void test_never_released_while_earliest_not_past(void **state)
{
    (void)state;
    struct env e;
    setup_env(&e);
    struct cb_now n = now_of(&e);
    assert_int_equal(n.status, CB_STATUS_SYNCHRONIZED);
    /* A timestamp at latest: the usual commit-wait of about twice the bound. */
    uint64_t ts = (uint64_t)n.latest_ns;
    struct cw_waiter w;
    assert_int_equal(cw_add(&e.q, &w, ts, n.mono_ns + 100 * MS, n.mono_ns), 0);
    assert_null(cw_pop_released(&e.q, &n));
    /* earliest == ts: not yet (Before(ts) needs ts < earliest). */
    n = at_earliest(&e, (int64_t)ts);
    assert_null(cw_pop_released(&e.q, &n));
    struct cw_wake wake = cw_next_wake(&e.q, &n);
    assert_true(wake.release_in_ns >= 1 && wake.release_in_ns <= 2);
    /* One ns later: released. */
    n = at_earliest(&e, (int64_t)ts + 1);
    assert_ptr_equal(cw_pop_released(&e.q, &n), &w);
    assert_int_equal(cw_len(&e.q), 0);
    cw_fini(&e.q);
}

static void test_batch_waits_for_its_last_timestamp(void **state)
{
    (void)state;
    struct env e;
    setup_env(&e);
    struct cb_now n = now_of(&e);
    uint64_t first = (uint64_t)n.latest_ns;
    uint64_t last = first + 99;
    struct cw_waiter w;
    assert_int_equal(cw_add(&e.q, &w, last, n.mono_ns + 100 * MS, n.mono_ns), 0);
    n = at_earliest(&e, (int64_t)first + 1); /* the first is past, the batch is not */
    assert_null(cw_pop_released(&e.q, &n));
    n = at_earliest(&e, (int64_t)last);
    assert_null(cw_pop_released(&e.q, &n));
    n = at_earliest(&e, (int64_t)last + 1);
    assert_ptr_equal(cw_pop_released(&e.q, &n), &w);
    cw_fini(&e.q);
}

static void test_released_in_timestamp_order(void **state)
{
    (void)state;
    struct env e;
    setup_env(&e);
    struct cb_now n = now_of(&e);
    uint64_t base = (uint64_t)n.latest_ns;
    struct cw_waiter w[6];
    const uint64_t offsets[] = {500, 10, 300, 10, 0, 1000};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(cw_add(&e.q, &w[i], base + offsets[i], n.mono_ns + 100 * MS, n.mono_ns),
                         0);
    }
    n = at_earliest(&e, (int64_t)base + 400);
    const int expect[] = {4, 1, 3, 2}; /* 0, 10, 10 (first in first), 300 */
    for (int i = 0; i < 4; i++) {
        assert_ptr_equal(cw_pop_released(&e.q, &n), &w[expect[i]]);
    }
    assert_null(cw_pop_released(&e.q, &n));
    assert_int_equal(cw_len(&e.q), 2);
    /* A waiter taken out (its connection closed) is never released. */
    cw_remove(&e.q, &w[0]);
    cw_remove(&e.q, &w[0]); /* twice is harmless */
    n = at_earliest(&e, (int64_t)base + 2000);
    assert_ptr_equal(cw_pop_released(&e.q, &n), &w[5]);
    assert_null(cw_pop_released(&e.q, &n));
    cw_fini(&e.q);
}

static void test_step_releases_nothing(void **state)
{
    (void)state;
    struct env e;
    setup_env(&e);
    struct cb_now n = now_of(&e);
    struct cw_waiter w;
    uint64_t ts = (uint64_t)n.latest_ns;
    assert_int_equal(cw_add(&e.q, &w, ts, n.mono_ns + 100 * MS, n.mono_ns), 0);
    /* The clock is stepped 2 ms forward: earliest would be far past ts, but the step makes the
     * clock DISRUPTED and nothing is released. */
    fake_clock_step(&e.fc, 2 * MS);
    n = now_of(&e);
    assert_int_equal(n.status, CB_STATUS_DISRUPTED);
    assert_true(n.earliest_ns > (int64_t)ts);
    assert_null(cw_pop_released(&e.q, &n));
    /* The caller fails what is pending instead. */
    assert_ptr_equal(cw_pop_any(&e.q), &w);
    assert_null(cw_pop_any(&e.q));
    cw_fini(&e.q);
}

static void test_deadlines(void **state)
{
    (void)state;
    struct env e;
    setup_env(&e);
    struct cb_now n = now_of(&e);
    struct cw_waiter a, b;
    uint64_t far = (uint64_t)n.latest_ns + 50 * MS;
    assert_int_equal(cw_add(&e.q, &a, far, n.mono_ns + 30 * MS, n.mono_ns), 0);
    assert_int_equal(cw_add(&e.q, &b, far + 1, n.mono_ns + 10 * MS, n.mono_ns), 0);
    struct cw_wake wake = cw_next_wake(&e.q, &n);
    assert_int_equal(wake.deadline_in_ns, 10 * MS);
    assert_null(cw_pop_expired(&e.q, n.mono_ns + 10 * MS - 1));
    assert_ptr_equal(cw_pop_expired(&e.q, n.mono_ns + 10 * MS), &b);
    assert_null(cw_pop_expired(&e.q, n.mono_ns + 10 * MS));
    assert_ptr_equal(cw_pop_expired(&e.q, n.mono_ns + 31 * MS), &a);
    assert_int_equal(cw_len(&e.q), 0);
    wake = cw_next_wake(&e.q, &n);
    assert_true(wake.release_in_ns == INT64_MAX && wake.deadline_in_ns == INT64_MAX);
    cw_fini(&e.q);
}

static void test_wait_estimate(void **state)
{
    (void)state;
    struct cb_now n;
    memset(&n, 0, sizeof(n));
    n.status = CB_STATUS_SYNCHRONIZED;
    n.earliest_ns = 1000;
    n.growth_ppb = 50000;
    /* 100000 ns of earliest's progress at 1 - 50 ppm per ns: 100005.00025 -> 100006. */
    assert_int_equal(cw_wait_estimate_ns(&n, 100999), 100006);
    assert_int_equal(cw_wait_estimate_ns(&n, 999), 0);  /* already past */
    assert_int_equal(cw_wait_estimate_ns(&n, 1000), 2); /* earliest == ts: 1 ns / (1 - 50 ppm) */
    n.growth_ppb = 0;
    assert_int_equal(cw_wait_estimate_ns(&n, 100999), 100000);
    /* Timestamps near and past 2^63 (no overflow, however far). */
    assert_true(cw_wait_estimate_ns(&n, (UINT64_C(1) << 63) - 1) == INT64_MAX);
    assert_true(cw_wait_estimate_ns(&n, UINT64_MAX) == INT64_MAX);
    n.earliest_ns = INT64_MAX;
    assert_int_equal(cw_wait_estimate_ns(&n, (UINT64_C(1) << 63) - 2), 0);
    assert_int_equal(cw_wait_estimate_ns(&n, (UINT64_C(1) << 63) - 1), 1);
    n.earliest_ns = 1000;
    n.earliest_ns = -5; /* no usable clock */
    assert_true(cw_wait_estimate_ns(&n, 10) == INT64_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_never_released_while_earliest_not_past),
        cmocka_unit_test(test_batch_waits_for_its_last_timestamp),
        cmocka_unit_test(test_released_in_timestamp_order),
        cmocka_unit_test(test_step_releases_nothing),
        cmocka_unit_test(test_deadlines),
        cmocka_unit_test(test_wait_estimate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

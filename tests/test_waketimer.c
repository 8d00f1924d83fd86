/* Unit tests: the commit-wait wake-up's timerfd arming (oracle/waketimer.c), on the real
 * clock. Setting the clock is never done here: that the armed timerfd hears of it is the
 * kernel's TFD_TIMER_CANCEL_ON_SET; what is checked is that it is always armed to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/timerfd.h>

#include <cmocka.h>

#include "clock.h"
#include "waketimer.h"

#define S INT64_C(1000000000)

static void on_wake(struct waketimer *wt)
{
    (void)wt;
}

static void on_closed(struct waketimer *wt)
{
    (void)wt;
}

/* Seconds until the timerfd fires, or -1 when disarmed. */
static double remaining_s(const struct waketimer *wt)
{
    struct itimerspec its;
    assert_int_equal(timerfd_gettime(wt->tfd, &its), 0);
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) {
        return -1;
    }
    return (double)its.it_value.tv_sec + (double)its.it_value.tv_nsec / 1e9;
}

static void test_always_armed(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct cb_clock *clock = cb_clock_system();
    struct waketimer wt;
    assert_int_equal(waketimer_init(&wt, &loop, clock, on_wake), 0);

    /* Nothing scheduled: armed an hour ahead, only to hear of clock sets. */
    int64_t now = cb_clock_ns(clock, CB_CLOCK_REALTIME);
    waketimer_schedule(&wt, now, INT64_MAX);
    assert_true(wt.armed && wt.idle_armed);
    double left = remaining_s(&wt);
    assert_true(left > 3590 && left <= 3600);
    /* Scheduling nothing again does not re-arm it (no system call). */
    int64_t armed_for = wt.armed_for_rt_ns;
    waketimer_schedule(&wt, now + S, INT64_MAX);
    assert_int_equal(wt.armed_for_rt_ns, armed_for);

    /* A wait 2 s ahead: armed for it (lead_ns early), not idle. */
    waketimer_schedule(&wt, now, 2 * S);
    assert_true(wt.armed && !wt.idle_armed);
    assert_int_equal(wt.armed_for_rt_ns, now + 2 * S - wt.lead_ns);
    left = remaining_s(&wt);
    assert_true(left > 1.5 && left <= 2.0);

    /* Within the lead: spinning, the timerfd armed for the wait disarmed while it spins. */
    waketimer_schedule(&wt, now, wt.lead_ns / 2);
    assert_true(wt.spinning && !wt.armed);
    assert_true(remaining_s(&wt) < 0);

    /* Nothing again: back to the idle arming, not spinning. */
    waketimer_schedule(&wt, now, INT64_MAX);
    assert_true(!wt.spinning && wt.armed && wt.idle_armed);

    /* A short wait from there spins and leaves the idle arming alone (no system call). */
    armed_for = wt.armed_for_rt_ns;
    waketimer_schedule(&wt, now, wt.lead_ns / 2);
    assert_true(wt.spinning && wt.armed && wt.idle_armed);
    assert_int_equal(wt.armed_for_rt_ns, armed_for);
    waketimer_schedule(&wt, now, INT64_MAX);
    assert_true(!wt.spinning && wt.armed && wt.idle_armed);
    assert_int_equal(wt.armed_for_rt_ns, armed_for);

    waketimer_close(&wt, on_closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_always_armed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

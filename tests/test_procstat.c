/* Unit tests: the host's steal time and a thread's run-queue wait as the benchmark reads them
 * from /proc (bench/procstat). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "procstat.h"

static void test_parse_steal(void **state)
{
    (void)state;
    uint64_t total = 0, steal = 0;
    const char *text = "cpu  1596153 111408 1200068 6773595 20180 0 373803 179870 0 0\n"
                       "cpu0 695274 47722 591574 3518723 4389 0 177224 90295 0 0\n";
    assert_int_equal(procstat_parse_steal(text, &total, &steal), 0);
    assert_int_equal(steal, 179870);
    assert_int_equal(total, 1596153 + 111408 + 1200068 + 6773595 + 20180 + 0 + 373803 + 179870);
    /* Not the aggregate line, or too few fields: refused. */
    assert_int_equal(procstat_parse_steal("cpu0 1 2 3 4 5 6 7 8 0 0\n", &total, &steal), -EINVAL);
    assert_int_equal(procstat_parse_steal("cpu  1 2 3 4 5 6 7\n", &total, &steal), -EINVAL);
    assert_int_equal(procstat_parse_steal("", &total, &steal), -EINVAL);
}

static void test_steal_percent(void **state)
{
    (void)state;
    assert_true(procstat_steal_percent(1000, 10, 2000, 410) == 40.0);
    assert_true(procstat_steal_percent(1000, 10, 2000, 10) == 0.0);
    assert_true(procstat_steal_percent(1000, 10, 1000, 10) == -1); /* no time passed */
    assert_true(procstat_steal_percent(1000, 10, 2000, 5) == -1);  /* a counter went back */
    uint64_t total, steal;
    assert_int_equal(procstat_steal(&total, &steal), 0); /* this machine's, read for real */
    assert_true(total >= steal);
}

static void test_schedstat(void **state)
{
    (void)state;
    int64_t run = -1, wait = -1;
    assert_int_equal(procstat_parse_schedstat("4136214372 18816853 9021\n", &run, &wait), 0);
    assert_int_equal(run, 4136214372);
    assert_int_equal(wait, 18816853);
    assert_int_equal(procstat_parse_schedstat("4136214372\n", &run, &wait), -EINVAL);
    assert_int_equal(procstat_parse_schedstat("-1 5 1\n", &run, &wait), -EINVAL);
    assert_int_equal(procstat_parse_schedstat("", &run, &wait), -EINVAL);
    /* This test's own, for real. The kernel updates a running thread's figures when it is
     * switched or ticked, so a new process may still read 0. */
    run = wait = -1;
    assert_int_equal(procstat_schedstat(getpid(), &run, &wait), 0);
    assert_true(run >= 0 && wait >= 0);
    assert_int_equal(procstat_schedstat(-1, &run, &wait), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_steal),
        cmocka_unit_test(test_steal_percent),
        cmocka_unit_test(test_schedstat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

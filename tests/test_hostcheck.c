/* Unit tests: the start-up host checks' advice (oracle/hostcheck.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hostcheck.h"

static void test_clocksource(void **state)
{
    (void)state;
    char buf[320];
    assert_null(hostcheck_clocksource("tsc\n", buf, sizeof(buf)));
    assert_null(hostcheck_clocksource("tsc", buf, sizeof(buf)));
    const char *w = hostcheck_clocksource("xen\n", buf, sizeof(buf));
    assert_non_null(w);
    assert_string_equal(w, "the kernel clocksource is 'xen', not tsc: every clock reading is a "
                           "system call (microseconds instead of ~20 ns), which slows every "
                           "request and commit-wait release; see OPERATIONS.md, 'Clocksource'");
    assert_non_null(
        strstr(hostcheck_clocksource("kvm-clock\n", buf, sizeof(buf)), "'kvm-clock', not tsc"));
    /* Not fooled by a prefix, and an absurdly long name is cut. */
    assert_non_null(hostcheck_clocksource("tsc-early\n", buf, sizeof(buf)));
    assert_non_null(hostcheck_clocksource("", buf, sizeof(buf)));
    char longname[100];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_non_null(strstr(hostcheck_clocksource(longname, buf, sizeof(buf)),
                           "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', not"));
    /* A small buffer is not overrun. */
    char small[16];
    assert_int_equal(strlen(hostcheck_clocksource("hpet", small, sizeof(small))), 15);
}

static void test_nofile(void **state)
{
    (void)state;
    char buf[320];
    assert_null(hostcheck_nofile(65536, 16384, buf, sizeof(buf)));
    assert_null(hostcheck_nofile(16384 + HOSTCHECK_FD_RESERVE, 16384, buf, sizeof(buf)));
    const char *w = hostcheck_nofile(16384 + HOSTCHECK_FD_RESERVE - 1, 16384, buf, sizeof(buf));
    assert_non_null(w);
    w = hostcheck_nofile(1024, 16384, buf, sizeof(buf));
    assert_string_equal(w, "the file descriptor limit (1024) is below --max-connections (16384) "
                           "plus 64: accepting fails (EMFILE) before that limit is reached; "
                           "raise LimitNOFILE (systemd) or ulimit -n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clocksource),
        cmocka_unit_test(test_nofile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests: the start-up host checks' advice (oracle/hostcheck.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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
    assert_null(hostcheck_nofile(65536, 16384, 1024, buf, sizeof(buf)));
    assert_null(
        hostcheck_nofile(16384 + 1024 + HOSTCHECK_FD_RESERVE, 16384, 1024, buf, sizeof(buf)));
    const char *w =
        hostcheck_nofile(16384 + 1024 + HOSTCHECK_FD_RESERVE - 1, 16384, 1024, buf, sizeof(buf));
    assert_non_null(w);
    w = hostcheck_nofile(1024, 16384, 1024, buf, sizeof(buf));
    assert_string_equal(w, "the file descriptor limit (1024) is below --max-connections (16384) "
                           "plus --http-max-connections (1024) plus 64: accepting fails "
                           "(EMFILE) before those limits are reached; raise LimitNOFILE "
                           "(systemd) or ulimit -n");
}

/* ClockBound 1.0's segment path, however spelt, gets the warning, naming the 2.x path; any
 * other path, 2.x's own included, none. */
static void test_clockbound_shm(void **state)
{
    (void)state;
    char buf[512];
    const char *w = hostcheck_clockbound_shm("/var/run/clockbound/shm", buf, sizeof(buf));
    assert_non_null(w);
    assert_string_equal(w, "--clockbound-shm /var/run/clockbound/shm is ClockBound 1.0's segment "
                           "path, where its readers expect format 1: they would read the "
                           "format-2 segment oracled writes as theirs (the magic is the same) "
                           "and misread it, a clock status they do not know (a crash) and no "
                           "drift; ClockBound 2.x's readers look for /var/run/clockbound/shm0: "
                           "use that path");
    static const char *const warned[] = {
        "/run/clockbound/shm",         "/var/run/clockbound/shm/", "//run//clockbound///shm",
        "/var/run/./clockbound/./shm", "/run/clockbound/shm/.",
    };
    for (size_t i = 0; i < sizeof(warned) / sizeof(warned[0]); i++) {
        w = hostcheck_clockbound_shm(warned[i], buf, sizeof(buf));
        if (w == NULL || strstr(w, warned[i]) == NULL || strstr(w, "1.0's segment path") == NULL) {
            fail_msg("%s: no warning naming it", warned[i]);
        }
    }
    static const char *const quiet[] = {
        "/var/run/clockbound/shm0",
        "/run/clockbound/shm0",
        "/run/clockbound/shm1",
        "/run/clockbound/shmx",
        "/run/clockbound",
        "/run/clockbound/shm/x",
        "run/clockbound/shm",
        "/tmp/run/clockbound/shm",
        "/run/clockbound/../clockbound/shm",
        "",
        "/",
    };
    for (size_t i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++) {
        if (hostcheck_clockbound_shm(quiet[i], buf, sizeof(buf)) != NULL) {
            fail_msg("%s: warned", quiet[i]);
        }
    }
    assert_null(hostcheck_clockbound_shm(NULL, buf, sizeof(buf)));
    /* However long the spelling, what it names counts; a name longer than any path is not the
     * one; a small buffer is not overrun. */
    char longpath[700];
    int n = snprintf(longpath, sizeof(longpath), "/run/clockbound/");
    for (int i = 0; i < 300; i++) {
        longpath[n++] = i % 2 == 0 ? '.' : '/';
    }
    snprintf(longpath + n, sizeof(longpath) - (size_t)n, "/shm");
    assert_non_null(hostcheck_clockbound_shm(longpath, buf, sizeof(buf)));
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    assert_null(hostcheck_clockbound_shm(longpath, buf, sizeof(buf)));
    char small[16];
    w = hostcheck_clockbound_shm("/run/clockbound/shm", small, sizeof(small));
    assert_non_null(w);
    assert_int_equal(strlen(w), 15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clocksource),
        cmocka_unit_test(test_nofile),
        cmocka_unit_test(test_clockbound_shm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

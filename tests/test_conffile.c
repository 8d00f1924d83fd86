/* Unit tests: "key = value" configuration files (common/conffile.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "conffile.h"

struct seen {
    char text[1024];
    int calls;
    int fail_at; /* the callback fails on this call (1-based), 0 never */
};

static int collect(const char *key, const char *value, int line, void *arg)
{
    struct seen *s = arg;
    s->calls++;
    if (s->calls == s->fail_at) {
        return -EINVAL;
    }
    size_t n = strlen(s->text);
    snprintf(s->text + n, sizeof(s->text) - n, "%d:%s=%s;", line, key, value);
    return 0;
}

static int parse(const char *text, struct seen *s, int *line, const char **why)
{
    return conffile_parse(text, strlen(text), collect, s, line, why);
}

static void test_good(void **state)
{
    (void)state;
    const char *text = "# oracled configuration\n"
                       "\n"
                       "listen = 0.0.0.0:7600\n"
                       "  max-wait=50ms   # shorter\n"
                       "state-dir = /var/lib/oracle#d\n"
                       "\t log-level\t=\tdebug\r\n"
                       "chrony = unix:/run/chrony/chronyd.sock";
    struct seen s = {"", 0, 0};
    int line = 0;
    const char *why = NULL;
    assert_int_equal(parse(text, &s, &line, &why), 0);
    assert_string_equal(s.text, "3:listen=0.0.0.0:7600;4:max-wait=50ms;"
                                "5:state-dir=/var/lib/oracle#d;6:log-level=debug;"
                                "7:chrony=unix:/run/chrony/chronyd.sock;");
    s.text[0] = '\0';
    assert_int_equal(parse("", &s, &line, &why), 0);
    assert_int_equal(parse("\n\n# only comments\n", &s, &line, &why), 0);
    assert_string_equal(s.text, "");
}

static void test_bad_lines(void **state)
{
    (void)state;
    const struct {
        const char *text;
        int line;
    } cases[] = {
        {"listen 0.0.0.0:7600\n", 1}, {"ok = 1\n= value\n", 2},
        {"ok = 1\n\nkey =\n", 3},     {"Max-Wait = 1ms\n", 1},
        {"max_wait = 1ms\n", 1},      {"key = value # comment\nnot a setting\n", 2},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct seen s = {"", 0, 0};
        int line = 0;
        const char *why = NULL;
        assert_int_equal(parse(cases[i].text, &s, &line, &why), -EINVAL);
        assert_int_equal(line, cases[i].line);
        assert_non_null(why);
    }
    /* A line over the limit. */
    char text[CONFFILE_MAX_LINE + 20];
    memset(text, 'a', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    memcpy(text, "key = ", 6);
    struct seen s = {"", 0, 0};
    int line = 0;
    const char *why = NULL;
    assert_int_equal(parse(text, &s, &line, &why), -EINVAL);
    assert_string_equal(why, "line too long");
    /* A NUL byte inside a line. */
    const char nul[] = "key = a\0b\n";
    assert_int_equal(conffile_parse(nul, sizeof(nul) - 1, collect, &s, &line, &why), -EINVAL);
}

static void test_callback_error_stops(void **state)
{
    (void)state;
    struct seen s = {"", 0, 2};
    int line = 0;
    const char *why = NULL;
    assert_int_equal(parse("a = 1\nb = 2\nc = 3\n", &s, &line, &why), -EINVAL);
    assert_int_equal(line, 2);
    assert_int_equal(s.calls, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_callback_error_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

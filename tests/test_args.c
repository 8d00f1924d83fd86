/* Unit tests: command-line value parsing (common/args.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "args.h"
#include "jsonout.h"

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int rc;
        int64_t ns;
    } cases[] = {
        {"0", 0, 0},
        {"1ns", 0, 1},
        {"250us", 0, 250000},
        {"200ms", 0, 200000000},
        {"5s", 0, 5000000000},
        {"1.5s", 0, 1500000000},
        {"2m", 0, 120000000000},
        {"0.5us", 0, 500},
        {"1.0001us", 0, 1001}, /* 1000.1 ns rounds up */
        {"0.000000001s", 0, 1},
        {"1.5ns", 0, 2},
        {"10", -EINVAL, 0}, /* a unit is required */
        {"ms", -EINVAL, 0},
        {"", -EINVAL, 0},
        {"1h", -EINVAL, 0},
        {"1 s", -EINVAL, 0},
        {"1.s", 0, 1000000000},
        {".5s", 0, 500000000},
        {"-1s", -ERANGE, 0},
        {"0.0000000001s", -EINVAL, 0}, /* finer than a nanosecond */
        {"99999999999999999999s", -ERANGE, 0},
        {"9999999999m", -ERANGE, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t ns = -42;
        int rc = args_parse_duration_ns(cases[i].text, &ns);
        if (rc != cases[i].rc || (rc == 0 && ns != cases[i].ns)) {
            fail_msg("'%s': rc %d ns %lld, want rc %d ns %lld", cases[i].text, rc, (long long)ns,
                     cases[i].rc, (long long)cases[i].ns);
        }
    }
}

static void test_integers(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(args_parse_i64("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(args_parse_i64("-5", -10, 10, &v), 0);
    assert_int_equal(v, -5);
    assert_int_equal(args_parse_i64("101", 0, 100, &v), -ERANGE);
    assert_int_equal(args_parse_i64("99999999999999999999", 0, INT64_MAX, &v), -ERANGE);
    assert_int_equal(args_parse_i64("4x", 0, 100, &v), -EINVAL);
    assert_int_equal(args_parse_i64("", 0, 100, &v), -EINVAL);

    uint64_t u = 0;
    assert_int_equal(args_parse_u64("18446744073709551615", &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(args_parse_u64("18446744073709551616", &u), -ERANGE);
    assert_int_equal(args_parse_u64("-1", &u), -EINVAL);
    assert_int_equal(args_parse_u64(" 1", &u), -EINVAL);
    assert_int_equal(args_parse_u64("1e9", &u), -EINVAL);
}

static void test_sizes(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(args_parse_size("4096", &v), 0);
    assert_true(v == 4096);
    assert_int_equal(args_parse_size("2MiB", &v), 0);
    assert_true(v == 2u << 20);
    assert_int_equal(args_parse_size("3K", &v), 0);
    assert_true(v == 3072);
    assert_int_equal(args_parse_size("1G", &v), 0);
    assert_true(v == UINT64_C(1) << 30);
    assert_int_equal(args_parse_size("7B", &v), 0);
    assert_true(v == 7);
    assert_int_equal(args_parse_size("2 MiB", &v), -EINVAL);
    assert_int_equal(args_parse_size("2MB", &v), -EINVAL);
    assert_int_equal(args_parse_size("-1", &v), -EINVAL);
    assert_int_equal(args_parse_size("", &v), -EINVAL);
    assert_int_equal(args_parse_size("99999999999999999999", &v), -ERANGE);
    assert_int_equal(args_parse_size("17179869184G", &v), -ERANGE);
}

/* --help's defaults: formatted the way they are read back, in the largest exact unit. */
static void test_formats(void **state)
{
    (void)state;
    static const struct {
        int64_t ns;
        const char *text;
    } durations[] = {
        {0, "0"},
        {1, "1ns"},
        {1500, "1500ns"},
        {100000, "100us"},
        {20000000, "20ms"},
        {1500000000, "1500ms"},
        {5000000000, "5s"},
        {60000000000, "60s"},
        {540000000000, "540s"},
        {600000000000, "10m"},
        {3600000000000, "60m"},
        {-2000000000, "-2s"},
        {INT64_MAX, "9223372036854775807ns"},
        {INT64_MIN, "-9223372036854775808ns"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
        args_format_duration(durations[i].ns, buf, sizeof(buf));
        assert_string_equal(buf, durations[i].text);
        int64_t back = -1;
        /* Read back as written (the parser's overflow check stops short of INT64_MAX). */
        if (durations[i].ns >= 0 && durations[i].ns != INT64_MAX) {
            assert_int_equal(args_parse_duration_ns(buf, &back), 0);
            assert_true(back == durations[i].ns);
        }
    }
    static const struct {
        uint64_t bytes;
        const char *text;
    } sizes[] = {
        {0, "0"},
        {1000, "1000"},
        {4096, "4KiB"},
        {2097152, "2MiB"},
        {UINT64_C(1) << 32, "4GiB"},
        {(UINT64_C(1) << 20) + 1024, "1025KiB"},
    };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        args_format_size(sizes[i].bytes, buf, sizeof(buf));
        assert_string_equal(buf, sizes[i].text);
        uint64_t back = 1;
        assert_int_equal(args_parse_size(buf, &back), 0);
        assert_true(back == sizes[i].bytes);
    }
}

/* One escaping rule for every JSON string the project writes (jsonout.c, strbuf.c). */
static void test_json_escape(void **state)
{
    (void)state;
    char buf[JSONOUT_ESCAPE_LEN];
    assert_string_equal(jsonout_escape('a', buf), "a");
    assert_string_equal(jsonout_escape('"', buf), "\\\"");
    assert_string_equal(jsonout_escape('\\', buf), "\\\\");
    assert_string_equal(jsonout_escape('\n', buf), "\\u000a");
    assert_string_equal(jsonout_escape(0x1f, buf), "\\u001f");
    assert_string_equal(jsonout_escape(0x7f, buf), "\x7f");
    assert_string_equal(jsonout_escape(0xc3, buf), "\xc3"); /* UTF-8 passes through */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),   cmocka_unit_test(test_integers),
        cmocka_unit_test(test_sizes),       cmocka_unit_test(test_formats),
        cmocka_unit_test(test_json_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

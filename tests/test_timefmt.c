/* Unit tests: timestamps in and out (common/timefmt.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_seed.h"
#include "timefmt.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void test_format(void **state)
{
    (void)state;
    char buf[TIMEFMT_UTC_LEN];
    timefmt_utc(0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:00.000000000Z");
    timefmt_utc(INT64_C(1795620016125638675), buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-25T15:20:16.125638675Z");
    timefmt_utc(INT64_MAX, buf, sizeof(buf));
    assert_string_equal(buf, "2262-04-11T23:47:16.854775807Z");
    timefmt_utc(-1, buf, sizeof(buf));
    assert_string_equal(buf, "(before 1970)");
}

static void test_parse_good(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t ns;
    } cases[] = {
        {"0", 0},
        {"1795620016125638675", UINT64_C(1795620016125638675)},
        {"9223372036854775807", UINT64_C(9223372036854775807)},
        {"1970-01-01T00:00:00Z", 0},
        {"2026-11-25T15:20:16.125638675Z", UINT64_C(1795620016125638675)},
        {"2026-11-25t15:20:16.125638675z", UINT64_C(1795620016125638675)},
        {"2026-11-25 16:20:16.125638675+01:00", UINT64_C(1795620016125638675)},
        {"2026-11-25T10:50:16.125638675-04:30", UINT64_C(1795620016125638675)},
        {"2026-11-25T15:20:16.5Z", UINT64_C(1795620016500000000)},
        {"2026-11-25T15:20:16.000001Z", UINT64_C(1795620016000001000)},
        {"2000-02-29T00:00:00Z", UINT64_C(951782400000000000)},
        {"2024-02-29T12:00:00Z", UINT64_C(1709208000000000000)},
        {"1972-03-01T00:00:00Z", UINT64_C(68256000000000000)},
        {"2262-04-11T23:47:16.854775807Z", UINT64_C(9223372036854775807)},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        uint64_t ns = 1;
        int rc = timefmt_parse(cases[i].text, &ns);
        if (rc != 0 || ns != cases[i].ns) {
            fail_msg("%s: rc %d, ns %llu", cases[i].text, rc, (unsigned long long)ns);
        }
    }
}

static void test_parse_bad(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int rc;
    } cases[] = {
        {"", -EINVAL},
        {"-1", -EINVAL},
        {"12x", -EINVAL},
        {"9223372036854775808", -ERANGE},
        {"99999999999999999999", -ERANGE},
        {"2026-11-25T15:20:16", -EINVAL},             /* no zone */
        {"2026-11-25T15:20:16.Z", -EINVAL},           /* empty fraction */
        {"2026-11-25T15:20:16.1234567891Z", -EINVAL}, /* 10 digits */
        {"2026-13-01T00:00:00Z", -EINVAL},
        {"2026-02-29T00:00:00Z", -EINVAL},
        {"1900-02-29T00:00:00Z", -EINVAL},
        {"2026-04-31T00:00:00Z", -EINVAL},
        {"2026-11-25T24:00:00Z", -EINVAL},
        {"2016-12-31T23:59:60Z", -EINVAL}, /* leap second */
        {"2026-11-25T15:20:16+0100", -EINVAL},
        {"2026-11-25T15:20:16Zjunk", -EINVAL},
        {"2026/11/25T15:20:16Z", -EINVAL},
        {"1969-12-31T23:59:59.999999999Z", -ERANGE},
        {"1970-01-01T00:30:00+01:00", -ERANGE},
        {"2262-04-11T23:47:16.854775808Z", -ERANGE},
        {"9999-12-31T23:59:59Z", -ERANGE},
        {"0000-01-01T00:00:00Z", -ERANGE},
        {"0000-02-29T00:00:00Z", -ERANGE}, /* year 0 is a leap year (proleptic Gregorian) */
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        uint64_t ns = 7;
        int rc = timefmt_parse(cases[i].text, &ns);
        if (rc != cases[i].rc || ns != 7) {
            fail_msg("%s: rc %d, want %d", cases[i].text, rc, cases[i].rc);
        }
    }
}

/* Every formatted timestamp parses back to itself. */
static void test_roundtrip(void **state)
{
    (void)state;
    test_seed("test_roundtrip");
    for (int i = 0; i < 100000; i++) {
        uint64_t r = ((uint64_t)(unsigned)rand() << 33) ^ ((uint64_t)(unsigned)rand() << 11) ^
                     (uint64_t)(unsigned)rand();
        int64_t ns = (int64_t)(r & (uint64_t)INT64_MAX);
        char buf[TIMEFMT_UTC_LEN];
        timefmt_utc(ns, buf, sizeof(buf));
        uint64_t back = 0;
        assert_int_equal(timefmt_parse(buf, &back), 0);
        if (back != (uint64_t)ns) {
            fail_msg("%lld -> %s -> %llu", (long long)ns, buf, (unsigned long long)back);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

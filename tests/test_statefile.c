/* Unit tests: the state file (oracle/statefile.c): format, parsing, locking, refusals. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "statefile.h"

#define H1 UINT64_C(1795620000123456789)

static void test_format_and_parse(void **state)
{
    (void)state;
    /* The checksum is the standard CRC-32 (zlib.crc32 of the text before " crc32="). */
    char buf[STATEFILE_MAX_LEN];
    statefile_format(H1, buf, sizeof(buf));
    assert_string_equal(buf, "oracled-state v1 high_water_ns=1795620000123456789 crc32=78c7e45e\n");
    statefile_format(0, buf, sizeof(buf));
    assert_string_equal(buf, "oracled-state v1 high_water_ns=0 crc32=84436f14\n");
}

static void test_roundtrip(void **state)
{
    (void)state;
    char buf[STATEFILE_MAX_LEN];
    const uint64_t values[] = {0, 1, H1, (UINT64_C(1) << 63) - 1};
    for (size_t i = 0; i < 4; i++) {
        size_t len = statefile_format(values[i], buf, sizeof(buf));
        assert_true(len > 0 && len < STATEFILE_MAX_LEN && buf[len - 1] == '\n');
        uint64_t h = 42;
        const char *why = NULL;
        assert_int_equal(statefile_parse(buf, len, &h, &why), 0);
        assert_true(h == values[i]);
    }
}

static void test_corrupt_and_truncated(void **state)
{
    (void)state;
    char good[STATEFILE_MAX_LEN];
    size_t len = statefile_format(H1, good, sizeof(good));
    uint64_t h = 0;
    const char *why = NULL;
    /* Every truncation is refused, never read as a smaller mark. */
    for (size_t k = 0; k < len; k++) {
        why = NULL;
        assert_int_equal(statefile_parse(good, k, &h, &why), -EBADMSG);
        assert_non_null(why);
    }
    /* Every single-character change is caught (by the format or the checksum). */
    for (size_t i = 0; i < len - 1; i++) {
        char bad[STATEFILE_MAX_LEN];
        memcpy(bad, good, len);
        bad[i] = bad[i] == '7' ? '8' : '7';
        assert_int_equal(statefile_parse(bad, len, &h, &why), -EBADMSG);
    }
    const char *cases[] = {
        "",
        "\n",
        "garbage\n",
        "oracled-state v1 high_water_ns=12 crc32=00000000\n",
        "oracled-state v1 high_water_ns=9223372036854775808 crc32=00000000\n",
        "oracled-state v2 high_water_ns=1 crc32=00000000\n",
        "oracled-state v1 high_water_ns=-1 crc32=00000000\n",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(statefile_parse(cases[i], strlen(cases[i]), &h, &why), -EBADMSG);
    }
    /* Too long: refused before anything else. */
    char huge[STATEFILE_MAX_LEN + 10];
    memset(huge, 'x', sizeof(huge));
    huge[sizeof(huge) - 1] = '\n';
    assert_int_equal(statefile_parse(huge, sizeof(huge), &h, &why), -EBADMSG);
}

static void test_too_far_ahead(void **state)
{
    (void)state;
    const int64_t now = INT64_C(1795620000000000000);
    const int64_t window = 1000000000, bound = 10000000;
    /* H = now + window + bound is the most a clean restart can find; one ns more is not. */
    assert_false(statefile_too_far_ahead((uint64_t)(now + window + bound), now, window, bound));
    assert_true(statefile_too_far_ahead((uint64_t)(now + window + bound + 1), now, window, bound));
    assert_false(statefile_too_far_ahead(0, now, window, bound));
    assert_true(statefile_too_far_ahead(1, -1, window, bound));
}

static char *make_dir(void)
{
    static char dir[64];
    strcpy(dir, "/tmp/oracled-state-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return dir;
}

static void remove_dir(const char *dir)
{
    char path[256];
    const char *names[] = {STATEFILE_NAME, STATEFILE_TMP_NAME, STATEFILE_LOCK};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    assert_int_equal(rmdir(dir), 0);
}

static void write_file(const char *dir, const char *name, const char *text, size_t len)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

static void test_fresh_write_read(void **state)
{
    (void)state;
    char *dir = make_dir();
    struct statefile sf;
    const char *why = NULL;
    assert_int_equal(statefile_open(&sf, dir, &why), 0);
    uint64_t h = 99;
    int fresh = 0;
    assert_int_equal(statefile_read(&sf, &h, &fresh, &why), 0);
    assert_true(fresh == 1 && h == 0);
    assert_int_equal(statefile_write(&sf, H1, &why), 0);
    assert_int_equal(statefile_write(&sf, H1 + 1000, &why), 0);
    assert_int_equal(statefile_read(&sf, &h, &fresh, &why), 0);
    assert_true(fresh == 0 && h == H1 + 1000);
    /* No temporary file left behind. */
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, STATEFILE_TMP_NAME);
    assert_int_equal(access(path, F_OK), -1);
    statefile_close(&sf);
    remove_dir(dir);
}

static void test_locked(void **state)
{
    (void)state;
    char *dir = make_dir();
    struct statefile a, b;
    const char *why = NULL;
    assert_int_equal(statefile_open(&a, dir, &why), 0);
    /* A second open (another open file description, as another daemon would have) fails. */
    assert_int_equal(statefile_open(&b, dir, &why), -EWOULDBLOCK);
    assert_non_null(strstr(why, "another oracled"));
    statefile_close(&a);
    assert_int_equal(statefile_open(&b, dir, &why), 0);
    statefile_close(&b);
    remove_dir(dir);
}

static void test_corrupt_on_disk(void **state)
{
    (void)state;
    char *dir = make_dir();
    struct statefile sf;
    const char *why = NULL;
    assert_int_equal(statefile_open(&sf, dir, &why), 0);
    assert_int_equal(statefile_write(&sf, H1, &why), 0);
    char good[STATEFILE_MAX_LEN];
    size_t len = statefile_format(H1, good, sizeof(good));
    uint64_t h = 0;
    int fresh = 0;
    write_file(dir, STATEFILE_NAME, good, len - 5); /* truncated */
    assert_int_equal(statefile_read(&sf, &h, &fresh, &why), -EBADMSG);
    write_file(dir, STATEFILE_NAME, "", 0); /* empty */
    assert_int_equal(statefile_read(&sf, &h, &fresh, &why), -EBADMSG);
    assert_int_equal(fresh, 0);
    statefile_close(&sf);
    remove_dir(dir);
}

static void test_unwritable(void **state)
{
    (void)state;
    /* A path that cannot be a directory. */
    struct statefile sf;
    const char *why = NULL;
    int rc = statefile_open(&sf, "/proc/version/state", &why);
    assert_true(rc < 0);
    assert_non_null(why);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_and_parse),      cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_corrupt_and_truncated), cmocka_unit_test(test_too_far_ahead),
        cmocka_unit_test(test_fresh_write_read),      cmocka_unit_test(test_locked),
        cmocka_unit_test(test_corrupt_on_disk),       cmocka_unit_test(test_unwritable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

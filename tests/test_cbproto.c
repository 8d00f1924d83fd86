/* Unit tests: the ClockBound v1 socket protocol (oracle/cbproto.c), exact bytes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cbproto.h"

#define EARLIEST INT64_C(1795620000000000000)
#define LATEST   INT64_C(1795620000000020000)

static struct cb_now now_with(enum cb_status status)
{
    struct cb_now n;
    memset(&n, 0, sizeof(n));
    n.status = status;
    n.rt_ns = EARLIEST + 10000;
    n.bound_ns = 10000;
    n.earliest_ns = EARLIEST;
    n.latest_ns = LATEST;
    return n;
}

static void test_parse_good(void **state)
{
    (void)state;
    struct cbp_request q;
    const uint8_t now_req[] = {1, 1, 0, 0};
    assert_int_equal(cbp_parse(now_req, sizeof(now_req), &q), 0);
    assert_int_equal(q.type, CBP_NOW);
    const uint8_t before[] = {1, 2, 0, 0, 0x18, 0xeb, 0x64, 0x45, 0xd0, 0x08, 0x80, 0x33};
    assert_int_equal(cbp_parse(before, sizeof(before), &q), 0);
    assert_int_equal(q.type, CBP_BEFORE);
    assert_true(q.ts_ns == UINT64_C(0x18eb6445d0088033));
    const uint8_t after[] = {1, 3, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(cbp_parse(after, sizeof(after), &q), 0);
    assert_int_equal(q.type, CBP_AFTER);
    assert_true(q.ts_ns == UINT64_MAX);
    /* The reserved bytes are ignored. */
    const uint8_t reserved[] = {1, 1, 7, 9};
    assert_int_equal(cbp_parse(reserved, sizeof(reserved), &q), 0);
    assert_int_equal(q.type, CBP_NOW);
}

static void test_parse_bad(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint8_t bytes[16];
        size_t len;
    } cases[] = {
        {"empty", {0}, 0},
        {"3 bytes", {1, 1, 0}, 3},
        {"version 0", {0, 1, 0, 0}, 4},
        {"version 2", {2, 1, 0, 0}, 4},
        {"type 0", {1, 0, 0, 0}, 4},
        {"type 4", {1, 4, 0, 0}, 4},
        {"type 255", {1, 255, 0, 0}, 4},
        {"Now with 12 bytes", {1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 12},
        {"Now with 5 bytes", {1, 1, 0, 0, 0}, 5},
        {"Before with 4 bytes", {1, 2, 0, 0}, 4},
        {"Before with 11 bytes", {1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 11},
        {"After with 13 bytes", {1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 13},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cbp_request q;
        if (cbp_parse(cases[i].bytes, cases[i].len, &q) != -EINVAL) {
            fail_msg("%s: accepted", cases[i].what);
        }
    }
}

static void test_respond_now(void **state)
{
    (void)state;
    struct cbp_request q = {.type = CBP_NOW};
    struct cb_now n = now_with(CB_STATUS_SYNCHRONIZED);
    uint8_t out[CBP_RESPONSE_MAX];
    assert_int_equal(cbp_respond(&q, &n, out), 20);
    /* earliest 1795620000000000000 = 0x18eb52e05b964000, latest + 20000 = 0x...968e20 */
    const uint8_t want[20] = {1,    1,    0,    0,    0x18, 0xeb, 0x52, 0xe0, 0x5b, 0x96,
                              0x40, 0x00, 0x18, 0xeb, 0x52, 0xe0, 0x5b, 0x96, 0x8e, 0x20};
    assert_memory_equal(out, want, 20);
    /* FREE_RUNNING: the same values, F = 1. */
    n = now_with(CB_STATUS_FREE_RUNNING);
    assert_int_equal(cbp_respond(&q, &n, out), 20);
    assert_int_equal(out[2], 1);
    assert_memory_equal(out + 4, want + 4, 16);
}

static void test_respond_before_after(void **state)
{
    (void)state;
    struct cb_now n = now_with(CB_STATUS_SYNCHRONIZED);
    static const struct {
        enum cbp_type type;
        uint64_t ts;
        uint8_t answer;
    } cases[] = {
        {CBP_BEFORE, EARLIEST - 1, 1}, /* before earliest: certainly passed */
        {CBP_BEFORE, EARLIEST, 0},
        {CBP_BEFORE, LATEST + 1, 0},
        {CBP_BEFORE, 0, 1},
        {CBP_BEFORE, UINT64_C(1) << 63, 0},
        {CBP_BEFORE, UINT64_MAX, 0},
        {CBP_AFTER, LATEST + 1, 1}, /* after latest: certainly not yet */
        {CBP_AFTER, LATEST, 0},
        {CBP_AFTER, EARLIEST - 1, 0},
        {CBP_AFTER, 0, 0},
        {CBP_AFTER, (UINT64_C(1) << 63) - 1, 1},
        {CBP_AFTER, UINT64_C(1) << 63, 1},
        {CBP_AFTER, UINT64_MAX, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cbp_request q = {.type = cases[i].type, .ts_ns = cases[i].ts};
        uint8_t out[CBP_RESPONSE_MAX];
        assert_int_equal(cbp_respond(&q, &n, out), 5);
        const uint8_t want[5] = {1, (uint8_t)cases[i].type, 0, 0, cases[i].answer};
        if (memcmp(out, want, 5) != 0) {
            fail_msg("case %zu: type %d ts %llu answered %d", i, cases[i].type,
                     (unsigned long long)cases[i].ts, out[4]);
        }
    }
}

static void test_respond_errors(void **state)
{
    (void)state;
    uint8_t out[CBP_RESPONSE_MAX];
    struct cbp_request q = {.type = CBP_NOW};
    /* Malformed, clock fine: the error header, F = 0. */
    struct cb_now n = now_with(CB_STATUS_SYNCHRONIZED);
    assert_int_equal(cbp_respond(NULL, &n, out), 4);
    assert_memory_equal(out, ((const uint8_t[]){1, 0, 0, 0}), 4);
    /* UNKNOWN and DISRUPTED: every request the error header, F = 1. */
    const enum cb_status untrusted[] = {CB_STATUS_UNKNOWN, CB_STATUS_DISRUPTED};
    for (size_t i = 0; i < 2; i++) {
        n = now_with(untrusted[i]);
        const enum cbp_type types[] = {CBP_NOW, CBP_BEFORE, CBP_AFTER};
        for (size_t t = 0; t < 3; t++) {
            q.type = types[t];
            q.ts_ns = 0;
            assert_int_equal(cbp_respond(&q, &n, out), 4);
            assert_memory_equal(out, ((const uint8_t[]){1, 0, 1, 0}), 4);
        }
        assert_int_equal(cbp_respond(NULL, &n, out), 4);
        assert_memory_equal(out, ((const uint8_t[]){1, 0, 1, 0}), 4);
    }
    /* A Now whose earliest would be negative (a huge bound near the epoch) is clamped at 0. */
    n = now_with(CB_STATUS_FREE_RUNNING);
    n.earliest_ns = -5;
    q.type = CBP_NOW;
    assert_int_equal(cbp_respond(&q, &n, out), 20);
    assert_memory_equal(out + 4, ((const uint8_t[8]){0}), 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),     cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_respond_now),    cmocka_unit_test(test_respond_before_after),
        cmocka_unit_test(test_respond_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

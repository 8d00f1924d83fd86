/*
 * Unit tests: the load generator's codecs (bench/bproto.c) against the daemon's own wire
 * module, and its Prometheus histogram reader (bench/promhist.c) with exact numbers.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"
#include "bproto.h"
#include "frame.h"
#include "promhist.h"
#include "wire.h"

static struct request decode_request(const uint8_t *buf, size_t n)
{
    const uint8_t *msg;
    size_t len;
    assert_int_equal(frame_decode(buf, n, FRAME_MAX_LEN, &msg, &len), (int)n);
    struct arena a;
    assert_int_equal(arena_init(&a, 4096), 0);
    struct request r;
    assert_int_equal(wire_decode_request(msg, len, &a, &r), 0);
    arena_fini(&a);
    return r;
}

static void test_requests_decode_as_the_daemon_reads_them(void **state)
{
    (void)state;
    uint8_t buf[BP_REQUEST_MAX];
    size_t n = bp_oracle_request(buf, 1, BP_OP_TS, 1, 0);
    assert_int_equal(n, 5); /* 04 | 08 01 | 12 00: id 1, an empty GetTimestamp */
    struct request r = decode_request(buf, n);
    assert_int_equal(r.id, 1);
    assert_int_equal(r.op, REQ_OP_GET_TIMESTAMP);
    assert_int_equal(r.count, 0);
    assert_false(r.commit_wait);

    n = bp_oracle_request(buf, UINT64_MAX, BP_OP_TS_WAIT, 65536, 0);
    r = decode_request(buf, n);
    assert_true(r.id == UINT64_MAX);
    assert_int_equal(r.count, 65536);
    assert_true(r.commit_wait);

    n = bp_oracle_request(buf, 300, BP_OP_NOW, 0, 0);
    r = decode_request(buf, n);
    assert_int_equal(r.id, 300);
    assert_int_equal(r.op, REQ_OP_NOW);

    n = bp_oracle_request(buf, 7, BP_OP_WAIT_UNTIL, 0, UINT64_C(1795620016125638675));
    r = decode_request(buf, n);
    assert_int_equal(r.op, REQ_OP_WAIT_UNTIL);
    assert_true(r.ts_ns == UINT64_C(1795620016125638675));
}

/* Encodes with the daemon's wire module, parses with bproto. */
static struct bp_reply parse_response(const struct response *s)
{
    uint8_t buf[WIRE_RESPONSE_MAX];
    int n = wire_encode_response(s, buf, sizeof(buf));
    assert_true(n > 0);
    const uint8_t *msg;
    size_t len;
    assert_int_equal(frame_decode(buf, (size_t)n, FRAME_MAX_LEN, &msg, &len), n);
    struct bp_reply r;
    assert_int_equal(bp_oracle_parse(msg, len, &r), 0);
    return r;
}

static void test_replies_parse(void **state)
{
    (void)state;
    struct response s;
    memset(&s, 0, sizeof(s));
    s.id = 77;
    s.clock_status = 1;
    s.kind = RESP_TIMESTAMPS;
    s.u.ts.first_ns = UINT64_C(1795620016125638675);
    s.u.ts.count = 64;
    s.u.ts.waited_ns = 12345;
    s.u.ts.bound_ns = 40000;
    s.u.ts.earliest_ns = UINT64_C(1795620016125638800);
    s.u.ts.latest_ns = UINT64_C(1795620016125718800);
    struct bp_reply r = parse_response(&s);
    assert_int_equal(r.id, 77);
    assert_true(r.timestamps);
    assert_false(r.error);
    assert_true(r.first_ns == UINT64_C(1795620016125638675));
    assert_int_equal(r.count, 64);
    assert_int_equal(r.waited_ns, 12345);
    assert_int_equal(r.bound_ns, 40000);
    assert_true(r.earliest_ns == UINT64_C(1795620016125638800));

    memset(&s, 0, sizeof(s));
    s.id = 1ULL << 40;
    s.kind = RESP_WAITED;
    s.u.waited_ns = 999;
    r = parse_response(&s);
    assert_true(r.id == 1ULL << 40);
    assert_true(r.waited);
    assert_int_equal(r.waited_ns, 999);

    memset(&s, 0, sizeof(s));
    s.id = 5;
    s.kind = RESP_ERROR;
    s.u.error.code = WIRE_ERROR_OVERLOADED;
    s.u.error.retriable = true;
    s.u.error.message = "overloaded";
    r = parse_response(&s);
    assert_true(r.error);
    assert_int_equal(r.code, WIRE_ERROR_OVERLOADED);

    memset(&s, 0, sizeof(s));
    s.id = 6;
    s.kind = RESP_INFO;
    s.u.info.version = "0.1.0";
    s.u.info.instance_id = "x";
    s.u.info.time_source = "y";
    r = parse_response(&s); /* fields it does not need are skipped */
    assert_int_equal(r.id, 6);
    assert_false(r.timestamps || r.error || r.waited);
}

static void test_malformed_replies(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint8_t bytes[12];
        size_t len;
    } bad[] = {
        {"truncated varint", {0x08, 0x80}, 2},
        {"field 0", {0x00, 0x01}, 2},
        {"length past the end", {0x1a, 0x05, 0x08}, 3},
        {"truncated fixed64", {0x09, 1, 2, 3}, 4},
        {"wire type 3", {0x0b}, 1},
        {"bad submessage", {0x1a, 0x02, 0x08, 0x80}, 4},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bp_reply r;
        if (bp_oracle_parse(bad[i].bytes, bad[i].len, &r) != -EBADMSG) {
            fail_msg("%s: accepted", bad[i].what);
        }
    }
    struct bp_reply r;
    assert_int_equal(bp_oracle_parse(NULL, 0, &r), 0); /* the empty message: all defaults */
}

static void test_redis(void **state)
{
    (void)state;
    uint8_t buf[BP_REQUEST_MAX];
    size_t n = bp_redis_incr(buf, "oracle-bench");
    assert_int_equal(n, 33);
    assert_memory_equal(buf, "*2\r\n$4\r\nINCR\r\n$12\r\noracle-bench\r\n", 33);
    n = bp_redis_incr(buf, "k");
    assert_memory_equal(buf, "*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n", n);

    bool ok = false;
    assert_int_equal(bp_redis_reply((const uint8_t *)":12345\r\n:1", 10, &ok), 8);
    assert_true(ok);
    assert_int_equal(bp_redis_reply((const uint8_t *)"-ERR wrong\r\n", 12, &ok), 12);
    assert_false(ok);
    assert_int_equal(bp_redis_reply((const uint8_t *)":123", 4, &ok), 0);
    assert_int_equal(bp_redis_reply((const uint8_t *)"", 0, &ok), 0);
    assert_int_equal(bp_redis_reply((const uint8_t *)"$3\r\nabc\r\n", 9, &ok), -EBADMSG);
    assert_int_equal(bp_redis_reply((const uint8_t *)":1\n", 3, &ok), -EBADMSG);
}

static const char metrics_before[] = "# TYPE oracled_release_lateness_seconds histogram\n"
                                     "oracled_release_lateness_seconds_bucket{le=\"1e-06\"} 10\n"
                                     "oracled_release_lateness_seconds_bucket{le=\"2e-06\"} 20\n"
                                     "oracled_release_lateness_seconds_bucket{le=\"5e-06\"} 20\n"
                                     "oracled_release_lateness_seconds_bucket{le=\"+Inf\"} 20\n"
                                     "oracled_release_lateness_seconds_sum 0.00002\n"
                                     "oracled_clock_bound_seconds 0.000041233\n";
static const char metrics_after[] = "oracled_release_lateness_seconds_bucket{le=\"1e-06\"} 60\n"
                                    "oracled_release_lateness_seconds_bucket{le=\"2e-06\"} 70\n"
                                    "oracled_release_lateness_seconds_bucket{le=\"5e-06\"} 118\n"
                                    "oracled_release_lateness_seconds_bucket{le=\"+Inf\"} 120\n";

static void test_promhist(void **state)
{
    (void)state;
    struct promhist a;
    struct promhist b;
    struct promhist d;
    assert_int_equal(promhist_parse(metrics_before, "oracled_release_lateness_seconds", &b), 0);
    assert_int_equal(b.n, 4);
    assert_true(isinf(b.le[3]));
    assert_int_equal(promhist_parse(metrics_after, "oracled_release_lateness_seconds", &a), 0);
    assert_int_equal(promhist_delta(&a, &b, &d), 0);
    /* Gained: 50 in (0, 1 us], 0 in (1, 2], 48 in (2, 5], 2 above 5 us: 100 in all. */
    assert_int_equal(d.count[3], 100);
    assert_true(fabs(promhist_quantile(&d, 0.5) - 1e-6) < 1e-12);
    assert_true(fabs(promhist_quantile(&d, 0.25) - 0.5e-6) < 1e-12);
    assert_true(fabs(promhist_quantile(&d, 0.74) - 3.5e-6) < 1e-12); /* 24 of the 48 */
    assert_true(fabs(promhist_quantile(&d, 0.99) - 5e-6) < 1e-12);   /* in +Inf: its floor */
    assert_true(fabs(promhist_max_bound(&d) - 5e-6) < 1e-12);
    double v;
    assert_int_equal(prom_value(metrics_before, "oracled_clock_bound_seconds", &v), 0);
    assert_true(fabs(v - 0.000041233) < 1e-15);
    assert_int_equal(prom_value(metrics_before, "oracled_clock", &v), -ENOENT);
    assert_int_equal(promhist_parse(metrics_before, "nothing", &a), -ENOENT);
    assert_int_equal(promhist_delta(&b, &a, &d), -EINVAL); /* counts went down */
    struct promhist empty = {.n = 1, .le = {INFINITY}, .count = {0}};
    assert_true(promhist_quantile(&empty, 0.5) < 0);
    assert_true(promhist_max_bound(&empty) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests_decode_as_the_daemon_reads_them),
        cmocka_unit_test(test_replies_parse),
        cmocka_unit_test(test_malformed_replies),
        cmocka_unit_test(test_redis),
        cmocka_unit_test(test_promhist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

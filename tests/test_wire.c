/* Unit tests: the protobuf-c adapter (wire/wire.c) and its arena (wire/arena.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"
#include "frame.h"
#include "wire.h"

/* Encodes, unframes and decodes a request. */
static struct request roundtrip_request(const struct request *in)
{
    uint8_t buf[WIRE_RESPONSE_MAX];
    int n = wire_encode_request(in, buf, sizeof(buf));
    assert_true(n > 0);
    const uint8_t *msg;
    size_t len;
    assert_int_equal(frame_decode(buf, (size_t)n, FRAME_MAX_LEN, &msg, &len), n);
    struct arena a;
    assert_int_equal(arena_init(&a, 4096), 0);
    struct request out;
    assert_int_equal(wire_decode_request(msg, len, &a, &out), 0);
    arena_fini(&a);
    return out;
}

static void test_requests(void **state)
{
    (void)state;
    struct request r;
    memset(&r, 0, sizeof(r));
    r.id = UINT64_MAX;
    r.op = REQ_OP_GET_TIMESTAMP;
    r.count = 65536;
    r.commit_wait = true;
    r.min_ts_ns = UINT64_C(1795620000123456789);
    r.max_wait_ns = 12345;
    struct request out = roundtrip_request(&r);
    assert_true(out.id == UINT64_MAX);
    assert_int_equal(out.op, REQ_OP_GET_TIMESTAMP);
    assert_int_equal(out.count, 65536);
    assert_true(out.commit_wait);
    assert_true(out.min_ts_ns == r.min_ts_ns);
    assert_int_equal(out.max_wait_ns, 12345);

    const enum req_op ops[] = {REQ_OP_NOW,        REQ_OP_BEFORE,      REQ_OP_AFTER,
                               REQ_OP_WAIT_UNTIL, REQ_OP_SERVER_INFO, REQ_OP_NONE};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        memset(&r, 0, sizeof(r));
        r.id = i + 1;
        r.op = ops[i];
        r.ts_ns = UINT64_C(1) << 62;
        r.max_wait_ns = 77;
        out = roundtrip_request(&r);
        assert_int_equal(out.id, i + 1);
        assert_int_equal(out.op, ops[i]);
        if (ops[i] == REQ_OP_BEFORE || ops[i] == REQ_OP_AFTER || ops[i] == REQ_OP_WAIT_UNTIL) {
            assert_true(out.ts_ns == r.ts_ns);
        }
        if (ops[i] == REQ_OP_WAIT_UNTIL) {
            assert_int_equal(out.max_wait_ns, 77);
        }
    }
}

static void test_timestamps_are_fixed64(void **state)
{
    (void)state;
    /* Before{ts_ns} inside Request: the timestamp is 8 bytes (field 1, wire type 1), so a
     * Before request is 1 + 1 (id) + 1 + 1 (before, length 9) + 9 bytes. */
    struct request r;
    memset(&r, 0, sizeof(r));
    r.id = 5;
    r.op = REQ_OP_BEFORE;
    r.ts_ns = 1;
    uint8_t buf[64];
    int n = wire_encode_request(&r, buf, sizeof(buf));
    const uint8_t want[] = {13, 0x08, 5, 0x22, 9, 0x09, 1, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
}

static void test_unknown_and_garbage(void **state)
{
    (void)state;
    struct arena a;
    assert_int_equal(arena_init(&a, 4096), 0);
    struct request out;
    /* id 1 and a field 15 (not an op this server knows): UNSUPPORTED, not a parse error. */
    const uint8_t future[] = {0x08, 0x01, 0x7a, 0x00};
    assert_int_equal(wire_decode_request(future, sizeof(future), &a, &out), 0);
    assert_int_equal(out.op, REQ_OP_NONE);
    assert_int_equal(out.id, 1);
    arena_reset(&a);
    /* An empty message: id 0, no op. */
    assert_int_equal(wire_decode_request(future, 0, &a, &out), 0);
    assert_int_equal(out.op, REQ_OP_NONE);
    arena_reset(&a);
    const uint8_t junk[] = {0xff, 0xff, 0xff};
    assert_int_equal(wire_decode_request(junk, sizeof(junk), &a, &out), -EBADMSG);
    arena_reset(&a);
    /* A length-delimited field running past the end. */
    const uint8_t cut[] = {0x12, 0x05, 0x08};
    assert_int_equal(wire_decode_request(cut, sizeof(cut), &a, &out), -EBADMSG);
    arena_fini(&a);
}

/* Every allocation size below what a request needs fails cleanly; protobuf-c must not crash
 * or leak when its allocator refuses (the arena has nothing to leak: it is reset). */
static void test_failing_allocator(void **state)
{
    (void)state;
    /* A request with an unknown field of 200 bytes, which protobuf-c copies. */
    uint8_t msg[256];
    size_t len = 0;
    msg[len++] = 0x08;
    msg[len++] = 0x2a; /* id 42 */
    msg[len++] = 0x7a; /* field 15, length-delimited */
    msg[len++] = 0xc8;
    msg[len++] = 0x01; /* 200 */
    memset(msg + len, 0xab, 200);
    len += 200;
    size_t need = 0;
    for (size_t cap = 0; cap < 4096; cap += 8) {
        struct arena a;
        assert_int_equal(arena_init(&a, cap), 0);
        struct request out;
        int rc = wire_decode_request(msg, len, &a, &out);
        if (rc == 0) {
            assert_int_equal(out.id, 42);
            assert_int_equal(out.op, REQ_OP_NONE);
            need = cap;
            arena_fini(&a);
            break;
        }
        assert_int_equal(rc, -EBADMSG);
        assert_true(a.failures > 0);
        arena_fini(&a);
    }
    assert_true(need > 200); /* the copy did need room, and failed cleanly before */
}

static struct response roundtrip_response(const struct response *in, struct arena *a)
{
    static uint8_t buf[WIRE_RESPONSE_MAX];
    int n = wire_encode_response(in, buf, sizeof(buf));
    assert_true(n > 0 && n <= WIRE_RESPONSE_MAX);
    const uint8_t *msg;
    size_t len;
    assert_int_equal(frame_decode(buf, (size_t)n, FRAME_MAX_LEN, &msg, &len), n);
    struct response out;
    assert_int_equal(wire_decode_response(msg, len, a, &out), 0);
    return out;
}

static void test_responses(void **state)
{
    (void)state;
    struct arena a;
    assert_int_equal(arena_init(&a, 16384), 0);
    struct response r;
    memset(&r, 0, sizeof(r));
    r.id = 9;
    r.clock_status = 2;
    r.kind = RESP_TIMESTAMPS;
    r.u.ts.first_ns = UINT64_C(1795620000000000001);
    r.u.ts.count = 3;
    r.u.ts.waited_ns = 40000;
    r.u.ts.bound_ns = 20000;
    r.u.ts.earliest_ns = UINT64_C(1795620000000000004);
    r.u.ts.latest_ns = UINT64_C(1795620000000040004);
    struct response out = roundtrip_response(&r, &a);
    assert_int_equal(out.id, 9);
    assert_int_equal(out.clock_status, 2);
    assert_int_equal(out.kind, RESP_TIMESTAMPS);
    assert_memory_equal(&out.u.ts, &r.u.ts, sizeof(r.u.ts));

    r.kind = RESP_BOUNDS;
    r.u.bounds.earliest_ns = 1;
    r.u.bounds.latest_ns = UINT64_MAX >> 1;
    out = roundtrip_response(&r, &a);
    assert_true(out.u.bounds.latest_ns == UINT64_MAX >> 1);

    r.kind = RESP_BEFORE;
    r.u.answer = true;
    out = roundtrip_response(&r, &a);
    assert_int_equal(out.kind, RESP_BEFORE);
    assert_true(out.u.answer);
    r.kind = RESP_AFTER;
    r.u.answer = false;
    out = roundtrip_response(&r, &a);
    assert_int_equal(out.kind, RESP_AFTER);
    assert_false(out.u.answer);

    r.kind = RESP_WAITED;
    r.u.waited_ns = 123;
    out = roundtrip_response(&r, &a);
    assert_int_equal(out.u.waited_ns, 123);

    r.kind = RESP_INFO;
    r.u.info.version = "1.2.3";
    r.u.info.instance_id = "0123456789abcdef0123456789abcdef";
    r.u.info.time_source = "chrony udp:127.0.0.1:323";
    r.u.info.max_drift_ppb = 50000;
    r.u.info.max_wait_ns = 100000000;
    r.u.info.max_count = 65536;
    out = roundtrip_response(&r, &a);
    assert_string_equal(out.u.info.version, "1.2.3");
    assert_string_equal(out.u.info.instance_id, r.u.info.instance_id);
    assert_string_equal(out.u.info.time_source, r.u.info.time_source);
    assert_int_equal(out.u.info.max_count, 65536);
    /* Info strings longer than the limit are cut too, and the response still fits. */
    static char long_text[3000];
    memset(long_text, 'y', sizeof(long_text) - 1);
    r.u.info.version = long_text;
    r.u.info.instance_id = long_text;
    r.u.info.time_source = long_text;
    out = roundtrip_response(&r, &a);
    assert_int_equal(strlen(out.u.info.time_source), WIRE_INFO_TEXT_MAX);
    assert_int_equal(strlen(out.u.info.version), WIRE_INFO_TEXT_MAX);

    /* An error message longer than the limit is cut, and still fits. */
    static char long_msg[5000];
    memset(long_msg, 'x', sizeof(long_msg) - 1);
    r.kind = RESP_ERROR;
    r.u.error.code = WIRE_ERROR_OVERLOADED;
    r.u.error.retriable = true;
    r.u.error.message = long_msg;
    out = roundtrip_response(&r, &a);
    assert_int_equal(out.u.error.code, WIRE_ERROR_OVERLOADED);
    assert_true(out.u.error.retriable);
    assert_int_equal(strlen(out.u.error.message), WIRE_MESSAGE_MAX);

    /* Too small a buffer: refused, nothing written past it. */
    uint8_t small[8];
    assert_int_equal(wire_encode_response(&r, small, sizeof(small)), -ENOBUFS);
    arena_fini(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_timestamps_are_fixed64),
        cmocka_unit_test(test_unknown_and_garbage),
        cmocka_unit_test(test_failing_allocator),
        cmocka_unit_test(test_responses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

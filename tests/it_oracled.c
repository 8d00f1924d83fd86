/*
 * Integration: the real oracled (started by it_oracled.sh against a real chrony pair), driven
 * over loopback TCP. Usage: it_oracled HOST:PORT healthy|unavailable|resumed
 *
 *   healthy      every operation, ordering, commit-wait, pipelining, bad input
 *   unavailable  chrony has been stopped: retriable errors, connections closed after them
 *   resumed      chrony is back: served again
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

#include "frame.h"
#include "it_util.h"
#include "wire.h"
#include "wire_checks.h"
#include "wire_client.h"

#define MS       INT64_C(1000000)
#define TIMEOUT  5000 /* ms, per response */
#define TS_LIMIT (UINT64_C(1) << 63)

static const char *addr;

static void test_server_info(void **state)
{
    (void)state;
    struct wire_client c;
    wc_connect_or_fail(&c, addr);
    struct request q = wc_request(7, REQ_OP_SERVER_INFO);
    struct response r = wc_call_or_fail(&c, &q, TIMEOUT);
    assert_int_equal(r.id, 7);
    assert_int_equal(r.kind, RESP_INFO);
    assert_true(strlen(r.u.info.version) > 0);
    assert_int_equal(strlen(r.u.info.instance_id), 32);
    assert_int_equal(r.u.info.max_count, 65536);
    assert_int_equal(r.u.info.max_drift_ppb, 50000);
    assert_true(r.u.info.max_wait_ns > 0);
    assert_non_null(strstr(r.u.info.time_source, "chrony udp:127.0.0.1:"));
    assert_non_null(strstr(r.u.info.time_source, "DEMO"));
    print_message("server info: version %s, instance %s, source %s\n", r.u.info.version,
                  r.u.info.instance_id, r.u.info.time_source);
    wc_close(&c);
}

static void test_now_contains_local_clock(void **state)
{
    (void)state;
    struct wire_client c;
    wc_connect_or_fail(&c, addr);
    for (uint64_t i = 1; i <= 100; i++) {
        struct request q = wc_request(i, REQ_OP_NOW);
        int64_t t0 = it_realtime_ns();
        struct response r = wc_call_or_fail(&c, &q, TIMEOUT);
        int64_t t1 = it_realtime_ns();
        assert_int_equal(r.kind, RESP_BOUNDS);
        assert_true(r.clock_status == 1 || r.clock_status == 2);
        assert_true((int64_t)r.u.bounds.earliest_ns <= t1);
        assert_true((int64_t)r.u.bounds.latest_ns >= t0);
        assert_true(r.u.bounds.latest_ns > r.u.bounds.earliest_ns);
    }
    wc_close(&c);
}

static void test_sequential_strictly_increasing(void **state)
{
    (void)state;
    struct wire_client c;
    wc_connect_or_fail(&c, addr);
    uint64_t prev = 0;
    for (uint64_t i = 1; i <= 10000; i++) {
        struct request q = wc_request(i, REQ_OP_GET_TIMESTAMP);
        struct response r = wc_call_or_fail(&c, &q, TIMEOUT);
        if (r.kind != RESP_TIMESTAMPS) {
            fail_msg("request %llu: kind %d", (unsigned long long)i, r.kind);
        }
        assert_int_equal(r.u.ts.count, 1);
        if (r.u.ts.first_ns <= prev) {
            fail_msg("timestamp %llu not above the previous %llu",
                     (unsigned long long)r.u.ts.first_ns, (unsigned long long)prev);
        }
        /* Never below the server's latest, read when it was issued (the response carries that
         * same reading): this is what orders it after earlier commit-waits everywhere. */
        assert_true(r.u.ts.first_ns >= r.u.ts.latest_ns);
        prev = r.u.ts.first_ns;
    }
    wc_close(&c);
}

#define THREADS    8
#define PER_THREAD 1000

struct worker {
    uint64_t ts[PER_THREAD];
    int failed;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct wire_client c;
    if (wc_connect_addr(&c, addr) < 0) {
        w->failed = 1;
        return NULL;
    }
    for (int i = 0; i < PER_THREAD; i++) {
        struct request q = wc_request((uint64_t)i + 1, REQ_OP_GET_TIMESTAMP);
        struct response r;
        if (wc_call(&c, &q, &r, TIMEOUT) < 0 || r.kind != RESP_TIMESTAMPS) {
            w->failed = 1;
            break;
        }
        w->ts[i] = r.u.ts.first_ns;
    }
    wc_close(&c);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_concurrent_unique(void **state)
{
    (void)state;
    static struct worker workers[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&workers[i], 0, sizeof(workers[i]));
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &workers[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
    }
    static uint64_t all[THREADS * PER_THREAD];
    size_t n = 0;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(workers[i].failed, 0);
        for (int j = 0; j < PER_THREAD; j++) {
            if (j > 0 && workers[i].ts[j] <= workers[i].ts[j - 1]) {
                fail_msg("worker %d: timestamp %d not increasing", i, j);
            }
            all[n++] = workers[i].ts[j];
        }
    }
    qsort(all, n, sizeof(all[0]), cmp_u64);
    for (size_t i = 1; i < n; i++) {
        if (all[i] == all[i - 1]) {
            fail_msg("timestamp %llu issued twice", (unsigned long long)all[i]);
        }
    }
}

static void test_commit_wait(void **state)
{
    (void)state;
    struct wire_client c;
    wc_connect_or_fail(&c, addr);
    uint64_t prev = 0;
    for (uint64_t i = 1; i <= 300; i++) {
        struct request q = wc_request(i, REQ_OP_GET_TIMESTAMP);
        q.commit_wait = true;
        q.count = i % 3 == 0 ? 10 : 1;
        struct response r = wc_call_or_fail(&c, &q, TIMEOUT);
        int64_t arrived = it_realtime_ns();
        if (r.kind != RESP_TIMESTAMPS) {
            fail_msg("request %llu: kind %d (%s)", (unsigned long long)i, r.kind,
                     r.kind == RESP_ERROR ? r.u.error.message : "");
        }
        uint64_t last = r.u.ts.first_ns + r.u.ts.count - 1;
        assert_int_equal(r.u.ts.count, q.count);
        /* Released only once the batch's last timestamp was certainly past ... */
        assert_true(r.u.ts.earliest_ns > last);
        /* ... so the local clock, read on arrival, is beyond it by the bound. */
        if (arrived <= (int64_t)(last + r.u.ts.bound_ns)) {
            fail_msg("reply at %lld, not after ts %llu + bound %llu", (long long)arrived,
                     (unsigned long long)last, (unsigned long long)r.u.ts.bound_ns);
        }
        assert_true(r.u.ts.waited_ns > 0);
        assert_true(r.u.ts.first_ns > prev);
        prev = last;
    }
    wc_close(&c);
}

static void test_before_after(void **state)
{
    (void)state;
    struct wire_client c;
    wc_connect_or_fail(&c, addr);
    int64_t now = it_realtime_ns();
    struct {
        enum req_op op;
        int64_t ts;
        bool want;
    } cases[] = {
        {REQ_OP_BEFORE, now - 1000 * MS, true},
        {REQ_OP_BEFORE, now + 1000 * MS, false},
        {REQ_OP_AFTER, now + 1000 * MS, true},
        {REQ_OP_AFTER, now - 1000 * MS, false},
        {REQ_OP_BEFORE, 0, true},
        {REQ_OP_AFTER, (int64_t)(TS_LIMIT - 1), true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct request q = wc_request(i + 1, cases[i].op);
        q.ts_ns = (uint64_t)cases[i].ts;
        struct response r = wc_call_or_fail(&c, &q, TIMEOUT);
        assert_int_equal(r.kind, cases[i].op == REQ_OP_BEFORE ? RESP_BEFORE : RESP_AFTER);
        assert_int_equal(r.u.answer, cases[i].want);
    }
    /* A timestamp at 2^63 is a bad request; the connection stays usable. */
    struct request q = wc_request(50, REQ_OP_AFTER);
    q.ts_ns = TS_LIMIT;
    struct response r = wc_call_or_fail(&c, &q, TIMEOUT);
    wc_expect_error(&r, WIRE_ERROR_BAD_REQUEST);
    assert_false(r.u.error.retriable);
    q = wc_request(51, REQ_OP_NOW);
    r = wc_call_or_fail(&c, &q, TIMEOUT);
    assert_int_equal(r.kind, RESP_BOUNDS);
    wc_close(&c);
}

static void test_wait_until(void **state)
{
    (void)state;
    struct wire_client c;
    wc_connect_or_fail(&c, addr);
    /* 20 ms ahead: held until the local clock is past it by the bound. */
    uint64_t ts = (uint64_t)(it_realtime_ns() + 20 * MS);
    struct request q = wc_request(1, REQ_OP_WAIT_UNTIL);
    q.ts_ns = ts;
    struct response r = wc_call_or_fail(&c, &q, TIMEOUT);
    int64_t arrived = it_realtime_ns();
    assert_int_equal(r.kind, RESP_WAITED);
    assert_true(r.u.waited_ns >= 15 * MS);
    assert_true(arrived > (int64_t)ts);
    /* In the past: at once. */
    q = wc_request(2, REQ_OP_WAIT_UNTIL);
    q.ts_ns = (uint64_t)(it_realtime_ns() - 1000 * MS);
    r = wc_call_or_fail(&c, &q, TIMEOUT);
    assert_int_equal(r.kind, RESP_WAITED);
    assert_int_equal(r.u.waited_ns, 0);
    /* Beyond the maximum wait: WAIT_TOO_LONG at once, not after waiting. */
    q = wc_request(3, REQ_OP_WAIT_UNTIL);
    q.ts_ns = (uint64_t)(it_realtime_ns() + 10000 * MS);
    int64_t t0 = it_realtime_ns();
    r = wc_call_or_fail(&c, &q, TIMEOUT);
    wc_expect_error(&r, WIRE_ERROR_WAIT_TOO_LONG);
    assert_true(r.u.error.retriable);
    assert_true(it_realtime_ns() - t0 < 50 * MS);
    /* A client's own smaller max wait counts too. */
    q = wc_request(4, REQ_OP_WAIT_UNTIL);
    q.ts_ns = (uint64_t)(it_realtime_ns() + 30 * MS);
    q.max_wait_ns = 5 * MS;
    r = wc_call_or_fail(&c, &q, TIMEOUT);
    wc_expect_error(&r, WIRE_ERROR_WAIT_TOO_LONG);
    wc_close(&c);
}

static void test_pipelined_now_not_held_up(void **state)
{
    (void)state;
    struct wire_client c;
    wc_connect_or_fail(&c, addr);
    struct request wait = wc_request(1, REQ_OP_WAIT_UNTIL);
    wait.ts_ns = (uint64_t)(it_realtime_ns() + 50 * MS);
    struct request now = wc_request(2, REQ_OP_NOW);
    assert_int_equal(wc_send(&c, &wait), 0);
    assert_int_equal(wc_send(&c, &now), 0);
    struct response r;
    assert_int_equal(wc_recv(&c, &r, TIMEOUT), 0);
    assert_int_equal(r.id, 2); /* the Now, first */
    assert_int_equal(r.kind, RESP_BOUNDS);
    assert_int_equal(wc_recv(&c, &r, TIMEOUT), 0);
    assert_int_equal(r.id, 1);
    assert_int_equal(r.kind, RESP_WAITED);
    /* Many pipelined at once: every id answered once. */
    enum { N = 500 };
    static bool seen[N + 1];
    memset(seen, 0, sizeof(seen));
    for (uint64_t i = 1; i <= N; i++) {
        struct request q = wc_request(i, i % 5 == 0 ? REQ_OP_NOW : REQ_OP_GET_TIMESTAMP);
        q.commit_wait = i % 7 == 0;
        assert_int_equal(wc_send(&c, &q), 0);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(wc_recv(&c, &r, TIMEOUT), 0);
        assert_true(r.id >= 1 && r.id <= N);
        assert_false(seen[r.id]);
        seen[r.id] = true;
    }
    wc_close(&c);
}

/* Encodes n requests back to back into one buffer (so they cross the server's 64 KiB reads and
 * split frames), every tenth a commit-wait, and checks every answer. */
static void test_big_pipeline(void **state)
{
    (void)state;
    enum { N = 30000 };
    static uint8_t buf[N * 32];
    size_t len = 0;
    for (uint64_t i = 1; i <= N; i++) {
        struct request q = wc_request(i, REQ_OP_GET_TIMESTAMP);
        q.commit_wait = i % 10 == 0;
        int n = wire_encode_request(&q, buf + len, sizeof(buf) - len);
        assert_true(n > 0);
        len += (size_t)n;
    }
    assert_true(len > 2 * 65546);
    struct wire_client c;
    wc_connect_or_fail(&c, addr);
    assert_int_equal(wc_send_raw(&c, buf, len), 0);
    static bool seen[N + 1];
    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < N; i++) {
        struct response r;
        assert_int_equal(wc_recv(&c, &r, TIMEOUT), 0);
        assert_int_equal(r.kind, RESP_TIMESTAMPS);
        assert_true(r.id >= 1 && r.id <= N && !seen[r.id]);
        seen[r.id] = true;
        if (r.id % 10 == 0) {
            assert_true(r.u.ts.earliest_ns > r.u.ts.first_ns + r.u.ts.count - 1);
        } else {
            assert_true(r.u.ts.first_ns >= r.u.ts.latest_ns);
        }
    }
    wc_close(&c);
}

/* A client that sends far more than it reads: the server stops handling its input once
 * 256 KiB of replies wait, and loses nothing once the client reads again. */
static void test_slow_reader_loses_nothing(void **state)
{
    (void)state;
    enum { N = 40000 }; /* ~25 bytes of reply each: ~1 MB, four times the pause */
    static uint8_t buf[N * 8];
    size_t len = 0;
    for (uint64_t i = 1; i <= N; i++) {
        struct request q = wc_request(i, REQ_OP_NOW);
        len += (size_t)wire_encode_request(&q, buf + len, sizeof(buf) - len);
    }
    struct wire_client c;
    wc_connect_or_fail(&c, addr);
    assert_int_equal(wc_send_raw(&c, buf, len), 0);
    struct timespec pause = {0, 200 * 1000 * 1000};
    nanosleep(&pause, NULL); /* let the server fill its output and stop */
    for (uint64_t i = 1; i <= N; i++) {
        struct response r;
        assert_int_equal(wc_recv(&c, &r, TIMEOUT), 0);
        assert_int_equal(r.kind, RESP_BOUNDS);
        assert_int_equal(r.id, i); /* immediate answers keep their order */
    }
    wc_close(&c);
}

static void test_largest_frame(void **state)
{
    (void)state;
    /* A Request of exactly 65536 bytes: id, then an unknown field (15) padding it out. Framed
     * and parsed fine; no known operation: UNSUPPORTED. */
    static uint8_t buf[FRAME_MAX_TOTAL];
    size_t body = 65536 - 2 - 1 - 3; /* id (2) + tag (1) + length varint (3) */
    size_t n = frame_encode_header(buf, 65536);
    buf[n++] = 0x08;
    buf[n++] = 0x07;
    buf[n++] = 0x7a;
    n += frame_encode_header(buf + n, body);
    memset(buf + n, 0x55, body);
    n += body;
    assert_int_equal(n, 3 + 65536);
    struct wire_client c;
    wc_connect_or_fail(&c, addr);
    assert_int_equal(wc_send_raw(&c, buf, n), 0);
    struct response r;
    assert_int_equal(wc_recv(&c, &r, TIMEOUT), 0);
    assert_int_equal(r.id, 7);
    wc_expect_error(&r, WIRE_ERROR_UNSUPPORTED);
    struct request q = wc_request(8, REQ_OP_NOW);
    r = wc_call_or_fail(&c, &q, TIMEOUT);
    assert_int_equal(r.kind, RESP_BOUNDS);
    wc_close(&c);
}

static void test_half_close_still_answered(void **state)
{
    (void)state;
    /* A commit-wait, then the client shuts its sending side: the reply still comes. */
    struct wire_client c;
    wc_connect_or_fail(&c, addr);
    struct request q = wc_request(1, REQ_OP_WAIT_UNTIL);
    q.ts_ns = (uint64_t)(it_realtime_ns() + 20 * MS);
    assert_int_equal(wc_send(&c, &q), 0);
    q = wc_request(2, REQ_OP_GET_TIMESTAMP);
    q.commit_wait = true;
    assert_int_equal(wc_send(&c, &q), 0);
    assert_int_equal(shutdown(c.fd, SHUT_WR), 0);
    bool got[3] = {false, false, false};
    for (int i = 0; i < 2; i++) {
        struct response r;
        assert_int_equal(wc_recv(&c, &r, TIMEOUT), 0);
        assert_true(r.id == 1 || r.id == 2);
        assert_int_equal(r.kind, r.id == 1 ? RESP_WAITED : RESP_TIMESTAMPS);
        got[r.id] = true;
    }
    assert_true(got[1] && got[2]);
    /* ... and then the server closes its side. */
    assert_int_equal(wc_wait_closed(&c, TIMEOUT), 0);
    wc_close(&c);
}

static void test_too_many_pending(void **state)
{
    (void)state;
    /* One connection may hold 4096 commit-waits; beyond that: OVERLOADED, nothing else lost. */
    enum { N = 4200 };
    static uint8_t buf[N * 32];
    size_t len = 0;
    uint64_t ts = (uint64_t)(it_realtime_ns() + 60 * MS);
    for (uint64_t i = 1; i <= N; i++) {
        struct request q = wc_request(i, REQ_OP_WAIT_UNTIL);
        q.ts_ns = ts;
        len += (size_t)wire_encode_request(&q, buf + len, sizeof(buf) - len);
    }
    struct wire_client c;
    wc_connect_or_fail(&c, addr);
    assert_int_equal(wc_send_raw(&c, buf, len), 0);
    int waited = 0, overloaded = 0;
    for (int i = 0; i < N; i++) {
        struct response r;
        assert_int_equal(wc_recv(&c, &r, TIMEOUT), 0);
        if (r.kind == RESP_WAITED) {
            waited++;
        } else {
            wc_expect_error(&r, WIRE_ERROR_OVERLOADED);
            assert_true(r.u.error.retriable);
            overloaded++;
        }
    }
    assert_int_equal(waited, 4096);
    assert_int_equal(overloaded, N - 4096);
    wc_close(&c);
}

static void test_bad_requests(void **state)
{
    (void)state;
    struct wire_client c;
    wc_connect_or_fail(&c, addr);
    struct request q = wc_request(1, REQ_OP_NONE);
    struct response r = wc_call_or_fail(&c, &q, TIMEOUT);
    wc_expect_error(&r, WIRE_ERROR_UNSUPPORTED);
    assert_false(r.u.error.retriable);
    q = wc_request(2, REQ_OP_GET_TIMESTAMP);
    q.count = 65537;
    r = wc_call_or_fail(&c, &q, TIMEOUT);
    wc_expect_error(&r, WIRE_ERROR_BAD_REQUEST);
    q = wc_request(3, REQ_OP_GET_TIMESTAMP);
    q.min_ts_ns = TS_LIMIT - 5;
    q.count = 10;
    r = wc_call_or_fail(&c, &q, TIMEOUT);
    wc_expect_error(&r, WIRE_ERROR_BAD_REQUEST);
    /* min_ts_ns 1 s ahead would push the timestamps 1 s past the clock: OVERLOADED. */
    q = wc_request(4, REQ_OP_GET_TIMESTAMP);
    q.min_ts_ns = (uint64_t)(it_realtime_ns() + 1000 * MS);
    r = wc_call_or_fail(&c, &q, TIMEOUT);
    wc_expect_error(&r, WIRE_ERROR_OVERLOADED);
    assert_true(r.u.error.retriable);
    /* A batch: count consecutive timestamps, the next request beyond them. */
    q = wc_request(5, REQ_OP_GET_TIMESTAMP);
    q.count = 100;
    r = wc_call_or_fail(&c, &q, TIMEOUT);
    assert_int_equal(r.kind, RESP_TIMESTAMPS);
    assert_int_equal(r.u.ts.count, 100);
    uint64_t last = r.u.ts.first_ns + 99;
    q = wc_request(6, REQ_OP_GET_TIMESTAMP);
    q.min_ts_ns = 12345;
    r = wc_call_or_fail(&c, &q, TIMEOUT);
    assert_true(r.u.ts.first_ns > last);
    /* A well-framed message that is not a Request: BAD_REQUEST, id 0, connection kept. */
    const uint8_t junk[] = {3, 0xff, 0xff, 0xff};
    assert_int_equal(wc_send_raw(&c, junk, sizeof(junk)), 0);
    assert_int_equal(wc_recv(&c, &r, TIMEOUT), 0);
    assert_int_equal(r.id, 0);
    wc_expect_error(&r, WIRE_ERROR_BAD_REQUEST);
    q = wc_request(7, REQ_OP_NOW);
    r = wc_call_or_fail(&c, &q, TIMEOUT);
    assert_int_equal(r.kind, RESP_BOUNDS);
    wc_close(&c);
}

static void expect_framing_error_and_close(const uint8_t *bytes, size_t len)
{
    struct wire_client bystander, c;
    wc_connect_or_fail(&bystander, addr);
    wc_connect_or_fail(&c, addr);
    assert_int_equal(wc_send_raw(&c, bytes, len), 0);
    struct response r;
    assert_int_equal(wc_recv(&c, &r, TIMEOUT), 0);
    assert_int_equal(r.id, 0);
    wc_expect_error(&r, WIRE_ERROR_BAD_REQUEST);
    assert_int_equal(wc_wait_closed(&c, TIMEOUT), 0);
    wc_close(&c);
    /* Nothing else affected. */
    struct request q = wc_request(9, REQ_OP_NOW);
    r = wc_call_or_fail(&bystander, &q, TIMEOUT);
    assert_int_equal(r.kind, RESP_BOUNDS);
    wc_close(&bystander);
}

static void test_malformed_frames_close_only_their_connection(void **state)
{
    (void)state;
    const uint8_t long_varint[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                   0x80, 0x80, 0x80, 0x80, 0x01};
    /* 11-byte varint of a small value: no length ever needs that. */
    const uint8_t padded_zero[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                   0x80, 0x80, 0x80, 0x80, 0x00};
    const uint8_t too_big[] = {0x81, 0x80, 0x04}; /* 65537 */
    expect_framing_error_and_close(too_big, sizeof(too_big));
    expect_framing_error_and_close(padded_zero, sizeof(padded_zero));
    expect_framing_error_and_close(long_varint, sizeof(long_varint));
}

static void test_unavailable(void **state)
{
    (void)state;
    /* chrony is gone and the grace period over: every clock operation gets a retriable
     * error and the connection is closed after it; ServerInfo still answers. */
    const enum req_op ops[] = {REQ_OP_GET_TIMESTAMP, REQ_OP_NOW, REQ_OP_BEFORE, REQ_OP_AFTER,
                               REQ_OP_WAIT_UNTIL};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        struct wire_client c;
        wc_connect_or_fail(&c, addr);
        struct request info = wc_request(100, REQ_OP_SERVER_INFO);
        struct response r = wc_call_or_fail(&c, &info, TIMEOUT);
        assert_int_equal(r.kind, RESP_INFO);
        assert_int_equal(r.clock_status, 0); /* UNKNOWN */
        struct request q = wc_request(i + 1, ops[i]);
        q.ts_ns = (uint64_t)it_realtime_ns();
        r = wc_call_or_fail(&c, &q, TIMEOUT);
        wc_expect_error(&r, WIRE_ERROR_CLOCK_UNAVAILABLE);
        assert_true(r.u.error.retriable);
        assert_non_null(strstr(r.u.error.message, "UNKNOWN"));
        assert_int_equal(wc_wait_closed(&c, TIMEOUT), 0);
        wc_close(&c);
    }
}

static void test_resumed(void **state)
{
    (void)state;
    /* chrony is back: served again, without a restart. */
    struct wire_client c;
    wc_connect_or_fail(&c, addr);
    struct request q = wc_request(1, REQ_OP_GET_TIMESTAMP);
    q.commit_wait = true;
    struct response r = wc_call_or_fail(&c, &q, TIMEOUT);
    assert_int_equal(r.kind, RESP_TIMESTAMPS);
    assert_true(r.u.ts.earliest_ns > r.u.ts.first_ns);
    q = wc_request(2, REQ_OP_NOW);
    r = wc_call_or_fail(&c, &q, TIMEOUT);
    assert_int_equal(r.kind, RESP_BOUNDS);
    wc_close(&c);
}

/* The test's own clock when the server runs on a stepped one (oracled-stepped): CLOCK_REALTIME
 * plus the offset in truth_file, read afresh at every call, so a step is seen as soon as the
 * test writes it. The test moves this file so the two clocks differ only in the checker's
 * favour: before the server's step when forward, after the server has seen it when back. */
static const char *truth_file;

static int64_t test_clock_ns(void)
{
    long long off = 0;
    FILE *f = fopen(truth_file, "r");
    if (f == NULL || fscanf(f, "%lld", &off) != 1) {
        fprintf(stderr, "cannot read the test clock's offset from %s\n", truth_file);
        exit(2);
    }
    fclose(f);
    return it_realtime_ns() + off;
}

/* record SECONDS [WAIT_EVERY TRUTH_FILE]: GetTimestamp in a loop for that long, reconnecting
 * whenever the server goes away (it is being killed and restarted), checking every timestamp
 * is above every earlier one. With WAIT_EVERY, every WAIT_EVERY-th request asks for
 * commit-wait, and at its reply the test's clock (test_clock_ns) must be past the timestamp.
 * Exits 1 on a regression or an early release. */
static int record(double seconds, unsigned wait_every)
{
    int64_t end = it_realtime_ns() + (int64_t)(seconds * 1e9);
    uint64_t last = 0, n = 0, connects = 0, errors = 0, retries = 0, waited = 0;
    int64_t min_margin = INT64_MAX;
    struct wire_client c;
    bool connected = false;
    while (it_realtime_ns() < end) {
        if (!connected) {
            if (wc_connect_addr(&c, addr) < 0) {
                retries++;
                struct timespec d = {0, 20 * 1000 * 1000};
                nanosleep(&d, NULL);
                continue;
            }
            connected = true;
            connects++;
        }
        struct request q = wc_request(n + 1, REQ_OP_GET_TIMESTAMP);
        q.min_ts_ns = 0; /* no help from the client: the server alone must keep order */
        q.commit_wait = wait_every != 0 && (n + 1) % wait_every == 0;
        struct response r;
        int rc = wc_call(&c, &q, &r, 2000);
        if (rc < 0) {
            wc_close(&c);
            connected = false;
            continue;
        }
        if (r.kind != RESP_TIMESTAMPS) {
            errors++; /* NOT_READY while restarting; the server closes the connection */
            struct timespec d = {0, 10 * 1000 * 1000};
            nanosleep(&d, NULL);
            continue;
        }
        if (r.u.ts.first_ns <= last) {
            fprintf(stderr, "REGRESSION: timestamp %llu after %llu\n",
                    (unsigned long long)r.u.ts.first_ns, (unsigned long long)last);
            wc_close(&c);
            return 1;
        }
        if (q.commit_wait) {
            int64_t margin = test_clock_ns() - (int64_t)r.u.ts.first_ns;
            if (margin <= 0) {
                fprintf(stderr,
                        "EARLY: the commit-wait for %llu was released while the test's clock "
                        "read %lld ns before it\n",
                        (unsigned long long)r.u.ts.first_ns, (long long)-margin);
                wc_close(&c);
                return 1;
            }
            min_margin = margin < min_margin ? margin : min_margin;
            waited++;
        }
        last = r.u.ts.first_ns;
        n++;
    }
    if (connected) {
        wc_close(&c);
    }
    printf("recorded %llu timestamps over %llu connections (%llu retriable errors, %llu "
           "refused connects): strictly increasing\n",
           (unsigned long long)n, (unsigned long long)connects, (unsigned long long)errors,
           (unsigned long long)retries);
    if (waited > 0) {
        printf("%llu commit-waits, each released after the test's clock passed its timestamp "
               "(by at least %lld ns)\n",
               (unsigned long long)waited, (long long)min_margin);
    }
    return n > 0 ? 0 : 1;
}

/* nonreader: one connection floods requests and never reads; another keeps being served. The
 * flooder must be cut off (its connection closed) within 10 s. */
static int nonreader(void)
{
    struct wire_client flood, other;
    if (wc_connect_addr(&flood, addr) < 0 || wc_connect_addr(&other, addr) < 0) {
        fprintf(stderr, "connect failed\n");
        return 1;
    }
    static uint8_t buf[64 * 1024];
    size_t len = 0;
    for (uint64_t i = 1; len + 16 < sizeof(buf); i++) {
        struct request q = wc_request(i, REQ_OP_NOW);
        len += (size_t)wire_encode_request(&q, buf + len, sizeof(buf) - len);
    }
    int flags = fcntl(flood.fd, F_GETFL);
    fcntl(flood.fd, F_SETFL, flags | O_NONBLOCK);
    int64_t end = it_realtime_ns() + 10000 * MS;
    uint64_t served = 0;
    bool cut = false;
    while (it_realtime_ns() < end && !cut) {
        ssize_t n = send(flood.fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN) {
            cut = true; /* EPIPE / ECONNRESET: the server closed it */
            break;
        }
        struct request q = wc_request(served + 1, REQ_OP_NOW);
        struct response r;
        if (wc_call(&other, &q, &r, 2000) < 0 || r.kind != RESP_BOUNDS) {
            fprintf(stderr, "the well-behaved client was not served\n");
            return 1;
        }
        served++;
        /* The flooder's socket may still be open on our side: peek for the server's close. */
        char b;
        ssize_t m = recv(flood.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (m == 0 || (m < 0 && errno == ECONNRESET)) {
            cut = true;
        }
        struct timespec d = {0, 10 * 1000 * 1000};
        nanosleep(&d, NULL);
    }
    printf("flooding client %s; the other was served %llu times meanwhile\n",
           cut ? "cut off" : "NOT cut off", (unsigned long long)served);
    wc_close(&flood);
    wc_close(&other);
    return cut ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: it_oracled HOST:PORT healthy|unavailable|resumed|nonreader|"
                        "info|record SECONDS [WAIT_EVERY TRUTH_FILE]\n");
        return 2;
    }
    addr = argv[1];
    if (strcmp(argv[2], "unavailable") == 0) {
        const struct CMUnitTest tests[] = {cmocka_unit_test(test_unavailable)};
        return cmocka_run_group_tests(tests, NULL, NULL);
    }
    if (strcmp(argv[2], "record") == 0 && (argc == 4 || argc == 6)) {
        unsigned every = argc == 6 ? (unsigned)atoi(argv[4]) : 0;
        truth_file = argc == 6 ? argv[5] : NULL;
        return record(atof(argv[3]), every);
    }
    if (strcmp(argv[2], "nonreader") == 0) {
        return nonreader();
    }
    if (strcmp(argv[2], "info") == 0) {
        struct wire_client c;
        struct request q = wc_request(1, REQ_OP_SERVER_INFO);
        struct response r;
        if (wc_connect_addr(&c, addr) < 0 || wc_call(&c, &q, &r, TIMEOUT) < 0 ||
            r.kind != RESP_INFO) {
            return 1;
        }
        printf("version %s\ninstance_id %s\nmax_wait_ns %llu\ntime_source %s\n", r.u.info.version,
               r.u.info.instance_id, (unsigned long long)r.u.info.max_wait_ns,
               r.u.info.time_source);
        wc_close(&c);
        return 0;
    }
    if (strcmp(argv[2], "resumed") == 0) {
        const struct CMUnitTest tests[] = {cmocka_unit_test(test_resumed)};
        return cmocka_run_group_tests(tests, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_info),
        cmocka_unit_test(test_now_contains_local_clock),
        cmocka_unit_test(test_sequential_strictly_increasing),
        cmocka_unit_test(test_concurrent_unique),
        cmocka_unit_test(test_commit_wait),
        cmocka_unit_test(test_before_after),
        cmocka_unit_test(test_wait_until),
        cmocka_unit_test(test_pipelined_now_not_held_up),
        cmocka_unit_test(test_big_pipeline),
        cmocka_unit_test(test_slow_reader_loses_nothing),
        cmocka_unit_test(test_largest_frame),
        cmocka_unit_test(test_half_close_still_answered),
        cmocka_unit_test(test_too_many_pending),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_malformed_frames_close_only_their_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

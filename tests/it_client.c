/*
 * Integration: liboracle-client (the shared library, linked as a user's program would) against
 * a real oracled. Usage: it_client HOST:PORT HTTP_HOST:PORT (the daemon's /metrics). Run by
 * it_client.sh, which starts the daemon.
 */
#include <oracle/client.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "it_checks.h"
#include "it_util.h"

static const char *server;
static const char *http_server; /* the daemon's HTTP endpoint, for /metrics */

static oracle_client *connect_client(void)
{
    struct oracle_client_options o;
    oracle_client_options_init(&o);
    o.servers = server;
    struct oracle_error err;
    oracle_client *c = oracle_client_new(&o, &err);
    assert_non_null(c);
    assert_int_equal(oracle_client_connect(c, &err), 0);
    return c;
}

static void test_calls(void **state)
{
    (void)state;
    oracle_client *c = connect_client();
    struct oracle_error err;
    struct oracle_bounds b;
    uint64_t local = (uint64_t)it_realtime_ns();
    assert_int_equal(oracle_now(c, &b, &err), 0);
    assert_int_equal(b.clock_status, ORACLE_CLOCK_SYNCHRONIZED);
    assert_true(b.earliest_ns < b.latest_ns);
    /* Same machine, same clock: the interval is around the local time (1 s of slack). */
    assert_true(b.latest_ns + 1000000000 > local && b.earliest_ns < local + 1000000000);

    struct oracle_ts_request req = {.count = 64};
    struct oracle_timestamps t;
    assert_int_equal(oracle_get_timestamps(c, &req, &t, &err), 0);
    assert_int_equal(t.count, 64);
    assert_true(t.first_ns > b.earliest_ns);
    assert_true(t.earliest_ns <= t.latest_ns);
    assert_int_equal(oracle_client_max_seen(c), t.first_ns + 63);

    uint64_t ts;
    assert_int_equal(oracle_timestamp(c, &ts, &err), 0);
    assert_true(ts > t.first_ns + 63);

    bool answer = true;
    assert_int_equal(oracle_before(c, ts + 10000000000ULL, &answer, &err), 0);
    assert_false(answer);
    assert_int_equal(oracle_after(c, ts + 10000000000ULL, &answer, &err), 0);
    assert_true(answer);
    assert_int_equal(oracle_before(c, b.earliest_ns - 1, &answer, &err), 0);
    assert_true(answer);
    assert_int_equal(oracle_after(c, b.earliest_ns, &answer, &err), 0);
    assert_false(answer);

    struct oracle_info info;
    assert_int_equal(oracle_server_info(c, &info, &err), 0);
    assert_int_equal(strlen(info.instance_id), 32);
    assert_true(info.max_count >= 1);
    assert_true(info.max_wait_ns > 0);
    assert_true(strstr(info.time_source, "chrony") != NULL);
    oracle_client_free(c);
}

/* The commit-wait promise: once the reply is in, the timestamp is certainly in the past, and a
 * request made afterwards on any connection gets a larger one. */
static void test_commit_wait(void **state)
{
    (void)state;
    oracle_client *a = connect_client();
    oracle_client *b = connect_client();
    struct oracle_error err;
    for (int i = 0; i < 50; i++) {
        uint64_t commit;
        assert_int_equal(oracle_commit_timestamp(a, &commit, &err), 0);
        bool past = false;
        assert_int_equal(oracle_before(b, commit, &past, &err), 0);
        assert_true(past);
        uint64_t later;
        assert_int_equal(oracle_timestamp(b, &later, &err), 0);
        assert_true(later > commit);
    }
    uint64_t waited = 99;
    struct oracle_bounds now;
    assert_int_equal(oracle_now(a, &now, &err), 0);
    uint64_t target = now.latest_ns + 5000000; /* 5 ms ahead: certainly a wait */
    assert_int_equal(oracle_wait_until(a, target, 0, &waited, &err), 0);
    assert_true(waited > 0);
    bool past = false;
    assert_int_equal(oracle_before(b, target, &past, &err), 0);
    assert_true(past);
    oracle_client_free(a);
    oracle_client_free(b);
}

/* Pipelined: commit-waits and plain requests on one connection; the plain replies overtake the
 * waits, every reply matches its request, and timestamps rise in request order. */
static void test_pipelining(void **state)
{
    (void)state;
    enum { N = 300 };
    oracle_client *c = connect_client();
    struct oracle_error err;
    static uint64_t ids[N];
    static uint64_t ts_of[N];
    for (size_t i = 0; i < N; i++) {
        struct oracle_request r = {.op = ORACLE_OP_GET_TIMESTAMP};
        r.ts.commit_wait = i % 10 == 0;
        assert_int_equal(oracle_send(c, &r, &ids[i], &err), 0);
    }
    assert_int_equal(oracle_in_flight(c), N);
    assert_int_equal(oracle_flush(c, &err), 0);
    size_t overtaken = 0;
    uint64_t highest_id = 0;
    for (size_t k = 0; k < N; k++) {
        struct oracle_response r;
        assert_int_equal(oracle_receive(c, &r, &err), 0);
        assert_int_equal(r.rc, 0);
        assert_true(r.id >= ids[0] && r.id <= ids[N - 1]);
        size_t i = (size_t)(r.id - ids[0]);
        assert_int_equal(ts_of[i], 0);
        ts_of[i] = r.u.ts.first_ns;
        if (r.id < highest_id) {
            overtaken++;
        }
        if (r.id > highest_id) {
            highest_id = r.id;
        }
    }
    assert_int_equal(oracle_in_flight(c), 0);
    assert_true(overtaken > 0);
    for (size_t i = 1; i < N; i++) {
        assert_true(ts_of[i] > ts_of[i - 1]);
    }
    oracle_client_free(c);
}

static void test_server_errors(void **state)
{
    (void)state;
    oracle_client *c = connect_client();
    struct oracle_error err;
    struct oracle_bounds now;
    assert_int_equal(oracle_now(c, &now, &err), 0);
    assert_int_equal(oracle_wait_until(c, now.latest_ns + 30000000000ULL, 0, NULL, &err),
                     ORACLE_E_SERVER);
    assert_int_equal(err.code, ORACLE_ERROR_WAIT_TOO_LONG);
    assert_true(err.retriable);
    assert_true(strstr(err.message, "allowed") != NULL);
    /* The connection stays usable after such an error. */
    assert_int_equal(oracle_now(c, &now, &err), 0);
    oracle_client_free(c);
}

/* The daemon runs with --idle-timeout 1s and closes a connection idle that long. The client
 * replaces it before its next request, which succeeds: the daemon closed the first connection
 * for being idle and accepted exactly one more for the second request. (No other client talks
 * to the daemon while this runs; /metrics is on another port and counts apart.) */
static void test_idle_timeout(void **state)
{
    (void)state;
    const char *accepted = "oracled_connections_accepted_total";
    const char *idle_closed = "oracled_connections_idle_closed_total";
    uint64_t accepted0 = it_metric_or_fail(http_server, accepted);
    uint64_t idle0 = it_metric_or_fail(http_server, idle_closed);
    oracle_client *c = connect_client();
    struct oracle_error err;
    struct oracle_bounds now;
    assert_int_equal(oracle_now(c, &now, &err), 0);
    assert_int_equal(it_metric_or_fail(http_server, accepted), accepted0 + 1);
    /* The idle timeout's effect, awaited rather than slept for: 1 s nominal, 20 s at most
     * (1,000 looks 20 ms apart). */
    uint64_t idle = idle0;
    for (int i = 0; idle == idle0; i++) {
        if (i == 1000) {
            fail_msg("the daemon did not close the idle connection within 20 s");
        }
        usleep(20000);
        idle = it_metric_or_fail(http_server, idle_closed);
    }
    assert_int_equal(idle, idle0 + 1);
    if (oracle_now(c, &now, &err) != 0) {
        fail_msg("the request after the idle close failed: %s", err.message);
    }
    /* It went out on a new connection, made by the client unasked. */
    assert_int_equal(it_metric_or_fail(http_server, accepted), accepted0 + 2);
    assert_int_equal(it_metric_or_fail(http_server, idle_closed), idle0 + 1);
    oracle_client_free(c);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: it_client HOST:PORT HTTP_HOST:PORT\n");
        return 2;
    }
    server = argv[1];
    http_server = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls),        cmocka_unit_test(test_commit_wait),
        cmocka_unit_test(test_pipelining),   cmocka_unit_test(test_server_errors),
        cmocka_unit_test(test_idle_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

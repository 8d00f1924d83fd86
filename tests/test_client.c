/*
 * Unit tests: liboracle-client against a scripted fake server (tests/support/fake_oracled.c):
 * every reply kind, pipelining with out-of-order replies, session monotonicity, and each way a
 * server can go wrong (garbage, wrong id, half a frame, silence, an oversized length, errors
 * that close the connection), with reconnection on the next call.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_oracled.h"
#include "oracle/client.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A socket listening on 127.0.0.1 (any port) with the given backlog. */
static int listen_loopback(int backlog)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, backlog) < 0) {
        return -1;
    }
    return fd;
}

static uint16_t port_of(int fd)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    return ntohs(sa.sin_port);
}

/* Starts a connection to 127.0.0.1:port without waiting for it to complete. */
static int connect_nowait(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd >= 0) {
        (void)connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    }
    return fd;
}

struct fixture {
    struct fake_oracled server;
    oracle_client *client;
    struct oracle_error err;
};

/* Starts a fake server with the given script and a client for it (request timeout 300 ms). */
static struct fixture *start(const enum fake_act *script, size_t len, bool session_min)
{
    static struct fixture fx;
    memset(&fx, 0, sizeof(fx));
    assert_int_equal(fake_oracled_start(&fx.server, script, len), 0);
    char addr[64];
    fake_oracled_addr(&fx.server, addr, sizeof(addr));
    struct oracle_client_options o;
    oracle_client_options_init(&o);
    o.servers = addr;
    o.request_timeout_ms = 300;
    o.session_min = session_min;
    fx.client = oracle_client_new(&o, &fx.err);
    assert_non_null(fx.client);
    return &fx;
}

static void finish(struct fixture *fx)
{
    oracle_client_free(fx->client);
    fake_oracled_stop(&fx->server);
}

static void assert_message(const struct oracle_error *err, const char *part)
{
    if (strstr(err->message, part) == NULL) {
        fail_msg("message '%s' does not contain '%s'", err->message, part);
    }
}

static void test_every_call(void **state)
{
    (void)state;
    const enum fake_act script[] = {FAKE_OK};
    struct fixture *fx = start(script, 1, true);
    oracle_client *c = fx->client;
    struct oracle_error *err = &fx->err;

    struct oracle_ts_request req = {.count = 10, .commit_wait = true, .max_wait_ns = 5000000};
    struct oracle_timestamps ts;
    assert_int_equal(oracle_get_timestamps(c, &req, &ts, err), 0);
    assert_int_equal(ts.first_ns, 1000);
    assert_int_equal(ts.count, 10);
    assert_int_equal(ts.waited_ns, 2000);
    assert_int_equal(ts.earliest_ns, 1010);
    assert_int_equal(ts.latest_ns, 3010);
    assert_int_equal(ts.bound_ns, 1000);
    assert_int_equal(ts.clock_status, ORACLE_CLOCK_SYNCHRONIZED);
    assert_int_equal(oracle_client_max_seen(c), 1009);
    assert_true(strncmp(oracle_client_peer(c), "127.0.0.1:", 10) == 0);

    uint64_t one;
    assert_int_equal(oracle_timestamp(c, &one, err), 0);
    assert_int_equal(one, 1010);
    assert_int_equal(oracle_commit_timestamp(c, &one, err), 0);
    assert_int_equal(one, 1011);

    struct oracle_bounds b;
    assert_int_equal(oracle_now(c, &b, err), 0);
    assert_true(b.earliest_ns == UINT64_C(1795620000000000000));
    assert_true(b.latest_ns == UINT64_C(1795620000000002000));
    assert_int_equal(b.clock_status, ORACLE_CLOCK_SYNCHRONIZED);

    bool answer = false;
    assert_int_equal(oracle_before(c, UINT64_C(1795619999999999999), &answer, err), 0);
    assert_true(answer);
    assert_int_equal(oracle_before(c, UINT64_C(1795620000000000000), &answer, err), 0);
    assert_false(answer);
    assert_int_equal(oracle_after(c, UINT64_C(1795620000000002001), &answer, err), 0);
    assert_true(answer);
    assert_int_equal(oracle_after(c, UINT64_C(1795620000000002000), &answer, err), 0);
    assert_false(answer);

    uint64_t waited = 0;
    assert_int_equal(oracle_wait_until(c, 5, 0, &waited, err), 0);
    assert_int_equal(waited, 1234);
    assert_int_equal(oracle_wait_until(c, 5, 0, NULL, err), 0);

    struct oracle_info info;
    assert_int_equal(oracle_server_info(c, &info, err), 0);
    assert_string_equal(info.version, "9.9.9");
    assert_string_equal(info.instance_id, "00112233445566778899aabbccddeeff");
    assert_string_equal(info.time_source, "fake");
    assert_int_equal(info.max_drift_ppb, 15000);
    assert_int_equal(info.max_wait_ns, 100000000);
    assert_int_equal(info.max_count, 65536);

    /* What went over the wire: the first request as asked, with no min_ts_ns yet. */
    struct request sent;
    assert_true(fake_oracled_request(&fx->server, 0, &sent));
    assert_int_equal(sent.op, REQ_OP_GET_TIMESTAMP);
    assert_int_equal(sent.count, 10);
    assert_true(sent.commit_wait);
    assert_int_equal(sent.min_ts_ns, 0);
    assert_int_equal(sent.max_wait_ns, 5000000);
    /* A commit-wait without max_wait_ns carries the client's max_wait_ms (1 s by default). */
    assert_true(fake_oracled_request(&fx->server, 2, &sent));
    assert_true(sent.commit_wait);
    assert_int_equal(sent.max_wait_ns, 1000000000);
    assert_true(fake_oracled_request(&fx->server, 4, &sent));
    assert_int_equal(sent.op, REQ_OP_BEFORE);
    assert_true(sent.ts_ns == UINT64_C(1795619999999999999));
    assert_int_equal(fake_oracled_connections(&fx->server), 1);
    assert_int_equal(oracle_in_flight(c), 0);
    finish(fx);
}

static void test_session_min(void **state)
{
    (void)state;
    const enum fake_act script[] = {FAKE_OK};
    struct fixture *fx = start(script, 1, true);
    struct oracle_ts_request req = {.count = 5};
    struct oracle_timestamps ts;
    assert_int_equal(oracle_get_timestamps(fx->client, &req, &ts, &fx->err), 0);
    assert_int_equal(oracle_client_max_seen(fx->client), 1004);
    assert_int_equal(oracle_get_timestamps(fx->client, NULL, &ts, &fx->err), 0);
    struct request sent;
    assert_true(fake_oracled_request(&fx->server, 1, &sent));
    assert_int_equal(sent.min_ts_ns, 1004);
    assert_int_equal(sent.count, 0);
    /* A timestamp learned elsewhere raises the floor; a smaller one does not lower it. */
    oracle_client_observe(fx->client, 50000);
    oracle_client_observe(fx->client, 7);
    assert_int_equal(oracle_client_max_seen(fx->client), 50000);
    req.min_ts_ns = 20000;
    assert_int_equal(oracle_get_timestamps(fx->client, &req, &ts, &fx->err), 0);
    assert_true(fake_oracled_request(&fx->server, 2, &sent));
    assert_int_equal(sent.min_ts_ns, 50000);
    assert_int_equal(ts.first_ns, 50001);
    finish(fx);

    /* Without session_min the client sends what it is given. */
    fx = start(script, 1, false);
    assert_int_equal(oracle_get_timestamps(fx->client, &req, &ts, &fx->err), 0);
    assert_int_equal(oracle_get_timestamps(fx->client, NULL, &ts, &fx->err), 0);
    assert_true(fake_oracled_request(&fx->server, 1, &sent));
    assert_int_equal(sent.min_ts_ns, 0);
    finish(fx);
}

static void test_pipelined_out_of_order(void **state)
{
    (void)state;
    const enum fake_act script[] = {FAKE_REVERSE3};
    struct fixture *fx = start(script, 1, false);
    oracle_client *c = fx->client;
    struct oracle_request reqs[3] = {
        {.op = ORACLE_OP_NOW},
        {.op = ORACLE_OP_GET_TIMESTAMP, .ts = {.count = 2}},
        {.op = ORACLE_OP_AFTER, .ts_ns = 1},
    };
    uint64_t ids[3];
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(oracle_send(c, &reqs[i], &ids[i], &fx->err), 0);
    }
    assert_int_equal(oracle_in_flight(c), 3);
    assert_int_equal(oracle_flush(c, &fx->err), 0);
    /* Replies come last request first; each is matched to its request by id. */
    for (size_t k = 3; k-- > 0;) {
        struct oracle_response r;
        assert_int_equal(oracle_receive(c, &r, &fx->err), 0);
        assert_int_equal(r.id, ids[k]);
        assert_int_equal(r.op, reqs[k].op);
        assert_int_equal(r.rc, 0);
    }
    assert_int_equal(oracle_in_flight(c), 0);
    struct oracle_response r;
    assert_int_equal(oracle_receive(c, &r, &fx->err), ORACLE_E_INVALID);

    /* A one-request call among pipelined requests: the others' replies are kept for later. */
    assert_int_equal(oracle_send(c, &reqs[0], &ids[0], &fx->err), 0);
    assert_int_equal(oracle_send(c, &reqs[2], &ids[2], &fx->err), 0);
    struct oracle_timestamps ts;
    assert_int_equal(oracle_get_timestamps(c, NULL, &ts, &fx->err), 0);
    assert_int_equal(ts.count, 1);
    assert_int_equal(oracle_in_flight(c), 2); /* received, not yet taken */
    assert_int_equal(oracle_receive(c, &r, &fx->err), 0);
    assert_int_equal(r.id, ids[2]);
    assert_false(r.u.answer);
    assert_int_equal(oracle_receive(c, &r, &fx->err), 0);
    assert_int_equal(r.id, ids[0]);
    assert_true(r.u.bounds.earliest_ns == UINT64_C(1795620000000000000));
    assert_int_equal(oracle_in_flight(c), 0);
    finish(fx);
}

/* The server answers the first of 50 pipelined requests with SHUTTING_DOWN and closes: that
 * reply is delivered, then one failure for the 49 others; the next call reconnects. */
static void test_last_words_kept(void **state)
{
    (void)state;
    const enum fake_act script[] = {FAKE_SHUTDOWN, FAKE_OK};
    struct fixture *fx = start(script, 2, false);
    oracle_client *c = fx->client;
    struct oracle_request now = {.op = ORACLE_OP_NOW};
    uint64_t first = 0;
    for (int i = 0; i < 50; i++) {
        uint64_t id;
        assert_int_equal(oracle_send(c, &now, &id, &fx->err), 0);
        first = first == 0 ? id : first;
    }
    assert_int_equal(oracle_flush(c, &fx->err), 0);
    struct oracle_response r;
    assert_int_equal(oracle_receive(c, &r, &fx->err), 0);
    assert_int_equal(r.id, first);
    assert_int_equal(r.rc, ORACLE_E_SERVER);
    assert_int_equal(r.error.code, ORACLE_ERROR_SHUTTING_DOWN);
    assert_true(r.error.retriable);
    assert_true(strncmp(r.error.peer, "127.0.0.1:", 10) == 0);
    assert_int_equal(oracle_in_flight(c), 49);
    assert_int_equal(oracle_receive(c, &r, &fx->err), ORACLE_E_CLOSED);
    assert_message(&fx->err, "closed the connection (49 requests in flight lost)");
    assert_int_equal(oracle_in_flight(c), 0);
    assert_int_equal(oracle_receive(c, &r, &fx->err), ORACLE_E_INVALID);
    struct oracle_bounds b;
    assert_int_equal(oracle_now(c, &b, &fx->err), 0);
    finish(fx);
}

/* After an error the server closes the connection on, a new request is not written on that
 * connection: the client takes in what is left on it, then reconnects. */
static void test_no_request_on_a_closing_connection(void **state)
{
    (void)state;
    const enum fake_act script[] = {FAKE_CLOCK_ERROR, FAKE_OK};
    struct fixture *fx = start(script, 2, false);
    oracle_client *c = fx->client;
    struct oracle_request now = {.op = ORACLE_OP_NOW};
    uint64_t a;
    uint64_t b;
    assert_int_equal(oracle_send(c, &now, &a, &fx->err), 0);
    assert_int_equal(oracle_send(c, &now, &b, &fx->err), 0);
    struct oracle_response r;
    assert_int_equal(oracle_receive(c, &r, &fx->err), 0);
    assert_int_equal(r.id, a);
    assert_int_equal(r.error.code, ORACLE_ERROR_CLOCK_UNAVAILABLE);
    /* b is still in flight on a connection the server is closing. */
    struct oracle_bounds bounds;
    assert_int_equal(oracle_now(c, &bounds, &fx->err), 0);
    assert_int_equal(fake_oracled_connections(&fx->server), 2);
    assert_int_equal(oracle_in_flight(c), 1);
    assert_int_equal(oracle_receive(c, &r, &fx->err), ORACLE_E_CLOSED);
    assert_message(&fx->err, "(1 request in flight lost)");
    assert_int_equal(oracle_in_flight(c), 0);
    finish(fx);
}

/* A valid reply that takes protobuf-c thousands of allocations to unpack is still a reply. */
static void test_reply_with_many_fields(void **state)
{
    (void)state;
    const enum fake_act script[] = {FAKE_PADDED};
    struct fixture *fx = start(script, 1, false);
    struct oracle_bounds b;
    assert_int_equal(oracle_now(fx->client, &b, &fx->err), 0);
    assert_true(b.earliest_ns == UINT64_C(1795620000000000000));
    assert_int_equal(oracle_now(fx->client, &b, &fx->err), 0);
    finish(fx);
}

/* A connection closed while idle is replaced before the next request: no failed call. */
static void test_idle_connection_closed(void **state)
{
    (void)state;
    const enum fake_act script[] = {FAKE_OK_CLOSE};
    struct fixture *fx = start(script, 1, false);
    for (size_t i = 1; i <= 3; i++) {
        struct oracle_bounds b;
        assert_int_equal(oracle_now(fx->client, &b, &fx->err), 0);
        assert_int_equal(fake_oracled_connections(&fx->server), i);
        usleep(50000); /* the close arrives before the next call */
    }
    assert_int_equal(fake_oracled_connections(&fx->server), 3);
    finish(fx);
}

static void test_reply_in_single_bytes(void **state)
{
    (void)state;
    const enum fake_act script[] = {FAKE_DRIBBLE};
    struct fixture *fx = start(script, 1, false);
    struct oracle_info info;
    assert_int_equal(oracle_server_info(fx->client, &info, &fx->err), 0);
    assert_string_equal(info.version, "9.9.9");
    finish(fx);
}

/* The first connection misbehaves as act says: the call fails with rc and a message containing
 * part; the next call reconnects and succeeds. */
static void check_failure(enum fake_act act, int rc, const char *part, bool retriable)
{
    const enum fake_act script[] = {act, FAKE_OK};
    struct fixture *fx = start(script, ARRAY_LEN(script), false);
    uint64_t ts;
    assert_int_equal(oracle_commit_timestamp(fx->client, &ts, &fx->err), rc);
    assert_int_equal(fx->err.rc, rc);
    assert_message(&fx->err, part);
    assert_int_equal(fx->err.retriable, retriable);
    assert_int_equal(oracle_in_flight(fx->client), 0);
    assert_int_equal(oracle_commit_timestamp(fx->client, &ts, &fx->err), 0);
    assert_int_equal(fake_oracled_connections(&fx->server), 2);
    finish(fx);
}

static void test_garbage(void **state)
{
    (void)state;
    check_failure(FAKE_GARBAGE, ORACLE_E_PROTOCOL, "not an oracle.v1.Response", false);
}

static void test_wrong_id(void **state)
{
    (void)state;
    check_failure(FAKE_WRONG_ID, ORACLE_E_PROTOCOL, "which is not in flight", false);
}

static void test_close_mid_frame(void **state)
{
    (void)state;
    check_failure(FAKE_CLOSE_MID, ORACLE_E_CLOSED, "in the middle of a reply", true);
}

static void test_oversized(void **state)
{
    (void)state;
    check_failure(FAKE_OVERSIZED, ORACLE_E_PROTOCOL, "longer than 65536 bytes", false);
}

static void test_bad_count(void **state)
{
    (void)state;
    check_failure(FAKE_BAD_COUNT, ORACLE_E_PROTOCOL, "another count", false);
}

static void test_commit_wait_not_past(void **state)
{
    (void)state;
    check_failure(FAKE_NOT_PAST, ORACLE_E_PROTOCOL, "does not show in the past", false);
}

static void test_timeout(void **state)
{
    (void)state;
    int64_t t0 = monotonic_ms();
    check_failure(FAKE_SILENT, ORACLE_E_TIMEOUT, "no reply within 300 ms", true);
    int64_t took = monotonic_ms() - t0;
    assert_true(took >= 300);
    assert_true(took < 3000);
}

static void test_server_error_keeps_code(void **state)
{
    (void)state;
    const enum fake_act script[] = {FAKE_CLOCK_ERROR, FAKE_OK};
    struct fixture *fx = start(script, ARRAY_LEN(script), false);
    struct oracle_bounds b;
    assert_int_equal(oracle_now(fx->client, &b, &fx->err), ORACLE_E_SERVER);
    assert_int_equal(fx->err.code, ORACLE_ERROR_CLOCK_UNAVAILABLE);
    assert_true(fx->err.retriable);
    assert_string_equal(fx->err.message, "clock unavailable: chrony is not synchronised");
    assert_string_equal(oracle_error_code_name(fx->err.code), "CLOCK_UNAVAILABLE");
    /* The server closes such a connection; the client has let it go and reconnects. */
    assert_string_equal(oracle_client_peer(fx->client), "");
    assert_int_equal(oracle_now(fx->client, &b, &fx->err), 0);
    assert_int_equal(fake_oracled_connections(&fx->server), 2);
    finish(fx);
}

static void test_connection_error(void **state)
{
    (void)state;
    const enum fake_act script[] = {FAKE_ID0_ERROR, FAKE_OK};
    struct fixture *fx = start(script, ARRAY_LEN(script), false);
    struct oracle_bounds b;
    assert_int_equal(oracle_now(fx->client, &b, &fx->err), ORACLE_E_SERVER);
    assert_int_equal(fx->err.code, ORACLE_ERROR_BAD_REQUEST);
    assert_false(fx->err.retriable);
    assert_message(&fx->err, "frame length above the maximum");
    assert_int_equal(oracle_now(fx->client, &b, &fx->err), 0);
    finish(fx);
}

/* A port nothing listens on: bound, then closed. */
static uint16_t dead_port(void)
{
    int fd = listen_loopback(0);
    assert_true(fd >= 0);
    uint16_t port = port_of(fd);
    close(fd);
    return port;
}

static void test_server_list(void **state)
{
    (void)state;
    const enum fake_act script[] = {FAKE_OK};
    struct fake_oracled server;
    assert_int_equal(fake_oracled_start(&server, script, 1), 0);
    char list[128];
    snprintf(list, sizeof(list), "127.0.0.1:%u, localhost:%u", (unsigned)dead_port(),
             (unsigned)server.port);
    struct oracle_client_options o;
    oracle_client_options_init(&o);
    o.servers = list;
    struct oracle_error err;
    oracle_client *c = oracle_client_new(&o, &err);
    assert_non_null(c);
    assert_int_equal(oracle_client_connect(c, &err), 0);
    char want[32];
    snprintf(want, sizeof(want), "127.0.0.1:%u", (unsigned)server.port);
    assert_string_equal(oracle_client_peer(c), want);
    struct oracle_bounds b;
    assert_int_equal(oracle_now(c, &b, &err), 0);
    oracle_client_free(c);
    fake_oracled_stop(&server);
}

static void test_connect_refused(void **state)
{
    (void)state;
    char list[64];
    unsigned port = dead_port();
    snprintf(list, sizeof(list), "127.0.0.1:%u", port);
    struct oracle_client_options o;
    oracle_client_options_init(&o);
    o.servers = list;
    struct oracle_error err;
    oracle_client *c = oracle_client_new(&o, &err);
    assert_non_null(c);
    struct oracle_bounds b;
    assert_int_equal(oracle_now(c, &b, &err), ORACLE_E_CONNECT);
    assert_true(err.retriable);
    assert_message(&err, list);
    assert_message(&err, "Connection refused");
    assert_message(&err, "is oracled running");
    oracle_client_free(c);
}

/* A listener whose accept queue is full: the next SYN is dropped, the connect never completes. */
static void test_connect_timeout(void **state)
{
    (void)state;
    int lfd = listen_loopback(0);
    assert_true(lfd >= 0);
    uint16_t port = port_of(lfd);
    int fillers[8];
    size_t n_fill = 0;
    for (; n_fill < ARRAY_LEN(fillers); n_fill++) {
        fillers[n_fill] = connect_nowait(port);
    }
    char list[64];
    snprintf(list, sizeof(list), "127.0.0.1:%u", (unsigned)port);
    struct oracle_client_options o;
    oracle_client_options_init(&o);
    o.servers = list;
    o.connect_timeout_ms = 200;
    struct oracle_error err;
    oracle_client *c = oracle_client_new(&o, &err);
    int64_t t0 = monotonic_ms();
    assert_int_equal(oracle_client_connect(c, &err), ORACLE_E_CONNECT);
    int64_t took = monotonic_ms() - t0;
    assert_message(&err, "no answer within 200 ms");
    assert_true(took >= 200 && took < 2000);
    oracle_client_free(c);
    for (size_t i = 0; i < n_fill; i++) {
        if (fillers[i] >= 0) {
            close(fillers[i]);
        }
    }
    close(lfd);
}

static void test_bad_options(void **state)
{
    (void)state;
    struct oracle_client_options o;
    struct oracle_error err;
    static const char *const bad[] = {"",     "host:",  "host:0", "host:65536",
                                      "[::1", "[::1]x", "a,,b",   "ho st:1"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        oracle_client_options_init(&o);
        o.servers = bad[i];
        assert_null(oracle_client_new(&o, &err));
        assert_int_equal(err.rc, ORACLE_E_INVALID);
        assert_false(err.retriable);
        assert_message(&err, "invalid server list");
    }
    oracle_client_options_init(&o);
    o.max_in_flight = 0;
    assert_null(oracle_client_new(&o, &err));
    assert_message(&err, "max_in_flight");
    oracle_client_options_init(&o);
    o.request_timeout_ms = 0;
    assert_null(oracle_client_new(&o, &err));
    assert_message(&err, "timeouts");
    /* NULL options: the defaults. */
    oracle_client *c = oracle_client_new(NULL, &err);
    assert_non_null(c);
    oracle_client_free(c);
    oracle_client_free(NULL);
}

static void test_bad_arguments_and_busy(void **state)
{
    (void)state;
    const enum fake_act script[] = {FAKE_SILENT};
    struct fixture *fx = start(script, 1, false);
    oracle_client *c = fx->client;
    bool answer;
    /* Refused before anything is sent: no connection is made for them. */
    assert_int_equal(oracle_before(c, UINT64_C(1) << 63, &answer, &fx->err), ORACLE_E_INVALID);
    assert_message(&fx->err, "not below 2^63");
    struct oracle_ts_request req = {.count = 65537};
    struct oracle_timestamps ts;
    assert_int_equal(oracle_get_timestamps(c, &req, &ts, &fx->err), ORACLE_E_INVALID);
    struct oracle_request bad_op = {.op = (enum oracle_op)99};
    uint64_t id;
    assert_int_equal(oracle_send(c, &bad_op, &id, &fx->err), ORACLE_E_INVALID);
    assert_int_equal(fake_oracled_connections(&fx->server), 0);
    finish(fx);

    struct oracle_client_options o;
    oracle_client_options_init(&o);
    char addr[64];
    assert_int_equal(fake_oracled_start(&fx->server, script, 1), 0);
    fake_oracled_addr(&fx->server, addr, sizeof(addr));
    o.servers = addr;
    o.max_in_flight = 2;
    c = oracle_client_new(&o, &fx->err);
    struct oracle_request now = {.op = ORACLE_OP_NOW};
    assert_int_equal(oracle_send(c, &now, &id, &fx->err), 0);
    assert_int_equal(oracle_send(c, &now, &id, &fx->err), 0);
    assert_int_equal(oracle_send(c, &now, &id, &fx->err), ORACLE_E_BUSY);
    assert_true(fx->err.retriable);
    oracle_client_free(c);
    fake_oracled_stop(&fx->server);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(oracle_strerror(0), "success");
    assert_string_equal(oracle_strerror(ORACLE_E_TIMEOUT), "no reply within the timeout");
    assert_string_equal(oracle_strerror(-9999), "unknown error");
    assert_string_equal(oracle_rc_name(ORACLE_E_CONNECT), "CONNECT");
    assert_string_equal(oracle_rc_name(0), "OK");
    assert_string_equal(oracle_rc_name(1), "UNKNOWN");
    assert_string_equal(oracle_error_code_name(ORACLE_ERROR_SHUTTING_DOWN), "SHUTTING_DOWN");
    assert_string_equal(oracle_error_code_name((enum oracle_error_code)42), "UNKNOWN_ERROR");
    assert_string_equal(oracle_clock_status_name(ORACLE_CLOCK_FREE_RUNNING), "FREE_RUNNING");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_call),
        cmocka_unit_test(test_session_min),
        cmocka_unit_test(test_pipelined_out_of_order),
        cmocka_unit_test(test_last_words_kept),
        cmocka_unit_test(test_no_request_on_a_closing_connection),
        cmocka_unit_test(test_reply_with_many_fields),
        cmocka_unit_test(test_reply_in_single_bytes),
        cmocka_unit_test(test_idle_connection_closed),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_wrong_id),
        cmocka_unit_test(test_close_mid_frame),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_bad_count),
        cmocka_unit_test(test_commit_wait_not_past),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_server_error_keeps_code),
        cmocka_unit_test(test_connection_error),
        cmocka_unit_test(test_server_list),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_connect_timeout),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_bad_arguments_and_busy),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

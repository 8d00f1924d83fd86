/*
 * Server tests: the whole daemon (oracle_core) in this process, on real loopback sockets, with
 * the fake clock and the scriptable fake chronyd, all driven from this one thread: the test
 * turns the loop (UV_RUN_NOWAIT), answers chrony's polls and moves time itself. Covers what the
 * integration test cannot: commit-waits held while (fake) time stands still, a clock step and a
 * chrony loss while waits are pending, and shutdown with waits pending. Every test closes all
 * handles and checks uv_loop_close() == 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

#include "clock.h"
#include "fake_chrony.h"
#include "fake_clock.h"
#include "log.h"
#include "server.h"
#include "wire.h"
#include "wire_client.h"

#define US INT64_C(1000)
#define MS INT64_C(1000000)

struct env {
    uv_loop_t loop;
    struct fake_clock fc;
    struct fake_chrony *chrony;
    struct fake_chrony_script script;
    struct server_config cfg;
    struct server *srv;
    char addr[64];
    struct wire_client client;
};

static int64_t real_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One turn: the loop without blocking, then chrony's pending polls, answered with a reference
 * 10 ms before the fake clock's present. */
static void turn(struct env *e)
{
    uv_run(&e->loop, UV_RUN_NOWAIT);
    int64_t ref = e->fc.rt_ns - 10 * MS;
    e->script.ref_sec_high = (uint32_t)((uint64_t)(ref / 1000000000) >> 32);
    e->script.ref_sec_low = (uint32_t)(ref / 1000000000);
    e->script.ref_nsec = (uint32_t)(ref % 1000000000);
    fake_chrony_set(e->chrony, &e->script);
    while (fake_chrony_serve_one(e->chrony, 0) > 0) {
    }
    uv_run(&e->loop, UV_RUN_NOWAIT);
}

/* Turns the loop for ms of real time. */
static void spin(struct env *e, int64_t ms)
{
    int64_t end = real_mono_ns() + ms * MS;
    while (real_mono_ns() < end) {
        turn(e);
    }
}

/* Turns the loop until a response arrives (fails after 3 s of real time). */
static struct response await_response(struct env *e)
{
    struct response r;
    int64_t end = real_mono_ns() + 3000 * MS;
    while (real_mono_ns() < end) {
        turn(e);
        int rc = wc_recv(&e->client, &r, 0);
        if (rc == 0) {
            return r;
        }
        if (rc != -ETIMEDOUT) {
            fail_msg("recv: %s", strerror(-rc));
        }
    }
    fail_msg("no response within 3 s");
    return r;
}

static bool no_response_for(struct env *e, int64_t ms)
{
    int64_t end = real_mono_ns() + ms * MS;
    while (real_mono_ns() < end) {
        turn(e);
        struct response r;
        if (wc_recv(&e->client, &r, 0) != -ETIMEDOUT) {
            return false;
        }
    }
    return true;
}

/* Turns the loop until the server closes the client's connection. */
static void await_closed(struct env *e)
{
    int64_t end = real_mono_ns() + 3000 * MS;
    while (real_mono_ns() < end) {
        turn(e);
        if (wc_wait_closed(&e->client, 0) == 0) {
            return;
        }
    }
    fail_msg("connection not closed within 3 s");
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    log_threshold = LOG_LEVEL_ERR;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    fake_clock_init(&e->fc, (int64_t)now.tv_sec * 1000000000 + now.tv_nsec, 1000 * MS);
    e->chrony = fake_chrony_new_udp(0);
    assert_non_null(e->chrony);
    fake_chrony_script_default(&e->script, 0);
    e->script.last_update_interval_s = fake_chrony_float(16.0);

    struct server_config *c = &e->cfg;
    c->listen[0] = "127.0.0.1:0";
    c->n_listen = 1;
    c->chrony.transport = CHRONY_TRANSPORT_UDP;
    strcpy(c->chrony.host, "127.0.0.1");
    c->chrony.port = e->chrony->port;
    chrony_addr_format(&c->chrony, c->chrony_text, sizeof(c->chrony_text));
    c->poll_interval_ns = 5 * MS;
    cb_params_default(&c->clock);
    c->clock.grace_ns = 100 * MS;
    c->max_wait_ns = 2000 * MS;
    c->max_run_ahead_ns = MS;
    c->state_dir = NULL; /* no state file: the reservation is tested on its own */
    c->max_connections = 16;
    c->max_pending = 1000;
    c->max_pending_per_conn = 100;
    c->max_output_bytes = 1 << 20;
    c->version = "test";

    assert_int_equal(uv_loop_init(&e->loop), 0);
    e->srv = malloc(sizeof(*e->srv));
    assert_non_null(e->srv);
    assert_int_equal(server_init(e->srv, &e->loop, &e->cfg, &e->fc.base), 0);
    assert_int_equal(server_start(e->srv), 0);
    struct sockaddr_in sa;
    int len = sizeof(sa);
    assert_int_equal(uv_tcp_getsockname(&e->srv->listeners[0], (struct sockaddr *)&sa, &len), 0);
    snprintf(e->addr, sizeof(e->addr), "127.0.0.1:%u", ntohs(sa.sin_port));
    assert_int_equal(wc_connect_addr(&e->client, e->addr), 0);

    /* Trusted once chrony has measured since the start: two polls, time moving between. */
    int64_t end = real_mono_ns() + 3000 * MS;
    while (!cb_status_trusted(e->srv->last_status) && real_mono_ns() < end) {
        fake_clock_advance(&e->fc, MS);
        spin(e, 2);
        struct cb_now n;
        server_now(e->srv, &n);
    }
    assert_true(cb_status_trusted(e->srv->last_status));
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    wc_close(&e->client);
    server_stop(e->srv);
    for (int i = 0; i < 10000 && uv_run(&e->loop, UV_RUN_NOWAIT) != 0; i++) {
    }
    server_fini(e->srv);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    free(e->srv);
    fake_chrony_free(e->chrony);
    free(e);
    return 0;
}

static void test_commit_wait_follows_the_clock(void **state)
{
    struct env *e = *state;
    struct request q = wc_request(1, REQ_OP_GET_TIMESTAMP);
    q.commit_wait = true;
    q.count = 5;
    assert_int_equal(wc_send(&e->client, &q), 0);
    /* Fake time stands still: earliest never passes the batch, however long the wait. */
    assert_true(no_response_for(e, 100));
    struct cb_now now;
    server_now(e->srv, &now);
    /* Move the clock well past twice the bound. */
    fake_clock_advance(&e->fc, 2 * now.bound_ns + 10 * US);
    struct response r = await_response(e);
    assert_int_equal(r.id, 1);
    assert_int_equal(r.kind, RESP_TIMESTAMPS);
    assert_int_equal(r.u.ts.count, 5);
    assert_true(r.u.ts.earliest_ns > r.u.ts.first_ns + 4);
    /* Waited (on the fake clock) exactly as long as the clock was moved. */
    assert_int_equal(r.u.ts.waited_ns, 2 * now.bound_ns + 10 * US);
}

static void test_step_fails_pending_waits(void **state)
{
    struct env *e = *state;
    struct request q = wc_request(1, REQ_OP_GET_TIMESTAMP);
    q.commit_wait = true;
    assert_int_equal(wc_send(&e->client, &q), 0);
    assert_true(no_response_for(e, 20));
    /* Someone steps the clock 5 ms forward: earliest is now far past the timestamp, but the
     * step makes the clock DISRUPTED. The wait fails; it is not released. */
    fake_clock_step(&e->fc, 5 * MS);
    struct response r = await_response(e);
    assert_int_equal(r.id, 1);
    assert_int_equal(r.kind, RESP_ERROR);
    assert_int_equal(r.u.error.code, WIRE_ERROR_CLOCK_UNAVAILABLE);
    assert_true(r.u.error.retriable);
    assert_int_equal(r.clock_status, CB_STATUS_DISRUPTED);
    assert_non_null(strstr(r.u.error.message, "stepped"));
    await_closed(e);
}

static void test_chrony_loss_fails_pending_waits(void **state)
{
    struct env *e = *state;
    struct request q = wc_request(1, REQ_OP_WAIT_UNTIL);
    q.ts_ns = (uint64_t)(e->fc.rt_ns + 1000 * MS);
    assert_int_equal(wc_send(&e->client, &q), 0);
    assert_true(no_response_for(e, 20));
    /* chrony falls silent; the fake clock moves past the 100 ms grace (not past ts). */
    e->script.mode = FAKE_CHRONY_SILENT;
    fake_clock_advance(&e->fc, 200 * MS);
    struct response r = await_response(e);
    assert_int_equal(r.kind, RESP_ERROR);
    assert_int_equal(r.u.error.code, WIRE_ERROR_CLOCK_UNAVAILABLE);
    assert_int_equal(r.clock_status, CB_STATUS_UNKNOWN);
    await_closed(e);
}

static void test_shutdown_answers_pending_waits(void **state)
{
    struct env *e = *state;
    struct request q = wc_request(1, REQ_OP_GET_TIMESTAMP);
    q.commit_wait = true;
    assert_int_equal(wc_send(&e->client, &q), 0);
    assert_true(no_response_for(e, 20));
    server_stop(e->srv);
    struct response r = await_response(e);
    assert_int_equal(r.kind, RESP_ERROR);
    assert_int_equal(r.u.error.code, WIRE_ERROR_SHUTTING_DOWN);
    assert_true(r.u.error.retriable);
    await_closed(e);
    /* Every handle closes: the loop runs dry (teardown checks uv_loop_close). */
    for (int i = 0; i < 10000 && uv_run(&e->loop, UV_RUN_NOWAIT) != 0; i++) {
    }
    assert_int_equal(uv_loop_alive(&e->loop), 0);
}

static void test_status_in_responses_is_current(void **state)
{
    struct env *e = *state;
    /* A step seen while serving: the error and ServerInfo carry DISRUPTED at once, not the
     * status of the last chrony poll. */
    fake_clock_step(&e->fc, -2 * MS);
    struct request q = wc_request(3, REQ_OP_NOW);
    assert_int_equal(wc_send(&e->client, &q), 0);
    struct response r = await_response(e);
    assert_int_equal(r.kind, RESP_ERROR);
    assert_int_equal(r.clock_status, CB_STATUS_DISRUPTED);
    await_closed(e);
    wc_close(&e->client);
    assert_int_equal(wc_connect_addr(&e->client, e->addr), 0);
    q = wc_request(4, REQ_OP_SERVER_INFO);
    assert_int_equal(wc_send(&e->client, &q), 0);
    r = await_response(e);
    assert_int_equal(r.kind, RESP_INFO);
    assert_int_equal(r.clock_status, CB_STATUS_DISRUPTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_wait_follows_the_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_fails_pending_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chrony_loss_fails_pending_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_answers_pending_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_in_responses_is_current, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

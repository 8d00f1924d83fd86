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

static struct response await_on(struct env *e, struct wire_client *w);

/* Turns the loop until a response arrives on e->client (fails after 3 s of real time). */
static struct response await_response(struct env *e)
{
    return await_on(e, &e->client);
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

/* What the server shows now (server_snapshot): the counters, the clock state. */
static struct metrics_snapshot snap(struct env *e)
{
    struct metrics_snapshot m;
    server_snapshot(e->srv, &m);
    return m;
}

/* A fake chrony and the configuration every test starts from. */
static struct env *new_env(size_t max_per_peer)
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
    c->max_connections_per_peer = max_per_peer;
    c->max_pending = 1000;
    c->max_pending_per_conn = 100;
    c->max_output_bytes = 1 << 20;
    c->version = "test";
    assert_int_equal(uv_loop_init(&e->loop), 0);
    return e;
}

/* drain_first: SIGTERM before the clock is trusted, with a drain delay of 30 s. */
static int setup_with(void **state, size_t max_per_peer, bool drain_first)
{
    struct env *e = new_env(max_per_peer);
    e->cfg.drain_delay_ns = drain_first ? 30000 * MS : 0;
    e->srv = server_new();
    assert_non_null(e->srv);
    assert_int_equal(server_init(e->srv, &e->loop, &e->cfg, &e->fc.base), 0);
    assert_int_equal(server_start(e->srv), 0);
    struct sockaddr_storage ss;
    assert_int_equal(server_listener_address(e->srv, 0, &ss), 0);
    snprintf(e->addr, sizeof(e->addr), "127.0.0.1:%u",
             ntohs(((const struct sockaddr_in *)&ss)->sin_port));
    assert_int_equal(wc_connect_addr(&e->client, e->addr), 0);
    if (drain_first) {
        server_drain(e->srv);
    }

    /* Trusted once chrony has measured since the start: two polls, time moving between. */
    int64_t end = real_mono_ns() + 3000 * MS;
    struct cb_now n;
    server_now(e->srv, &n);
    while (!cb_status_trusted(n.status) && real_mono_ns() < end) {
        fake_clock_advance(&e->fc, MS);
        spin(e, 2);
        server_now(e->srv, &n);
    }
    assert_true(cb_status_trusted(n.status));
    *state = e;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, 0, false);
}

static int setup_per_peer(void **state)
{
    return setup_with(state, 3, false);
}

static int setup_draining_from_the_start(void **state)
{
    return setup_with(state, 0, true);
}

static int teardown(void **state)
{
    struct env *e = *state;
    wc_close(&e->client);
    server_stop(e->srv);
    for (int i = 0; i < 10000 && uv_run(&e->loop, UV_RUN_NOWAIT) != 0; i++) {
    }
    server_free(e->srv);
    assert_int_equal(uv_loop_close(&e->loop), 0);
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
    /* One release pass, one release, its lateness in two parts: all of it before the release
     * (the clock jumped past the timestamp), none after (fake time stands still while the reply
     * is written). */
    struct metrics_snapshot m;
    server_snapshot(e->srv, &m);
    assert_int_equal(m.ops.release_passes, 1);
    assert_int_equal(m.ops.lateness->total, 1);
    assert_int_equal(m.ops.late_at_release->total, 1);
    assert_int_equal(m.ops.late_write->total, 1);
    assert_true(m.ops.lateness->max_ns > 0);
    assert_int_equal(m.ops.late_at_release->max_ns, m.ops.lateness->max_ns);
    assert_int_equal(m.ops.late_write->max_ns, 0);
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

/* SIGTERM before the server was ever ready: it drains without serving, even once the clock is
 * trusted (it never passed the start's conditions, DESIGN.md section 2, "Restarts"). */
static void test_drain_while_starting_serves_nothing(void **state)
{
    struct env *e = *state;
    struct metrics_snapshot m = snap(e);
    assert_true(cb_status_trusted(m.now.status));
    assert_true(m.draining);
    assert_false(m.ready);
    struct request q = wc_request(5, REQ_OP_NOW);
    assert_int_equal(wc_send(&e->client, &q), 0);
    struct response r = await_response(e);
    assert_int_equal(r.kind, RESP_ERROR);
    assert_int_equal(r.u.error.code, WIRE_ERROR_NOT_READY);
    assert_true(r.u.error.retriable);
    await_closed(e);
}

/* Each way server_init can fail leaves nothing behind: the loop runs dry and closes, after the
 * server is stopped (twice: stopping is idempotent) and freed. */
static void test_init_failures_close_everything(void **state)
{
    (void)state;
    static const char *const what[] = {"a bad oracle address", "a missing state directory",
                                       "a bad HTTP address", "a VMClock that is no VMClock"};
    for (size_t i = 0; i < sizeof(what) / sizeof(what[0]); i++) {
        struct env *e = new_env(2);
        char dir[] = "/tmp/test_server.XXXXXX";
        assert_non_null(mkdtemp(dir));
        char missing[64], not_vmclock[64];
        snprintf(missing, sizeof(missing), "%s/missing/state", dir);
        snprintf(not_vmclock, sizeof(not_vmclock), "%s/vmclock", dir);
        FILE *f = fopen(not_vmclock, "w");
        assert_non_null(f);
        fputs("not a VMClock page\n", f);
        fclose(f);
        switch (i) {
        case 0:
            e->cfg.listen[1] = "300.1.1.1:0";
            e->cfg.n_listen = 2;
            break;
        case 1:
            e->cfg.state_dir = missing;
            break;
        case 2:
            e->cfg.http_listen[0] = "300.1.1.1:0";
            e->cfg.n_http_listen = 1;
            break;
        default:
            e->cfg.vmclock = not_vmclock;
            break;
        }
        e->srv = server_new();
        assert_non_null(e->srv);
        int rc = server_init(e->srv, &e->loop, &e->cfg, &e->fc.base);
        if (rc >= 0) {
            fail_msg("server_init succeeded with %s", what[i]);
        }
        server_stop(e->srv);
        server_stop(e->srv);
        int64_t end = real_mono_ns() + 3000 * MS;
        while (uv_run(&e->loop, UV_RUN_NOWAIT) != 0 && real_mono_ns() < end) {
        }
        server_free(e->srv);
        if (uv_loop_close(&e->loop) != 0) {
            fail_msg("handles left open after failing on %s", what[i]);
        }
        unlink(not_vmclock);
        rmdir(dir);
        fake_chrony_free(e->chrony);
        free(e);
    }
    server_free(server_new()); /* never initialised */
    server_free(NULL);
}

static unsigned ntpdata_asked(struct env *e)
{
    return fake_chrony_ntpdata_requests(e->chrony);
}

static enum cb_status status_now(struct env *e, enum cb_reason *reason)
{
    struct cb_now n;
    server_now(e->srv, &n);
    *reason = n.reason;
    return n.status;
}

/* The poller's NTPDATA questions about the reference's NTP server: once per reference address
 * and reference time, never for a refclock, never counted as poll failures, retried 10 s after
 * a refusal; an answer of LOCL about a non-loopback source fails a pending wait at once. */
/* Turns the loop until chrony has been asked want NTPDATA questions (3 s at most), then a little
 * more: asked exactly that many, none more. */
static void await_asked(struct env *e, unsigned want)
{
    int64_t end = real_mono_ns() + 3000 * MS;
    while (ntpdata_asked(e) < want && real_mono_ns() < end) {
        turn(e);
    }
    spin(e, 30);
    assert_int_equal(ntpdata_asked(e), want);
}

static void test_upstream_ntpdata(void **state)
{
    struct env *e = *state;
    enum cb_reason reason;
    /* The default source, 127.0.0.1: asked once for the present reference time ... */
    int64_t end = real_mono_ns() + 3000 * MS;
    while (ntpdata_asked(e) == 0 && real_mono_ns() < end) {
        turn(e);
    }
    spin(e, 30);
    unsigned n0 = ntpdata_asked(e);
    assert_true(n0 >= 1);
    spin(e, 30);
    assert_int_equal(ntpdata_asked(e), n0);
    /* ... and again once chrony reports a new reference time (the fake clock moved). */
    fake_clock_advance(&e->fc, MS);
    await_asked(e, n0 + 1);

    /* A refclock (PHC0, no address): never asked, however the reference time moves. */
    e->script.addr_family = CHRONY_ADDR_UNSPEC;
    memset(e->script.addr, 0, sizeof(e->script.addr));
    e->script.ref_id = 0x50484330;
    for (int i = 0; i < 3; i++) {
        fake_clock_advance(&e->fc, MS);
        spin(e, 15);
    }
    assert_int_equal(ntpdata_asked(e), n0 + 1);
    assert_int_equal(status_now(e, &reason), CB_STATUS_SYNCHRONIZED);

    /* An NTP source 10.0.0.1 whose server runs on GPS: asked, and served. */
    e->script.addr_family = CHRONY_ADDR_INET4;
    const uint8_t a1[4] = {10, 0, 0, 1};
    memcpy(e->script.addr, a1, sizeof(a1));
    e->script.ref_id = 0x0A000001;
    fake_clock_advance(&e->fc, MS);
    await_asked(e, n0 + 2);
    assert_int_equal(e->chrony->last_ntpdata_family, CHRONY_ADDR_INET4);
    assert_memory_equal(e->chrony->last_ntpdata_addr, a1, sizeof(a1));
    assert_int_equal(status_now(e, &reason), CB_STATUS_SYNCHRONIZED);
    assert_non_null(cb_upstream_current(snap(e).clock));
    assert_int_equal(cb_upstream_current(snap(e).clock)->ref_id, 0x47505300);

    /* chronyd refuses NTPDATA: the check cannot be made; still served, no poll failure, and
     * no new question for 10 s (fake time) even though the reference time keeps moving. */
    e->script.ntpdata_status = 2;
    fake_clock_advance(&e->fc, MS);
    await_asked(e, n0 + 3);
    assert_int_equal(snap(e).poller.ntpdata_error, -EREMOTEIO);
    assert_string_equal(snap(e).poller.ntpdata_why, "unauthorised");
    assert_int_equal(snap(e).poller.polls_failed, 0);
    assert_int_equal(status_now(e, &reason), CB_STATUS_SYNCHRONIZED);
    fake_clock_advance(&e->fc, 9 * 1000 * MS);
    await_asked(e, n0 + 3);
    fake_clock_advance(&e->fc, 1000 * MS);
    await_asked(e, n0 + 4);

    /* chronyd answers again (its retry, 10 s later), the check is back. */
    e->script.ntpdata_status = 0;
    fake_clock_advance(&e->fc, 10 * 1000 * MS);
    await_asked(e, n0 + 5);
    assert_int_equal(snap(e).poller.ntpdata_error, 0);
    assert_int_equal(status_now(e, &reason), CB_STATUS_SYNCHRONIZED);

    /* That server falls back to its own clock: a commit-wait pending (fake time stands still)
     * fails as soon as the next reference update brings the NTPDATA answer. The clock moves
     * 1 us: a new reference time, far less than the wait needs. */
    e->script.upstream_ref_id = CHRONY_REFID_LOCAL;
    struct request q = wc_request(7, REQ_OP_GET_TIMESTAMP);
    q.commit_wait = true;
    assert_int_equal(wc_send(&e->client, &q), 0);
    assert_true(no_response_for(e, 20));
    assert_int_equal(ntpdata_asked(e), n0 + 5);
    fake_clock_advance(&e->fc, US);
    struct response r = await_response(e);
    assert_int_equal(r.id, 7);
    assert_int_equal(r.kind, RESP_ERROR);
    assert_int_equal(r.u.error.code, WIRE_ERROR_CLOCK_UNAVAILABLE);
    assert_int_equal(r.clock_status, CB_STATUS_UNKNOWN);
    assert_non_null(strstr(r.u.error.message, "upstream NTP server runs on its own local clock"));
    await_closed(e);
    assert_int_equal(ntpdata_asked(e), n0 + 6);
    assert_int_equal(status_now(e, &reason), CB_STATUS_UNKNOWN);
    assert_int_equal(reason, CB_REASON_UPSTREAM_LOCAL);

    /* Negative control: the server back on GPS, at the next reference update: served. */
    e->script.upstream_ref_id = 0x47505300;
    fake_clock_advance(&e->fc, MS);
    spin(e, 30);
    assert_int_equal(status_now(e, &reason), CB_STATUS_SYNCHRONIZED);
    assert_int_equal(snap(e).poller.polls_failed, 0);
    assert_int_equal(e->chrony->bad_requests, 0);
}

/* ---- the connection caps (admit.c) ---- */

#define CAP_OTHERS 15 /* with e->client: the cap of 16 */

static uint16_t server_port(const struct env *e)
{
    return (uint16_t)atoi(strrchr(e->addr, ':') + 1);
}

/* Turns the loop until every connection opened so far is accepted. */
static void settle(struct env *e, size_t want_live)
{
    int64_t end = real_mono_ns() + 3000 * MS;
    while (snap(e).admit.live != want_live && real_mono_ns() < end) {
        turn(e);
    }
    spin(e, 5);
}

/* Turns the loop until w gets a response (fails after 3 s of real time). */
static struct response await_on(struct env *e, struct wire_client *w)
{
    struct response r;
    int64_t end = real_mono_ns() + 3000 * MS;
    while (real_mono_ns() < end) {
        turn(e);
        int rc = wc_recv(w, &r, 0);
        if (rc == 0) {
            return r;
        }
        assert_int_equal(rc, -ETIMEDOUT);
    }
    fail_msg("no response within 3 s");
    return r;
}

/* w got the connection-level goodbye: id 0, OVERLOADED, retriable, with text; then the close. */
static void assert_goodbye(struct env *e, struct wire_client *w, const char *text)
{
    struct response r = await_on(e, w);
    assert_int_equal(r.id, 0);
    assert_int_equal(r.kind, RESP_ERROR);
    assert_int_equal(r.u.error.code, WIRE_ERROR_OVERLOADED);
    assert_true(r.u.error.retriable);
    assert_string_equal(r.u.error.message, text);
    int64_t end = real_mono_ns() + 3000 * MS;
    while (wc_wait_closed(w, 0) != 0) {
        assert_true(real_mono_ns() < end);
        turn(e);
    }
}

static bool untouched(struct env *e, struct wire_client *w)
{
    spin(e, 10);
    struct response r;
    return wc_recv(w, &r, 0) == -ETIMEDOUT;
}

static void now_answered(struct env *e, struct wire_client *w, uint64_t id)
{
    struct request q = wc_request(id, REQ_OP_NOW);
    assert_int_equal(wc_send(w, &q), 0);
    struct response r = await_on(e, w);
    assert_int_equal(r.id, id);
    assert_int_equal(r.kind, RESP_BOUNDS);
}

static void open_others(struct env *e, struct wire_client *others, size_t n, const char *from)
{
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(wc_connect_from(&others[i], "127.0.0.1", server_port(e), from), 0);
        settle(e, snap(e).admit.live + 1);
    }
}

/* n clients on the heap (each holds 128 KiB of buffer: arrays of them on the stack look like a
 * stack switch to valgrind); close_all closes and frees them. */
static struct wire_client *clients(size_t n)
{
    struct wire_client *w = calloc(n, sizeof(*w));
    assert_non_null(w);
    for (size_t i = 0; i < n; i++) {
        w[i].fd = -1;
    }
    return w;
}

static void close_all(struct wire_client *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        wc_close(&w[i]);
    }
    free(w);
}

static void test_cap_evicts_the_idle_longest(void **state)
{
    struct env *e = *state;
    struct wire_client *others = clients(CAP_OTHERS + 1);
    open_others(e, others, CAP_OTHERS, NULL);
    assert_int_equal(snap(e).admit.live, 16);
    /* e->client, the first opened, is active again: others[0] is now the idle longest, then
     * others[1], ... */
    now_answered(e, &e->client, 1);
    assert_int_equal(wc_connect_addr(&others[CAP_OTHERS], e->addr), 0);
    assert_goodbye(e, &others[0], "evicted: connection limit");
    assert_true(untouched(e, &others[1]));
    assert_true(untouched(e, &others[CAP_OTHERS]));
    now_answered(e, &e->client, 2);
    now_answered(e, &others[CAP_OTHERS], 3);
    /* others[1] sends something: others[2] is now the idle longest. */
    now_answered(e, &others[1], 4);
    struct wire_client extra;
    assert_int_equal(wc_connect_addr(&extra, e->addr), 0);
    assert_goodbye(e, &others[2], "evicted: connection limit");
    assert_true(untouched(e, &others[1]));
    assert_int_equal(snap(e).admit.evicted[ADMIT_CAP_TOTAL], 2);
    assert_int_equal(snap(e).admit.refused[ADMIT_CAP_TOTAL], 0);
    assert_int_equal(snap(e).admit.live, 16);
    wc_close(&extra);
    close_all(others, CAP_OTHERS + 1);
}

/* Sends a commit-wait on w that stays pending: fake time stands still. */
static void hold_wait(struct wire_client *w, uint64_t id)
{
    struct request q = wc_request(id, REQ_OP_GET_TIMESTAMP);
    q.commit_wait = true;
    assert_int_equal(wc_send(w, &q), 0);
}

static void test_cap_spares_pending_work(void **state)
{
    struct env *e = *state;
    struct wire_client *others = clients(CAP_OTHERS + 2);
    open_others(e, others, CAP_OTHERS, NULL);
    /* Busy at the oldest end: e->client with a commit-wait pending, others[1] with a request
     * that reached the kernel but was not read (sent just after the next arrival, the loop not
     * turned between). others[0] holds half a frame: not busy, a slot held. */
    hold_wait(&e->client, 1);
    now_answered(e, &others[1], 10);
    assert_int_equal(wc_send_raw(&others[0], "\x85", 1), 0);
    spin(e, 10);
    for (size_t i = 2; i < CAP_OTHERS; i++) {
        now_answered(e, &others[i], 10 + i);
    }
    /* Oldest first: e->client (wait), others[1] (its request unread, below), others[0] (half a
     * frame), others[2], ... */
    /* The new connection first, then the request: epoll reports them in that order, so the
     * accept (and the choice) comes before the read. */
    assert_int_equal(wc_connect_addr(&others[CAP_OTHERS], e->addr), 0);
    struct request n = wc_request(3, REQ_OP_NOW);
    assert_int_equal(wc_send(&others[1], &n), 0);
    assert_goodbye(e, &others[0], "evicted: connection limit");
    struct response r = await_on(e, &others[1]);
    assert_int_equal(r.id, 3);
    assert_int_equal(r.kind, RESP_BOUNDS);
    /* Next: e->client still waits, others[1] was just active: others[2] goes. */
    assert_int_equal(wc_connect_addr(&others[CAP_OTHERS + 1], e->addr), 0);
    assert_goodbye(e, &others[2], "evicted: connection limit");
    assert_true(untouched(e, &e->client));
    assert_true(untouched(e, &others[3]));
    struct cb_now now;
    server_now(e->srv, &now);
    fake_clock_advance(&e->fc, 2 * now.bound_ns + 10 * US);
    r = await_on(e, &e->client);
    assert_int_equal(r.id, 1);
    assert_int_equal(r.kind, RESP_TIMESTAMPS);
    close_all(others, CAP_OTHERS + 2);
}

static void test_cap_refuses_when_none_idle(void **state)
{
    struct env *e = *state;
    struct wire_client *others = clients(CAP_OTHERS);
    open_others(e, others, CAP_OTHERS, NULL);
    hold_wait(&e->client, 1);
    for (size_t i = 0; i < CAP_OTHERS; i++) {
        hold_wait(&others[i], 1);
    }
    spin(e, 10);
    struct wire_client extra;
    assert_int_equal(wc_connect_addr(&extra, e->addr), 0);
    assert_goodbye(e, &extra, "refused: connection limit, none idle; retry later");
    for (size_t i = 0; i < CAP_OTHERS; i++) {
        assert_true(untouched(e, &others[i]));
    }
    assert_int_equal(snap(e).admit.refused[ADMIT_CAP_TOTAL], 1);
    assert_int_equal(snap(e).admit.evicted[ADMIT_CAP_TOTAL], 0);
    assert_int_equal(snap(e).admit.live, 16);
    /* The busy ones were looked at and moved to the newest end; once one is idle again (its
     * wait answered), the next arrival takes its place. */
    struct cb_now now;
    server_now(e->srv, &now);
    fake_clock_advance(&e->fc, 2 * now.bound_ns + 10 * US);
    struct response r = await_on(e, &others[5]);
    assert_int_equal(r.kind, RESP_TIMESTAMPS);
    for (size_t i = 0; i < CAP_OTHERS; i++) {
        if (i != 5) {
            assert_int_equal(await_on(e, &others[i]).kind, RESP_TIMESTAMPS);
        }
    }
    assert_int_equal(await_response(e).kind, RESP_TIMESTAMPS);
    struct wire_client late;
    assert_int_equal(wc_connect_addr(&late, e->addr), 0);
    settle(e, 16);
    assert_int_equal(snap(e).admit.evicted[ADMIT_CAP_TOTAL], 1);
    assert_true(untouched(e, &late));
    wc_close(&late);
    wc_close(&extra);
    close_all(others, CAP_OTHERS);
}

static void test_cap_per_peer(void **state)
{
    struct env *e = *state;
    /* The cap per peer is 3: e->client and two more from 127.0.0.1, three from 127.0.0.2. */
    struct wire_client *here = clients(3);
    struct wire_client *there = clients(4);
    open_others(e, here, 2, NULL);
    open_others(e, there, 3, "127.0.0.2");
    assert_int_equal(snap(e).admit.peers, 2);
    now_answered(e, &e->client, 1);
    /* A fourth from 127.0.0.2 evicts that peer's idle longest, not e->client's neighbours (here[0]
     * is idle longer than any of them). */
    assert_int_equal(wc_connect_from(&there[3], "127.0.0.1", server_port(e), "127.0.0.2"), 0);
    assert_goodbye(e, &there[0], "evicted: connection limit per peer");
    assert_true(untouched(e, &here[0]));
    assert_int_equal(snap(e).admit.evicted[ADMIT_CAP_PEER], 1);
    /* 127.0.0.1 with every one busy: the new one is refused. */
    hold_wait(&e->client, 2);
    hold_wait(&here[0], 1);
    hold_wait(&here[1], 1);
    spin(e, 10);
    assert_int_equal(wc_connect_addr(&here[2], e->addr), 0);
    assert_goodbye(e, &here[2], "refused: connection limit per peer, none idle; retry later");
    assert_int_equal(snap(e).admit.refused[ADMIT_CAP_PEER], 1);
    assert_int_equal(snap(e).admit.live, 6);
    /* The peer's entry goes with its last connection. */
    close_all(there, 4);
    int64_t end = real_mono_ns() + 3000 * MS;
    while (snap(e).admit.peers != 1 && real_mono_ns() < end) {
        turn(e);
    }
    assert_int_equal(snap(e).admit.peers, 1);
    close_all(here, 3);
}

/* A candidate whose peer has closed, the FIN not read yet when the next one arrives (a pool
 * replacing a connection): it goes by itself, makes the room, and the peer's list stays whole
 * (a reviewer found it put back into the list after it had left: a use after free, here under
 * ASan). */
static void test_cap_per_peer_candidate_gone(void **state)
{
    struct env *e = *state;
    struct wire_client *here = clients(4);
    open_others(e, here, 2, NULL); /* with e->client: 3 from 127.0.0.1, the cap per peer */
    now_answered(e, &e->client, 1);
    now_answered(e, &here[1], 2);
    /* Oldest first: here[0], e->client, here[1]. A new one arrives, then here[0]'s peer closes,
     * before the loop turns: epoll reports the arrival first, so the FIN is found while
     * looking. */
    assert_int_equal(wc_connect_addr(&here[2], e->addr), 0);
    assert_int_equal(shutdown(here[0].fd, SHUT_WR), 0);
    settle(e, 3);
    assert_int_equal(wc_wait_closed(&here[0], 1000), 0);
    assert_int_equal(snap(e).admit.evicted[ADMIT_CAP_PEER], 0);
    assert_int_equal(snap(e).admit.refused[ADMIT_CAP_PEER], 0);
    assert_true(untouched(e, &e->client));
    /* The list still holds the three, oldest first e->client: the next arrival evicts it. */
    spin(e, 10);
    assert_int_equal(wc_connect_addr(&here[3], e->addr), 0);
    struct response r = await_on(e, &e->client);
    assert_int_equal(r.id, 0);
    assert_string_equal(r.u.error.message, "evicted: connection limit per peer");
    assert_int_equal(snap(e).admit.evicted[ADMIT_CAP_PEER], 1);
    now_answered(e, &here[1], 3);
    now_answered(e, &here[2], 4);
    now_answered(e, &here[3], 5);
    close_all(here, 4);
    int64_t end = real_mono_ns() + 3000 * MS;
    while (snap(e).admit.peers != 0 && real_mono_ns() < end) {
        turn(e);
    }
    assert_int_equal(snap(e).admit.peers, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_wait_follows_the_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_fails_pending_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chrony_loss_fails_pending_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_answers_pending_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_in_responses_is_current, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain_while_starting_serves_nothing,
                                        setup_draining_from_the_start, teardown),
        cmocka_unit_test(test_init_failures_close_everything),
        cmocka_unit_test_setup_teardown(test_upstream_ntpdata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_evicts_the_idle_longest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_spares_pending_work, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_refuses_when_none_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_per_peer, setup_per_peer, teardown),
        cmocka_unit_test_setup_teardown(test_cap_per_peer_candidate_gone, setup_per_peer, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests: the shared and asynchronous clients (the engine, client/engine.c) against the
 * scripted fake server (tests/support/fake_oracled.c): calls merged into one request and the
 * reply split back in the order the calls were made, min_ts_ns across threads, a server dying
 * mid-batch (every caller answered exactly once), deadlines, retriable errors moving to the
 * next server, a merged wait refused as too long sent again call by call, the batch delay,
 * and freeing with calls pending.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "fake_oracled.h"
#include "oracle/async.h"
#include "oracle/client.h"

#define N_CALLS 16

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void options_for(struct oracle_client_options *o, const char *servers)
{
    oracle_client_options_init(o);
    o->servers = servers;
    o->request_timeout_ms = 1000;
    o->connect_timeout_ms = 500;
}

static void assert_message(const struct oracle_error *err, const char *part)
{
    if (strstr(err->message, part) == NULL) {
        fail_msg("message '%s' does not contain '%s'", err->message, part);
    }
}

/* ---- The asynchronous face, on a loop the test runs ---- */

struct slot {
    int ends; /* callbacks for this call: must end at 1 */
    int seq;  /* the order its callback came in */
    struct oracle_response r;
};

struct recorder {
    struct slot slots[N_CALLS];
    int ended;
    bool closed;
};

static int next_seq;

static void on_reply(const struct oracle_response *r, void *arg)
{
    struct slot *s = arg;
    s->ends++;
    s->seq = next_seq++;
    s->r = *r;
}

static void on_closed(void *arg)
{
    *(bool *)arg = true;
}

static int ended(const struct recorder *rec, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        k += rec->slots[i].ends > 0;
    }
    return k;
}

/* Runs loop until n calls of rec ended, or ms passed. */
static void run_until_ended(uv_loop_t *loop, const struct recorder *rec, int n, int64_t ms)
{
    int64_t until = monotonic_ms() + ms;
    while (ended(rec, n) < n && monotonic_ms() < until) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(200);
    }
}

/* Closes a and runs loop until it is gone (every handle closed). */
static void close_async(uv_loop_t *loop, oracle_async *a)
{
    bool closed = false;
    oracle_async_close(a, on_closed, &closed);
    int64_t until = monotonic_ms() + 5000;
    while (!closed && monotonic_ms() < until) {
        uv_run(loop, UV_RUN_NOWAIT);
    }
    assert_true(closed);
    assert_int_equal(uv_run(loop, UV_RUN_NOWAIT), 0); /* nothing of the client left open */
}

static void submit_ts(oracle_async *a, bool commit_wait, struct slot *s)
{
    struct oracle_request req = {.op = ORACLE_OP_GET_TIMESTAMP,
                                 .ts = {.count = 1, .commit_wait = commit_wait}};
    struct oracle_error err;
    assert_int_equal(oracle_async_submit(a, &req, on_reply, s, &err), 0);
}

/* A fake server running script, a loop, and an asynchronous client of it. */
struct afix {
    struct fake_oracled server;
    char addr[64];
    uv_loop_t loop;
    oracle_async *a;
    struct recorder rec;
};

static void server_start(struct fake_oracled *server, const enum fake_act *script, size_t n,
                         char *addr, size_t cap)
{
    assert_int_equal(fake_oracled_start(server, script, n), 0);
    fake_oracled_addr(server, addr, cap);
}

/* request_timeout_ms 0: options_for()'s; the same for max_batch_delay_us. */
static struct afix *afix_start(const enum fake_act *script, size_t n, uint32_t request_timeout_ms,
                               uint32_t max_batch_delay_us)
{
    static struct afix f;
    memset(&f, 0, sizeof(f));
    server_start(&f.server, script, n, f.addr, sizeof(f.addr));
    uv_loop_init(&f.loop);
    struct oracle_client_options o;
    options_for(&o, f.addr);
    if (request_timeout_ms != 0) {
        o.request_timeout_ms = request_timeout_ms;
    }
    o.max_batch_delay_us = max_batch_delay_us;
    struct oracle_error err;
    f.a = oracle_async_new(&f.loop, &o, &err);
    assert_non_null(f.a);
    f.loop.data = f.a;
    next_seq = 0;
    return &f;
}

static void afix_stop(struct afix *f)
{
    close_async(&f->loop, f->a);
    uv_loop_close(&f->loop);
    fake_oracled_stop(&f->server);
}

/* Calls made in one turn of the loop leave as one request; the range is shared out in the
 * order the calls were made; each ends once. */
static void test_merged_and_split_in_order(void **state)
{
    (void)state;
    const enum fake_act script[] = {FAKE_OK};
    struct afix *f = afix_start(script, 1, 0, 0);
    for (int i = 0; i < 10; i++) {
        submit_ts(f->a, false, &f->rec.slots[i]);
    }
    run_until_ended(&f->loop, &f->rec, 10, 3000);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(f->rec.slots[i].ends, 1);
        assert_int_equal(f->rec.slots[i].r.rc, 0);
        assert_int_equal(f->rec.slots[i].r.u.ts.count, 1);
        assert_int_equal(f->rec.slots[i].r.u.ts.first_ns, 1000 + (uint64_t)i);
        assert_int_equal(f->rec.slots[i].seq, i); /* and answered in that order */
    }
    struct request w;
    assert_true(fake_oracled_request(&f->server, 0, &w));
    assert_int_equal(w.op, REQ_OP_GET_TIMESTAMP);
    assert_int_equal(w.count, 10);
    assert_false(w.commit_wait);
    assert_false(fake_oracled_request(&f->server, 1, &w)); /* one request, for all ten */
    assert_int_equal(oracle_async_max_seen(f->a), 1009);

    /* Commit-waited ones: one request whose wait covers the whole range. */
    memset(&f->rec, 0, sizeof(f->rec));
    for (int i = 0; i < 4; i++) {
        submit_ts(f->a, true, &f->rec.slots[i]);
    }
    run_until_ended(&f->loop, &f->rec, 4, 3000);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(f->rec.slots[i].r.rc, 0);
        assert_int_equal(f->rec.slots[i].r.u.ts.first_ns, 1010 + (uint64_t)i);
        assert_true(f->rec.slots[i].r.u.ts.earliest_ns > 1013); /* past, every one of them */
    }
    assert_true(fake_oracled_request(&f->server, 1, &w));
    assert_int_equal(w.count, 4);
    assert_true(w.commit_wait);
    assert_int_equal(w.min_ts_ns, 1009);         /* the session's largest */
    assert_int_equal(w.max_wait_ns, 1000000000); /* the client's max_wait_ms */
    struct oracle_client_counts n;
    oracle_async_counts(f->a, &n);
    assert_int_equal(n.calls, 14);
    assert_int_equal(n.requests, 2);
    assert_int_equal(n.batched, 14);
    afix_stop(f);
}

/* Now, WaitUntil and the calls that go alone (Before, count > 1) in one turn. */
static void test_kinds(void **state)
{
    (void)state;
    const enum fake_act script[] = {FAKE_OK};
    struct afix *f = afix_start(script, 1, 0, 0);
    struct oracle_error err;
    struct oracle_request now = {.op = ORACLE_OP_NOW};
    struct oracle_request w1 = {.op = ORACLE_OP_WAIT_UNTIL, .ts_ns = 500};
    struct oracle_request w2 = {.op = ORACLE_OP_WAIT_UNTIL, .ts_ns = 900};
    struct oracle_request before = {.op = ORACLE_OP_BEFORE, .ts_ns = 5};
    struct oracle_request three = {.op = ORACLE_OP_GET_TIMESTAMP, .ts = {.count = 3}};
    struct oracle_request bad = {.op = ORACLE_OP_WAIT_UNTIL, .ts_ns = UINT64_MAX};
    assert_int_equal(oracle_async_submit(f->a, &now, on_reply, &f->rec.slots[0], &err), 0);
    assert_int_equal(oracle_async_submit(f->a, &now, on_reply, &f->rec.slots[1], &err), 0);
    assert_int_equal(oracle_async_submit(f->a, &w1, on_reply, &f->rec.slots[2], &err), 0);
    assert_int_equal(oracle_async_submit(f->a, &w2, on_reply, &f->rec.slots[3], &err), 0);
    assert_int_equal(oracle_async_submit(f->a, &before, on_reply, &f->rec.slots[4], &err), 0);
    assert_int_equal(oracle_async_submit(f->a, &three, on_reply, &f->rec.slots[5], &err), 0);
    assert_int_equal(oracle_async_submit(f->a, &bad, on_reply, &f->rec.slots[6], &err),
                     ORACLE_E_INVALID);
    assert_message(&err, "not below 2^63");
    run_until_ended(&f->loop, &f->rec, 6, 3000);
    assert_int_equal(f->rec.slots[6].ends, 0); /* refused at once, never called back */
    for (int i = 0; i < 6; i++) {
        assert_int_equal(f->rec.slots[i].ends, 1);
        assert_int_equal(f->rec.slots[i].r.rc, 0);
    }
    assert_true(f->rec.slots[0].r.u.bounds.earliest_ns == UINT64_C(1795620000000000000));
    assert_true(f->rec.slots[1].r.u.bounds.earliest_ns == UINT64_C(1795620000000000000));
    assert_int_equal(f->rec.slots[2].r.u.waited_ns, 1234);
    assert_int_equal(f->rec.slots[3].r.u.waited_ns, 1234);
    assert_true(f->rec.slots[4].r.u.answer);
    assert_int_equal(f->rec.slots[5].r.u.ts.count, 3);
    /* Four requests: one Now, one wait on the largest timestamp, Before, GetTimestamp(3). */
    int nows = 0, waits = 0;
    struct request w;
    for (size_t i = 0; fake_oracled_request(&f->server, i, &w); i++) {
        nows += w.op == REQ_OP_NOW;
        if (w.op == REQ_OP_WAIT_UNTIL) {
            waits++;
            assert_int_equal(w.ts_ns, 900);
        }
    }
    assert_int_equal(nows, 1);
    assert_int_equal(waits, 1);
    assert_false(fake_oracled_request(&f->server, 4, &w));
    afix_stop(f);
}

/* The server closes the connection in the middle of the batch's reply: every call is sent
 * again on the next connection and ends exactly once, with a timestamp. */
static void test_server_dies_mid_batch(void **state)
{
    (void)state;
    const enum fake_act script[] = {FAKE_CLOSE_MID, FAKE_OK};
    struct afix *f = afix_start(script, 2, 0, 0);
    for (int i = 0; i < 8; i++) {
        submit_ts(f->a, i % 2 == 0, &f->rec.slots[i]);
    }
    run_until_ended(&f->loop, &f->rec, 8, 3000);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(f->rec.slots[i].ends, 1);
        assert_int_equal(f->rec.slots[i].r.rc, 0);
    }
    assert_int_equal(fake_oracled_connections(&f->server), 2);
    /* Let anything late come: still exactly once each. */
    int64_t until = monotonic_ms() + 100;
    while (monotonic_ms() < until) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
    }
    for (int i = 0; i < 8; i++) {
        assert_int_equal(f->rec.slots[i].ends, 1);
    }
    afix_stop(f);
}

/* A silent server: each call ends at its deadline with TIMEOUT; closing afterwards is clean. */
static void test_deadline(void **state)
{
    (void)state;
    const enum fake_act script[] = {FAKE_SILENT};
    struct afix *f = afix_start(script, 1, 150, 0);
    struct oracle_error err;
    int64_t t0 = monotonic_ms();
    struct oracle_request now = {.op = ORACLE_OP_NOW};
    assert_int_equal(oracle_async_submit(f->a, &now, on_reply, &f->rec.slots[0], &err), 0);
    submit_ts(f->a, false, &f->rec.slots[1]);
    run_until_ended(&f->loop, &f->rec, 2, 3000);
    int64_t took = monotonic_ms() - t0;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(f->rec.slots[i].ends, 1);
        assert_int_equal(f->rec.slots[i].r.rc, ORACLE_E_TIMEOUT);
        assert_int_equal(f->rec.slots[i].r.error.rc, ORACLE_E_TIMEOUT);
        assert_message(&f->rec.slots[i].r.error, "no reply within 150 ms");
    }
    assert_true(took >= 140 && took < 1500);
    afix_stop(f);
}

/* Nothing listens: CONNECT after one pass over the list, saying where. */
static void test_nothing_listening(void **state)
{
    (void)state;
    struct fake_oracled server;
    const enum fake_act script[] = {FAKE_OK};
    char addr[64];
    server_start(&server, script, 1, addr, sizeof(addr));
    fake_oracled_stop(&server); /* the port is free now */
    struct oracle_client_options o;
    options_for(&o, addr);
    struct oracle_error err;
    oracle_client *c = oracle_shared_new(&o, &err);
    assert_non_null(c);
    uint64_t ts;
    assert_int_equal(oracle_timestamp(c, &ts, &err), ORACLE_E_CONNECT);
    assert_true(err.retriable);
    assert_message(&err, "cannot connect to oracled");
    assert_message(&err, addr);
    assert_int_equal(oracle_client_connect(c, &err), ORACLE_E_CONNECT);
    /* Pipelining is for a client of one thread. */
    uint64_t id;
    struct oracle_request req = {.op = ORACLE_OP_NOW};
    assert_int_equal(oracle_send(c, &req, &id, &err), ORACLE_E_INVALID);
    assert_message(&err, "batches concurrent calls by itself");
    assert_int_equal(oracle_in_flight(c), 0);
    oracle_client_free(c);
}

/* The first server is shutting down (an error, then it closes): the call is answered by the
 * second one, within its deadline, and the session goes on there. */
static void test_retriable_error_moves_on(void **state)
{
    (void)state;
    struct fake_oracled first, second;
    const enum fake_act down[] = {FAKE_SHUTDOWN};
    const enum fake_act ok[] = {FAKE_OK};
    assert_int_equal(fake_oracled_start(&first, down, 1), 0);
    assert_int_equal(fake_oracled_start(&second, ok, 1), 0);
    char a1[64], a2[64], list[140];
    fake_oracled_addr(&first, a1, sizeof(a1));
    fake_oracled_addr(&second, a2, sizeof(a2));
    snprintf(list, sizeof(list), "%s,%s", a1, a2);
    struct oracle_client_options o;
    options_for(&o, list);
    struct oracle_error err;
    oracle_client *c = oracle_shared_new(&o, &err);
    uint64_t ts;
    assert_int_equal(oracle_commit_timestamp(c, &ts, &err), 0);
    assert_int_equal(ts, 1000);
    assert_string_equal(oracle_client_peer(c), a2);
    assert_int_equal(fake_oracled_connections(&first), 1);
    /* With the second one gone too, the caller gets the server's own error at its deadline. */
    oracle_client_free(c);
    fake_oracled_stop(&second);
    options_for(&o, a1);
    o.request_timeout_ms = 200;
    c = oracle_shared_new(&o, &err);
    int64_t t0 = monotonic_ms();
    assert_int_equal(oracle_timestamp(c, &ts, &err), ORACLE_E_SERVER);
    assert_true(monotonic_ms() - t0 >= 190);
    assert_int_equal(err.code, ORACLE_ERROR_SHUTTING_DOWN);
    assert_true(err.retriable);
    assert_message(&err, "shutting down");
    /* Tried again, after a backoff doubling from 1 ms to 100 ms: about a dozen connections in
     * the 700 ms deadline, not thousands. */
    size_t tried = fake_oracled_connections(&first);
    if (tried <= 2 || tried > 25) {
        fail_msg("%zu connections in the call's 700 ms", tried);
    }
    oracle_client_free(c);
    fake_oracled_stop(&first);
}

/* A merged WaitUntil refused as too long (its largest timestamp is far ahead) is sent again
 * call by call: the near one succeeds, the far one gets WAIT_TOO_LONG. */
static void test_wait_too_long_split(void **state)
{
    (void)state;
    const enum fake_act script[] = {FAKE_WAIT_LIMIT};
    struct afix *f = afix_start(script, 1, 0, 0);
    struct oracle_error err;
    struct oracle_request near = {.op = ORACLE_OP_WAIT_UNTIL, .ts_ns = FAKE_WAIT_LIMIT_NS};
    struct oracle_request far = {.op = ORACLE_OP_WAIT_UNTIL, .ts_ns = FAKE_WAIT_LIMIT_NS + 1};
    int64_t t0 = monotonic_ms();
    assert_int_equal(oracle_async_submit(f->a, &near, on_reply, &f->rec.slots[0], &err), 0);
    assert_int_equal(oracle_async_submit(f->a, &far, on_reply, &f->rec.slots[1], &err), 0);
    run_until_ended(&f->loop, &f->rec, 2, 3000);
    assert_int_equal(f->rec.slots[0].ends, 1);
    assert_int_equal(f->rec.slots[0].r.rc, 0);
    assert_int_equal(f->rec.slots[1].ends, 1);
    assert_int_equal(f->rec.slots[1].r.rc, ORACLE_E_SERVER);
    assert_int_equal(f->rec.slots[1].r.error.code, ORACLE_ERROR_WAIT_TOO_LONG);
    /* At once (three 30 ms replies), on the one connection: the error, retriable as oracled
     * marks it, is the answer, not a reason to go elsewhere. */
    assert_true(monotonic_ms() - t0 < 500);
    assert_int_equal(fake_oracled_connections(&f->server), 1);
    struct request w;
    assert_true(fake_oracled_request(&f->server, 0, &w));
    assert_int_equal(w.ts_ns, FAKE_WAIT_LIMIT_NS + 1);    /* the merged wait */
    assert_true(fake_oracled_request(&f->server, 2, &w)); /* then each alone */
    assert_false(fake_oracled_request(&f->server, 3, &w));
    afix_stop(f);
}

/* WaitUntil calls far apart are not merged (none is held past its own timestamp by another's),
 * and a lone one too far ahead is WAIT_TOO_LONG at once through the shared client too. */
static void test_wait_until_apart(void **state)
{
    (void)state;
    const enum fake_act script[] = {FAKE_WAIT_LIMIT};
    struct afix *f = afix_start(script, 1, 0, 0);
    struct oracle_error err;
    struct oracle_request a = {.op = ORACLE_OP_WAIT_UNTIL, .ts_ns = 100};
    struct oracle_request b = {.op = ORACLE_OP_WAIT_UNTIL, .ts_ns = 1101};
    struct oracle_request c = {.op = ORACLE_OP_WAIT_UNTIL, .ts_ns = 1102};
    assert_int_equal(oracle_async_submit(f->a, &a, on_reply, &f->rec.slots[0], &err), 0);
    assert_int_equal(oracle_async_submit(f->a, &b, on_reply, &f->rec.slots[1], &err), 0);
    assert_int_equal(oracle_async_submit(f->a, &c, on_reply, &f->rec.slots[2], &err), 0);
    run_until_ended(&f->loop, &f->rec, 3, 3000);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(f->rec.slots[i].r.rc, 0);
    }
    struct request w;
    assert_true(fake_oracled_request(&f->server, 0, &w));
    assert_int_equal(w.ts_ns, 100); /* more than 1 us before the next: alone */
    assert_true(fake_oracled_request(&f->server, 1, &w));
    assert_int_equal(w.ts_ns, 1102); /* 1101 and 1102 together */
    assert_false(fake_oracled_request(&f->server, 2, &w));
    afix_stop(f);

    struct fake_oracled server;
    char addr[64];
    server_start(&server, script, 1, addr, sizeof(addr));
    struct oracle_client_options o;
    options_for(&o, addr);
    oracle_client *shared = oracle_shared_new(&o, &err);
    int64_t t0 = monotonic_ms();
    assert_int_equal(oracle_wait_until(shared, FAKE_WAIT_LIMIT_NS + 1, 0, NULL, &err),
                     ORACLE_E_SERVER);
    assert_int_equal(err.code, ORACLE_ERROR_WAIT_TOO_LONG);
    assert_true(monotonic_ms() - t0 < 500);
    assert_int_equal(fake_oracled_connections(&server), 1);
    oracle_client_free(shared);
    fake_oracled_stop(&server);
}

/* Runs f's loop until its client has sent n requests. */
static void run_until_sent(struct afix *f, uint64_t n)
{
    struct oracle_client_counts c;
    int64_t until = monotonic_ms() + 2000;
    do {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        oracle_async_counts(f->a, &c);
    } while (c.requests < n && monotonic_ms() < until);
    assert_int_equal(c.requests, n);
}

/* Two requests in flight and a call queued behind them when the connection dies: sent again,
 * the three keep the order they were made in, timestamps and answers alike. */
static void test_requeue_keeps_order(void **state)
{
    (void)state;
    const enum fake_act script[] = {FAKE_SLOW_CLOSE, FAKE_OK};
    struct afix *f = afix_start(script, 2, 0, 0);
    submit_ts(f->a, false, &f->rec.slots[0]);
    run_until_sent(f, 1);
    submit_ts(f->a, false, &f->rec.slots[1]);
    run_until_sent(f, 2);
    submit_ts(f->a, false, &f->rec.slots[2]);
    int64_t until = monotonic_ms() + 5;
    while (monotonic_ms() < until) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
    }
    struct oracle_client_counts n;
    oracle_async_counts(f->a, &n);
    assert_int_equal(n.requests, 2); /* the third waits behind the two in flight */
    run_until_ended(&f->loop, &f->rec, 3, 3000);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(f->rec.slots[i].ends, 1);
        assert_int_equal(f->rec.slots[i].r.rc, 0);
        assert_int_equal(f->rec.slots[i].r.u.ts.first_ns,
                         f->rec.slots[0].r.u.ts.first_ns + (uint64_t)i);
        assert_int_equal(f->rec.slots[i].seq, i);
    }
    assert_int_equal(fake_oracled_connections(&f->server), 2);
    struct request w;
    assert_true(fake_oracled_request(&f->server, 1, &w)); /* after the one the fake read */
    assert_int_equal(w.count, 3);
    afix_stop(f);
}

/* Callbacks that make the next call, and one that closes the client (a call made after that
 * is refused at once). */
struct chain {
    oracle_async *a;
    int done;
    bool closed;
    int refused;
};

static void on_chain(const struct oracle_response *r, void *arg)
{
    struct chain *k = arg;
    assert_int_equal(r->rc, 0);
    k->done++;
    struct oracle_request req = {.op = ORACLE_OP_NOW};
    struct oracle_error err;
    if (k->done < 5) {
        assert_int_equal(oracle_async_submit(k->a, &req, on_chain, k, &err), 0);
        return;
    }
    oracle_async_close(k->a, on_closed, &k->closed);
    k->refused = oracle_async_submit(k->a, &req, on_chain, k, &err);
}

static void test_callbacks_reenter(void **state)
{
    (void)state;
    const enum fake_act script[] = {FAKE_OK};
    struct afix *f = afix_start(script, 1, 0, 0);
    static struct chain k;
    memset(&k, 0, sizeof(k));
    k.a = f->a;
    struct oracle_request req = {.op = ORACLE_OP_NOW};
    struct oracle_error err;
    assert_int_equal(oracle_async_submit(f->a, &req, on_chain, &k, &err), 0);
    int64_t until = monotonic_ms() + 3000;
    while (!k.closed && monotonic_ms() < until) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
    }
    assert_int_equal(k.done, 5);
    assert_true(k.closed);
    assert_int_equal(k.refused, ORACLE_E_CLOSED);
    assert_int_equal(uv_run(&f->loop, UV_RUN_NOWAIT), 0);
    uv_loop_close(&f->loop);
    fake_oracled_stop(&f->server);
}

/* ---- The shared client, with threads ---- */

struct caller {
    oracle_client *c;
    pthread_t thread;
    int rc;
    uint64_t ts[8];
    struct oracle_error err;
};

static void *take_timestamps(void *arg)
{
    struct caller *k = arg;
    for (int i = 0; i < 8 && k->rc == 0; i++) {
        k->rc = oracle_timestamp(k->c, &k->ts[i], &k->err);
    }
    return NULL;
}

/* Eight threads behind a slow server: their calls pile up and leave merged; every timestamp
 * is unique and each thread's increase; a timestamp observed before they start bounds every
 * request any of them makes. */
static void test_threads_merge_and_min_ts(void **state)
{
    (void)state;
    struct fake_oracled server;
    const enum fake_act script[] = {FAKE_SLOW};
    char addr[64];
    server_start(&server, script, 1, addr, sizeof(addr));
    struct oracle_client_options o;
    options_for(&o, addr);
    struct oracle_error err;
    oracle_client *c = oracle_shared_new(&o, &err);
    oracle_client_observe(c, 5000);
    struct caller k[8];
    memset(k, 0, sizeof(k));
    for (int i = 0; i < 8; i++) {
        k[i].c = c;
        assert_int_equal(pthread_create(&k[i].thread, NULL, take_timestamps, &k[i]), 0);
    }
    uint64_t all[64];
    for (int i = 0; i < 8; i++) {
        pthread_join(k[i].thread, NULL);
        assert_int_equal(k[i].rc, 0);
        for (int j = 0; j < 8; j++) {
            assert_true(k[i].ts[j] > 5000); /* above what was observed */
            assert_true(j == 0 || k[i].ts[j] > k[i].ts[j - 1]);
            all[i * 8 + j] = k[i].ts[j];
        }
    }
    for (int i = 0; i < 64; i++) {
        for (int j = i + 1; j < 64; j++) {
            assert_true(all[i] != all[j]);
        }
    }
    struct oracle_client_counts n;
    oracle_client_counts(c, &n);
    assert_int_equal(n.calls, 64);
    assert_true(n.requests < 32); /* 30 ms a reply: the others pile up meanwhile */
    struct request w;
    for (size_t i = 0; fake_oracled_request(&server, i, &w); i++) {
        assert_true(w.min_ts_ns >= 5000);
    }
    assert_true(oracle_client_max_seen(c) > 5000);
    oracle_client_free(c);
    fake_oracled_stop(&server);
}

static void *one_timestamp(void *arg)
{
    struct caller *k = arg;
    k->rc = oracle_timestamp(k->c, &k->ts[0], &k->err);
    return NULL;
}

/* Freeing the shared client while threads wait on a silent server: each gets CLOSED, at once. */
static void test_free_with_calls_pending(void **state)
{
    (void)state;
    struct fake_oracled server;
    const enum fake_act script[] = {FAKE_SILENT};
    char addr[64];
    server_start(&server, script, 1, addr, sizeof(addr));
    struct oracle_client_options o;
    options_for(&o, addr);
    o.request_timeout_ms = 30000;
    struct oracle_error err;
    oracle_client *c = oracle_shared_new(&o, &err);
    struct caller k[4];
    memset(k, 0, sizeof(k));
    for (int i = 0; i < 4; i++) {
        k[i].c = c;
        assert_int_equal(pthread_create(&k[i].thread, NULL, one_timestamp, &k[i]), 0);
    }
    int64_t until = monotonic_ms() + 2000;
    while (fake_oracled_request(&server, 0, &(struct request){0}) == false &&
           monotonic_ms() < until) {
        usleep(1000);
    }
    usleep(20000); /* the later callers queued behind the first request */
    int64_t t0 = monotonic_ms();
    oracle_client_free(c);
    for (int i = 0; i < 4; i++) {
        pthread_join(k[i].thread, NULL);
        assert_int_equal(k[i].rc, ORACLE_E_CLOSED);
        assert_message(&k[i].err, "freed");
    }
    assert_true(monotonic_ms() - t0 < 2000);
    fake_oracled_stop(&server);
}

/* With max_batch_delay_us, calls a few ms apart still leave together. */
static void on_timer_submit(uv_timer_t *t)
{
    struct slot *s = t->data;
    submit_ts((oracle_async *)t->loop->data, false, s);
}

static void test_batch_delay(void **state)
{
    (void)state;
    const enum fake_act script[] = {FAKE_OK};
    struct afix *f = afix_start(script, 1, 0, 100000);
    struct oracle_error err;
    submit_ts(f->a, false, &f->rec.slots[0]);
    uv_timer_t later;
    uv_timer_init(&f->loop, &later);
    later.data = &f->rec.slots[1];
    uv_timer_start(&later, on_timer_submit, 20, 0);
    run_until_ended(&f->loop, &f->rec, 2, 3000);
    assert_int_equal(f->rec.slots[0].r.rc, 0);
    assert_int_equal(f->rec.slots[1].r.rc, 0);
    struct request w;
    assert_true(fake_oracled_request(&f->server, 0, &w));
    assert_int_equal(w.count, 2);
    uv_close((uv_handle_t *)&later, NULL);
    struct oracle_client_options o;
    options_for(&o, f->addr);
    o.max_batch_delay_us = 1000001;
    assert_null(oracle_async_new(&f->loop, &o, &err));
    assert_message(&err, "max_batch_delay_us must be 0 .. 1000000");
    afix_stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merged_and_split_in_order),
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_server_dies_mid_batch),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_nothing_listening),
        cmocka_unit_test(test_retriable_error_moves_on),
        cmocka_unit_test(test_wait_too_long_split),
        cmocka_unit_test(test_wait_until_apart),
        cmocka_unit_test(test_requeue_keeps_order),
        cmocka_unit_test(test_callbacks_reenter),
        cmocka_unit_test(test_threads_merge_and_min_ts),
        cmocka_unit_test(test_free_with_calls_pending),
        cmocka_unit_test(test_batch_delay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

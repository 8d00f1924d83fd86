/*
 * Unit tests: one connection on a real loopback socket (oracle/conn.c), its owner a recorder of
 * conn_events: requests decoded and batched per read, bad framing and bad messages, the pause
 * once replies pile up unread (input held, then handled in order), the cut-off past the output
 * cap, the goodbye frame, and the events and counters of each way to close.
 */
#include <errno.h>
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
#include <uv.h>

#include "clockbound.h"
#include "conn.h"
#include "loop_until.h"
#include "wire_client.h"

#define MS INT64_C(1000000)

/* The owner: what it heard, and how it answers each request. */
struct owner {
    uv_loop_t loop;
    uv_tcp_t listener;
    struct conn_env env;
    struct wire_client client;
    struct conn *c; /* the accepted connection, NULL once freed */
    int opened, active, leaving, closing, freed;
    int batches_open; /* batch(true) not yet matched by batch(false) */
    int batches;      /* completed batches */
    int requests;     /* requests delivered */
    int in_batch;     /* ... in the current batch */
    int max_in_batch;
    uint64_t last_id;
    bool out_of_order;
    int bad;
    char bad_why[64];
    int replies_each; /* responses sent per request */
};

static int64_t real_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void on_opened(void *ctx, struct conn *c)
{
    struct owner *o = ctx;
    o->opened++;
    o->c = c;
}

static void on_active(void *ctx, struct conn *c)
{
    (void)c;
    ((struct owner *)ctx)->active++;
}

static void on_batch(void *ctx, bool begin)
{
    struct owner *o = ctx;
    if (begin) {
        assert_int_equal(o->batches_open, 0);
        o->batches_open++;
        o->in_batch = 0;
    } else {
        assert_int_equal(o->batches_open, 1);
        o->batches_open--;
        o->batches++;
        if (o->in_batch > o->max_in_batch) {
            o->max_in_batch = o->in_batch;
        }
    }
}

static void on_request(void *ctx, struct conn *c, const struct request *req)
{
    struct owner *o = ctx;
    assert_int_equal(o->batches_open, 1); /* always inside a batch */
    o->requests++;
    o->in_batch++;
    if (req->id != o->last_id + 1) {
        o->out_of_order = true;
    }
    o->last_id = req->id;
    for (int i = 0; i < o->replies_each; i++) {
        struct response r;
        memset(&r, 0, sizeof(r));
        r.id = req->id;
        r.kind = RESP_WAITED;
        r.u.waited_ns = 1;
        conn_send(c, &r);
    }
}

static void on_bad_input(void *ctx, struct conn *c, const char *why)
{
    struct owner *o = ctx;
    o->bad++;
    snprintf(o->bad_why, sizeof(o->bad_why), "%s", why);
    conn_send_error(c, 0, WIRE_ERROR_BAD_REQUEST, false, why);
}

static void on_leaving(void *ctx, struct conn *c)
{
    (void)c;
    ((struct owner *)ctx)->leaving++;
}

static void on_closing(void *ctx, struct conn *c)
{
    (void)c;
    ((struct owner *)ctx)->closing++;
}

static void on_freed(void *ctx, struct conn *c)
{
    struct owner *o = ctx;
    assert_ptr_equal(o->c, c);
    assert_int_equal(o->env.all.len, 0); /* out of the list before its memory goes */
    assert_null(o->env.dirty);
    o->freed++;
    o->c = NULL;
}

static const struct conn_events events = {
    .opened = on_opened,
    .active = on_active,
    .batch = on_batch,
    .request = on_request,
    .bad_input = on_bad_input,
    .leaving = on_leaving,
    .closing = on_closing,
    .freed = on_freed,
};

struct check {
    struct owner *o;
    bool (*cond)(const struct owner *);
};

static bool check_holds(void *arg)
{
    const struct check *c = arg;
    return c->cond(c->o);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct owner *o = listener->data;
    assert_int_equal(status, 0);
    int err = 0;
    assert_non_null(conn_accept(&o->env, listener, NULL, &err));
}

/* Turns the loop until cond(o) holds, or fails after 3 s. */
static void until(struct owner *o, bool (*cond)(const struct owner *), const char *what)
{
    struct check c = {o, cond};
    if (!loop_until(&o->loop, check_holds, &c, 3000)) {
        fail_msg("timed out waiting for %s", what);
    }
}

static bool accepted(const struct owner *o)
{
    return o->c != NULL;
}

static bool freed(const struct owner *o)
{
    return o->freed > 0;
}

static struct owner *start(size_t max_output_bytes)
{
    struct owner *o = calloc(1, sizeof(*o));
    assert_non_null(o);
    o->replies_each = 1;
    assert_int_equal(uv_loop_init(&o->loop), 0);
    assert_int_equal(
        conn_env_init(&o->env, &o->loop, cb_clock_system(), max_output_bytes, 0, &events, o), 0);
    assert_int_equal(uv_tcp_init(&o->loop, &o->listener), 0);
    o->listener.data = o;
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    assert_int_equal(uv_tcp_bind(&o->listener, (const struct sockaddr *)&sa, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&o->listener, 16, on_connection), 0);
    int len = sizeof(sa);
    assert_int_equal(uv_tcp_getsockname(&o->listener, (struct sockaddr *)&sa, &len), 0);
    assert_int_equal(wc_connect(&o->client, "127.0.0.1", ntohs(sa.sin_port)), 0);
    until(o, accepted, "the accept");
    assert_int_equal(o->opened, 1);
    assert_int_equal(o->env.all.len, 1);
    assert_int_equal(o->env.stats.accepted, 1);
    return o;
}

static void stop(struct owner *o)
{
    if (o->c != NULL) {
        conn_close(o->c, NULL);
    }
    wc_close(&o->client);
    uv_close((uv_handle_t *)&o->listener, NULL);
    conn_env_close(&o->env);
    while (uv_run(&o->loop, UV_RUN_NOWAIT) != 0) {
    }
    conn_env_fini(&o->env);
    assert_int_equal(uv_loop_close(&o->loop), 0);
    free(o);
}

/* Sends n requests (ids first .. first + n - 1) in one write. */
static void send_burst(struct owner *o, uint64_t first, int n)
{
    size_t cap = (size_t)n * 64;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        struct request r = wc_request(first + (uint64_t)i, REQ_OP_NOW);
        int k = wire_encode_request(&r, buf + len, cap - len);
        assert_true(k > 0);
        len += (size_t)k;
    }
    assert_int_equal(wc_send_raw(&o->client, buf, len), 0);
    free(buf);
}

static bool delivered_8(const struct owner *o)
{
    return o->requests == 8;
}

static void test_requests_batched_per_read(void **state)
{
    (void)state;
    struct owner *o = start(1 << 20);
    send_burst(o, 1, 8);
    until(o, delivered_8, "8 requests");
    assert_int_equal(o->batches_open, 0);
    assert_false(o->out_of_order);
    assert_true(o->active >= 1);
    /* Replies are gathered, not written, until the owner flushes: one write for all. */
    assert_true(o->c->dirty);
    conn_flush_all(&o->env);
    assert_null(o->env.dirty);
    for (uint64_t id = 1; id <= 8; id++) {
        struct response r;
        assert_int_equal(wc_recv(&o->client, &r, 2000), 0);
        assert_int_equal(r.id, id);
        assert_int_equal(r.kind, RESP_WAITED);
    }
    stop(o);
}

static bool got_bad(const struct owner *o)
{
    return o->bad > 0;
}

static void test_bad_message_keeps_the_connection(void **state)
{
    (void)state;
    struct owner *o = start(1 << 20);
    const uint8_t not_a_request[] = {3, 0xff, 0xff, 0xff}; /* a frame of 3 bytes of garbage */
    assert_int_equal(wc_send_raw(&o->client, not_a_request, sizeof(not_a_request)), 0);
    until(o, got_bad, "the bad message");
    assert_string_equal(o->bad_why, "message is not an oracle.v1.Request");
    assert_int_equal(o->env.stats.bad_frames, 0);
    conn_flush_all(&o->env);
    struct response r;
    assert_int_equal(wc_recv(&o->client, &r, 2000), 0);
    assert_int_equal(r.kind, RESP_ERROR);
    assert_int_equal(r.u.error.code, WIRE_ERROR_BAD_REQUEST);
    /* Still served. */
    send_burst(o, 1, 8);
    until(o, delivered_8, "8 requests after it");
    assert_int_equal(o->leaving, 0);
    stop(o);
}

static void test_bad_framing_closes_after_the_error(void **state)
{
    (void)state;
    struct owner *o = start(1 << 20);
    /* A length of 65537: over the frame cap. */
    const uint8_t too_long[] = {0x81, 0x80, 0x04};
    assert_int_equal(wc_send_raw(&o->client, too_long, sizeof(too_long)), 0);
    until(o, got_bad, "the bad frame");
    assert_string_equal(o->bad_why, "frame length exceeds 65536 bytes");
    assert_int_equal(o->env.stats.bad_frames, 1);
    assert_int_equal(o->leaving, 1); /* no longer counted at once */
    assert_int_equal(o->closing, 0); /* ... but the error goes out first */
    conn_flush_all(&o->env);
    struct response r;
    assert_int_equal(wc_recv(&o->client, &r, 2000), 0);
    assert_int_equal(r.u.error.code, WIRE_ERROR_BAD_REQUEST);
    assert_string_equal(r.u.error.message, "frame length exceeds 65536 bytes");
    until(o, freed, "the close");
    assert_int_equal(wc_wait_closed(&o->client, 2000), 0);
    assert_int_equal(o->closing, 1);
    stop(o);
}

static bool delivered_all(const struct owner *o)
{
    return o->requests == 2000;
}

static void test_pause_holds_input_in_order(void **state)
{
    (void)state;
    /* An output cap of 8 KiB pauses input at 4 KiB of unsent replies. */
    struct owner *o = start(8192);
    send_burst(o, 1, 2000); /* ~16 KiB of requests, ~2000 replies of ~10 bytes */
    int64_t end = real_mono_ns() + 3000 * MS;
    while (o->c != NULL && o->c->in_len == 0 && real_mono_ns() < end) {
        uv_run(&o->loop, UV_RUN_NOWAIT);
    }
    if (o->c == NULL) {
        fail_msg("the connection closed (cut off: %llu) instead of pausing",
                 (unsigned long long)o->env.stats.cut_off);
    }
    /* Paused: part handled, the rest held, reading stopped, the replies not yet written. */
    assert_true(o->requests > 0 && o->requests < 2000);
    assert_true(o->c->in_len > 0);
    assert_false(o->c->reading);
    assert_true(o->c->out_len >= 4096 && o->c->out_len < 8192);
    /* Each flush writes the replies and hands the held frames over, in order. */
    while (!delivered_all(o) && real_mono_ns() < end + 3000 * MS) {
        conn_flush_all(&o->env);
        uv_run(&o->loop, UV_RUN_NOWAIT);
    }
    conn_flush_all(&o->env);
    assert_int_equal(o->requests, 2000);
    assert_false(o->out_of_order);
    assert_int_equal(o->env.stats.cut_off, 0);
    for (uint64_t id = 1; id <= 2000; id++) {
        struct response r;
        assert_int_equal(wc_recv(&o->client, &r, 2000), 0);
        assert_int_equal(r.id, id);
    }
    stop(o);
}

static void test_cut_off_past_the_output_cap(void **state)
{
    (void)state;
    struct owner *o = start(8192);
    o->replies_each = 4000; /* one request, 4000 replies: past 8 KiB before any flush */
    send_burst(o, 1, 1);
    until(o, freed, "the cut-off");
    assert_int_equal(o->env.stats.cut_off, 1);
    assert_true(o->leaving >= 1);
    assert_int_equal(o->closing, 1);
    assert_int_equal(wc_wait_closed(&o->client, 2000), 0);
    stop(o);
}

static void test_goodbye(void **state)
{
    (void)state;
    struct owner *o = start(1 << 20);
    o->env.clock_status = CB_STATUS_SYNCHRONIZED;
    conn_goodbye(o->c, WIRE_ERROR_OVERLOADED, true, "evicted: connection limit");
    assert_true(o->leaving >= 1); /* uncounted (again as it closes: leaving may repeat) */
    /* Written at once, not at the next flush. */
    struct response r;
    assert_int_equal(wc_recv(&o->client, &r, 2000), 0);
    assert_int_equal(r.id, 0);
    assert_int_equal(r.clock_status, CB_STATUS_SYNCHRONIZED);
    assert_int_equal(r.u.error.code, WIRE_ERROR_OVERLOADED);
    assert_true(r.u.error.retriable);
    assert_string_equal(r.u.error.message, "evicted: connection limit");
    until(o, freed, "the close");
    assert_int_equal(wc_wait_closed(&o->client, 2000), 0);
    stop(o);
}

static void test_idle_close_and_cut_off_count(void **state)
{
    (void)state;
    struct owner *o = start(1 << 20);
    assert_false(conn_unsent(o->c));
    conn_close_idle(o->c);
    conn_close_idle(o->c); /* closing already: counted once */
    conn_cut_off(o->c, "not counted either");
    until(o, freed, "the close");
    assert_int_equal(o->env.stats.idle_closed, 1);
    assert_int_equal(o->env.stats.cut_off, 0);
    assert_int_equal(o->closing, 1);
    assert_int_equal(o->freed, 1);
    stop(o);
}

static bool eof_seen(const struct owner *o)
{
    return o->c == NULL || o->c->eof;
}

static void test_half_close_answers_first(void **state)
{
    (void)state;
    struct owner *o = start(1 << 20);
    send_burst(o, 1, 8);
    assert_int_equal(shutdown(o->client.fd, SHUT_WR), 0);
    until(o, eof_seen, "the half-close");
    assert_int_equal(o->requests, 8);
    assert_non_null(o->c); /* replies still to write: not closed yet */
    conn_flush_all(&o->env);
    until(o, freed, "the close after the replies");
    for (uint64_t id = 1; id <= 8; id++) {
        struct response r;
        assert_int_equal(wc_recv(&o->client, &r, 2000), 0);
        assert_int_equal(r.id, id);
    }
    assert_int_equal(wc_wait_closed(&o->client, 2000), 0);
    stop(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests_batched_per_read),
        cmocka_unit_test(test_bad_message_keeps_the_connection),
        cmocka_unit_test(test_bad_framing_closes_after_the_error),
        cmocka_unit_test(test_pause_holds_input_in_order),
        cmocka_unit_test(test_cut_off_past_the_output_cap),
        cmocka_unit_test(test_goodbye),
        cmocka_unit_test(test_idle_close_and_cut_off_count),
        cmocka_unit_test(test_half_close_answers_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Integration: bad input and abuse against the real oracled, while a well-behaved client (the
 * sentinel, a thread) keeps asking for timestamps and commit-waits and checks every answer:
 * strictly increasing, and a commit-waited timestamp certainly past when its reply arrives.
 * Usage: it_abuse HOST:PORT HTTP_HOST:PORT   (run by it_abuse.sh, which starts the daemon)
 * With IT_ABUSE_TLS=HOST:PORT, the same daemon's TLS listener: handshakes mutated from a real
 * client's are thrown at it meanwhile (the sentinel stays on the plaintext port); with
 * IT_ABUSE_TLS_DIR too (client.pem, client.key, ca.pem), a TLS client that reads none of its
 * replies, then half-closes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "frame.h"
#include "it_checks.h"
#include "netaddr.h"
#include "test_seed.h"
#include "tlsctx.h"
#include "tlssess.h"
#include "wire_checks.h"
#include "wire_client.h"

#define TIMEOUT  5000 /* ms, per response */
#define TS_LIMIT (UINT64_C(1) << 63)

static const char *addr;
static const char *http_addr;

/* ---- The sentinel ---- */

static atomic_bool sentinel_stop;
static atomic_ulong sentinel_requests;
static atomic_ulong sentinel_regressions;
static atomic_ulong sentinel_failures;
static atomic_ulong sentinel_backpressure; /* retriable OVERLOADED/NOT_READY, retried */
static char sentinel_why[256];
static int sentinel_timeout_ms = TIMEOUT;

static void *sentinel(void *arg)
{
    (void)arg;
    struct wire_client c;
    if (wc_connect_addr(&c, addr) < 0) {
        snprintf(sentinel_why, sizeof(sentinel_why), "cannot connect");
        atomic_fetch_add(&sentinel_failures, 1);
        return NULL;
    }
    uint64_t last = 0;
    for (uint64_t id = 1; !atomic_load(&sentinel_stop); id++) {
        struct request q = wc_request(id, REQ_OP_GET_TIMESTAMP);
        q.commit_wait = id % 10 == 0;
        struct response r;
        int rc = wc_call(&c, &q, &r, sentinel_timeout_ms);
        if (rc == 0 && r.kind == RESP_ERROR && r.u.error.retriable &&
            (r.u.error.code == WIRE_ERROR_OVERLOADED || r.u.error.code == WIRE_ERROR_NOT_READY)) {
            /* Backpressure, as a well-behaved client takes it: with both cores busy the state
             * file's rewrite can lag (NOT_READY: nothing above the high-water mark on disk goes
             * out), or the timestamps run ahead of the clock (OVERLOADED). */
            atomic_fetch_add(&sentinel_backpressure, 1);
            usleep(1000);
            continue;
        }
        if (rc < 0 || r.kind != RESP_TIMESTAMPS) {
            snprintf(sentinel_why, sizeof(sentinel_why), "request %llu: %s", (unsigned long long)id,
                     rc < 0                 ? strerror(-rc)
                     : r.kind == RESP_ERROR ? r.u.error.message
                                            : "another kind of reply");
            atomic_fetch_add(&sentinel_failures, 1);
            break;
        }
        if (r.u.ts.first_ns <= last) {
            atomic_fetch_add(&sentinel_regressions, 1);
        }
        last = r.u.ts.first_ns;
        if (q.commit_wait) {
            /* Certainly past now: a Now sent after the reply shows earliest beyond it. */
            struct request n = wc_request(++id, REQ_OP_NOW);
            struct response b;
            rc = wc_call(&c, &n, &b, sentinel_timeout_ms);
            if (rc < 0 || b.kind != RESP_BOUNDS) {
                snprintf(sentinel_why, sizeof(sentinel_why),
                         "request %llu (Now after a commit-wait): %s", (unsigned long long)id,
                         rc < 0 ? strerror(-rc) : "not a Now reply");
                atomic_fetch_add(&sentinel_failures, 1);
                break;
            }
            if (b.u.bounds.earliest_ns <= r.u.ts.first_ns) {
                atomic_fetch_add(&sentinel_regressions, 1);
            }
        }
        atomic_fetch_add(&sentinel_requests, 1);
    }
    wc_close(&c);
    return NULL;
}

static pthread_t sentinel_thread;

static int start_sentinel(void **state)
{
    (void)state;
    atomic_store(&sentinel_stop, false);
    return pthread_create(&sentinel_thread, NULL, sentinel, NULL) == 0 ? 0 : -1;
}

/* Ends the sentinel and checks it was served throughout, with nothing out of order. */
static int stop_sentinel(void **state)
{
    (void)state;
    atomic_store(&sentinel_stop, true);
    pthread_join(sentinel_thread, NULL);
    unsigned long n = atomic_load(&sentinel_requests);
    unsigned long bad = atomic_load(&sentinel_regressions);
    unsigned long failed = atomic_load(&sentinel_failures);
    printf(
        "# sentinel: %lu timestamps, %lu regressions, %lu failures, %lu backpressure retries %s\n",
        n, bad, failed, atomic_load(&sentinel_backpressure), sentinel_why);
    return n > 100 && bad == 0 && failed == 0 ? 0 : -1;
}

/* ---- Helpers ---- */

/* A plain socket to a HOST:PORT (the HTTP port, or raw bytes to the oracle port). */
static int raw_connect(const char *where)
{
    struct sockaddr_storage ss;
    assert_int_equal(netaddr_parse(where, &ss), 0);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    socklen_t sl =
        ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    assert_int_equal(connect(fd, (struct sockaddr *)&ss, sl), 0);
    return fd;
}

/* Reads until the peer closes or timeout_ms pass without a byte; returns the bytes read (into
 * buf, cut), and whether the peer closed (the connection ended, by FIN or reset) in *closed. */
static size_t read_until_closed(int fd, char *buf, size_t cap, int timeout_ms, bool *closed)
{
    size_t len = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    *closed = false;
    while (poll(&p, 1, timeout_ms) > 0) {
        char tmp[4096];
        ssize_t n = recv(fd, tmp, sizeof(tmp), 0);
        if (n <= 0) {
            *closed = n == 0 || errno == ECONNRESET;
            break;
        }
        size_t take = (size_t)n < cap - len - 1 ? (size_t)n : cap - len - 1;
        memcpy(buf + len, tmp, take);
        len += take;
    }
    buf[len] = '\0';
    return len;
}

/* Waits (10 s at most) for the sentinel to be served after `before` of its requests: the
 * daemon still serves a well-behaved client after whatever a test did. */
static void sentinel_served_since(unsigned long before)
{
    for (int i = 0; atomic_load(&sentinel_requests) <= before; i++) {
        if (i == 1000) {
            fail_msg("the sentinel was not served for 10 s (%lu requests, %lu failures: %s)",
                     atomic_load(&sentinel_requests), atomic_load(&sentinel_failures),
                     sentinel_why);
        }
        usleep(10000);
    }
}

/* What the daemon must make of bytes sent (README, "The protocol"): each whole frame answered
 * once (a frame that is not a Request with BAD_REQUEST, id 0); a length varint longer than 10
 * bytes or above 64 KiB answered with BAD_REQUEST, id 0, and the connection closed; an
 * incomplete frame at the end dropped with the connection. Worked out with the daemon's own
 * frame and wire decoders. */
struct junk_plan {
    size_t frames;       /* whole frames before a bad length or the incomplete end */
    size_t not_requests; /* of which do not decode as a Request */
    bool bad_length;
};

static struct junk_plan plan_junk(const uint8_t *junk, size_t len)
{
    struct junk_plan p = {0, 0, false};
    struct arena a;
    assert_int_equal(arena_init(&a, 2 * FRAME_MAX_TOTAL), 0); /* the daemon's arena */
    size_t off = 0;
    while (off < len) {
        const uint8_t *msg = NULL;
        size_t msg_len = 0;
        int n = frame_decode(junk + off, len - off, FRAME_MAX_LEN, &msg, &msg_len);
        if (n == 0) {
            break;
        }
        if (n < 0) {
            p.bad_length = true;
            break;
        }
        struct request r;
        if (wire_decode_request(msg, msg_len, &a, &r) < 0) {
            p.not_requests++;
        }
        arena_reset(&a);
        p.frames++;
        off += (size_t)n;
    }
    arena_fini(&a);
    return p;
}

/* An error after which the daemon closes the connection (the clock not to be trusted now, or
 * shutting down): the frames after it go unanswered. */
static bool closing_error(const struct response *r)
{
    return r->kind == RESP_ERROR &&
           (r->u.error.code == WIRE_ERROR_CLOCK_UNAVAILABLE ||
            r->u.error.code == WIRE_ERROR_BOUND_TOO_WIDE ||
            r->u.error.code == WIRE_ERROR_NOT_READY || r->u.error.code == WIRE_ERROR_SHUTTING_DOWN);
}

/* ---- Abuse ---- */

/* Random bytes, 4 KiB on each of 64 connections, the client's side shut after them: every
 * connection gets exactly the answers the protocol gives those bytes (plan_junk), as whole
 * well-formed response frames, and is closed by the daemon; the sentinel is served on. */
static void test_random_bytes(void **state)
{
    (void)state;
    test_seed("test_random_bytes");
    unsigned long before = atomic_load(&sentinel_requests);
    size_t frames = 0, junk_frames = 0, bad_lengths = 0, cut_short = 0;
    for (int i = 0; i < 64; i++) {
        uint8_t junk[4096];
        for (size_t k = 0; k < sizeof(junk); k++) {
            junk[k] = (uint8_t)rand();
        }
        struct junk_plan plan = plan_junk(junk, sizeof(junk));
        frames += plan.frames;
        junk_frames += plan.not_requests;
        bad_lengths += plan.bad_length;
        struct wire_client c;
        wc_connect_or_fail(&c, addr);
        /* The daemon may close before taking it all in (a bad length): the send may fail. */
        (void)wc_send_raw(&c, junk, sizeof(junk));
        shutdown(c.fd, SHUT_WR);
        size_t replies = 0, bad_requests = 0;
        bool closing = false;
        int rc;
        struct response r;
        while ((rc = wc_recv(&c, &r, TIMEOUT)) == 0) {
            replies++;
            bad_requests +=
                r.kind == RESP_ERROR && r.u.error.code == WIRE_ERROR_BAD_REQUEST && r.id == 0;
            closing = closing || closing_error(&r);
        }
        if (rc != -EPIPE || c.len != 0) {
            fail_msg("connection %d: %s after %zu replies (%zu bytes of a frame left)", i,
                     rc == -EPIPE       ? "closed mid-frame"
                     : rc == -ETIMEDOUT ? "not closed by the daemon within 5 s"
                                        : strerror(-rc),
                     replies, c.len);
        }
        size_t want = plan.frames + plan.bad_length;
        if (closing) {
            /* An error that closes (NOT_READY under a loaded machine, say) ends the answers. */
            cut_short++;
            assert_true(replies <= want);
        } else if (replies != want || bad_requests < plan.not_requests + plan.bad_length) {
            fail_msg("connection %d: %zu frames (%zu not requests), bad length %s: %zu replies "
                     "(%zu BAD_REQUEST with id 0), expected %zu",
                     i, plan.frames, plan.not_requests, plan.bad_length ? "yes" : "no", replies,
                     bad_requests, want);
        }
        wc_close(&c);
    }
    printf("# random bytes: %zu whole frames (%zu not requests) and %zu bad lengths answered as "
           "the protocol says; %zu connections cut short by an error that closes\n",
           frames, junk_frames, bad_lengths, cut_short);
    /* The bytes were junk to the daemon, or this tested nothing. */
    assert_true(junk_frames + bad_lengths > 0);
    sentinel_served_since(before);
}

/* Half a frame, then the client goes: the daemon answers nothing, closes the connection at
 * once and holds nothing for it (its open connections back to what they were: the sentinel's),
 * and the sentinel is served on. Half of the clients shut their side and wait for the daemon to
 * close (an answer would show), half close outright. */
static void test_truncated_frame_then_close(void **state)
{
    (void)state;
    enum { N = 20 };
    uint64_t accepted = it_metric_or_fail(http_addr, "oracled_connections_accepted_total");
    uint64_t open = it_metric_or_fail(http_addr, "oracled_connections");
    uint64_t bad_frames = it_metric_or_fail(http_addr, "oracled_bad_frames_total");
    unsigned long before = atomic_load(&sentinel_requests);
    for (int i = 0; i < N; i++) {
        int fd = raw_connect(addr);
        uint8_t half[51] = {100}; /* a 100-byte message announced, 50 bytes of it sent */
        assert_int_equal(send(fd, half, sizeof(half), MSG_NOSIGNAL), (ssize_t)sizeof(half));
        if (i % 2 == 0) {
            shutdown(fd, SHUT_WR);
            char out[256];
            bool closed = false;
            size_t got = read_until_closed(fd, out, sizeof(out), TIMEOUT, &closed);
            if (!closed || got != 0) {
                fail_msg("connection %d: %s, %zu bytes answered", i,
                         closed ? "closed" : "not closed within 5 s", got);
            }
        }
        close(fd);
    }
    /* Every one accepted, then none left open. */
    uint64_t now_accepted = accepted;
    uint64_t now_open = open + N;
    for (int i = 0; now_accepted < accepted + N || now_open != open; i++) {
        if (i == 1000) {
            fail_msg("after %d half frames: %llu accepted, %llu open (%llu before)", N,
                     (unsigned long long)(now_accepted - accepted), (unsigned long long)now_open,
                     (unsigned long long)open);
        }
        usleep(10000);
        now_accepted = it_metric_or_fail(http_addr, "oracled_connections_accepted_total");
        now_open = it_metric_or_fail(http_addr, "oracled_connections");
    }
    assert_int_equal(now_accepted, accepted + N);
    /* A peer that left mid-frame is not a framing error. */
    assert_int_equal(it_metric_or_fail(http_addr, "oracled_bad_frames_total"), bad_frames);
    sentinel_served_since(before);
}

static void test_unknown_fields_and_no_op(void **state)
{
    (void)state;
    struct wire_client c;
    wc_connect_or_fail(&c, addr);
    /* id 5, field 15 (varint 7), no op: UNSUPPORTED, the connection kept. */
    const uint8_t no_op[] = {4, 0x08, 0x05, 0x78, 0x07};
    assert_int_equal(wc_send_raw(&c, no_op, sizeof(no_op)), 0);
    struct response r;
    assert_int_equal(wc_recv(&c, &r, TIMEOUT), 0);
    assert_int_equal(r.id, 5);
    wc_expect_error(&r, WIRE_ERROR_UNSUPPORTED);
    /* id 6, Now, plus an unknown field 20 (a string): served, the field ignored. */
    const uint8_t now_extra[] = {8, 0x08, 0x06, 0x1a, 0x00, 0xa2, 0x01, 0x01, 'x'};
    assert_int_equal(wc_send_raw(&c, now_extra, sizeof(now_extra)), 0);
    assert_int_equal(wc_recv(&c, &r, TIMEOUT), 0);
    assert_int_equal(r.id, 6);
    assert_int_equal(r.kind, RESP_BOUNDS);
    wc_close(&c);
}

static void test_counts_and_timestamp_limits(void **state)
{
    (void)state;
    struct wire_client c;
    wc_connect_or_fail(&c, addr);
    struct request q = wc_request(1, REQ_OP_GET_TIMESTAMP);
    q.count = 0; /* means 1 */
    struct response r = wc_call_or_fail(&c, &q, TIMEOUT);
    assert_int_equal(r.kind, RESP_TIMESTAMPS);
    assert_int_equal(r.u.ts.count, 1);
    q = wc_request(2, REQ_OP_GET_TIMESTAMP);
    q.count = 65536;
    r = wc_call_or_fail(&c, &q, TIMEOUT);
    assert_int_equal(r.u.ts.count, 65536);
    q = wc_request(3, REQ_OP_GET_TIMESTAMP);
    q.count = 65537;
    r = wc_call_or_fail(&c, &q, TIMEOUT);
    wc_expect_error(&r, WIRE_ERROR_BAD_REQUEST);
    /* ts 0 is long past; 2^63 and UINT64_MAX are not timestamps. */
    const enum req_op ops[] = {REQ_OP_BEFORE, REQ_OP_AFTER, REQ_OP_WAIT_UNTIL};
    for (size_t i = 0; i < 3; i++) {
        q = wc_request(10 + i, ops[i]);
        q.ts_ns = 0;
        r = wc_call_or_fail(&c, &q, TIMEOUT);
        if (ops[i] == REQ_OP_BEFORE) {
            assert_int_equal(r.kind, RESP_BEFORE);
            assert_true(r.u.answer);
        } else if (ops[i] == REQ_OP_AFTER) {
            assert_int_equal(r.kind, RESP_AFTER);
            assert_false(r.u.answer);
        } else {
            assert_int_equal(r.kind, RESP_WAITED);
            assert_int_equal(r.u.waited_ns, 0);
        }
        const uint64_t bad[] = {TS_LIMIT, UINT64_MAX};
        for (size_t k = 0; k < 2; k++) {
            q = wc_request(20 + 2 * i + k, ops[i]);
            q.ts_ns = bad[k];
            r = wc_call_or_fail(&c, &q, TIMEOUT);
            wc_expect_error(&r, WIRE_ERROR_BAD_REQUEST);
        }
    }
    wc_close(&c);
}

/* Two requests in flight with the same id: each is answered, once. */
static void test_duplicate_ids(void **state)
{
    (void)state;
    struct wire_client c;
    wc_connect_or_fail(&c, addr);
    struct request a = wc_request(42, REQ_OP_GET_TIMESTAMP);
    a.commit_wait = true;
    struct request b = wc_request(42, REQ_OP_NOW);
    assert_int_equal(wc_send(&c, &a), 0);
    assert_int_equal(wc_send(&c, &b), 0);
    bool got_ts = false;
    bool got_now = false;
    for (int i = 0; i < 2; i++) {
        struct response r;
        assert_int_equal(wc_recv(&c, &r, TIMEOUT), 0);
        assert_int_equal(r.id, 42);
        got_ts = got_ts || r.kind == RESP_TIMESTAMPS;
        got_now = got_now || r.kind == RESP_BOUNDS;
    }
    assert_true(got_ts && got_now);
    wc_close(&c);
}

/* Many connections opened and held while the sentinel goes on. */
static void test_many_connections_held(void **state)
{
    (void)state;
    enum { N = 10000 };
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < N + 100) {
        rl.rlim_cur = rl.rlim_max < N + 100 ? rl.rlim_max : N + 100;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    if (rl.rlim_cur < N + 100) {
        fail_msg("need %d file descriptors, the hard limit is %llu", N + 100,
                 (unsigned long long)rl.rlim_max);
    }
    static int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = raw_connect(addr);
    }
    sentinel_served_since(atomic_load(&sentinel_requests));
    /* And a new client is still served next to them. */
    struct wire_client c;
    wc_connect_or_fail(&c, addr);
    struct request q = wc_request(1, REQ_OP_NOW);
    struct response r = wc_call_or_fail(&c, &q, TIMEOUT);
    assert_int_equal(r.kind, RESP_BOUNDS);
    wc_close(&c);
    for (int i = 0; i < N; i++) {
        close(fds[i]);
    }
}

/* A request dribbled one byte a second is still answered, and holds up no one. */
static void test_one_byte_at_a_time(void **state)
{
    (void)state;
    struct wire_client c;
    wc_connect_or_fail(&c, addr);
    const uint8_t req[] = {4, 0x08, 0x09, 0x1a, 0x00}; /* id 9, Now */
    unsigned long before = atomic_load(&sentinel_requests);
    for (size_t i = 0; i < sizeof(req); i++) {
        assert_int_equal(wc_send_raw(&c, req + i, 1), 0);
        if (i + 1 < sizeof(req)) {
            sleep(1);
        }
    }
    struct response r;
    assert_int_equal(wc_recv(&c, &r, TIMEOUT), 0);
    assert_int_equal(r.id, 9);
    assert_int_equal(r.kind, RESP_BOUNDS);
    assert_true(atomic_load(&sentinel_requests) > before + 10);
    wc_close(&c);
}

static void test_http_garbage_and_oversized(void **state)
{
    (void)state;
    char out[8192];
    bool closed = false;
    int fd = raw_connect(http_addr);
    const char garbage[] = "\x01\x02 NOT HTTP \xff\r\n\r\n";
    (void)send(fd, garbage, sizeof(garbage) - 1, MSG_NOSIGNAL);
    (void)read_until_closed(fd, out, sizeof(out), 2000, &closed);
    assert_non_null(strstr(out, "HTTP/1.1 400"));
    close(fd);

    fd = raw_connect(http_addr);
    static char big[12000];
    memcpy(big, "GET /healthz HTTP/1.1\r\nX-Big: ", 30);
    memset(big + 30, 'a', sizeof(big) - 30);
    (void)send(fd, big, sizeof(big), MSG_NOSIGNAL);
    (void)read_until_closed(fd, out, sizeof(out), 2000, &closed);
    assert_true(strstr(out, "HTTP/1.1 431") != NULL || strstr(out, "HTTP/1.1 400") != NULL);
    close(fd);

    fd = raw_connect(http_addr);
    const char ok[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    (void)send(fd, ok, sizeof(ok) - 1, MSG_NOSIGNAL);
    (void)read_until_closed(fd, out, sizeof(out), 2000, &closed);
    assert_non_null(strstr(out, "HTTP/1.1 200"));
    close(fd);
}

/* Fuzzing the handshake over the network: a real client's ClientHello (OpenSSL's, made here),
 * mutated each round (bytes flipped, cut short, bytes inserted, or random records after a
 * handshake record's first byte), sent on a fresh connection to the TLS listener, which must
 * answer with an alert or a close, never a session, never a stall, while the sentinel is served.
 * Rounds and seed are printed; TEST_SEED=N repeats them. */
#define TLS_ROUNDS 1500

static size_t mutate(const uint8_t *hello, size_t len, uint8_t *out, size_t cap)
{
    size_t n = len;
    memcpy(out, hello, len);
    switch (rand() % 4) {
    case 0: /* a few bytes flipped */
        for (int k = 1 + rand() % 8; k > 0; k--) {
            out[(size_t)rand() % n] ^= (uint8_t)(1 + rand() % 255);
        }
        break;
    case 1: /* cut short */
        n = 1 + (size_t)rand() % (len - 1);
        break;
    case 2: { /* bytes inserted */
        size_t at = (size_t)rand() % n;
        size_t k = 1 + (size_t)rand() % 64;
        if (n + k > cap) {
            k = cap - n;
        }
        memmove(out + at + k, out + at, n - at);
        for (size_t i = 0; i < k; i++) {
            out[at + i] = (uint8_t)rand();
        }
        n += k;
        break;
    }
    default: /* a handshake record's type, then noise */
        n = 1 + (size_t)rand() % (cap - 1);
        out[0] = 0x16;
        for (size_t i = 1; i < n; i++) {
            out[i] = (uint8_t)rand();
        }
        break;
    }
    return n;
}

static void test_tls_handshake_mutations(void **state)
{
    (void)state;
    const char *tls_addr = getenv("IT_ABUSE_TLS");
    if (tls_addr == NULL || tls_addr[0] == '\0') {
        skip();
    }
    unsigned seed = test_seed("test_tls_handshake_mutations");
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(ctx);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    struct tlssess t;
    assert_int_equal(tlssess_init(&t, ctx, false, "oracled"), 0);
    assert_int_equal(tlssess_handshake(&t), 0);
    uint8_t hello[2048];
    size_t hello_len = tlssess_take(&t, hello, sizeof(hello));
    tlssess_fini(&t);
    SSL_CTX_free(ctx);
    assert_true(hello_len > 100 && hello_len < sizeof(hello));

    unsigned long before = atomic_load(&sentinel_requests);
    unsigned alerts = 0, answered = 0;
    for (int round = 0; round < TLS_ROUNDS; round++) {
        uint8_t out[4096];
        size_t n = mutate(hello, hello_len, out, sizeof(out));
        int fd = raw_connect(tls_addr);
        (void)send(fd, out, n, MSG_NOSIGNAL);
        shutdown(fd, SHUT_WR); /* then nothing more: the server decides now */
        char in[8192];
        bool closed = false;
        size_t got = read_until_closed(fd, in, sizeof(in), 3000, &closed);
        if (!closed) {
            fail_msg("round %d (seed %u): the connection was still open after 3 s", round, seed);
        }
        /* An alert record, or a server's first flight to a hello that survived (it then
         * waits for a Finished that never comes, and sees the close). */
        alerts += got > 0 && (uint8_t)in[0] == 0x15;
        answered += got > 0 && (uint8_t)in[0] == 0x16;
        close(fd);
    }
    print_message("# %d mutated handshakes (seed %u): %u alerts, %u answered with a server "
                  "flight, the rest closed\n",
                  TLS_ROUNDS, seed, alerts, answered);
    sentinel_served_since(before);
}

/* ---- A TLS client that does not read ---- */

/* A client context with the certificate in IT_ABUSE_TLS_DIR, and IT_ABUSE_TLS in *where. Skips
 * the test when the variables are not set. */
static SSL_CTX *tls_client_ctx(const char **where)
{
    const char *dir = getenv("IT_ABUSE_TLS_DIR");
    *where = getenv("IT_ABUSE_TLS");
    if (*where == NULL || (*where)[0] == '\0' || dir == NULL || dir[0] == '\0') {
        skip();
    }
    char cert[256], key[256], ca[256], why[TLSCTX_WHY_MAX];
    snprintf(cert, sizeof(cert), "%s/client.pem", dir);
    snprintf(key, sizeof(key), "%s/client.key", dir);
    snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
    struct tlsctx_settings s = {.cert = cert, .key = key, .ca = ca};
    SSL_CTX *ctx = tlsctx_client_new(&s, why, sizeof(why));
    if (ctx == NULL) {
        fail_msg("client context: %s", why);
    }
    return ctx;
}

/* Runs t's handshake over the blocking fd to its end; leaves fd non-blocking. */
static void tls_finish_holding(struct tlssess *t, int *fd, bool hold);

static void tls_finish(struct tlssess *t, int *fd)
{
    tls_finish_holding(t, fd, false);
}

/* ... hold: the client's last flight (its Finished) is left in t, to go with what is written
 * next. */
static void tls_finish_holding(struct tlssess *t, int *fd, bool hold)
{
    for (int i = 0; i < 100; i++) {
        int rc = tlssess_handshake(t);
        if (rc == 1 && hold) {
            fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK);
            return;
        }
        uint8_t buf[16384];
        size_t n;
        while ((n = tlssess_take(t, buf, sizeof(buf))) > 0) {
            assert_int_equal(send(*fd, buf, n, MSG_NOSIGNAL), (ssize_t)n);
        }
        if (rc == 1) {
            fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK);
            return;
        }
        if (rc < 0) {
            fail_msg("handshake: %s", t->why);
        }
        struct pollfd p = {.fd = *fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, TIMEOUT), 1);
        ssize_t got = recv(*fd, buf, sizeof(buf), 0);
        assert_true(got > 0);
        assert_int_equal(tlssess_feed(t, buf, (size_t)got), 0);
    }
    fail_msg("the handshake did not finish");
}

/* A mutual TLS session on fd to IT_ABUSE_TLS, fd left non-blocking (tls_client_ctx). */
static SSL_CTX *tls_client(struct tlssess *t, int *fd)
{
    const char *where;
    SSL_CTX *ctx = tls_client_ctx(&where);
    assert_int_equal(tlssess_init(t, ctx, false, "localhost"), 0);
    *fd = raw_connect(where);
    tls_finish(t, fd);
    return ctx;
}

/* Many handshakes arriving together: each ClientHello sent on its own connection before any
 * handshake goes on. The server runs a handshake step a loop turn (hspacer.h), so most of
 * these wait for a later turn (it_abuse.sh checks oracled_tls_handshake_steps_deferred_total),
 * and every one still finishes (a Now, sent with a half-close, answered on each), while the
 * sentinel is served. */
#define HELLOS 64

static void test_tls_handshakes_at_once(void **state)
{
    (void)state;
    const char *where;
    SSL_CTX *ctx = tls_client_ctx(&where);
    static struct tlssess t[HELLOS];
    int fd[HELLOS];
    unsigned long before = atomic_load(&sentinel_requests);
    for (int i = 0; i < HELLOS; i++) {
        assert_int_equal(tlssess_init(&t[i], ctx, false, "localhost"), 0);
        fd[i] = raw_connect(where);
    }
    for (int i = 0; i < HELLOS; i++) {
        assert_int_equal(tlssess_handshake(&t[i]), 0);
        uint8_t hello[4096];
        size_t n = tlssess_take(&t[i], hello, sizeof(hello));
        assert_int_equal(send(fd[i], hello, n, MSG_NOSIGNAL), (ssize_t)n);
    }
    for (int i = 0; i < HELLOS; i++) {
        tls_finish_holding(&t[i], &fd[i], true);
    }
    /* The client's side finishes first (TLS 1.3): each sends its Finished, a Now and a FIN
     * together, all 64 at once, so the server finds most of them waiting their turn with the
     * client gone; a Now answered on each shows the server finished every handshake. */
    for (int i = 0; i < HELLOS; i++) {
        struct request q = wc_request(1, REQ_OP_NOW);
        uint8_t req[64];
        int n = wire_encode_request(&q, req, sizeof(req));
        assert_true(n > 0);
        assert_int_equal(tlssess_write(&t[i], req, (size_t)n), 0);
        uint8_t out[4096];
        size_t len = tlssess_take(&t[i], out, sizeof(out));
        assert_int_equal(send(fd[i], out, len, MSG_NOSIGNAL), (ssize_t)len);
        assert_int_equal(shutdown(fd[i], SHUT_WR), 0);
    }
    for (int i = 0; i < HELLOS; i++) {
        uint8_t plain[256];
        ssize_t got = 0;
        for (int k = 0; k < 100 && got == 0; k++) {
            struct pollfd p = {.fd = fd[i], .events = POLLIN};
            if (poll(&p, 1, TIMEOUT) != 1) {
                fail_msg("handshake %d: no reply to a Now within %d ms", i, TIMEOUT);
            }
            uint8_t in[4096];
            ssize_t r = recv(fd[i], in, sizeof(in), 0);
            if (r <= 0) {
                fail_msg("handshake %d: closed instead of a reply to a Now", i);
            }
            assert_int_equal(tlssess_feed(&t[i], in, (size_t)r), 0);
            got = tlssess_read(&t[i], plain, sizeof(plain));
            if (got < 0) {
                fail_msg("handshake %d: %s", i, t[i].why);
            }
        }
        assert_true(got > 0);
        close(fd[i]);
        tlssess_fini(&t[i]);
    }
    SSL_CTX_free(ctx);
    sentinel_served_since(before);
}

#define UNREAD_BATCH   256                 /* commit-waits a record */
#define UNREAD_CAP     (256 * 1024 * 1024) /* bytes a client may push before the server must pause */
#define UNREAD_STALL_S 1.5                 /* no byte taken for this long: paused */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A client sends commit-waits, batch after batch, and reads nothing. The server answers until
 * its replies back up, then must stop reading: the client's sends stall well before
 * UNREAD_CAP bytes (a server that kept reading would buffer the records without bound). The
 * client then half-closes (TCP, no close_notify: the server's session still holds records
 * read before the pause) and reads: every request sent whole is answered, exactly once, and the
 * replies end with close_notify. The sentinel is served throughout. */
static void test_tls_unread_replies_then_half_close(void **state)
{
    (void)state;
    struct tlssess t;
    int fd;
    SSL_CTX *ctx = tls_client(&t, &fd);
    unsigned long before = atomic_load(&sentinel_requests);

    static uint8_t records[64 * 1024];
    size_t rec_len = 0, rec_off = 0;
    uint64_t next_id = 1, sent_whole = 0; /* requests in records sent completely */
    uint64_t batch_end = 0;               /* the last id in records[] */
    size_t pushed = 0;
    double last_progress = mono_s();
    bool stalled = false;
    while (pushed < UNREAD_CAP) {
        if (rec_off == rec_len) {
            sent_whole = batch_end;
            uint8_t plain[UNREAD_BATCH * 32];
            size_t plain_len = 0;
            for (int i = 0; i < UNREAD_BATCH; i++) {
                struct request q = wc_request(next_id++, REQ_OP_GET_TIMESTAMP);
                q.commit_wait = true;
                int n = wire_encode_request(&q, plain + plain_len, sizeof(plain) - plain_len);
                assert_true(n > 0);
                plain_len += (size_t)n;
            }
            batch_end = next_id - 1;
            assert_int_equal(tlssess_write(&t, plain, plain_len), 0);
            rec_len = tlssess_take(&t, records, sizeof(records));
            rec_off = 0;
        }
        ssize_t n = send(fd, records + rec_off, rec_len - rec_off, MSG_NOSIGNAL);
        if (n > 0) {
            rec_off += (size_t)n;
            pushed += (size_t)n;
            last_progress = mono_s();
            continue;
        }
        assert_true(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
        if (mono_s() - last_progress >= UNREAD_STALL_S) {
            stalled = true;
            break;
        }
        usleep(10000);
    }
    if (rec_off == rec_len) {
        sent_whole = batch_end;
    }
    if (!stalled) {
        fail_msg("the server took %zu bytes of requests from a client reading none of its "
                 "replies without pausing",
                 pushed);
    }
    print_message("# a client not reading: the server paused after %zu bytes (%llu commit-waits "
                  "sent whole)\n",
                  pushed, (unsigned long long)sent_whole);
    sentinel_served_since(before);

    /* Half-close, then read every reply. */
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    static uint8_t seen[UNREAD_CAP / 8 / 16];
    memset(seen, 0, sizeof(seen));
    assert_true(sent_whole < sizeof(seen) * 8);
    static uint8_t plain[2 * FRAME_MAX_TOTAL];
    size_t plain_len = 0;
    uint64_t replies = 0, dupes = 0, strangers = 0, errors = 0;
    char error_text[128] = "";
    struct arena a;
    assert_int_equal(arena_init(&a, 2 * FRAME_MAX_TOTAL), 0);
    bool notify = false, closed = false;
    while (!notify && !closed) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, TIMEOUT) != 1) {
            fail_msg("no byte for %d ms after %llu of %llu replies", TIMEOUT,
                     (unsigned long long)replies, (unsigned long long)sent_whole);
        }
        uint8_t buf[65536];
        ssize_t got = recv(fd, buf, sizeof(buf), 0);
        if (got <= 0) {
            closed = true;
            break;
        }
        assert_int_equal(tlssess_feed(&t, buf, (size_t)got), 0);
        for (;;) {
            ssize_t n = tlssess_read(&t, plain + plain_len, sizeof(plain) - plain_len);
            if (n == TLSSESS_EOF) {
                notify = true;
                break;
            }
            if (n < 0) {
                fail_msg("reading replies: %s", t.why);
            }
            if (n == 0) {
                break;
            }
            plain_len += (size_t)n;
            size_t off = 0;
            const uint8_t *msg;
            size_t msg_len;
            int f;
            while ((f = frame_decode(plain + off, plain_len - off, FRAME_MAX_LEN, &msg, &msg_len)) >
                   0) {
                struct response r;
                assert_int_equal(wire_decode_response(msg, msg_len, &a, &r), 0);
                arena_reset(&a);
                if (r.id == 0 || r.id > sent_whole) {
                    strangers += r.id > batch_end || r.id == 0;
                } else if (seen[r.id / 8] & (1u << (r.id % 8))) {
                    dupes++;
                } else {
                    seen[r.id / 8] |= (uint8_t)(1u << (r.id % 8));
                    replies++;
                    errors += r.kind == RESP_ERROR;
                    if (r.kind == RESP_ERROR && error_text[0] == '\0') {
                        snprintf(error_text, sizeof(error_text), "%s", r.u.error.message);
                    }
                }
                off += (size_t)f;
            }
            assert_true(f == 0);
            memmove(plain, plain + off, plain_len - off);
            plain_len -= off;
        }
    }
    arena_fini(&a);
    print_message("# after the half-close: %llu replies of %llu (%llu errors%s%s), %llu twice, "
                  "%llu unasked; %s\n",
                  (unsigned long long)replies, (unsigned long long)sent_whole,
                  (unsigned long long)errors, errors > 0 ? ", the first: " : "", error_text,
                  (unsigned long long)dupes, (unsigned long long)strangers,
                  notify ? "close_notify" : "closed without close_notify");
    assert_int_equal(dupes, 0);
    assert_int_equal(strangers, 0);
    if (replies != sent_whole) {
        fail_msg("%llu of %llu commit-waits sent whole were answered", (unsigned long long)replies,
                 (unsigned long long)sent_whole);
    }
    if (!notify) {
        fail_msg("the replies did not end with close_notify");
    }
    close(fd);
    tlssess_fini(&t);
    SSL_CTX_free(ctx);
    sentinel_served_since(atomic_load(&sentinel_requests));
}

/* A client sending nothing but KeyUpdates, thousands in one go (each costs the server a key
 * derivation): the server closes it, having handled at most a step's worth past the burst, and
 * the sentinel is served on. */
static void test_tls_key_update_flood(void **state)
{
    (void)state;
    struct tlssess t;
    int fd;
    SSL_CTX *ctx = tls_client(&t, &fd);
    unsigned long before = atomic_load(&sentinel_requests);
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    static uint8_t records[5000 * 32];
    size_t len = 0;
    for (int i = 0; i < 5000; i++) {
        assert_int_equal(SSL_key_update(t.ssl, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
        assert_int_equal(SSL_do_handshake(t.ssl), 1);
        len += tlssess_take(&t, records + len, sizeof(records) - len);
    }
    (void)send(fd, records, len, MSG_NOSIGNAL); /* the server may close before taking it all */
    char in[4096];
    bool closed = false;
    (void)read_until_closed(fd, in, sizeof(in), 3000, &closed);
    if (!closed) {
        fail_msg("a client sending only KeyUpdates (%zu bytes of them) was still connected "
                 "after 3 s",
                 len);
    }
    close(fd);
    tlssess_fini(&t);
    SSL_CTX_free(ctx);
    sentinel_served_since(before);
}

int main(int argc, char **argv)
{
    if (argc != 3 && !(argc == 5 && strcmp(argv[3], "sentinel") == 0)) {
        fprintf(stderr, "usage: it_abuse HOST:PORT HTTP_HOST:PORT [sentinel SECONDS]\n");
        return 2;
    }
    addr = argv[1];
    http_addr = argv[2];
    if (argc == 5) {
        /* The sentinel alone, with a 1 s timeout: for the control that shows it noticing a
         * server that stops answering. */
        sentinel_timeout_ms = 1000;
        start_sentinel(NULL);
        usleep((useconds_t)(atof(argv[4]) * 1e6));
        return stop_sentinel(NULL) == 0 ? 0 : 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_truncated_frame_then_close),
        cmocka_unit_test(test_unknown_fields_and_no_op),
        cmocka_unit_test(test_counts_and_timestamp_limits),
        cmocka_unit_test(test_duplicate_ids),
        cmocka_unit_test(test_many_connections_held),
        cmocka_unit_test(test_one_byte_at_a_time),
        cmocka_unit_test(test_http_garbage_and_oversized),
        cmocka_unit_test(test_tls_handshake_mutations),
        cmocka_unit_test(test_tls_unread_replies_then_half_close),
        cmocka_unit_test(test_tls_key_update_flood),
        cmocka_unit_test(test_tls_handshakes_at_once),
    };
    return cmocka_run_group_tests(tests, start_sentinel, stop_sentinel);
}

/*
 * Unit tests: the HTTP endpoint (oracle/httpd.c) on a libuv loop, with a trivial handler and
 * plain loopback TCP clients driven from the test: exact responses (GET, HEAD, 404, 405, a body,
 * malformed), a head split over many writes and across the 1 KiB buffer's end, head sizes at the
 * 1 KiB and 8 KiB edges and past them (431), the 1 s head deadline (408), the connection cap
 * (the connection waiting longest without a complete head evicted, a complete request still
 * answered, a waiting head that has arrived answered rather than evicted, refusal when every
 * connection is being answered), the counters, httpd_init's errors and closing.
 *
 * A client's bytes are known to be in the server's socket before the loop runs again (the
 * kernel has acknowledged them: SIOCOUTQ is 0), so what the server has received at an accept
 * or a read is what the test sent, on any machine load.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "httpd.h"
#include "log.h"
#include "loop_until.h"
#include "util.h"

#define WAIT_MS     10000
#define MAX_CLIENTS 32
#define GET_ROOT    "GET / HTTP/1.1\r\nHost: oracled\r\n\r\n"
#define HALF_HEAD   "GET / HTTP/1.1\r\nHost: ora"

struct env {
    uv_loop_t loop;
    struct httpd h;
    bool h_open;
    unsigned closed_calls;
    uint16_t port;
    unsigned handler_calls;
    char last_target[HTTP_MAX_TARGET];
    size_t big_len; /* the body of GET /big */
    int fds[MAX_CLIENTS];
    int n_fds;
};

/* The handler: "/" is hello, "/big" a body larger than the socket buffers hold, anything else
 * left at the module's default (404), with a body. */
static void handler(void *ctx, const struct http_request *req, int *status,
                    const char **content_type, struct strbuf *body)
{
    struct env *e = ctx;
    e->handler_calls++;
    snprintf(e->last_target, sizeof(e->last_target), "%s", req->target);
    if (strcmp(req->target, "/") == 0) {
        *status = 200;
        *content_type = "text/plain";
        strbuf_printf(body, "hello\n");
    } else if (strcmp(req->target, "/big") == 0) {
        static char chunk[65537];
        memset(chunk, 'x', sizeof(chunk) - 1);
        *status = 200;
        for (size_t n = 0; n < e->big_len; n += sizeof(chunk) - 1) {
            strbuf_printf(body, "%s", chunk);
        }
    } else {
        strbuf_printf(body, "not here\n");
    }
}

static void on_closed(struct httpd *h)
{
    struct env *e = container_of(h, struct env, h);
    e->closed_calls++;
}

static int setup_cap(void **state, size_t cap)
{
    struct env *e = calloc(1, sizeof(*e));
    if (e == NULL || uv_loop_init(&e->loop) != 0) {
        free(e);
        return -1;
    }
    log_threshold = LOG_LEVEL_ERR;
    *state = e;
    const char *addrs[] = {"127.0.0.1:0"};
    int rc = httpd_init(&e->h, &e->loop, addrs, 1, cap, NULL, handler, e);
    e->h_open = true;
    if (rc < 0) {
        return -1;
    }
    struct sockaddr_in sa;
    int len = sizeof(sa);
    if (uv_tcp_getsockname(&e->h.listeners[0], (struct sockaddr *)&sa, &len) != 0) {
        return -1;
    }
    e->port = ntohs(sa.sin_port);
    return 0;
}

static int setup(void **state)
{
    return setup_cap(state, 8);
}

static int setup_cap3(void **state)
{
    return setup_cap(state, 3);
}

static int setup_cap2(void **state)
{
    return setup_cap(state, 2);
}

static bool closed_once(void *arg)
{
    return ((struct env *)arg)->closed_calls > 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    for (int i = 0; i < e->n_fds; i++) {
        close(e->fds[i]);
    }
    bool closed = true;
    if (e->h_open) {
        e->h_open = false;
        httpd_close(&e->h, on_closed);
        closed = loop_until(&e->loop, closed_once, e, WAIT_MS);
    }
    int rc = loop_close_all(&e->loop);
    free(e);
    return closed && rc == 0 ? 0 : -1;
}

/* The endpoint's snapshot, as /metrics reads it. */
static struct httpd_stats stats_of(const struct env *e)
{
    struct httpd_stats st;
    memset(&st, 0xa5, sizeof(st));
    httpd_stats(&e->h, &st);
    return st;
}

/* --- clients --- */

static void forget(struct env *e, int fd)
{
    for (int i = 0; i < e->n_fds; i++) {
        if (e->fds[i] == fd) {
            e->fds[i] = e->fds[--e->n_fds];
            return;
        }
    }
}

/* A connected client (the kernel completes the handshake; the server accepts on the loop).
 * rcvbuf > 0: that small a receive buffer. */
static int connect_rcvbuf(struct env *e, int rcvbuf)
{
    assert_true(e->n_fds < MAX_CLIENTS);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    e->fds[e->n_fds++] = fd;
    int one = 1;
    assert_int_equal(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
    if (rcvbuf > 0) {
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
    }
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(e->port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static int connect_client(struct env *e)
{
    return connect_rcvbuf(e, 0);
}

/* Sends len bytes and waits until the server's kernel has them (acknowledged). */
static void send_acked(int fd, const void *data, size_t len)
{
    const char *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t n = send(fd, p + done, len - done, MSG_NOSIGNAL);
        assert_true(n > 0);
        done += (size_t)n;
    }
    for (int i = 0; i < WAIT_MS; i++) {
        int unacked = -1;
        assert_int_equal(ioctl(fd, SIOCOUTQ, &unacked), 0);
        if (unacked == 0) {
            return;
        }
        usleep(1000);
    }
    fail_msg("%zu bytes not acknowledged within %d ms", len, WAIT_MS);
}

static void send_str(int fd, const char *s)
{
    send_acked(fd, s, strlen(s));
}

/* Reading a response until the server closes the connection. */
struct reader {
    int fd;
    char buf[16384];
    size_t len;
    bool eof;
    int err; /* errno of a failed recv (ECONNRESET), 0 if none */
};

static bool read_done(void *arg)
{
    struct reader *r = arg;
    for (;;) {
        char *dst = r->buf + r->len;
        size_t room = sizeof(r->buf) - 1 - r->len;
        char scratch[4096];
        if (room == 0) {
            dst = scratch; /* a response longer than kept: counted, not kept */
            room = sizeof(scratch);
        }
        ssize_t n = recv(r->fd, dst, room, MSG_DONTWAIT);
        if (n > 0) {
            if (dst != scratch) {
                r->len += (size_t)n;
                r->buf[r->len] = '\0';
            }
            continue;
        }
        if (n == 0) {
            r->eof = true;
            return true;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            r->err = errno;
            return true;
        }
        return false;
    }
}

/* Everything the server sends on fd until it closes the connection. */
static const char *read_all(struct env *e, int fd, struct reader *r)
{
    memset(r, 0, sizeof(*r));
    r->fd = fd;
    if (!loop_until(&e->loop, read_done, r, WAIT_MS)) {
        fail_msg("connection not closed within %d ms (%zu bytes: '%s')", WAIT_MS, r->len, r->buf);
    }
    if (r->err != 0) {
        fail_msg("recv: %s after %zu bytes", strerror(r->err), r->len);
    }
    return r->buf;
}

/* Nothing has come on fd and it is still open. */
static void assert_waiting(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);
    if (n != -1 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        fail_msg("connection not waiting: recv %zd (%s)", n, n < 0 ? strerror(errno) : "data");
    }
}

/* The response the module writes. */
static const char *response(int status, const char *reason, const char *type, const char *body,
                            bool head_only, const char *extra)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf),
             "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
             "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n%s",
             status, reason, type, strlen(body), extra, head_only ? "" : body);
    return buf;
}

#define PLAIN "text/plain; charset=utf-8"

static const char *hello(void)
{
    return response(200, "OK", "text/plain", "hello\n", false, "");
}

/* One request on a fresh connection, its whole answer. The request is in the server's socket
 * before the loop runs: it is read at the accept. */
static const char *exchange(struct env *e, const char *req, struct reader *r)
{
    int fd = connect_client(e);
    send_str(fd, req);
    return read_all(e, fd, r);
}

static void expect_exchange(struct env *e, const char *what, const char *req, const char *want)
{
    struct reader r;
    const char *got = exchange(e, req, &r);
    if (strcmp(got, want) != 0) {
        fail_msg("%s: got\n%s\nwant\n%s", what, got, want);
    }
}

/* A GET answered from the handler; HEAD, an unknown target, another method, a body, garbage:
 * each exact response, and the counters. */
static void test_get_and_errors(void **state)
{
    struct env *e = *state;
    expect_exchange(e, "GET /", GET_ROOT, hello());
    assert_string_equal(e->last_target, "/");
    expect_exchange(e, "HEAD /", "HEAD / HTTP/1.0\r\n\r\n",
                    response(200, "OK", "text/plain", "hello\n", true, ""));
    expect_exchange(e, "GET /nothing", "GET /nothing?x=1 HTTP/1.1\r\n\r\n",
                    response(404, "Not Found", PLAIN, "not here\n", false, ""));
    assert_string_equal(e->last_target, "/nothing?x=1");
    assert_int_equal(e->handler_calls, 3);
    expect_exchange(e, "POST", "POST / HTTP/1.1\r\n\r\n",
                    response(405, "Method Not Allowed", PLAIN, "only GET and HEAD\n", false,
                             "Allow: GET, HEAD\r\n"));
    expect_exchange(e, "a body", "GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
                    response(400, "Bad Request", PLAIN, "requests have no body here\n", false, ""));
    expect_exchange(e, "garbage", "BLAH\r\n\r\n",
                    response(400, "Bad Request", PLAIN, "malformed request\n", false, ""));
    assert_int_equal(e->handler_calls, 3); /* never for a request refused */
    struct httpd_stats st = stats_of(e);
    assert_int_equal(st.requests, 5); /* complete heads: all but the garbage */
    assert_int_equal(st.rejected, 3);
    assert_int_equal(st.evicted, 0);
    assert_int_equal(st.refused, 0);
    assert_int_equal(st.active, 0);
    assert_int_equal(st.max, 8);
}

/* Whether so long has passed since start_ms that a connection accepted after it may have met
 * its head deadline (a 408 where the test expects an eviction or an answer): a loaded machine,
 * and the round is run again. */
static bool too_slow(struct env *e, uint64_t start_ms)
{
    uv_update_time(&e->loop);
    return uv_now(&e->loop) - start_ms >= HTTPD_HEAD_TIMEOUT_MS - 200;
}

/* Sends req in pieces (cuts[0] = 0 < cuts[1] < ... < cuts[n] = its length), letting the loop run
 * between them: nothing is answered before the last, then the answer is hello. Returns false
 * when the round ran so long that the head deadline may have passed (the caller runs it again). */
static bool split_round(struct env *e, const char *req, const size_t *cuts, size_t n)
{
    uv_update_time(&e->loop);
    uint64_t start_ms = uv_now(&e->loop);
    int fd = connect_client(e);
    for (size_t i = 0; i < n; i++) {
        send_acked(fd, req + cuts[i], cuts[i + 1] - cuts[i]);
        uv_run(&e->loop, UV_RUN_NOWAIT); /* the piece is in the socket: read now */
        if (i + 1 < n) {
            if (too_slow(e, start_ms)) {
                return false;
            }
            assert_waiting(fd);
        }
    }
    struct reader r;
    const char *got = read_all(e, fd, &r);
    if (strcmp(got, hello()) != 0 && too_slow(e, start_ms)) {
        return false;
    }
    assert_string_equal(got, hello());
    return true;
}

/* Returns the rounds run again (each may have ended in a 408: rejected). */
static unsigned split(struct env *e, const char *req, const size_t *cuts, size_t n)
{
    for (unsigned round = 1; round <= 3; round++) {
        if (split_round(e, req, cuts, n)) {
            return round - 1;
        }
        print_message("round %u ran past the head deadline (a loaded machine): again\n", round);
    }
    fail_msg("three rounds ran past the head deadline");
    return 0;
}

/* A head written a byte at a time, and in pieces across the 1 KiB buffer's end: nothing is
 * answered before the blank line, then the answer is the whole one. */
static void test_split_head(void **state)
{
    struct env *e = *state;
    const char *req = GET_ROOT;
    size_t len = strlen(req);
    size_t cuts[64];
    assert_true(len < 64);
    for (size_t i = 0; i <= len; i++) {
        cuts[i] = i;
    }
    unsigned again = split(e, req, cuts, len);

    /* 3000 bytes in three writes: 1000, 100 (across 1024), 1900. */
    char big[3001];
    int n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX-Pad: ");
    memset(big + n, 'p', sizeof(big) - 1 - (size_t)n);
    memcpy(big + sizeof(big) - 5, "\r\n\r\n", 5);
    assert_int_equal(strlen(big), 3000);
    const size_t big_cuts[] = {0, 1000, 1100, 3000};
    again += split(e, big, big_cuts, 3);
    assert_int_equal(e->h.requests, 2);
    assert_true(e->h.rejected <= again); /* 408s for rounds that ran too long, if any */
}

/* A head of exactly len bytes ("GET / HTTP/1.1", one padded header, the blank line). */
static char *head_of(size_t len, bool complete)
{
    char *h = malloc(len + 1);
    assert_non_null(h);
    int n = snprintf(h, len + 1, "GET / HTTP/1.1\r\nX-Pad: ");
    memset(h + n, 'p', len - (size_t)n);
    if (complete) {
        memcpy(h + len - 4, "\r\n\r\n", 4);
    }
    h[len] = '\0';
    return h;
}

/* Heads at the edges of the inline buffer (1 KiB) and of the largest head (8 KiB); 431 for a
 * head that does not end within 8 KiB, too many headers, a target too long. */
static void test_head_sizes(void **state)
{
    struct env *e = *state;
    const size_t ok_sizes[] = {HTTPD_SMALL_HEAD - 1, HTTPD_SMALL_HEAD, HTTPD_SMALL_HEAD + 1,
                               HTTP_MAX_HEAD};
    for (size_t i = 0; i < sizeof(ok_sizes) / sizeof(ok_sizes[0]); i++) {
        char *h = head_of(ok_sizes[i], true);
        char what[64];
        snprintf(what, sizeof(what), "a head of %zu bytes", ok_sizes[i]);
        expect_exchange(e, what, h, hello());
        free(h);
    }
    const char *too_large = response(431, "Request Header Fields Too Large", PLAIN,
                                     "request head too large\n", false, "");
    char want[1024];
    snprintf(want, sizeof(want), "%s", too_large);
    char *h = head_of(HTTP_MAX_HEAD, false); /* 8 KiB and no end in sight */
    expect_exchange(e, "8 KiB without its end", h, want);
    free(h);

    char many[2048];
    size_t off = (size_t)snprintf(many, sizeof(many), "GET / HTTP/1.1\r\n");
    for (int i = 0; i <= HTTP_MAX_HEADERS; i++) {
        off += (size_t)snprintf(many + off, sizeof(many) - off, "X-%d: y\r\n", i);
    }
    snprintf(many + off, sizeof(many) - off, "\r\n");
    expect_exchange(e, "33 headers", many, want);

    char target[HTTP_MAX_TARGET + 1];
    memset(target, 't', sizeof(target));
    target[0] = '/';
    char req[1024];
    target[HTTP_MAX_TARGET - 1] = '\0'; /* 255 bytes: the longest */
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n\r\n", target);
    expect_exchange(e, "a 255-byte target", req,
                    response(404, "Not Found", PLAIN, "not here\n", false, ""));
    target[HTTP_MAX_TARGET - 1] = 't';
    target[HTTP_MAX_TARGET] = '\0'; /* 256 */
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n\r\n", target);
    expect_exchange(e, "a 256-byte target", req, want);

    assert_int_equal(e->h.rejected, 3);
    assert_int_equal(e->h.requests, 5);
}

/* A head not complete within HTTPD_HEAD_TIMEOUT_MS gets 408, whether half of it came or none;
 * not before the deadline. */
static void test_head_deadline(void **state)
{
    struct env *e = *state;
    uint64_t t0 = uv_hrtime();
    int half = connect_client(e);
    int silent = connect_client(e);
    send_str(half, HALF_HEAD);
    const char *want =
        response(408, "Request Timeout", PLAIN, "request not received in time\n", false, "");
    struct reader r;
    assert_string_equal(read_all(e, half, &r), want);
    uint64_t elapsed_ms = (uv_hrtime() - t0) / 1000000;
    assert_string_equal(read_all(e, silent, &r), want);
    if (elapsed_ms < HTTPD_HEAD_TIMEOUT_MS - 10) {
        fail_msg("408 after %llu ms (deadline %d ms)", (unsigned long long)elapsed_ms,
                 HTTPD_HEAD_TIMEOUT_MS);
    }
    assert_int_equal(e->h.rejected, 2);
    assert_int_equal(e->h.requests, 0);
    assert_int_equal(e->handler_calls, 0);
}

static bool active_is(void *arg)
{
    const struct env *e = ((const void **)arg)[0];
    const size_t *n = ((const void **)arg)[1];
    return e->h.n_active == *n;
}

static void await_active(struct env *e, size_t n)
{
    const void *arg[2] = {e, &n};
    if (!loop_until(&e->loop, active_is, arg, WAIT_MS)) {
        fail_msg("%zu connections active (want %zu)", e->h.n_active, n);
    }
}

static bool evicted_is(void *arg)
{
    const struct env *e = ((const void **)arg)[0];
    const uint64_t *n = ((const void **)arg)[1];
    return e->h.evicted >= *n;
}

/* A connection whose head is not complete: connected, half a head sent, accepted. */
static int waiting_client(struct env *e, size_t active_after)
{
    int fd = connect_client(e);
    send_str(fd, HALF_HEAD);
    await_active(e, active_after);
    return fd;
}

/* Evictions are logged at most every HTTPD_LOG_EVERY_MS: the first at once, the others counted
 * for the next line. */
static void check_eviction_tally(struct env *e)
{
    uv_update_time(&e->loop);
    assert_true(e->h.evicted_logged_ms != 0);
    if (uv_now(&e->loop) - e->h.evicted_logged_ms < HTTPD_LOG_EVERY_MS) {
        assert_int_equal(e->h.evicted_unlogged, e->h.evicted - 1);
    }
}

/* One round of the cap test at a cap of 3; false when it ran too slowly to judge. */
static bool cap_round(struct env *e)
{
    uv_update_time(&e->loop);
    uint64_t start_ms = uv_now(&e->loop);
    uint64_t evicted0 = e->h.evicted, requests0 = e->h.requests;
    int c1 = waiting_client(e, 1);
    int c2 = waiting_client(e, 2);
    int c3 = waiting_client(e, 3);
    assert_int_equal(e->h.evicted, evicted0);

    /* A fourth waiting connection: the oldest waiting (c1) is closed to make room, unanswered. */
    int c4 = connect_client(e);
    send_str(c4, HALF_HEAD);
    uint64_t want = evicted0 + 1;
    const void *arg[2] = {e, &want};
    bool evicted = loop_until(&e->loop, evicted_is, arg, WAIT_MS);
    if (too_slow(e, start_ms)) {
        return false;
    }
    assert_true(evicted);
    assert_int_equal(e->h.n_active, 3);
    check_eviction_tally(e);
    struct reader r;
    assert_string_equal(read_all(e, c1, &r), ""); /* closed without a word */
    assert_waiting(c2);
    assert_waiting(c3);
    assert_waiting(c4);

    /* A complete request at the cap is answered (read at its accept); nobody is evicted. */
    int c5 = connect_client(e);
    send_str(c5, GET_ROOT);
    assert_string_equal(read_all(e, c5, &r), hello());
    assert_int_equal(e->h.evicted, evicted0 + 1);
    assert_int_equal(e->h.requests, requests0 + 1);

    /* Another waiting connection: now c2 is the oldest waiting. */
    int c6 = connect_client(e);
    send_str(c6, HALF_HEAD);
    want = evicted0 + 2;
    evicted = loop_until(&e->loop, evicted_is, arg, WAIT_MS);
    if (too_slow(e, start_ms)) {
        return false;
    }
    assert_true(evicted);
    check_eviction_tally(e);
    assert_string_equal(read_all(e, c2, &r), "");
    assert_waiting(c3);

    /* c3's head completes in the kernel while c7 connects, both before the loop runs, c7 first
     * (epoll reports ready descriptors in the order they became ready): at c7's accept, c3 is
     * the oldest waiting; its last read finds the head, so it is answered, and c4 is evicted. */
    int c7 = connect_client(e);
    send_str(c7, HALF_HEAD);
    send_str(c3, "cle\r\n\r\n");
    want = evicted0 + 3;
    evicted = loop_until(&e->loop, evicted_is, arg, WAIT_MS);
    if (too_slow(e, start_ms)) {
        return false;
    }
    assert_true(evicted);
    check_eviction_tally(e);
    assert_string_equal(read_all(e, c3, &r), hello());
    assert_string_equal(read_all(e, c4, &r), "");
    assert_waiting(c6);
    assert_waiting(c7);
    struct httpd_stats st = stats_of(e);
    assert_int_equal(st.requests, requests0 + 2);
    assert_int_equal(st.evicted, evicted0 + 3);
    assert_int_equal(st.refused, 0);
    assert_int_equal(st.active, 2); /* c6 and c7 */
    assert_int_equal(st.max, 3);
    for (int i = e->n_fds - 1; i >= 0; i--) {
        close(e->fds[i]);
    }
    e->n_fds = 0;
    await_active(e, 0);
    return true;
}

static void test_cap_evicts_oldest_waiting(void **state)
{
    struct env *e = *state;
    for (int round = 1; round <= 3; round++) {
        if (cap_round(e)) {
            return;
        }
        print_message("round %d ran past the head deadline (a loaded machine): again\n", round);
        for (int i = e->n_fds - 1; i >= 0; i--) {
            close(e->fds[i]);
        }
        e->n_fds = 0;
        await_active(e, 0);
    }
    fail_msg("three rounds ran past the head deadline");
}

/* Larger than the server's socket send buffer can take (tcp_wmem's maximum) plus a small
 * receive buffer: the response's write stays under way while the client does not read. */
static size_t stalling_len(void)
{
    size_t max = 4u << 20;
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_wmem", "r");
    if (f != NULL) {
        unsigned long lo, def, hi;
        if (fscanf(f, "%lu %lu %lu", &lo, &def, &hi) == 3) {
            max = hi;
        }
        fclose(f);
    }
    return max + (1u << 20);
}

static bool requests_is(void *arg)
{
    const struct env *e = ((const void **)arg)[0];
    const uint64_t *n = ((const void **)arg)[1];
    return e->h.requests >= *n;
}

static bool refused_is(void *arg)
{
    const struct env *e = ((const void **)arg)[0];
    return e->h.refused >= 1;
}

/* At a cap of 2 with both connections being answered (their responses' writes stalled by
 * clients that do not read), a new waiting connection is refused (closed, counted), while a
 * complete request is still answered; a write that fails when its client goes closes it. */
static void test_cap_refuses_when_all_answered(void **state)
{
    struct env *e = *state;
    e->big_len = stalling_len();
    int s1 = connect_rcvbuf(e, 4096);
    int s2 = connect_rcvbuf(e, 4096);
    send_str(s1, "GET /big HTTP/1.1\r\n\r\n");
    send_str(s2, "GET /big HTTP/1.1\r\n\r\n");
    uint64_t two = 2;
    const void *arg[2] = {e, &two};
    assert_true(loop_until(&e->loop, requests_is, arg, WAIT_MS));
    loop_for(&e->loop, 20);
    assert_int_equal(e->h.n_active, 2); /* both still writing */

    int w = connect_client(e);
    send_str(w, HALF_HEAD);
    assert_true(loop_until(&e->loop, refused_is, arg, WAIT_MS));
    struct reader r;
    assert_string_equal(read_all(e, w, &r), "");
    assert_int_equal(e->h.refused, 1);
    assert_int_equal(e->h.evicted, 0);

    expect_exchange(e, "a complete request over the cap", GET_ROOT, hello());
    struct httpd_stats st = stats_of(e);
    assert_int_equal(st.refused, 1);
    assert_int_equal(st.evicted, 0);
    assert_int_equal(st.requests, 3);
    assert_int_equal(st.active, 2);
    assert_int_equal(st.max, 2);

    /* The stalled clients go: their writes fail, their connections close. */
    close(s1);
    close(s2);
    forget(e, s1);
    forget(e, s2);
    await_active(e, 0);
}

static void on_other_closed(struct httpd *h)
{
    (*(unsigned *)h->ctx)++;
}

static bool counter_set(void *arg)
{
    return *(unsigned *)arg > 0;
}

/* httpd_init's errors: a bad address, one in use, the second of two bad; each closed with
 * httpd_close, its callback run once. No address: nothing to close but the callback. */
static void test_init_errors(void **state)
{
    struct env *e = *state;
    char in_use[32];
    snprintf(in_use, sizeof(in_use), "127.0.0.1:%u", e->port);
    static const struct {
        const char *addrs[2];
        int n;
        int rc;
    } cases[] = {
        {{"not an address"}, 1, -EINVAL},
        {{"127.0.0.1:99999"}, 1, -EINVAL},
        {{NULL}, 1, UV_EADDRINUSE}, /* the port of the test's own httpd */
        {{"127.0.0.1:0", "[::1"}, 2, -EINVAL},
        {{NULL}, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *addrs[2] = {cases[i].addrs[0] != NULL ? cases[i].addrs[0] : in_use,
                                cases[i].addrs[1]};
        struct httpd h;
        unsigned closed = 0;
        int rc = httpd_init(&h, &e->loop, addrs, cases[i].n, 4, NULL, handler, &closed);
        if (rc != cases[i].rc) {
            fail_msg("case %zu (%s): %d (want %d)", i, addrs[0], rc, cases[i].rc);
        }
        httpd_close(&h, on_other_closed);
        assert_true(loop_until(&e->loop, counter_set, &closed, WAIT_MS));
        loop_for(&e->loop, 1);
        assert_int_equal(closed, 1);
    }
    /* The test's own endpoint still serves. */
    expect_exchange(e, "GET / after the others", GET_ROOT, hello());
}

/* Closing with connections open (one writing a response its client does not read, two
 * waiting for their heads): every client sees the connection closed, the callback runs once
 * when every handle has closed, and nothing is left on the loop. */
static void test_close(void **state)
{
    struct env *e = *state;
    e->big_len = stalling_len();
    int s = connect_rcvbuf(e, 4096);
    send_str(s, "GET /big HTTP/1.1\r\n\r\n");
    uint64_t one = 1;
    const void *arg[2] = {e, &one};
    assert_true(loop_until(&e->loop, requests_is, arg, WAIT_MS));
    uv_update_time(&e->loop);
    uint64_t start_ms = uv_now(&e->loop);
    int a = waiting_client(e, 2);
    int b = waiting_client(e, 3);
    e->h_open = false;
    httpd_close(&e->h, on_closed);
    bool slow = too_slow(e, start_ms); /* the waiting ones may have had their 408 */
    assert_int_equal(e->closed_calls, 0);
    assert_true(loop_until(&e->loop, closed_once, e, WAIT_MS));
    assert_int_equal(e->closed_calls, 1);
    assert_int_equal(e->h.n_active, 0);
    assert_int_equal(uv_loop_alive(&e->loop), 0);
    const char *timed_out =
        response(408, "Request Timeout", PLAIN, "request not received in time\n", false, "");
    const int waiting[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        struct reader r;
        const char *got = read_all(e, waiting[i], &r);
        if (strcmp(got, "") != 0 && !(slow && strcmp(got, timed_out) == 0)) {
            fail_msg("a waiting connection got '%s' at the close", got);
        }
    }
    /* The listener is gone: a new connection is refused. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(e->port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), -1);
    assert_int_equal(errno, ECONNREFUSED);
    close(fd);
}

static unsigned other_closed_calls; /* closes of a struct httpd outside the env */

static void on_other_closed_count(struct httpd *h)
{
    (void)h;
    other_closed_calls++;
}

/* One lifecycle (issue 18's rule): closing a zeroed endpoint runs the callback at once; a second
 * close does nothing, before or after the first has completed. */
static void test_close_lifecycle(void **state)
{
    struct env *e = *state;
    struct httpd zero;
    memset(&zero, 0, sizeof(zero));
    other_closed_calls = 0;
    httpd_close(&zero, on_other_closed_count);
    httpd_close(&zero, on_other_closed_count);
    assert_int_equal(other_closed_calls, 1);

    int a = waiting_client(e, 1);
    e->h_open = false;
    httpd_close(&e->h, on_closed);
    httpd_close(&e->h, on_closed);
    assert_true(loop_until(&e->loop, closed_once, e, WAIT_MS));
    loop_for(&e->loop, 5);
    httpd_close(&e->h, on_closed);
    assert_int_equal(e->closed_calls, 1);
    assert_int_equal(uv_loop_alive(&e->loop), 0);
    struct reader r;
    assert_string_equal(read_all(e, a, &r), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_evicts_oldest_waiting, setup_cap3, teardown),
        cmocka_unit_test_setup_teardown(test_cap_refuses_when_all_answered, setup_cap2, teardown),
        cmocka_unit_test_setup_teardown(test_init_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_lifecycle, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests: the ClockBound v1 socket on a libuv loop (oracle/compat/cbsock.c), with real unix
 * datagram clients in a private directory: the exact bytes answered from the Now it is given
 * (the codec's cases, test_cbproto.c, now over the socket), malformed requests, named, abstract
 * and unbound clients, replies that cannot be sent, the socket's mode, a stale socket file
 * replaced and every refusal with its sentence, and closing.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "cbv1_requests.h"
#include "compat/cbproto.h"
#include "compat/cbsock.h"
#include "fd0_stand_in.h"
#include "log.h"
#include "loop_until.h"
#include "util.h"

#define WAIT_MS     10000
#define MAX_CLIENTS 16

struct env {
    uv_loop_t loop;
    char dir[64];
    char path[108]; /* the socket: dir/cb.sock */
    struct cbsock s;
    bool s_open;
    struct cb_now now; /* what now_fn gives */
    bool holds;
    unsigned now_calls;
    unsigned closed_calls;
    int fds[MAX_CLIENTS]; /* client sockets, closed by the teardown */
    int n_fds;
};

static void now_fn(void *ctx, struct cb_now *now, bool *bound_holds)
{
    struct env *e = ctx;
    *now = e->now;
    *bound_holds = e->holds;
    e->now_calls++;
}

static void on_closed(struct cbsock *s)
{
    struct env *e = container_of(s, struct env, s);
    e->closed_calls++;
}

static unsigned zero_closed_calls; /* closes of a struct cbsock outside the env */

static void on_zero_closed(struct cbsock *s)
{
    (void)s;
    zero_closed_calls++;
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        return -1;
    }
    log_threshold = LOG_LEVEL_ERR;
    snprintf(e->dir, sizeof(e->dir), "/tmp/test_cbsock.XXXXXX");
    if (mkdtemp(e->dir) == NULL || uv_loop_init(&e->loop) != 0) {
        free(e);
        return -1;
    }
    snprintf(e->path, sizeof(e->path), "%s/cb.sock", e->dir);
    e->now = now_with(CB_STATUS_SYNCHRONIZED, CB_REASON_OK);
    e->holds = true;
    e->s.fd = -1;
    *state = e;
    return 0;
}

static void remove_tree(const char *dir)
{
    const char *names[] = {"cb.sock", "client", "client2", "file", "other.sock"};
    char path[160];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
}

static int teardown(void **state)
{
    struct env *e = *state;
    if (e->s_open) {
        cbsock_close(&e->s, NULL);
    }
    int rc = loop_close_all(&e->loop);
    for (int i = 0; i < e->n_fds; i++) {
        close(e->fds[i]);
    }
    remove_tree(e->dir);
    int removed = rmdir(e->dir);
    free(e);
    return rc == 0 && removed == 0 ? 0 : -1;
}

static int open_sock(struct env *e, const char *path, unsigned mode, char *why, size_t cap)
{
    int rc = cbsock_open(&e->s, &e->loop, path, mode, now_fn, e, why, cap);
    e->s_open = rc == 0;
    return rc;
}

static void open_ok(struct env *e)
{
    char why[320] = "";
    int rc = open_sock(e, e->path, CBSOCK_DEFAULT_MODE, why, sizeof(why));
    if (rc != 0) {
        fail_msg("cbsock_open: %d: %s", rc, why);
    }
}

static bool closed_once(void *arg)
{
    return ((struct env *)arg)->closed_calls > 0;
}

static void close_sock(struct env *e)
{
    assert_true(e->s_open);
    e->s_open = false;
    unsigned before = e->closed_calls;
    cbsock_close(&e->s, on_closed);
    assert_true(loop_until(&e->loop, closed_once, e, WAIT_MS));
    assert_int_equal(e->closed_calls, before + 1);
}

/* The address of a name: "@x" is the abstract x, else a path in the private directory. */
static socklen_t addr_of(const struct env *e, const char *name, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (name[0] == '@') {
        size_t n = strlen(name + 1);
        memcpy(sa->sun_path + 1, name + 1, n);
        return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    }
    snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", e->dir, name);
    return (socklen_t)sizeof(*sa);
}

/* A client socket, bound to name (NULL: unbound). */
static int client(struct env *e, const char *name)
{
    assert_true(e->n_fds < MAX_CLIENTS);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    e->fds[e->n_fds++] = fd;
    if (name != NULL) {
        struct sockaddr_un sa;
        socklen_t len = addr_of(e, name, &sa);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
    }
    return fd;
}

static void send_to(const char *path, int fd, const void *req, size_t len)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_int_equal(sendto(fd, req, len, 0, (struct sockaddr *)&sa, sizeof(sa)), (ssize_t)len);
}

static bool readable(void *arg)
{
    struct pollfd p = {.fd = *(int *)arg, .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

/* Sends req from fd and returns the reply's length (its bytes in out). */
static size_t exchange(struct env *e, int fd, const void *req, size_t len, uint8_t *out, size_t cap)
{
    send_to(e->path, fd, req, len);
    if (!loop_until(&e->loop, readable, &fd, WAIT_MS)) {
        fail_msg("no reply within %d ms", WAIT_MS);
    }
    ssize_t n = recv(fd, out, cap, MSG_DONTWAIT);
    assert_true(n >= 0);
    return (size_t)n;
}

static void expect(struct env *e, const char *what, int fd, const void *req, size_t len,
                   const uint8_t *want, size_t want_len)
{
    uint8_t out[64];
    memset(out, 0xee, sizeof(out));
    size_t got = exchange(e, fd, req, len, out, sizeof(out));
    expect_bytes(what, out, got, want, want_len);
}

/* Well-formed requests from a named client get the codec's answer, from the Now and the flag
 * now_fn gives at that request. */
static void test_answers(void **state)
{
    struct env *e = *state;
    open_ok(e);
    int fd = client(e, "client");
    const uint8_t sync[20] = {1, 1, 0, 0, EARLIEST_BYTES, LATEST_BYTES};
    expect(e, "Now, SYNCHRONIZED", fd, NOW_REQ, 4, sync, 20);
    uint8_t req[12];
    ts_request(CBP_BEFORE, EARLIEST - 1, req);
    expect(e, "Before(earliest - 1)", fd, req, 12, (const uint8_t[]){1, 2, 0, 0, 1}, 5);
    ts_request(CBP_BEFORE, EARLIEST, req);
    expect(e, "Before(earliest)", fd, req, 12, (const uint8_t[]){1, 2, 0, 0, 0}, 5);
    ts_request(CBP_AFTER, LATEST + 1, req);
    expect(e, "After(latest + 1)", fd, req, 12, (const uint8_t[]){1, 3, 0, 0, 1}, 5);
    ts_request(CBP_AFTER, LATEST, req);
    expect(e, "After(latest)", fd, req, 12, (const uint8_t[]){1, 3, 0, 0, 0}, 5);

    /* FREE_RUNNING: the bound, F = 1. */
    e->now = now_with(CB_STATUS_FREE_RUNNING, CB_REASON_POLLS_FAILING);
    const uint8_t free_running[20] = {1, 1, 1, 0, EARLIEST_BYTES, LATEST_BYTES};
    expect(e, "Now, FREE_RUNNING", fd, NOW_REQ, 4, free_running, 20);
    /* Untrusted, the bound still holding: given, with T = 0. */
    e->now = now_with(CB_STATUS_UNKNOWN, CB_REASON_POLLS_FAILED);
    e->holds = true;
    const uint8_t holding[20] = {1, 0, 1, 0, EARLIEST_BYTES, LATEST_BYTES};
    expect(e, "Now, UNKNOWN, bound holds", fd, NOW_REQ, 4, holding, 20);
    /* ... not holding: 0 to 2^63 - 1. */
    e->holds = false;
    const uint8_t none[20] = {1, 0, 1, 0, ZERO_BYTES, MAX_BYTES};
    expect(e, "Now, UNKNOWN, no bound", fd, NOW_REQ, 4, none, 20);
    ts_request(CBP_BEFORE, EARLIEST - 1, req);
    expect(e, "Before, no bound", fd, req, 12, (const uint8_t[]){1, 0, 1, 0, 0}, 5);

    assert_int_equal(e->s.answered, 9);
    assert_int_equal(e->s.malformed, 0);
    assert_int_equal(e->s.unbound.count, 0);
    assert_int_equal(e->s.send_failed.count, 0);
    assert_int_equal(e->now_calls, 9); /* one Now per request, taken when it is answered */
    close_sock(e);
}

/* Malformed requests: answered with an error in the shape their type byte asks for (20 bytes
 * for a Now), counted as malformed. */
static void test_malformed(void **state)
{
    struct env *e = *state;
    open_ok(e);
    int fd = client(e, "client");
    const uint8_t now_err[20] = {1, 0, 0, 0, EARLIEST_BYTES, LATEST_BYTES};
    const uint8_t err[4] = {1, 0, 0, 0};
    uint8_t big[300];
    memset(big, 0, sizeof(big));
    big[0] = 1;
    big[1] = 1;
    expect(e, "version 2 Now", fd, (const uint8_t[]){2, 1, 0, 0}, 4, now_err, 20);
    expect(e, "12-byte Now", fd, (const uint8_t[]){1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 12, now_err,
           20);
    expect(e, "300-byte Now (longer than the buffer)", fd, big, sizeof(big), now_err, 20);
    expect(e, "3-byte Now", fd, (const uint8_t[]){1, 1, 0}, 3, now_err, 20);
    expect(e, "4-byte Before", fd, (const uint8_t[]){1, 2, 0, 0}, 4, err, 4);
    expect(e, "13-byte After", fd, (const uint8_t[]){1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 13,
           err, 4);
    expect(e, "type 9", fd, (const uint8_t[]){1, 9, 0, 0}, 4, err, 4);
    expect(e, "empty datagram", fd, "", 0, err, 4);
    assert_int_equal(e->s.malformed, 8);
    assert_int_equal(e->s.answered, 0);
    close_sock(e);
}

/* A client bound to an abstract address is answered there; several requests waiting are all
 * answered, in order, in one turn of the loop (one wake-up handles up to CBSOCK_BATCH). */
static void test_abstract_and_queued(void **state)
{
    struct env *e = *state;
    open_ok(e);
    char name[64];
    snprintf(name, sizeof(name), "@oracled-test-cbsock-%d", (int)getpid());
    int fd = client(e, name);
    const uint8_t sync[20] = {1, 1, 0, 0, EARLIEST_BYTES, LATEST_BYTES};
    expect(e, "Now, abstract client", fd, NOW_REQ, 4, sync, 20);

    /* Eight Before requests at once (under a unix socket's default queue of 10 datagrams):
     * ts = earliest - 4 .. earliest + 3, so the first four are true. */
    uint8_t req[12];
    for (int i = 0; i < 8; i++) {
        ts_request(CBP_BEFORE, (uint64_t)(EARLIEST - 4 + i), req);
        send_to(e->path, fd, req, sizeof(req));
    }
    unsigned before = e->now_calls;
    uv_run(&e->loop, UV_RUN_ONCE); /* the socket's only handle is readable: one wake-up */
    for (int i = 0; i < 8; i++) {
        uint8_t out[8];
        assert_int_equal(recv(fd, out, sizeof(out), MSG_DONTWAIT), 5);
        const uint8_t want[5] = {1, 2, 0, 0, i < 4};
        if (memcmp(out, want, 5) != 0) {
            fail_msg("reply %d: answer %u", i, out[4]);
        }
    }
    assert_int_equal(e->now_calls, before + 8);
    assert_int_equal(e->s.answered, 9);
    close_sock(e);
}

static bool unbound_reached(void *arg)
{
    const struct env *e = arg;
    return e->s.unbound.count >= 2;
}

/* A client with no address of its own cannot be answered: dropped and counted, without asking
 * for the time; one log line for the first, none for the next within CBSOCK_LOG_EVERY_NS. */
static void test_unbound_client(void **state)
{
    struct env *e = *state;
    open_ok(e);
    int fd = client(e, NULL);
    send_to(e->path, fd, NOW_REQ, 4);
    send_to(e->path, fd, NOW_REQ, 4);
    assert_true(loop_until(&e->loop, unbound_reached, e, WAIT_MS));
    assert_int_equal(e->s.unbound.count, 2);
    assert_int_equal(e->s.unbound.logged, 1);
    assert_int_equal(e->s.answered, 0);
    assert_int_equal(e->s.malformed, 0);
    assert_int_equal(e->now_calls, 0);
    close_sock(e);
}

static bool send_failed_reached(void *arg)
{
    const struct env *e = arg;
    return e->s.send_failed.count >= 2;
}

/* Replies that cannot go out (the client's socket file gone: ENOENT; its socket closed:
 * ECONNREFUSED) are counted, not answered; the socket goes on serving. */
static void test_send_failed(void **state)
{
    struct env *e = *state;
    open_ok(e);
    int gone = client(e, "client");
    int closed = client(e, "client2");
    send_to(e->path, gone, NOW_REQ, 4);
    send_to(e->path, closed, NOW_REQ, 4);
    char path[160];
    snprintf(path, sizeof(path), "%s/client", e->dir);
    assert_int_equal(unlink(path), 0);
    /* Both closed before the loop runs: the replies have nowhere to go. */
    for (int i = 0; i < e->n_fds; i++) {
        close(e->fds[i]);
    }
    e->n_fds = 0;
    assert_true(loop_until(&e->loop, send_failed_reached, e, WAIT_MS));
    assert_int_equal(e->s.send_failed.count, 2);
    assert_int_equal(e->s.send_failed.logged, 1);
    assert_int_equal(e->s.answered, 0);
    assert_int_equal(e->now_calls, 2);
    int fd = client(e, "other.sock");
    const uint8_t sync[20] = {1, 1, 0, 0, EARLIEST_BYTES, LATEST_BYTES};
    expect(e, "Now after the failures", fd, NOW_REQ, 4, sync, 20);
    assert_int_equal(e->s.answered, 1);
    close_sock(e);
}

static unsigned mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    return (unsigned)(st.st_mode & 07777);
}

/* The socket file gets exactly the mode asked for, whatever the umask. */
static void test_mode(void **state)
{
    struct env *e = *state;
    char why[320];
    mode_t old = umask(077);
    int rc = open_sock(e, e->path, 0666, why, sizeof(why));
    umask(old);
    assert_int_equal(rc, 0);
    assert_int_equal(mode_of(e->path), 0666);
    close_sock(e);
    old = umask(0);
    rc = open_sock(e, e->path, 0600, why, sizeof(why));
    umask(old);
    assert_int_equal(rc, 0);
    assert_int_equal(mode_of(e->path), 0600);
    close_sock(e);
    assert_int_equal(CBSOCK_DEFAULT_MODE, 0666);
}

/* A socket file nobody answers on (a crashed oracled's) is replaced, datagram or stream. */
static void test_stale_socket(void **state)
{
    struct env *e = *state;
    const int types[] = {SOCK_DGRAM, SOCK_STREAM};
    for (int i = 0; i < 2; i++) {
        int old = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa;
        addr_of(e, "cb.sock", &sa);
        assert_int_equal(bind(old, (struct sockaddr *)&sa, sizeof(sa)), 0);
        close(old); /* the file stays */
        assert_int_equal(access(e->path, F_OK), 0);
        open_ok(e);
        int fd = client(e, i == 0 ? "client" : "client2");
        const uint8_t sync[20] = {1, 1, 0, 0, EARLIEST_BYTES, LATEST_BYTES};
        expect(e, "Now on the new socket", fd, NOW_REQ, 4, sync, 20);
        close_sock(e);
    }
}

/* Opening refused: each errno and sentence; the file in the way left alone, nothing left open,
 * and closing after it runs the callback at once. */
static void test_refusals(void **state)
{
    struct env *e = *state;
    char why[320], want[320];

    /* A live socket: another daemon's. */
    int live = client(e, "cb.sock");
    assert_int_equal(open_sock(e, e->path, 0666, why, sizeof(why)), -EADDRINUSE);
    snprintf(want, sizeof(want),
             "%s is in use (is the ClockBound daemon, or another oracled, running?)", e->path);
    assert_string_equal(why, want);
    assert_int_equal(e->s.fd, -1);
    unsigned closed = e->closed_calls;
    cbsock_close(&e->s, on_closed);
    assert_int_equal(e->closed_calls, closed + 1); /* at once */
    /* Still the other's: a datagram sent there reaches it. */
    int fd = client(e, "client");
    send_to(e->path, fd, NOW_REQ, 4);
    uint8_t got[8];
    assert_int_equal(recv(live, got, sizeof(got), MSG_DONTWAIT), 4);
    assert_int_equal(unlink(e->path), 0); /* the live socket is closed by the teardown */

    /* A listening stream socket: not certainly stale, left alone. */
    int stream = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    e->fds[e->n_fds++] = stream;
    struct sockaddr_un sa;
    addr_of(e, "cb.sock", &sa);
    assert_int_equal(bind(stream, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(stream, 1), 0);
    assert_int_equal(open_sock(e, e->path, 0666, why, sizeof(why)), -EPROTOTYPE);
    snprintf(want, sizeof(want), "%s exists and cannot be checked: Protocol wrong type for socket",
             e->path);
    assert_string_equal(why, want);
    assert_int_equal(access(e->path, F_OK), 0);
    assert_int_equal(unlink(e->path), 0);

    /* A regular file. */
    int file = open(e->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_true(file >= 0);
    close(file);
    assert_int_equal(open_sock(e, e->path, 0666, why, sizeof(why)), -EEXIST);
    snprintf(want, sizeof(want), "%s exists and is not a socket", e->path);
    assert_string_equal(why, want);
    struct stat st;
    assert_int_equal(lstat(e->path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(unlink(e->path), 0);

    /* No such directory. */
    char missing[108];
    snprintf(missing, sizeof(missing), "%s/missing/cb.sock", e->dir);
    assert_int_equal(open_sock(e, missing, 0666, why, sizeof(why)), -ENOENT);
    snprintf(want, sizeof(want),
             "cannot bind %s: No such file or directory (does its directory exist?)", missing);
    assert_string_equal(why, want);

    /* Paths a sockaddr_un cannot hold. */
    char longpath[200];
    memset(longpath, 'p', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[108] = '\0'; /* 108 bytes: one too many */
    assert_int_equal(open_sock(e, longpath, 0666, why, sizeof(why)), -ENAMETOOLONG);
    assert_string_equal(why, "a socket path must have 1 to 107 bytes");
    assert_int_equal(open_sock(e, "", 0666, why, sizeof(why)), -ENAMETOOLONG);
    assert_string_equal(why, "a socket path must have 1 to 107 bytes");

    closed = e->closed_calls;
    cbsock_close(&e->s, on_closed);
    assert_int_equal(e->closed_calls, closed + 1);
    assert_int_equal(uv_loop_alive(&e->loop), 0);
    assert_int_equal(e->now_calls, 0);
}

/* Closing removes the socket file at once; the callback runs once the handle has closed, on the
 * loop; the fd is closed and clients are refused. */
static void test_close(void **state)
{
    struct env *e = *state;
    open_ok(e);
    int fd = client(e, "client");
    const uint8_t sync[20] = {1, 1, 0, 0, EARLIEST_BYTES, LATEST_BYTES};
    expect(e, "Now", fd, NOW_REQ, 4, sync, 20);
    int sock_fd = e->s.fd;
    e->s_open = false;
    cbsock_close(&e->s, on_closed);
    assert_int_equal(access(e->path, F_OK), -1);
    assert_int_equal(e->closed_calls, 0);
    assert_true(loop_until(&e->loop, closed_once, e, WAIT_MS));
    assert_int_equal(e->closed_calls, 1);
    assert_int_equal(e->s.fd, -1);
    assert_int_equal(fcntl(sock_fd, F_GETFD), -1); /* closed */
    assert_int_equal(uv_loop_alive(&e->loop), 0);
    struct sockaddr_un sa;
    addr_of(e, "cb.sock", &sa);
    assert_int_equal(sendto(fd, NOW_REQ, 4, 0, (struct sockaddr *)&sa, sizeof(sa)), -1);
    assert_int_equal(errno, ENOENT);
}

/* One lifecycle (issue 18's rule): closing a zeroed struct runs the callback at once and
 * touches no descriptor (its fd 0 is not its own); a second close does nothing, whether the
 * first was of an open socket, a refused one or a zeroed one. */
static void test_close_lifecycle(void **state)
{
    struct env *e = *state;

    /* A zeroed struct: descriptor 0 (a pipe put there for the test) is left alone. */
    struct fd0_stand_in fd0;
    fd0_stand_in_begin(&fd0);
    struct cbsock zero;
    memset(&zero, 0, sizeof(zero));
    unsigned closed = e->closed_calls;
    cbsock_close(&zero, on_zero_closed);
    cbsock_close(&zero, on_zero_closed);
    bool fd0_open = fd0_stand_in_end(&fd0);
    assert_int_equal(zero_closed_calls, 1);
    assert_true(fd0_open); /* still open: not the socket's to close */
    assert_int_equal(uv_loop_alive(&e->loop), 0);

    /* Open, closed twice before the loop runs: one callback, once the handle has closed. */
    open_ok(e);
    e->s_open = false;
    cbsock_close(&e->s, on_closed);
    cbsock_close(&e->s, on_closed);
    assert_true(loop_until(&e->loop, closed_once, e, WAIT_MS));
    loop_for(&e->loop, 5);
    assert_int_equal(e->closed_calls, closed + 1);
    assert_int_equal(e->s.fd, -1);
    /* ... and again after that: nothing. */
    cbsock_close(&e->s, on_closed);
    assert_int_equal(e->closed_calls, closed + 1);

    /* Refused, closed twice: one callback, at once. */
    int file = open(e->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_true(file >= 0);
    close(file);
    char why[320];
    assert_int_equal(open_sock(e, e->path, 0666, why, sizeof(why)), -EEXIST);
    cbsock_close(&e->s, on_closed);
    cbsock_close(&e->s, on_closed);
    assert_int_equal(e->closed_calls, closed + 2);
    assert_int_equal(access(e->path, F_OK), 0); /* not ours: left alone */
    assert_int_equal(uv_loop_alive(&e->loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abstract_and_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unbound_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_failed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_lifecycle, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

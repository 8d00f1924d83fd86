/* The ClockBound v1 socket on the loop (see cbsock.h). */
#include "cbsock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cbproto.h"
#include "errtext.h"
#include "log.h"

/* Counts one; returns how many since the last log line when a line is due, else 0. */
static uint64_t tally(struct cbsock_tally *t)
{
    t->count++;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    if (t->logged != 0 && now - t->logged_at_ns < CBSOCK_LOG_EVERY_NS) {
        return 0;
    }
    uint64_t since = t->count - t->logged;
    t->logged = t->count;
    t->logged_at_ns = now;
    return since;
}

static void note_unbound(struct cbsock *s)
{
    uint64_t n = tally(&s->unbound);
    if (n > 0) {
        log_warn("clockbound socket %s: dropped %llu request(s) from clients with no bound "
                 "address to answer to (a ClockBound client must bind its own socket)",
                 s->path, (unsigned long long)n);
    }
}

/* A reply that could not go out: the client's socket full, gone, or out of reach (a client
 * bound in /tmp while oracled runs with a private /tmp gets ENOENT). Logged with the first
 * reason at most every 10 s. */
static void note_send_failed(struct cbsock *s, const struct sockaddr_un *to, socklen_t tolen,
                             int err)
{
    uint64_t count = tally(&s->send_failed);
    if (count > 0) {
        size_t n = tolen - offsetof(struct sockaddr_un, sun_path);
        bool abstract = n > 0 && to->sun_path[0] == '\0';
        log_warn("clockbound socket %s: %llu reply(ies) could not be sent, e.g. to %s%.*s: %s%s",
                 s->path, (unsigned long long)count, abstract ? "@" : "",
                 (int)(abstract ? n - 1 : strnlen(to->sun_path, n)),
                 to->sun_path + (abstract ? 1 : 0), err_text(err),
                 err == ENOENT ? " (is oracled's /tmp private? see PrivateTmp in the unit)" : "");
    }
}

static void handle(struct cbsock *s, const uint8_t *buf, ssize_t n, const struct sockaddr_un *from,
                   socklen_t fromlen)
{
    if (fromlen <= (socklen_t)sizeof(sa_family_t)) {
        note_unbound(s);
        return;
    }
    struct cbp_request req;
    bool ok = cbp_parse(buf, (size_t)n, &req) == 0;
    struct cb_now now;
    bool holds = false;
    s->now_fn(s->ctx, &now, &holds);
    uint8_t out[CBP_RESPONSE_MAX];
    size_t len = cbp_respond(&req, &now, holds, out);
    if (sendto(s->fd, out, len, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)from,
               fromlen) < 0) {
        note_send_failed(s, from, fromlen, errno);
    } else if (ok) {
        s->answered++;
    } else {
        s->malformed++;
    }
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    (void)events;
    struct cbsock *s = h->data;
    if (status < 0) {
        /* libuv stops the handle after an error: start it again, or the socket goes silent. */
        log_warn_errno(status, "clockbound socket %s", s->path);
        uv_poll_start(&s->poll, UV_READABLE, on_readable);
        return;
    }
    for (int i = 0; i < CBSOCK_BATCH; i++) {
        /* One byte more than the longest request, so a longer one shows its length. */
        uint8_t buf[CBP_REQ_TS_LEN + 1];
        struct sockaddr_un from;
        socklen_t fromlen = sizeof(from);
        memset(&from, 0, sizeof(from));
        ssize_t n = recvfrom(s->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC,
                             (struct sockaddr *)&from, &fromlen);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                log_warn_errno(errno, "clockbound socket %s: recvfrom", s->path);
            }
            return;
        }
        handle(s, buf, n, &from, fromlen);
    }
}

static void on_closed(uv_handle_t *h);

/* The address of path (which cbsock_open has checked fits). */
static void unix_addr(struct sockaddr_un *sa, const char *path)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, path, strlen(path));
}

/* A socket file at path: stale (nobody answers: remove it) or live (refuse). */
static int clear_stale(const char *path, char *why, size_t why_cap)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        return errno == ENOENT ? 0 : -errno;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(why, why_cap, "%s exists and is not a socket", path);
        return -EEXIST;
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    struct sockaddr_un sa;
    unix_addr(&sa, path);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    int err = rc < 0 ? errno : 0;
    close(fd);
    if (rc == 0) {
        snprintf(why, why_cap,
                 "%s is in use (is the ClockBound daemon, or another oracled, running?)", path);
        return -EADDRINUSE;
    }
    if (err != ECONNREFUSED) {
        /* Not certainly stale (no permission, a stream socket ...): leave it alone. */
        snprintf(why, why_cap, "%s exists and cannot be checked: %s", path, err_text(err));
        return -err;
    }
    return unlink(path) < 0 ? -errno : 0;
}

int cbsock_open(struct cbsock *s, uv_loop_t *loop, const char *path, unsigned mode,
                cbsock_now_fn *now_fn, void *ctx, char *why, size_t why_cap)
{
    memset(s, 0, sizeof(*s));
    s->fd = -1;
    s->now_fn = now_fn;
    s->ctx = ctx;
    if (path[0] == '\0' || strlen(path) >= sizeof(s->path)) {
        snprintf(why, why_cap, "a socket path must have 1 to %zu bytes", sizeof(s->path) - 1);
        return -ENAMETOOLONG;
    }
    snprintf(s->path, sizeof(s->path), "%s", path);
    why[0] = '\0';
    int rc = clear_stale(path, why, why_cap);
    if (rc < 0) {
        if (why[0] == '\0') {
            snprintf(why, why_cap, "%s: %s", path, err_text(rc));
        }
        return rc;
    }
    s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        rc = -errno;
        snprintf(why, why_cap, "socket: %s", err_text(rc));
        return rc;
    }
    struct sockaddr_un sa;
    unix_addr(&sa, path);
    if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        rc = -errno;
        snprintf(why, why_cap, "cannot bind %s: %s%s", path, err_text(rc),
                 rc == -ENOENT ? " (does its directory exist?)" : "");
        close(s->fd);
        s->fd = -1;
        return rc;
    }
    if (chmod(path, mode) < 0) {
        rc = -errno;
        snprintf(why, why_cap, "cannot set the mode of %s: %s", path, err_text(rc));
        unlink(path);
        close(s->fd);
        s->fd = -1;
        return rc;
    }
    rc = uv_poll_init(loop, &s->poll, s->fd);
    if (rc < 0) {
        snprintf(why, why_cap, "cannot watch it: %s", err_text(rc));
        unlink(path);
        close(s->fd);
        s->fd = -1;
        return rc;
    }
    s->poll.data = s;
    s->open = true; /* from here the handle owns the fd: closed in on_closed */
    rc = uv_poll_start(&s->poll, UV_READABLE, on_readable);
    if (rc < 0) {
        snprintf(why, why_cap, "cannot watch it: %s", err_text(rc));
        unlink(path);
        s->open = false;
        s->closing = true; /* an owner's cbsock_close() gets its callback from on_closed */
        uv_close((uv_handle_t *)&s->poll, on_closed);
        return rc;
    }
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    struct cbsock *s = h->data;
    s->closing = false;
    close(s->fd);
    s->fd = -1;
    if (s->close_cb != NULL) {
        s->close_cb(s);
    }
}

void cbsock_close(struct cbsock *s, void (*close_cb)(struct cbsock *s))
{
    if (s->close_called) {
        return;
    }
    s->close_called = true;
    s->close_cb = close_cb;
    /* Only an open socket has a file and a descriptor of its own: a zeroed struct's fd 0, or
     * a failed open's, is not (cbsock_open closed what it had opened). */
    if (s->open) {
        s->open = false;
        s->closing = true;
        unlink(s->path);
        uv_close((uv_handle_t *)&s->poll, on_closed);
        return;
    }
    if (s->closing) {
        return; /* a failed open's handle: on_closed calls back */
    }
    if (close_cb != NULL) {
        close_cb(s);
    }
}

/* chrony cmdmon client: sockets, sequence numbers, timeouts (see chrony_client.h). */
#include "chrony_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

_Static_assert(sizeof(((struct sockaddr_un *)NULL)->sun_path) == CHRONY_PATH_MAX,
               "CHRONY_PATH_MAX must match sun_path");

/* A request answered by a bare RPY_NULL header (RESET_SOURCES, BURST). */
struct null_request {
    bool pending; /* sent and not answered yet */
    uint32_t sequence;
};

/* The commands answered by a null reply, in the order of struct chrony_client's nulls[]. */
static const struct null_command {
    uint16_t command;
    enum chrony_reply_kind kind;
    const char *unasked; /* why a reply is dropped when no request is pending */
} null_commands[] = {
    {CHRONY_REQ_RESET_SOURCES, CHRONY_REPLY_RESET_SOURCES,
     "RESET_SOURCES reply to no pending request"},
    {CHRONY_REQ_BURST, CHRONY_REPLY_BURST, "BURST reply to no pending request"},
};
enum { NULL_RESET_SOURCES, NULL_BURST, NULL_REQUESTS };
_Static_assert(sizeof(null_commands) / sizeof(null_commands[0]) == NULL_REQUESTS,
               "one null_commands entry per null request");

struct chrony_client {
    int fd;
    struct chrony_addr addr;
    struct cb_clock *clock;           /* borrowed */
    char local_path[CHRONY_PATH_MAX]; /* our own bound unix socket, "" for UDP */
    uint64_t rng;                     /* xorshift64* state for sequence numbers */
    uint32_t sequence;                /* of the latest request */
    struct cb_reading sent;           /* taken just before the latest request was sent */
    uint8_t buf[CHRONY_REPLY_MAX_LEN];
    /* The latest NTPDATA request: its own sequence number, and the source it asked about. */
    bool nd_pending; /* sent and not answered yet */
    uint32_t nd_sequence;
    uint16_t nd_family;
    uint8_t nd_addr[16];
    /* The latest RESET_SOURCES and BURST requests, each with its own sequence number. */
    struct null_request nulls[NULL_REQUESTS];
};

static int set_why(const char **why, const char *msg, int err)
{
    if (why != NULL) {
        *why = msg;
    }
    return err;
}

int chrony_addr_parse(const char *text, struct chrony_addr *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    if (strncmp(text, "unix:", 5) == 0) {
        const char *path = text + 5;
        if (path[0] != '/') {
            return set_why(why, "unix socket path must be absolute (unix:/run/chrony/chronyd.sock)",
                           -EINVAL);
        }
        if (strlen(path) >= sizeof(out->path)) {
            return set_why(why, "unix socket path is too long", -ENAMETOOLONG);
        }
        out->transport = CHRONY_TRANSPORT_UNIX;
        strcpy(out->path, path);
        return 0;
    }
    if (strncmp(text, "udp:", 4) != 0) {
        return set_why(why, "chrony address must be udp:HOST[:PORT] or unix:PATH", -EINVAL);
    }
    const char *host = text + 4;
    const char *host_end = NULL;
    const char *port = NULL;
    if (host[0] == '[') {
        host++;
        host_end = strchr(host, ']');
        if (host_end == NULL || (host_end[1] != '\0' && host_end[1] != ':')) {
            return set_why(why, "IPv6 address must be written udp:[ADDR]:PORT", -EINVAL);
        }
        port = host_end[1] == ':' ? host_end + 2 : NULL;
    } else {
        const char *colon = strchr(host, ':');
        if (colon != NULL && strchr(colon + 1, ':') != NULL) {
            return set_why(why, "IPv6 address must be written udp:[ADDR]:PORT", -EINVAL);
        }
        host_end = colon != NULL ? colon : host + strlen(host);
        port = colon != NULL ? colon + 1 : NULL;
    }
    size_t host_len = (size_t)(host_end - host);
    if (host_len == 0) {
        return set_why(why, "chrony address has an empty host", -EINVAL);
    }
    if (host_len >= sizeof(out->host)) {
        return set_why(why, "chrony host name is too long", -ENAMETOOLONG);
    }
    out->port = CHRONY_DEFAULT_PORT;
    if (port != NULL) {
        char *end = NULL;
        errno = 0;
        unsigned long v = strtoul(port, &end, 10);
        if (port[0] < '0' || port[0] > '9' || *end != '\0' || errno != 0 || v == 0 || v > 65535) {
            return set_why(why, "chrony port must be a number from 1 to 65535", -EINVAL);
        }
        out->port = (uint16_t)v;
    }
    out->transport = CHRONY_TRANSPORT_UDP;
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    return 0;
}

int chrony_addr_format(const struct chrony_addr *a, char *buf, size_t len)
{
    if (a->transport == CHRONY_TRANSPORT_UNIX) {
        return snprintf(buf, len, "unix:%s", a->path);
    }
    bool v6 = strchr(a->host, ':') != NULL;
    return snprintf(buf, len, "udp:%s%s%s:%u", v6 ? "[" : "", a->host, v6 ? "]" : "",
                    (unsigned)a->port);
}

int chrony_addr_setting(const char *value, struct chrony_addr *out, char *text, size_t text_len,
                        char *why_buf, size_t why_len)
{
    const char *reason = NULL;
    if (chrony_addr_parse(value, out, &reason) < 0) {
        snprintf(why_buf, why_len, "invalid --chrony '%s': %s", value, reason);
        return -EINVAL;
    }
    chrony_addr_format(out, text, text_len);
    return 0;
}

static uint32_t next_random(struct chrony_client *c)
{
    /* xorshift64* (Vigna): plenty for sequence numbers, which only need to be unpredictable
     * enough that a stale reply never matches a new request. */
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return (uint32_t)((c->rng * UINT64_C(2685821657736338717)) >> 32);
}

static int open_udp(struct chrony_client *c)
{
    char port[8];
    snprintf(port, sizeof(port), "%u", (unsigned)c->addr.port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    struct addrinfo *res = NULL;
    if (getaddrinfo(c->addr.host, port, &hints, &res) != 0 || res == NULL) {
        return -EADDRNOTAVAIL;
    }
    /* The first IPv4 address, else the first one: chronyd's default command addresses are
     * 127.0.0.1 and ::1, and a demo or hand-written config often binds 127.0.0.1 alone. */
    const struct addrinfo *pick = res;
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
    }
    int rc = 0;
    c->fd = socket(pick->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        rc = -errno;
    } else if (connect(c->fd, pick->ai_addr, pick->ai_addrlen) < 0) {
        rc = -errno;
    }
    freeaddrinfo(res);
    return rc;
}

/* Binds the client's own socket in dir under a fresh random name; never replaces a file. */
static int bind_local(struct chrony_client *c, const char *dir)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    for (int tries = 0; tries < 8; tries++) {
        int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s%sclockbound.%ld.%08x.sock", dir,
                         dir[1] == '\0' ? "" : "/", (long)getpid(), next_random(c));
        if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
            return -ENAMETOOLONG;
        }
        if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            strcpy(c->local_path, sa.sun_path);
            return 0;
        }
        if (errno != EADDRINUSE) {
            return -errno;
        }
    }
    return -EADDRINUSE;
}

static int open_unix(struct chrony_client *c)
{
    char dir[CHRONY_PATH_MAX];
    strcpy(dir, c->addr.path);
    char *slash = strrchr(dir, '/');    /* the path is absolute: there is one */
    slash[slash == dir ? 1 : 0] = '\0'; /* "/x.sock" -> "/" */

    c->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        return -errno;
    }
    int rc = bind_local(c, dir);
    if (rc < 0) {
        return rc;
    }
    /* chronyd may run as an unprivileged user; it must be able to send to us. */
    if (chmod(c->local_path, 0666) < 0) {
        return -errno;
    }
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, c->addr.path);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        return -errno;
    }
    return 0;
}

struct chrony_client *chrony_client_new(const struct chrony_addr *a, struct cb_clock *clock,
                                        int *err)
{
    struct chrony_client *c = calloc(1, sizeof(*c));
    int rc = 0;
    if (c == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    c->fd = -1;
    c->addr = *a;
    c->clock = clock;
    if (getrandom(&c->rng, sizeof(c->rng), GRND_NONBLOCK) != (ssize_t)sizeof(c->rng)) {
        c->rng = (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)c;
    }
    c->rng |= 1; /* xorshift state must be nonzero */
    rc = a->transport == CHRONY_TRANSPORT_UNIX ? open_unix(c) : open_udp(c);
    if (rc < 0) {
        goto fail;
    }
    return c;

fail:
    chrony_client_free(c);
    if (err != NULL) {
        *err = rc;
    }
    return NULL;
}

void chrony_client_free(struct chrony_client *c)
{
    if (c == NULL) {
        return;
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    if (c->local_path[0] != '\0') {
        (void)unlink(c->local_path);
    }
    free(c);
}

int chrony_client_fd(const struct chrony_client *c)
{
    return c->fd;
}

const char *chrony_client_local_path(const struct chrony_client *c)
{
    return c->local_path;
}

/* Sends one request of len bytes. Returns 0, a negative errno from send(2), or -EIO when the
 * datagram went out short. */
static int send_request(struct chrony_client *c, const uint8_t *req, int len)
{
    ssize_t n = send(c->fd, req, (size_t)len, 0);
    if (n < 0) {
        return -errno;
    }
    return n == len ? 0 : -EIO;
}

int chrony_client_send(struct chrony_client *c, uint16_t attempt)
{
    uint32_t seq = next_random(c);
    if (seq == c->sequence) {
        seq++;
    }
    c->sequence = seq;
    uint8_t req[CHRONY_TRACKING_LEN];
    int len = chrony_encode_tracking_request(req, sizeof(req), seq, attempt);
    if (len < 0) {
        return len;
    }
    /* The reading must come before the send: chrony's report is made after it, so the bound's
     * growth from m0 covers everything up to the report (DESIGN.md section 2). */
    cb_clock_read(c->clock, &c->sent);
    return send_request(c, req, len);
}

int chrony_client_send_ntpdata(struct chrony_client *c, uint16_t family, const uint8_t *addr,
                               uint16_t attempt)
{
    uint32_t seq = next_random(c);
    if (seq == c->nd_sequence || seq == c->sequence) {
        seq++;
    }
    uint8_t req[CHRONY_NTPDATA_LEN];
    int len = chrony_encode_ntpdata_request(req, sizeof(req), seq, attempt, family, addr);
    if (len < 0) {
        return len;
    }
    c->nd_sequence = seq;
    c->nd_family = family;
    memcpy(c->nd_addr, addr, sizeof(c->nd_addr));
    c->nd_pending = true;
    return send_request(c, req, len);
}

/* Records request `which` (NULL_RESET_SOURCES, NULL_BURST) as pending with sequence seq, then
 * sends its len bytes. */
static int send_null_request(struct chrony_client *c, int which, uint32_t seq, const uint8_t *req,
                             int len)
{
    c->nulls[which].sequence = seq;
    c->nulls[which].pending = true;
    return send_request(c, req, len);
}

/* A fresh sequence number, other than previous (the latest of the same kind of request). */
static uint32_t fresh_sequence(struct chrony_client *c, uint32_t previous)
{
    uint32_t seq = next_random(c);
    return seq == previous ? seq + 1 : seq;
}

int chrony_client_send_reset_sources(struct chrony_client *c, uint16_t attempt)
{
    uint32_t seq = fresh_sequence(c, c->nulls[NULL_RESET_SOURCES].sequence);
    uint8_t req[CHRONY_RESET_SOURCES_LEN];
    int len = chrony_encode_reset_sources_request(req, sizeof(req), seq, attempt);
    if (len < 0) {
        return len;
    }
    return send_null_request(c, NULL_RESET_SOURCES, seq, req, len);
}

int chrony_client_send_burst(struct chrony_client *c, int32_t n_good, int32_t n_total,
                             uint16_t attempt)
{
    uint32_t seq = fresh_sequence(c, c->nulls[NULL_BURST].sequence);
    uint8_t req[CHRONY_BURST_LEN];
    int len = chrony_encode_burst_request(req, sizeof(req), seq, attempt, n_good, n_total);
    if (len < 0) {
        return len; /* -EINVAL: nothing sent, the pending request (if any) untouched */
    }
    return send_null_request(c, NULL_BURST, seq, req, len);
}

/* Which of nulls[] a reply with this command field answers, or -1 when none does. */
static int null_index(int command)
{
    for (int i = 0; i < NULL_REQUESTS; i++) {
        if (command == null_commands[i].command) {
            return i;
        }
    }
    return -1;
}

/* Decodes the datagram of len bytes in c->buf as the reply to nulls[which]. */
static int recv_null_reply(struct chrony_client *c, size_t len, int which, struct chrony_reply *out,
                           const char **why)
{
    const struct null_command *nc = &null_commands[which];
    struct null_request *r = &c->nulls[which];
    out->kind = nc->kind;
    if (!r->pending) {
        return set_why(why, nc->unasked, -ESTALE);
    }
    int rc = chrony_decode_null_reply(c->buf, len, nc->command, r->sequence, why);
    if (rc != -ESTALE) {
        r->pending = false; /* done, refused or malformed: that request is over */
    }
    return rc;
}

int chrony_client_recv_reply(struct chrony_client *c, struct chrony_reply *out, const char **why)
{
    out->kind = CHRONY_REPLY_TRACKING;
    /* MSG_TRUNC makes recv return the datagram's real length, so an over-long one is seen. */
    ssize_t n = recv(c->fd, c->buf, sizeof(c->buf), MSG_TRUNC);
    if (n < 0) {
        int err = errno == EWOULDBLOCK ? EAGAIN : errno;
        return set_why(why, strerror(err), -err);
    }
    if ((size_t)n > sizeof(c->buf)) {
        return set_why(why, "reply is longer than any chrony reply", -EMSGSIZE);
    }
    int command = chrony_reply_command(c->buf, (size_t)n);
    int which = null_index(command);
    if (which >= 0) {
        return recv_null_reply(c, (size_t)n, which, out, why);
    }
    if (command == CHRONY_REQ_NTP_DATA) {
        out->kind = CHRONY_REPLY_NTPDATA;
        if (!c->nd_pending) {
            return set_why(why, "NTPDATA reply to no pending request", -ESTALE);
        }
        int rc = chrony_decode_ntpdata_reply(c->buf, (size_t)n, c->nd_sequence, c->nd_family,
                                             c->nd_addr, &out->ntpdata, why);
        if (rc != -ESTALE) {
            c->nd_pending = false; /* answered, refused or malformed: that request is over */
        }
        return rc;
    }
    int rc = chrony_decode_tracking_reply(c->buf, (size_t)n, c->sequence, &out->poll.tracking, why);
    if (rc < 0) {
        return rc;
    }
    out->poll.sent = c->sent;
    out->poll.recv_rt_ns = cb_clock_ns(c->clock, CB_CLOCK_REALTIME);
    /* No PHC reading: the caller adds one (cb_phc_take) when it reads one. */
    memset(&out->poll.phc, 0, sizeof(out->poll.phc));
    return 0;
}

int chrony_client_recv(struct chrony_client *c, struct cb_poll *out, const char **why)
{
    struct chrony_reply r;
    int rc = chrony_client_recv_reply(c, &r, why);
    if (r.kind != CHRONY_REPLY_TRACKING && rc != -EAGAIN) {
        return set_why(why, "not a tracking reply", -ESTALE);
    }
    if (rc == 0) {
        *out = r.poll;
    }
    return rc;
}

/* Waits until the socket is readable or deadline_ns (CLOCK_MONOTONIC) has passed. Returns 0,
 * -ETIMEDOUT or a poll(2) error. */
static int await_readable(struct chrony_client *c, int64_t deadline_ns, const char **why)
{
    for (;;) {
        int64_t left_ns = deadline_ns - cb_clock_ns(c->clock, CB_CLOCK_MONOTONIC);
        if (left_ns <= 0) {
            return set_why(why, "no reply from chronyd", -ETIMEDOUT);
        }
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN, .revents = 0};
        int ready = poll(&pfd, 1, (int)((left_ns + 999999) / 1000000));
        if (ready == 0) {
            /* poll waited at least until the deadline (a fake clock may not have moved). */
            return set_why(why, "no reply from chronyd", -ETIMEDOUT);
        }
        if (ready > 0) {
            return 0;
        }
        if (errno != EINTR) {
            return set_why(why, strerror(errno), -errno);
        }
    }
}

/* Waits for the reply to the latest request until deadline_ns (CLOCK_MONOTONIC). Returns 0,
 * -ETIMEDOUT, or the first error other than "nothing yet" and "stale reply". */
static int await_reply(struct chrony_client *c, int64_t deadline_ns, struct cb_poll *out,
                       const char **why)
{
    for (;;) {
        int rc = await_readable(c, deadline_ns, why);
        if (rc < 0) {
            return rc;
        }
        rc = chrony_client_recv(c, out, why);
        if (rc != -EAGAIN && rc != -ESTALE) {
            return rc;
        }
    }
}

/* The same for the latest request whose reply is of kind (NTPDATA, RESET_SOURCES, BURST):
 * replies of other kinds are skipped. *r gets the reply. */
static int await_kind(struct chrony_client *c, int64_t deadline_ns, enum chrony_reply_kind kind,
                      struct chrony_reply *r, const char **why)
{
    for (;;) {
        int rc = await_readable(c, deadline_ns, why);
        if (rc < 0) {
            return rc;
        }
        rc = chrony_client_recv_reply(c, r, why);
        if (r->kind != kind || rc == -EAGAIN || rc == -ESTALE) {
            continue;
        }
        return rc;
    }
}

int chrony_client_query(struct chrony_client *c, const struct chrony_query_opts *opts,
                        struct cb_poll *out, const char **why)
{
    if (opts->attempts < 1 || opts->timeout_ns < 1000000) {
        return set_why(why, "invalid query options", -EINVAL);
    }
    int rc = -ETIMEDOUT;
    for (int attempt = 0; attempt < opts->attempts; attempt++) {
        rc = chrony_client_send(c, (uint16_t)attempt);
        if (rc < 0) {
            set_why(why, strerror(-rc), rc);
            continue;
        }
        int64_t deadline_ns = cb_clock_ns(c->clock, CB_CLOCK_MONOTONIC) + opts->timeout_ns;
        rc = await_reply(c, deadline_ns, out, why);
        if (rc == 0) {
            return 0;
        }
    }
    return rc;
}

int chrony_client_query_ntpdata(struct chrony_client *c, const struct chrony_query_opts *opts,
                                uint16_t family, const uint8_t *addr, struct chrony_ntpdata *out,
                                const char **why)
{
    if (opts->attempts < 1 || opts->timeout_ns < 1000000) {
        return set_why(why, "invalid query options", -EINVAL);
    }
    int rc = -ETIMEDOUT;
    for (int attempt = 0; attempt < opts->attempts; attempt++) {
        rc = chrony_client_send_ntpdata(c, family, addr, (uint16_t)attempt);
        if (rc == -EAFNOSUPPORT) {
            return set_why(why, "not an IPv4 or IPv6 address", rc);
        }
        if (rc < 0) {
            set_why(why, strerror(-rc), rc);
            continue;
        }
        int64_t deadline_ns = cb_clock_ns(c->clock, CB_CLOCK_MONOTONIC) + opts->timeout_ns;
        struct chrony_reply r;
        rc = await_kind(c, deadline_ns, CHRONY_REPLY_NTPDATA, &r, why);
        if (rc == 0) {
            *out = r.ntpdata;
            return 0;
        }
    }
    return rc;
}

/* Blocking RESET_SOURCES (which NULL_RESET_SOURCES) or BURST (NULL_BURST, with the counts). */
static int query_null(struct chrony_client *c, const struct chrony_query_opts *opts, int which,
                      int32_t n_good, int32_t n_total, const char **why)
{
    if (opts->attempts < 1 || opts->timeout_ns < 1000000) {
        return set_why(why, "invalid query options", -EINVAL);
    }
    int rc = -ETIMEDOUT;
    for (int attempt = 0; attempt < opts->attempts; attempt++) {
        rc = which == NULL_BURST ? chrony_client_send_burst(c, n_good, n_total, (uint16_t)attempt)
                                 : chrony_client_send_reset_sources(c, (uint16_t)attempt);
        if (rc == -EINVAL) {
            return set_why(why, "a burst needs 1 <= good samples <= total samples", rc);
        }
        if (rc < 0) {
            set_why(why, strerror(-rc), rc);
            continue;
        }
        int64_t deadline_ns = cb_clock_ns(c->clock, CB_CLOCK_MONOTONIC) + opts->timeout_ns;
        struct chrony_reply r;
        rc = await_kind(c, deadline_ns, null_commands[which].kind, &r, why);
        if (rc == 0 || rc == -EREMOTEIO) {
            return rc; /* chronyd's answer: asking again gets the same one */
        }
    }
    return rc;
}

int chrony_client_query_reset_sources(struct chrony_client *c, const struct chrony_query_opts *opts,
                                      const char **why)
{
    return query_null(c, opts, NULL_RESET_SOURCES, 0, 0, why);
}

int chrony_client_query_burst(struct chrony_client *c, const struct chrony_query_opts *opts,
                              int32_t n_good, int32_t n_total, const char **why)
{
    return query_null(c, opts, NULL_BURST, n_good, n_total, why);
}

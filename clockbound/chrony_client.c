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

struct chrony_client {
    int fd;
    struct chrony_addr addr;
    char local_path[CHRONY_PATH_MAX]; /* our own bound unix socket, "" for UDP */
    uint64_t rng;                     /* xorshift64* state for sequence numbers */
    uint32_t sequence;                /* of the latest request */
    uint8_t buf[CHRONY_REPLY_MAX_LEN];
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
    int rc = 0;
    c->fd = socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        rc = -errno;
    } else if (connect(c->fd, res->ai_addr, res->ai_addrlen) < 0) {
        rc = -errno;
    }
    freeaddrinfo(res);
    return rc;
}

static int open_unix(struct chrony_client *c)
{
    static unsigned counter; /* distinguishes clients within one process */
    char dir[CHRONY_PATH_MAX];
    strcpy(dir, c->addr.path);
    char *slash = strrchr(dir, '/');
    slash[slash == dir ? 1 : 0] = '\0'; /* "/x.sock" -> "/" */
    int n = snprintf(c->local_path, sizeof(c->local_path), "%s%sclockbound.%ld.%u.sock", dir,
                     dir[1] == '\0' ? "" : "/", (long)getpid(), counter++);
    if (n < 0 || (size_t)n >= sizeof(c->local_path)) {
        c->local_path[0] = '\0';
        return -ENAMETOOLONG;
    }

    c->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        c->local_path[0] = '\0';
        return -errno;
    }
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, c->local_path);
    /* A file left by a crashed process with our pid would make bind fail. */
    (void)unlink(c->local_path);
    if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int err = -errno;
        c->local_path[0] = '\0';
        return err;
    }
    /* chronyd may run as an unprivileged user; it must be able to send to us. */
    if (chmod(c->local_path, 0666) < 0) {
        return -errno;
    }
    strcpy(sa.sun_path, c->addr.path);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        return -errno;
    }
    return 0;
}

struct chrony_client *chrony_client_new(const struct chrony_addr *a, int *err)
{
    struct chrony_client *c = calloc(1, sizeof(*c));
    int rc = 0;
    if (c == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    c->fd = -1;
    c->addr = *a;
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
    ssize_t n = send(c->fd, req, (size_t)len, 0);
    if (n < 0) {
        return -errno;
    }
    return n == len ? 0 : -EIO;
}

int chrony_client_recv(struct chrony_client *c, struct chrony_tracking *out, const char **why)
{
    /* MSG_TRUNC makes recv return the datagram's real length, so an over-long one is seen. */
    ssize_t n = recv(c->fd, c->buf, sizeof(c->buf), MSG_TRUNC);
    if (n < 0) {
        int err = errno == EWOULDBLOCK ? EAGAIN : errno;
        return set_why(why, strerror(err), -err);
    }
    if ((size_t)n > sizeof(c->buf)) {
        return set_why(why, "reply is longer than any chrony reply", -EMSGSIZE);
    }
    return chrony_decode_tracking_reply(c->buf, (size_t)n, c->sequence, out, why);
}

int chrony_client_query(struct chrony_client *c, struct cb_clock *clock,
                        const struct chrony_query_opts *opts, struct cb_poll *out, const char **why)
{
    for (int attempt = 0; attempt < opts->attempts; attempt++) {
        cb_clock_read(clock, &out->sent);
        int rc = chrony_client_send(c, (uint16_t)attempt);
        if (rc == -EAGAIN || rc == -ENOBUFS) {
            continue;
        }
        if (rc < 0) {
            return set_why(why, strerror(-rc), rc);
        }
        int64_t deadline_ns =
            cb_clock_ns(clock, CB_CLOCK_MONOTONIC) + (int64_t)opts->timeout_ms * 1000000;
        for (;;) {
            int64_t left_ns = deadline_ns - cb_clock_ns(clock, CB_CLOCK_MONOTONIC);
            if (left_ns <= 0) {
                break;
            }
            struct pollfd pfd = {.fd = c->fd, .events = POLLIN, .revents = 0};
            int ready = poll(&pfd, 1, (int)((left_ns + 999999) / 1000000));
            if (ready == 0) {
                break; /* poll waited at least until the deadline */
            }
            if (ready < 0) {
                if (errno == EINTR) {
                    continue;
                }
                return set_why(why, strerror(errno), -errno);
            }
            rc = chrony_client_recv(c, &out->tracking, why);
            if (rc == 0) {
                out->recv_rt_ns = cb_clock_ns(clock, CB_CLOCK_REALTIME);
                return 0;
            }
            if (rc != -EAGAIN && rc != -ESTALE) {
                return rc;
            }
        }
    }
    return set_why(why, "no reply from chronyd", -ETIMEDOUT);
}

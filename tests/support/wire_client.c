/* A minimal blocking oracled client for tests (see wire_client.h). */
#include "wire_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netaddr.h"

struct request wc_request(uint64_t id, enum req_op op)
{
    struct request r;
    memset(&r, 0, sizeof(r));
    r.id = id;
    r.op = op;
    return r;
}

int wc_connect(struct wire_client *c, const char *host, uint16_t port)
{
    return wc_connect_from(c, host, port, NULL);
}

int wc_connect_from(struct wire_client *c, const char *host, uint16_t port, const char *from)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl;
    if (strchr(host, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1) {
            return -EINVAL;
        }
        sl = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) {
            return -EINVAL;
        }
        sl = sizeof(*s4);
    }
    int rc = arena_init(&c->arena, 4 * FRAME_MAX_TOTAL);
    if (rc < 0) {
        return rc;
    }
    c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in local = {.sin_family = AF_INET};
    if (from != NULL &&
        (ss.ss_family != AF_INET || inet_pton(AF_INET, from, &local.sin_addr) != 1)) {
        wc_close(c);
        return -EINVAL;
    }
    if (c->fd < 0 || (from != NULL && bind(c->fd, (struct sockaddr *)&local, sizeof(local)) < 0) ||
        connect(c->fd, (struct sockaddr *)&ss, sl) < 0) {
        rc = -errno;
        wc_close(c);
        return rc;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return 0;
}

int wc_connect_addr(struct wire_client *c, const char *addr)
{
    struct sockaddr_storage ss;
    if (netaddr_parse(addr, &ss) < 0) {
        return -EINVAL;
    }
    char host[64];
    uint16_t port;
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
        port = ntohs(s6->sin6_port);
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
        port = ntohs(s4->sin_port);
    }
    return wc_connect(c, host, port);
}

void wc_close(struct wire_client *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    if (c->arena.base != NULL) {
        arena_fini(&c->arena);
    }
}

int wc_send_raw(struct wire_client *c, const void *bytes, size_t len)
{
    const uint8_t *p = bytes;
    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int wc_send(struct wire_client *c, const struct request *r)
{
    uint8_t buf[WIRE_RESPONSE_MAX];
    int n = wire_encode_request(r, buf, sizeof(buf));
    if (n < 0) {
        return n;
    }
    return wc_send_raw(c, buf, (size_t)n);
}

/* Reads more bytes, waiting up to timeout_ms. */
static int fill(struct wire_client *c, int timeout_ms)
{
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN, .revents = 0};
    int ready = poll(&pfd, 1, timeout_ms);
    if (ready < 0) {
        return -errno;
    }
    if (ready == 0) {
        return -ETIMEDOUT;
    }
    if (c->len == sizeof(c->buf)) {
        return -EMSGSIZE;
    }
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (n < 0) {
        return errno == ECONNRESET ? -EPIPE : -errno;
    }
    if (n == 0) {
        return -EPIPE;
    }
    c->len += (size_t)n;
    return 0;
}

int wc_recv(struct wire_client *c, struct response *out, int timeout_ms)
{
    arena_reset(&c->arena);
    for (;;) {
        const uint8_t *msg = NULL;
        size_t msg_len = 0;
        int n = frame_decode(c->buf, c->len, FRAME_MAX_LEN, &msg, &msg_len);
        if (n < 0) {
            return n;
        }
        if (n > 0) {
            int rc = wire_decode_response(msg, msg_len, &c->arena, out);
            /* Keep the message's strings valid: they live in the arena, not in buf. */
            memmove(c->buf, c->buf + n, c->len - (size_t)n);
            c->len -= (size_t)n;
            return rc;
        }
        int rc = fill(c, timeout_ms);
        if (rc < 0) {
            return rc;
        }
    }
}

int wc_call(struct wire_client *c, const struct request *r, struct response *out, int timeout_ms)
{
    int rc = wc_send(c, r);
    if (rc < 0) {
        return rc;
    }
    rc = wc_recv(c, out, timeout_ms);
    if (rc == 0 && out->id != r->id && out->id != 0) {
        return -EPROTO;
    }
    return rc;
}

int wc_wait_closed(struct wire_client *c, int timeout_ms)
{
    for (;;) {
        int rc = fill(c, timeout_ms);
        if (rc == -EPIPE) {
            return 0;
        }
        if (rc < 0) {
            return rc;
        }
        /* Data instead of a close: the caller did not expect any. */
        c->len = 0;
        return -EPROTO;
    }
}

/* Connecting to the first server that answers (see sock.h). */
#include "sock.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int64_t sock_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Appends "; " and a formatted note to why (cut when full). */
static void note(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(char *why, size_t cap, const char *fmt, ...)
{
    size_t used = strlen(why);
    if (used + 3 >= cap) {
        return;
    }
    if (used > 0) {
        memcpy(why + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why + used, cap - used, fmt, ap);
    va_end(ap);
}

static void format_peer(const struct sockaddr *sa, socklen_t len, char *buf, size_t cap)
{
    char host[INET6_ADDRSTRLEN + 16]; /* numeric, with a %scope */
    char port[8];
    if (getnameinfo(sa, len, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(buf, cap, "?");
    } else if (sa->sa_family == AF_INET6) {
        snprintf(buf, cap, "[%s]:%s", host, port);
    } else {
        snprintf(buf, cap, "%s:%s", host, port);
    }
}

/* One attempt. Returns the connected socket, or -errno (-ETIMEDOUT after timeout_ms). */
static int try_connect(const struct addrinfo *ai, uint32_t timeout_ms)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    int rc = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        if (errno != EINPROGRESS) {
            rc = -errno;
            goto fail;
        }
        int64_t deadline = sock_monotonic_ns() + (int64_t)timeout_ms * 1000000;
        for (;;) {
            int64_t left_ms = (deadline - sock_monotonic_ns() + 999999) / 1000000;
            if (left_ms <= 0) {
                rc = -ETIMEDOUT;
                goto fail;
            }
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int n = poll(&p, 1, (int)left_ms);
            if (n < 0 && errno != EINTR) {
                rc = -errno;
                goto fail;
            }
            if (n > 0) {
                break;
            }
        }
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) {
            soerr = errno;
        }
        if (soerr != 0) {
            rc = -soerr;
            goto fail;
        }
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
fail:
    close(fd);
    return rc;
}

int sock_connect(const struct server_addr *list, size_t n, uint32_t timeout_ms, int *fd,
                 size_t *which, char *peer, size_t peer_cap, char *why, size_t why_cap)
{
    why[0] = '\0';
    *fd = -1;
    for (size_t i = 0; i < n; i++) {
        char name[SERVERS_HOST_MAX + 16];
        servers_format(&list[i], name, sizeof(name));
        struct addrinfo hints;
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICSERV;
        struct addrinfo *res = NULL;
        int grc = getaddrinfo(list[i].host, list[i].port, &hints, &res);
        if (grc != 0) {
            note(why, why_cap, "%s: %s", name, gai_strerror(grc));
            continue;
        }
        for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
            char addr[80];
            format_peer(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr));
            int s = try_connect(ai, timeout_ms);
            if (s >= 0) {
                *fd = s;
                *which = i;
                snprintf(peer, peer_cap, "%s", addr);
                freeaddrinfo(res);
                return 0;
            }
            if (s == -ETIMEDOUT) {
                note(why, why_cap, "%s: no answer within %u ms", addr, (unsigned)timeout_ms);
            } else {
                note(why, why_cap, "%s: %s", addr, strerrordesc_np(-s));
            }
        }
        freeaddrinfo(res);
    }
    return -ECONNREFUSED;
}

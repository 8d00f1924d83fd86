/* Helpers the integration tests share (see it_util.h). */
#include "it_util.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int64_t it_clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t it_realtime_ns(void)
{
    return it_clock_ns(CLOCK_REALTIME);
}

static int64_t mono_ms(void)
{
    return it_clock_ns(CLOCK_MONOTONIC) / 1000000;
}

/* Splits "HOST:PORT" or "[V6]:PORT" and connects to it (numeric only). Returns the socket or a
 * negative errno. */
static int connect_to(const char *hostport)
{
    char host[64];
    const char *port;
    if (hostport[0] == '[') {
        const char *end = strchr(hostport, ']');
        if (end == NULL || end[1] != ':' || (size_t)(end - hostport - 1) >= sizeof(host)) {
            return -EINVAL;
        }
        memcpy(host, hostport + 1, (size_t)(end - hostport - 1));
        host[end - hostport - 1] = '\0';
        port = end + 2;
    } else {
        const char *colon = strrchr(hostport, ':');
        if (colon == NULL || (size_t)(colon - hostport) >= sizeof(host)) {
            return -EINVAL;
        }
        memcpy(host, hostport, (size_t)(colon - hostport));
        host[colon - hostport] = '\0';
        port = colon + 1;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host, port, &hints, &ai) != 0) {
        return -EINVAL;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = fd;
    if (fd < 0) {
        rc = -errno;
    } else if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        rc = -errno;
        close(fd);
    }
    freeaddrinfo(ai);
    return rc;
}

int it_http_get(const char *hostport, const char *path, char *buf, size_t cap, int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    int fd = connect_to(hostport);
    if (fd < 0) {
        return fd;
    }
    char req[512];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
                     path, hostport);
    int rc = 0;
    if (n < 0 || (size_t)n >= sizeof(req)) {
        rc = -EINVAL;
        goto out;
    }
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        rc = -EIO;
        goto out;
    }
    size_t len = 0;
    for (;;) {
        int64_t left = deadline - mono_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            rc = -ETIMEDOUT;
            goto out;
        }
        char tmp[4096];
        ssize_t got = recv(fd, tmp, sizeof(tmp), 0);
        if (got < 0) {
            rc = -errno;
            goto out;
        }
        if (got == 0) {
            break;
        }
        size_t take = (size_t)got < cap - 1 - len ? (size_t)got : cap - 1 - len;
        memcpy(buf + len, tmp, take);
        len += take;
    }
    buf[len] = '\0';
    int status = 0;
    if (sscanf(buf, "HTTP/1.1 %3d ", &status) != 1) {
        rc = -EPROTO;
        goto out;
    }
    rc = status;
out:
    close(fd);
    return rc;
}

int it_metric_u64(const char *hostport, const char *name, uint64_t *value)
{
    enum { CAP = 1 << 20 }; /* /metrics is some 30 KB */
    char *buf = malloc(CAP);
    if (buf == NULL) {
        return -ENOMEM;
    }
    int rc = it_http_get(hostport, "/metrics", buf, CAP, 5000);
    if (rc >= 0 && rc != 200) {
        rc = -EPROTO;
    }
    if (rc < 0) {
        goto out;
    }
    /* The body: one sample a line, "NAME VALUE". */
    const char *line = strstr(buf, "\r\n\r\n");
    if (line == NULL) {
        rc = -EPROTO;
        goto out;
    }
    line += 4;
    rc = -ENOENT;
    size_t name_len = strlen(name);
    while (*line != '\0') {
        if (strncmp(line, name, name_len) == 0 && line[name_len] == ' ') {
            const char *digits = line + name_len + 1;
            char *end = NULL;
            errno = 0;
            unsigned long long v = strtoull(digits, &end, 10);
            bool whole =
                errno == 0 && end != digits && *digits != '-' && (*end == '\n' || *end == '\0');
            *value = (uint64_t)v;
            rc = whole ? 0 : -EPROTO;
            break;
        }
        const char *eol = strchr(line, '\n');
        if (eol == NULL) {
            break;
        }
        line = eol + 1;
    }
out:
    free(buf);
    return rc;
}

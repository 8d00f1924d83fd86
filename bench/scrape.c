/* /metrics over a blocking socket (see scrape.h). */
#include "scrape.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netaddr.h"

#define BODY_MAX (4 * 1024 * 1024)

char *scrape_metrics(const char *addr)
{
    struct sockaddr_storage ss;
    if (netaddr_parse(addr, &ss) < 0) {
        fprintf(stderr, "oracle-bench: invalid metrics address '%s'\n", addr);
        return NULL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t sl =
        ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    struct timeval tv = {.tv_sec = 2};
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        connect(fd, (struct sockaddr *)&ss, sl) < 0) {
        fprintf(stderr, "oracle-bench: cannot connect to %s for /metrics: %s\n", addr,
                strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return NULL;
    }
    static const char req[] = "GET /metrics HTTP/1.0\r\nHost: oracled\r\n\r\n";
    char *buf = malloc(BODY_MAX + 1);
    size_t len = 0;
    if (buf == NULL || send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1) {
        free(buf);
        close(fd);
        return NULL;
    }
    for (;;) {
        ssize_t n = recv(fd, buf + len, BODY_MAX - len, 0);
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
        if (len == BODY_MAX) {
            break;
        }
    }
    close(fd);
    buf[len] = '\0';
    char *body = strstr(buf, "\r\n\r\n");
    /* "HTTP/1.x 200 ..." on the status line itself. */
    if (strncmp(buf, "HTTP/1.", 7) != 0 || len < 13 || strncmp(buf + 8, " 200 ", 5) != 0 ||
        body == NULL) {
        fprintf(stderr, "oracle-bench: no /metrics from %s\n", addr);
        free(buf);
        return NULL;
    }
    memmove(buf, body + 4, strlen(body + 4) + 1);
    return buf;
}

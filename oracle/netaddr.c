/* Listening addresses (see netaddr.h). */
#include "netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int netaddr_parse(const char *text, struct sockaddr_storage *out)
{
    char host[64];
    memset(out, 0, sizeof(*out));
    const char *colon = strrchr(text, ':');
    if (colon == NULL || colon == text || colon[1] == '\0') {
        return -EINVAL;
    }
    size_t hl = (size_t)(colon - text);
    const char *h = text;
    if (text[0] == '[') {
        if (hl < 3 || text[hl - 1] != ']') {
            return -EINVAL;
        }
        h++;
        hl -= 2;
    }
    if (hl >= sizeof(host)) {
        return -EINVAL;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535 || colon[1] < '0' || colon[1] > '9') {
        return -EINVAL;
    }
    int rc = strchr(host, ':') != NULL ? uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)out)
                                       : uv_ip4_addr(host, (int)port, (struct sockaddr_in *)out);
    return rc < 0 ? -EINVAL : 0;
}

void netaddr_format(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
    char host[64] = "?";
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        uv_ip6_name(s6, host, sizeof(host));
        snprintf(buf, cap, "[%s]:%u", host, ntohs(s6->sin6_port));
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        uv_ip4_name(s4, host, sizeof(host));
        snprintf(buf, cap, "%s:%u", host, ntohs(s4->sin_port));
    }
}

int netaddr_listen(uv_loop_t *loop, uv_tcp_t *handle, const char *text, int backlog,
                   uv_connection_cb cb, const char *what)
{
    uv_tcp_init(loop, handle);
    struct sockaddr_storage ss;
    if (netaddr_parse(text, &ss) < 0) {
        log_err("invalid %s address '%s': expected HOST:PORT or [IPV6]:PORT", what, text);
        return -EINVAL;
    }
    int rc = uv_tcp_bind(handle, (const struct sockaddr *)&ss, 0);
    if (rc == 0) {
        rc = uv_listen((uv_stream_t *)handle, backlog, cb);
    }
    if (rc < 0) {
        log_err_errno(rc, "cannot listen on %s (%s)", text, what);
    }
    return rc;
}

void netaddr_log_listening(uv_tcp_t *handle, const char *what)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char addr[80] = "?";
    if (uv_tcp_getsockname(handle, (struct sockaddr *)&ss, &len) == 0) {
        netaddr_format(&ss, addr, sizeof(addr));
    }
    log_info("listening on %s (%s)", addr, what);
}

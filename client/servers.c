/* The client's server list (see servers.h). Pure. */
#include "servers.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool all_digits(const char *s, size_t len)
{
    if (len == 0) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return true;
}

static int parse_port(const char *s, size_t len, struct server_addr *e, const char **why)
{
    unsigned long port = 0;
    if (!all_digits(s, len) || len > 5) {
        *why = "the port is not a number from 1 to 65535";
        return -EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        port = port * 10 + (unsigned long)(s[i] - '0');
    }
    if (port == 0 || port > 65535) {
        *why = "the port is not a number from 1 to 65535";
        return -EINVAL;
    }
    snprintf(e->port, sizeof(e->port), "%lu", port);
    return 0;
}

static int set_host(const char *s, size_t len, struct server_addr *e, const char **why)
{
    if (len == 0) {
        *why = "the host is empty";
        return -EINVAL;
    }
    if (len >= sizeof(e->host)) {
        *why = "the host is longer than 253 characters";
        return -EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch <= ' ' || ch == '[' || ch == ']' || ch == '/' || ch == '\x7f') {
            *why = "the host contains a character no address or name can";
            return -EINVAL;
        }
    }
    memcpy(e->host, s, len);
    e->host[len] = '\0';
    return 0;
}

/* One entry, s[0 .. len), blanks already trimmed. */
static int parse_entry(const char *s, size_t len, uint16_t default_port, struct server_addr *e,
                       const char **why)
{
    memset(e, 0, sizeof(*e));
    if (len == 0) {
        *why = "an entry is empty";
        return -EINVAL;
    }
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL) {
            *why = "'[' without a closing ']'";
            return -EINVAL;
        }
        size_t hl = (size_t)(close - s) - 1;
        int rc = set_host(s + 1, hl, e, why);
        if (rc < 0) {
            return rc;
        }
        size_t rest = len - hl - 2;
        if (rest == 0) {
            snprintf(e->port, sizeof(e->port), "%u", (unsigned)default_port);
            return 0;
        }
        if (close[1] != ':') {
            *why = "expected ':PORT' after ']'";
            return -EINVAL;
        }
        return parse_port(close + 2, rest - 1, e, why);
    }
    size_t colons = 0;
    const char *colon = NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ':') {
            colons++;
            colon = s + i;
        }
    }
    /* No colon: a host alone; two or more: an IPv6 address without brackets, so no port. */
    if (colons != 1) {
        int rc = set_host(s, len, e, why);
        if (rc == 0) {
            snprintf(e->port, sizeof(e->port), "%u", (unsigned)default_port);
        }
        return rc;
    }
    size_t hl = (size_t)(colon - s);
    int rc = set_host(s, hl, e, why);
    if (rc < 0) {
        return rc;
    }
    return parse_port(colon + 1, len - hl - 1, e, why);
}

int servers_parse(const char *text, uint16_t default_port, struct server_addr *out, size_t cap,
                  size_t *n, size_t *bad, const char **why)
{
    *n = 0;
    *bad = 0;
    *why = NULL;
    if (text == NULL) {
        *why = "no server given";
        return -EINVAL;
    }
    const char *p = text;
    for (size_t i = 0;; i++) {
        const char *comma = strchr(p, ',');
        const char *end = comma != NULL ? comma : p + strlen(p);
        const char *b = p;
        while (b < end && (*b == ' ' || *b == '\t')) {
            b++;
        }
        const char *e = end;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t')) {
            e--;
        }
        *bad = i;
        if (i == cap) {
            *why = "too many servers in the list";
            return -EINVAL;
        }
        int rc = parse_entry(b, (size_t)(e - b), default_port, &out[i], why);
        if (rc < 0) {
            return rc;
        }
        *n = i + 1;
        if (comma == NULL) {
            return 0;
        }
        p = comma + 1;
    }
}

void servers_format(const struct server_addr *e, char *buf, size_t cap)
{
    if (strchr(e->host, ':') != NULL) {
        snprintf(buf, cap, "[%s]:%s", e->host, e->port);
    } else {
        snprintf(buf, cap, "%s:%s", e->host, e->port);
    }
}

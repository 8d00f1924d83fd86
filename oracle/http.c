/* Strict incremental HTTP request-head parser (see http.h). Pure. */
#include "http.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

static int is_tchar(char c)
{
    /* RFC 9110 token characters. */
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Finds the end of the line starting at p (the LF of its CRLF). Returns the CR's offset from
 * p, -1 when no CRLF yet, -2 for a bare LF or CR, or a control character in the line. */
static long line_end(const char *p, size_t avail)
{
    for (size_t i = 0; i < avail; i++) {
        char c = p[i];
        if (c == '\r') {
            if (i + 1 == avail) {
                return -1;
            }
            return p[i + 1] == '\n' ? (long)i : -2;
        }
        if (c == '\n' || (c != '\t' && (unsigned char)c < 0x20) || c == 0x7f) {
            return -2;
        }
    }
    return -1;
}

static int parse_request_line(const char *p, size_t n, struct http_request *out)
{
    const char *sp1 = memchr(p, ' ', n);
    if (sp1 == NULL || sp1 == p || (size_t)(sp1 - p) >= sizeof(out->method)) {
        return -EBADMSG;
    }
    for (const char *q = p; q < sp1; q++) {
        if (!is_tchar(*q)) {
            return -EBADMSG;
        }
    }
    memcpy(out->method, p, (size_t)(sp1 - p));
    out->method[sp1 - p] = '\0';
    const char *target = sp1 + 1;
    const char *sp2 = memchr(target, ' ', n - (size_t)(target - p));
    if (sp2 == NULL || sp2 == target || target[0] != '/') {
        return -EBADMSG;
    }
    size_t tlen = (size_t)(sp2 - target);
    if (tlen >= sizeof(out->target)) {
        return -EMSGSIZE;
    }
    for (size_t i = 0; i < tlen; i++) {
        if ((unsigned char)target[i] <= 0x20 || (unsigned char)target[i] >= 0x7f) {
            return -EBADMSG;
        }
    }
    memcpy(out->target, target, tlen);
    out->target[tlen] = '\0';
    const char *version = sp2 + 1;
    size_t vlen = n - (size_t)(version - p);
    if (vlen != 8 || memcmp(version, "HTTP/1.", 7) != 0 ||
        (version[7] != '0' && version[7] != '1')) {
        return -EBADMSG;
    }
    out->minor_version = version[7] - '0';
    return 0;
}

static int parse_header(const char *p, size_t n, struct http_request *out)
{
    const char *colon = memchr(p, ':', n);
    if (colon == NULL || colon == p) {
        return -EBADMSG;
    }
    for (const char *q = p; q < colon; q++) {
        if (!is_tchar(*q)) {
            return -EBADMSG; /* includes whitespace before the colon (RFC 9112 5.1) */
        }
    }
    size_t name_len = (size_t)(colon - p);
    const char *v = colon + 1;
    const char *end = p + n;
    while (v < end && (*v == ' ' || *v == '\t')) {
        v++;
    }
    if (name_len == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
        for (const char *q = v; q < end; q++) {
            if (*q != '0' && *q != ' ' && *q != '\t') {
                out->has_body = 1;
            }
            if ((*q < '0' || *q > '9') && *q != ' ' && *q != '\t') {
                return -EBADMSG;
            }
        }
    } else if (name_len == 17 && strncasecmp(p, "Transfer-Encoding", 17) == 0) {
        out->has_body = 1;
    }
    return 0;
}

int http_parse_request(const char *buf, size_t len, struct http_request *out)
{
    memset(out, 0, sizeof(*out));
    size_t off = 0;
    int line = 0;
    for (;;) {
        size_t avail = len - off;
        if (off >= HTTP_MAX_HEAD) {
            return -EMSGSIZE;
        }
        if (avail > HTTP_MAX_HEAD - off) {
            avail = HTTP_MAX_HEAD - off;
        }
        long e = line_end(buf + off, avail);
        if (e == -2) {
            return -EBADMSG;
        }
        if (e == -1) {
            /* No end of line yet: more bytes, unless the head is already full. */
            return len - off >= HTTP_MAX_HEAD - off ? -EMSGSIZE : 0;
        }
        const char *p = buf + off;
        size_t n = (size_t)e;
        off += n + 2;
        if (line == 0) {
            if (n == 0) {
                return -EBADMSG; /* a blank line before the request line */
            }
            int rc = parse_request_line(p, n, out);
            if (rc < 0) {
                return rc;
            }
        } else if (n == 0) {
            return (int)off; /* the blank line: the head is complete */
        } else {
            if (p[0] == ' ' || p[0] == '\t') {
                return -EBADMSG; /* obsolete line folding */
            }
            if (++out->n_headers > HTTP_MAX_HEADERS) {
                return -EMSGSIZE;
            }
            int rc = parse_header(p, n, out);
            if (rc < 0) {
                return rc;
            }
        }
        line++;
    }
}

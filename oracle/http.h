/*
 * A strict, incremental HTTP/1.x request-head parser for the health and metrics endpoints, in
 * the style of picohttpparser: it looks at whatever bytes have arrived and says the head is
 * complete (its length), that it needs more, or that the request is bad. Pure. Only what a
 * load balancer's health check or a Prometheus scrape sends is accepted: a request line
 * "METHOD SP TARGET SP HTTP/1.x", header lines "Name: value", CRLF line ends, no body.
 */
#ifndef ORACLE_HTTP_H
#define ORACLE_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_HEAD    8192 /* bytes, request line and headers */
#define HTTP_MAX_HEADERS 32
#define HTTP_MAX_TARGET  256

struct http_request {
    char method[8];               /* "GET", "HEAD", ... (parsed, not checked) */
    char target[HTTP_MAX_TARGET]; /* "/healthz", "/metrics?x=y" */
    int minor_version;            /* 0 or 1 */
    int n_headers;
    int has_body;  /* Content-Length > 0 or Transfer-Encoding present */
    bool over_tls; /* not parsed: the endpoint says whether the request came over TLS */
};

/*
 * Parses the request head at buf[0..len). Returns the head's length (> 0, up to and including
 * the blank line) with *out filled; 0 when more bytes are needed; -EMSGSIZE when the head is or
 * would be longer than HTTP_MAX_HEAD, a target longer than HTTP_MAX_TARGET or more than
 * HTTP_MAX_HEADERS headers; -EBADMSG for anything malformed. Never reads past buf[len - 1].
 */
int http_parse_request(const char *buf, size_t len, struct http_request *out);

#endif

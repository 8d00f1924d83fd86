/*
 * The HTTP endpoint for load balancers and monitoring (/healthz, /metrics): strict, small and
 * bounded. One request per connection (Connection: close), a head of at most HTTP_MAX_HEAD
 * bytes read within HTTPD_TIMEOUT_MS, at most HTTPD_MAX_CONNS connections at once; GET and
 * HEAD only, no bodies. The answers come from a handler the server provides.
 */
#ifndef ORACLE_HTTPD_H
#define ORACLE_HTTPD_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "http.h"
#include "strbuf.h"

#define HTTPD_MAX_LISTEN 4
#define HTTPD_MAX_CONNS  64
#define HTTPD_TIMEOUT_MS 5000

/* Fills in *status (200, 404, 503, ...), *content_type and body for a GET of req->target. */
typedef void httpd_handler(void *ctx, const struct http_request *req, int *status,
                           const char **content_type, struct strbuf *body);

struct http_conn;

struct httpd {
    uv_loop_t *loop;
    uv_tcp_t listeners[HTTPD_MAX_LISTEN];
    int n_listeners;
    httpd_handler *handler;
    void *ctx;
    struct http_conn *conns;
    size_t n_conns;
    uint64_t requests;
    uint64_t rejected; /* malformed, too large, too slow, too many */
    bool closing;
    unsigned handles_open;
    void (*close_cb)(struct httpd *h);
};

/* Listens on each address. Returns 0 or a negative errno / UV_E* (logged). Call
 * httpd_close() in either case. */
int httpd_init(struct httpd *h, uv_loop_t *loop, const char *const *addrs, int n,
               httpd_handler *handler, void *ctx);
/* Closes the listeners and every connection; close_cb runs when all handles are closed. */
void httpd_close(struct httpd *h, void (*close_cb)(struct httpd *h));

#endif

/*
 * The HTTP endpoint for load balancers and monitoring (/healthz, /metrics): strict, small and
 * bounded. One request per connection (Connection: close), a head of at most HTTP_MAX_HEAD
 * bytes read within HTTPD_HEAD_TIMEOUT_MS, at most max_conns connections at once; GET and
 * HEAD only, no bodies. The answers come from a handler the server provides.
 *
 * A health check must always be answered, however many slow or idle peers hold connections
 * (a scraper bug, a leaking pool, an attacker in the VPC would otherwise take the instance out
 * of its load balancer). So at the cap a new connection is not refused: the connection that has
 * waited longest without a complete request head is closed to make room (evicted, counted,
 * logged at most every HTTPD_LOG_EVERY_MS). Only when every connection is being answered is the
 * new one closed (refused).
 *
 * With a TLS context (oracled --http-tls), a connection whose first byte starts a TLS handshake
 * speaks HTTPS with it (the server's context of the moment: a SIGHUP's new certificate is used
 * by the next handshake); any other is plain HTTP, and the handler hears which (http_request's
 * over_tls). The handshake counts against the head's timeout.
 */
#ifndef ORACLE_HTTPD_H
#define ORACLE_HTTPD_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "connset.h"
#include "http.h"
#include "strbuf.h"

#define HTTPD_MAX_LISTEN 4
/* Connections at once (--http-max-connections). Eviction keeps a health check from being shut
 * out, but not from queueing: with more slow peers than this, reconnecting as soon as they are
 * closed, those without a slot wait in the kernel's accept queue ahead of the check, which then
 * waits for (peers - cap) accepts, each evicting one (4,000 to 15,000 a second on 2 vCPUs: with
 * 1,000 peers and a cap of 128, 0.1 to 0.8 s). So the cap is set above the slow peers to be
 * expected. A held connection costs ~1.5 KiB here (its head buffer starts at HTTPD_SMALL_HEAD),
 * its socket's buffers in the kernel, and a file descriptor. */
#define HTTPD_DEFAULT_MAX_CONNS 4096
/* A head is read into this much inline, and into HTTP_MAX_HEAD bytes allocated only when it
 * outgrows it: a health check's head is ~100 bytes, a scrape's ~300. */
#define HTTPD_SMALL_HEAD 1024
/* The listen backlog: a flood of peers reconnecting must not fill the kernel's queue, or a
 * health check's SYN is dropped and retried a second later (seen with 128: 1.03 s). Linux caps
 * it at net.core.somaxconn (4096 by default since 5.4). */
#define HTTPD_BACKLOG         4096
#define HTTPD_HEAD_TIMEOUT_MS 1000  /* a request head must be complete within this */
#define HTTPD_LOG_EVERY_MS    10000 /* evictions: one log line at most this often */

/* Fills in *status (200, 404, 503, ...), *content_type and body for a GET of req->target. */
typedef void httpd_handler(void *ctx, const struct http_request *req, int *status,
                           const char **content_type, struct strbuf *body);

struct http_conn;

/* What /metrics shows of the endpoint. */
struct httpd_stats {
    uint64_t requests;
    uint64_t rejected;
    uint64_t refused;
    uint64_t evicted;
    size_t active;        /* connections open, not closing */
    size_t max;           /* --http-max-connections */
    uint64_t tls_refused; /* TLS handshakes refused */
};

struct httpd {
    uv_loop_t *loop;
    uv_tcp_t listeners[HTTPD_MAX_LISTEN];
    int n_listeners;
    httpd_handler *handler;
    void *ctx;
    SSL_CTX *const *tls; /* NULL: plain HTTP only; else the server's context, as it changes */
    uint64_t tls_refused;
    size_t max_conns;
    struct cs_list conns; /* every connection until its handles close, newest first */
    size_t n_active;      /* not closing: what the cap counts */
    uint64_t requests;
    uint64_t rejected; /* malformed, too large, too slow */
    uint64_t refused;  /* new connections closed at the cap, every one open being answered */
    uint64_t evicted;  /* closed without a complete head to make room for a new connection */
    uint64_t evicted_unlogged;
    uint64_t evicted_logged_ms; /* uv_now of the last line about evictions */
    bool closing;
    unsigned handles_open;
    void (*close_cb)(struct httpd *h);
    uint8_t tls_buf[16384 + 256]; /* TLS: records land here first (one at most) */
};

/* Listens on each address, with at most max_conns connections at once; with tls (not NULL),
 * HTTPS too, with the context *tls holds when a handshake starts. Returns 0 or a negative
 * errno / UV_E* (logged). Call httpd_close() in either case. */
int httpd_init(struct httpd *h, uv_loop_t *loop, const char *const *addrs, int n, size_t max_conns,
               SSL_CTX *const *tls, httpd_handler *handler, void *ctx);
/* Closes the listeners and every connection; close_cb runs when all handles are closed. */
void httpd_close(struct httpd *h, void (*close_cb)(struct httpd *h));

void httpd_stats(const struct httpd *h, struct httpd_stats *out);

#endif

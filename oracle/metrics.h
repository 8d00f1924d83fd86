/*
 * What the HTTP endpoint answers: GET /healthz (200 when the clock is trusted and the server is
 * ready and not draining, else 503 with the reason; a small JSON body either way) and
 * GET /metrics (Prometheus text format 0.0.4). Reads the server's state; changes nothing.
 */
#ifndef ORACLE_METRICS_H
#define ORACLE_METRICS_H

#include "http.h"
#include "strbuf.h"

struct server;

/* An httpd_handler: ctx is the struct server. */
void metrics_http(void *ctx, const struct http_request *req, int *status, const char **content_type,
                  struct strbuf *body);

/* The /healthz answer alone: returns 200 or 503 and writes the JSON body. */
int metrics_health(struct server *s, struct strbuf *body);

/* The /metrics text. */
void metrics_prometheus(struct server *s, struct strbuf *body);

#endif

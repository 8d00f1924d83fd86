/* The HTTP endpoint (see httpd.h). */
#include "httpd.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "netaddr.h"
#include "tlssess.h"
#include "util.h"
#include "uvclose.h"

struct http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    struct httpd *h;
    struct cs_node node; /* in h->conns, newest first */
    char *buf;           /* small, or HTTP_MAX_HEAD bytes once a head outgrows it */
    size_t cap;
    size_t len;
    bool answered; /* a response is being written: read nothing more */
    bool closing;
    struct uvclose closer;
    uv_write_t wreq;
    struct strbuf out;   /* the response, owned by the write until on_written */
    bool sniffed;        /* its first bytes were looked at */
    struct tlssess *tls; /* NULL: plain HTTP */
    uint8_t *records;    /* TLS: the response's records, owned by the write */
    char small[HTTPD_SMALL_HEAD];
};

/* A write of TLS records during the handshake (the response has its own, wreq). */
struct http_records {
    uv_write_t req;
    uint8_t data[];
};

static void maybe_finished(struct httpd *h)
{
    if (h->closing && h->handles_open == 0 && h->close_cb != NULL) {
        void (*cb)(struct httpd *) = h->close_cb;
        h->close_cb = NULL;
        cb(h);
    }
}

static void on_conn_closed(struct uvclose *u)
{
    struct http_conn *c = container_of(u, struct http_conn, closer);
    struct httpd *h = c->h;
    cs_list_remove(&h->conns, &c->node);
    if (c->buf != c->small) {
        free(c->buf);
    }
    strbuf_fini(&c->out);
    if (c->tls != NULL) {
        tlssess_fini(c->tls);
        free(c->tls);
    }
    free(c->records);
    free(c);
    h->handles_open--;
    maybe_finished(h);
}

static void conn_close(struct http_conn *c)
{
    if (c->closing) {
        return;
    }
    c->closing = true;
    c->h->n_active--;
    uv_handle_t *handles[] = {(uv_handle_t *)&c->tcp, (uv_handle_t *)&c->timer};
    uvclose_all(&c->closer, handles, 2, on_conn_closed);
}

static void on_written(uv_write_t *req, int status)
{
    (void)status;
    struct http_conn *c = container_of(req, struct http_conn, wreq);
    conn_close(c);
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    }
    return "Unknown";
}

/* Writes the response (status line, headers, body unless HEAD) and closes after. */
static void respond(struct http_conn *c, int status, const char *content_type,
                    const struct strbuf *body, bool head_only)
{
    c->answered = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    size_t body_len = body != NULL ? body->len : 0;
    strbuf_printf(&c->out,
                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                  "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n",
                  status, reason_phrase(status), content_type, body_len,
                  status == 405 ? "Allow: GET, HEAD\r\n" : "");
    if (!head_only && body_len > 0) {
        strbuf_printf(&c->out, "%s", body->data);
    }
    if (c->out.failed) {
        conn_close(c);
        return;
    }
    uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
    if (c->tls != NULL) {
        /* Over TLS: the response's records, then close_notify. A peer whose handshake never
         * finished (timed out) gets nothing: it has no session to read an answer in. */
        if (!c->tls->established || tlssess_write(c->tls, c->out.data, c->out.len) < 0) {
            conn_close(c);
            return;
        }
        tlssess_close_notify(c->tls);
        size_t n = tlssess_pending(c->tls);
        c->records = malloc(n);
        if (c->records == NULL) {
            conn_close(c);
            return;
        }
        b = uv_buf_init((char *)c->records, (unsigned)tlssess_take(c->tls, c->records, n));
    }
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
        conn_close(c);
    }
}

static void respond_error(struct http_conn *c, int status, const char *text)
{
    struct strbuf body;
    strbuf_init(&body);
    strbuf_printf(&body, "%s\n", text);
    c->h->rejected++;
    respond(c, status, "text/plain; charset=utf-8", &body, false);
    strbuf_fini(&body);
}

static void handle(struct http_conn *c, const struct http_request *req)
{
    c->h->requests++;
    bool head = strcmp(req->method, "HEAD") == 0;
    if (!head && strcmp(req->method, "GET") != 0) {
        respond_error(c, 405, "only GET and HEAD");
        return;
    }
    if (req->has_body) {
        respond_error(c, 400, "requests have no body here");
        return;
    }
    int status = 404;
    const char *type = "text/plain; charset=utf-8";
    struct strbuf body;
    strbuf_init(&body);
    c->h->handler(c->h->ctx, req, &status, &type, &body);
    if (body.failed) {
        strbuf_fini(&body);
        respond_error(c, 500, "out of memory");
        return;
    }
    respond(c, status, type, &body, head);
    strbuf_fini(&body);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct http_conn *c = handle->data;
    if (c->tls != NULL) {
        buf->base = (char *)c->h->tls_buf;
        buf->len = sizeof(c->h->tls_buf);
        return;
    }
    buf->base = c->buf + c->len;
    buf->len = c->cap - c->len;
}

/* Takes in n more bytes of the head, and answers once it is complete. */
static void take(struct http_conn *c, size_t n)
{
    c->len += n;
    struct http_request req;
    int rc = http_parse_request(c->buf, c->len, &req);
    if (rc > 0) {
        req.over_tls = c->tls != NULL;
        handle(c, &req);
    } else if (rc == 0 && c->len == c->cap && c->cap < HTTP_MAX_HEAD) {
        /* Outgrew the small buffer: the full one (a head may take HTTP_MAX_HEAD bytes). */
        char *big = malloc(HTTP_MAX_HEAD);
        if (big == NULL) {
            respond_error(c, 503, "out of memory");
            return;
        }
        memcpy(big, c->buf, c->len);
        c->buf = big;
        c->cap = HTTP_MAX_HEAD;
    } else if (rc == -EMSGSIZE || (rc == 0 && c->len == c->cap)) {
        respond_error(c, 431, "request head too large");
    } else if (rc < 0) {
        respond_error(c, 400, "malformed request");
    }
}

static void on_records_written(uv_write_t *req, int status)
{
    (void)status;
    free(container_of(req, struct http_records, req));
}

/* TLS: records read. Runs the handshake (writing what it makes), then reads the plaintext into
 * the head buffer. */
static void tls_take(struct http_conn *c, const char *data, size_t n)
{
    struct tlssess *t = c->tls;
    if (tlssess_feed(t, data, n) < 0) {
        conn_close(c);
        return;
    }
    int rc = tlssess_handshake(t);
    size_t pending = tlssess_pending(t);
    struct http_records *w = pending > 0 ? malloc(sizeof(*w) + pending) : NULL;
    if (w != NULL) {
        uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)tlssess_take(t, w->data, pending));
        if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_records_written) < 0) {
            free(w);
            rc = -EIO;
        }
    }
    if (rc < 0 || (pending > 0 && w == NULL)) {
        log_debug("HTTP: TLS handshake refused: %s", t->why[0] != '\0' ? t->why : "write failed");
        c->h->tls_refused++;
        c->answered = true;
        uv_read_stop((uv_stream_t *)&c->tcp);
        conn_close(c); /* the alert, if any, is on its way: uv_close lets a write finish */
        return;
    }
    while (rc == 1 && !c->answered && !c->closing && c->len < c->cap) {
        ssize_t got = tlssess_read(t, c->buf + c->len, c->cap - c->len);
        if (got <= 0) {
            if (got < 0) {
                conn_close(c);
            }
            return;
        }
        take(c, (size_t)got);
    }
}

/* The first bytes of a connection: a TLS handshake record (content type 22) on an endpoint
 * with TLS makes it a TLS connection; anything else is plain HTTP. */
static void sniff(struct http_conn *c, const char *data)
{
    c->sniffed = true;
    SSL_CTX *ctx = c->h->tls != NULL ? *c->h->tls : NULL;
    if (ctx == NULL || (uint8_t)data[0] != 0x16) {
        return;
    }
    c->tls = malloc(sizeof(*c->tls));
    if (c->tls == NULL || tlssess_init(c->tls, ctx, true, NULL) < 0) {
        free(c->tls);
        c->tls = NULL;
        c->answered = true; /* nothing more read: closed below */
    }
}

/* n bytes arrived: at c->buf + c->len (plain), or at data (TLS, or not yet known). */
static void arrived(struct http_conn *c, const char *data, size_t n)
{
    if (!c->sniffed) {
        sniff(c, data);
        if (c->answered) {
            conn_close(c);
            return;
        }
        if (c->tls == NULL && data != c->buf + c->len) {
            memcpy(c->buf + c->len, data, n); /* it was read aside to be looked at */
        }
    }
    if (c->tls != NULL) {
        tls_take(c, data, n);
    } else {
        take(c, n);
    }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct http_conn *c = stream->data;
    if (c->answered || c->closing) {
        return;
    }
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread > 0) {
        arrived(c, buf->base, (size_t)nread);
    }
}

/* Whatever the peer has sent and libuv has not read yet: right after the accept (a health
 * check's head usually arrives with the handshake, so it is answered at once), and before a
 * connection is evicted. Returns false when the peer has gone. */
static bool read_now(struct http_conn *c)
{
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) < 0) {
        return true;
    }
    if (c->len >= c->cap) {
        return true;
    }
    /* Records (or bytes not yet known to be plain) are read aside: a record may be larger than
     * the head buffer's room, and is never decrypted in place. */
    bool aside = c->tls != NULL || (!c->sniffed && c->h->tls != NULL);
    char *to = aside ? (char *)c->h->tls_buf : c->buf + c->len;
    size_t room = aside ? (c->sniffed ? sizeof(c->h->tls_buf) : c->cap - c->len) : c->cap - c->len;
    ssize_t n = recv(fd, to, room, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        return false;
    }
    if (n > 0) {
        arrived(c, to, (size_t)n);
    }
    return true;
}

static void on_timeout(uv_timer_t *t)
{
    struct http_conn *c = t->data;
    if (!c->answered) {
        respond_error(c, 408, "request not received in time");
    }
}

/* At the cap: closes the connection that has waited longest without a complete request head
 * (the list is newest first: from its end). Each candidate first gets a last read of what it
 * has sent: a head that has arrived (a health check accepted just before a flood of others,
 * its data not read yet) is answered instead, and the next oldest is looked at; a peer that
 * has gone makes room by itself. Returns false when every connection is being answered. */
static bool evict_oldest_waiting(struct httpd *h)
{
    for (struct cs_node *n = h->conns.oldest; n != NULL; n = n->newer) {
        struct http_conn *c = container_of(n, struct http_conn, node);
        if (c->answered || c->closing) {
            continue;
        }
        if (!read_now(c)) {
            conn_close(c); /* gone: room made without evicting anyone */
            return true;
        }
        if (c->answered || c->closing) {
            continue; /* its head had arrived: answered */
        }
        conn_close(c);
        h->evicted++;
        h->evicted_unlogged++;
        uint64_t now = uv_now(h->loop);
        if (h->evicted_logged_ms == 0 || now - h->evicted_logged_ms >= HTTPD_LOG_EVERY_MS) {
            log_warn("HTTP connection limit (%zu) reached: closed the connection waiting "
                     "longest for its request head to make room (%" PRIu64
                     " so since the last report); slow or idle peers hold the port",
                     h->max_conns, h->evicted_unlogged);
            h->evicted_unlogged = 0;
            h->evicted_logged_ms = now;
        }
        return true;
    }
    return false;
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct httpd *h = listener->data;
    if (status < 0 || h->closing) {
        return;
    }
    struct http_conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return;
    }
    c->h = h;
    c->buf = c->small;
    c->cap = sizeof(c->small);
    strbuf_init(&c->out);
    uv_tcp_init(h->loop, &c->tcp);
    uv_timer_init(h->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    cs_list_push(&h->conns, &c->node);
    h->n_active++;
    h->handles_open++;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0 || !read_now(c)) {
        conn_close(c);
        return;
    }
    if (c->answered) {
        return; /* answered from read_now, over the cap or not: the write closes it */
    }
    if (h->n_active > h->max_conns) {
        /* Not the new one itself: it is the newest, and has not waited at all. */
        c->answered = true;
        bool made_room = evict_oldest_waiting(h);
        c->answered = false;
        if (!made_room) {
            h->refused++;
            conn_close(c);
            return;
        }
    }
    uv_timer_start(&c->timer, on_timeout, HTTPD_HEAD_TIMEOUT_MS, 0);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
        conn_close(c);
    }
}

int httpd_init(struct httpd *h, uv_loop_t *loop, const char *const *addrs, int n, size_t max_conns,
               SSL_CTX *const *tls, httpd_handler *handler, void *ctx)
{
    memset(h, 0, sizeof(*h));
    h->loop = loop;
    h->tls = tls;
    h->max_conns = max_conns;
    h->handler = handler;
    h->ctx = ctx;
    for (int i = 0; i < n && i < HTTPD_MAX_LISTEN; i++) {
        uv_tcp_t *l = &h->listeners[h->n_listeners++];
        h->handles_open++;
        l->data = h;
        int rc = netaddr_listen(loop, l, addrs[i], HTTPD_BACKLOG, on_connection, "HTTP");
        l->data = h;
        if (rc < 0) {
            return rc;
        }
        netaddr_log_listening(l, tls != NULL ? "HTTP and HTTPS: /healthz, /metrics over HTTPS"
                                             : "HTTP: /healthz, /metrics");
    }
    return 0;
}

static void on_listener_closed(uv_handle_t *handle)
{
    struct httpd *h = handle->data;
    h->handles_open--;
    maybe_finished(h);
}

void httpd_close(struct httpd *h, void (*close_cb)(struct httpd *h))
{
    if (h->closing) {
        return;
    }
    h->closing = true;
    h->close_cb = close_cb;
    for (int i = 0; i < h->n_listeners; i++) {
        uv_close((uv_handle_t *)&h->listeners[i], on_listener_closed);
    }
    for (struct cs_node *n = h->conns.newest; n != NULL; n = n->older) {
        conn_close(container_of(n, struct http_conn, node));
    }
    maybe_finished(h);
}

void httpd_stats(const struct httpd *h, struct httpd_stats *out)
{
    out->requests = h->requests;
    out->rejected = h->rejected;
    out->refused = h->refused;
    out->evicted = h->evicted;
    out->active = h->n_active;
    out->max = h->max_conns;
    out->tls_refused = h->tls_refused;
}

/* TLS for the clients (see ctls.h). */
#include "ctls.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sock.h"
#include "tlsctx.h"

#define RECORD_MAX  (16384 + 256) /* a TLS record's longest, header and tag included */
#define CHUNK_BYTES 16384         /* plaintext encrypted at a time: one record */

int ctls_context(const struct client_config *cfg, SSL_CTX **out, struct oracle_error *err)
{
    *out = NULL;
    if (cfg->tls_ca[0] == '\0') {
        return 0;
    }
    struct tlsctx_settings s = {
        .ca = strcmp(cfg->tls_ca, "system") == 0 ? NULL : cfg->tls_ca,
        .cert = cfg->tls_cert[0] != '\0' ? cfg->tls_cert : NULL,
        .key = cfg->tls_key[0] != '\0' ? cfg->tls_key : NULL,
    };
    char why[TLSCTX_WHY_MAX];
    *out = tlsctx_client_new(&s, why, sizeof(why));
    if (*out == NULL) {
        return client_error(err, ORACLE_E_INVALID, false, "TLS: %s", why);
    }
    return 0;
}

const char *ctls_server_name(const struct client_config *cfg, const char *host)
{
    return cfg->tls_server_name[0] != '\0' ? cfg->tls_server_name : host;
}

void ctls_explain(const char *why, bool handshake, char *out, size_t cap)
{
    static const struct {
        const char *says;
        const char *hint;
    } hints[] = {
        {"certificate required", "the server requires a client certificate: set tls_cert and "
                                 "tls_key"},
        {"unknown ca", "the server does not trust the client certificate's CA"},
        {"certificate expired", "the server says the client certificate has expired"},
        {"bad certificate", "the server refused the client certificate (not on its allow-list?)"},
        {"certificate unknown", "the server refused the client certificate"},
        {"handshake failure", "the server refused the session (no version or cipher in common?)"},
        {"wrong version number", "is TLS on at that address (oracled --tls-cert)?"},
        {"packet length too long", "is TLS on at that address (oracled --tls-cert)?"},
        {"record layer failure", "is TLS on at that address (oracled --tls-cert)?"},
        {"certificate verify failed", "check tls_ca and tls_server_name"},
    };
    for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++) {
        if (strstr(why, hints[i].says) != NULL) {
            snprintf(out, cap, "TLS %s: %s: %s", handshake ? "handshake failed" : "session refused",
                     why, hints[i].hint);
            return;
        }
    }
    snprintf(out, cap, "TLS %s: %s", handshake ? "handshake failed" : "session failed", why);
}

bool ctls_permanent(const char *why)
{
    static const char *const says[] = {
        "certificate",
        "unknown ca",
        "access denied",
        "protocol version",
        "handshake failure",
        "wrong version number",
        "packet length too long",
        "unsupported protocol",
        "no shared cipher",
        "no protocols available",
    };
    for (size_t i = 0; i < sizeof(says) / sizeof(says[0]); i++) {
        if (strstr(why, says[i]) != NULL) {
            return true;
        }
    }
    return false;
}

/* Sends every record the session has made, waiting up to deadline_ns. Returns 0, or -ETIMEDOUT
 * or -errno. */
static int send_pending(struct ctls *t, int fd, int64_t deadline_ns)
{
    uint8_t buf[RECORD_MAX];
    for (size_t n; (n = tlssess_take(&t->sess, buf, sizeof(buf))) > 0;) {
        for (size_t off = 0; off < n;) {
            ssize_t w = send(fd, buf + off, n - off, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (w > 0) {
                off += (size_t)w;
                continue;
            }
            if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                return -errno;
            }
            int64_t left_ms = (deadline_ns - sock_monotonic_ns()) / 1000000;
            if (left_ms <= 0) {
                return -ETIMEDOUT;
            }
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            (void)poll(&p, 1, left_ms > INT_MAX ? INT_MAX : (int)left_ms);
        }
    }
    return 0;
}

int ctls_handshake(struct ctls *t, SSL_CTX *ctx, int fd, const char *server_name,
                   int64_t deadline_ns, char *why, size_t cap)
{
    ctls_close(t);
    if (tlssess_init(&t->sess, ctx, false, server_name) < 0) {
        snprintf(why, cap, "TLS: cannot start a session for '%s'", server_name);
        return ORACLE_E_CONNECT;
    }
    t->on = true;
    int rc = ORACLE_E_CONNECT;
    for (;;) {
        int h = tlssess_handshake(&t->sess);
        int s = send_pending(t, fd, deadline_ns);
        if (h == 1 && s == 0) {
            return 0;
        }
        if (h < 0) {
            ctls_explain(t->sess.why, true, why, cap);
            break;
        }
        if (s < 0) {
            rc = s == -ETIMEDOUT ? ORACLE_E_TIMEOUT : ORACLE_E_CONNECT;
            snprintf(why, cap, "TLS handshake: %s", strerror(-s));
            break;
        }
        int64_t left_ms = (deadline_ns - sock_monotonic_ns() + 999999) / 1000000;
        if (left_ms <= 0) {
            rc = ORACLE_E_TIMEOUT;
            snprintf(why, cap, "TLS handshake not finished within the connect timeout");
            break;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, left_ms > INT_MAX ? INT_MAX : (int)left_ms) <= 0) {
            continue;
        }
        uint8_t buf[RECORD_MAX];
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0 && tlssess_feed(&t->sess, buf, (size_t)n) == 0) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            continue;
        }
        snprintf(why, cap, "the server closed the connection during the TLS handshake%s",
                 n == 0 ? ": is TLS on at that address (oracled --tls-cert)?" : "");
        break;
    }
    ctls_close(t);
    return rc;
}

ssize_t ctls_send(struct ctls *t, int fd, const uint8_t *data, size_t len)
{
    if (t->rec_off == t->rec_len) {
        size_t chunk = len < CHUNK_BYTES ? len : CHUNK_BYTES;
        if (tlssess_write(&t->sess, data, chunk) < 0) {
            errno = EPROTO;
            return -1;
        }
        size_t n = tlssess_pending(&t->sess);
        if (n > t->rec_cap) {
            uint8_t *p = realloc(t->rec, n);
            if (p == NULL) {
                errno = ENOMEM;
                return -1;
            }
            t->rec = p;
            t->rec_cap = n;
        }
        t->rec_off = 0;
        t->rec_len = tlssess_take(&t->sess, t->rec, n);
        t->chunk = chunk;
    }
    ssize_t w = send(fd, t->rec + t->rec_off, t->rec_len - t->rec_off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w < 0) {
        return -1;
    }
    t->rec_off += (size_t)w;
    if (t->rec_off < t->rec_len) {
        return 0;
    }
    size_t done = t->chunk;
    t->chunk = 0;
    return (ssize_t)done;
}

ssize_t ctls_recv(struct ctls *t, int fd, uint8_t *buf, size_t cap)
{
    for (int round = 0; round < 2; round++) {
        ssize_t n = tlssess_read(&t->sess, buf, cap);
        if (n > 0) {
            return n;
        }
        if (n == TLSSESS_EOF) {
            return 0;
        }
        if (n < 0) {
            errno = EPROTO;
            return -1;
        }
        if (round == 1) {
            break;
        }
        uint8_t rec[RECORD_MAX];
        ssize_t r = recv(fd, rec, sizeof(rec), MSG_DONTWAIT);
        if (r <= 0) {
            return r;
        }
        if (tlssess_feed(&t->sess, rec, (size_t)r) < 0) {
            errno = ENOMEM;
            return -1;
        }
    }
    errno = EAGAIN;
    return -1;
}

bool ctls_buffered(const struct ctls *t)
{
    return t->on && tlssess_has_input(&t->sess);
}

void ctls_close(struct ctls *t)
{
    tlssess_fini(&t->sess);
    t->on = false;
    t->rec_off = 0;
    t->rec_len = 0;
    t->chunk = 0;
}

void ctls_fini(struct ctls *t)
{
    ctls_close(t);
    free(t->rec);
    t->rec = NULL;
    t->rec_cap = 0;
}

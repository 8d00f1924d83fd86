/*
 * TLS for the clients: the context built from the client's options (every face), and the
 * blocking client's TLS over its non-blocking socket, with send()- and recv()-like calls so the
 * connection code stays as it is over plaintext.
 */
#ifndef ORACLE_CLIENT_CTLS_H
#define ORACLE_CLIENT_CTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "oracle/client.h"
#include "tlssess.h"

/* The context for cfg's TLS options: *out NULL when TLS is off. Returns 0, or ORACLE_E_INVALID
 * with err filled (a file that cannot be read or used). Free with SSL_CTX_free. */
int ctls_context(const struct client_config *cfg, SSL_CTX **out, struct oracle_error *err);

/* The name the server's certificate must carry when connected to host (cfg's tls_server_name,
 * else host). */
const char *ctls_server_name(const struct client_config *cfg, const char *host);

/* A sentence for a refusal OpenSSL described as why: why, and what to look at. */
void ctls_explain(const char *why, bool handshake, char *out, size_t cap);

/* Whether a TLS failure OpenSSL described as why is the settings' (a certificate refused either
 * way, no version or cipher in common, TLS at a plaintext port): the same call fails again, on
 * any instance, until they are fixed. Not retriable. */
bool ctls_permanent(const char *why);

/* One connection's TLS. */
struct ctls {
    bool on;
    struct tlssess sess;
    uint8_t *rec; /* records to send: rec[rec_off .. rec_len) ... */
    size_t rec_off;
    size_t rec_len;
    size_t rec_cap;
    size_t chunk; /* ... carrying this much of the caller's plaintext */
};

/*
 * Runs the handshake on fd (non-blocking, connected) until deadline_ns (CLOCK_MONOTONIC).
 * Returns 0, or ORACLE_E_CONNECT (the server refused, or is not speaking TLS: why says so) or
 * ORACLE_E_TIMEOUT, with t closed.
 */
int ctls_handshake(struct ctls *t, SSL_CTX *ctx, int fd, const char *server_name,
                   int64_t deadline_ns, char *why, size_t cap);

/* As send(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL): the bytes of data now on their way (0
 * while the records made of them are still going out; call again with the same data), or -1
 * with errno (EAGAIN: try later; EPROTO: t->sess.why). */
ssize_t ctls_send(struct ctls *t, int fd, const uint8_t *data, size_t len);
/* As recv(fd, buf, cap, MSG_DONTWAIT): plaintext bytes, 0 at the end (close_notify or EOF), or
 * -1 with errno (EAGAIN, EPROTO: t->sess.why). */
ssize_t ctls_recv(struct ctls *t, int fd, uint8_t *buf, size_t cap);
/* Whether received bytes wait inside the session (poll() would not say so). */
bool ctls_buffered(const struct ctls *t);
/* Ends the session (not the socket); t may be used for another. */
void ctls_close(struct ctls *t);
/* ... and frees what t holds. A zeroed struct is safe. */
void ctls_fini(struct ctls *t);

#endif

/*
 * TLS contexts built from PEM files (OpenSSL 3), checked when built: files readable, the key
 * matching the certificate, the certificate in its validity period at `now`.
 *
 * The server's: its certificate chain and key. With a CA, mutual TLS: every client must send a
 * certificate the CA signed, and with an allow-list, one naming an identity on it (tlsid.h).
 * The client's: the CA that signed the server's certificate (or the system's CAs), and, for
 * mutual TLS, its own certificate and key.
 *
 * Both speak TLS 1.3 only unless min_version says TLS 1.2. No session tickets or resumption:
 * connections are long-lived, and a full handshake is about a millisecond.
 */
#ifndef ORACLE_TLSCTX_H
#define ORACLE_TLSCTX_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLSCTX_ALLOW_MAX 64
#define TLSCTX_WHY_MAX   512

/* What a context is built from, read only while it is built (a server context keeps its own copy
 * of the allow-list). */
struct tlsctx_settings {
    const char *cert;         /* PEM: the certificate, then its chain (server: required) */
    const char *key;          /* PEM: its private key (required with cert) */
    const char *ca;           /* server: client certificates required, signed by these; client: the
                               * server's certificate must be signed by these (NULL: the system's) */
    int min_version;          /* TLS1_2_VERSION or TLS1_3_VERSION (0: TLS1_3_VERSION) */
    const char *const *allow; /* server, with ca: the client identities let in (tlsid.h) */
    size_t n_allow;           /* 0: any certificate the CA signed */
};

/* The server's context, or NULL with a sentence in why (the file and what is wrong with it).
 * now_s is the time (Unix seconds) its certificate must be valid at. Free with SSL_CTX_free. */
SSL_CTX *tlsctx_server_new(const struct tlsctx_settings *s, int64_t now_s, char *why, size_t cap);

/* The client's, or NULL with a sentence in why. Free with SSL_CTX_free. */
SSL_CTX *tlsctx_client_new(const struct tlsctx_settings *s, char *why, size_t cap);

/* The validity period of the context's own certificate, Unix seconds. Returns 0, or -ENOENT
 * when it has none. */
int tlsctx_validity(SSL_CTX *ctx, int64_t *not_before_s, int64_t *not_after_s);

/* Parses "1.2" or "1.3" into a TLS1_*_VERSION. Returns 0 or -EINVAL. */
int tlsctx_parse_version(const char *text, int *out);

#endif

/* TLS contexts from PEM files (see tlsctx.h). */
#include "tlsctx.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tlsid.h"

/* OpenSSL's last error, in words ("" when none). */
static const char *ssl_reason(void)
{
    const char *r = ERR_reason_error_string(ERR_peek_last_error());
    return r != NULL ? r : "unknown error";
}

/* OpenSSL's last error about a PEM file, in words a person can act on. */
static const char *pem_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    if (ERR_GET_LIB(e) == ERR_LIB_PEM || ERR_GET_REASON(e) == ERR_R_PEM_LIB) {
        return "no PEM block of the expected kind in it (-----BEGIN ...-----)";
    }
    return ssl_reason();
}

/* Whether path can be opened for reading; why says it when not. */
static bool readable(const char *what, const char *path, char *why, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(why, cap, "cannot read the %s %s: %s", what, path, strerror(errno));
        return false;
    }
    fclose(f);
    return true;
}

static int64_t asn1_seconds(const ASN1_TIME *t)
{
    struct tm tm;
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
        return 0;
    }
    return (int64_t)timegm(&tm);
}

int tlsctx_validity(SSL_CTX *ctx, int64_t *not_before_s, int64_t *not_after_s)
{
    X509 *x = SSL_CTX_get0_certificate(ctx);
    if (x == NULL) {
        return -ENOENT;
    }
    *not_before_s = asn1_seconds(X509_get0_notBefore(x));
    *not_after_s = asn1_seconds(X509_get0_notAfter(x));
    return 0;
}

static void format_utc(int64_t s, char *out, size_t cap)
{
    time_t t = (time_t)s;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0) {
        snprintf(out, cap, "%lld", (long long)s);
    }
}

/* The context's own certificate and key, checked against each other and (now_s >= 0) the
 * certificate's validity period. */
static bool load_own(SSL_CTX *ctx, const struct tlsctx_settings *s, int64_t now_s, char *why,
                     size_t cap)
{
    if (s->cert == NULL || s->key == NULL) {
        snprintf(why, cap, "a certificate needs its key, and a key its certificate");
        return false;
    }
    if (!readable("certificate", s->cert, why, cap) || !readable("key", s->key, why, cap)) {
        return false;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, s->cert) != 1) {
        snprintf(why, cap, "cannot use the certificate %s: %s", s->cert, pem_reason());
        return false;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, s->key, SSL_FILETYPE_PEM) != 1 &&
        ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
        snprintf(why, cap, "cannot use the key %s: %s", s->key, pem_reason());
        return false;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(why, cap, "the key %s does not belong to the certificate %s", s->key, s->cert);
        return false;
    }
    int64_t from = 0, until = 0;
    if (now_s >= 0 && tlsctx_validity(ctx, &from, &until) == 0 && (now_s < from || now_s > until)) {
        char when[40];
        format_utc(now_s < from ? from : until, when, sizeof(when));
        snprintf(why, cap, "the certificate %s is %s %s", s->cert,
                 now_s < from ? "not valid before" : "expired since", when);
        return false;
    }
    return true;
}

static bool load_ca(SSL_CTX *ctx, const char *ca, char *why, size_t cap)
{
    if (!readable("CA file", ca, why, cap)) {
        return false;
    }
    if (SSL_CTX_load_verify_file(ctx, ca) != 1) {
        snprintf(why, cap, "cannot use the CA file %s: %s", ca, pem_reason());
        return false;
    }
    return true;
}

static bool set_common(SSL_CTX *ctx, const struct tlsctx_settings *s, char *why, size_t cap)
{
    int min = s->min_version != 0 ? s->min_version : TLS1_3_VERSION;
    if (SSL_CTX_set_min_proto_version(ctx, min) != 1) {
        snprintf(why, cap, "cannot set the lowest TLS version: %s", ssl_reason());
        return false;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
    /* An idle connection gives its record buffers back (about 34 KiB). */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    return true;
}

/* A server context's own copy of the allow-list (the settings it was made from may go first),
 * in its ex_data at allow_index: n entries, then their text. */
struct allow_list {
    size_t n;
    const char *entries[];
};

static int allow_index = -1;
static pthread_once_t allow_once = PTHREAD_ONCE_INIT;

static void free_allow_list(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                            void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    free(ptr);
}

static void make_allow_index(void)
{
    allow_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_allow_list);
}

/* Copies s's allow-list into ctx. Returns false when out of memory. */
static bool keep_allow_list(SSL_CTX *ctx, const struct tlsctx_settings *s)
{
    pthread_once(&allow_once, make_allow_index);
    if (allow_index < 0) {
        return false;
    }
    size_t text = 0;
    for (size_t i = 0; i < s->n_allow; i++) {
        text += strlen(s->allow[i]) + 1;
    }
    struct allow_list *a = malloc(sizeof(*a) + s->n_allow * sizeof(a->entries[0]) + text);
    if (a == NULL) {
        return false;
    }
    a->n = s->n_allow;
    char *at = (char *)&a->entries[s->n_allow];
    for (size_t i = 0; i < s->n_allow; i++) {
        size_t len = strlen(s->allow[i]) + 1;
        memcpy(at, s->allow[i], len);
        a->entries[i] = at;
        at += len;
    }
    if (!SSL_CTX_set_ex_data(ctx, allow_index, a)) {
        free(a);
        return false;
    }
    return true;
}

/* Mutual TLS: once the chain is good, the client's own certificate must name an identity on the
 * context's allow-list, when it has one. A context without its list (never made by
 * tlsctx_server_new) lets no one in. */
static int verify_allowed(int ok, X509_STORE_CTX *store)
{
    if (ok != 1 || X509_STORE_CTX_get_error_depth(store) != 0) {
        return ok;
    }
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    const struct allow_list *a = ssl != NULL && allow_index >= 0
                                     ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), allow_index)
                                     : NULL;
    if (a != NULL && a->n == 0) {
        return 1;
    }
    X509 *cert = X509_STORE_CTX_get_current_cert(store);
    if (a != NULL && cert != NULL && tlsid_allowed(cert, a->entries, a->n)) {
        return 1;
    }
    /* "certificate rejected": the client hears a bad_certificate alert. */
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
    return 0;
}

SSL_CTX *tlsctx_server_new(const struct tlsctx_settings *s, int64_t now_s, char *why, size_t cap)
{
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        snprintf(why, cap, "cannot make a TLS context: %s", ssl_reason());
        return NULL;
    }
    if (!set_common(ctx, s, why, cap) || !load_own(ctx, s, now_s, why, cap)) {
        goto fail;
    }
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (s->ca != NULL) {
        if (!load_ca(ctx, s->ca, why, cap)) {
            goto fail;
        }
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(s->ca);
        if (names == NULL) {
            snprintf(why, cap, "the CA file %s holds no certificate", s->ca);
            goto fail;
        }
        SSL_CTX_set_client_CA_list(ctx, names); /* the context owns them */
        if (!keep_allow_list(ctx, s)) {
            snprintf(why, cap, "%s", "out of memory for the allow-list");
            goto fail;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_allowed);
    }
    ERR_clear_error();
    return ctx;

fail:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

SSL_CTX *tlsctx_client_new(const struct tlsctx_settings *s, char *why, size_t cap)
{
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        snprintf(why, cap, "cannot make a TLS context: %s", ssl_reason());
        return NULL;
    }
    if (!set_common(ctx, s, why, cap)) {
        goto fail;
    }
    if (s->ca != NULL) {
        if (!load_ca(ctx, s->ca, why, cap)) {
            goto fail;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        snprintf(why, cap, "cannot use the system's CA certificates: %s", ssl_reason());
        goto fail;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    /* The server judges the client's certificate; a clear refusal comes from it. */
    if (s->cert != NULL && !load_own(ctx, s, -1, why, cap)) {
        goto fail;
    }
    ERR_clear_error();
    return ctx;

fail:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

int tlsctx_parse_version(const char *text, int *out)
{
    if (strcmp(text, "1.3") == 0) {
        *out = TLS1_3_VERSION;
        return 0;
    }
    if (strcmp(text, "1.2") == 0) {
        *out = TLS1_2_VERSION;
        return 0;
    }
    return -EINVAL;
}

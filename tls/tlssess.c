/* One TLS session over memory BIOs (see tlssess.h). */
#include "tlssess.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsid.h"

static const char *const failure_names[TLSSESS_FAILURES] = {
    "ok",       "no_cert",    "untrusted", "expired", "not_allowed",
    "protocol", "peer_alert", "closed",    "timeout",
};

const char *tlssess_failure_name(enum tlssess_failure f)
{
    return (unsigned)f < TLSSESS_FAILURES ? failure_names[f] : "?";
}

static bool is_ip_address(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* Notes the names of the peer's certificate for the logs, then lets the context's own check
 * (tlsctx.c's allow-list) decide. */
static int note_peer(int ok, X509_STORE_CTX *store)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    if (ssl == NULL) {
        return ok;
    }
    struct tlssess *t = SSL_get_app_data(ssl);
    X509 *cert = X509_STORE_CTX_get_current_cert(store);
    if (t != NULL && cert != NULL && X509_STORE_CTX_get_error_depth(store) == 0 &&
        t->peer_id[0] == '\0') {
        tlsid_describe(cert, t->peer_id, sizeof(t->peer_id));
    }
    SSL_verify_cb decide = SSL_CTX_get_verify_callback(SSL_get_SSL_CTX(ssl));
    return decide != NULL ? decide(ok, store) : ok;
}

/* Counts the KeyUpdate messages the peer sends (OpenSSL's message callback sees every
 * handshake message, sent and received, after decryption). */
static void note_message(int write_p, int version, int content_type, const void *buf, size_t len,
                         SSL *ssl, void *arg)
{
    (void)version;
    (void)arg;
    if (write_p || content_type != SSL3_RT_HANDSHAKE || len < 1 ||
        *(const unsigned char *)buf != SSL3_MT_KEY_UPDATE) {
        return;
    }
    struct tlssess *t = SSL_get_app_data(ssl);
    if (t != NULL && --t->key_update_credit < 0) {
        /* Over credit: the rest of what OpenSSL was handed goes, so that it stops after this
         * record rather than work through the step; tlssess_read then fails. */
        (void)BIO_reset(SSL_get_rbio(ssl));
    }
}

int tlssess_init(struct tlssess *t, SSL_CTX *ctx, bool server, const char *server_name)
{
    memset(t, 0, sizeof(*t));
    ERR_clear_error();
    t->ssl = SSL_new(ctx);
    BIO *in = BIO_new(BIO_s_mem());
    BIO *out = BIO_new(BIO_s_mem());
    if (t->ssl == NULL || in == NULL || out == NULL) {
        BIO_free(in);
        BIO_free(out);
        tlssess_fini(t);
        return -ENOMEM;
    }
    /* An empty BIO means "more to come", not end of stream: the network says when it ends. */
    BIO_set_mem_eof_return(in, -1);
    BIO_set_mem_eof_return(out, -1);
    SSL_set_bio(t->ssl, in, out); /* the SSL owns both from here */
    t->net_in = in;
    t->net_out = out;
    SSL_set_app_data(t->ssl, t);
    SSL_set_msg_callback(t->ssl, note_message);
    t->key_update_credit = TLSSESS_KEY_UPDATE_BURST;
    if (SSL_CTX_get_verify_mode(ctx) != SSL_VERIFY_NONE) {
        SSL_set_verify(t->ssl, SSL_CTX_get_verify_mode(ctx), note_peer);
    }
    if (server) {
        SSL_set_accept_state(t->ssl);
        return 0;
    }
    SSL_set_connect_state(t->ssl);
    if (server_name == NULL || server_name[0] == '\0') {
        return 0;
    }
    int ok;
    if (is_ip_address(server_name)) {
        ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), server_name);
    } else {
        ok = SSL_set_tlsext_host_name(t->ssl, server_name) && SSL_set1_host(t->ssl, server_name);
    }
    if (!ok) {
        tlssess_fini(t);
        return -EINVAL;
    }
    return 0;
}

/* Forgets the staged input, and its memory. */
static void drop_staged(struct tlssess *t)
{
    free(t->staged);
    t->staged = NULL;
    t->staged_off = t->staged_len = t->staged_cap = 0;
}

void tlssess_fini(struct tlssess *t)
{
    SSL_free(t->ssl);
    t->ssl = NULL;
    t->net_in = NULL;
    t->net_out = NULL;
    drop_staged(t);
}

/* Empties this thread's OpenSSL error queue before a call whose failure is read with
 * SSL_get_error, as OpenSSL asks. The queue is nearly always empty, and looking costs far less
 * than ERR_clear_error's sweep of it (about 6 % of the server's CPU under TLS load). */
static void clear_errors(void)
{
    if (ERR_peek_error() != 0) {
        ERR_clear_error();
    }
}

/* Hands the SSL len bytes. Returns 0 or -ENOMEM. */
static int give(struct tlssess *t, const void *data, size_t len)
{
    clear_errors();
    if (len > 0 && BIO_write(t->net_in, data, (int)len) != (int)len) {
        ERR_clear_error();
        return -ENOMEM;
    }
    return 0;
}

int tlssess_feed(struct tlssess *t, const void *data, size_t len)
{
    if (t->staged_len == 0) {
        /* The common case, a request or two: straight to the SSL. */
        size_t now = len < TLSSESS_FEED_STEP ? len : TLSSESS_FEED_STEP;
        if (give(t, data, now) < 0) {
            return -ENOMEM;
        }
        data = (const char *)data + now;
        len -= now;
        if (len == 0) {
            return 0;
        }
    }
    if (t->staged_off > 0) {
        /* Compact: what was given to the SSL is not kept. */
        memmove(t->staged, t->staged + t->staged_off, t->staged_len - t->staged_off);
        t->staged_len -= t->staged_off;
        t->staged_off = 0;
    }
    if (t->staged_len + len > t->staged_cap) {
        size_t cap = t->staged_cap > 0 ? t->staged_cap : TLSSESS_FEED_STEP;
        while (cap < t->staged_len + len) {
            cap *= 2;
        }
        unsigned char *p = realloc(t->staged, cap);
        if (p == NULL) {
            return -ENOMEM;
        }
        t->staged = p;
        t->staged_cap = cap;
    }
    memcpy(t->staged + t->staged_len, data, len);
    t->staged_len += len;
    return 0;
}

/* Gives the SSL the next step of staged bytes. Returns 1 when it gave some, 0 when none are
 * staged, -ENOMEM. An emptied stage owns no memory. */
static int feed_step(struct tlssess *t)
{
    size_t left = t->staged_len - t->staged_off;
    if (left == 0) {
        return 0;
    }
    size_t now = left < TLSSESS_FEED_STEP ? left : TLSSESS_FEED_STEP;
    if (give(t, t->staged + t->staged_off, now) < 0) {
        return -ENOMEM;
    }
    t->staged_off += now;
    if (t->staged_off == t->staged_len) {
        drop_staged(t);
    }
    return 1;
}

/* Fills t->why from OpenSSL's error queue, or with fallback when it is empty. */
static void take_error(struct tlssess *t, const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;
    snprintf(t->why, sizeof(t->why), "%s", reason != NULL ? reason : fallback);
    ERR_clear_error();
}

static enum tlssess_failure verify_failure(long v)
{
    switch (v) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return TLSSESS_EXPIRED;
    case X509_V_ERR_CERT_REJECTED: /* tlsctx.c's allow-list */
        return TLSSESS_NOT_ALLOWED;
    default:
        return TLSSESS_UNTRUSTED;
    }
}

int tlssess_handshake(struct tlssess *t)
{
    if (t->established) {
        return 1;
    }
    if (t->failure != TLSSESS_OK) {
        return -EPROTO;
    }
    int rc;
    int err;
    for (;;) {
        clear_errors();
        rc = SSL_do_handshake(t->ssl);
        if (rc == 1) {
            t->established = true;
            return 1;
        }
        err = SSL_get_error(t->ssl, rc);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
            break;
        }
        int fed = feed_step(t);
        if (fed == 0) {
            return 0; /* more bytes needed */
        }
        if (fed < 0) {
            t->failure = TLSSESS_PROTOCOL;
            snprintf(t->why, sizeof(t->why), "%s", "out of memory");
            return -EPROTO;
        }
    }
    long v = SSL_get_verify_result(t->ssl);
    unsigned long e = ERR_peek_last_error();
    if (v != X509_V_OK) {
        t->failure = verify_failure(v);
        snprintf(t->why, sizeof(t->why), "certificate verify failed: %s",
                 X509_verify_cert_error_string(v));
        ERR_clear_error();
    } else if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
               ERR_GET_REASON(e) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
        t->failure = TLSSESS_NO_CERT;
        take_error(t, "no certificate");
    } else if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) >= SSL_AD_REASON_OFFSET) {
        /* A received alert's reason is the offset plus the alert's number. */
        t->failure = TLSSESS_PEER_ALERT;
        take_error(t, "an alert");
    } else {
        t->failure = TLSSESS_PROTOCOL;
        take_error(t, "handshake failed");
    }
    return -EPROTO;
}

/* Whether the peer has sent more KeyUpdate messages than its credit (then t->why says so). */
static bool over_credit(struct tlssess *t)
{
    if (t->key_update_credit >= 0) {
        return false;
    }
    snprintf(t->why, sizeof(t->why),
             "more than %d KeyUpdate messages without %d bytes of data between",
             TLSSESS_KEY_UPDATE_BURST, TLSSESS_KEY_UPDATE_EARN);
    return true;
}

ssize_t tlssess_read(struct tlssess *t, void *buf, size_t cap)
{
    for (;;) {
        if (over_credit(t)) {
            return -EPROTO;
        }
        if (!tlssess_has_input(t)) {
            return 0; /* nothing to decrypt: SSL_read_ex would only say it wants more */
        }
        size_t n = 0;
        clear_errors();
        if (SSL_read_ex(t->ssl, buf, cap, &n) == 1) {
            t->earned_bytes += n;
            while (t->earned_bytes >= TLSSESS_KEY_UPDATE_EARN) {
                t->earned_bytes -= TLSSESS_KEY_UPDATE_EARN;
                if (t->key_update_credit < TLSSESS_KEY_UPDATE_BURST) {
                    t->key_update_credit++;
                }
            }
            return (ssize_t)n;
        }
        switch (SSL_get_error(t->ssl, 0)) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE: {
            int fed = over_credit(t) ? -EPROTO : feed_step(t);
            if (fed < 0) {
                if (fed == -ENOMEM) {
                    snprintf(t->why, sizeof(t->why), "%s", "out of memory");
                }
                return -EPROTO;
            }
            if (fed == 0) {
                return 0;
            }
            break;
        }
        case SSL_ERROR_ZERO_RETURN:
            return TLSSESS_EOF;
        default:
            take_error(t, "bad record");
            return -EPROTO;
        }
    }
}

int tlssess_write(struct tlssess *t, const void *data, size_t len)
{
    size_t n = 0;
    clear_errors();
    if (len == 0) {
        return 0;
    }
    /* A memory BIO takes everything: one call writes it all (as records of up to 16 KiB). */
    if (SSL_write_ex(t->ssl, data, len, &n) == 1 && n == len) {
        return 0;
    }
    take_error(t, "cannot encrypt");
    return -EPROTO;
}

void tlssess_close_notify(struct tlssess *t)
{
    if (t->established && (SSL_get_shutdown(t->ssl) & SSL_SENT_SHUTDOWN) == 0) {
        ERR_clear_error();
        (void)SSL_shutdown(t->ssl);
        ERR_clear_error();
    }
}

size_t tlssess_pending(const struct tlssess *t)
{
    return t->net_out != NULL ? BIO_ctrl_pending(t->net_out) : 0;
}

size_t tlssess_take(struct tlssess *t, void *out, size_t cap)
{
    size_t done = 0;
    while (done < cap) {
        size_t want = cap - done;
        int n = BIO_read(t->net_out, (char *)out + done, want > INT_MAX ? INT_MAX : (int)want);
        if (n <= 0) {
            break;
        }
        done += (size_t)n;
    }
    return done;
}

size_t tlssess_input_held(const struct tlssess *t)
{
    return t->ssl != NULL ? BIO_ctrl_pending(t->net_in) + (t->staged_len - t->staged_off) : 0;
}

bool tlssess_has_input(const struct tlssess *t)
{
    return t->ssl != NULL && (SSL_has_pending(t->ssl) || BIO_ctrl_pending(t->net_in) > 0 ||
                              t->staged_len > t->staged_off);
}

void tlssess_describe(const struct tlssess *t, char *out, size_t cap)
{
    if (!t->established) {
        snprintf(out, cap, "%s", "");
        return;
    }
    snprintf(out, cap, "%s %s", SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl));
}

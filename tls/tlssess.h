/*
 * One TLS session over memory BIOs, for a connection whose bytes libuv moves: the caller feeds
 * what it read from the network (tlssess_feed), runs the handshake and reads plaintext, and
 * takes the records to send (tlssess_take). Nothing here touches a socket or blocks, so a slow
 * or hostile peer costs the loop only the bytes it sends.
 *
 * Used by oracled's connections and by liboracle-client's libuv engine. OpenSSL's error queue
 * is per thread: every call clears it first and reads it before returning.
 */
#ifndef ORACLE_TLSSESS_H
#define ORACLE_TLSSESS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Why a handshake failed, as oracled counts it (tlssess_failure_name). */
enum tlssess_failure {
    TLSSESS_OK,          /* not failed */
    TLSSESS_NO_CERT,     /* the peer sent no certificate (mutual TLS) */
    TLSSESS_UNTRUSTED,   /* its certificate is not signed by the CA, or is malformed */
    TLSSESS_EXPIRED,     /* ... is past its validity period, or not yet in it */
    TLSSESS_NOT_ALLOWED, /* ... is signed by the CA but not on the allow-list */
    TLSSESS_PROTOCOL,    /* not TLS, an unsupported version or cipher, a bad record */
    TLSSESS_PEER_ALERT,  /* the peer ended the handshake with an alert: it refused us (our
                          * certificate, say) */
    TLSSESS_CLOSED,      /* the peer closed before the handshake finished (the caller's call) */
    TLSSESS_TIMEOUT,     /* the handshake took longer than allowed (the caller's call) */
    TLSSESS_FAILURES     /* how many kinds there are */
};

/* "ok", "no_cert", "untrusted", "expired", "not_allowed", "protocol", "peer_alert", "closed",
 * "timeout". */
const char *tlssess_failure_name(enum tlssess_failure f);

#define TLSSESS_WHY_MAX 200

struct tlssess {
    SSL *ssl;
    BIO *net_in;  /* bytes from the network, for the SSL to read (owned by ssl) */
    BIO *net_out; /* records the SSL wrote, for the network (owned by ssl) */
    bool established;
    enum tlssess_failure failure;
    char why[TLSSESS_WHY_MAX]; /* after a failure: OpenSSL's words (static size) */
    char peer_id[128];         /* the peer certificate's names (tlsid_describe), once seen */
    /* Bytes fed but not yet given to the SSL: it gets them TLSSESS_FEED_STEP at a time, so that
     * between two looks at key_update_credit it can only have handled a step's worth of tiny
     * records (see tlssess_read). */
    unsigned char *staged;
    size_t staged_off, staged_len, staged_cap;
    /* KeyUpdate messages the peer may still send: each costs the SSL a key derivation, so a peer
     * sending nothing else could keep the loop busy. It starts at TLSSESS_KEY_UPDATE_BURST, and
     * every TLSSESS_KEY_UPDATE_EARN bytes of plaintext read earn one back (up to the burst). */
    int key_update_credit;
    size_t earned_bytes; /* plaintext read towards the next credit */
};

#define TLSSESS_FEED_STEP        2048
#define TLSSESS_KEY_UPDATE_BURST 8
#define TLSSESS_KEY_UPDATE_EARN  65536

/*
 * Starts a session in t, which must stay where it is until tlssess_fini (OpenSSL's callbacks
 * find it by address), from ctx (SSL_CTX_up_ref'd by SSL_new: a context replaced later stays alive
 * while sessions use it). server: accept; else connect, checking the server's certificate
 * against server_name (a DNS name, or an IP address as text; NULL: no name check) and sending it
 * as SNI when it is a name. Returns 0, -ENOMEM, or -EINVAL (server_name not usable).
 */
int tlssess_init(struct tlssess *t, SSL_CTX *ctx, bool server, const char *server_name);
/* Frees the SSL and its BIOs. A zeroed struct is safe. */
void tlssess_fini(struct tlssess *t);

/* Gives the session len bytes read from the network (copied; what the SSL does not take at
 * once is staged in t). Returns 0 or -ENOMEM. */
int tlssess_feed(struct tlssess *t, const void *data, size_t len);

/*
 * Runs the handshake as far as the bytes fed allow. Returns 1 once established (and at every
 * call after), 0 when more bytes are needed (records to send may be waiting: tlssess_pending),
 * or -EPROTO when it failed: t->failure and t->why say why; an alert for the peer may be
 * waiting to be sent.
 */
int tlssess_handshake(struct tlssess *t);

#define TLSSESS_EOF (-EPIPE) /* the peer sent close_notify */

/*
 * Reads plaintext into buf[0..cap). Returns the bytes read (> 0), 0 when more network bytes are
 * needed, TLSSESS_EOF after the peer's close_notify, or -EPROTO (a bad record, an alert, or more
 * KeyUpdate messages than its credit allows; t->why says which). Only once established. Records
 * to send may appear (a KeyUpdate answer).
 */
ssize_t tlssess_read(struct tlssess *t, void *buf, size_t cap);

/* Encrypts len bytes of plaintext into records to send. Only once established. Returns 0,
 * -ENOMEM or -EPROTO. */
int tlssess_write(struct tlssess *t, const void *data, size_t len);

/* Queues a close_notify alert, once (only when established). */
void tlssess_close_notify(struct tlssess *t);

/* Bytes of records waiting to be sent. */
size_t tlssess_pending(const struct tlssess *t);
/* Moves up to cap bytes of them into out; returns how many. */
size_t tlssess_take(struct tlssess *t, void *out, size_t cap);

/* Whether bytes fed or plaintext decrypted are still inside the session (tlssess_read would
 * return something without more input, or finish a record). */
bool tlssess_has_input(const struct tlssess *t);

/* Bytes fed that the SSL has not read yet (staged, or in its input BIO). */
size_t tlssess_input_held(const struct tlssess *t);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384" once established, else "". */
void tlssess_describe(const struct tlssess *t, char *out, size_t cap);

#endif

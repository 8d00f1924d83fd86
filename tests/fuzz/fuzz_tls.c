/*
 * libFuzzer target: the TLS handshake as oracled runs it (tls/tlssess.c over memory BIOs, a
 * mutual-TLS server context from tlsctx.c), fed bytes no client could have made right. The first
 * byte picks what is fuzzed:
 *   0  the bytes, as they come, to oracled's side, in pieces the next bytes size;
 *   1  a real client's ClientHello with the input XORed over it, to oracled's side;
 *   2  the bytes as the server's answer to a real client (the client library's side).
 * Besides not crashing or leaking: no handshake ever completes (neither side can finish without
 * the other's keys), a failure always has its reason and words, and what a session holds to
 * send stays small.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tlsctx.h"
#include "tlssess.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static SSL_CTX *server_ctx;
static SSL_CTX *client_ctx;
static uint8_t hello[4096]; /* a real ClientHello, for mode 1 */
static size_t hello_len;

/* A self-signed certificate for key, named cn, valid for a day either side of now. */
static X509 *self_signed(EVP_PKEY *key, const char *cn)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -86400);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, key);
    X509_sign(x, key, EVP_sha256());
    return x;
}

static void write_pem(const char *path, X509 *x, EVP_PKEY *key)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        abort();
    }
    if (x != NULL) {
        PEM_write_X509(f, x);
    }
    if (key != NULL) {
        PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    }
    fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char dir[] = "/tmp/fuzz_tls.XXXXXX";
    if (mkdtemp(dir) == NULL) {
        abort();
    }
    char cert[64], key[64];
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = self_signed(k, "oracled");
    write_pem(cert, x, NULL);
    write_pem(key, NULL, k);
    /* Mutual TLS, the server's own certificate as the CA: the strictest context oracled runs. */
    struct tlsctx_settings s = {.cert = cert, .key = key, .ca = cert};
    char why[TLSCTX_WHY_MAX];
    server_ctx = tlsctx_server_new(&s, (int64_t)time(NULL), why, sizeof(why));
    struct tlsctx_settings c = {.ca = cert};
    client_ctx = tlsctx_client_new(&c, why, sizeof(why));
    unlink(cert);
    unlink(key);
    rmdir(dir);
    X509_free(x);
    EVP_PKEY_free(k);
    if (server_ctx == NULL || client_ctx == NULL) {
        abort();
    }
    struct tlssess t;
    if (tlssess_init(&t, client_ctx, false, "oracled") < 0 || tlssess_handshake(&t) != 0) {
        abort();
    }
    hello_len = tlssess_take(&t, hello, sizeof(hello));
    tlssess_fini(&t);
    if (hello_len == 0 || hello_len == sizeof(hello)) {
        abort();
    }
    return 0;
}

/* One step of a session that must never be established: the handshake as far as it goes, and
 * a failure's account. Returns true when it failed (no more input is worth feeding). */
static bool step(struct tlssess *t)
{
    int rc = tlssess_handshake(t);
    if (rc == 1 || t->established) {
        abort(); /* finished without the other side's keys */
    }
    if (tlssess_pending(t) > 64 * 1024) {
        abort(); /* a flight is a few KiB at most */
    }
    if (rc < 0) {
        if (t->failure == TLSSESS_OK || t->failure >= TLSSESS_FAILURES || t->why[0] == '\0' ||
            memchr(t->why, '\0', sizeof(t->why)) == NULL) {
            abort();
        }
        return true;
    }
    uint8_t sink[4096];
    while (tlssess_take(t, sink, sizeof(sink)) > 0) {
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    unsigned mode = data[0] % 3;
    data++;
    size--;
    struct tlssess t;
    if (tlssess_init(&t, mode == 2 ? client_ctx : server_ctx, mode != 2,
                     mode == 2 ? "oracled" : NULL) < 0) {
        abort();
    }
    if (mode == 1) {
        uint8_t mutated[sizeof(hello)];
        memcpy(mutated, hello, hello_len);
        for (size_t i = 0; i < size && i < hello_len; i++) {
            mutated[i] ^= data[i];
        }
        size_t len = size > hello_len ? hello_len : size; /* the input also cuts it short */
        if (tlssess_feed(&t, mutated, len) < 0) {
            abort();
        }
        (void)step(&t);
    } else {
        if (mode == 2) {
            (void)step(&t); /* the client's ClientHello, taken away */
        }
        /* In pieces: each piece's length is the byte before it (1 .. 256). */
        size_t off = 0;
        while (off < size) {
            size_t piece = (size_t)data[off] + 1;
            off++;
            if (piece > size - off) {
                piece = size - off;
            }
            if (tlssess_feed(&t, data + off, piece) < 0) {
                abort();
            }
            off += piece;
            if (step(&t)) {
                break;
            }
        }
    }
    tlssess_fini(&t);
    return 0;
}

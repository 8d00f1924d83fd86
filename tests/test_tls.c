/*
 * tls/: contexts from PEM files (and what is wrong with bad ones), client identities, and
 * sessions over memory BIOs run against each other in memory: a handshake that works, and each
 * refusal oracled counts (no certificate, another CA, expired, not on the allow-list), with
 * records both ways and close_notify after. The certificates are made here, with OpenSSL.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ktls.h"
#include "tlsctx.h"
#include "tlsid.h"
#include "tlssess.h"

#define DAY (24 * 3600L)

struct pki {
    char dir[64];
    EVP_PKEY *ca_key;
    X509 *ca;
};

static char path_buf[64][160]; /* enough for every path one test holds at once */
static int path_next;

/* dir/name (one of a few rotating buffers). */
static const char *at(const struct pki *p, const char *name)
{
    char *b = path_buf[path_next++ % 64];
    snprintf(b, sizeof(path_buf[0]), "%s/%s", p->dir, name);
    return b;
}

/* A certificate for key named cn, valid from `from` to `until` seconds from now, signed by
 * issuer (NULL: self-signed), with subjectAltName san (NULL: none). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, long from, long until, const char *san,
                       X509 *issuer, EVP_PKEY *issuer_key, bool ca)
{
    static long serial = 1;
    X509 *x = X509_new();
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), from));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), until));
    X509_NAME *name = X509_get_subject_name(x);
    if (cn != NULL) {
        assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                                    (const unsigned char *)cn, -1, -1, 0),
                         1);
    } else {
        assert_int_equal(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                                    (const unsigned char *)"no CN", -1, -1, 0),
                         1);
    }
    assert_int_equal(X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name),
                     1);
    assert_int_equal(X509_set_pubkey(x, key), 1);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
                                              ca ? "critical,CA:TRUE" : "CA:FALSE");
    assert_non_null(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    if (san != NULL) {
        ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
        assert_non_null(ext);
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    assert_true(X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

static void write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    if (cert != NULL) {
        assert_int_equal(PEM_write_X509(f, cert), 1);
    }
    if (key != NULL) {
        assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
    }
    fclose(f);
}

/* NAME.pem and NAME.key: a certificate signed by the pki's CA (or self-signed: other CA). */
static void issue(struct pki *p, const char *name, const char *cn, long from, long until,
                  const char *san)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    assert_non_null(key);
    X509 *x = make_cert(key, cn, from, until, san, p->ca, p->ca_key, false);
    char file[64];
    snprintf(file, sizeof(file), "%s.pem", name);
    write_pem(at(p, file), x, NULL);
    snprintf(file, sizeof(file), "%s.key", name);
    write_pem(at(p, file), NULL, key);
    X509_free(x);
    EVP_PKEY_free(key);
}

static int setup(void **state)
{
    struct pki *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    snprintf(p->dir, sizeof(p->dir), "/tmp/test_tls.XXXXXX");
    assert_non_null(mkdtemp(p->dir));
    p->ca_key = EVP_EC_gen("P-256");
    p->ca = make_cert(p->ca_key, "test CA", -DAY, 30 * DAY, NULL, NULL, NULL, true);
    write_pem(at(p, "ca.pem"), p->ca, NULL);
    issue(p, "server", "oracled", -DAY, 30 * DAY, "DNS:localhost,IP:127.0.0.1");
    issue(p, "client", "db-1", -DAY, 30 * DAY, "DNS:db-1.example,URI:spiffe://prod/db-1");
    issue(p, "expired", "db-2", -3 * DAY, -DAY, NULL);
    issue(p, "future", "db-3", DAY, 3 * DAY, NULL);
    /* Another CA's client, and the server's certificate with the wrong key. */
    EVP_PKEY *other_key = EVP_EC_gen("P-256");
    X509 *other_ca = make_cert(other_key, "other CA", -DAY, DAY, NULL, NULL, NULL, true);
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = make_cert(k, "db-1", -DAY, DAY, NULL, other_ca, other_key, false);
    write_pem(at(p, "stranger.pem"), x, NULL);
    write_pem(at(p, "stranger.key"), NULL, k);
    write_pem(at(p, "wrong.key"), NULL, other_key);
    write_pem(at(p, "garbage.pem"), NULL, NULL);
    X509_free(x);
    X509_free(other_ca);
    EVP_PKEY_free(k);
    EVP_PKEY_free(other_key);
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    struct pki *p = *state;
    const char *names[] = {"ca.pem",     "server.pem",   "server.key",   "client.pem",
                           "client.key", "expired.pem",  "expired.key",  "future.pem",
                           "future.key", "stranger.pem", "stranger.key", "wrong.key",
                           "garbage.pem"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        unlink(at(p, names[i]));
    }
    rmdir(p->dir);
    X509_free(p->ca);
    EVP_PKEY_free(p->ca_key);
    free(p);
    return 0;
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* --- contexts --- */

static void expect_server_refused(const struct tlsctx_settings *s, const char *says)
{
    char why[TLSCTX_WHY_MAX] = "";
    SSL_CTX *ctx = tlsctx_server_new(s, now_s(), why, sizeof(why));
    if (ctx != NULL || strstr(why, says) == NULL) {
        fail_msg("want a refusal saying '%s', got %s '%s'", says, ctx != NULL ? "a context" : "",
                 why);
    }
}

static void test_server_context_errors(void **state)
{
    struct pki *p = *state;
    struct tlsctx_settings s = {.cert = at(p, "server.pem"), .key = at(p, "server.key")};
    char why[TLSCTX_WHY_MAX];
    SSL_CTX *ctx = tlsctx_server_new(&s, now_s(), why, sizeof(why));
    assert_non_null(ctx);
    int64_t from = 0, until = 0;
    assert_int_equal(tlsctx_validity(ctx, &from, &until), 0);
    assert_true(until - now_s() > 29 * DAY && until - now_s() <= 30 * DAY);
    assert_true(now_s() - from >= DAY - 5 && now_s() - from <= DAY + 5);
    SSL_CTX_free(ctx);

    struct tlsctx_settings bad = s;
    bad.cert = at(p, "missing.pem");
    expect_server_refused(&bad, "cannot read the certificate");
    expect_server_refused(&bad, "No such file or directory");
    bad = s;
    bad.cert = at(p, "garbage.pem");
    expect_server_refused(&bad, "cannot use the certificate");
    bad = s;
    bad.key = at(p, "wrong.key");
    expect_server_refused(&bad, "does not belong to the certificate");
    bad.cert = at(p, "expired.pem");
    bad.key = at(p, "expired.key");
    expect_server_refused(&bad, "is expired since");
    bad.cert = at(p, "future.pem");
    bad.key = at(p, "future.key");
    expect_server_refused(&bad, "is not valid before");
    bad = s;
    bad.ca = at(p, "missing-ca.pem");
    expect_server_refused(&bad, "cannot read the CA file");
    bad.ca = at(p, "garbage.pem");
    expect_server_refused(&bad, "CA file");
    bad = s;
    bad.key = NULL;
    expect_server_refused(&bad, "a certificate needs its key");
}

static void test_versions(void **state)
{
    (void)state;
    int v = 0;
    assert_int_equal(tlsctx_parse_version("1.3", &v), 0);
    assert_int_equal(v, TLS1_3_VERSION);
    assert_int_equal(tlsctx_parse_version("1.2", &v), 0);
    assert_int_equal(v, TLS1_2_VERSION);
    assert_int_equal(tlsctx_parse_version("1.1", &v), -EINVAL);
    assert_int_equal(tlsctx_parse_version("", &v), -EINVAL);
}

/* --- sessions, in memory --- */

/* Moves every record from one session to the other. */
static void shuttle(struct tlssess *from, struct tlssess *to)
{
    uint8_t buf[32768];
    size_t n;
    while ((n = tlssess_take(from, buf, sizeof(buf))) > 0) {
        assert_int_equal(tlssess_feed(to, buf, n), 0);
    }
}

struct pair {
    SSL_CTX *server_ctx;
    SSL_CTX *client_ctx;
    struct tlssess server;
    struct tlssess client;
    int server_rc;
    int client_rc;
};

/* A server from s, a client from c (to server_name), and the handshake run until both stop. */
static void handshake(struct pair *x, const struct tlsctx_settings *s,
                      const struct tlsctx_settings *c, const char *server_name)
{
    char why[TLSCTX_WHY_MAX];
    memset(x, 0, sizeof(*x));
    x->server_ctx = tlsctx_server_new(s, now_s(), why, sizeof(why));
    assert_non_null(x->server_ctx);
    x->client_ctx = tlsctx_client_new(c, why, sizeof(why));
    if (x->client_ctx == NULL) {
        fail_msg("client context: %s", why);
    }
    assert_int_equal(tlssess_init(&x->server, x->server_ctx, true, NULL), 0);
    assert_int_equal(tlssess_init(&x->client, x->client_ctx, false, server_name), 0);
    for (int round = 0; round < 8; round++) {
        x->client_rc = tlssess_handshake(&x->client);
        shuttle(&x->client, &x->server);
        x->server_rc = tlssess_handshake(&x->server);
        shuttle(&x->server, &x->client);
        if (x->client_rc != 0 && x->server_rc != 0) {
            break;
        }
    }
}

static void pair_free(struct pair *x)
{
    tlssess_fini(&x->server);
    tlssess_fini(&x->client);
    SSL_CTX_free(x->server_ctx);
    SSL_CTX_free(x->client_ctx);
}

/* A mutual TLS pair, established. */
static void established(struct pki *p, struct pair *x)
{
    struct tlsctx_settings s = {
        .cert = at(p, "server.pem"), .key = at(p, "server.key"), .ca = at(p, "ca.pem")};
    struct tlsctx_settings c = {
        .cert = at(p, "client.pem"), .key = at(p, "client.key"), .ca = at(p, "ca.pem")};
    handshake(x, &s, &c, "localhost");
    assert_int_equal(x->client_rc, 1);
    assert_int_equal(x->server_rc, 1);
}

static void test_mutual_tls(void **state)
{
    struct pair x;
    established(*state, &x);
    assert_string_equal(x.server.peer_id, "CN=db-1, DNS:db-1.example, URI:spiffe://prod/db-1");
    assert_string_equal(x.client.peer_id, "CN=oracled, DNS:localhost");
    char how[96];
    tlssess_describe(&x.server, how, sizeof(how));
    assert_string_equal(how, "TLSv1.3 TLS_AES_256_GCM_SHA384");

    /* Records both ways, a read smaller than what came, then close_notify. */
    assert_int_equal(tlssess_write(&x.client, "request", 7), 0);
    shuttle(&x.client, &x.server);
    assert_true(tlssess_has_input(&x.server));
    char buf[16];
    assert_int_equal(tlssess_read(&x.server, buf, 3), 3);
    assert_true(tlssess_has_input(&x.server));
    assert_int_equal(tlssess_read(&x.server, buf + 3, sizeof(buf) - 3), 4);
    assert_memory_equal(buf, "request", 7);
    assert_int_equal(tlssess_read(&x.server, buf, sizeof(buf)), 0); /* nothing more yet */
    assert_int_equal(tlssess_write(&x.server, "reply", 5), 0);
    tlssess_close_notify(&x.server);
    tlssess_close_notify(&x.server); /* once */
    shuttle(&x.server, &x.client);
    assert_int_equal(tlssess_read(&x.client, buf, sizeof(buf)), 5);
    assert_memory_equal(buf, "reply", 5);
    assert_int_equal(tlssess_read(&x.client, buf, sizeof(buf)), TLSSESS_EOF);
    pair_free(&x);
}

/* The client's records for one KeyUpdate (SSL_key_update only schedules it). */
static void send_key_update(struct pair *x)
{
    assert_int_equal(SSL_key_update(x->client.ssl, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
    assert_int_equal(SSL_do_handshake(x->client.ssl), 1);
}

/* Everything the server can read now; returns its last tlssess_read result (0 or an error). */
static ssize_t drain(struct tlssess *t, size_t *got)
{
    static char buf[65536];
    ssize_t n;
    while ((n = tlssess_read(t, buf, sizeof(buf))) > 0) {
        *got += (size_t)n;
    }
    return n;
}

/* A client sending KeyUpdate after KeyUpdate costs the server a key derivation each: past a burst
 * of TLSSESS_KEY_UPDATE_BURST without data between, the server gives up on it. */
static void test_key_update_flood(void **state)
{
    struct pair x;
    established(*state, &x);
    size_t got = 0;
    for (int i = 0; i < TLSSESS_KEY_UPDATE_BURST; i++) {
        send_key_update(&x);
        shuttle(&x.client, &x.server);
        assert_int_equal(drain(&x.server, &got), 0);
    }
    send_key_update(&x);
    shuttle(&x.client, &x.server);
    assert_int_equal(drain(&x.server, &got), -EPROTO);
    assert_non_null(strstr(x.server.why, "KeyUpdate"));
    pair_free(&x);
}

/* Thousands of KeyUpdates arriving in one read: the server handles one past the burst and stops
 * there. */
static void test_key_update_flood_in_one_read(void **state)
{
    struct pair x;
    established(*state, &x);
    for (int i = 0; i < 2000; i++) {
        send_key_update(&x);
    }
    size_t records = tlssess_pending(&x.client);
    assert_true(records > 32768); /* much more than a step */
    shuttle(&x.client, &x.server);
    size_t got = 0;
    assert_int_equal(drain(&x.server, &got), -EPROTO);
    /* OpenSSL stops at the record that went over: one past the burst, not a step's worth (a
     * step of 2048 bytes holds about 75). */
    if (x.server.key_update_credit < -1) {
        fail_msg("the server handled %d KeyUpdates past its credit", -x.server.key_update_credit);
    }
    pair_free(&x);
}

/* A client that updates its keys now and then, with data between, as a long connection may. */
static void test_key_updates_with_data_between(void **state)
{
    struct pair x;
    established(*state, &x);
    static char data[TLSSESS_KEY_UPDATE_EARN];
    memset(data, 'r', sizeof(data));
    size_t got = 0;
    for (int i = 0; i < 5 * TLSSESS_KEY_UPDATE_BURST; i++) {
        send_key_update(&x);
        assert_int_equal(tlssess_write(&x.client, data, sizeof(data)), 0);
        shuttle(&x.client, &x.server);
        assert_int_equal(drain(&x.server, &got), 0);
    }
    assert_int_equal(got, 5 * TLSSESS_KEY_UPDATE_BURST * sizeof(data));
    pair_free(&x);
}

/* Much more than a step fed at once (a client that wrote a lot, read in one go) comes out whole,
 * in order. */
static void test_large_feed(void **state)
{
    struct pair x;
    established(*state, &x);
    static unsigned char data[200000];
    for (size_t i = 0; i < sizeof(data); i++) {
        data[i] = (unsigned char)(i * 7 + i / 251);
    }
    assert_int_equal(tlssess_write(&x.client, data, sizeof(data)), 0);
    shuttle(&x.client, &x.server);
    static unsigned char back[sizeof(data)];
    size_t got = 0;
    ssize_t n;
    while ((n = tlssess_read(&x.server, back + got, sizeof(back) - got)) > 0) {
        got += (size_t)n;
    }
    assert_int_equal(n, 0);
    assert_int_equal(got, sizeof(data));
    assert_memory_equal(back, data, sizeof(data));
    assert_false(tlssess_has_input(&x.server));
    assert_null(x.server.staged); /* an emptied stage owns nothing */
    pair_free(&x);
}

/* The server refuses the client for `want`; the client hears of it on its first read. */
static void expect_refusal(struct pki *p, const char *cert, const char *key,
                           const char *const *allow, size_t n_allow, enum tlssess_failure want,
                           const char *says)
{
    struct tlsctx_settings s = {.cert = at(p, "server.pem"),
                                .key = at(p, "server.key"),
                                .ca = at(p, "ca.pem"),
                                .allow = allow,
                                .n_allow = n_allow};
    struct tlsctx_settings c = {.cert = cert, .key = key, .ca = at(p, "ca.pem")};
    struct pair x;
    handshake(&x, &s, &c, "127.0.0.1");
    if (x.server_rc != -EPROTO || x.server.failure != want || strstr(x.server.why, says) == NULL) {
        fail_msg("want %s '%s', got rc %d, %s '%s'", tlssess_failure_name(want), says, x.server_rc,
                 tlssess_failure_name(x.server.failure), x.server.why);
    }
    /* TLS 1.3: the client finished first; the server's alert reaches it as a failed read. */
    char buf[8];
    assert_int_equal(tlssess_read(&x.client, buf, sizeof(buf)), -EPROTO);
    assert_true(x.client.why[0] != '\0');
    pair_free(&x);
}

static void test_refusals(void **state)
{
    struct pki *p = *state;
    expect_refusal(p, NULL, NULL, NULL, 0, TLSSESS_NO_CERT, "did not return a certificate");
    expect_refusal(p, at(p, "stranger.pem"), at(p, "stranger.key"), NULL, 0, TLSSESS_UNTRUSTED,
                   "unable to get local issuer certificate");
    expect_refusal(p, at(p, "expired.pem"), at(p, "expired.key"), NULL, 0, TLSSESS_EXPIRED,
                   "certificate has expired");
    expect_refusal(p, at(p, "future.pem"), at(p, "future.key"), NULL, 0, TLSSESS_EXPIRED,
                   "not yet valid");
    const char *only_db2[] = {"CN=db-2", "DNS:db-2.example"};
    expect_refusal(p, at(p, "client.pem"), at(p, "client.key"), only_db2, 2, TLSSESS_NOT_ALLOWED,
                   "certificate rejected");
}

static void test_allow_list_lets_in(void **state)
{
    struct pki *p = *state;
    const char *lists[][2] = {
        {"CN=db-2", "CN=db-1"},
        {"DNS:db-1.example", NULL},
        {"URI:spiffe://prod/db-1", NULL},
        {"db-1.example", NULL},
    };
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        struct tlsctx_settings s = {.cert = at(p, "server.pem"),
                                    .key = at(p, "server.key"),
                                    .ca = at(p, "ca.pem"),
                                    .allow = lists[i],
                                    .n_allow = lists[i][1] != NULL ? 2 : 1};
        struct tlsctx_settings c = {
            .cert = at(p, "client.pem"), .key = at(p, "client.key"), .ca = at(p, "ca.pem")};
        struct pair x;
        handshake(&x, &s, &c, "localhost");
        if (x.server_rc != 1) {
            fail_msg("allow-list %zu (%s): refused: %s", i, lists[i][0], x.server.why);
        }
        pair_free(&x);
    }
}

static void test_client_checks_server(void **state)
{
    struct pki *p = *state;
    struct tlsctx_settings s = {.cert = at(p, "server.pem"), .key = at(p, "server.key")};
    struct tlsctx_settings c = {.ca = at(p, "ca.pem")};
    struct pair x;
    handshake(&x, &s, &c, "db.example");
    assert_int_equal(x.client_rc, -EPROTO);
    assert_int_equal(x.client.failure, TLSSESS_UNTRUSTED);
    assert_non_null(strstr(x.client.why, "hostname mismatch"));
    pair_free(&x);
    handshake(&x, &s, &c, "127.0.0.1"); /* an IP address SAN */
    assert_int_equal(x.client_rc, 1);
    pair_free(&x);
    /* A TLS 1.2 server and a client that wants 1.3 have no version in common. */
    s.min_version = TLS1_2_VERSION;
    struct tlsctx_settings c12 = {.ca = at(p, "ca.pem"), .min_version = TLS1_2_VERSION};
    handshake(&x, &s, &c12, "localhost");
    assert_int_equal(x.client_rc, 1);
    pair_free(&x);
}

static void test_not_tls(void **state)
{
    struct pki *p = *state;
    struct tlsctx_settings s = {.cert = at(p, "server.pem"), .key = at(p, "server.key")};
    char why[TLSCTX_WHY_MAX];
    SSL_CTX *ctx = tlsctx_server_new(&s, now_s(), why, sizeof(why));
    assert_non_null(ctx);
    struct tlssess t;
    assert_int_equal(tlssess_init(&t, ctx, true, NULL), 0);
    const char http[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(tlssess_feed(&t, http, sizeof(http) - 1), 0);
    assert_int_equal(tlssess_handshake(&t), -EPROTO);
    assert_int_equal(t.failure, TLSSESS_PROTOCOL);
    assert_string_equal(t.why, "http request");
    assert_int_equal(tlssess_handshake(&t), -EPROTO); /* stays failed */
    tlssess_fini(&t);
    SSL_CTX_free(ctx);
}

/* --- identities --- */

static void test_entries(void **state)
{
    (void)state;
    const char *good[] = {"CN=db-1",     "DNS:db.example", "URI:spiffe://x/y",
                          "IP:10.0.0.1", "IP:::1",         "email:a@b",
                          "db-1"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_true(tlsid_entry_ok(good[i]));
    }
    char long_name[TLSID_MAX_LEN + 2];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    const char *bad[] = {"", "CN=", "DNS:", "IP:10.0.0", "IP:db", long_name};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (tlsid_entry_ok(bad[i])) {
            fail_msg("'%s' taken", bad[i]);
        }
    }
    long_name[TLSID_MAX_LEN] = '\0';
    assert_true(tlsid_entry_ok(long_name));
}

static void test_identities(void **state)
{
    (void)state;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = make_cert(key, "db-1", 0, DAY,
                        "DNS:DB-1.Example,URI:spiffe://prod/db-1,IP:10.0.0.7,email:ops@example.org",
                        NULL, NULL, false);
    struct {
        const char *entry;
        bool match;
    } cases[] = {
        {"CN=db-1", true},
        {"CN=db", false},
        {"CN=DB-1", false},     /* a common name is compared as it is */
        {"db-1", true},         /* bare: the common name ... */
        {"db-1.example", true}, /* ... or a DNS name, without case */
        {"DNS:db-1.example", true},
        {"DNS:db-1", false},
        {"DNS:*.example", false},
        {"URI:spiffe://prod/db-1", true},
        {"URI:spiffe://prod/db-12", false},
        {"URI:SPIFFE://prod/db-1", false},
        {"IP:10.0.0.7", true},
        {"IP:10.0.0.8", false},
        {"email:ops@example.org", true},
        {"email:db-1", false},
        {"spiffe://prod/db-1", false}, /* bare names are not URIs */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *one[] = {cases[i].entry};
        if (tlsid_allowed(x, one, 1) != cases[i].match) {
            fail_msg("'%s': want %s", cases[i].entry, cases[i].match ? "a match" : "none");
        }
    }
    const char *none[] = {"CN=x", "DNS:y"};
    assert_false(tlsid_allowed(x, none, 2));
    assert_false(tlsid_allowed(x, none, 0));
    char d[128];
    tlsid_describe(x, d, sizeof(d));
    assert_string_equal(d, "CN=db-1, DNS:DB-1.Example, URI:spiffe://prod/db-1");
    tlsid_describe(x, d, 12);
    assert_string_equal(d, "CN=db-1, DN");
    X509_free(x);
    x = make_cert(key, NULL, 0, DAY, NULL, NULL, NULL, false);
    tlsid_describe(x, d, sizeof(d));
    assert_string_equal(d, "(no name)");
    const char *cn_only[] = {"CN=db-1", "db-1"};
    assert_false(tlsid_allowed(x, cn_only, 2));
    X509_free(x);
    /* Two common names, one allowed: neither counts (which names the client is ambiguous). */
    x = make_cert(key, "attacker", 0, DAY, NULL, NULL, NULL, false);
    assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                                (const unsigned char *)"db-1", -1, -1, 0),
                     1);
    const char *db1[] = {"CN=db-1"};
    const char *attacker[] = {"attacker"};
    assert_false(tlsid_allowed(x, db1, 1));
    assert_false(tlsid_allowed(x, attacker, 1));
    X509_free(x);
    EVP_PKEY_free(key);
}

/* The allow-list is the context's own: the settings it came from can go (or change) while it
 * lives, and it still lets in exactly whom it did. */
static void test_allow_list_is_copied(void **state)
{
    struct pki *p = *state;
    char entry[32] = "CN=db-1";
    const char *allow[] = {entry};
    struct tlsctx_settings s = {.cert = at(p, "server.pem"),
                                .key = at(p, "server.key"),
                                .ca = at(p, "ca.pem"),
                                .allow = allow,
                                .n_allow = 1};
    char why[TLSCTX_WHY_MAX];
    SSL_CTX *server = tlsctx_server_new(&s, now_s(), why, sizeof(why));
    assert_non_null(server);
    snprintf(entry, sizeof(entry), "%s", "CN=nobody"); /* the caller's copy changes */
    allow[0] = NULL;
    struct tlsctx_settings c = {
        .cert = at(p, "client.pem"), .key = at(p, "client.key"), .ca = at(p, "ca.pem")};
    SSL_CTX *client = tlsctx_client_new(&c, why, sizeof(why));
    assert_non_null(client);
    struct tlssess a, b;
    assert_int_equal(tlssess_init(&a, server, true, NULL), 0);
    assert_int_equal(tlssess_init(&b, client, false, "localhost"), 0);
    SSL_CTX_free(server); /* the session holds its context */
    SSL_CTX_free(client);
    int ra = 0, rb = 0;
    for (int round = 0; round < 8 && (ra == 0 || rb == 0); round++) {
        rb = tlssess_handshake(&b);
        shuttle(&b, &a);
        ra = tlssess_handshake(&a);
        shuttle(&a, &b);
    }
    if (ra != 1) {
        fail_msg("db-1 refused: %s", a.why);
    }
    tlssess_fini(&a);
    tlssess_fini(&b);
}

static void test_failure_names(void **state)
{
    (void)state;
    const char *want[] = {"ok",       "no_cert",    "untrusted", "expired", "not_allowed",
                          "protocol", "peer_alert", "closed",    "timeout"};
    assert_int_equal(sizeof(want) / sizeof(want[0]), TLSSESS_FAILURES);
    for (int f = 0; f < TLSSESS_FAILURES; f++) {
        assert_string_equal(tlssess_failure_name((enum tlssess_failure)f), want[f]);
    }
    assert_string_equal(tlssess_failure_name(TLSSESS_FAILURES), "?");
}

/* The probe agrees with the kernel's list of upper-layer protocols where that list names tls
 * (the module may also load on demand, so the other way round is not a contradiction). */
static void test_ktls_probe(void **state)
{
    (void)state;
    char why[128] = "";
    bool available = ktls_probe(why, sizeof(why));
    assert_true(why[0] != '\0');
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");
    char ulps[256] = "";
    if (f != NULL) {
        if (fgets(ulps, sizeof(ulps), f) == NULL) {
            ulps[0] = '\0';
        }
        fclose(f);
    }
    if (strstr(ulps, "tls") != NULL) {
        assert_true(available);
    }
    print_message("# kernel TLS: %s (%s); ULPs listed: %s", available ? "available" : "unavailable",
                  why, ulps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_context_errors),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_mutual_tls),
        cmocka_unit_test(test_key_update_flood),
        cmocka_unit_test(test_key_update_flood_in_one_read),
        cmocka_unit_test(test_key_updates_with_data_between),
        cmocka_unit_test(test_large_feed),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_allow_list_lets_in),
        cmocka_unit_test(test_allow_list_is_copied),
        cmocka_unit_test(test_client_checks_server),
        cmocka_unit_test(test_not_tls),
        cmocka_unit_test(test_entries),
        cmocka_unit_test(test_identities),
        cmocka_unit_test(test_failure_names),
        cmocka_unit_test(test_ktls_probe),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

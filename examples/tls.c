/*
 * Mutual TLS with liboracle-client: a shared client (any number of threads may use it) that
 * checks oracled's certificate against a CA and shows its own, then takes a commit timestamp.
 *
 *     example-tls SERVER CA_FILE CERT_FILE KEY_FILE [SERVER_NAME]
 *
 * against an oracled started with --tls-cert, --tls-key and --tls-ca. SERVER_NAME is the name
 * oracled's certificate must carry when it is not SERVER's host (a load balancer's name, say).
 * Exit 0 when the timestamp came back commit-waited, 2 on an error (said on stderr: a refused
 * certificate is named as such).
 */
#include "common.h"

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: example-tls SERVER CA_FILE CERT_FILE KEY_FILE [SERVER_NAME]\n");
        return 2;
    }
    struct oracle_client_options o;
    oracle_client_options_init(&o);
    o.servers = argv[1];
    o.tls_ca = argv[2];   /* TLS on: the server's certificate must be signed by these */
    o.tls_cert = argv[3]; /* mutual TLS: the client's own certificate ... */
    o.tls_key = argv[4];  /* ... and its key */
    o.tls_server_name = argc == 6 ? argv[5] : NULL;
    struct oracle_error err;
    oracle_client *c = oracle_shared_new(&o, &err); /* the files are read here */
    if (c == NULL) {
        fprintf(stderr, "%s\n", err.message);
        return 2;
    }
    uint64_t ts;
    int status = 0;
    if (oracle_commit_timestamp(c, &ts, &err) < 0) { /* connects and shakes hands first */
        status = example_fail("commit timestamp over TLS", &err);
    } else {
        printf("commit timestamp  %" PRIu64 " over mutual TLS with %s: certainly in the past\n", ts,
               oracle_client_peer(c));
    }
    oracle_client_free(c);
    return status;
}

/*
 * The client's settings, from struct oracle_client_options checked once: the blocking client,
 * the engine behind the shared and asynchronous clients, and the errors they all report.
 */
#ifndef ORACLE_CLIENT_CONFIG_H
#define ORACLE_CLIENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oracle/client.h"
#include "servers.h"

#define CLIENT_PATH_MAX 256 /* a TLS file's path, with its NUL */

struct client_config {
    struct server_addr servers[SERVERS_MAX];
    size_t n_servers;
    uint32_t connect_timeout_ms;
    uint32_t request_timeout_ms;
    uint64_t max_wait_ns; /* sent for commit-waits that leave it 0 (0: the server's) */
    size_t max_in_flight;
    bool session_min;
    uint64_t max_batch_delay_ns;
    /* TLS: on when tls_ca[0] (copies of the options' paths; "" when not given). */
    char tls_ca[CLIENT_PATH_MAX];
    char tls_cert[CLIENT_PATH_MAX];
    char tls_key[CLIENT_PATH_MAX];
    char tls_server_name[SERVERS_HOST_MAX];
};

/* Checks o (NULL: the defaults) into *out. Returns 0, or ORACLE_E_INVALID with err filled. */
int client_config_from(const struct oracle_client_options *o, struct client_config *out,
                       struct oracle_error *err);

/* Fills *err (when not NULL) with rc, retriable and the formatted message. Returns rc. */
int client_error(struct oracle_error *err, int rc, bool retriable, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ORACLE_E_CONNECT: no server of the list accepted; why says what happened at each attempt
 * ("127.0.0.1:7600: connection refused; ..."). Returns the code. */
int client_connect_error(struct oracle_error *err, const char *why);

/* *r as a call of op ends when it failed with err: rc and error from err, nothing else. */
void client_failed_response(struct oracle_response *r, enum oracle_op op,
                            const struct oracle_error *err);

/* Zeroes *err when not NULL. */
void client_error_clear(struct oracle_error *err);

#endif

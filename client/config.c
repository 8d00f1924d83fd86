/* Checking the client's options (see config.h). Pure. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define API __attribute__((visibility("default")))

#define DEFAULT_SERVERS            "127.0.0.1:7600"
#define DEFAULT_CONNECT_TIMEOUT_MS 1000
#define DEFAULT_REQUEST_TIMEOUT_MS 2000
#define DEFAULT_MAX_WAIT_MS        1000
#define DEFAULT_MAX_IN_FLIGHT      4096
#define MAX_IN_FLIGHT_LIMIT        (1u << 20)
#define MAX_BATCH_DELAY_US_LIMIT   1000000

int client_error(struct oracle_error *err, int rc, bool retriable, const char *fmt, ...)
{
    if (err != NULL) {
        memset(err, 0, sizeof(*err));
        err->rc = rc;
        err->retriable = retriable;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return rc;
}

int client_connect_error(struct oracle_error *err, const char *why)
{
    return client_error(err, ORACLE_E_CONNECT, true,
                        "cannot connect to oracled (%s): is oracled running and listening on "
                        "that address?",
                        why);
}

void client_failed_response(struct oracle_response *r, enum oracle_op op,
                            const struct oracle_error *err)
{
    memset(r, 0, sizeof(*r));
    r->op = op;
    r->rc = err->rc;
    r->error = *err;
}

void client_error_clear(struct oracle_error *err)
{
    if (err != NULL) {
        memset(err, 0, sizeof(*err));
    }
}

API void oracle_client_options_init(struct oracle_client_options *o)
{
    memset(o, 0, sizeof(*o));
    o->servers = DEFAULT_SERVERS;
    o->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    o->request_timeout_ms = DEFAULT_REQUEST_TIMEOUT_MS;
    o->max_wait_ms = DEFAULT_MAX_WAIT_MS;
    o->max_in_flight = DEFAULT_MAX_IN_FLIGHT;
    o->session_min = true;
}

/* Copies a TLS option (NULL: "") into dst; false when it does not fit. */
static bool copy_option(char *dst, size_t cap, const char *value)
{
    if (value == NULL) {
        dst[0] = '\0';
        return true;
    }
    size_t len = strlen(value);
    if (len >= cap) {
        return false;
    }
    memcpy(dst, value, len + 1);
    return true;
}

static int tls_from(const struct oracle_client_options *o, struct client_config *out,
                    struct oracle_error *err)
{
    const struct {
        const char *name;
        const char *value;
        char *dst;
        size_t cap;
    } opts[] = {
        {"tls_ca", o->tls_ca, out->tls_ca, sizeof(out->tls_ca)},
        {"tls_cert", o->tls_cert, out->tls_cert, sizeof(out->tls_cert)},
        {"tls_key", o->tls_key, out->tls_key, sizeof(out->tls_key)},
        {"tls_server_name", o->tls_server_name, out->tls_server_name, sizeof(out->tls_server_name)},
    };
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        if (opts[i].value != NULL && opts[i].value[0] == '\0') {
            return client_error(err, ORACLE_E_INVALID, false, "%s is empty: leave it NULL",
                                opts[i].name);
        }
        if (!copy_option(opts[i].dst, opts[i].cap, opts[i].value)) {
            return client_error(err, ORACLE_E_INVALID, false, "%s is longer than %zu bytes",
                                opts[i].name, opts[i].cap - 1);
        }
    }
    if ((out->tls_cert[0] != '\0') != (out->tls_key[0] != '\0')) {
        return client_error(err, ORACLE_E_INVALID, false,
                            "tls_cert and tls_key go together: the certificate and its key");
    }
    if (out->tls_ca[0] == '\0' && (out->tls_cert[0] != '\0' || out->tls_server_name[0] != '\0')) {
        return client_error(err, ORACLE_E_INVALID, false,
                            "%s needs tls_ca, which turns TLS on (\"system\": the system's CA "
                            "certificates)",
                            out->tls_cert[0] != '\0' ? "tls_cert" : "tls_server_name");
    }
    return 0;
}

int client_config_from(const struct oracle_client_options *o, struct client_config *out,
                       struct oracle_error *err)
{
    struct oracle_client_options def;
    if (o == NULL) {
        oracle_client_options_init(&def);
        o = &def;
    }
    memset(out, 0, sizeof(*out));
    if (o->connect_timeout_ms == 0 || o->request_timeout_ms == 0) {
        return client_error(err, ORACLE_E_INVALID, false, "timeouts must be at least 1 ms");
    }
    if (o->max_in_flight == 0 || o->max_in_flight > MAX_IN_FLIGHT_LIMIT) {
        return client_error(err, ORACLE_E_INVALID, false, "max_in_flight must be 1 .. %u",
                            MAX_IN_FLIGHT_LIMIT);
    }
    if (o->max_batch_delay_us > MAX_BATCH_DELAY_US_LIMIT) {
        return client_error(err, ORACLE_E_INVALID, false,
                            "max_batch_delay_us must be 0 .. %u (a batch waits that long at most)",
                            MAX_BATCH_DELAY_US_LIMIT);
    }
    size_t bad;
    const char *why;
    if (servers_parse(o->servers, ORACLE_CLIENT_DEFAULT_PORT, out->servers, SERVERS_MAX,
                      &out->n_servers, &bad, &why) < 0) {
        return client_error(err, ORACLE_E_INVALID, false,
                            "invalid server list '%s': entry %zu: %s (expected HOST:PORT or "
                            "[IPV6]:PORT, separated by commas)",
                            o->servers != NULL ? o->servers : "", bad + 1, why);
    }
    out->connect_timeout_ms = o->connect_timeout_ms;
    out->request_timeout_ms = o->request_timeout_ms;
    out->max_wait_ns = (uint64_t)o->max_wait_ms * 1000000;
    out->max_in_flight = o->max_in_flight;
    out->session_min = o->session_min;
    out->max_batch_delay_ns = (uint64_t)o->max_batch_delay_us * 1000;
    return tls_from(o, out, err);
}

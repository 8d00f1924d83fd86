/*
 * The daemon: one libuv loop with the TCP listeners, the HTTP endpoint, the chrony poller, the
 * commit-wait queue and its wake timer, and the reservation of timestamps on disk. A struct
 * server is owned by main() and passed down; nothing is global.
 *
 * Life cycle: starting (NOT_READY until the clock is trusted, earliest has passed the
 * high-water mark found on disk and a new one is durable), serving, draining (SIGTERM:
 * /healthz 503 at once, still serving for the drain delay), closing (no new connections or
 * requests; pending waits finish within the max wait or fail), stopped.
 */
#ifndef ORACLE_SERVER_H
#define ORACLE_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "chrony_client.h"
#include "clockbound.h"
#include "httpd.h"
#include "metrics.h"
#include "tlsctx.h"

#define SERVER_MAX_LISTEN               8
#define SERVER_DEFAULT_LISTEN           "0.0.0.0:7600"
#define SERVER_DEFAULT_HTTP_LISTEN      "0.0.0.0:7601"
#define SERVER_DEFAULT_STATE_DIR        "/var/lib/oracled"
#define SERVER_DEFAULT_MAX_WAIT         100000000 /* 100 ms */
#define SERVER_DEFAULT_RUN_AHEAD        1000000   /* 1 ms */
#define SERVER_DEFAULT_MAX_CONNECTIONS  16384
#define SERVER_DEFAULT_MAX_PENDING      262144                /* commit-waits pending in all */
#define SERVER_DEFAULT_MAX_PENDING_CONN 4096                  /* ... on one connection */
#define SERVER_DEFAULT_MAX_OUTPUT       (2 * 1024 * 1024)     /* unread replies before a cut-off */
#define SERVER_DEFAULT_IDLE_TIMEOUT     INT64_C(600000000000) /* 10 min */
#define SERVER_DEFAULT_WRITE_TIMEOUT    INT64_C(10000000000)  /* 10 s without progress */
#define SERVER_DEFAULT_KEEPALIVE_S      60 /* well below the AWS NLB's 350 s idle timeout */
#define SERVER_STATS_INTERVAL_MS        10000
#define SERVER_SWEEP_INTERVAL_MS        1000
#define SERVER_SHUTDOWN_WRITE_MS        1000 /* how long final replies may take to go out */
#define SERVER_DEFAULT_TLS_HANDSHAKE    INT64_C(10000000000) /* 10 s to finish a TLS handshake */

struct server_config {
    const char *listen[SERVER_MAX_LISTEN]; /* "HOST:PORT" or "[V6]:PORT" */
    int n_listen;
    const char *tls_listen[SERVER_MAX_LISTEN]; /* TLS beside plaintext --listen (a migration) */
    int n_tls_listen;
    const char *http_listen[HTTPD_MAX_LISTEN];
    int n_http_listen;
    /* TLS: on when tls.cert is set (then every --listen speaks it, or only --tls-listen). */
    struct tlsctx_settings tls;
    const char *tls_allow[TLSCTX_ALLOW_MAX];
    int64_t tls_handshake_timeout_ns;
    bool http_tls; /* the HTTP endpoint takes TLS too (plain /healthz still answered) */
    struct chrony_addr chrony;
    char chrony_text[CHRONY_PATH_MAX + 16];
    int64_t poll_interval_ns;
    struct cb_params clock;
    int64_t max_wait_ns;
    int64_t max_run_ahead_ns;
    const char *state_dir; /* NULL: no state file (in-process tests only) */
    int64_t state_window_ns;
    size_t max_connections;
    size_t max_connections_per_peer; /* 0: no cap */
    size_t http_max_connections;
    size_t max_pending;
    size_t max_pending_per_conn;
    size_t max_output_bytes;
    int64_t idle_timeout_ns;  /* 0: none */
    int64_t write_timeout_ns; /* 0: none */
    unsigned keepalive_s;     /* 0: off */
    int64_t drain_delay_ns;
    const char *clockbound_socket; /* NULL: off */
    unsigned clockbound_socket_mode;
    const char *clockbound_shm; /* NULL: off */
    /* The PHC's own error bound (clockbound/phc.h): the ENA interface whose PCI device publishes
     * it, or the file itself; at most one, both NULL: off. Added while chrony's reference ID is
     * phc_ref_id. */
    const char *phc_interface;
    const char *phc_error_bound_file;
    uint32_t phc_ref_id;
    /* The VMClock page: NULL for /dev/vmclock0 when it exists, "none" for none (vmwatch.h). */
    const char *vmclock;
    const char *version;
};

/* The daemon; its insides are server.c's. */
struct server;

/* A zeroed server, or NULL when out of memory; server_free() takes it back. */
struct server *server_new(void);

/* Sets up everything (sockets bound and listening, state directory locked, handles
 * initialised). Returns 0, or a negative errno / UV_E* with a message already logged and what
 * was opened being closed (server_stop): run the loop dry, then server_free(). */
int server_init(struct server *s, uv_loop_t *loop, const struct server_config *cfg,
                struct cb_clock *clock);
/* Starts polling chrony and accepting connections. */
int server_start(struct server *s);
/* SIGHUP: rereads the TLS certificate, key and CA (new handshakes use them; a file refused
 * keeps the ones in use, logged and counted). Nothing else is reread. */
void server_reload(struct server *s);
/* SIGTERM: drain (see above), then stop. A second call stops at once. */
void server_drain(struct server *s);
/* Closes every handle and connection now; uv_run() then returns. Safe at any point after
 * server_init, and more than once. */
void server_stop(struct server *s);
/* Frees what is left once the loop has stopped, and s itself. NULL is allowed. */
void server_free(struct server *s);

/* True once started up and not yet draining: what /healthz reports (with the clock). */
bool server_ready(const struct server *s);

/* Reads the clock now, as every request and release does (VMClock disruptions noticed, the
 * ClockBound faces told). */
void server_now(struct server *s, struct cb_now *now);

/* What /metrics and /healthz show, at a fresh clock reading; it points into s. */
void server_snapshot(struct server *s, struct metrics_snapshot *out);

/* The address the i-th oracle listener is bound to (a port 0 made real): the --listen ones,
 * then the --tls-listen ones. Returns 0 or UV_E*. */
int server_listener_address(const struct server *s, int i, struct sockaddr_storage *out);

#endif

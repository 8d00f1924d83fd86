/* oracled's command line and configuration file (see config.h). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "chrony_client.h"
#include "clockbound.h"
#include "compat/cbshm.h"
#include "compat/cbsock.h"
#include "httpd.h"
#include "netaddr.h"
#include "phc.h"
#include "poller.h"
#include "statefile.h"
#include "strbuf.h"
#include "tlsid.h"
#include "util.h"
#include "vmclock.h"

#ifndef ORACLE_VERSION
#define ORACLE_VERSION "unknown"
#endif

#define CONFIG_FILE_MAX (64 * 1024)

/* Numeric defaults and limits in the help and error texts, from the same macros. */
#define STR_(x) #x
#define STR(x)  STR_(x)

/* The longest paths the modules that open them take (their buffers, less the NUL). */
#define STATE_DIR_MAX 255
#define CB_SOCKET_MAX 107 /* sun_path */
#define PATH_MAX_LEN  255
_Static_assert(STATE_DIR_MAX < sizeof(((struct statefile *)0)->dir), "--state-dir limit");
_Static_assert(CB_SOCKET_MAX < sizeof(((struct cbsock *)0)->path), "--clockbound-socket limit");
_Static_assert(PATH_MAX_LEN < sizeof(((struct cbshm *)0)->path), "--clockbound-shm limit");
_Static_assert(PATH_MAX_LEN < CB_PHC_PATH_MAX, "--phc-error-bound-file limit");
_Static_assert(PATH_MAX_LEN < CB_VMCLOCK_PATH_MAX, "--vmclock limit");

#define ADDRESS_EXPECT "HOST:PORT or [IPV6]:PORT, with a numeric address and a port from 0 to 65535"

static int add_address(const char *value, const char **list, int *n, int max, struct opts_why *why)
{
    struct sockaddr_storage ss;
    if (netaddr_parse(value, &ss) < 0) {
        snprintf(why->text, sizeof(why->text), ADDRESS_EXPECT);
        return -EINVAL;
    }
    if (*n == max) {
        snprintf(why->text, sizeof(why->text), "at most %d addresses", max);
        return -EINVAL;
    }
    list[(*n)++] = value;
    return 0;
}

/* --listen: a list; the command line's first replaces the file's. */
static int set_listen(void *target, const struct opts_entry *e, const char *value,
                      const struct opts_where *w, struct opts_why *why)
{
    (void)e;
    struct server_config *sc = &((struct config *)target)->server;
    if (w->file == NULL && w->nth == 0) {
        sc->n_listen = 0;
    }
    return add_address(value, sc->listen, &sc->n_listen, SERVER_MAX_LISTEN, why);
}

/* --tls-listen: the same. */
static int set_tls_listen(void *target, const struct opts_entry *e, const char *value,
                          const struct opts_where *w, struct opts_why *why)
{
    (void)e;
    struct server_config *sc = &((struct config *)target)->server;
    if (w->file == NULL && w->nth == 0) {
        sc->n_tls_listen = 0;
    }
    return add_address(value, sc->tls_listen, &sc->n_tls_listen, SERVER_MAX_LISTEN, why);
}

/* --tls-allow-client: a list too. */
static int set_tls_allow(void *target, const struct opts_entry *e, const char *value,
                         const struct opts_where *w, struct opts_why *why)
{
    (void)e;
    struct server_config *sc = &((struct config *)target)->server;
    if (w->file == NULL && w->nth == 0) {
        sc->tls.n_allow = 0;
    }
    if (!tlsid_entry_ok(value)) {
        snprintf(why->text, sizeof(why->text),
                 "CN=NAME, DNS:NAME, URI:URI, IP:ADDRESS, email:ADDRESS or a bare NAME, of 1 to "
                 "%d bytes",
                 TLSID_MAX_LEN);
        return -EINVAL;
    }
    if (sc->tls.n_allow == TLSCTX_ALLOW_MAX) {
        snprintf(why->text, sizeof(why->text), "at most %d identities", TLSCTX_ALLOW_MAX);
        return -EINVAL;
    }
    sc->tls_allow[sc->tls.n_allow++] = value;
    return 0;
}

static int set_tls_version(void *target, const struct opts_entry *e, const char *value,
                           const struct opts_where *w, struct opts_why *why)
{
    (void)e;
    (void)w;
    if (tlsctx_parse_version(value, &((struct config *)target)->server.tls.min_version) < 0) {
        snprintf(why->text, sizeof(why->text), "1.2 or 1.3");
        return -EINVAL;
    }
    return 0;
}

/* --http-listen: the same, and "none" (n_http_listen -1 until config_parse is done). */
static int set_http_listen(void *target, const struct opts_entry *e, const char *value,
                           const struct opts_where *w, struct opts_why *why)
{
    (void)e;
    struct server_config *sc = &((struct config *)target)->server;
    if ((w->file == NULL && w->nth == 0) || sc->n_http_listen < 0) {
        sc->n_http_listen = 0;
    }
    if (strcmp(value, "none") == 0) {
        sc->n_http_listen = -1;
        return 0;
    }
    return add_address(value, sc->http_listen, &sc->n_http_listen, HTTPD_MAX_LISTEN, why);
}

static int set_chrony(void *target, const struct opts_entry *e, const char *value,
                      const struct opts_where *w, struct opts_why *why)
{
    (void)e;
    (void)w;
    struct server_config *sc = &((struct config *)target)->server;
    why->sentence = true;
    return chrony_addr_setting(value, &sc->chrony, sc->chrony_text, sizeof(sc->chrony_text),
                               why->text, sizeof(why->text));
}

static int set_phc_interface(void *target, const struct opts_entry *e, const char *value,
                             const struct opts_where *w, struct opts_why *why)
{
    (void)e;
    (void)w;
    if (!cb_phc_interface_name_ok(value)) {
        snprintf(why->text, sizeof(why->text),
                 "a network interface name: 1 to %d bytes, no '/', not '.' or '..'",
                 CB_PHC_IFACE_MAX);
        return -EINVAL;
    }
    ((struct config *)target)->server.phc_interface = value;
    return 0;
}

static int set_phc_refid(void *target, const struct opts_entry *e, const char *value,
                         const struct opts_where *w, struct opts_why *why)
{
    (void)e;
    (void)w;
    if (cb_refid_parse(value, &((struct config *)target)->server.phc_ref_id) < 0) {
        snprintf(why->text, sizeof(why->text), "%s", CB_REFID_EXPECT);
        return -EINVAL;
    }
    return 0;
}

static int set_socket_mode(void *target, const struct opts_entry *e, const char *value,
                           const struct opts_where *w, struct opts_why *why)
{
    (void)e;
    (void)w;
    char *end = NULL;
    errno = 0;
    unsigned long mode = strtoul(value, &end, 8);
    if (value[0] < '0' || value[0] > '7' || *end != '\0' || errno != 0 || mode > 0777) {
        snprintf(why->text, sizeof(why->text),
                 "an octal permission mode from 0 to 0777, such as 0666");
        return -EINVAL;
    }
    ((struct config *)target)->server.clockbound_socket_mode = (unsigned)mode;
    return 0;
}

static int set_log_level(void *target, const struct opts_entry *e, const char *value,
                         const struct opts_where *w, struct opts_why *why)
{
    (void)e;
    (void)w;
    if (log_parse_level(value, &((struct config *)target)->log_level) < 0) {
        snprintf(why->text, sizeof(why->text), "err, warn, info or debug");
        return -EINVAL;
    }
    return 0;
}

/* --config: read before the command line is applied (config_parse). Once only: which of two
 * files was meant cannot be guessed (the unit passes the shipped one, and $ORACLED_OPTS could
 * add another), and reading one of them silently would drop the other's settings. */
static int set_config(void *target, const struct opts_entry *e, const char *value,
                      const struct opts_where *w, struct opts_why *why)
{
    (void)target;
    (void)e;
    (void)value;
    if (w->nth > 0) {
        why->sentence = true;
        snprintf(why->text, sizeof(why->text),
                 "--config given twice: give one configuration file (options on the command "
                 "line override its keys)");
        return -EINVAL;
    }
    return 0;
}

#define C OPTS_CONF

static const struct opts_entry entries[] = {
    {.kind = OPTS_SECTION, .name = "Network:"},
    {.kind = OPTS_CALL,
     .name = "listen",
     .metavar = "HOST:PORT",
     .flags = C,
     .set = set_listen,
     .help =
         "the oracle protocol; repeat for more ([::]:7600 for IPv6) (default " SERVER_DEFAULT_LISTEN
         ")"},
    {.kind = OPTS_CALL,
     .name = "http-listen",
     .metavar = "HOST:PORT",
     .flags = C,
     .set = set_http_listen,
     .help = "/healthz and /metrics; repeat for more, 'none' for none "
             "(default " SERVER_DEFAULT_HTTP_LISTEN ")"},
    {.kind = OPTS_SECTION, .name = "TLS (off unless --tls-cert is given):"},
    {.kind = OPTS_STRING,
     .name = "tls-cert",
     .metavar = "FILE",
     .flags = C,
     OPTS_AT(struct config, server.tls.cert),
     .min = 1,
     .max = PATH_MAX_LEN,
     .expect = "a path of 1 to " STR(PATH_MAX_LEN) " bytes",
     .help = "PEM certificate (then its chain) for the oracle protocol: with it every --listen "
             "speaks TLS, or only --tls-listen does; reread on SIGHUP"},
    {.kind = OPTS_STRING,
     .name = "tls-key",
     .metavar = "FILE",
     .flags = C,
     OPTS_AT(struct config, server.tls.key),
     .min = 1,
     .max = PATH_MAX_LEN,
     .expect = "a path of 1 to " STR(PATH_MAX_LEN) " bytes",
     .help = "its PEM private key"},
    {.kind = OPTS_STRING,
     .name = "tls-ca",
     .metavar = "FILE",
     .flags = C,
     OPTS_AT(struct config, server.tls.ca),
     .min = 1,
     .max = PATH_MAX_LEN,
     .expect = "a path of 1 to " STR(PATH_MAX_LEN) " bytes",
     .help = "mutual TLS: clients must show a certificate these PEM CA certificates signed "
             "(default: none asked for)"},
    {.kind = OPTS_CALL,
     .name = "tls-allow-client",
     .metavar = "ID",
     .flags = C,
     .set = set_tls_allow,
     .help = "... and one naming ID: CN=NAME, DNS:NAME, URI:URI, IP:ADDRESS, email:ADDRESS, or "
             "NAME (common name or DNS name); repeat for more (default: any the CA signed)"},
    {.kind = OPTS_CALL,
     .name = "tls-listen",
     .metavar = "HOST:PORT",
     .flags = C,
     .set = set_tls_listen,
     .help = "TLS on this address while --listen stays plaintext, to move clients over; repeat "
             "for more"},
    {.kind = OPTS_CALL,
     .name = "tls-min-version",
     .metavar = "VERSION",
     .flags = C,
     .set = set_tls_version,
     .help = "1.3, or 1.2 for clients that lack 1.3 (default 1.3)"},
    {.kind = OPTS_DURATION,
     .name = "tls-handshake-timeout",
     .metavar = "DURATION",
     .flags = C,
     OPTS_AT(struct config, server.tls_handshake_timeout_ns),
     .min = 1000000,
     .max = 600000000000,
     .expect = "a duration from 1ms to 10m",
     .help = "a TLS handshake not done by then is closed"},
    {.kind = OPTS_FLAG,
     .name = "http-tls",
     .flags = C,
     OPTS_AT(struct config, server.http_tls),
     .help = "the HTTP endpoint takes TLS too, with the same certificate and CA; GET /healthz "
             "still answers in plain HTTP, for load balancers"},
    {.kind = OPTS_SECTION, .name = "Clock:"},
    {.kind = OPTS_CALL,
     .name = "chrony",
     .metavar = "ADDR",
     .flags = C,
     .set = set_chrony,
     .help =
         "chronyd's command socket: udp:HOST[:PORT] or unix:PATH (default " CHRONY_DEFAULT_ADDRESS
         ")"},
    {.kind = OPTS_DURATION,
     .name = "poll-interval",
     .metavar = "DURATION",
     .flags = C,
     OPTS_AT(struct config, server.poll_interval_ns),
     .min = 1000000,
     .max = 60000000000,
     .expect = "a duration from 1ms to 1m",
     .help = "how often chrony is asked"},
    {.kind = OPTS_INT,
     .name = "max-drift-ppb",
     .metavar = "N",
     .flags = C,
     OPTS_AT(struct config, server.clock.max_drift_ppb),
     .min = 1,
     .max = CB_MAX_RATE_PPB,
     .help = "fastest the clock may drift, ppb"},
    {.kind = OPTS_INT,
     .name = "chrony-maxclockerror-ppb",
     .metavar = "N",
     .flags = C,
     OPTS_AT(struct config, server.clock.chrony_maxclockerror_ppb),
     .min = 0,
     .max = CB_MAX_RATE_PPB,
     .help = "chrony's maxclockerror setting, ppb"},
    {.kind = OPTS_DURATION,
     .name = "max-bound",
     .metavar = "DURATION",
     .flags = C,
     OPTS_AT(struct config, server.clock.max_bound_ns),
     .min = 1000,
     .max = 3600000000000,
     .expect = "a duration from 1us to 1h",
     .help = "a wider bound makes the clock UNKNOWN"},
    {.kind = OPTS_DURATION,
     .name = "grace",
     .metavar = "DURATION",
     .flags = C,
     OPTS_AT(struct config, server.clock.grace_ns),
     .min = 0,
     .max = 3600000000000,
     .expect = "a duration up to 1h",
     .help = "failing chrony polls stay FREE_RUNNING this long"},
    {.kind = OPTS_CALL,
     .name = "phc-interface",
     .metavar = "IFACE",
     .flags = C,
     .set = set_phc_interface,
     .help = "chrony follows the ENA PTP hardware clock of this interface (ens5): add the PHC's "
             "own error bound, from /sys/bus/pci/devices/SLOT/phc_error_bound, while it is "
             "chrony's reference (default: none)"},
    {.kind = OPTS_STRING,
     .name = "phc-error-bound-file",
     .metavar = "PATH",
     .flags = C,
     OPTS_AT(struct config, server.phc_error_bound_file),
     .min = 1,
     .max = PATH_MAX_LEN,
     .expect = "a path of 1 to " STR(PATH_MAX_LEN) " bytes",
     .help = "... or read that bound (ns) from this file"},
    {.kind = OPTS_CALL,
     .name = "phc-refid",
     .metavar = "ID",
     .flags = C,
     .set = set_phc_refid,
     .help = "the PHC refclock's reference ID in chrony (default " CB_PHC_DEFAULT_REFID_TEXT ")"},
    {.kind = OPTS_STRING,
     .name = "vmclock",
     .metavar = "PATH",
     .flags = C,
     OPTS_AT(struct config, server.vmclock),
     .min = 1,
     .max = PATH_MAX_LEN,
     .expect = "a path (1 to " STR(PATH_MAX_LEN) " bytes), or 'none'",
     .help = "the hypervisor's VMClock page: a change of its disruption marker (live migration) "
             "makes the clock DISRUPTED; 'none' for none (default " CB_VMCLOCK_DEFAULT_PATH
             " when it exists)"},
    {.kind = OPTS_SECTION, .name = "Timestamps:"},
    {.kind = OPTS_DURATION,
     .name = "max-wait",
     .metavar = "DURATION",
     .flags = C,
     OPTS_AT(struct config, server.max_wait_ns),
     .min = 1000,
     .max = 60000000000,
     .expect = "a duration from 1us to 1m",
     .help = "the longest commit-wait held; more than twice --max-bound"},
    {.kind = OPTS_DURATION,
     .name = "max-run-ahead",
     .metavar = "DURATION",
     .flags = C,
     OPTS_AT(struct config, server.max_run_ahead_ns),
     .min = 1,
     .max = 1000000000,
     .expect = "a duration from 1ns to 1s",
     .help = "how far timestamps may run ahead of the clock's latest before requests get "
             "OVERLOADED"},
    {.kind = OPTS_STRING,
     .name = "state-dir",
     .metavar = "DIR",
     .flags = C,
     OPTS_AT(struct config, server.state_dir),
     .min = 1,
     .max = STATE_DIR_MAX,
     .expect = "a directory path of 1 to " STR(STATE_DIR_MAX) " bytes",
     .help = "where the high-water mark is kept across restarts"},
    {.kind = OPTS_DURATION,
     .name = "state-window",
     .metavar = "DURATION",
     .flags = C,
     OPTS_AT(struct config, server.state_window_ns),
     .min = 1000000,
     .max = 3600000000000,
     .expect = "a duration from 1ms to 1h",
     .help = "how far it is reserved ahead"},
    {.kind = OPTS_SECTION, .name = "Limits:"},
    {.kind = OPTS_INT,
     .name = "max-connections",
     .metavar = "N",
     .flags = C,
     OPTS_AT(struct config, server.max_connections),
     .min = 1,
     .max = 10000000,
     .help = "client connections at once; at the cap the one idle longest is closed to make "
             "room"},
    {.kind = OPTS_INT,
     .name = "max-connections-per-peer",
     .metavar = "N",
     .flags = C,
     OPTS_AT(struct config, server.max_connections_per_peer),
     .min = 0,
     .max = 10000000,
     .help = "... from one address, 0 for no cap (not behind a proxy, where clients share one "
             "address)"},
    {.kind = OPTS_INT,
     .name = "http-max-connections",
     .metavar = "N",
     .flags = C,
     OPTS_AT(struct config, server.http_max_connections),
     .min = 2,
     .max = 65536,
     .help = "HTTP connections at once; at the cap the one waiting longest for its request is "
             "closed"},
    {.kind = OPTS_INT,
     .name = "max-pending",
     .metavar = "N",
     .flags = C,
     OPTS_AT(struct config, server.max_pending),
     .min = 1,
     .max = 100000000,
     .help = "commit-waits pending in all"},
    {.kind = OPTS_INT,
     .name = "max-pending-per-connection",
     .metavar = "N",
     .flags = C,
     OPTS_AT(struct config, server.max_pending_per_conn),
     .min = 1,
     .max = 100000000,
     .help = "... on one connection"},
    {.kind = OPTS_SIZE,
     .name = "max-output",
     .metavar = "SIZE",
     .flags = C,
     OPTS_AT(struct config, server.max_output_bytes),
     .min = 4096,
     .max = INT64_C(1) << 32,
     .expect = "a size from 4K to 4G",
     .help = "unread replies before a client is cut off"},
    {.kind = OPTS_DURATION,
     .name = "idle-timeout",
     .metavar = "DURATION",
     .flags = C,
     OPTS_AT(struct config, server.idle_timeout_ns),
     .min = 0,
     .max = INT64_C(86400000000000),
     .expect = "a duration up to a day (0: never)",
     .help = "close connections idle this long, 0 never"},
    {.kind = OPTS_DURATION,
     .name = "write-timeout",
     .metavar = "DURATION",
     .flags = C,
     OPTS_AT(struct config, server.write_timeout_ns),
     .min = 0,
     .max = 3600000000000,
     .expect = "a duration up to 1h (0: never)",
     .help = "cut off clients not reading for this long"},
    {.kind = OPTS_DURATION,
     .name = "keepalive",
     .metavar = "DURATION",
     .flags = C,
     OPTS_AT(struct config, keepalive_ns),
     .min = 0,
     .max = 3600000000000,
     .expect = "a duration up to 1h (0: off)",
     .help = "TCP keepalive idle time, 0 off"},
    {.kind = OPTS_SECTION, .name = "ClockBound compatibility (both off by default):"},
    {.kind = OPTS_STRING,
     .name = "clockbound-socket",
     .metavar = "PATH",
     .flags = C,
     OPTS_AT(struct config, server.clockbound_socket),
     .min = 1,
     .max = CB_SOCKET_MAX,
     .expect = "a socket path of 1 to " STR(CB_SOCKET_MAX) " bytes",
     .help = "serve the ClockBound v1 protocol on this unix datagram socket (ClockBound's: "
             "/run/clockboundd/clockboundd.sock)"},
    {.kind = OPTS_CALL,
     .name = "clockbound-socket-mode",
     .metavar = "MODE",
     .flags = C,
     .set = set_socket_mode,
     .help = "its permissions, octal (default " STR(CBSOCK_DEFAULT_MODE) ")"},
    {.kind = OPTS_STRING,
     .name = "clockbound-shm",
     .metavar = "PATH",
     .flags = C,
     OPTS_AT(struct config, server.clockbound_shm),
     .min = 1,
     .max = PATH_MAX_LEN,
     .expect = "a path of 1 to " STR(PATH_MAX_LEN) " bytes",
     .help = "publish the bound as ClockBound's shared-memory segment, format 2 (ClockBound's: "
             "/run/clockbound/shm0)"},
    {.kind = OPTS_SECTION, .name = "Operation:"},
    {.kind = OPTS_DURATION,
     .name = "drain-delay",
     .metavar = "DURATION",
     .flags = C,
     OPTS_AT(struct config, server.drain_delay_ns),
     .min = 0,
     .max = 3600000000000,
     .expect = "a duration up to 1h",
     .help = "after SIGTERM, keep serving this long with /healthz 503; set it above the load "
             "balancer's health check window"},
    {.kind = OPTS_CALL,
     .name = "config",
     .metavar = "FILE",
     .set = set_config,
     .help = "read 'key = value' lines: the long options above without '--'; command-line "
             "options win; one file"},
    {.kind = OPTS_CALL,
     .name = "log-level",
     .metavar = "LEVEL",
     .flags = C,
     .set = set_log_level,
     .help = "err, warn, info or debug (default info)"},
    {.kind = OPTS_HELP, .name = "help", .short_name = 'h', .help = "this help"},
    {.kind = OPTS_VERSION, .name = "version", .help = "print the version"},
};

#undef C

static const struct opts_program program = {
    .name = "oracled",
    .usage = "Usage: oracled [OPTIONS]\n"
             "\n"
             "A commit-wait timestamp oracle: strictly increasing timestamps over TCP, with an\n"
             "error bound from chrony and, on request, replies held until the timestamp is\n"
             "certainly in the past. Protocol: proto/oracle.proto (varint-delimited protobuf).\n"
             "\n",
    .footer = "\n"
              "Durations take a unit: ns, us, ms, s or m. Sizes: bytes, or K, M, G (binary).\n"
              "SIGTERM or SIGINT drains and stops the server; a second one stops it at once.\n"
              "SIGHUP rereads the TLS certificate, key and CA (nothing else).\n",
    .entries = entries,
    .n_entries = ARRAY_SIZE(entries),
    .style = OPTS_STYLE_VALUE_FOR,
};

static void set_defaults(struct config *c)
{
    memset(c, 0, sizeof(*c));
    struct server_config *sc = &c->server;
    sc->poll_interval_ns = POLLER_DEFAULT_INTERVAL_NS;
    cb_params_default(&sc->clock);
    sc->max_wait_ns = SERVER_DEFAULT_MAX_WAIT;
    sc->max_run_ahead_ns = SERVER_DEFAULT_RUN_AHEAD;
    sc->state_dir = SERVER_DEFAULT_STATE_DIR;
    sc->clockbound_socket_mode = CBSOCK_DEFAULT_MODE;
    sc->phc_ref_id = CB_PHC_DEFAULT_REFID;
    sc->state_window_ns = STATEFILE_DEFAULT_WINDOW_NS;
    sc->max_connections = SERVER_DEFAULT_MAX_CONNECTIONS;
    sc->http_max_connections = HTTPD_DEFAULT_MAX_CONNS;
    sc->max_pending = SERVER_DEFAULT_MAX_PENDING;
    sc->max_pending_per_conn = SERVER_DEFAULT_MAX_PENDING_CONN;
    sc->max_output_bytes = SERVER_DEFAULT_MAX_OUTPUT;
    sc->idle_timeout_ns = SERVER_DEFAULT_IDLE_TIMEOUT;
    sc->write_timeout_ns = SERVER_DEFAULT_WRITE_TIMEOUT;
    sc->tls_handshake_timeout_ns = SERVER_DEFAULT_TLS_HANDSHAKE;
    sc->tls.min_version = TLS1_3_VERSION;
    sc->tls.allow = sc->tls_allow;
    c->keepalive_ns = (int64_t)SERVER_DEFAULT_KEEPALIVE_S * 1000000000;
    sc->version = ORACLE_VERSION;
    /* The default address is valid; parsed like a given one so sc->chrony is always set. */
    (void)chrony_addr_parse(CHRONY_DEFAULT_ADDRESS, &sc->chrony, NULL);
    chrony_addr_format(&sc->chrony, sc->chrony_text, sizeof(sc->chrony_text));
    c->log_level = LOG_LEVEL_INFO;
}

static int read_file(struct config *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "oracled: cannot read the configuration file %s: %s\n", path,
                strerror(errno));
        return -EINVAL;
    }
    char *text = malloc(CONFIG_FILE_MAX + 1);
    size_t len = text != NULL ? fread(text, 1, CONFIG_FILE_MAX + 1, f) : 0;
    int rc = ferror(f) ? -EIO : 0;
    fclose(f);
    if (text == NULL || rc < 0 || len > CONFIG_FILE_MAX) {
        fprintf(stderr, "oracled: cannot read the configuration file %s%s\n", path,
                len > CONFIG_FILE_MAX ? ": larger than 64 KiB" : "");
        free(text);
        return -EINVAL;
    }
    rc = opts_apply_file(&c->opts, path, text, len);
    free(text);
    if (rc < 0) {
        fprintf(stderr, "%s\n", c->opts.error);
        return -EINVAL;
    }
    return 0;
}

static unsigned port_of(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET6 ? ntohs(((const struct sockaddr_in6 *)ss)->sin6_port)
                                     : ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/* Two listeners on one address cannot both bind it: caught here rather than after the state
 * directory was locked. Port 0 (any free port) may repeat. */
/* Whether two parsed addresses are one: family, address, port and (IPv6) the interface. */
static bool same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family) {
        return false;
    }
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)a;
        const struct sockaddr_in *y = (const struct sockaddr_in *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
    const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
    return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

static int check_addresses(const struct server_config *sc)
{
    const char *text[2 * SERVER_MAX_LISTEN + HTTPD_MAX_LISTEN];
    const char *opt[2 * SERVER_MAX_LISTEN + HTTPD_MAX_LISTEN];
    int n = 0;
    for (int i = 0; i < sc->n_listen; i++, n++) {
        text[n] = sc->listen[i];
        opt[n] = "--listen";
    }
    for (int i = 0; i < sc->n_tls_listen; i++, n++) {
        text[n] = sc->tls_listen[i];
        opt[n] = "--tls-listen";
    }
    for (int i = 0; i < sc->n_http_listen; i++, n++) {
        text[n] = sc->http_listen[i];
        opt[n] = "--http-listen";
    }
    struct sockaddr_storage ss[2 * SERVER_MAX_LISTEN + HTTPD_MAX_LISTEN];
    for (int i = 0; i < n; i++) {
        (void)netaddr_parse(text[i], &ss[i]); /* checked when given; the defaults are valid */
        for (int j = 0; j < i && port_of(&ss[i]) != 0; j++) {
            if (same_address(&ss[i], &ss[j])) {
                fprintf(stderr,
                        "oracled: %s %s and %s %s are the same address: one listener each\n",
                        opt[j], text[j], opt[i], text[i]);
                return -EINVAL;
            }
        }
    }
    return 0;
}

/* TLS settings make sense only together: a certificate with its key, the rest with both. */
static int check_tls(const struct server_config *sc)
{
    const struct tlsctx_settings *t = &sc->tls;
    const char *given = NULL;
    if (t->cert == NULL || t->key == NULL) {
        given = t->cert != NULL        ? "--tls-cert"
                : t->key != NULL       ? "--tls-key"
                : t->ca != NULL        ? "--tls-ca"
                : sc->n_tls_listen > 0 ? "--tls-listen"
                : t->n_allow > 0       ? "--tls-allow-client"
                : sc->http_tls         ? "--http-tls"
                                       : NULL;
    }
    if (given != NULL) {
        fprintf(stderr,
                "oracled: %s needs the server's certificate and key: give --tls-cert "
                "and --tls-key together\n",
                given);
        return -EINVAL;
    }
    if (t->n_allow > 0 && t->ca == NULL) {
        fprintf(stderr, "oracled: --tls-allow-client needs --tls-ca: client identities come from "
                        "certificates, which are asked for only with a CA\n");
        return -EINVAL;
    }
    if (sc->http_tls && sc->n_http_listen == 0) {
        fprintf(stderr, "oracled: --http-tls with --http-listen none: there is no HTTP endpoint\n");
        return -EINVAL;
    }
    return 0;
}

/* The rules between options, and what follows from them. */
static int finish(struct config *c)
{
    struct server_config *sc = &c->server;
    sc->keepalive_s =
        (unsigned)(c->keepalive_ns / 1000000000 + (c->keepalive_ns % 1000000000 != 0));
    if (sc->n_listen == 0) {
        sc->listen[sc->n_listen++] = SERVER_DEFAULT_LISTEN;
    }
    if (sc->n_http_listen == 0) {
        sc->http_listen[sc->n_http_listen++] = SERVER_DEFAULT_HTTP_LISTEN;
    } else if (sc->n_http_listen < 0) {
        sc->n_http_listen = 0;
    }
    const char *why = NULL;
    if (cb_params_check(&sc->clock, &why) < 0) {
        fprintf(stderr, "oracled: %s\n", why);
        return -EINVAL;
    }
    if (sc->clock.max_bound_ns >= sc->max_wait_ns / 2) {
        fprintf(stderr,
                "oracled: --max-bound (%" PRId64 " us) must be below half of --max-wait (%" PRId64
                " us): a commit-wait takes about twice the bound\n",
                sc->clock.max_bound_ns / 1000, sc->max_wait_ns / 1000);
        return -EINVAL;
    }
    if (sc->phc_interface != NULL && sc->phc_error_bound_file != NULL) {
        fprintf(stderr, "oracled: --phc-interface and --phc-error-bound-file name the same "
                        "thing two ways: give one\n");
        return -EINVAL;
    }
    if (check_addresses(sc) < 0 || check_tls(sc) < 0) {
        return -EINVAL;
    }
    if (sc->max_pending_per_conn > sc->max_pending) {
        sc->max_pending_per_conn = sc->max_pending;
    }
    sc->clock.await_update_after_start = true;
    return 0;
}

static void print_help(void)
{
    struct config defaults;
    set_defaults(&defaults);
    struct strbuf b;
    strbuf_init(&b);
    opts_help(&program, &defaults, &b);
    if (b.failed) {
        fprintf(stderr, "oracled: out of memory\n");
    } else {
        fputs(b.data, stdout);
    }
    strbuf_fini(&b);
}

int config_parse(int argc, char **argv, struct config *out)
{
    set_defaults(out);
    int rc = opts_init(&out->opts, &program, out);
    if (rc < 0) {
        fprintf(stderr, "%s\n", out->opts.error);
        return -EINVAL;
    }
    const char *file = opts_scan(&program, argc, argv, "config");
    if (file != NULL && read_file(out, file) < 0) {
        return -EINVAL;
    }
    rc = opts_parse_argv(&out->opts, argc, argv);
    if (rc == OPTS_HELP_ASKED) {
        print_help();
        return 1;
    }
    if (rc == OPTS_VERSION_ASKED) {
        printf("oracled %s\n", ORACLE_VERSION);
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "%s\n", out->opts.error);
        return -EINVAL;
    }
    if (out->opts.next_arg < argc) {
        fprintf(stderr, "oracled: unexpected argument '%s'; try 'oracled --help'\n",
                argv[out->opts.next_arg]);
        return -EINVAL;
    }
    return finish(out);
}

void config_free(struct config *c)
{
    opts_fini(&c->opts);
}

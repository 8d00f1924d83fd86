/* oracled's command line and configuration file (see config.h). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "conffile.h"
#include "statefile.h"
#include "vmclock.h"

#ifndef ORACLE_VERSION
#define ORACLE_VERSION "unknown"
#endif

#define CONFIG_FILE_MAX (64 * 1024)

static void usage(void)
{
    printf(
        "Usage: oracled [OPTIONS]\n"
        "\n"
        "A commit-wait timestamp oracle: strictly increasing timestamps over TCP, with an\n"
        "error bound from chrony and, on request, replies held until the timestamp is\n"
        "certainly in the past. Protocol: proto/oracle.proto (varint-delimited protobuf).\n"
        "\n"
        "Network:\n"
        "  --listen HOST:PORT          the oracle protocol; repeat for more ([::]:7600 for\n"
        "                              IPv6) (default " SERVER_DEFAULT_LISTEN ")\n"
        "  --http-listen HOST:PORT     /healthz and /metrics; repeat for more, 'none' for\n"
        "                              none (default " SERVER_DEFAULT_HTTP_LISTEN ")\n"
        "Clock:\n"
        "  --chrony ADDR               chronyd's command socket: udp:HOST[:PORT] or\n"
        "                              unix:PATH (default " CHRONY_DEFAULT_ADDRESS ")\n"
        "  --poll-interval DURATION    how often chrony is asked (default 20ms)\n"
        "  --max-drift-ppb N           fastest the clock may drift, ppb (default %d)\n"
        "  --chrony-maxclockerror-ppb N  chrony's maxclockerror setting, ppb (default %d)\n"
        "  --max-bound DURATION        a wider bound makes the clock UNKNOWN (default 10ms)\n"
        "  --grace DURATION            failing chrony polls stay FREE_RUNNING this long\n"
        "                              (default 5s)\n"
        "  --phc-interface IFACE       chrony follows the ENA PTP hardware clock of this\n"
        "                              interface (ens5): add the PHC's own error bound, from\n"
        "                              /sys/bus/pci/devices/SLOT/phc_error_bound, while it is\n"
        "                              chrony's reference (default: not added)\n"
        "  --phc-error-bound-file PATH  ... or read that bound (ns) from this file\n"
        "  --phc-refid ID              the PHC refclock's reference ID in chrony\n"
        "                              (default " CB_PHC_DEFAULT_REFID_TEXT ")\n"
        "  --vmclock PATH              the hypervisor's VMClock page: a change of its\n"
        "                              disruption marker (live migration) makes the clock\n"
        "                              DISRUPTED; 'none' for none (default " CB_VMCLOCK_DEFAULT_PATH
        "\n"
        "                              when it exists)\n",
        CB_DEFAULT_MAX_DRIFT_PPB, CB_DEFAULT_CHRONY_MAXCLOCKERROR_PPB);
    printf(
        "Timestamps:\n"
        "  --max-wait DURATION         the longest commit-wait held (default 100ms); more\n"
        "                              than twice --max-bound\n"
        "  --max-run-ahead DURATION    how far timestamps may run ahead of the clock's\n"
        "                              latest before requests get OVERLOADED (default 1ms)\n"
        "  --state-dir DIR             where the high-water mark is kept across restarts\n"
        "                              (default " SERVER_DEFAULT_STATE_DIR ")\n"
        "  --state-window DURATION     how far it is reserved ahead (default 1s)\n"
        "Limits:\n"
        "  --max-connections N         client connections at once (default %d); at the\n"
        "                              cap the one idle longest is closed to make room\n"
        "  --max-connections-per-peer N  ... from one address (default 0: no cap; not\n"
        "                              behind a proxy, where clients share one address)\n"
        "  --http-max-connections N    HTTP connections at once (default %d); at the cap\n"
        "                              the one waiting longest for its request is closed\n"
        "  --max-pending N             commit-waits pending in all (default %d)\n"
        "  --max-pending-per-connection N  ... on one connection (default %d)\n"
        "  --max-output SIZE           unread replies before a client is cut off\n"
        "                              (default 2MiB)\n"
        "  --idle-timeout DURATION     close connections idle this long, 0 never (default 10m)\n"
        "  --write-timeout DURATION    cut off clients not reading for this long (default 10s)\n"
        "  --keepalive DURATION        TCP keepalive idle time, 0 off (default 60s)\n"
        "ClockBound compatibility (both off by default):\n"
        "  --clockbound-socket PATH    serve the ClockBound v1 protocol on this unix datagram\n"
        "                              socket (ClockBound's: /run/clockboundd/clockboundd.sock)\n"
        "  --clockbound-socket-mode MODE  its permissions, octal (default 0666)\n"
        "  --clockbound-shm PATH       publish the bound as ClockBound's shared-memory\n"
        "                              segment, format 2 (ClockBound's: /run/clockbound/shm0)\n"
        "Operation:\n"
        "  --drain-delay DURATION      after SIGTERM, keep serving this long with /healthz 503\n"
        "                              (default 0; set it above the load balancer's health\n"
        "                              check window)\n"
        "  --config FILE               read 'key = value' lines: the long options above\n"
        "                              without '--'; command-line options win\n"
        "  --log-level LEVEL           err, warn, info or debug (default info)\n"
        "  -h, --help                  this help\n"
        "  --version                   print the version\n"
        "\n"
        "Durations take a unit: ns, us, ms, s or m. Sizes: bytes, or K, M, G (binary).\n"
        "SIGTERM or SIGINT drains and stops the server; a second one stops it at once.\n",
        SERVER_DEFAULT_MAX_CONNECTIONS, HTTPD_DEFAULT_MAX_CONNS, SERVER_DEFAULT_MAX_PENDING,
        SERVER_DEFAULT_MAX_PENDING_CONN);
}

enum {
    O_LISTEN = 256,
    O_HTTP_LISTEN,
    O_CHRONY,
    O_POLL,
    O_DRIFT,
    O_MAXCLOCKERROR,
    O_MAX_BOUND,
    O_GRACE,
    O_PHC_INTERFACE,
    O_PHC_FILE,
    O_PHC_REFID,
    O_VMCLOCK,
    O_MAX_WAIT,
    O_RUN_AHEAD,
    O_STATE_DIR,
    O_STATE_WINDOW,
    O_MAX_CONNECTIONS,
    O_MAX_CONNECTIONS_PEER,
    O_HTTP_MAX_CONNECTIONS,
    O_MAX_PENDING,
    O_MAX_PENDING_CONN,
    O_MAX_OUTPUT,
    O_IDLE_TIMEOUT,
    O_WRITE_TIMEOUT,
    O_KEEPALIVE,
    O_DRAIN_DELAY,
    O_CB_SOCKET,
    O_CB_SOCKET_MODE,
    O_CB_SHM,
    O_CONFIG,
    O_LOG_LEVEL,
    O_VERSION,
};

static const struct option longopts[] = {
    {"listen", required_argument, NULL, O_LISTEN},
    {"http-listen", required_argument, NULL, O_HTTP_LISTEN},
    {"chrony", required_argument, NULL, O_CHRONY},
    {"poll-interval", required_argument, NULL, O_POLL},
    {"max-drift-ppb", required_argument, NULL, O_DRIFT},
    {"chrony-maxclockerror-ppb", required_argument, NULL, O_MAXCLOCKERROR},
    {"max-bound", required_argument, NULL, O_MAX_BOUND},
    {"grace", required_argument, NULL, O_GRACE},
    {"phc-interface", required_argument, NULL, O_PHC_INTERFACE},
    {"phc-error-bound-file", required_argument, NULL, O_PHC_FILE},
    {"phc-refid", required_argument, NULL, O_PHC_REFID},
    {"vmclock", required_argument, NULL, O_VMCLOCK},
    {"max-wait", required_argument, NULL, O_MAX_WAIT},
    {"max-run-ahead", required_argument, NULL, O_RUN_AHEAD},
    {"state-dir", required_argument, NULL, O_STATE_DIR},
    {"state-window", required_argument, NULL, O_STATE_WINDOW},
    {"max-connections", required_argument, NULL, O_MAX_CONNECTIONS},
    {"max-connections-per-peer", required_argument, NULL, O_MAX_CONNECTIONS_PEER},
    {"http-max-connections", required_argument, NULL, O_HTTP_MAX_CONNECTIONS},
    {"max-pending", required_argument, NULL, O_MAX_PENDING},
    {"max-pending-per-connection", required_argument, NULL, O_MAX_PENDING_CONN},
    {"max-output", required_argument, NULL, O_MAX_OUTPUT},
    {"idle-timeout", required_argument, NULL, O_IDLE_TIMEOUT},
    {"write-timeout", required_argument, NULL, O_WRITE_TIMEOUT},
    {"keepalive", required_argument, NULL, O_KEEPALIVE},
    {"drain-delay", required_argument, NULL, O_DRAIN_DELAY},
    {"clockbound-socket", required_argument, NULL, O_CB_SOCKET},
    {"clockbound-socket-mode", required_argument, NULL, O_CB_SOCKET_MODE},
    {"clockbound-shm", required_argument, NULL, O_CB_SHM},
    {"config", required_argument, NULL, O_CONFIG},
    {"log-level", required_argument, NULL, O_LOG_LEVEL},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, O_VERSION},
    {NULL, 0, NULL, 0},
};

/* Where the options being applied come from, for error messages. */
struct source {
    const char *file; /* NULL: the command line */
    const int *lines; /* the file line of each setting */
    bool cli;
    bool cli_listen_seen;
    bool cli_http_seen;
    const char *chrony;
};

static int bad(const struct source *src, const char *opt, const char *value, const char *expect)
{
    if (src->file != NULL) {
        int line = src->lines[(optind - 2) / 2];
        fprintf(stderr, "oracled: %s:%d: invalid value '%s' for %s: %s\n", src->file, line, value,
                opt, expect);
    } else {
        fprintf(stderr, "oracled: invalid value '%s' for --%s: %s\n", value, opt, expect);
    }
    return -EINVAL;
}

static int duration(const struct source *src, const char *opt, const char *value, int64_t min,
                    int64_t max, int64_t *out, const char *expect)
{
    if (args_parse_duration_ns(value, out) < 0 || *out < min || *out > max) {
        return bad(src, opt, value, expect);
    }
    return 0;
}

static int count(const struct source *src, const char *opt, const char *value, int64_t min,
                 int64_t max, size_t *out)
{
    int64_t v = 0;
    if (args_parse_i64(value, min, max, &v) < 0) {
        char expect[64];
        snprintf(expect, sizeof(expect), "an integer from %" PRId64 " to %" PRId64, min, max);
        return bad(src, opt, value, expect);
    }
    *out = (size_t)v;
    return 0;
}

/* Applies one option. Returns 0, 1 for --help/--version (done), or -EINVAL. */
static int apply(int c, struct source *src, struct config *out)
{
    struct server_config *sc = &out->server;
    int64_t v = 0;
    uint64_t size = 0;
    switch (c) {
    case O_LISTEN:
        if (src->cli && !src->cli_listen_seen) {
            sc->n_listen = 0; /* the command line replaces the file's list */
            src->cli_listen_seen = true;
        }
        if (sc->n_listen == SERVER_MAX_LISTEN) {
            return bad(src, "listen", optarg, "at most 8 addresses");
        }
        sc->listen[sc->n_listen++] = optarg;
        return 0;
    case O_HTTP_LISTEN:
        if (src->cli && !src->cli_http_seen) {
            sc->n_http_listen = 0;
            src->cli_http_seen = true;
        }
        if (strcmp(optarg, "none") == 0) {
            sc->n_http_listen = -1; /* explicitly none */
            return 0;
        }
        if (sc->n_http_listen < 0) {
            sc->n_http_listen = 0;
        }
        if (sc->n_http_listen == HTTPD_MAX_LISTEN) {
            return bad(src, "http-listen", optarg, "at most 4 addresses");
        }
        sc->http_listen[sc->n_http_listen++] = optarg;
        return 0;
    case O_CHRONY:
        src->chrony = optarg;
        return 0;
    case O_POLL:
        return duration(src, "poll-interval", optarg, 1000000, 60000000000, &sc->poll_interval_ns,
                        "a duration from 1ms to 1m");
    case O_DRIFT:
        if (args_parse_i64(optarg, 1, CB_MAX_RATE_PPB, &sc->clock.max_drift_ppb) < 0) {
            return bad(src, "max-drift-ppb", optarg, "an integer from 1 to 100000000");
        }
        return 0;
    case O_MAXCLOCKERROR:
        if (args_parse_i64(optarg, 0, CB_MAX_RATE_PPB, &sc->clock.chrony_maxclockerror_ppb) < 0) {
            return bad(src, "chrony-maxclockerror-ppb", optarg, "an integer from 0 to 100000000");
        }
        return 0;
    case O_MAX_BOUND:
        return duration(src, "max-bound", optarg, 1000, 3600000000000, &sc->clock.max_bound_ns,
                        "a duration from 1us to 1h");
    case O_GRACE:
        return duration(src, "grace", optarg, 0, 3600000000000, &sc->clock.grace_ns,
                        "a duration up to 1h");
    case O_PHC_INTERFACE:
        sc->phc_interface = optarg;
        return 0;
    case O_PHC_FILE:
        sc->phc_error_bound_file = optarg;
        return 0;
    case O_PHC_REFID:
        if (cb_refid_parse(optarg, &sc->phc_ref_id) < 0) {
            return bad(src, "phc-refid", optarg,
                       "one to four printable ASCII characters, as chrony's refid (PHC0)");
        }
        return 0;
    case O_VMCLOCK:
        if (optarg[0] == '\0') {
            return bad(src, "vmclock", optarg, "a path, or 'none'");
        }
        sc->vmclock = optarg;
        return 0;
    case O_MAX_WAIT:
        return duration(src, "max-wait", optarg, 1000, 60000000000, &sc->max_wait_ns,
                        "a duration from 1us to 1m");
    case O_RUN_AHEAD:
        return duration(src, "max-run-ahead", optarg, 1, 1000000000, &sc->max_run_ahead_ns,
                        "a duration from 1ns to 1s");
    case O_CB_SOCKET:
        sc->clockbound_socket = optarg;
        return 0;
    case O_CB_SOCKET_MODE: {
        char *end = NULL;
        errno = 0;
        unsigned long mode = strtoul(optarg, &end, 8);
        if (optarg[0] < '0' || optarg[0] > '7' || *end != '\0' || errno != 0 || mode > 0777) {
            return bad(src, "clockbound-socket-mode", optarg,
                       "an octal permission mode from 0 to 0777, such as 0666");
        }
        sc->clockbound_socket_mode = (unsigned)mode;
        return 0;
    }
    case O_CB_SHM:
        sc->clockbound_shm = optarg;
        return 0;
    case O_STATE_DIR:
        sc->state_dir = optarg;
        return 0;
    case O_STATE_WINDOW:
        return duration(src, "state-window", optarg, 1000000, 3600000000000, &sc->state_window_ns,
                        "a duration from 1ms to 1h");
    case O_MAX_CONNECTIONS:
        return count(src, "max-connections", optarg, 1, 10000000, &sc->max_connections);
    case O_MAX_CONNECTIONS_PEER:
        return count(src, "max-connections-per-peer", optarg, 0, 10000000,
                     &sc->max_connections_per_peer);
    case O_HTTP_MAX_CONNECTIONS:
        return count(src, "http-max-connections", optarg, 2, 65536, &sc->http_max_connections);
    case O_MAX_PENDING:
        return count(src, "max-pending", optarg, 1, 100000000, &sc->max_pending);
    case O_MAX_PENDING_CONN:
        return count(src, "max-pending-per-connection", optarg, 1, 100000000,
                     &sc->max_pending_per_conn);
    case O_MAX_OUTPUT:
        if (args_parse_size(optarg, &size) < 0 || size < 4096 || size > (UINT64_C(1) << 32)) {
            return bad(src, "max-output", optarg, "a size from 4K to 4G");
        }
        sc->max_output_bytes = (size_t)size;
        return 0;
    case O_IDLE_TIMEOUT:
        return duration(src, "idle-timeout", optarg, 0, INT64_C(86400) * 1000000000,
                        &sc->idle_timeout_ns, "a duration up to a day (0: never)");
    case O_WRITE_TIMEOUT:
        return duration(src, "write-timeout", optarg, 0, 3600000000000, &sc->write_timeout_ns,
                        "a duration up to 1h (0: never)");
    case O_KEEPALIVE:
        if (duration(src, "keepalive", optarg, 0, 3600000000000, &v,
                     "a duration up to 1h (0: off)") < 0) {
            return -EINVAL;
        }
        sc->keepalive_s = (unsigned)(v / 1000000000 + (v % 1000000000 != 0));
        return 0;
    case O_DRAIN_DELAY:
        return duration(src, "drain-delay", optarg, 0, 3600000000000, &sc->drain_delay_ns,
                        "a duration up to 1h");
    case O_CONFIG:
        if (src->file != NULL) {
            return bad(src, "config", optarg, "a configuration file cannot include another");
        }
        return 0; /* read before the command line is applied */
    case O_LOG_LEVEL:
        if (log_parse_level(optarg, &out->log_level) < 0) {
            return bad(src, "log-level", optarg, "err, warn, info or debug");
        }
        return 0;
    case 'h':
        usage();
        return 1;
    case O_VERSION:
        printf("oracled %s\n", ORACLE_VERSION);
        return 1;
    default:
        fprintf(stderr, "Try 'oracled --help'.\n");
        return -EINVAL;
    }
}

static int apply_all(int argc, char **argv, struct source *src, struct config *out)
{
    optind = 0; /* glibc: start afresh */
    opterr = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int rc = apply(c, src, out);
        if (rc != 0) {
            return rc;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "oracled: unexpected argument '%s'; try 'oracled --help'\n", argv[optind]);
        return -EINVAL;
    }
    return 0;
}

struct file_args {
    struct config *out;
    const char *file;
};

static int add_setting(const char *key, const char *value, int line, void *arg)
{
    struct file_args *fa = arg;
    struct config *out = fa->out;
    bool known = false;
    for (const struct option *o = longopts; o->name != NULL; o++) {
        if (strcmp(o->name, key) == 0 && o->has_arg == required_argument &&
            strcmp(key, "config") != 0) {
            known = true;
        }
    }
    if (!known) {
        fprintf(stderr,
                "oracled: %s:%d: unknown key '%s' (keys are the long options, as in "
                "'oracled --help', without '--')\n",
                fa->file, line, key);
        return -EINVAL;
    }
    /* argv grows by "--key", "value" (and "oracled" first), NULL-terminated. */
    size_t n = out->file_argc;
    char **argv = realloc(out->file_argv, (n + 4) * sizeof(*argv));
    int *lines = realloc(out->file_lines, (n / 2 + 2) * sizeof(*lines));
    if (argv != NULL) {
        out->file_argv = argv;
    }
    if (lines != NULL) {
        out->file_lines = lines;
    }
    if (argv == NULL || lines == NULL) {
        return -ENOMEM;
    }
    if (n == 0) {
        argv[n++] = strdup("oracled");
    }
    size_t klen = strlen(key);
    char *opt = malloc(klen + 3);
    if (opt != NULL) {
        opt[0] = opt[1] = '-';
        memcpy(opt + 2, key, klen + 1);
    }
    argv[n] = opt;
    argv[n + 1] = strdup(value);
    argv[n + 2] = NULL;
    lines[(n - 1) / 2] = line;
    out->file_argc = n + 2;
    return opt == NULL || argv[n + 1] == NULL ? -ENOMEM : 0;
}

static int read_file(const char *path, struct config *out)
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
    struct file_args fa = {out, path};
    int line = 0;
    const char *why = NULL;
    rc = conffile_parse(text, len, add_setting, &fa, &line, &why);
    free(text);
    if (rc < 0) {
        if (rc != -EINVAL || why == NULL || strcmp(why, "invalid setting") != 0) {
            fprintf(stderr, "oracled: %s:%d: %s\n", path, line, why ? why : strerror(-rc));
        }
        return -EINVAL;
    }
    return 0;
}

/* Finds --config FILE / --config=FILE in argv without disturbing getopt. */
static const char *find_config(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            break;
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            return argv[i + 1];
        }
        if (strncmp(argv[i], "--config=", 9) == 0) {
            return argv[i] + 9;
        }
    }
    return NULL;
}

int config_parse(int argc, char **argv, struct config *out)
{
    memset(out, 0, sizeof(*out));
    struct server_config *sc = &out->server;
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
    sc->keepalive_s = SERVER_DEFAULT_KEEPALIVE_S;
    sc->version = ORACLE_VERSION;
    out->log_level = LOG_LEVEL_INFO;

    struct source src = {.chrony = CHRONY_DEFAULT_ADDRESS};
    const char *file = find_config(argc, argv);
    if (file != NULL) {
        int rc = read_file(file, out);
        if (rc < 0) {
            return rc;
        }
        if (out->file_argc > 0) {
            src.file = file;
            src.lines = out->file_lines;
            rc = apply_all((int)out->file_argc, out->file_argv, &src, out);
            if (rc != 0) {
                return rc < 0 ? rc : -EINVAL;
            }
        }
    }
    src.file = NULL;
    src.cli = true;
    int rc = apply_all(argc, argv, &src, out);
    if (rc != 0) {
        return rc;
    }

    if (sc->n_listen == 0) {
        sc->listen[sc->n_listen++] = SERVER_DEFAULT_LISTEN;
    }
    if (sc->n_http_listen == 0) {
        sc->http_listen[sc->n_http_listen++] = SERVER_DEFAULT_HTTP_LISTEN;
    } else if (sc->n_http_listen < 0) {
        sc->n_http_listen = 0;
    }
    const char *why = NULL;
    if (chrony_addr_parse(src.chrony, &sc->chrony, &why) < 0) {
        fprintf(stderr, "oracled: invalid --chrony '%s': %s\n", src.chrony, why);
        return -EINVAL;
    }
    chrony_addr_format(&sc->chrony, sc->chrony_text, sizeof(sc->chrony_text));
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
    if (sc->max_pending_per_conn > sc->max_pending) {
        sc->max_pending_per_conn = sc->max_pending;
    }
    sc->clock.await_update_after_start = true;
    return 0;
}

void config_free(struct config *c)
{
    for (size_t i = 0; i < c->file_argc; i++) {
        free(c->file_argv[i]);
    }
    free(c->file_argv);
    free(c->file_lines);
    c->file_argv = NULL;
    c->file_lines = NULL;
    c->file_argc = 0;
}

/*
 * oracle-cli: ask an oracled from a shell, the way AWS ClockBound's examples poke ClockBound.
 * Every command is one or a few liboracle-client calls; output is for people, or JSON lines
 * with --json. Exit status: 0 success (or true), 1 false (before/after), 2 error.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "jsonout.h"
#include "opts.h"
#include "oracle/client.h"
#include "strbuf.h"
#include "timefmt.h"

#define EXIT_TRUE  0
#define EXIT_FALSE 1
#define EXIT_ERROR 2

#define CLI_DEFAULT_SERVER "127.0.0.1:7600"

static volatile sig_atomic_t stop_requested;

struct cli {
    const char *servers;
    const char *tls_ca; /* TLS: on with a CA file ("system": the system's) */
    const char *tls_cert;
    const char *tls_key;
    const char *tls_server_name;
    uint32_t timeout_ms;
    bool json;
    /* Command options. */
    uint32_t count;
    bool count_given;
    bool wait;
    uint64_t min_ts_ns;
    int64_t max_wait_ns;
    int64_t interval_ns;
    const char *command;
    const char *arg; /* the command's TS, if any */
    oracle_client *client;
};

/* ---- Output helpers ---- */

static void print_time_row(const char *label, uint64_t ns)
{
    char when[TIMEFMT_UTC_LEN];
    timefmt_utc((int64_t)ns, when, sizeof(when));
    printf("%-12s %s  %" PRIu64 "\n", label, when, ns);
}

/* ns as microseconds with three decimals. */
static void format_us(uint64_t ns, char *buf, size_t len)
{
    snprintf(buf, len, "%" PRIu64 ".%03" PRIu64 " us", ns / 1000, ns % 1000);
}

/* ns as milliseconds with three decimals. */
static void format_ms(uint64_t ns, char *buf, size_t len)
{
    snprintf(buf, len, "%" PRIu64 ".%03" PRIu64 " ms", ns / 1000000, ns / 1000 % 1000);
}

static const char *hint_for(const struct oracle_error *err)
{
    switch (err->rc) {
    case ORACLE_E_SERVER:
        break;
    case ORACLE_E_TIMEOUT:
        return "the server did not answer in time: is it overloaded or stopped? (--timeout "
               "sets the limit)";
    case ORACLE_E_PROTOCOL:
        return "is --server pointing at an oracled port (not its HTTP port)?";
    default:
        return NULL;
    }
    switch (err->code) {
    case ORACLE_ERROR_CLOCK_UNAVAILABLE:
        return "the server does not trust its clock: chrony is not synchronised (run "
               "'chronyc tracking' on the server, and see its /healthz)";
    case ORACLE_ERROR_BOUND_TOO_WIDE:
        return "chrony is synchronised too loosely for the server's --max-bound (see root "
               "delay and dispersion in 'chronyc tracking')";
    case ORACLE_ERROR_WAIT_TOO_LONG:
        return "the timestamp is further ahead than the longest commit-wait allowed (the "
               "server's --max-wait, see 'oracle-cli info', or --max-wait)";
    case ORACLE_ERROR_OVERLOADED:
    case ORACLE_ERROR_NOT_READY:
        return "retry shortly";
    case ORACLE_ERROR_SHUTTING_DOWN:
        return "this instance is stopping: retry through the load balancer or another instance";
    case ORACLE_ERROR_BAD_REQUEST:
    case ORACLE_ERROR_UNSUPPORTED:
        if (strstr(err->message, "speaks TLS") != NULL) {
            return "connect with --tls-ca FILE (and --tls-cert, --tls-key when the server asks "
                   "for a client certificate)";
        }
        return "the server and oracle-cli disagree about the protocol: compare their versions";
    case ORACLE_ERROR_NONE:
        break;
    }
    return NULL;
}

/* Text from the server, shown on a terminal: control characters become '?'. */
static void print_clean(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        fputc(ch < 0x20 || ch == 0x7f ? '?' : ch, f);
    }
}

/* {"code":...,"message":...,"retriable":...} for an error. */
static void print_json_error(const struct oracle_error *err)
{
    printf("{\"code\":\"%s\",\"message\":", err->rc == ORACLE_E_SERVER
                                                ? oracle_error_code_name(err->code)
                                                : oracle_rc_name(err->rc));
    jsonout_string(stdout, err->message);
    printf(",\"retriable\":%s}", err->retriable ? "true" : "false");
}

/* Says what went wrong (stderr; with --json also a JSON line on stdout). Returns EXIT_ERROR. */
static int report(const struct cli *o, const struct oracle_error *err)
{
    /* A server's own Error carries just its message; failures of the connection say where. */
    if (err->rc == ORACLE_E_SERVER && strncmp(err->message, "oracled at ", 11) != 0) {
        fprintf(stderr, "oracle-cli: oracled at %s answered %s: ", err->peer,
                oracle_error_code_name(err->code));
    } else if (err->rc == ORACLE_E_SERVER) {
        fprintf(stderr, "oracle-cli: %s: ", oracle_error_code_name(err->code));
    } else {
        fprintf(stderr, "oracle-cli: ");
    }
    print_clean(stderr, err->message);
    fputc('\n', stderr);
    const char *hint = hint_for(err);
    if (hint != NULL) {
        fprintf(stderr, "hint: %s\n", hint);
    }
    if (o->json) {
        printf("{\"error\":");
        print_json_error(err);
        printf("}\n");
    }
    return EXIT_ERROR;
}

/* ---- Commands ---- */

static int cmd_now(struct cli *o)
{
    struct oracle_error err;
    struct oracle_bounds b;
    if (oracle_now(o->client, &b, &err) < 0) {
        return report(o, &err);
    }
    uint64_t range = b.latest_ns - b.earliest_ns;
    uint64_t mid = b.earliest_ns + range / 2;
    const char *status = oracle_clock_status_name(b.clock_status);
    if (o->json) {
        printf("{\"earliest_ns\":%" PRIu64 ",\"latest_ns\":%" PRIu64 ",\"midpoint_ns\":%" PRIu64
               ",\"range_us\":%" PRIu64 ".%03" PRIu64 ",\"status\":\"%s\"}\n",
               b.earliest_ns, b.latest_ns, mid, range / 1000, range % 1000, status);
        return EXIT_TRUE;
    }
    char r[32];
    char half[32];
    format_us(range, r, sizeof(r));
    format_us(range / 2, half, sizeof(half));
    print_time_row("earliest", b.earliest_ns);
    print_time_row("latest", b.latest_ns);
    print_time_row("midpoint", mid);
    printf("%-12s %s (+/- %s)\n", "range", r, half);
    printf("%-12s %s\n", "status", status);
    return EXIT_TRUE;
}

static int cmd_ts(struct cli *o)
{
    struct oracle_ts_request req = {
        .count = o->count,
        .commit_wait = o->wait,
        .min_ts_ns = o->min_ts_ns,
        .max_wait_ns = (uint64_t)o->max_wait_ns,
    };
    struct oracle_error err;
    struct oracle_timestamps t;
    if (oracle_get_timestamps(o->client, &req, &t, &err) < 0) {
        return report(o, &err);
    }
    uint64_t last = t.first_ns + t.count - 1;
    const char *status = oracle_clock_status_name(t.clock_status);
    if (o->json) {
        printf("{\"first_ns\":%" PRIu64 ",\"last_ns\":%" PRIu64 ",\"count\":%" PRIu32
               ",\"commit_wait\":%s,\"waited_ns\":%" PRIu64 ",\"bound_ns\":%" PRIu64
               ",\"earliest_ns\":%" PRIu64 ",\"latest_ns\":%" PRIu64 ",\"status\":\"%s\"}\n",
               t.first_ns, last, t.count, o->wait ? "true" : "false", t.waited_ns, t.bound_ns,
               t.earliest_ns, t.latest_ns, status);
        return EXIT_TRUE;
    }
    if (t.count == 1) {
        print_time_row("timestamp", t.first_ns);
    } else {
        print_time_row("first", t.first_ns);
        print_time_row("last", last);
        printf("%-12s %" PRIu32 "\n", "count", t.count);
    }
    char buf[32];
    if (o->wait) {
        format_ms(t.waited_ns, buf, sizeof(buf));
        printf("%-12s %s (%s certainly in the past at the reply)\n", "commit-wait", buf,
               t.count == 1 ? "the timestamp is" : "all are");
    }
    format_us(t.bound_ns, buf, sizeof(buf));
    printf("%-12s %s, clock %s\n", "bound", buf, status);
    return EXIT_TRUE;
}

static int cmd_before_after(struct cli *o, uint64_t ts, bool before)
{
    struct oracle_error err;
    bool answer = false;
    int rc = before ? oracle_before(o->client, ts, &answer, &err)
                    : oracle_after(o->client, ts, &answer, &err);
    if (rc < 0) {
        return report(o, &err);
    }
    if (o->json) {
        printf("{\"ts_ns\":%" PRIu64 ",\"%s\":%s}\n", ts, before ? "before" : "after",
               answer ? "true" : "false");
    } else {
        char when[TIMEFMT_UTC_LEN];
        timefmt_utc((int64_t)ts, when, sizeof(when));
        const char *why =
            before ? (answer ? "is certainly in the past" : "may not have passed yet")
                   : (answer ? "is certainly still in the future" : "may already have come");
        printf("%s (%s %s)\n", answer ? "true" : "false", when, why);
    }
    return answer ? EXIT_TRUE : EXIT_FALSE;
}

static int cmd_wait(struct cli *o, uint64_t ts)
{
    struct oracle_error err;
    uint64_t waited = 0;
    if (oracle_wait_until(o->client, ts, (uint64_t)o->max_wait_ns, &waited, &err) < 0) {
        return report(o, &err);
    }
    if (o->json) {
        printf("{\"ts_ns\":%" PRIu64 ",\"waited_ns\":%" PRIu64 "}\n", ts, waited);
    } else {
        char when[TIMEFMT_UTC_LEN];
        char w[32];
        timefmt_utc((int64_t)ts, when, sizeof(when));
        format_ms(waited, w, sizeof(w));
        printf("waited %s: %s is certainly in the past\n", w, when);
    }
    return EXIT_TRUE;
}

static int cmd_info(struct cli *o)
{
    struct oracle_error err;
    struct oracle_info i;
    if (oracle_server_info(o->client, &i, &err) < 0) {
        return report(o, &err);
    }
    const char *status = oracle_clock_status_name(i.clock_status);
    if (o->json) {
        printf("{\"server\":");
        jsonout_string(stdout, oracle_client_peer(o->client));
        printf(",\"version\":");
        jsonout_string(stdout, i.version);
        printf(",\"instance_id\":");
        jsonout_string(stdout, i.instance_id);
        printf(",\"time_source\":");
        jsonout_string(stdout, i.time_source);
        printf(",\"max_drift_ppb\":%" PRIu32 ",\"max_wait_ns\":%" PRIu64 ",\"max_count\":%" PRIu32
               ",\"status\":\"%s\"}\n",
               i.max_drift_ppb, i.max_wait_ns, i.max_count, status);
        return EXIT_TRUE;
    }
    char wait[32];
    format_ms(i.max_wait_ns, wait, sizeof(wait));
    printf("%-12s %s\n", "server", oracle_client_peer(o->client));
    printf("%-12s %s\n", "version", i.version);
    printf("%-12s %s\n", "instance", i.instance_id);
    printf("%-12s %s\n", "time source", i.time_source);
    printf("%-12s %" PRIu32 " ppb\n", "max drift", i.max_drift_ppb);
    printf("%-12s %s\n", "max wait", wait);
    printf("%-12s %" PRIu32 "\n", "max count", i.max_count);
    printf("%-12s %s\n", "clock", status);
    return EXIT_TRUE;
}

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The first Ctrl-C ends watch after the current line; a second one at once. */
static void on_signal(int sig)
{
    if (stop_requested) {
        _exit(128 + sig);
    }
    stop_requested = 1;
}

/* Sleeps until deadline (CLOCK_MONOTONIC ns) unless a signal asks to stop. */
static void sleep_until(int64_t deadline)
{
    struct timespec ts = {.tv_sec = deadline / 1000000000, .tv_nsec = deadline % 1000000000};
    while (!stop_requested && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
    }
}

static int cmd_watch(struct cli *o)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = EXIT_TRUE;
    int64_t next = clock_ns(CLOCK_MONOTONIC);
    for (uint32_t n = 0; !stop_requested && (!o->count_given || n < o->count); n++) {
        if (n > 0) {
            /* After a slow poll, start again from now rather than catch up in a burst. */
            int64_t now = clock_ns(CLOCK_MONOTONIC);
            next = next + o->interval_ns < now ? now : next + o->interval_ns;
            sleep_until(next);
            if (stop_requested) {
                break;
            }
        }
        struct oracle_error err;
        struct oracle_bounds b;
        int64_t t0 = clock_ns(CLOCK_MONOTONIC);
        int call_rc = oracle_now(o->client, &b, &err);
        uint64_t rtt = (uint64_t)(clock_ns(CLOCK_MONOTONIC) - t0);
        char when[TIMEFMT_UTC_LEN];
        timefmt_utc(clock_ns(CLOCK_REALTIME), when, sizeof(when));
        memcpy(when + 23, "Z", 2); /* milliseconds are enough here */
        if (call_rc < 0) {
            rc = EXIT_ERROR;
            if (o->json) {
                printf("{\"time\":\"%s\",\"error\":", when);
                print_json_error(&err);
                printf("}\n");
            } else {
                printf("%s  error: ", when);
                print_clean(stdout, err.message);
                putchar('\n');
            }
            fflush(stdout);
            continue;
        }
        uint64_t bound = (b.latest_ns - b.earliest_ns) / 2;
        if (o->json) {
            printf("{\"time\":\"%s\",\"status\":\"%s\",\"bound_ns\":%" PRIu64 ",\"rtt_ns\":%" PRIu64
                   "}\n",
                   when, oracle_clock_status_name(b.clock_status), bound, rtt);
        } else {
            char bs[32];
            char rs[32];
            format_us(bound, bs, sizeof(bs));
            format_us(rtt, rs, sizeof(rs));
            printf("%s  %-12s  bound %12s  rtt %12s\n", when,
                   oracle_clock_status_name(b.clock_status), bs, rs);
        }
        fflush(stdout);
    }
    return rc;
}

/* ---- Command line ---- */

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    fprintf(stderr, "oracle-cli: ");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'oracle-cli --help'.\n");
    return EXIT_ERROR;
}

/* Parses a TS; on failure writes what is wrong (a sentence) into why. */
static int ts_value(const char *text, uint64_t *out, char *why, size_t cap)
{
    int rc = timefmt_parse(text, out);
    if (rc == -ERANGE) {
        snprintf(why, cap, "timestamp '%s' is out of range (1970 .. 2262, below 2^63 ns)", text);
    } else if (rc < 0) {
        snprintf(why, cap,
                 "invalid timestamp '%s': expected ns since the epoch or RFC 3339 "
                 "(2026-11-25T15:20:16.125638675Z)",
                 text);
    }
    return rc;
}

static int parse_ts(const char *text, uint64_t *out)
{
    char why[OPTS_WHY_MAX];
    return ts_value(text, out, why, sizeof(why)) < 0 ? usage_error("%s", why) : 0;
}

static int set_min(void *target, const struct opts_entry *e, const char *value,
                   const struct opts_where *w, struct opts_why *why)
{
    (void)e;
    (void)w;
    why->sentence = true;
    return ts_value(value, &((struct cli *)target)->min_ts_ns, why->text, sizeof(why->text));
}

/* The options; those that go with one command are described with the commands. */
static const struct opts_entry entries[] = {
    {.kind = OPTS_SECTION, .name = "Options:"},
    {.kind = OPTS_STRING,
     .name = "server",
     .short_name = 's',
     .metavar = "LIST",
     .flags = OPTS_NO_DEFAULT,
     OPTS_AT(struct cli, servers),
     .help = "oracled's HOST:PORT, several separated by commas and tried in order (default: "
             "$ORACLE_SERVER, else " CLI_DEFAULT_SERVER ")"},
    {.kind = OPTS_INT,
     .name = "timeout",
     .short_name = 't',
     .metavar = "MS",
     OPTS_AT(struct cli, timeout_ms),
     .min = 1,
     .max = 3600000,
     .expect = "a number of ms, 1 .. 3600000",
     .help = "connection and reply timeout in ms"},
    {.kind = OPTS_FLAG,
     .name = "json",
     OPTS_AT(struct cli, json),
     .help = "print one JSON object per result"},
    {.kind = OPTS_STRING,
     .name = "tls-ca",
     .metavar = "FILE",
     .flags = OPTS_NO_DEFAULT,
     OPTS_AT(struct cli, tls_ca),
     .help = "speak TLS, trusting the PEM CA certificates in FILE ('system': the system's) "
             "(default: $ORACLE_TLS_CA, else plaintext)"},
    {.kind = OPTS_STRING,
     .name = "tls-cert",
     .metavar = "FILE",
     .flags = OPTS_NO_DEFAULT,
     OPTS_AT(struct cli, tls_cert),
     .help = "... showing this PEM certificate, for a server that asks for one (default: "
             "$ORACLE_TLS_CERT)"},
    {.kind = OPTS_STRING,
     .name = "tls-key",
     .metavar = "FILE",
     .flags = OPTS_NO_DEFAULT,
     OPTS_AT(struct cli, tls_key),
     .help = "... and its PEM key (default: $ORACLE_TLS_KEY)"},
    {.kind = OPTS_STRING,
     .name = "tls-server-name",
     .metavar = "NAME",
     .flags = OPTS_NO_DEFAULT,
     OPTS_AT(struct cli, tls_server_name),
     .help = "the name the server's certificate must carry (default: the HOST of --server)"},
    {.kind = OPTS_HELP, .name = "help", .short_name = 'h', .help = "this help"},
    {.kind = OPTS_VERSION, .name = "version", .help = "the version"},
    {.kind = OPTS_INT,
     .name = "count",
     .metavar = "N",
     OPTS_AT(struct cli, count),
     .min = 1,
     .max = 65536,
     .expect = "a number, 1 .. 65536"},
    {.kind = OPTS_FLAG, .name = "wait", OPTS_AT(struct cli, wait)},
    {.kind = OPTS_CALL, .name = "min", .metavar = "TS", .set = set_min},
    {.kind = OPTS_DURATION,
     .name = "max-wait",
     .metavar = "D",
     OPTS_AT(struct cli, max_wait_ns),
     .min = 1,
     .max = INT64_MAX,
     .expect = "a duration such as 200ms"},
    {.kind = OPTS_DURATION,
     .name = "interval",
     .metavar = "D",
     OPTS_AT(struct cli, interval_ns),
     .min = 1000000,
     .max = INT64_C(86400000000000),
     .expect = "a duration from 1ms to 24h"},
};

static const struct opts_program program = {
    .name = "oracle-cli",
    .usage = "Usage: oracle-cli [OPTIONS] COMMAND [ARGS]\n"
             "Ask oracled, the commit-wait timestamp oracle.\n"
             "\n"
             "Commands:\n"
             "  now                     the interval that certainly contains true time\n"
             "  ts [--count N] [--wait] [--min TS]\n"
             "                          N timestamps (default 1), each above TS; --wait holds "
             "the\n"
             "                          reply until they are certainly in the past "
             "(commit-wait)\n"
             "  before TS               is TS certainly in the past? exit 0 true, 1 false\n"
             "  after TS                is TS certainly still in the future? exit 0 true, 1 "
             "false\n"
             "  wait TS [--max-wait D]  return once TS is certainly in the past\n"
             "  info                    the server's version, instance, limits and time source\n"
             "  watch [--interval D] [--count N]\n"
             "                          status, error bound and round trip once per interval\n"
             "                          (default 1s) until Ctrl-C\n"
             "\n"
             "TS is nanoseconds since the Unix epoch (1795620016125638675) or RFC 3339 with up "
             "to\n"
             "nine fraction digits (2026-11-25T15:20:16.125638675Z). D is a duration with a "
             "unit:\n"
             "500ms, 2s.\n"
             "\n",
    .footer = "\n"
              "Exit status: 0 success or true, 1 false (before, after), 2 error (for watch:\n"
              "any poll failed).\n",
    .entries = entries,
    .n_entries = sizeof(entries) / sizeof(entries[0]),
    .style = OPTS_STYLE_NAME_VALUE,
    .try_help = true,
};

static const char *env_or_null(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

static void set_defaults(struct cli *o)
{
    memset(o, 0, sizeof(*o));
    const char *env = getenv("ORACLE_SERVER");
    o->servers = env != NULL && env[0] != '\0' ? env : CLI_DEFAULT_SERVER;
    o->tls_ca = env_or_null("ORACLE_TLS_CA");
    o->tls_cert = env_or_null("ORACLE_TLS_CERT");
    o->tls_key = env_or_null("ORACLE_TLS_KEY");
    o->timeout_ms = 2000;
    o->interval_ns = 1000000000;
}

static void print_help(FILE *f)
{
    struct cli defaults;
    set_defaults(&defaults);
    struct strbuf b;
    strbuf_init(&b);
    opts_help(&program, &defaults, &b);
    fputs(b.failed ? "oracle-cli: out of memory\n" : b.data, f);
    strbuf_fini(&b);
}

/* Parses argv into *o. Returns -1 to go on, or an exit status. */
static int parse(int argc, char **argv, struct cli *o)
{
    set_defaults(o);
    struct opts_state st;
    int rc = opts_command_line(&st, &program, o, argc, argv);
    if (rc < 0) {
        opts_fini(&st);
        return EXIT_ERROR;
    }
    bool min_given = opts_given(&st, "min") > 0;
    bool max_wait_given = opts_given(&st, "max-wait") > 0;
    bool interval_given = opts_given(&st, "interval") > 0;
    o->count_given = opts_given(&st, "count") > 0;
    int next = st.next_arg;
    opts_fini(&st);
    if (rc == OPTS_HELP_ASKED) {
        print_help(stdout);
        return EXIT_TRUE;
    }
    if (rc == OPTS_VERSION_ASKED) {
        printf("oracle-cli %s\n", ORACLE_VERSION);
        return EXIT_TRUE;
    }
    if (next == argc) {
        print_help(stderr);
        return EXIT_ERROR;
    }
    o->command = argv[next++];
    const char *c = o->command;
    bool takes_ts = strcmp(c, "before") == 0 || strcmp(c, "after") == 0 || strcmp(c, "wait") == 0;
    if (!takes_ts && strcmp(c, "now") != 0 && strcmp(c, "ts") != 0 && strcmp(c, "info") != 0 &&
        strcmp(c, "watch") != 0) {
        return usage_error("unknown command '%s'", c);
    }
    if (takes_ts) {
        if (next == argc) {
            return usage_error("'%s' needs a timestamp (ns since the epoch or RFC 3339)", c);
        }
        o->arg = argv[next++];
    }
    if (next < argc) {
        return usage_error("unexpected argument '%s'", argv[next]);
    }
    bool is_ts = strcmp(c, "ts") == 0;
    bool is_watch = strcmp(c, "watch") == 0;
    if ((o->count_given && !is_ts && !is_watch) || ((o->wait || min_given) && !is_ts)) {
        return usage_error("%s", "--count, --wait and --min go with 'ts' (--count also with "
                                 "'watch')");
    }
    if (max_wait_given && !(is_ts && o->wait) && strcmp(c, "wait") != 0) {
        return usage_error("%s", "--max-wait goes with 'wait' and 'ts --wait'");
    }
    if (interval_given && !is_watch) {
        return usage_error("%s", "--interval goes with 'watch'");
    }
    return -1;
}

int main(int argc, char **argv)
{
    struct cli o;
    memset(&o, 0, sizeof(o));
    int rc = parse(argc, argv, &o);
    if (rc >= 0) {
        return rc;
    }
    uint64_t ts = 0;
    if (o.arg != NULL && parse_ts(o.arg, &ts) != 0) {
        return EXIT_ERROR;
    }
    struct oracle_client_options opts;
    oracle_client_options_init(&opts);
    opts.servers = o.servers;
    opts.tls_ca = o.tls_ca;
    opts.tls_cert = o.tls_cert;
    opts.tls_key = o.tls_key;
    opts.tls_server_name = o.tls_server_name;
    opts.connect_timeout_ms = o.timeout_ms;
    opts.request_timeout_ms = o.timeout_ms;
    opts.max_wait_ms = 0; /* without --max-wait: the server's own limit */
    struct oracle_error err;
    o.client = oracle_client_new(&opts, &err);
    if (o.client == NULL) {
        fprintf(stderr, "oracle-cli: %s\n", err.message);
        return EXIT_ERROR;
    }
    const char *c = o.command;
    if (strcmp(c, "now") == 0) {
        rc = cmd_now(&o);
    } else if (strcmp(c, "ts") == 0) {
        rc = cmd_ts(&o);
    } else if (strcmp(c, "before") == 0 || strcmp(c, "after") == 0) {
        rc = cmd_before_after(&o, ts, strcmp(c, "before") == 0);
    } else if (strcmp(c, "wait") == 0) {
        rc = cmd_wait(&o, ts);
    } else if (strcmp(c, "info") == 0) {
        rc = cmd_info(&o);
    } else {
        rc = cmd_watch(&o);
    }
    oracle_client_free(o.client);
    return rc;
}

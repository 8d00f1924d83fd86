/*
 * clockbound: ask the local chrony how wrong this machine's clock can be, the C counterpart of
 * the `now`, `before` and `after` examples AWS ClockBound ships, plus `watch` to follow the
 * status over time.
 *
 * Exit status: 0 success / true, 1 false (before, after), 2 error (chrony not answering, clock
 * not trusted, bad arguments).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "chrony_client.h"
#include "clockbound.h"
#include "jsonout.h"
#include "opts.h"
#include "strbuf.h"
#include "timefmt.h"
#include "util.h"

#ifndef ORACLE_VERSION
#define ORACLE_VERSION "unknown"
#endif

enum { EXIT_TRUE = 0, EXIT_FALSE = 1, EXIT_ERROR = 2 };

static volatile sig_atomic_t stop_requested;
/* The client's own unix socket, for the one-shot commands' signal handler to remove: the one
 * piece of global state, because a signal handler has no other way to reach it. */
static char signal_unlink_path[CHRONY_PATH_MAX];

struct options {
    struct chrony_addr chrony;
    char chrony_text[CHRONY_PATH_MAX + 16];
    struct cb_params params;
    struct chrony_query_opts query;
    bool json;
    int64_t interval_ns; /* watch */
    int64_t count;       /* watch: 0 = until interrupted */
    /* The PHC's own error bound (phc.h), read at every poll; closed (fd -1) when not set. */
    const char *phc_interface;
    const char *phc_file;
    uint32_t phc_ref_id;
    struct cb_phc *phc;
};

/* watch: finish the current line and exit normally. */
static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* One-shot commands: remove our unix socket and leave at once. */
static void on_signal_exit(int sig)
{
    if (signal_unlink_path[0] != '\0') {
        (void)unlink(signal_unlink_path);
    }
    _exit(128 + sig);
}

static void format_ref_addr(const struct chrony_tracking *t, char *buf, size_t len)
{
    if (!cb_tracking_addr_text(t, buf, len)) {
        snprintf(buf, len, "-");
    }
}

/* The outcome of one query: either a poll or an error, then the state's view of now. */
struct outcome {
    int rc;          /* 0, or the query's negative errno */
    const char *why; /* the query's error sentence */
    struct cb_poll poll;
    struct cb_now now;
};

static void query_once(struct chrony_client *client, struct cb_state *st, const struct options *o,
                       struct outcome *out)
{
    struct cb_clock *clock = cb_clock_system();
    out->why = NULL;
    out->rc = chrony_client_query(client, &o->query, &out->poll, &out->why);
    struct cb_reading r;
    if (out->rc == 0) {
        cb_phc_take(o->phc, o->phc_ref_id, &out->poll.phc);
        cb_on_poll(st, &out->poll);
    } else {
        cb_clock_read(clock, &r);
        cb_on_poll_failure(st, &r, out->rc);
    }
    cb_clock_read(clock, &r);
    cb_now(st, &r, &out->now);
}

/* Two reports of one chrony reference update measure how fast chrony's dispersion grows and how
 * fast it slews (clockbound/dispersion.h, slew.h); without them the bound must assume the worst
 * of both. A one-shot answer therefore asks up to three times, this far apart, until a pair
 * shows one update (chrony updates every 1/16 s at the fastest). */
#define SETTLE_GAP_NS   INT64_C(20000000)
#define SETTLE_ATTEMPTS 3

static void query_settled(struct chrony_client *client, struct cb_state *st,
                          const struct options *o, struct outcome *out)
{
    for (int i = 0; i < SETTLE_ATTEMPTS; i++) {
        if (i > 0) {
            struct timespec d = {.tv_sec = 0, .tv_nsec = (long)SETTLE_GAP_NS};
            while (nanosleep(&d, &d) < 0 && errno == EINTR && !stop_requested) {
            }
        }
        query_once(client, st, o, out);
        if (out->rc < 0 || stop_requested || (st->dispersion.measured && st->slew.rate_known)) {
            return;
        }
    }
}

/* Explains a failed query: what happened and what to check. */
static void describe_failure(const struct options *o, const struct outcome *oc, char *buf,
                             size_t len)
{
    if (oc->rc == -ETIMEDOUT) {
        snprintf(buf, len,
                 "chrony at %s is not answering (no reply after %d tries of %g ms): is chronyd "
                 "running, with its command port or socket at that address?",
                 o->chrony_text, o->query.attempts, (double)o->query.timeout_ns / 1e6);
    } else if (oc->rc == -ECONNREFUSED || oc->rc == -ENOENT) {
        snprintf(buf, len,
                 "nothing listens for chrony commands at %s (%s): is chronyd running, and is "
                 "that its cmdport or bindcmdaddress?",
                 o->chrony_text, strerror(-oc->rc));
    } else if (oc->rc == -EACCES || oc->rc == -EPERM) {
        snprintf(buf, len, "not allowed to talk to chrony at %s (%s)", o->chrony_text,
                 strerror(-oc->rc));
    } else if (oc->rc == -EREMOTEIO) {
        snprintf(buf, len, "chrony at %s refused the tracking query: %s", o->chrony_text,
                 oc->why ? oc->why : "error status");
    } else {
        snprintf(buf, len, "bad reply from chrony at %s: %s", o->chrony_text,
                 oc->why ? oc->why : strerror(-oc->rc));
    }
}

static void print_json_now(const struct options *o, const struct cb_state *st,
                           const struct outcome *oc, const char *error)
{
    const struct cb_now *n = &oc->now;
    printf("{\"status\":\"%s\",\"reason\":", cb_status_name(n->status));
    jsonout_string(stdout, cb_reason_text(n->reason));
    if (st->have_poll) {
        printf(",\"bound_ns\":%" PRId64 ",\"earliest_ns\":%" PRId64 ",\"latest_ns\":%" PRId64
               ",\"range_us\":%.3f",
               n->bound_ns, n->earliest_ns, n->latest_ns, (double)n->bound_ns * 2 / 1000.0);
        const struct chrony_tracking *t = &st->last.tracking;
        const struct cb_bound_at_poll *b = &st->bound;
        char addr[64];
        format_ref_addr(t, addr, sizeof(addr));
        printf(",\"demo\":%s", cb_tracking_is_demo(t) ? "true" : "false");
        printf(",\"chrony\":{\"address\":");
        jsonout_string(stdout, o->chrony_text);
        printf(",\"ref_id\":\"%08" PRIX32 "\",\"ref_addr\":\"%s\",\"stratum\":%u,\"leap\":%u"
               ",\"ref_time_ns\":%" PRId64 ",\"current_correction_s\":%.12g"
               ",\"root_delay_s\":%.12g,\"root_dispersion_s\":%.12g,\"skew_ppm\":%.12g"
               ",\"resid_freq_ppm\":%.12g,\"last_update_interval_s\":%.12g"
               ",\"query_realtime_ns\":%" PRId64 ",\"query_monotonic_ns\":%" PRId64 "}",
               t->ref_id, addr, (unsigned)t->stratum, (unsigned)t->leap, t->ref_time_ns,
               chrony_float_to_double(t->current_correction_s),
               chrony_float_to_double(t->root_delay_s),
               chrony_float_to_double(t->root_dispersion_s), chrony_float_to_double(t->skew_ppm),
               chrony_float_to_double(t->resid_freq_ppm),
               chrony_float_to_double(t->last_update_interval_s), st->last.sent.rt_ns,
               st->last.sent.mono_ns);
        printf(",\"bound\":{\"correction_ns\":%" PRId64 ",\"half_delay_ns\":%" PRId64
               ",\"dispersion_ns\":%" PRId64 ",\"extra_ns\":%" PRId64 ",\"ref_age_ns\":%" PRId64
               ",\"b0_ns\":%" PRId64 ",\"growth_ppb\":%" PRId64 ",\"poll_age_ns\":%" PRId64
               ",\"step_margin_ns\":%" PRId64 ",\"max_drift_ppb\":%" PRId64
               ",\"chrony_maxclockerror_ppb\":%" PRId64 ",\"topup_maxclockerror_ppb\":%" PRId64 "}",
               b->correction_ns, b->half_delay_ns, b->dispersion_ns, b->extra_ns, b->ref_age_ns,
               b->b0_ns, b->growth_ppb, n->poll_age_ns, n->step_margin_ns, st->params.max_drift_ppb,
               st->params.chrony_maxclockerror_ppb, b->topup_maxclockerror_ppb);
        const struct cb_dispersion *d = &st->dispersion;
        const struct cb_slew *sl = &st->slew;
        printf(",\"measured\":{\"dispersion_growth\":%s", d->measured ? "true" : "false");
        if (d->measured) {
            printf(",\"dispersion_growth_lo_ppb\":%" PRId64 ",\"dispersion_growth_hi_ppb\":%" PRId64
                   ",\"maxclockerror_lo_ppb\":%" PRId64 ",\"maxclockerror_hi_ppb\":%" PRId64,
                   d->rate_lo_ppb, d->rate_hi_ppb, d->maxclockerror_lo_ppb,
                   d->maxclockerror_hi_ppb);
        }
        printf(",\"slew_rate_known\":%s", sl->rate_known ? "true" : "false");
        if (sl->rate_known) {
            printf(",\"slew_rate_ppb\":%" PRId64 ",\"slew_moving_away\":%s", sl->rate_ppb,
                   sl->away ? "true" : "false");
        }
        printf("}");
    }
    if (error != NULL) {
        printf(",\"error\":");
        jsonout_string(stdout, error);
    }
    printf("}\n");
}

static void print_human_now(const struct options *o, const struct cb_state *st,
                            const struct outcome *oc)
{
    const struct cb_now *n = &oc->now;
    printf("status    %s (%s)\n", cb_status_name(n->status), cb_reason_text(n->reason));
    if (!st->have_poll) {
        return;
    }
    char e[48], l[48], addr[64];
    timefmt_utc(n->earliest_ns, e, sizeof(e));
    timefmt_utc(n->latest_ns, l, sizeof(l));
    printf("bound     %.3f us (%" PRId64 " ns)\n", (double)n->bound_ns / 1000.0, n->bound_ns);
    printf("earliest  %" PRId64 "  %s\n", n->earliest_ns, e);
    printf("latest    %" PRId64 "  %s\n", n->latest_ns, l);
    printf("range     %.3f us\n", (double)n->bound_ns * 2 / 1000.0);
    const struct chrony_tracking *t = &st->last.tracking;
    format_ref_addr(t, addr, sizeof(addr));
    printf("source    chrony at %s, reference %s (%08" PRIX32 "), stratum %u%s\n", o->chrony_text,
           addr, t->ref_id, (unsigned)t->stratum,
           cb_tracking_is_demo(t) ? " -- DEMO time source (loopback NTP server)" : "");
}

static int cmd_now(struct chrony_client *client, const struct options *o)
{
    struct cb_state st;
    cb_init(&st, &o->params);
    struct outcome oc;
    query_settled(client, &st, o, &oc);

    char msg[512];
    const char *error = NULL;
    if (oc.rc < 0) {
        describe_failure(o, &oc, msg, sizeof(msg));
        error = msg;
    } else if (!cb_status_trusted(oc.now.status)) {
        snprintf(msg, sizeof(msg), "clock not trusted: %s", cb_reason_text(oc.now.reason));
        error = msg;
    }
    if (o->json) {
        print_json_now(o, &st, &oc, error);
    } else {
        print_human_now(o, &st, &oc);
    }
    if (st.have_poll && cb_tracking_is_demo(&st.last.tracking) && !o->json) {
        fprintf(stderr, "clockbound: warning: chrony's source is a loopback NTP server, a demo "
                        "time source: these bounds say nothing about true time\n");
    }
    if (error != NULL) {
        fprintf(stderr, "clockbound: %s\n", error);
        return EXIT_ERROR;
    }
    return EXIT_TRUE;
}

static int cmd_before_after(struct chrony_client *client, const struct options *o, bool before,
                            const char *ts_text)
{
    uint64_t ts = 0;
    int rc = args_parse_u64(ts_text, &ts);
    if (rc < 0 || ts >= CB_TS_LIMIT) {
        fprintf(stderr,
                "clockbound: timestamp '%s' must be nanoseconds since the Unix epoch, below "
                "2^63\n",
                ts_text);
        return EXIT_ERROR;
    }
    struct cb_state st;
    cb_init(&st, &o->params);
    struct outcome oc;
    query_settled(client, &st, o, &oc);
    char msg[512];
    if (oc.rc < 0) {
        describe_failure(o, &oc, msg, sizeof(msg));
        fprintf(stderr, "clockbound: %s\n", msg);
        return EXIT_ERROR;
    }
    rc = before ? cb_before(&oc.now, ts) : cb_after(&oc.now, ts);
    if (rc < 0) {
        fprintf(stderr, "clockbound: clock not trusted (%s): %s\n", cb_status_name(oc.now.status),
                cb_reason_text(oc.now.reason));
        return EXIT_ERROR;
    }
    const char *name = before ? "before" : "after";
    if (o->json) {
        printf("{\"%s\":%s,\"ts_ns\":%" PRIu64 ",\"status\":\"%s\",\"bound_ns\":%" PRId64
               ",\"earliest_ns\":%" PRId64 ",\"latest_ns\":%" PRId64 "}\n",
               name, rc ? "true" : "false", ts, cb_status_name(oc.now.status), oc.now.bound_ns,
               oc.now.earliest_ns, oc.now.latest_ns);
    } else if (before) {
        printf("%s: %" PRIu64 " is %s in the past (earliest %" PRId64 ")\n", rc ? "true" : "false",
               ts, rc ? "certainly" : "not certainly", oc.now.earliest_ns);
    } else {
        printf("%s: %" PRIu64 " is %s in the future (latest %" PRId64 ")\n", rc ? "true" : "false",
               ts, rc ? "certainly" : "not certainly", oc.now.latest_ns);
    }
    return rc ? EXIT_TRUE : EXIT_FALSE;
}

static int cmd_watch(struct chrony_client *client, const struct options *o)
{
    struct cb_state st;
    cb_init(&st, &o->params);
    for (int64_t i = 0; !stop_requested && (o->count == 0 || i < o->count); i++) {
        if (i > 0) {
            struct timespec d = {.tv_sec = (time_t)(o->interval_ns / 1000000000),
                                 .tv_nsec = (long)(o->interval_ns % 1000000000)};
            while (nanosleep(&d, &d) < 0 && errno == EINTR && !stop_requested) {
            }
            if (stop_requested) {
                break;
            }
        }
        struct outcome oc;
        query_once(client, &st, o, &oc);
        char msg[512] = "";
        if (oc.rc < 0) {
            describe_failure(o, &oc, msg, sizeof(msg));
        }
        if (o->json) {
            print_json_now(o, &st, &oc, oc.rc < 0 ? msg : NULL);
        } else {
            char when[48];
            timefmt_utc(oc.now.rt_ns, when, sizeof(when));
            printf("%s %-12s bound %12.3f us  %s%s%s\n", when, cb_status_name(oc.now.status),
                   st.have_poll ? (double)oc.now.bound_ns / 1000.0 : -1.0,
                   cb_reason_text(oc.now.reason), oc.rc < 0 ? "; " : "", msg);
        }
        fflush(stdout);
    }
    return EXIT_TRUE;
}

/* ---- Command line ---- */

static int set_chrony(void *target, const struct opts_entry *e, const char *value,
                      const struct opts_where *w, struct opts_why *why)
{
    (void)e;
    (void)w;
    struct options *o = target;
    why->sentence = true;
    return chrony_addr_setting(value, &o->chrony, o->chrony_text, sizeof(o->chrony_text), why->text,
                               sizeof(why->text));
}

static int set_phc_refid(void *target, const struct opts_entry *e, const char *value,
                         const struct opts_where *w, struct opts_why *why)
{
    (void)e;
    (void)w;
    if (cb_refid_parse(value, &((struct options *)target)->phc_ref_id) < 0) {
        snprintf(why->text, sizeof(why->text), "%s", CB_REFID_EXPECT);
        return -EINVAL;
    }
    return 0;
}

static const struct opts_entry entries[] = {
    {.kind = OPTS_SECTION, .name = "Options:"},
    {.kind = OPTS_CALL,
     .name = "chrony",
     .metavar = "ADDR",
     .set = set_chrony,
     .help =
         "chronyd's command socket: udp:HOST[:PORT] or unix:PATH (default " CHRONY_DEFAULT_ADDRESS
         ")"},
    {.kind = OPTS_INT,
     .name = "max-drift-ppb",
     .metavar = "N",
     OPTS_AT(struct options, params.max_drift_ppb),
     .min = 1,
     .max = CB_MAX_RATE_PPB,
     .help = "fastest the clock may drift, ppb"},
    {.kind = OPTS_INT,
     .name = "chrony-maxclockerror-ppb",
     .metavar = "N",
     OPTS_AT(struct options, params.chrony_maxclockerror_ppb),
     .min = 0,
     .max = CB_MAX_RATE_PPB,
     .help = "chrony's maxclockerror setting, ppb"},
    {.kind = OPTS_DURATION,
     .name = "max-bound",
     .metavar = "DURATION",
     OPTS_AT(struct options, params.max_bound_ns),
     .min = 0,
     .max = INT64_MAX,
     .expect = "a duration such as 10ms",
     .help = "a wider bound is UNKNOWN"},
    {.kind = OPTS_DURATION,
     .name = "grace",
     .metavar = "DURATION",
     OPTS_AT(struct options, params.grace_ns),
     .min = 0,
     .max = INT64_MAX,
     .expect = "a duration such as 5s",
     .help = "failing polls stay FREE_RUNNING this long"},
    {.kind = OPTS_STRING,
     .name = "phc-interface",
     .metavar = "IFACE",
     OPTS_AT(struct options, phc_interface),
     .help = "chrony follows the ENA PTP hardware clock of this interface: add the PHC's own "
             "error bound while it is chrony's reference (as oracled does)"},
    {.kind = OPTS_STRING,
     .name = "phc-error-bound-file",
     .metavar = "PATH",
     OPTS_AT(struct options, phc_file),
     .help = "... or read that bound (ns) from this file"},
    {.kind = OPTS_CALL,
     .name = "phc-refid",
     .metavar = "ID",
     .set = set_phc_refid,
     .help = "the PHC refclock's reference ID in chrony (default " CB_PHC_DEFAULT_REFID_TEXT ")"},
    {.kind = OPTS_DURATION,
     .name = "timeout",
     .metavar = "DURATION",
     OPTS_AT(struct options, query.timeout_ns),
     .min = 1000000,
     .max = 60000000000,
     .expect = "a duration from 1ms to 60s",
     .help = "wait for each chrony reply"},
    {.kind = OPTS_INT,
     .name = "attempts",
     .metavar = "N",
     OPTS_AT(struct options, query.attempts),
     .min = 1,
     .max = 100,
     .help = "tries per query, each a fresh request"},
    {.kind = OPTS_DURATION,
     .name = "interval",
     .metavar = "DURATION",
     OPTS_AT(struct options, interval_ns),
     .min = 1000000,
     .max = INT64_MAX,
     .expect = "a duration of at least 1ms",
     .help = "watch: time between polls"},
    {.kind = OPTS_INT,
     .name = "count",
     .metavar = "N",
     .flags = OPTS_NO_DEFAULT,
     OPTS_AT(struct options, count),
     .min = 1,
     .max = INT64_MAX,
     .expect = "a positive integer",
     .help = "watch: stop after N polls (default: until Ctrl-C)"},
    {.kind = OPTS_FLAG,
     .name = "json",
     OPTS_AT(struct options, json),
     .help = "machine-readable output"},
    {.kind = OPTS_HELP, .name = "help", .short_name = 'h', .help = "this help"},
    {.kind = OPTS_VERSION, .name = "version", .help = "print the version"},
};

static const struct opts_program program = {
    .name = "clockbound",
    .usage = "Usage: clockbound [OPTIONS] COMMAND\n"
             "\n"
             "Asks chrony how far off this machine's clock can be and answers with an interval\n"
             "[earliest, latest] that certainly contains true time (ns since the Unix epoch).\n"
             "\n"
             "Commands:\n"
             "  now         status, error bound, earliest and latest\n"
             "  before TS   is TS certainly in the past (TS < earliest)? exit 0 yes, 1 no\n"
             "  after TS    is TS certainly in the future (TS > latest)? exit 0 yes, 1 no\n"
             "  watch       poll chrony every --interval and print one line per poll\n"
             "              (Before/After use AWS ClockBound's names: Spanner's TT.after and\n"
             "              TT.before respectively.)\n"
             "\n",
    .footer = "\n"
              "Durations take a unit: ns, us, ms, s or m (e.g. 500us, 1.5s).\n"
              "Exit status: 0 success or true, 1 false, 2 error (chrony not answering, clock not\n"
              "synchronised, bad arguments).\n"
              "\n"
              "now, before and after ask chrony two or three times, 20 ms apart, until two\n"
              "answers show one chrony update: that measures how fast chrony's dispersion grows\n"
              "and how fast it slews (one answer alone makes the bound assume the worst of "
              "both).\n"
              "They cannot see a clock step made before they ran; watch (like oracled) waits\n"
              "for chrony's next measurement first (status UNKNOWN until then).\n",
    .entries = entries,
    .n_entries = ARRAY_SIZE(entries),
    .style = OPTS_STYLE_VALUE_FOR,
};

static void set_defaults(struct options *o)
{
    memset(o, 0, sizeof(*o));
    (void)chrony_addr_parse(CHRONY_DEFAULT_ADDRESS, &o->chrony, NULL);
    chrony_addr_format(&o->chrony, o->chrony_text, sizeof(o->chrony_text));
    cb_params_default(&o->params);
    o->phc_ref_id = CB_PHC_DEFAULT_REFID;
    o->query.timeout_ns = CHRONY_QUERY_DEFAULT_TIMEOUT_NS;
    o->query.attempts = CHRONY_QUERY_DEFAULT_ATTEMPTS;
    o->interval_ns = 1000000000;
}

static int print_help(void)
{
    struct options defaults;
    set_defaults(&defaults);
    struct strbuf b;
    strbuf_init(&b);
    opts_help(&program, &defaults, &b);
    int rc = b.failed ? EXIT_ERROR : EXIT_TRUE;
    if (b.failed) {
        fprintf(stderr, "clockbound: out of memory\n");
    } else {
        fputs(b.data, stdout);
    }
    strbuf_fini(&b);
    return rc;
}

/* Parses the options into *o, the command's index into *next. Returns -1 to go on, or the exit
 * status (--help, --version, a mistake). */
static int parse_options(int argc, char **argv, struct options *o, int *next)
{
    set_defaults(o);
    struct opts_state st;
    int rc = opts_command_line(&st, &program, o, argc, argv);
    *next = st.next_arg;
    opts_fini(&st);
    if (rc == OPTS_HELP_ASKED) {
        return print_help();
    }
    if (rc == OPTS_VERSION_ASKED) {
        printf("clockbound (oracled) %s\n", ORACLE_VERSION);
        return EXIT_TRUE;
    }
    if (rc < 0) {
        return EXIT_ERROR;
    }
    const char *why = NULL;
    if (cb_params_check(&o->params, &why) < 0) {
        fprintf(stderr, "clockbound: %s\n", why);
        return EXIT_ERROR;
    }
    if (o->phc_interface != NULL && o->phc_file != NULL) {
        fprintf(stderr, "clockbound: --phc-interface and --phc-error-bound-file name the same "
                        "thing two ways: give one\n");
        return EXIT_ERROR;
    }
    return -1;
}

int main(int argc, char **argv)
{
    struct options o;
    int next = 0;
    int rc = parse_options(argc, argv, &o, &next);
    if (rc >= 0) {
        return rc;
    }
    struct cb_phc phc;
    cb_phc_init(&phc);
    o.phc = &phc;
    if (o.phc_interface != NULL || o.phc_file != NULL) {
        char why[2 * CB_PHC_PATH_MAX + 256];
        if (cb_phc_open_setting(&phc, o.phc_interface, o.phc_file, why, sizeof(why)) < 0) {
            fprintf(stderr, "clockbound: %s\n", why);
            return EXIT_ERROR;
        }
    }
    if (next >= argc) {
        fprintf(stderr, "clockbound: missing command (now, before TS, after TS, watch); try "
                        "'clockbound --help'\n");
        return EXIT_ERROR;
    }
    const char *cmd = argv[next];
    int nargs = argc - next - 1;
    bool is_ts_cmd = strcmp(cmd, "before") == 0 || strcmp(cmd, "after") == 0;
    if (!is_ts_cmd && strcmp(cmd, "now") != 0 && strcmp(cmd, "watch") != 0) {
        fprintf(stderr, "clockbound: unknown command '%s'; try 'clockbound --help'\n", cmd);
        return EXIT_ERROR;
    }
    if (nargs != (is_ts_cmd ? 1 : 0)) {
        fprintf(stderr, "clockbound: '%s' takes %s\n", cmd,
                is_ts_cmd ? "one timestamp (ns since the epoch)" : "no arguments");
        return EXIT_ERROR;
    }

    int err = 0;
    struct chrony_client *client = chrony_client_new(&o.chrony, cb_clock_system(), &err);
    if (client == NULL) {
        fprintf(stderr, "clockbound: cannot open a socket to chrony at %s: %s\n", o.chrony_text,
                err == -EADDRNOTAVAIL ? "host name does not resolve" : strerror(-err));
        return EXIT_ERROR;
    }
    if (strcmp(cmd, "watch") == 0) {
        o.params.await_update_after_start = true;
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
    } else {
        o.params.await_update_after_start = false;
        snprintf(signal_unlink_path, sizeof(signal_unlink_path), "%s",
                 chrony_client_local_path(client));
        signal(SIGINT, on_signal_exit);
        signal(SIGTERM, on_signal_exit);
    }
    if (is_ts_cmd) {
        rc = cmd_before_after(client, &o, strcmp(cmd, "before") == 0, argv[next + 1]);
    } else if (strcmp(cmd, "now") == 0) {
        rc = cmd_now(client, &o);
    } else {
        rc = cmd_watch(client, &o);
    }
    chrony_client_free(client);
    cb_phc_close(&phc);
    return rc;
}

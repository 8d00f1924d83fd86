/* oracled's command line (see config.h). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "args.h"

#ifndef ORACLE_VERSION
#define ORACLE_VERSION "unknown"
#endif

static void usage(void)
{
    printf("Usage: oracled [OPTIONS]\n"
           "\n"
           "A commit-wait timestamp oracle: strictly increasing timestamps over TCP, with an\n"
           "error bound from chrony and, on request, replies held until the timestamp is\n"
           "certainly in the past. Protocol: proto/oracle.proto (varint-delimited protobuf).\n"
           "\n"
           "Options:\n"
           "  --listen HOST:PORT          listen here; repeat for more ([::]:7600 for IPv6)\n"
           "                              (default " SERVER_DEFAULT_LISTEN ")\n"
           "  --chrony ADDR               chronyd's command socket: udp:HOST[:PORT] or\n"
           "                              unix:PATH (default " CHRONY_DEFAULT_ADDRESS ")\n"
           "  --poll-interval DURATION    how often chrony is asked (default 20ms)\n"
           "  --max-drift-ppb N           fastest the clock may drift, ppb (default %d)\n"
           "  --chrony-maxclockerror-ppb N  chrony's maxclockerror setting, ppb (default %d)\n"
           "  --max-bound DURATION        a wider bound makes the clock UNKNOWN (default 10ms)\n"
           "  --grace DURATION            failing chrony polls stay FREE_RUNNING this long\n"
           "                              (default 5s)\n"
           "  --max-wait DURATION         the longest commit-wait held (default 100ms); more\n"
           "                              than twice --max-bound\n"
           "  --max-run-ahead DURATION    how far timestamps may run ahead of the clock's\n"
           "                              latest before requests get OVERLOADED (default 1ms)\n"
           "  --log-level LEVEL           err, warn, info or debug (default info)\n"
           "  -h, --help                  this help\n"
           "  --version                   print the version\n"
           "\n"
           "Durations take a unit: ns, us, ms, s or m. SIGINT or SIGTERM stops the server.\n",
           CB_DEFAULT_MAX_DRIFT_PPB, CB_DEFAULT_CHRONY_MAXCLOCKERROR_PPB);
}

static int bad(const char *opt, const char *value, const char *expect)
{
    fprintf(stderr, "oracled: invalid value '%s' for --%s: %s\n", value, opt, expect);
    return -EINVAL;
}

static int duration(const char *opt, const char *value, int64_t min, int64_t max, int64_t *out,
                    const char *expect)
{
    if (args_parse_duration_ns(value, out) < 0 || *out < min || *out > max) {
        return bad(opt, value, expect);
    }
    return 0;
}

int config_parse(int argc, char **argv, struct config *out)
{
    enum {
        O_LISTEN = 256,
        O_CHRONY,
        O_POLL,
        O_DRIFT,
        O_MAXCLOCKERROR,
        O_MAX_BOUND,
        O_GRACE,
        O_MAX_WAIT,
        O_RUN_AHEAD,
        O_LOG_LEVEL,
        O_VERSION,
    };
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"chrony", required_argument, NULL, O_CHRONY},
        {"poll-interval", required_argument, NULL, O_POLL},
        {"max-drift-ppb", required_argument, NULL, O_DRIFT},
        {"chrony-maxclockerror-ppb", required_argument, NULL, O_MAXCLOCKERROR},
        {"max-bound", required_argument, NULL, O_MAX_BOUND},
        {"grace", required_argument, NULL, O_GRACE},
        {"max-wait", required_argument, NULL, O_MAX_WAIT},
        {"max-run-ahead", required_argument, NULL, O_RUN_AHEAD},
        {"log-level", required_argument, NULL, O_LOG_LEVEL},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0},
    };
    memset(out, 0, sizeof(*out));
    struct server_config *sc = &out->server;
    const char *chrony = CHRONY_DEFAULT_ADDRESS;
    sc->poll_interval_ns = POLLER_DEFAULT_INTERVAL_NS;
    cb_params_default(&sc->clock);
    sc->max_wait_ns = SERVER_DEFAULT_MAX_WAIT;
    sc->max_run_ahead_ns = SERVER_DEFAULT_RUN_AHEAD;
    sc->version = ORACLE_VERSION;
    out->log_level = LOG_LEVEL_INFO;

    int c;
    int rc = 0;
    optind = 1;
    while (rc == 0 && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_LISTEN:
            if (sc->n_listen == SERVER_MAX_LISTEN) {
                rc = bad("listen", optarg, "at most 8 addresses");
            } else {
                sc->listen[sc->n_listen++] = optarg;
            }
            break;
        case O_CHRONY:
            chrony = optarg;
            break;
        case O_POLL:
            rc = duration("poll-interval", optarg, 1000000, 60000000000, &sc->poll_interval_ns,
                          "a duration from 1ms to 1m");
            break;
        case O_DRIFT:
            if (args_parse_i64(optarg, 1, CB_MAX_RATE_PPB, &sc->clock.max_drift_ppb) < 0) {
                rc = bad("max-drift-ppb", optarg, "an integer from 1 to 100000000");
            }
            break;
        case O_MAXCLOCKERROR:
            if (args_parse_i64(optarg, 0, CB_MAX_RATE_PPB, &sc->clock.chrony_maxclockerror_ppb) <
                0) {
                rc = bad("chrony-maxclockerror-ppb", optarg, "an integer from 0 to 100000000");
            }
            break;
        case O_MAX_BOUND:
            rc = duration("max-bound", optarg, 1000, 3600000000000, &sc->clock.max_bound_ns,
                          "a duration from 1us to 1h");
            break;
        case O_GRACE:
            rc = duration("grace", optarg, 0, 3600000000000, &sc->clock.grace_ns,
                          "a duration up to 1h");
            break;
        case O_MAX_WAIT:
            rc = duration("max-wait", optarg, 1000, 60000000000, &sc->max_wait_ns,
                          "a duration from 1us to 1m");
            break;
        case O_RUN_AHEAD:
            rc = duration("max-run-ahead", optarg, 1, 1000000000, &sc->max_run_ahead_ns,
                          "a duration from 1ns to 1s");
            break;
        case O_LOG_LEVEL:
            if (log_parse_level(optarg, &out->log_level) < 0) {
                rc = bad("log-level", optarg, "err, warn, info or debug");
            }
            break;
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
    if (rc < 0) {
        return rc;
    }
    if (optind < argc) {
        fprintf(stderr, "oracled: unexpected argument '%s'; try 'oracled --help'\n", argv[optind]);
        return -EINVAL;
    }
    if (sc->n_listen == 0) {
        sc->listen[sc->n_listen++] = SERVER_DEFAULT_LISTEN;
    }
    const char *why = NULL;
    if (chrony_addr_parse(chrony, &sc->chrony, &why) < 0) {
        fprintf(stderr, "oracled: invalid --chrony '%s': %s\n", chrony, why);
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
    sc->clock.await_update_after_start = true;
    return 0;
}

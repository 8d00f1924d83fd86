/*
 * fake-chrony: the scriptable fake chronyd as a program, for shell tests of the clockbound
 * command and of oracled. Prints "port N" (UDP) or "ready" (unix) on stdout once it listens,
 * then answers tracking requests as its options say until SIGTERM or SIGINT.
 *
 * With --update-every it follows a timeline instead (fake_timeline.h): reference updates at
 * that interval, the reference time held between them, the dispersion growing as chrony's; a
 * slew that chronyd may not live to finish; updates that stop. SIGUSR2 makes the event (--usr2):
 * a reference update now, the slew's update, or a last update. Everything it does and answers
 * goes to the --events file, one line each, the tests' truth:
 *
 *   update SYS_NS FAKE_NS OFFSET_NS REQUESTS CORRECTION_S DISPERSION_S REF_NS KIND
 *          (KIND: scheduled, forced, slew or last)
 *   slew T_SYS_NS CORRECTION_S RATE_PPM STOPPED SILENT_AFTER_NS
 *   step SYS_NS OLD_OFFSET_NS NEW_OFFSET_NS REQUESTS
 *   answer SYS_NS REQUEST REF_NS CORRECTION_S DELAY_S DISPERSION_S SKEW_PPM RESID_FREQ_PPM
 *   silent SYS_NS REQUEST            (the first request left unanswered: silent for good)
 *
 * SYS_NS is the system's CLOCK_REALTIME, FAKE_NS the fake's clock (plus the step offset).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_chrony.h"
#include "fake_timeline.h"
#include "step_offset.h"

static volatile sig_atomic_t stop;
static volatile sig_atomic_t event;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void on_usr2(int sig)
{
    (void)sig;
    event = 1;
}

static void usage(void)
{
    printf("Usage: fake-chrony [--port N | --unix PATH] [OPTIONS]\n"
           "Answers chrony tracking requests as scripted:\n"
           "  --leap N  --stratum N  --ref-id HEX  --ref-addr IPV4\n"
           "  --refclock             the reference is a refclock (no address)\n"
           "  --ref-age SECONDS      reference time this long before each request (negative:\n"
           "                         in the future; default 0.05)\n"
           "  --ref-time-zero        report no reference time\n"
           "  --correction S  --root-delay S  --root-dispersion S\n"
           "  --skew PPM  --resid-freq PPM  --update-interval S\n"
           "  --silent  --garbage  --bad-sequence  --status N  --reply-len N\n"
           "  --other-port           send each reply from another UDP port\n"
           "  --answer-after N       ignore the first N requests\n"
           "  --answer-count N       answer only N requests, then fall silent\n"
           "NTPDATA requests are answered about the address asked for:\n"
           "  --upstream-ref-id HEX  the server's own reference ID (default 47505300, GPS;\n"
           "                         7F7F0101 is LOCL, a server on its local clock)\n"
           "  --reset-status N       answer RESET_SOURCES and BURST with status N (default 2,\n"
           "                         unauthorised, as chronyd over UDP; 0: done)\n"
           "  --ntpdata-status N     refuse NTPDATA with status N (2: unauthorised, as chronyd\n"
           "                         does over UDP)\n");
}

/* The clock it reports from: the system's, plus a test's step (step_offset.h). */
static int64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + step_offset_ns();
}

static void usage_timeline(void)
{
    printf("A timeline (the reference time held between updates):\n"
           "  --update-every S       reference updates every S seconds\n"
           "  --maxclockerror PPM    chrony's maxclockerror: the dispersion grows at skew +\n"
           "                         |resid-freq| + this, per second (default 1)\n"
           "  --slew-rate PPM        the slew's rate (at SIGUSR2)\n"
           "  --slew-correction S    its correction (default rate x 1 s)\n"
           "  --silent-at S          silent for good S seconds after the slew's update\n"
           "  --any-slew             allow a slew chrony never makes (< 1 s, > 83,333 ppm)\n"
           "  --usr2 ACTION          SIGUSR2 makes: update (a reference update now, the\n"
           "                         default), slew (the slew's update; the default with\n"
           "                         --slew-rate), last (a last update; none after it)\n"
           "  --events FILE          what it did and answered, a line each\n");
}

/* The timeline mode's state, the refresh hook's argument. */
struct timeline_ctx {
    struct fake_timeline tl;
    int64_t offset_ns; /* the step offset the fake's clock is on */
    double skew_ppm, resid_ppm;
    FILE *events;
    struct fake_chrony *fake;
    bool logged_silent;
};

static int64_t sys_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void log_update(struct timeline_ctx *c, const char *kind)
{
    const struct fake_timeline *tl = &c->tl;
    fprintf(c->events, "update %" PRId64 " %" PRId64 " %" PRId64 " %u %.17g %.17g %" PRId64 " %s\n",
            tl->update_sys_ns, tl->update_ns, c->offset_ns, c->fake->requests, tl->update_corr_s,
            tl->update_disp_s, fake_timeline_ref_ns(tl), kind);
    fflush(c->events);
}

/* Brings the timeline to now: the updates due (each on the clock of its moment), then a step of
 * the shared clock if the offset file changed (seen now). */
static void catch_up(struct timeline_ctx *c, int64_t now)
{
    while (fake_timeline_next(&c->tl) <= now) {
        fake_timeline_update(&c->tl, fake_timeline_next(&c->tl), c->offset_ns);
        log_update(c, "scheduled");
    }
    int64_t off = step_offset_ns();
    if (off != c->offset_ns) {
        fprintf(c->events, "step %" PRId64 " %" PRId64 " %" PRId64 " %u\n", now, c->offset_ns, off,
                c->fake->requests);
        fflush(c->events);
        c->offset_ns = off;
    }
}

static void refresh(void *arg, unsigned request, struct fake_chrony_script *s)
{
    struct timeline_ctx *c = arg;
    int64_t now = sys_ns();
    catch_up(c, now);
    struct fake_timeline_report r;
    if (!fake_timeline_answer(&c->tl, now, c->offset_ns, &r)) {
        s->mode = FAKE_CHRONY_SILENT;
        if (!c->logged_silent) {
            fprintf(c->events, "silent %" PRId64 " %u\n", now, request);
            fflush(c->events);
            c->logged_silent = true;
        }
        return;
    }
    fake_timeline_apply(&r, s);
    fprintf(c->events, "answer %" PRId64 " %u %" PRId64 " %.17g %.17g %.17g %.17g %.17g\n", now,
            request, r.ref_ns, r.correction_s, r.root_delay_s, r.root_dispersion_s, c->skew_ppm,
            c->resid_ppm);
    fflush(c->events);
}

enum usr2_action { USR2_UPDATE, USR2_SLEW, USR2_LAST };

/* SIGUSR2: the event. */
static void on_event(struct timeline_ctx *c, enum usr2_action action)
{
    int64_t now = sys_ns();
    catch_up(c, now);
    if (action == USR2_SLEW) {
        if (c->tl.slewed) {
            return;
        }
        fake_timeline_slew(&c->tl, now, c->offset_ns);
        log_update(c, "slew");
        struct fake_slew_truth t;
        fake_timeline_truth(&c->tl, &t);
        fprintf(c->events, "slew %" PRId64 " %.17g %.17g %d %" PRId64 "\n", t.t_sys_ns,
                t.correction_s, t.rate_ppm, t.stopped, c->tl.p.silent_after_ns);
        fflush(c->events);
        return;
    }
    fake_timeline_update(&c->tl, now, c->offset_ns);
    if (action == USR2_LAST) {
        fake_timeline_freeze(&c->tl);
    }
    log_update(c, action == USR2_LAST ? "last" : "forced");
}

/* The timeline mode: serves in this thread (so the hook and the events need no more locking),
 * waking at least every 10 ms, and at once on a signal, to keep the timeline current. */
static int run_timeline(struct fake_chrony *f, const struct fake_chrony_script *s,
                        const struct fake_timeline_params *p, double skew_ppm, double resid_ppm,
                        bool any_slew, int usr2, const char *events_path)
{
    const char *why = NULL;
    if (fake_timeline_check(p, any_slew, &why) < 0) {
        fprintf(stderr, "fake-chrony: %s\n", why);
        return 2;
    }
    if (usr2 == USR2_SLEW && p->slew_correction_s == 0) {
        fprintf(stderr, "fake-chrony: --usr2 slew needs --slew-rate\n");
        return 2;
    }
    struct timeline_ctx c;
    memset(&c, 0, sizeof(c));
    c.events = fopen(events_path != NULL ? events_path : "/dev/null", "w");
    if (c.events == NULL) {
        fprintf(stderr, "fake-chrony: %s: %s\n", events_path, strerror(errno));
        return 1;
    }
    c.fake = f;
    c.skew_ppm = skew_ppm;
    c.resid_ppm = resid_ppm;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr2;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, NULL);
    c.offset_ns = step_offset_ns();
    fake_timeline_init(&c.tl, p, sys_ns(), c.offset_ns);
    log_update(&c, "scheduled");
    fake_chrony_set(f, s);
    fake_chrony_set_refresh(f, refresh, &c);
    if (f->path[0] != '\0') {
        printf("ready\n");
    } else {
        printf("port %u\n", (unsigned)f->port);
    }
    fflush(stdout);
    enum usr2_action action = usr2 >= 0                   ? (enum usr2_action)usr2
                              : p->slew_correction_s != 0 ? USR2_SLEW
                                                          : USR2_UPDATE;
    int rc = 0;
    while (!stop) {
        if (event) {
            event = 0;
            on_event(&c, action);
        }
        catch_up(&c, sys_ns());
        if (fake_chrony_serve_one(f, 10) < 0) {
            rc = 1;
            break;
        }
    }
    fake_chrony_set_refresh(f, NULL, NULL);
    fclose(c.events);
    return rc;
}

int main(int argc, char **argv)
{
    enum {
        O_PORT = 256,
        O_UNIX,
        O_UPDATE_EVERY,
        O_MAXCLOCKERROR,
        O_SLEW_RATE,
        O_SLEW_CORR,
        O_SILENT_AT,
        O_ANY_SLEW,
        O_USR2,
        O_EVENTS,
        O_LEAP,
        O_STRATUM,
        O_REFID,
        O_REFADDR,
        O_REFCLOCK,
        O_REFAGE,
        O_REFZERO,
        O_CORR,
        O_DELAY,
        O_DISP,
        O_SKEW,
        O_RESID,
        O_INTERVAL,
        O_SILENT,
        O_GARBAGE,
        O_BADSEQ,
        O_OTHERPORT,
        O_STATUS,
        O_LEN,
        O_AFTER,
        O_COUNT,
        O_HELP,
        O_UPSTREAM_REFID,
        O_NTPDATA_STATUS,
        O_RESET_STATUS,
    };
    static const struct option opts[] = {
        {"port", required_argument, NULL, O_PORT},
        {"unix", required_argument, NULL, O_UNIX},
        {"update-every", required_argument, NULL, O_UPDATE_EVERY},
        {"maxclockerror", required_argument, NULL, O_MAXCLOCKERROR},
        {"slew-rate", required_argument, NULL, O_SLEW_RATE},
        {"slew-correction", required_argument, NULL, O_SLEW_CORR},
        {"silent-at", required_argument, NULL, O_SILENT_AT},
        {"any-slew", no_argument, NULL, O_ANY_SLEW},
        {"usr2", required_argument, NULL, O_USR2},
        {"events", required_argument, NULL, O_EVENTS},
        {"leap", required_argument, NULL, O_LEAP},
        {"stratum", required_argument, NULL, O_STRATUM},
        {"ref-id", required_argument, NULL, O_REFID},
        {"ref-addr", required_argument, NULL, O_REFADDR},
        {"refclock", no_argument, NULL, O_REFCLOCK},
        {"ref-age", required_argument, NULL, O_REFAGE},
        {"ref-time-zero", no_argument, NULL, O_REFZERO},
        {"correction", required_argument, NULL, O_CORR},
        {"root-delay", required_argument, NULL, O_DELAY},
        {"root-dispersion", required_argument, NULL, O_DISP},
        {"skew", required_argument, NULL, O_SKEW},
        {"resid-freq", required_argument, NULL, O_RESID},
        {"update-interval", required_argument, NULL, O_INTERVAL},
        {"silent", no_argument, NULL, O_SILENT},
        {"garbage", no_argument, NULL, O_GARBAGE},
        {"bad-sequence", no_argument, NULL, O_BADSEQ},
        {"other-port", no_argument, NULL, O_OTHERPORT},
        {"status", required_argument, NULL, O_STATUS},
        {"reply-len", required_argument, NULL, O_LEN},
        {"answer-after", required_argument, NULL, O_AFTER},
        {"answer-count", required_argument, NULL, O_COUNT},
        {"help", no_argument, NULL, O_HELP},
        {"upstream-ref-id", required_argument, NULL, O_UPSTREAM_REFID},
        {"ntpdata-status", required_argument, NULL, O_NTPDATA_STATUS},
        {"reset-status", required_argument, NULL, O_RESET_STATUS},
        {NULL, 0, NULL, 0},
    };
    struct fake_chrony_script s;
    fake_chrony_script_default(&s, 0);
    long port = 0;
    const char *unix_path = NULL;
    double ref_age_s = 0.05;
    int ref_zero = 0;
    /* The timeline mode's settings (the doubles behind some of the script's floats). */
    double update_every_s = 0, maxclockerror_ppm = 1.0, slew_rate_ppm = 0, slew_corr_s = NAN;
    double silent_at_s = -1, delay_s = 6e-6, disp_s = 5e-7, skew_ppm = 2.0, resid_ppm = -0.5;
    bool any_slew = false;
    int usr2 = -1;
    const char *events_path = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_PORT:
            port = strtol(optarg, NULL, 10);
            break;
        case O_UNIX:
            unix_path = optarg;
            break;
        case O_UPDATE_EVERY:
            update_every_s = strtod(optarg, NULL);
            break;
        case O_MAXCLOCKERROR:
            maxclockerror_ppm = strtod(optarg, NULL);
            break;
        case O_SLEW_RATE:
            slew_rate_ppm = strtod(optarg, NULL);
            break;
        case O_SLEW_CORR:
            slew_corr_s = strtod(optarg, NULL);
            break;
        case O_SILENT_AT:
            silent_at_s = strtod(optarg, NULL);
            break;
        case O_ANY_SLEW:
            any_slew = true;
            break;
        case O_USR2:
            usr2 = strcmp(optarg, "update") == 0 ? USR2_UPDATE
                   : strcmp(optarg, "slew") == 0 ? USR2_SLEW
                   : strcmp(optarg, "last") == 0 ? USR2_LAST
                                                 : -2;
            if (usr2 == -2) {
                fprintf(stderr, "fake-chrony: --usr2 is update, slew or last\n");
                return 2;
            }
            break;
        case O_EVENTS:
            events_path = optarg;
            break;
        case O_LEAP:
            s.leap = (uint16_t)strtoul(optarg, NULL, 10);
            break;
        case O_STRATUM:
            s.stratum = (uint16_t)strtoul(optarg, NULL, 10);
            break;
        case O_REFID:
            s.ref_id = (uint32_t)strtoul(optarg, NULL, 16);
            break;
        case O_REFADDR:
            if (inet_pton(AF_INET, optarg, s.addr) != 1) {
                fprintf(stderr, "fake-chrony: bad --ref-addr\n");
                return 2;
            }
            break;
        case O_REFCLOCK:
            s.addr_family = 0; /* a refclock: no address, as chronyd reports one */
            memset(s.addr, 0, sizeof(s.addr));
            break;
        case O_REFAGE:
            ref_age_s = strtod(optarg, NULL);
            break;
        case O_REFZERO:
            ref_zero = 1;
            break;
        case O_CORR:
            s.current_correction_s = fake_chrony_float(strtod(optarg, NULL));
            break;
        case O_DELAY:
            delay_s = strtod(optarg, NULL);
            s.root_delay_s = fake_chrony_float(delay_s);
            break;
        case O_DISP:
            disp_s = strtod(optarg, NULL);
            s.root_dispersion_s = fake_chrony_float(disp_s);
            break;
        case O_SKEW:
            skew_ppm = strtod(optarg, NULL);
            s.skew_ppm = fake_chrony_float(skew_ppm);
            break;
        case O_RESID:
            resid_ppm = strtod(optarg, NULL);
            s.resid_freq_ppm = fake_chrony_float(resid_ppm);
            break;
        case O_INTERVAL:
            s.last_update_interval_s = fake_chrony_float(strtod(optarg, NULL));
            break;
        case O_SILENT:
            s.mode = FAKE_CHRONY_SILENT;
            break;
        case O_GARBAGE:
            s.mode = FAKE_CHRONY_GARBAGE;
            break;
        case O_OTHERPORT:
            s.other_port = true;
            break;
        case O_BADSEQ:
            s.seq_xor = 0x5a5a5a5a;
            break;
        case O_STATUS:
            s.status = (uint16_t)strtoul(optarg, NULL, 10);
            break;
        case O_LEN:
            s.reply_len = strtoul(optarg, NULL, 10);
            break;
        case O_AFTER:
            s.answer_after = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case O_COUNT:
            s.answer_limit = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case O_HELP:
            usage();
            usage_timeline();
            return 0;
        case O_UPSTREAM_REFID:
            s.upstream_ref_id = (uint32_t)strtoul(optarg, NULL, 16);
            break;
        case O_NTPDATA_STATUS:
            s.ntpdata_status = (uint16_t)strtoul(optarg, NULL, 10);
            break;
        case O_RESET_STATUS:
            s.reset_status = (uint16_t)strtoul(optarg, NULL, 10);
            break;
        default:
            usage();
            return 2;
        }
    }
    struct fake_chrony *f =
        unix_path ? fake_chrony_new_unix(unix_path) : fake_chrony_new_udp((uint16_t)port);
    if (f == NULL) {
        fprintf(stderr, "fake-chrony: cannot bind: %s\n", strerror(errno));
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    step_offset_init();
    if (update_every_s > 0) {
        struct fake_timeline_params p = {
            .update_every_ns = (int64_t)llround(update_every_s * 1e9),
            .root_delay_s = delay_s,
            .root_dispersion_s = disp_s,
            .growth_ppm = fabs(skew_ppm) + fabs(resid_ppm) + maxclockerror_ppm,
            .slew_rate_ppm = slew_rate_ppm,
            .slew_correction_s = isnan(slew_corr_s) ? slew_rate_ppm * 1e-6 : slew_corr_s,
            .silent_after_ns = silent_at_s < 0 ? -1 : (int64_t)llround(silent_at_s * 1e9),
        };
        p.before_slew_dispersion_s = fabs(p.slew_correction_s) + disp_s;
        int rc = run_timeline(f, &s, &p, skew_ppm, resid_ppm, any_slew, usr2, events_path);
        fake_chrony_free(f);
        return rc;
    }
    if (unix_path) {
        printf("ready\n");
    } else {
        printf("port %u\n", (unsigned)f->port);
    }
    fflush(stdout);
    while (!stop) {
        /* The reference time follows the clock, so a long-running fake stays fresh. */
        int64_t ref = ref_zero ? 0 : realtime_ns() - (int64_t)(ref_age_s * 1e9);
        s.ref_sec_high = (uint32_t)((uint64_t)(ref / 1000000000) >> 32);
        s.ref_sec_low = (uint32_t)(ref / 1000000000);
        s.ref_nsec = (uint32_t)(ref % 1000000000);
        fake_chrony_set(f, &s);
        if (fake_chrony_serve_one(f, 100) < 0) {
            break;
        }
    }
    fake_chrony_free(f);
    return 0;
}

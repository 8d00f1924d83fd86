/*
 * fake-chrony: the scriptable fake chronyd as a program, for shell tests of the clockbound
 * command (and later of oracled). Prints "port N" (UDP) or "ready" (unix) on stdout once it
 * listens, then answers tracking requests as its options say until SIGTERM or SIGINT.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_chrony.h"
#include "step_offset.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(void)
{
    printf("Usage: fake-chrony [--port N | --unix PATH] [OPTIONS]\n"
           "Answers chrony tracking requests as scripted:\n"
           "  --leap N  --stratum N  --ref-id HEX  --ref-addr IPV4\n"
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

int main(int argc, char **argv)
{
    enum {
        O_PORT = 256,
        O_UNIX,
        O_LEAP,
        O_STRATUM,
        O_REFID,
        O_REFADDR,
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
    };
    static const struct option opts[] = {
        {"port", required_argument, NULL, O_PORT},
        {"unix", required_argument, NULL, O_UNIX},
        {"leap", required_argument, NULL, O_LEAP},
        {"stratum", required_argument, NULL, O_STRATUM},
        {"ref-id", required_argument, NULL, O_REFID},
        {"ref-addr", required_argument, NULL, O_REFADDR},
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
        {NULL, 0, NULL, 0},
    };
    struct fake_chrony_script s;
    fake_chrony_script_default(&s, 0);
    long port = 0;
    const char *unix_path = NULL;
    double ref_age_s = 0.05;
    int ref_zero = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_PORT:
            port = strtol(optarg, NULL, 10);
            break;
        case O_UNIX:
            unix_path = optarg;
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
            s.root_delay_s = fake_chrony_float(strtod(optarg, NULL));
            break;
        case O_DISP:
            s.root_dispersion_s = fake_chrony_float(strtod(optarg, NULL));
            break;
        case O_SKEW:
            s.skew_ppm = fake_chrony_float(strtod(optarg, NULL));
            break;
        case O_RESID:
            s.resid_freq_ppm = fake_chrony_float(strtod(optarg, NULL));
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
            return 0;
        case O_UPSTREAM_REFID:
            s.upstream_ref_id = (uint32_t)strtoul(optarg, NULL, 16);
            break;
        case O_NTPDATA_STATUS:
            s.ntpdata_status = (uint16_t)strtoul(optarg, NULL, 10);
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

/*
 * Unit tests: the chrony client (clockbound/chrony_client.c) against the scriptable fake chronyd
 * over real loopback and unix sockets, blocking and driven from a libuv loop; RESET_SOURCES and
 * BURST against a fake of this file's own (null_fake) that answers those too.
 */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "chrony_client.h"
#include "clockbound.h"
#include "fake_chrony.h"
#include "fake_clock.h"

#define MS  INT64_C(1000000)
#define RT0 (INT64_C(1795620000) * INT64_C(1000000000))

/* The --chrony setting both programs share: the text it keeps, the sentence it refuses with. */
static void test_addr_setting(void **state)
{
    (void)state;
    struct chrony_addr a;
    char text[CHRONY_PATH_MAX + 16];
    char why[256] = "";
    assert_int_equal(chrony_addr_setting("udp:127.0.0.1", &a, text, sizeof(text), why, sizeof(why)),
                     0);
    assert_string_equal(text, "udp:127.0.0.1:323");
    assert_string_equal(why, "");
    assert_int_equal(chrony_addr_setting("tcp:x", &a, text, sizeof(text), why, sizeof(why)),
                     -EINVAL);
    assert_string_equal(why, "invalid --chrony 'tcp:x': chrony address must be udp:HOST[:PORT] or "
                             "unix:PATH");
}

static void test_addr_parse(void **state)
{
    (void)state;
    struct chrony_addr a;
    const char *why = NULL;
    char buf[200];
    assert_int_equal(chrony_addr_parse("udp:127.0.0.1:323", &a, &why), 0);
    assert_int_equal(a.transport, CHRONY_TRANSPORT_UDP);
    assert_string_equal(a.host, "127.0.0.1");
    assert_int_equal(a.port, 323);
    chrony_addr_format(&a, buf, sizeof(buf));
    assert_string_equal(buf, "udp:127.0.0.1:323");
    assert_int_equal(chrony_addr_parse("udp:localhost", &a, &why), 0);
    assert_int_equal(a.port, CHRONY_DEFAULT_PORT);
    assert_int_equal(chrony_addr_parse("udp:[::1]:11323", &a, &why), 0);
    assert_string_equal(a.host, "::1");
    assert_int_equal(a.port, 11323);
    chrony_addr_format(&a, buf, sizeof(buf));
    assert_string_equal(buf, "udp:[::1]:11323");
    assert_int_equal(chrony_addr_parse("udp:[::1]", &a, &why), 0);
    assert_int_equal(a.port, CHRONY_DEFAULT_PORT);
    assert_int_equal(chrony_addr_parse("unix:/run/chrony/chronyd.sock", &a, &why), 0);
    assert_int_equal(a.transport, CHRONY_TRANSPORT_UNIX);
    assert_string_equal(a.path, "/run/chrony/chronyd.sock");
    chrony_addr_format(&a, buf, sizeof(buf));
    assert_string_equal(buf, "unix:/run/chrony/chronyd.sock");

    const char *bad[] = {"127.0.0.1:323", "udp:",          "udp::323", "udp:h:0",  "udp:h:65536",
                         "udp:h:x",       "udp:h:-1",      "udp:h:",   "udp:::1",  "udp:[::1",
                         "udp:[::1]x",    "unix:relative", "tcp:h:1",  "udp:h:+5", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        if (chrony_addr_parse(bad[i], &a, &why) != -EINVAL) {
            fail_msg("'%s' accepted", bad[i]);
        }
        assert_non_null(why);
    }
    char longpath[300] = "unix:/";
    memset(longpath + 6, 'a', 200);
    longpath[206] = '\0';
    assert_int_equal(chrony_addr_parse(longpath, &a, &why), -ENAMETOOLONG);
    char longhost[400] = "udp:";
    memset(longhost + 4, 'h', 300);
    longhost[304] = '\0';
    assert_int_equal(chrony_addr_parse(longhost, &a, &why), -ENAMETOOLONG);
}

struct pair {
    struct fake_chrony *fake;
    struct chrony_client *client;
};

static int setup_udp(void **state)
{
    struct pair *p = calloc(1, sizeof(*p));
    p->fake = fake_chrony_new_udp(0);
    assert_non_null(p->fake);
    struct chrony_addr a = fake_chrony_udp_addr(p->fake->port);
    int err = 0;
    p->client = chrony_client_new(&a, cb_clock_system(), &err);
    assert_non_null(p->client);
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    struct pair *p = *state;
    chrony_client_free(p->client);
    fake_chrony_free(p->fake);
    free(p);
    return 0;
}

/* Sends one request, lets the fake answer it, and reads the reply. */
static int exchange(struct pair *p, const struct fake_chrony_script *s, struct chrony_tracking *t,
                    const char **why)
{
    struct cb_poll poll;
    fake_chrony_set(p->fake, s);
    assert_int_equal(chrony_client_send(p->client, 0), 0);
    assert_int_equal(fake_chrony_serve_one(p->fake, 1000), 1);
    /* The reply (if any) is on loopback by now; give the kernel a moment regardless. */
    for (int i = 0; i < 100; i++) {
        int rc = chrony_client_recv(p->client, &poll, why);
        if (rc == 0) {
            *t = poll.tracking;
        }
        if (rc != -EAGAIN || s->mode == FAKE_CHRONY_SILENT) {
            return rc;
        }
        usleep(1000);
    }
    return -EAGAIN;
}

static void test_udp_exchange(void **state)
{
    struct pair *p = *state;
    struct fake_chrony_script s;
    fake_chrony_script_default(&s, RT0);
    struct chrony_tracking t;
    const char *why = NULL;
    assert_int_equal(exchange(p, &s, &t, &why), 0);
    assert_int_equal(t.ref_time_ns, RT0);
    assert_int_equal(t.stratum, 2);
    assert_int_equal(p->fake->requests, 1);
    assert_int_equal(p->fake->bad_requests, 0); /* our request is what chronyd expects */
    assert_int_equal(p->fake->last_attempt, 0);
}

static void test_udp_bad_replies(void **state)
{
    struct pair *p = *state;
    struct fake_chrony_script s;
    struct chrony_tracking t;
    const char *why = NULL;

    fake_chrony_script_default(&s, RT0);
    s.seq_xor = 0xFFFF0000;
    assert_int_equal(exchange(p, &s, &t, &why), -ESTALE);

    fake_chrony_script_default(&s, RT0);
    s.mode = FAKE_CHRONY_SILENT;
    assert_int_equal(exchange(p, &s, &t, &why), -EAGAIN);

    fake_chrony_script_default(&s, RT0);
    s.mode = FAKE_CHRONY_GARBAGE;
    int rc = exchange(p, &s, &t, &why);
    assert_true(rc < 0 && rc != -EAGAIN);

    fake_chrony_script_default(&s, RT0);
    s.reply_len = 2000;
    why = NULL;
    assert_int_equal(exchange(p, &s, &t, &why), -EMSGSIZE);
    assert_string_equal(why, "reply is longer than any chrony reply");

    fake_chrony_script_default(&s, RT0);
    s.reply_len = 50;
    assert_int_equal(exchange(p, &s, &t, &why), -EMSGSIZE);

    fake_chrony_script_default(&s, RT0);
    s.status = 2;
    s.reply_len = 28;
    assert_int_equal(exchange(p, &s, &t, &why), -EREMOTEIO);
    assert_string_equal(why, "unauthorised");

    /* After all that, a good reply still gets through. */
    fake_chrony_script_default(&s, RT0);
    assert_int_equal(exchange(p, &s, &t, &why), 0);
}

static void test_query_retries_with_fresh_sequence(void **state)
{
    struct pair *p = *state;
    struct fake_chrony_script s;
    fake_chrony_script_default(&s, RT0);
    s.answer_after = 1; /* ignore the first request */
    fake_chrony_set(p->fake, &s);
    assert_int_equal(fake_chrony_start(p->fake), 0);
    struct chrony_query_opts o = {.timeout_ns = 50 * MS, .attempts = 3};
    struct cb_poll poll;
    const char *why = NULL;
    assert_int_equal(chrony_client_query(p->client, &o, &poll, &why), 0);
    assert_int_equal(fake_chrony_requests(p->fake), 2);
    assert_int_not_equal(p->fake->sequences[0], p->fake->sequences[1]);
    assert_int_equal(p->fake->last_attempt, 1);
    assert_true(poll.recv_rt_ns >= poll.sent.rt_ns);
    assert_int_equal(poll.tracking.ref_time_ns, RT0);
}

static void test_query_timeout(void **state)
{
    struct pair *p = *state;
    struct fake_chrony_script s;
    fake_chrony_script_default(&s, RT0);
    s.mode = FAKE_CHRONY_SILENT;
    fake_chrony_set(p->fake, &s);
    assert_int_equal(fake_chrony_start(p->fake), 0);
    struct chrony_query_opts o = {.timeout_ns = 30 * MS, .attempts = 3};
    struct cb_poll poll;
    const char *why = NULL;
    struct cb_clock *clk = cb_clock_system();
    int64_t t0 = cb_clock_ns(clk, CB_CLOCK_MONOTONIC);
    assert_int_equal(chrony_client_query(p->client, &o, &poll, &why), -ETIMEDOUT);
    int64_t elapsed = cb_clock_ns(clk, CB_CLOCK_MONOTONIC) - t0;
    assert_true(elapsed >= 90 * MS);
    assert_non_null(why);
    /* Every attempt was a separate, well-formed request with its own sequence number. */
    assert_int_equal(fake_chrony_requests(p->fake), 3);
    assert_int_not_equal(p->fake->sequences[0], p->fake->sequences[1]);
    assert_int_not_equal(p->fake->sequences[1], p->fake->sequences[2]);
}

static void test_query_ignores_stale_replies(void **state)
{
    struct pair *p = *state;
    /* Every reply carries a wrong sequence number: none may be taken. */
    struct fake_chrony_script s;
    fake_chrony_script_default(&s, RT0);
    s.seq_xor = 1;
    fake_chrony_set(p->fake, &s);
    assert_int_equal(fake_chrony_start(p->fake), 0);
    struct chrony_query_opts o = {.timeout_ns = 30 * MS, .attempts = 2};
    struct cb_poll poll;
    const char *why = NULL;
    assert_int_equal(chrony_client_query(p->client, &o, &poll, &why), -ETIMEDOUT);
}

static void test_query_tries_every_attempt_on_bad_replies(void **state)
{
    struct pair *p = *state;
    /* Garbage every time: each attempt is a fresh request, and the last error is reported. */
    struct fake_chrony_script s;
    fake_chrony_script_default(&s, RT0);
    s.mode = FAKE_CHRONY_GARBAGE;
    fake_chrony_set(p->fake, &s);
    assert_int_equal(fake_chrony_start(p->fake), 0);
    struct chrony_query_opts o = {.timeout_ns = 100 * MS, .attempts = 3};
    struct cb_poll poll;
    const char *why = NULL;
    int rc = chrony_client_query(p->client, &o, &poll, &why);
    assert_true(rc < 0 && rc != -ETIMEDOUT);
    assert_non_null(why);
    assert_int_equal(fake_chrony_requests(p->fake), 3);

    /* Garbage for the first request only: the second attempt succeeds. */
    fake_chrony_script_default(&s, RT0);
    s.garbage_first = fake_chrony_requests(p->fake) + 1;
    fake_chrony_set(p->fake, &s);
    assert_int_equal(chrony_client_query(p->client, &o, &poll, &why), 0);
    assert_int_equal(fake_chrony_requests(p->fake), 5);
}

static void test_query_bad_options(void **state)
{
    struct pair *p = *state;
    struct cb_poll poll;
    const char *why = NULL;
    struct chrony_query_opts none = {.timeout_ns = 100 * MS, .attempts = 0};
    assert_int_equal(chrony_client_query(p->client, &none, &poll, &why), -EINVAL);
    struct chrony_query_opts tiny = {.timeout_ns = 1000, .attempts = 1};
    assert_int_equal(chrony_client_query(p->client, &tiny, &poll, &why), -EINVAL);
}

/* The poll's reading is the one taken just before the request that was answered. */
static void test_reading_belongs_to_answered_request(void **state)
{
    (void)state;
    struct fake_chrony *f = fake_chrony_new_udp(0);
    assert_non_null(f);
    struct fake_chrony_script s;
    fake_chrony_script_default(&s, RT0);
    s.answer_after = 1;
    fake_chrony_set(f, &s);
    assert_int_equal(fake_chrony_start(f), 0);
    struct fake_clock fc;
    fake_clock_init(&fc, RT0, 1000 * MS);
    fc.tick_ns = 1000; /* every read moves the clock 1 us on */
    struct chrony_addr a = fake_chrony_udp_addr(f->port);
    int err = 0;
    struct chrony_client *c = chrony_client_new(&a, &fc.base, &err);
    assert_non_null(c);
    struct chrony_query_opts o = {.timeout_ns = 30 * MS, .attempts = 3};
    struct cb_poll poll;
    const char *why = NULL;
    assert_int_equal(chrony_client_query(c, &o, &poll, &why), 0);
    assert_int_equal(fake_chrony_requests(f), 2);
    /* Not the first send's reading (taken at RT0), a later one; the reply read after it. */
    assert_true(poll.sent.rt_ns > RT0);
    assert_int_equal(poll.sent.rt_hi_ns - poll.sent.rt_ns, 2000);
    assert_true(poll.recv_rt_ns > poll.sent.rt_hi_ns);
    chrony_client_free(c);
    fake_chrony_free(f);
}

static void test_query_refused(void **state)
{
    (void)state;
    /* A port nobody listens on: find one, then close it. */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    struct chrony_addr a = fake_chrony_udp_addr(ntohs(sa.sin_port));
    int err = 0;
    struct chrony_client *c = chrony_client_new(&a, cb_clock_system(), &err);
    assert_non_null(c);
    struct chrony_query_opts o = {.timeout_ns = 500 * MS, .attempts = 2};
    struct cb_poll poll;
    const char *why = NULL;
    struct cb_clock *clk = cb_clock_system();
    int64_t t0 = cb_clock_ns(clk, CB_CLOCK_MONOTONIC);
    assert_int_equal(chrony_client_query(c, &o, &poll, &why), -ECONNREFUSED);
    /* Refused at once, not after the timeouts. */
    assert_true(cb_clock_ns(clk, CB_CLOCK_MONOTONIC) - t0 < 400 * MS);
    chrony_client_free(c);
}

static void test_bad_host(void **state)
{
    (void)state;
    struct chrony_addr a = fake_chrony_udp_addr(323);
    strcpy(a.host, "no-such-host.invalid");
    int err = 0;
    assert_null(chrony_client_new(&a, cb_clock_system(), &err));
    assert_int_equal(err, -EADDRNOTAVAIL);
}

static int count_entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

static void test_unix_socket(void **state)
{
    (void)state;
    char dir[] = "/tmp/clockbound-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[200];
    snprintf(path, sizeof(path), "%s/chronyd.sock", dir);
    struct fake_chrony *f = fake_chrony_new_unix(path);
    assert_non_null(f);
    struct fake_chrony_script s;
    fake_chrony_script_default(&s, RT0);
    fake_chrony_set(f, &s);
    assert_int_equal(fake_chrony_start(f), 0);

    char text[220];
    snprintf(text, sizeof(text), "unix:%s", path);
    struct chrony_addr a;
    const char *why = NULL;
    assert_int_equal(chrony_addr_parse(text, &a, &why), 0);
    int err = 0;
    struct chrony_client *c = chrony_client_new(&a, cb_clock_system(), &err);
    assert_non_null(c);
    /* The client bound its own socket beside chronyd's ... */
    assert_int_equal(count_entries(dir, "clockbound."), 1);
    struct chrony_query_opts o = {.timeout_ns = 200 * MS, .attempts = 2};
    struct cb_poll poll;
    assert_int_equal(chrony_client_query(c, &o, &poll, &why), 0);
    assert_int_equal(poll.tracking.ref_time_ns, RT0);
    /* A second client in the same process gets its own name and its own replies. */
    struct chrony_client *c2 = chrony_client_new(&a, cb_clock_system(), &err);
    assert_non_null(c2);
    assert_int_equal(count_entries(dir, "clockbound."), 2);
    assert_string_not_equal(chrony_client_local_path(c), chrony_client_local_path(c2));
    assert_int_equal(chrony_client_query(c2, &o, &poll, &why), 0);
    chrony_client_free(c2);
    assert_int_equal(count_entries(dir, "clockbound."), 1);
    assert_int_equal(chrony_client_query(c, &o, &poll, &why), 0);
    chrony_client_free(c);
    /* ... and removed it. */
    assert_int_equal(count_entries(dir, "clockbound."), 0);
    fake_chrony_free(f);
    assert_int_equal(count_entries(dir, "chronyd.sock"), 0);
    assert_int_equal(rmdir(dir), 0);
}

static void test_unix_socket_missing(void **state)
{
    (void)state;
    char dir[] = "/tmp/clockbound-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char text[220];
    snprintf(text, sizeof(text), "unix:%s/chronyd.sock", dir);
    struct chrony_addr a;
    const char *why = NULL;
    assert_int_equal(chrony_addr_parse(text, &a, &why), 0);
    int err = 0;
    assert_null(chrony_client_new(&a, cb_clock_system(), &err));
    assert_int_equal(err, -ENOENT);
    /* Its own socket was not left behind. */
    assert_int_equal(count_entries(dir, "clockbound."), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* Each scripted reply, queried with a fake clock, gives the expected status and exact bound. */
struct scripted {
    const char *name;
    void (*script)(struct fake_chrony_script *s);
    int rc;
    enum cb_status status;
    enum cb_reason reason;
    int64_t bound_ns; /* -1: not checked */
};

static void sc_healthy(struct fake_chrony_script *s)
{
    (void)s;
}
static void sc_unsync(struct fake_chrony_script *s)
{
    s->leap = 3;
    s->ref_id = 0;
    s->ref_sec_high = s->ref_sec_low = s->ref_nsec = 0;
}
static void sc_local(struct fake_chrony_script *s)
{
    s->ref_id = CHRONY_REFID_LOCAL;
}
static void sc_ref_zero(struct fake_chrony_script *s)
{
    s->ref_sec_high = s->ref_sec_low = s->ref_nsec = 0;
}
static void sc_ref_future(struct fake_chrony_script *s)
{
    s->ref_sec_low += 1;
}
static void sc_stale(struct fake_chrony_script *s)
{
    s->ref_sec_low -= 5; /* RT0 - 5.1 s: past the 4 s floor of staleness */
}
static void sc_offset(struct fake_chrony_script *s)
{
    s->current_correction_s = 0xf4a3cb14; /* +4.998574 ms: clock slow */
}
static void sc_wide(struct fake_chrony_script *s)
{
    s->root_dispersion_s = fake_chrony_float(0.02);
}
static void sc_leap(struct fake_chrony_script *s)
{
    s->leap = 1;
}
static void sc_badseq(struct fake_chrony_script *s)
{
    s->seq_xor = 0x1000;
}
static void sc_garbage(struct fake_chrony_script *s)
{
    s->mode = FAKE_CHRONY_GARBAGE;
}
static void sc_silent(struct fake_chrony_script *s)
{
    s->mode = FAKE_CHRONY_SILENT;
}
static void sc_other_port(struct fake_chrony_script *s)
{
    s->other_port = true;
}
static void sc_short(struct fake_chrony_script *s)
{
    s->reply_len = 60;
}

/* One poll per case: chrony's maxclockerror cannot be measured from one report, so the top-up
 * takes it as 0 (bound.h) and the extra term grows at 47214 ppb, not the 46214 the configured
 * 1 ppm would give: 8248 = 8148 + 1000 ppb x 100 ms; stale: 2979 + 547 + 47214 ppb x 5.1 s;
 * 5 ms: 4998575 + 2979 + 547 + 47214 ppb x 104998575 ns (the age on chrony's timescale). */
static void test_scripted_status(void **state)
{
    (void)state;
    static const struct scripted cases[] = {
        {"healthy", sc_healthy, 0, CB_STATUS_SYNCHRONIZED, CB_REASON_OK, 8248},
        {"never synchronised", sc_unsync, 0, CB_STATUS_UNKNOWN, CB_REASON_CHRONY_UNSYNCHRONISED,
         -1},
        {"local reference", sc_local, 0, CB_STATUS_UNKNOWN, CB_REASON_LOCAL_REFERENCE, -1},
        {"no reference time", sc_ref_zero, 0, CB_STATUS_UNKNOWN, CB_REASON_NO_REFERENCE_TIME, -1},
        {"reference in the future", sc_ref_future, 0, CB_STATUS_UNKNOWN,
         CB_REASON_REFERENCE_IN_FUTURE, -1},
        {"stale reference", sc_stale, 0, CB_STATUS_FREE_RUNNING, CB_REASON_STALE_REFERENCE, 244318},
        {"5 ms correction", sc_offset, 0, CB_STATUS_SYNCHRONIZED, CB_REASON_OK, 5007059},
        {"20 ms dispersion", sc_wide, 0, CB_STATUS_UNKNOWN, CB_REASON_BOUND_TOO_WIDE, -1},
        {"leap announced, midday", sc_leap, 0, CB_STATUS_SYNCHRONIZED, CB_REASON_OK, 8248},
        {"wrong sequence", sc_badseq, -ETIMEDOUT, CB_STATUS_UNKNOWN, CB_REASON_NO_DATA, -1},
        {"garbage", sc_garbage, 1, CB_STATUS_UNKNOWN, CB_REASON_NO_DATA, -1},
        {"short reply", sc_short, -EMSGSIZE, CB_STATUS_UNKNOWN, CB_REASON_NO_DATA, -1},
        {"no reply", sc_silent, -ETIMEDOUT, CB_STATUS_UNKNOWN, CB_REASON_NO_DATA, -1},
        {"reply from another port", sc_other_port, -ETIMEDOUT, CB_STATUS_UNKNOWN, CB_REASON_NO_DATA,
         -1},
    };
    struct fake_chrony *f = fake_chrony_new_udp(0);
    assert_non_null(f);
    assert_int_equal(fake_chrony_start(f), 0);
    struct chrony_addr a = fake_chrony_udp_addr(f->port);
    int err = 0;
    struct fake_clock fc;
    fake_clock_init(&fc, RT0, 1000 * MS);
    struct chrony_client *c = chrony_client_new(&a, &fc.base, &err);
    assert_non_null(c);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("case '%s'\n", cases[i].name);
        struct fake_chrony_script s;
        fake_chrony_script_default(&s, RT0 - 100 * MS);
        s.root_delay_s = 0xe0c7d9a7;
        s.root_dispersion_s = 0xda9290d6;
        s.skew_ppm = 0x0693851f;
        s.resid_freq_ppm = 0x0108b439;
        cases[i].script(&s);
        fake_chrony_set(f, &s);

        /* Midday 2026-11-25 on a clock that does not move: t_query is exactly RT0. */
        fake_clock_init(&fc, RT0, 1000 * MS);
        struct cb_params params;
        cb_params_default(&params);
        params.await_update_after_start = false; /* one poll per case */
        struct cb_state st;
        cb_init(&st, &params);
        struct chrony_query_opts o = {.timeout_ns = 30 * MS, .attempts = 2};
        struct cb_poll poll;
        const char *why = NULL;
        int rc = chrony_client_query(c, &o, &poll, &why);
        struct cb_reading r = fake_clock_reading(&fc);
        if (rc == 0) {
            cb_on_poll(&st, &poll);
        } else {
            cb_on_poll_failure(&st, &r, rc);
        }
        if (cases[i].rc == 1) {
            assert_true(rc < 0);
        } else if (rc != cases[i].rc) {
            fail_msg("query returned %d (%s), want %d", rc, why ? why : "", cases[i].rc);
        }
        struct cb_now n;
        cb_now(&st, &r, &n);
        assert_int_equal(n.status, cases[i].status);
        assert_int_equal(n.reason, cases[i].reason);
        if (cases[i].bound_ns >= 0) {
            assert_int_equal(n.bound_ns, cases[i].bound_ns);
        }
    }
    /* The other-port case timed out although the fake did answer, from elsewhere: the client's
     * connected socket dropped those replies. */
    pthread_mutex_lock(&f->lock);
    unsigned other = f->other_port_replies;
    pthread_mutex_unlock(&f->lock);
    assert_true(other >= 1);
    chrony_client_free(c);
    fake_chrony_free(f);
}

/* The client driven from a libuv loop, as oracled drives it: uv_poll for replies, a uv_timer
 * that polls every 5 ms and resends when a reply is late. */
struct uv_poller {
    struct chrony_client *client;
    uv_poll_t poll;
    uv_timer_t timer;
    bool waiting;
    int sent;
    int replies;
    int stale;
    int want;
    int64_t last_sent_mono_ns;
};

static void on_readable(uv_poll_t *h, int status, int events)
{
    (void)events;
    struct uv_poller *p = h->data;
    assert_int_equal(status, 0);
    for (;;) {
        struct cb_poll poll;
        const char *why = NULL;
        int rc = chrony_client_recv(p->client, &poll, &why);
        if (rc == -EAGAIN) {
            break;
        }
        if (rc == -ESTALE) {
            p->stale++;
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(poll.tracking.stratum, 2);
        /* The reading was taken before this request went out, the other one after the reply. */
        assert_true(poll.sent.rt_ns <= poll.recv_rt_ns);
        assert_true(poll.sent.mono_ns > p->last_sent_mono_ns);
        p->last_sent_mono_ns = poll.sent.mono_ns;
        p->waiting = false;
        p->replies++;
    }
    if (p->replies >= p->want) {
        uv_timer_stop(&p->timer);
        uv_poll_stop(&p->poll);
    }
}

static void on_tick(uv_timer_t *h)
{
    struct uv_poller *p = h->data;
    /* A reply still outstanding at the next tick is late: resend with a fresh sequence. */
    assert_int_equal(chrony_client_send(p->client, p->waiting ? 1 : 0), 0);
    p->waiting = true;
    p->sent++;
}

static void test_libuv_driven(void **state)
{
    (void)state;
    struct fake_chrony *f = fake_chrony_new_udp(0);
    assert_non_null(f);
    struct fake_chrony_script s;
    fake_chrony_script_default(&s, RT0);
    s.answer_after = 1; /* the first request goes unanswered: the loop must resend */
    fake_chrony_set(f, &s);
    assert_int_equal(fake_chrony_start(f), 0);

    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct uv_poller p = {.want = 5};
    struct chrony_addr a = fake_chrony_udp_addr(f->port);
    int err = 0;
    p.client = chrony_client_new(&a, cb_clock_system(), &err);
    assert_non_null(p.client);
    assert_int_equal(uv_poll_init(&loop, &p.poll, chrony_client_fd(p.client)), 0);
    assert_int_equal(uv_timer_init(&loop, &p.timer), 0);
    p.poll.data = &p;
    p.timer.data = &p;
    assert_int_equal(uv_poll_start(&p.poll, UV_READABLE, on_readable), 0);
    assert_int_equal(uv_timer_start(&p.timer, on_tick, 0, 5), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(p.replies, 5);
    assert_true(p.sent >= 6); /* one resend at least */
    assert_int_equal(fake_chrony_requests(f), (unsigned)p.sent);

    uv_close((uv_handle_t *)&p.poll, NULL);
    uv_close((uv_handle_t *)&p.timer, NULL);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    chrony_client_free(p.client);
    fake_chrony_free(f);
}

/* --- NTPDATA on the same socket --- */

static const uint8_t upstream_v4[16] = {10, 0, 0, 1};
static const uint8_t upstream_v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x7b};

/* Reads replies until one arrives (up to 100 ms). */
static int recv_one(struct chrony_client *c, struct chrony_reply *r, const char **why)
{
    for (int i = 0; i < 100; i++) {
        int rc = chrony_client_recv_reply(c, r, why);
        if (rc != -EAGAIN) {
            return rc;
        }
        usleep(1000);
    }
    return -EAGAIN;
}

static void test_ntpdata_exchange(void **state)
{
    struct pair *p = *state;
    struct fake_chrony_script s;
    fake_chrony_script_default(&s, RT0);
    s.upstream_ref_id = CHRONY_REFID_LOCAL;
    fake_chrony_set(p->fake, &s);
    assert_int_equal(chrony_client_send_ntpdata(p->client, CHRONY_ADDR_INET4, upstream_v4, 0), 0);
    assert_int_equal(fake_chrony_serve_one(p->fake, 1000), 1);
    struct chrony_reply r;
    const char *why = NULL;
    assert_int_equal(recv_one(p->client, &r, &why), 0);
    assert_int_equal(r.kind, CHRONY_REPLY_NTPDATA);
    assert_int_equal(r.ntpdata.ref_id, CHRONY_REFID_LOCAL);
    assert_int_equal(r.ntpdata.addr_family, CHRONY_ADDR_INET4);
    assert_memory_equal(r.ntpdata.addr, upstream_v4, 4);
    /* The request was what chronyd expects, about the address asked for. */
    assert_int_equal(p->fake->bad_requests, 0);
    assert_int_equal(p->fake->ntpdata_requests, 1);
    assert_int_equal(p->fake->requests, 0);
    assert_int_equal(p->fake->last_ntpdata_family, 1);
    assert_memory_equal(p->fake->last_ntpdata_addr, upstream_v4, 16);
    /* Answered: the same reply again would be stale. Nothing else is waiting. */
    assert_int_equal(chrony_client_recv_reply(p->client, &r, &why), -EAGAIN);

    /* IPv6, and the other flavour of server. */
    s.upstream_ref_id = 0x47505300;
    fake_chrony_set(p->fake, &s);
    assert_int_equal(chrony_client_send_ntpdata(p->client, CHRONY_ADDR_INET6, upstream_v6, 2), 0);
    assert_int_equal(fake_chrony_serve_one(p->fake, 1000), 1);
    assert_int_equal(recv_one(p->client, &r, &why), 0);
    assert_int_equal(r.kind, CHRONY_REPLY_NTPDATA);
    assert_int_equal(r.ntpdata.ref_id, 0x47505300);
    assert_memory_equal(r.ntpdata.addr, upstream_v6, 16);
    assert_int_equal(p->fake->last_ntpdata_family, 2);
    assert_int_equal(p->fake->bad_requests, 0);

    assert_int_equal(chrony_client_send_ntpdata(p->client, 3, upstream_v4, 0), -EAFNOSUPPORT);
}

/* Tracking and NTPDATA requests in flight together, answered in either order, each reply taken
 * by its own request; the tracking poll keeps the reading taken before its own request. */
static void test_ntpdata_interleaved_with_tracking(void **state)
{
    (void)state;
    struct fake_chrony *f = fake_chrony_new_udp(0);
    assert_non_null(f);
    struct fake_chrony_script s;
    fake_chrony_script_default(&s, RT0);
    fake_chrony_set(f, &s);
    struct fake_clock fc;
    fake_clock_init(&fc, RT0, 1000 * MS);
    fc.tick_ns = 1000;
    struct chrony_addr a = fake_chrony_udp_addr(f->port);
    int err = 0;
    struct chrony_client *c = chrony_client_new(&a, &fc.base, &err);
    assert_non_null(c);
    for (int order = 0; order < 2; order++) {
        int64_t before_ns = fc.rt_ns;
        if (order == 0) {
            assert_int_equal(chrony_client_send(c, 0), 0);
            assert_int_equal(chrony_client_send_ntpdata(c, 1, upstream_v4, 0), 0);
        } else {
            assert_int_equal(chrony_client_send_ntpdata(c, 1, upstream_v4, 0), 0);
            before_ns = fc.rt_ns;
            assert_int_equal(chrony_client_send(c, 0), 0);
        }
        assert_int_equal(fake_chrony_serve_one(f, 1000), 1);
        assert_int_equal(fake_chrony_serve_one(f, 1000), 1);
        bool got_tracking = false, got_ntpdata = false;
        for (int i = 0; i < 2; i++) {
            struct chrony_reply r;
            const char *why = NULL;
            assert_int_equal(recv_one(c, &r, &why), 0);
            if (r.kind == CHRONY_REPLY_TRACKING) {
                got_tracking = true;
                assert_int_equal(r.poll.tracking.ref_time_ns, RT0);
                assert_int_equal(r.poll.sent.rt_ns, before_ns); /* its own send's reading */
            } else {
                got_ntpdata = true;
                assert_int_equal(r.ntpdata.ref_id, 0x47505300);
            }
        }
        assert_true(got_tracking && got_ntpdata);
    }
    assert_int_equal(f->requests, 2);
    assert_int_equal(f->ntpdata_requests, 2);
    assert_int_equal(f->bad_requests, 0);
    chrony_client_free(c);
    fake_chrony_free(f);
}

static void test_ntpdata_stale_refused_mismatched(void **state)
{
    struct pair *p = *state;
    struct fake_chrony_script s;
    struct chrony_reply r;
    const char *why = NULL;

    /* An NTPDATA reply nobody asked for is dropped, whichever call reads it. */
    fake_chrony_script_default(&s, RT0);
    fake_chrony_set(p->fake, &s);
    assert_int_equal(chrony_client_send_ntpdata(p->client, 1, upstream_v4, 0), 0);
    assert_int_equal(fake_chrony_serve_one(p->fake, 1000), 1);
    struct cb_poll poll;
    int rc = -EAGAIN;
    for (int i = 0; i < 100 && rc == -EAGAIN; i++) {
        rc = chrony_client_recv(p->client, &poll, &why); /* the tracking-only call */
        usleep(rc == -EAGAIN ? 1000 : 0);
    }
    assert_int_equal(rc, -ESTALE);
    assert_string_equal(why, "not a tracking reply");

    /* Two requests: the reply to the first is stale once the second is sent. */
    assert_int_equal(chrony_client_send_ntpdata(p->client, 1, upstream_v4, 0), 0);
    assert_int_equal(chrony_client_send_ntpdata(p->client, 1, upstream_v4, 1), 0);
    assert_int_equal(fake_chrony_serve_one(p->fake, 1000), 1);
    assert_int_equal(fake_chrony_serve_one(p->fake, 1000), 1);
    assert_int_equal(recv_one(p->client, &r, &why), -ESTALE);
    assert_int_equal(r.kind, CHRONY_REPLY_NTPDATA);
    assert_int_equal(recv_one(p->client, &r, &why), 0);
    /* Once answered, a duplicate of that very answer (same sequence, from chronyd's port) is
     * stale: nothing is awaited any more. */
    uint8_t again[2048];
    size_t len = fake_chrony_build_ntpdata_reply(&s, p->fake->last_ntpdata_sequence, 1, upstream_v4,
                                                 again, sizeof(again));
    struct sockaddr_storage me;
    socklen_t me_len = sizeof(me);
    assert_int_equal(getsockname(chrony_client_fd(p->client), (struct sockaddr *)&me, &me_len), 0);
    assert_int_equal(sendto(p->fake->fd, again, len, 0, (struct sockaddr *)&me, me_len),
                     (ssize_t)len);
    assert_int_equal(recv_one(p->client, &r, &why), -ESTALE);
    assert_int_equal(r.kind, CHRONY_REPLY_NTPDATA);
    assert_string_equal(why, "NTPDATA reply to no pending request");

    /* A wrong sequence number: stale, and the request still waits for its answer. */
    s.ntpdata_seq_xor = 0x10000;
    fake_chrony_set(p->fake, &s);
    assert_int_equal(chrony_client_send_ntpdata(p->client, 1, upstream_v4, 0), 0);
    assert_int_equal(fake_chrony_serve_one(p->fake, 1000), 1);
    assert_int_equal(recv_one(p->client, &r, &why), -ESTALE);
    assert_int_equal(r.kind, CHRONY_REPLY_NTPDATA);

    /* A report about another address: refused. */
    fake_chrony_script_default(&s, RT0);
    s.ntpdata_other_addr = true;
    fake_chrony_set(p->fake, &s);
    assert_int_equal(chrony_client_send_ntpdata(p->client, 1, upstream_v4, 0), 0);
    assert_int_equal(fake_chrony_serve_one(p->fake, 1000), 1);
    assert_int_equal(recv_one(p->client, &r, &why), -EBADMSG);
    assert_int_equal(r.kind, CHRONY_REPLY_NTPDATA);
    assert_string_equal(why, "NTPDATA reply is about another address than the one asked about");

    /* chronyd's refusal over UDP. */
    fake_chrony_script_default(&s, RT0);
    s.ntpdata_status = 2;
    fake_chrony_set(p->fake, &s);
    assert_int_equal(chrony_client_send_ntpdata(p->client, 1, upstream_v4, 0), 0);
    assert_int_equal(fake_chrony_serve_one(p->fake, 1000), 1);
    assert_int_equal(recv_one(p->client, &r, &why), -EREMOTEIO);
    assert_int_equal(r.kind, CHRONY_REPLY_NTPDATA);
    assert_string_equal(why, "unauthorised");

    /* Garbage is the tracking request's failure, as before. */
    fake_chrony_script_default(&s, RT0);
    s.mode = FAKE_CHRONY_GARBAGE;
    fake_chrony_set(p->fake, &s);
    assert_int_equal(chrony_client_send(p->client, 0), 0);
    assert_int_equal(fake_chrony_serve_one(p->fake, 1000), 1);
    rc = recv_one(p->client, &r, &why);
    assert_true(rc < 0 && rc != -EAGAIN);
    assert_int_equal(r.kind, CHRONY_REPLY_TRACKING);

    /* After all that, tracking still works through the old call. */
    struct chrony_tracking t;
    fake_chrony_script_default(&s, RT0);
    assert_int_equal(exchange(p, &s, &t, &why), 0);
    assert_int_equal(t.ref_time_ns, RT0);
    assert_int_equal(p->fake->bad_requests, 0);
}

static void test_ntpdata_query(void **state)
{
    struct pair *p = *state;
    struct fake_chrony_script s;
    fake_chrony_script_default(&s, RT0);
    s.upstream_ref_id = CHRONY_REFID_LOCAL;
    fake_chrony_set(p->fake, &s);
    assert_int_equal(fake_chrony_start(p->fake), 0);
    struct chrony_query_opts o = {.timeout_ns = 30 * MS, .attempts = 2};
    struct chrony_ntpdata d;
    const char *why = NULL;
    assert_int_equal(chrony_client_query_ntpdata(p->client, &o, 1, upstream_v4, &d, &why), 0);
    assert_int_equal(d.ref_id, CHRONY_REFID_LOCAL);

    s.ntpdata_status = 2;
    fake_chrony_set(p->fake, &s);
    assert_int_equal(chrony_client_query_ntpdata(p->client, &o, 1, upstream_v4, &d, &why),
                     -EREMOTEIO);
    assert_string_equal(why, "unauthorised");
    assert_int_equal(fake_chrony_ntpdata_requests(p->fake), 3); /* a refusal: every attempt */

    s.ntpdata_status = 0;
    s.ntpdata_silent = true;
    fake_chrony_set(p->fake, &s);
    assert_int_equal(chrony_client_query_ntpdata(p->client, &o, 1, upstream_v4, &d, &why),
                     -ETIMEDOUT);
    assert_int_equal(chrony_client_query_ntpdata(p->client, &o, 0, upstream_v4, &d, &why),
                     -EAFNOSUPPORT);
    struct chrony_query_opts bad = {.timeout_ns = 0, .attempts = 1};
    assert_int_equal(chrony_client_query_ntpdata(p->client, &bad, 1, upstream_v4, &d, &why),
                     -EINVAL);
    /* Tracking answers are unaffected by the silence about NTPDATA. */
    struct cb_poll poll;
    assert_int_equal(chrony_client_query(p->client, &o, &poll, &why), 0);
    assert_int_equal(p->fake->bad_requests, 0);
}

static void test_ntpdata_unix_socket(void **state)
{
    (void)state;
    char dir[] = "/tmp/clockbound-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[200];
    snprintf(path, sizeof(path), "%s/chronyd.sock", dir);
    struct fake_chrony *f = fake_chrony_new_unix(path);
    assert_non_null(f);
    struct fake_chrony_script s;
    fake_chrony_script_default(&s, RT0);
    s.upstream_ref_id = CHRONY_REFID_LOCAL;
    fake_chrony_set(f, &s);
    assert_int_equal(fake_chrony_start(f), 0);
    char text[220];
    snprintf(text, sizeof(text), "unix:%s", path);
    struct chrony_addr a;
    const char *why = NULL;
    assert_int_equal(chrony_addr_parse(text, &a, &why), 0);
    int err = 0;
    struct chrony_client *c = chrony_client_new(&a, cb_clock_system(), &err);
    assert_non_null(c);
    struct chrony_query_opts o = {.timeout_ns = 200 * MS, .attempts = 2};
    struct chrony_ntpdata d;
    assert_int_equal(chrony_client_query_ntpdata(c, &o, 2, upstream_v6, &d, &why), 0);
    assert_int_equal(d.ref_id, CHRONY_REFID_LOCAL);
    assert_memory_equal(d.addr, upstream_v6, 16);
    struct cb_poll poll;
    assert_int_equal(chrony_client_query(c, &o, &poll, &why), 0);
    chrony_client_free(c);
    fake_chrony_free(f);
    assert_int_equal(rmdir(dir), 0);
}

/* --- RESET_SOURCES and BURST on the same socket --- */

/*
 * A fake chronyd that also answers RESET_SOURCES and BURST: fake_chrony (tests/support) answers
 * tracking and NTPDATA requests only, so this one serves them all from a thread of its own. It
 * checks each RESET_SOURCES request is the 28 bytes and each BURST request the 68 bytes chronyd
 * 4.3 wants (a header, zeros, a BURST's counts @60 and @64: see chrony_proto.h), counts the
 * others as bad and leaves them unanswered, and answers the good ones as scripted. Tracking and
 * NTPDATA requests get fake_chrony's replies.
 */
struct null_script {
    uint16_t status;     /* 0, or e.g. CHRONY_STT_UNAUTH: what chronyd says over UDP */
    uint32_t seq_xor;    /* nonzero: the echoed sequence is xored with it */
    size_t len;          /* reply length: 28, or more (zero-padded) */
    uint16_t reply_type; /* CHRONY_RPY_NULL */
    unsigned silent;     /* leave this many null requests unanswered first */
};

struct null_fake {
    int fd;
    char path[108]; /* unix socket ("" for UDP) */
    uint16_t port;
    pthread_t thread;
    bool running;
    int stop_pipe[2];
    pthread_mutex_t lock;
    struct null_script script;
    struct fake_chrony_script other; /* tracking and NTPDATA replies */
    unsigned requests;               /* well-formed RESET_SOURCES and BURST requests seen */
    unsigned bad;                    /* requests chronyd would not take */
    uint16_t commands[16];           /* ... the first 16: command, */
    uint16_t attempts[16];           /* attempt counter, */
    uint32_t sequences[16];          /* sequence, */
    int32_t n_good[16], n_total[16]; /* and a BURST's counts */
};

static void null_script_default(struct null_script *s)
{
    memset(s, 0, sizeof(*s));
    s->len = CHRONY_NULL_REPLY_LEN;
    s->reply_type = CHRONY_RPY_NULL;
}

static uint32_t be32_at(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static bool zero_bytes(const uint8_t *p, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        if (p[i] != 0) {
            return false;
        }
    }
    return true;
}

/* Handles one request of n bytes; returns the reply's length in reply (0: no reply). */
static size_t null_fake_answer(struct null_fake *f, const uint8_t *req, size_t n, uint8_t *reply,
                               size_t cap)
{
    uint16_t command = (uint16_t)(req[4] << 8 | req[5]);
    uint32_t seq = be32_at(req + 8);
    if (n >= 12 && command == CHRONY_REQ_TRACKING) {
        return fake_chrony_build_reply(&f->other, seq, reply, cap);
    }
    if (n == CHRONY_NTPDATA_LEN && command == CHRONY_REQ_NTP_DATA) {
        return fake_chrony_build_ntpdata_reply(&f->other, seq, req[37], req + 20, reply, cap);
    }
    size_t want = command == CHRONY_REQ_BURST ? CHRONY_BURST_LEN : CHRONY_RESET_SOURCES_LEN;
    bool ok = (command == CHRONY_REQ_BURST || command == CHRONY_REQ_RESET_SOURCES) && n == want &&
              req[0] == 6 && req[1] == 1 && req[2] == 0 && req[3] == 0 &&
              zero_bytes(req, 12, command == CHRONY_REQ_BURST ? 60 : want);
    if (!ok) {
        f->bad++;
        return 0;
    }
    unsigned i = f->requests++;
    if (i < 16) {
        f->commands[i] = command;
        f->attempts[i] = (uint16_t)(req[6] << 8 | req[7]);
        f->sequences[i] = seq;
        f->n_good[i] = command == CHRONY_REQ_BURST ? (int32_t)be32_at(req + 60) : 0;
        f->n_total[i] = command == CHRONY_REQ_BURST ? (int32_t)be32_at(req + 64) : 0;
    }
    if (f->requests <= f->script.silent) {
        return 0;
    }
    size_t len = f->script.len < cap ? f->script.len : cap;
    memset(reply, 0, len);
    reply[0] = 6;
    reply[1] = 2;
    reply[4] = (uint8_t)(command >> 8);
    reply[5] = (uint8_t)command;
    reply[6] = (uint8_t)(f->script.reply_type >> 8);
    reply[7] = (uint8_t)f->script.reply_type;
    reply[8] = (uint8_t)(f->script.status >> 8);
    reply[9] = (uint8_t)f->script.status;
    uint32_t echo = seq ^ f->script.seq_xor;
    reply[16] = (uint8_t)(echo >> 24);
    reply[17] = (uint8_t)(echo >> 16);
    reply[18] = (uint8_t)(echo >> 8);
    reply[19] = (uint8_t)echo;
    return len;
}

/* Waits up to timeout_ms for one request and answers it. Returns 1, 0 on timeout. */
static int null_fake_serve_one(struct null_fake *f, int timeout_ms)
{
    struct pollfd pfd[2] = {{.fd = f->fd, .events = POLLIN},
                            {.fd = f->stop_pipe[0], .events = POLLIN}};
    if (poll(pfd, 2, timeout_ms) <= 0 || (pfd[0].revents & POLLIN) == 0) {
        return 0;
    }
    uint8_t req[1024];
    uint8_t reply[1024];
    struct sockaddr_storage from;
    socklen_t fromlen = sizeof(from);
    ssize_t n = recvfrom(f->fd, req, sizeof(req), 0, (struct sockaddr *)&from, &fromlen);
    if (n < 0) {
        return 0;
    }
    pthread_mutex_lock(&f->lock);
    size_t len = null_fake_answer(f, req, (size_t)n, reply, sizeof(reply));
    pthread_mutex_unlock(&f->lock);
    if (len > 0) {
        (void)sendto(f->fd, reply, len, 0, (struct sockaddr *)&from, fromlen);
    }
    return 1;
}

static void *null_fake_thread(void *arg)
{
    struct null_fake *f = arg;
    for (;;) {
        struct pollfd stop = {.fd = f->stop_pipe[0], .events = POLLIN};
        if (poll(&stop, 1, 0) > 0) {
            return NULL;
        }
        (void)null_fake_serve_one(f, 100);
    }
}

static struct null_fake *null_fake_new(const char *unix_path)
{
    struct null_fake *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    pthread_mutex_init(&f->lock, NULL);
    assert_int_equal(pipe(f->stop_pipe), 0);
    null_script_default(&f->script);
    fake_chrony_script_default(&f->other, RT0);
    if (unix_path == NULL) {
        f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t sl = sizeof(sa);
        assert_int_equal(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(getsockname(f->fd, (struct sockaddr *)&sa, &sl), 0);
        f->port = ntohs(sa.sin_port);
    } else {
        f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        assert_true(strlen(unix_path) < sizeof(sa.sun_path));
        strcpy(sa.sun_path, unix_path);
        strcpy(f->path, unix_path);
        assert_int_equal(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    }
    assert_true(f->fd >= 0);
    return f;
}

static void null_fake_start(struct null_fake *f)
{
    assert_int_equal(pthread_create(&f->thread, NULL, null_fake_thread, f), 0);
    f->running = true;
}

static void null_fake_set(struct null_fake *f, const struct null_script *s)
{
    pthread_mutex_lock(&f->lock);
    f->script = *s;
    pthread_mutex_unlock(&f->lock);
}

static unsigned null_fake_requests(struct null_fake *f)
{
    pthread_mutex_lock(&f->lock);
    unsigned n = f->requests;
    pthread_mutex_unlock(&f->lock);
    return n;
}

static void null_fake_free(struct null_fake *f)
{
    if (f->running) {
        assert_int_equal(write(f->stop_pipe[1], "x", 1), 1);
        pthread_join(f->thread, NULL);
    }
    close(f->fd);
    close(f->stop_pipe[0]);
    close(f->stop_pipe[1]);
    if (f->path[0] != '\0') {
        unlink(f->path);
    }
    pthread_mutex_destroy(&f->lock);
    free(f);
}

struct null_pair {
    struct null_fake *fake;
    struct chrony_client *client;
};

static int setup_null(void **state)
{
    struct null_pair *p = calloc(1, sizeof(*p));
    p->fake = null_fake_new(NULL);
    struct chrony_addr a = fake_chrony_udp_addr(p->fake->port);
    int err = 0;
    p->client = chrony_client_new(&a, cb_clock_system(), &err);
    assert_non_null(p->client);
    *state = p;
    return 0;
}

static int teardown_null(void **state)
{
    struct null_pair *p = *state;
    chrony_client_free(p->client);
    null_fake_free(p->fake);
    free(p);
    return 0;
}

static void test_reset_burst_exchange(void **state)
{
    struct null_pair *p = *state;
    struct chrony_reply r;
    const char *why = NULL;

    assert_int_equal(chrony_client_send_reset_sources(p->client, 0), 0);
    assert_int_equal(null_fake_serve_one(p->fake, 1000), 1);
    assert_int_equal(recv_one(p->client, &r, &why), 0);
    assert_int_equal(r.kind, CHRONY_REPLY_RESET_SOURCES);
    /* Answered: nothing else waits. */
    assert_int_equal(chrony_client_recv_reply(p->client, &r, &why), -EAGAIN);

    assert_int_equal(chrony_client_send_burst(p->client, CHRONY_BURST_GOOD_SAMPLES,
                                              CHRONY_BURST_TOTAL_SAMPLES, 3),
                     0);
    assert_int_equal(null_fake_serve_one(p->fake, 1000), 1);
    assert_int_equal(recv_one(p->client, &r, &why), 0);
    assert_int_equal(r.kind, CHRONY_REPLY_BURST);

    /* The requests were what chronyd 4.3 takes (28 and 68 bytes, zeros, the counts). */
    assert_int_equal(p->fake->bad, 0);
    assert_int_equal(p->fake->requests, 2);
    assert_int_equal(p->fake->commands[0], CHRONY_REQ_RESET_SOURCES);
    assert_int_equal(p->fake->attempts[0], 0);
    assert_int_equal(p->fake->commands[1], CHRONY_REQ_BURST);
    assert_int_equal(p->fake->attempts[1], 3);
    assert_int_equal(p->fake->n_good[1], 4);
    assert_int_equal(p->fake->n_total[1], 8);
    assert_int_not_equal(p->fake->sequences[0], p->fake->sequences[1]);

    /* Bad counts: nothing is sent. */
    assert_int_equal(chrony_client_send_burst(p->client, 0, 8, 0), -EINVAL);
    assert_int_equal(chrony_client_send_burst(p->client, 9, 8, 0), -EINVAL);
    assert_int_equal(null_fake_serve_one(p->fake, 50), 0);
}

/* Sends a RESET_SOURCES request, has the fake answer it as s says, and reads the reply. */
static int reset_with(struct null_pair *p, const struct null_script *s, struct chrony_reply *r,
                      const char **why)
{
    null_fake_set(p->fake, s);
    assert_int_equal(chrony_client_send_reset_sources(p->client, 0), 0);
    assert_int_equal(null_fake_serve_one(p->fake, 1000), 1);
    return recv_one(p->client, r, why);
}

static void test_reset_burst_refused_stale_malformed(void **state)
{
    struct null_pair *p = *state;
    struct null_script s;
    struct chrony_reply r;
    const char *why = NULL;

    /* chronyd's refusal over UDP, for both. */
    null_script_default(&s);
    s.status = CHRONY_STT_UNAUTH;
    assert_int_equal(reset_with(p, &s, &r, &why), -EREMOTEIO);
    assert_int_equal(r.kind, CHRONY_REPLY_RESET_SOURCES);
    assert_string_equal(why, "unauthorised");
    null_fake_set(p->fake, &s);
    assert_int_equal(chrony_client_send_burst(p->client, 4, 8, 0), 0);
    assert_int_equal(null_fake_serve_one(p->fake, 1000), 1);
    assert_int_equal(recv_one(p->client, &r, &why), -EREMOTEIO);
    assert_int_equal(r.kind, CHRONY_REPLY_BURST);
    assert_string_equal(why, "unauthorised");
    /* A BURST to a chronyd without sources. */
    s.status = CHRONY_STT_NOSUCHSOURCE;
    null_fake_set(p->fake, &s);
    assert_int_equal(chrony_client_send_burst(p->client, 4, 8, 0), 0);
    assert_int_equal(null_fake_serve_one(p->fake, 1000), 1);
    assert_int_equal(recv_one(p->client, &r, &why), -EREMOTEIO);
    assert_string_equal(why, "no such source");

    /* Malformed: too long, another reply type. That request is over either way. */
    null_script_default(&s);
    s.len = 29;
    assert_int_equal(reset_with(p, &s, &r, &why), -EMSGSIZE);
    assert_int_equal(r.kind, CHRONY_REPLY_RESET_SOURCES);
    null_script_default(&s);
    s.reply_type = CHRONY_RPY_TRACKING;
    assert_int_equal(reset_with(p, &s, &r, &why), -EPROTO);
    assert_string_equal(why, "RESET_SOURCES reply type is not RPY_NULL");

    /* A wrong sequence number: stale, and the request still waits for its answer. */
    null_script_default(&s);
    s.seq_xor = 0x10000;
    assert_int_equal(reset_with(p, &s, &r, &why), -ESTALE);
    assert_int_equal(r.kind, CHRONY_REPLY_RESET_SOURCES);
    uint8_t again[CHRONY_NULL_REPLY_LEN];
    memset(again, 0, sizeof(again));
    again[0] = 6;
    again[1] = 2;
    again[5] = CHRONY_REQ_RESET_SOURCES;
    again[7] = CHRONY_RPY_NULL;
    uint32_t seq = p->fake->sequences[p->fake->requests - 1];
    again[16] = (uint8_t)(seq >> 24);
    again[17] = (uint8_t)(seq >> 16);
    again[18] = (uint8_t)(seq >> 8);
    again[19] = (uint8_t)seq;
    struct sockaddr_storage me;
    socklen_t me_len = sizeof(me);
    assert_int_equal(getsockname(chrony_client_fd(p->client), (struct sockaddr *)&me, &me_len), 0);
    assert_int_equal(sendto(p->fake->fd, again, sizeof(again), 0, (struct sockaddr *)&me, me_len),
                     (ssize_t)sizeof(again));
    assert_int_equal(recv_one(p->client, &r, &why), 0); /* the right one, late */
    assert_int_equal(r.kind, CHRONY_REPLY_RESET_SOURCES);
    /* Once answered, a duplicate of that very answer is stale: nothing is awaited any more. */
    assert_int_equal(sendto(p->fake->fd, again, sizeof(again), 0, (struct sockaddr *)&me, me_len),
                     (ssize_t)sizeof(again));
    assert_int_equal(recv_one(p->client, &r, &why), -ESTALE);
    assert_string_equal(why, "RESET_SOURCES reply to no pending request");
    /* And a BURST reply when only a reset was asked for: no BURST is pending. */
    again[5] = CHRONY_REQ_BURST;
    assert_int_equal(sendto(p->fake->fd, again, sizeof(again), 0, (struct sockaddr *)&me, me_len),
                     (ssize_t)sizeof(again));
    assert_int_equal(recv_one(p->client, &r, &why), -ESTALE);
    assert_int_equal(r.kind, CHRONY_REPLY_BURST);
    assert_string_equal(why, "BURST reply to no pending request");

    /* Two resets: the reply to the first is stale once the second is sent. */
    null_script_default(&s);
    null_fake_set(p->fake, &s);
    assert_int_equal(chrony_client_send_reset_sources(p->client, 0), 0);
    assert_int_equal(chrony_client_send_reset_sources(p->client, 1), 0);
    assert_int_equal(null_fake_serve_one(p->fake, 1000), 1);
    assert_int_equal(null_fake_serve_one(p->fake, 1000), 1);
    assert_int_equal(recv_one(p->client, &r, &why), -ESTALE);
    assert_int_equal(recv_one(p->client, &r, &why), 0);

    /* A BURST with bad counts leaves the pending one alone. */
    assert_int_equal(chrony_client_send_burst(p->client, 4, 8, 0), 0);
    assert_int_equal(chrony_client_send_burst(p->client, 0, 0, 1), -EINVAL);
    assert_int_equal(null_fake_serve_one(p->fake, 1000), 1);
    assert_int_equal(recv_one(p->client, &r, &why), 0);
    assert_int_equal(r.kind, CHRONY_REPLY_BURST);

    /* The tracking-only call drops them (and so ends their wait). */
    assert_int_equal(chrony_client_send_reset_sources(p->client, 0), 0);
    assert_int_equal(null_fake_serve_one(p->fake, 1000), 1);
    struct cb_poll poll;
    int rc = -EAGAIN;
    for (int i = 0; i < 100 && rc == -EAGAIN; i++) {
        rc = chrony_client_recv(p->client, &poll, &why);
        usleep(rc == -EAGAIN ? 1000 : 0);
    }
    assert_int_equal(rc, -ESTALE);
    assert_string_equal(why, "not a tracking reply");
    assert_int_equal(p->fake->bad, 0);
}

/* All four requests in flight at once, answered in reverse order: each reply goes to its own
 * request, and the tracking poll keeps the reading taken before its own send. */
static void test_reset_burst_interleaved(void **state)
{
    (void)state;
    struct null_fake *f = null_fake_new(NULL);
    struct fake_clock fc;
    fake_clock_init(&fc, RT0, 1000 * MS);
    fc.tick_ns = 1000;
    struct chrony_addr a = fake_chrony_udp_addr(f->port);
    int err = 0;
    struct chrony_client *c = chrony_client_new(&a, &fc.base, &err);
    assert_non_null(c);
    assert_int_equal(chrony_client_send_reset_sources(c, 0), 0);
    int64_t before_ns = fc.rt_ns;
    assert_int_equal(chrony_client_send(c, 0), 0);
    assert_int_equal(chrony_client_send_burst(c, 4, 8, 0), 0);
    assert_int_equal(chrony_client_send_ntpdata(c, CHRONY_ADDR_INET4, upstream_v4, 0), 0);
    /* Read all four requests, then answer them last first. */
    uint8_t req[4][1024];
    ssize_t n[4];
    struct sockaddr_storage from;
    socklen_t fromlen = sizeof(from);
    for (int i = 0; i < 4; i++) {
        n[i] = recvfrom(f->fd, req[i], sizeof(req[i]), 0, (struct sockaddr *)&from, &fromlen);
        assert_true(n[i] > 0);
    }
    for (int i = 3; i >= 0; i--) {
        uint8_t reply[1024];
        size_t len = null_fake_answer(f, req[i], (size_t)n[i], reply, sizeof(reply));
        assert_true(len > 0);
        assert_int_equal(sendto(f->fd, reply, len, 0, (struct sockaddr *)&from, fromlen),
                         (ssize_t)len);
    }
    bool seen[4] = {false, false, false, false};
    for (int i = 0; i < 4; i++) {
        struct chrony_reply r;
        const char *why = NULL;
        assert_int_equal(recv_one(c, &r, &why), 0);
        assert_false(seen[r.kind]);
        seen[r.kind] = true;
        if (r.kind == CHRONY_REPLY_TRACKING) {
            assert_int_equal(r.poll.tracking.ref_time_ns, RT0);
            assert_int_equal(r.poll.sent.rt_ns, before_ns);
        } else if (r.kind == CHRONY_REPLY_NTPDATA) {
            assert_memory_equal(r.ntpdata.addr, upstream_v4, 4);
        }
    }
    assert_true(seen[CHRONY_REPLY_TRACKING] && seen[CHRONY_REPLY_NTPDATA] &&
                seen[CHRONY_REPLY_RESET_SOURCES] && seen[CHRONY_REPLY_BURST]);
    assert_int_equal(f->bad, 0);
    assert_int_equal(f->requests, 2);
    chrony_client_free(c);
    null_fake_free(f);
}

static void test_reset_burst_query(void **state)
{
    struct null_pair *p = *state;
    null_fake_start(p->fake);
    struct chrony_query_opts o = {.timeout_ns = 30 * MS, .attempts = 3};
    const char *why = NULL;
    assert_int_equal(chrony_client_query_reset_sources(p->client, &o, &why), 0);
    assert_int_equal(chrony_client_query_burst(p->client, &o, 4, 8, &why), 0);
    assert_int_equal(null_fake_requests(p->fake), 2);

    /* The first request goes unanswered: resent with a fresh sequence number, attempt 1. */
    struct null_script s;
    null_script_default(&s);
    s.silent = 3;
    null_fake_set(p->fake, &s);
    assert_int_equal(chrony_client_query_reset_sources(p->client, &o, &why), 0);
    assert_int_equal(null_fake_requests(p->fake), 4);
    pthread_mutex_lock(&p->fake->lock);
    assert_int_not_equal(p->fake->sequences[2], p->fake->sequences[3]);
    assert_int_equal(p->fake->attempts[2], 0);
    assert_int_equal(p->fake->attempts[3], 1);
    pthread_mutex_unlock(&p->fake->lock);

    /* A refusal is chronyd's answer: not asked again. */
    null_script_default(&s);
    s.status = CHRONY_STT_UNAUTH;
    null_fake_set(p->fake, &s);
    assert_int_equal(chrony_client_query_burst(p->client, &o, 4, 8, &why), -EREMOTEIO);
    assert_string_equal(why, "unauthorised");
    assert_int_equal(null_fake_requests(p->fake), 5);

    /* Malformed every time: every attempt, the last error. */
    null_script_default(&s);
    s.len = 40;
    null_fake_set(p->fake, &s);
    assert_int_equal(chrony_client_query_reset_sources(p->client, &o, &why), -EMSGSIZE);
    assert_int_equal(null_fake_requests(p->fake), 8);

    /* Silence: every attempt, then a timeout. */
    null_script_default(&s);
    s.silent = 1000;
    null_fake_set(p->fake, &s);
    assert_int_equal(chrony_client_query_burst(p->client, &o, 4, 8, &why), -ETIMEDOUT);
    assert_int_equal(null_fake_requests(p->fake), 11);

    /* Bad options and counts: nothing sent. */
    struct chrony_query_opts bad = {.timeout_ns = 30 * MS, .attempts = 0};
    assert_int_equal(chrony_client_query_reset_sources(p->client, &bad, &why), -EINVAL);
    assert_int_equal(chrony_client_query_burst(p->client, &o, 8, 4, &why), -EINVAL);
    assert_non_null(why);
    assert_int_equal(null_fake_requests(p->fake), 11);

    /* Tracking is unaffected. */
    struct cb_poll poll;
    assert_int_equal(chrony_client_query(p->client, &o, &poll, &why), 0);
    assert_int_equal(poll.tracking.ref_time_ns, RT0);
    pthread_mutex_lock(&p->fake->lock);
    assert_int_equal(p->fake->bad, 0);
    pthread_mutex_unlock(&p->fake->lock);
}

static void test_reset_burst_unix_socket(void **state)
{
    (void)state;
    char dir[] = "/tmp/clockbound-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[200];
    snprintf(path, sizeof(path), "%s/chronyd.sock", dir);
    struct null_fake *f = null_fake_new(path);
    null_fake_start(f);
    char text[220];
    snprintf(text, sizeof(text), "unix:%s", path);
    struct chrony_addr a;
    const char *why = NULL;
    assert_int_equal(chrony_addr_parse(text, &a, &why), 0);
    int err = 0;
    struct chrony_client *c = chrony_client_new(&a, cb_clock_system(), &err);
    assert_non_null(c);
    struct chrony_query_opts o = {.timeout_ns = 200 * MS, .attempts = 2};
    assert_int_equal(chrony_client_query_reset_sources(c, &o, &why), 0);
    assert_int_equal(chrony_client_query_burst(c, &o, 4, 8, &why), 0);
    chrony_client_free(c);
    assert_int_equal(null_fake_requests(f), 2);
    assert_int_equal(f->bad, 0);
    null_fake_free(f);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_parse),
        cmocka_unit_test(test_addr_setting),
        cmocka_unit_test_setup_teardown(test_udp_exchange, setup_udp, teardown),
        cmocka_unit_test_setup_teardown(test_udp_bad_replies, setup_udp, teardown),
        cmocka_unit_test_setup_teardown(test_query_retries_with_fresh_sequence, setup_udp,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_query_timeout, setup_udp, teardown),
        cmocka_unit_test_setup_teardown(test_query_ignores_stale_replies, setup_udp, teardown),
        cmocka_unit_test_setup_teardown(test_query_tries_every_attempt_on_bad_replies, setup_udp,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_query_bad_options, setup_udp, teardown),
        cmocka_unit_test(test_reading_belongs_to_answered_request),
        cmocka_unit_test(test_query_refused),
        cmocka_unit_test(test_bad_host),
        cmocka_unit_test(test_unix_socket),
        cmocka_unit_test(test_unix_socket_missing),
        cmocka_unit_test(test_scripted_status),
        cmocka_unit_test(test_libuv_driven),
        cmocka_unit_test_setup_teardown(test_ntpdata_exchange, setup_udp, teardown),
        cmocka_unit_test(test_ntpdata_interleaved_with_tracking),
        cmocka_unit_test_setup_teardown(test_ntpdata_stale_refused_mismatched, setup_udp, teardown),
        cmocka_unit_test_setup_teardown(test_ntpdata_query, setup_udp, teardown),
        cmocka_unit_test(test_ntpdata_unix_socket),
        cmocka_unit_test_setup_teardown(test_reset_burst_exchange, setup_null, teardown_null),
        cmocka_unit_test_setup_teardown(test_reset_burst_refused_stale_malformed, setup_null,
                                        teardown_null),
        cmocka_unit_test(test_reset_burst_interleaved),
        cmocka_unit_test_setup_teardown(test_reset_burst_query, setup_null, teardown_null),
        cmocka_unit_test(test_reset_burst_unix_socket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

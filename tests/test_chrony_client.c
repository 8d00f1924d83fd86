/*
 * Unit tests: the chrony client (clockbound/chrony_client.c) against the scriptable fake chronyd
 * over real loopback and unix sockets, blocking and driven from a libuv loop.
 */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "chrony_client.h"
#include "clockbound.h"
#include "fake_chrony.h"
#include "fake_clock.h"

#define MS  INT64_C(1000000)
#define RT0 (INT64_C(1795620000) * INT64_C(1000000000))

static struct chrony_addr udp_addr(uint16_t port)
{
    struct chrony_addr a;
    memset(&a, 0, sizeof(a));
    a.transport = CHRONY_TRANSPORT_UDP;
    strcpy(a.host, "127.0.0.1");
    a.port = port;
    return a;
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
    struct chrony_addr a = udp_addr(p->fake->port);
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
    struct chrony_addr a = udp_addr(f->port);
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
    struct chrony_addr a = udp_addr(ntohs(sa.sin_port));
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
    struct chrony_addr a = udp_addr(323);
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
    struct chrony_addr a = udp_addr(f->port);
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
    struct chrony_addr a = udp_addr(f->port);
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
    struct chrony_addr a = udp_addr(f->port);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_parse),
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

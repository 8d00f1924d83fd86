/*
 * Unit tests: the chrony poller on a libuv loop (oracle/poller.c) against the scriptable fake
 * chronyd (tests/support/fake_chrony) over loopback UDP and a unix socket, on a fake clock that
 * stands still so bounds are exact: a poll's result in the callback and the clock state, NTPDATA
 * about the reference (an upstream on its own clock, refused, unanswered), chrony silent,
 * refusing or answering wrongly, gone and back, the PHC's
 * error bound added, RESET_SOURCES and BURST (refused, carried out, unanswered), the errors of
 * poller_init and poller_set_phc, and closing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "clockbound.h"
#include "fake_chrony.h"
#include "fake_clock.h"
#include "fd0_stand_in.h"
#include "log.h"
#include "loop_until.h"
#include "poller.h"

#define MS      INT64_C(1000000)
#define RT0     (INT64_C(1795620000) * INT64_C(1000000000))
#define MONO0   (1000 * MS)
#define ONCE_NS (INT64_C(60000) * MS) /* an interval no test outlives: the first poll only */
#define FAST_NS (10 * MS)
#define SLOW_NS (100 * MS) /* replies come within it, however loaded the machine */
#define WAIT_MS 10000      /* deadlines: seconds, for a loaded machine under valgrind */
/* The healthy reply's bound on the still fake clock (test_chrony_client's "healthy" case: one
 * poll, reference 100 ms old, chrony's maxclockerror taken as 0). */
#define HEALTHY_BOUND_NS 8248
#define PHC_NS           30000

/* What the callback saw, call by call. */
struct seen {
    uint64_t polls_ok, polls_failed;
    int last_error;
    const char *last_why;
    struct cb_now now; /* cb_now() of the state at that moment */
};

struct env {
    uv_loop_t loop;
    char dir[64]; /* private: unix sockets, PHC files */
    struct fake_chrony *fake;
    struct fake_chrony *extra; /* a second fake a test starts (freed by the teardown) */
    struct fake_chrony_script script;
    struct fake_clock fc;
    struct cb_state st;
    struct poller p;
    bool p_open; /* initialised and not closed */
    unsigned calls;
    struct seen seen[64];
    unsigned upstream_calls;
    unsigned closed_calls;
};

static void on_poll(struct poller *p)
{
    struct env *e = p->data;
    assert_ptr_equal(p, &e->p);
    if (e->calls < sizeof(e->seen) / sizeof(e->seen[0])) {
        struct seen *s = &e->seen[e->calls];
        s->polls_ok = p->polls_ok;
        s->polls_failed = p->polls_failed;
        s->last_error = p->last_error;
        s->last_why = p->last_why;
        struct cb_reading r = fake_clock_reading(&e->fc);
        cb_now(p->state, &r, &s->now);
    }
    e->calls++;
}

static void on_upstream(struct poller *p)
{
    struct env *e = p->data;
    e->upstream_calls++;
}

static void on_closed(struct poller *p)
{
    struct env *e = p->data;
    e->closed_calls++;
}

/* The reply test_chrony_client's scripted cases start from: synchronised to 127.0.0.1. */
static void healthy_script(struct fake_chrony_script *s)
{
    fake_chrony_script_default(s, RT0 - 100 * MS);
    s->root_delay_s = 0xe0c7d9a7;
    s->root_dispersion_s = 0xda9290d6;
    s->skew_ppm = 0x0693851f;
    s->resid_freq_ppm = 0x0108b439;
}

/* A fresh clock state and clock, as at a start. */
static void reset_state(struct env *e)
{
    struct cb_params params;
    cb_params_default(&params);
    params.await_update_after_start = false; /* one poll is enough to trust */
    cb_init(&e->st, &params);
    fake_clock_init(&e->fc, RT0, MONO0);
    e->calls = 0;
    e->upstream_calls = 0;
    e->closed_calls = 0;
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        return -1;
    }
    log_threshold = LOG_LEVEL_ERR;
    snprintf(e->dir, sizeof(e->dir), "/tmp/test_poller.XXXXXX");
    if (mkdtemp(e->dir) == NULL || uv_loop_init(&e->loop) != 0) {
        free(e);
        return -1;
    }
    reset_state(e);
    e->fake = fake_chrony_new_udp(0);
    if (e->fake == NULL) {
        return -1;
    }
    healthy_script(&e->script);
    fake_chrony_set(e->fake, &e->script);
    *state = e;
    return fake_chrony_start(e->fake) == 0 ? 0 : -1;
}

static bool closed_once(void *arg)
{
    return ((struct env *)arg)->closed_calls > 0;
}

static void close_poller(struct env *e)
{
    if (!e->p_open) {
        return;
    }
    e->p_open = false;
    unsigned before = e->closed_calls;
    poller_close(&e->p, on_closed);
    assert_int_equal(e->closed_calls, before); /* the handles close on the loop */
    assert_true(loop_until(&e->loop, closed_once, e, WAIT_MS));
    assert_int_equal(e->closed_calls, before + 1);
    assert_null(e->p.client);
}

static int teardown(void **state)
{
    struct env *e = *state;
    if (e->p_open) {
        e->p_open = false;
        poller_close(&e->p, on_closed);
    }
    int rc = loop_close_all(&e->loop);
    fake_chrony_free(e->fake);
    fake_chrony_free(e->extra);
    DIR *d = opendir(e->dir);
    if (d != NULL) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] != '.') {
                char path[400];
                snprintf(path, sizeof(path), "%s/%s", e->dir, de->d_name);
                unlink(path);
            }
        }
        closedir(d);
    }
    int removed = rmdir(e->dir);
    free(e);
    return rc == 0 && removed == 0 ? 0 : -1;
}

static int open_poller(struct env *e, const struct chrony_addr *a, int64_t interval_ns)
{
    int rc = poller_init(&e->p, &e->loop, a, &e->fc.base, &e->st, interval_ns, on_poll);
    if (rc == 0) {
        e->p_open = true;
        e->p.data = e;
        e->p.upstream_cb = on_upstream;
    }
    return rc;
}

static void start_poller(struct env *e, const struct chrony_addr *a, int64_t interval_ns)
{
    assert_int_equal(open_poller(e, a, interval_ns), 0);
    assert_int_equal(poller_start(&e->p), 0);
}

/* The fake's counters, read under its lock (its thread writes them). */
struct fake_counts {
    unsigned requests, bad, ntpdata, resets, bursts;
};

static struct fake_counts fake_counts(struct fake_chrony *f)
{
    pthread_mutex_lock(&f->lock);
    struct fake_counts c = {f->requests, f->bad_requests, f->ntpdata_requests, f->reset_requests,
                            f->burst_requests};
    pthread_mutex_unlock(&f->lock);
    return c;
}

/* Predicates for loop_until. */
struct want {
    struct env *e;
    unsigned n;
};

static bool calls_reached(void *arg)
{
    const struct want *w = arg;
    return w->e->calls >= w->n;
}

static bool upstream_reached(void *arg)
{
    const struct want *w = arg;
    return w->e->upstream_calls >= w->n;
}

static bool failed_reached(void *arg)
{
    const struct want *w = arg;
    return w->e->p.polls_failed >= w->n;
}

static bool ok_reached(void *arg)
{
    const struct want *w = arg;
    return w->e->p.polls_ok >= w->n;
}

static void await_calls(struct env *e, unsigned n)
{
    struct want w = {e, n};
    if (!loop_until(&e->loop, calls_reached, &w, WAIT_MS)) {
        fail_msg("%u callbacks after %d ms (want %u)", e->calls, WAIT_MS, n);
    }
}

/* A poll's result reaches the callback and the clock state, with the exact bound; then NTPDATA
 * about the reference (an NTP server at 127.0.0.1) is asked once and taken in. */
static void test_poll_reaches_state(void **state)
{
    struct env *e = *state;
    struct chrony_addr a = fake_chrony_udp_addr(e->fake->port);
    start_poller(e, &a, ONCE_NS);
    await_calls(e, 1);
    const struct seen *s = &e->seen[0];
    assert_true(s->polls_ok == 1 && s->polls_failed == 0);
    assert_int_equal(s->last_error, 0);
    assert_null(s->last_why);
    assert_int_equal(s->now.status, CB_STATUS_SYNCHRONIZED);
    assert_int_equal(s->now.reason, CB_REASON_OK);
    assert_int_equal(s->now.bound_ns, HEALTHY_BOUND_NS);
    assert_int_equal(s->now.earliest_ns, RT0 - HEALTHY_BOUND_NS);
    assert_int_equal(s->now.latest_ns, RT0 + HEALTHY_BOUND_NS);
    assert_true(e->st.have_poll);
    assert_int_equal(e->st.last.tracking.ref_time_ns, RT0 - 100 * MS);
    assert_int_equal(e->p.last_rtt_ns, 0); /* the fake clock stood still */
    assert_int_equal(e->p.unanswered, 0);

    struct want w = {e, 1};
    assert_true(loop_until(&e->loop, upstream_reached, &w, WAIT_MS));
    assert_true(e->p.ntpdata_ok == 1 && e->p.ntpdata_failed == 0);
    assert_int_equal(e->p.ntpdata_error, 0);
    assert_true(e->st.upstream.known);
    assert_int_equal(e->st.upstream.addr_family, CHRONY_ADDR_INET4);
    const uint8_t localhost[4] = {127, 0, 0, 1};
    assert_memory_equal(e->st.upstream.addr, localhost, 4);
    assert_int_equal(e->st.upstream.ref_id, 0x47505300); /* "GPS" */
    assert_int_equal(e->st.upstream.stratum, 1);
    struct fake_counts c = fake_counts(e->fake);
    assert_int_equal(c.requests, 1);
    assert_int_equal(c.ntpdata, 1);
    assert_int_equal(c.bad, 0); /* every request as chronyd wants it */
    pthread_mutex_lock(&e->fake->lock);
    uint16_t family = e->fake->last_ntpdata_family;
    uint8_t asked[16];
    memcpy(asked, e->fake->last_ntpdata_addr, sizeof(asked));
    pthread_mutex_unlock(&e->fake->lock);
    assert_int_equal(family, CHRONY_ADDR_INET4);
    assert_memory_equal(asked, localhost, 4);
    /* One poll, one callback: the NTPDATA answer is not a poll. */
    assert_int_equal(e->calls, 1);
    struct poller_stats ps;
    memset(&ps, 0xa5, sizeof(ps));
    poller_stats(&e->p, &ps);
    assert_true(ps.polls_ok == 1 && ps.polls_failed == 0);
    assert_true(ps.ntpdata_ok == 1 && ps.ntpdata_failed == 0);
    assert_int_equal(ps.ntpdata_error, 0);
    assert_null(ps.ntpdata_why);
    close_poller(e);
}

static bool ntpdata_failed_reached(void *arg)
{
    const struct want *w = arg;
    return w->e->p.ntpdata_failed >= w->n;
}

static bool fake_ntpdata_reached(void *arg)
{
    const struct want *w = arg;
    return fake_counts(w->e->fake).ntpdata >= w->n;
}

/* NTPDATA about the reference: an upstream on its own local clock makes the clock UNKNOWN
 * (not for a loopback demo source); chronyd's refusal over UDP and silence are counted and
 * kept, never a poll failure, and the clock is not refused for them. */
static void test_ntpdata(void **state)
{
    struct env *e = *state;
    struct chrony_addr a = fake_chrony_udp_addr(e->fake->port);
    struct want w = {e, 1};
    const uint8_t server[4] = {10, 0, 0, 1};

    /* An NTP server at 10.0.0.1 whose own reference is LOCL. */
    e->script.ref_id = 0x0a000001;
    memcpy(e->script.addr, server, 4);
    e->script.upstream_ref_id = CHRONY_REFID_LOCAL;
    fake_chrony_set(e->fake, &e->script);
    start_poller(e, &a, ONCE_NS);
    assert_true(loop_until(&e->loop, upstream_reached, &w, WAIT_MS));
    assert_int_equal(e->seen[0].now.status, CB_STATUS_SYNCHRONIZED); /* before the answer */
    assert_true(cb_upstream_local(&e->st));
    struct cb_reading r = fake_clock_reading(&e->fc);
    struct cb_now n;
    cb_now(&e->st, &r, &n);
    assert_int_equal(n.status, CB_STATUS_UNKNOWN);
    assert_int_equal(n.reason, CB_REASON_UPSTREAM_LOCAL);
    assert_int_equal(e->p.ntpdata_ok, 1);
    close_poller(e);

    /* The same at 127.0.0.1: a loopback (demo) source is not refused for it. */
    reset_state(e);
    healthy_script(&e->script);
    e->script.upstream_ref_id = CHRONY_REFID_LOCAL;
    fake_chrony_set(e->fake, &e->script);
    start_poller(e, &a, ONCE_NS);
    assert_true(loop_until(&e->loop, upstream_reached, &w, WAIT_MS));
    assert_int_equal(e->st.upstream.ref_id, CHRONY_REFID_LOCAL);
    assert_false(cb_upstream_local(&e->st));
    r = fake_clock_reading(&e->fc);
    cb_now(&e->st, &r, &n);
    assert_int_equal(n.status, CB_STATUS_SYNCHRONIZED);
    close_poller(e);

    /* Refused (chronyd over UDP): kept, warned once, the poll a success. */
    reset_state(e);
    e->script.ntpdata_status = 2;
    fake_chrony_set(e->fake, &e->script);
    start_poller(e, &a, ONCE_NS);
    assert_true(loop_until(&e->loop, ntpdata_failed_reached, &w, WAIT_MS));
    assert_true(e->p.ntpdata_failed == 1 && e->p.ntpdata_ok == 0);
    assert_int_equal(e->p.ntpdata_error, -EREMOTEIO);
    assert_string_equal(e->p.ntpdata_why, "unauthorised");
    assert_true(e->p.ntpdata_warned);
    assert_false(e->p.nd_pending);
    assert_true(e->p.polls_ok == 1 && e->p.polls_failed == 0);
    assert_int_equal(e->upstream_calls, 0);
    struct poller_stats ps;
    poller_stats(&e->p, &ps);
    assert_true(ps.polls_ok == 1 && ps.polls_failed == 0);
    assert_true(ps.ntpdata_ok == 0 && ps.ntpdata_failed == 1);
    assert_int_equal(ps.ntpdata_error, -EREMOTEIO);
    assert_string_equal(ps.ntpdata_why, "unauthorised");
    assert_false(e->st.upstream.known);
    r = fake_clock_reading(&e->fc);
    cb_now(&e->st, &r, &n);
    assert_int_equal(n.status, CB_STATUS_SYNCHRONIZED);
    close_poller(e);

    /* Unanswered: the next poll after POLLER_NTPDATA_TIMEOUT_NS (fake time) gives it up. */
    reset_state(e);
    e->script.ntpdata_status = 0;
    e->script.ntpdata_silent = true;
    fake_chrony_set(e->fake, &e->script);
    unsigned asked = fake_counts(e->fake).ntpdata;
    start_poller(e, &a, SLOW_NS);
    w.n = asked + 1;
    assert_true(loop_until(&e->loop, fake_ntpdata_reached, &w, WAIT_MS));
    assert_true(e->p.nd_pending);
    fake_clock_advance(&e->fc, POLLER_NTPDATA_TIMEOUT_NS);
    w.n = 1;
    assert_true(loop_until(&e->loop, ntpdata_failed_reached, &w, WAIT_MS));
    assert_int_equal(e->p.ntpdata_error, -ETIMEDOUT);
    assert_string_equal(e->p.ntpdata_why, "no reply to NTPDATA from chronyd");
    assert_int_equal(e->p.polls_failed, 0);
    /* Not asked again before POLLER_NTPDATA_RETRY_NS. */
    uint64_t polls = e->p.polls_ok;
    w.n = (unsigned)polls + 2;
    assert_true(loop_until(&e->loop, ok_reached, &w, WAIT_MS));
    assert_int_equal(fake_counts(e->fake).ntpdata, asked + 1);
    close_poller(e);
}

/* chrony answers, then falls silent: after POLLER_ATTEMPTS unanswered requests (each with its
 * own sequence number) the poll fails with -ETIMEDOUT and the state free-runs; chrony back, the
 * next reply is taken and the error cleared. The interval is long enough for the fake's replies
 * to come before the next request makes them stale, on a loaded machine too. */
static void test_no_answer(void **state)
{
    struct env *e = *state;
    e->script.addr_family = CHRONY_ADDR_UNSPEC; /* no NTPDATA: tracking alone */
    fake_chrony_set(e->fake, &e->script);
    struct chrony_addr a = fake_chrony_udp_addr(e->fake->port);
    start_poller(e, &a, SLOW_NS);
    struct want w = {e, 1};
    assert_true(loop_until(&e->loop, ok_reached, &w, WAIT_MS));

    e->script.mode = FAKE_CHRONY_SILENT;
    fake_chrony_set(e->fake, &e->script);
    if (!loop_until(&e->loop, failed_reached, &w, WAIT_MS)) {
        fail_msg("no failure reported: %u callbacks", e->calls);
    }
    assert_true(e->calls >= 2 && e->calls <= sizeof(e->seen) / sizeof(e->seen[0]));
    const struct seen *s = &e->seen[e->calls - 1]; /* the failure: nothing came after it */
    assert_int_equal(s->polls_failed, 1);
    assert_int_equal(s->polls_ok, e->calls - 1);
    assert_int_equal(s->last_error, -ETIMEDOUT);
    assert_string_equal(s->last_why, "no reply from chronyd");
    /* Within the grace period (the fake clock stands still): free-running, still bounded. */
    assert_int_equal(s->now.status, CB_STATUS_FREE_RUNNING);
    assert_int_equal(s->now.reason, CB_REASON_POLLS_FAILING);
    assert_int_equal(s->now.bound_ns, HEALTHY_BOUND_NS);
    assert_true(e->st.failing);
    assert_int_equal(e->st.last_error, -ETIMEDOUT);
    /* Every request, resends included, had a sequence number of its own. */
    pthread_mutex_lock(&e->fake->lock);
    unsigned requests = e->fake->requests;
    uint32_t seq[16];
    memcpy(seq, e->fake->sequences, sizeof(seq));
    pthread_mutex_unlock(&e->fake->lock);
    assert_true(requests >= 1 + POLLER_ATTEMPTS);
    for (unsigned i = 0; i < requests && i < 16; i++) {
        for (unsigned j = 0; j < i; j++) {
            assert_int_not_equal(seq[i], seq[j]);
        }
    }

    /* chrony answers again. */
    e->script.mode = FAKE_CHRONY_ANSWER;
    fake_chrony_set(e->fake, &e->script);
    w.n = (unsigned)e->p.polls_ok + 1;
    if (!loop_until(&e->loop, ok_reached, &w, WAIT_MS)) {
        fail_msg("no success after chrony came back: %llu failures",
                 (unsigned long long)e->p.polls_failed);
    }
    assert_int_equal(e->p.last_error, 0);
    assert_null(e->p.last_why);
    assert_false(e->st.failing);
    struct cb_reading r = fake_clock_reading(&e->fc);
    struct cb_now n;
    cb_now(&e->st, &r, &n);
    assert_int_equal(n.status, CB_STATUS_SYNCHRONIZED);
    close_poller(e);
}

/* Replies chronyd refuses with, or that are malformed: the poll fails at once (no resend), with
 * the client's errno and sentence, and the state knows nothing. */
static void test_bad_replies(void **state)
{
    struct env *e = *state;
    static const struct {
        const char *what;
        uint16_t status;
        size_t reply_len;
        int patch_offset;
        uint8_t patch_value;
        uint16_t stratum;
        int err;
        const char *why;
    } cases[] = {
        {"unauthorised", 2, 28, -1, 0, 2, -EREMOTEIO, "unauthorised"},
        {"short", 0, 50, -1, 0, 2, -EMSGSIZE, "tracking reply is not 104 bytes long"},
        {"long", 0, 2000, -1, 0, 2, -EMSGSIZE, "reply is longer than any chrony reply"},
        {"version 5", 0, 104, 0, 5, 2, -EPROTONOSUPPORT, "reply has protocol version other than 6"},
        {"stratum 17", 0, 104, -1, 0, 17, -EBADMSG, "stratum is above 16"},
    };
    struct chrony_addr a = fake_chrony_udp_addr(e->fake->port);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("case %s\n", cases[i].what);
        reset_state(e);
        healthy_script(&e->script);
        e->script.status = cases[i].status;
        e->script.reply_len = cases[i].reply_len;
        e->script.patch_offset = cases[i].patch_offset;
        e->script.patch_value = cases[i].patch_value;
        e->script.stratum = cases[i].stratum;
        fake_chrony_set(e->fake, &e->script);
        unsigned requests = fake_counts(e->fake).requests;
        start_poller(e, &a, ONCE_NS);
        await_calls(e, 1);
        const struct seen *s = &e->seen[0];
        if (s->last_error != cases[i].err || s->last_why == NULL ||
            strcmp(s->last_why, cases[i].why) != 0) {
            fail_msg("%s: error %d '%s' (want %d '%s')", cases[i].what, s->last_error,
                     s->last_why != NULL ? s->last_why : "(null)", cases[i].err, cases[i].why);
        }
        assert_true(s->polls_ok == 0 && s->polls_failed == 1);
        assert_int_equal(s->now.status, CB_STATUS_UNKNOWN);
        assert_int_equal(s->now.reason, CB_REASON_NO_DATA);
        assert_int_equal(e->p.unanswered, 0); /* the attempt is over */
        assert_int_equal(fake_counts(e->fake).requests, requests + 1);
        close_poller(e);
        assert_int_equal(e->calls, 1);
    }
    assert_int_equal(fake_counts(e->fake).bad, 0);
}

/* Replies with a wrong sequence number are ignored: the request stays unanswered and the poll
 * fails by its timeout, not by the stale replies. */
static void test_stale_replies(void **state)
{
    struct env *e = *state;
    e->script.seq_xor = 0x10000;
    fake_chrony_set(e->fake, &e->script);
    struct chrony_addr a = fake_chrony_udp_addr(e->fake->port);
    start_poller(e, &a, FAST_NS);
    await_calls(e, 1);
    assert_true(e->seen[0].polls_ok == 0 && e->seen[0].polls_failed == 1);
    assert_int_equal(e->seen[0].last_error, -ETIMEDOUT);
    assert_int_equal(e->seen[0].now.reason, CB_REASON_NO_DATA);
    assert_true(fake_counts(e->fake).requests >= POLLER_ATTEMPTS);
    close_poller(e);
}

/* chronyd gone (nothing on its port: ICMP port unreachable, which libuv reports by stopping the
 * poll handle) then back on the same port: the poll fails with -ECONNREFUSED, and the poller
 * keeps reading, so the first reply after chronyd's return is taken. */
static void test_chrony_gone_and_back(void **state)
{
    struct env *e = *state;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    uint16_t port = ntohs(sa.sin_port);
    struct chrony_addr a = fake_chrony_udp_addr(port);
    start_poller(e, &a, SLOW_NS);
    struct want w = {e, 2};
    assert_true(loop_until(&e->loop, failed_reached, &w, WAIT_MS));
    assert_int_equal(e->seen[0].last_error, -ECONNREFUSED);
    assert_int_equal(e->seen[0].polls_ok, 0);
    assert_int_equal(e->seen[0].now.status, CB_STATUS_UNKNOWN);

    e->extra = fake_chrony_new_udp(port);
    assert_non_null(e->extra);
    fake_chrony_set(e->extra, &e->script);
    assert_int_equal(fake_chrony_start(e->extra), 0);
    w.n = 1;
    if (!loop_until(&e->loop, ok_reached, &w, WAIT_MS)) {
        unsigned answered = fake_counts(e->extra).requests;
        fail_msg("chronyd back for %d ms, %u requests: no reply taken (%llu failures, last %d)",
                 WAIT_MS, answered, (unsigned long long)e->p.polls_failed, e->p.last_error);
    }
    assert_int_equal(e->p.last_error, 0);
    struct cb_reading r = fake_clock_reading(&e->fc);
    struct cb_now n;
    cb_now(&e->st, &r, &n);
    assert_int_equal(n.status, CB_STATUS_SYNCHRONIZED);
    close_poller(e);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

/* The PHC's error bound: read at the reply and added while chrony's reference is the PHC
 * refclock, not for another reference, and a value that is not a number makes the clock
 * UNKNOWN. */
static void test_phc(void **state)
{
    struct env *e = *state;
    char path[128];
    snprintf(path, sizeof(path), "%s/phc_error_bound", e->dir);
    static const struct {
        const char *what;
        const char *text;
        uint32_t ref_id;
        enum cb_phc_verdict verdict;
        enum cb_status status;
        enum cb_reason reason;
        int64_t bound_ns;
    } cases[] = {
        {"the PHC is the reference", "30000\n", CB_PHC_DEFAULT_REFID, CB_PHC_ADDED,
         CB_STATUS_SYNCHRONIZED, CB_REASON_OK, HEALTHY_BOUND_NS + PHC_NS},
        {"another refclock is", "30000\n", 0x47505300, CB_PHC_NOT_REFERENCE, CB_STATUS_SYNCHRONIZED,
         CB_REASON_OK, HEALTHY_BOUND_NS},
        {"not a number", "abc\n", CB_PHC_DEFAULT_REFID, CB_PHC_INVALID, CB_STATUS_UNKNOWN,
         CB_REASON_PHC_INVALID, -1},
        {"empty", "", CB_PHC_DEFAULT_REFID, CB_PHC_EMPTY, CB_STATUS_UNKNOWN, CB_REASON_PHC_EMPTY,
         -1},
    };
    struct chrony_addr a = fake_chrony_udp_addr(e->fake->port);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("case %s\n", cases[i].what);
        reset_state(e);
        write_file(path, cases[i].text);
        healthy_script(&e->script);
        e->script.ref_id = cases[i].ref_id;
        e->script.addr_family = CHRONY_ADDR_UNSPEC; /* a refclock has no address */
        memset(e->script.addr, 0, sizeof(e->script.addr));
        fake_chrony_set(e->fake, &e->script);
        assert_int_equal(open_poller(e, &a, ONCE_NS), 0);
        char why[512] = "";
        assert_int_equal(poller_set_phc(&e->p, NULL, path, CB_PHC_DEFAULT_REFID, why, sizeof(why)),
                         0);
        assert_int_equal(poller_start(&e->p), 0);
        await_calls(e, 1);
        const struct seen *s = &e->seen[0];
        assert_int_equal(s->polls_ok, 1);
        assert_int_equal(e->st.phc_verdict, cases[i].verdict);
        assert_int_equal(s->now.status, cases[i].status);
        assert_int_equal(s->now.reason, cases[i].reason);
        if (cases[i].bound_ns >= 0) {
            assert_int_equal(s->now.bound_ns, cases[i].bound_ns);
        }
        assert_true(e->st.last.phc.configured);
        assert_int_equal(e->st.last.phc.ref_id, CB_PHC_DEFAULT_REFID);
        close_poller(e);
        assert_int_equal(e->p.phc.fd, -1); /* closed with the poller */
    }

    /* The settings' errors, each with its sentence. */
    reset_state(e);
    assert_int_equal(open_poller(e, &a, ONCE_NS), 0);
    char why[512], want[512];
    snprintf(path, sizeof(path), "%s/none", e->dir);
    assert_int_equal(poller_set_phc(&e->p, NULL, path, CB_PHC_DEFAULT_REFID, why, sizeof(why)),
                     -ENOENT);
    snprintf(want, sizeof(want),
             "cannot open the PHC error bound file %s: No such file or directory", path);
    assert_string_equal(why, want);
    assert_int_equal(poller_set_phc(&e->p, NULL, e->dir, CB_PHC_DEFAULT_REFID, why, sizeof(why)),
                     -EISDIR);
    snprintf(want, sizeof(want), "the PHC error bound path %s is a directory", e->dir);
    assert_string_equal(why, want);
    int rc = poller_set_phc(&e->p, "oracled-none0", NULL, CB_PHC_DEFAULT_REFID, why, sizeof(why));
    assert_true(rc < 0);
    assert_true(strncmp(why, "--phc-interface oracled-none0: ", 31) == 0);
    close_poller(e);
}

static bool reset_settled(void *arg)
{
    const struct want *w = arg;
    return w->e->p.reset_step == 0 && w->e->p.resets_ok + w->e->p.resets_failed >= w->n;
}

static bool fake_resets_reached(void *arg)
{
    const struct want *w = arg;
    return fake_counts(w->e->fake).resets >= w->n;
}

/* RESET_SOURCES then BURST after a disruption: refused over UDP (counted once, nothing more
 * sent), carried out (BURST follows), unanswered (retried POLLER_RESET_TRIES times as the fake
 * clock passes POLLER_RESET_TIMEOUT_NS, then given up); a no-op once the poller is closed. */
static void test_reset_chrony(void **state)
{
    struct env *e = *state;
    struct chrony_addr a = fake_chrony_udp_addr(e->fake->port);
    e->script.addr_family = CHRONY_ADDR_UNSPEC;
    struct want w = {e, 1};

    /* Refused (status 2, unauthorised: chronyd over UDP). */
    e->script.reset_status = 2;
    fake_chrony_set(e->fake, &e->script);
    start_poller(e, &a, ONCE_NS);
    await_calls(e, 1);
    poller_reset_chrony(&e->p);
    assert_int_equal(e->p.reset_step, 1);
    assert_true(loop_until(&e->loop, reset_settled, &w, WAIT_MS));
    assert_true(e->p.resets_failed == 1 && e->p.resets_ok == 0);
    assert_true(e->p.reset_refused_logged);
    struct fake_counts c = fake_counts(e->fake);
    assert_int_equal(c.resets, 1);
    assert_int_equal(c.bursts, 0);
    close_poller(e);

    /* Carried out: RESET_SOURCES, then BURST, both answered. */
    reset_state(e);
    e->script.reset_status = 0;
    fake_chrony_set(e->fake, &e->script);
    start_poller(e, &a, ONCE_NS);
    await_calls(e, 1);
    poller_reset_chrony(&e->p);
    assert_true(loop_until(&e->loop, reset_settled, &w, WAIT_MS));
    assert_true(e->p.resets_ok == 1 && e->p.resets_failed == 0);
    c = fake_counts(e->fake);
    assert_int_equal(c.resets, 2);
    assert_int_equal(c.bursts, 1);
    assert_int_equal(c.bad, 0);
    close_poller(e);

    /* Unanswered: every clock read moves the fake clock 300 ms, so each poll tick finds the
     * last try older than POLLER_RESET_TIMEOUT_NS soon; after POLLER_RESET_TRIES, given up. */
    reset_state(e);
    e->fc.tick_ns = 300 * MS;
    e->script.mode = FAKE_CHRONY_SILENT;
    fake_chrony_set(e->fake, &e->script);
    start_poller(e, &a, FAST_NS);
    poller_reset_chrony(&e->p);
    assert_true(loop_until(&e->loop, reset_settled, &w, WAIT_MS));
    assert_true(e->p.resets_failed == 1 && e->p.resets_ok == 0);
    assert_int_equal(e->p.reset_tries, POLLER_RESET_TRIES);
    w.n = 2 + POLLER_RESET_TRIES;
    assert_true(loop_until(&e->loop, fake_resets_reached, &w, WAIT_MS));
    loop_for(&e->loop, 50); /* nothing more is sent */
    c = fake_counts(e->fake);
    assert_int_equal(c.resets, 2 + POLLER_RESET_TRIES);
    assert_int_equal(c.bursts, 1);
    close_poller(e);

    /* Closed: nothing to send on. */
    poller_reset_chrony(&e->p);
    assert_int_equal(e->p.reset_step, 0);
}

/* poller_init's errors (chrony_client_new's): nothing is left open on the loop. */
static void test_init_errors(void **state)
{
    struct env *e = *state;
    struct chrony_addr a;
    memset(&a, 0, sizeof(a));
    a.transport = CHRONY_TRANSPORT_UNIX;
    snprintf(a.path, sizeof(a.path), "%s/chronyd.sock", e->dir);
    assert_int_equal(open_poller(e, &a, ONCE_NS), -ENOENT);
    assert_null(e->p.client);
    assert_int_equal(uv_loop_alive(&e->loop), 0);
    a = fake_chrony_udp_addr(323);
    strcpy(a.host, "no-such-host.invalid");
    assert_int_equal(open_poller(e, &a, ONCE_NS), -EADDRNOTAVAIL);
    assert_int_equal(uv_loop_alive(&e->loop), 0);
    assert_false(e->p_open);
    assert_int_equal(e->calls, 0);
}

static int count_entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    }
    closedir(d);
    return n;
}

/* Over chronyd's unix socket: polled, then closed: the close callback runs once, on the loop,
 * and the client's own socket file is removed. Closing before the first poll works too. */
static void test_unix_and_close(void **state)
{
    struct env *e = *state;
    char sock[sizeof(((struct chrony_addr *)NULL)->path)];
    snprintf(sock, sizeof(sock), "%s/chronyd.sock", e->dir);
    e->extra = fake_chrony_new_unix(sock);
    assert_non_null(e->extra);
    fake_chrony_set(e->extra, &e->script);
    assert_int_equal(fake_chrony_start(e->extra), 0);
    struct chrony_addr a;
    memset(&a, 0, sizeof(a));
    a.transport = CHRONY_TRANSPORT_UNIX;
    memcpy(a.path, sock, sizeof(a.path));

    assert_int_equal(open_poller(e, &a, ONCE_NS), 0);
    assert_int_equal(count_entries(e->dir, "clockbound."), 1);
    close_poller(e); /* never started */
    assert_int_equal(count_entries(e->dir, "clockbound."), 0);
    assert_int_equal(e->calls, 0);

    reset_state(e);
    start_poller(e, &a, ONCE_NS);
    await_calls(e, 1);
    assert_int_equal(e->seen[0].polls_ok, 1);
    assert_int_equal(e->seen[0].now.bound_ns, HEALTHY_BOUND_NS);
    close_poller(e);
    assert_int_equal(count_entries(e->dir, "clockbound."), 0);
    assert_int_equal(uv_loop_alive(&e->loop), 0);
}

static unsigned other_closed_calls; /* closes of a struct poller outside the env */

static void on_other_closed(struct poller *p)
{
    (void)p;
    other_closed_calls++;
}

/* One lifecycle (issue 18's rule): closing a zeroed poller or one whose init failed runs the
 * callback at once and touches no descriptor; a second close does nothing. */
static void test_close_lifecycle(void **state)
{
    struct env *e = *state;
    struct fd0_stand_in fd0;
    fd0_stand_in_begin(&fd0);
    struct poller zero;
    memset(&zero, 0, sizeof(zero));
    other_closed_calls = 0;
    poller_close(&zero, on_other_closed);
    poller_close(&zero, on_other_closed);
    bool fd0_open = fd0_stand_in_end(&fd0);
    assert_int_equal(other_closed_calls, 1);
    assert_true(fd0_open); /* not the poller's to close */

    /* Init failed: nothing on the loop, the callback at once. */
    struct chrony_addr a;
    memset(&a, 0, sizeof(a));
    a.transport = CHRONY_TRANSPORT_UNIX;
    snprintf(a.path, sizeof(a.path), "%s/chronyd.sock", e->dir);
    struct poller failed;
    assert_int_equal(poller_init(&failed, &e->loop, &a, &e->fc.base, &e->st, ONCE_NS, on_poll),
                     -ENOENT);
    poller_close(&failed, on_other_closed);
    poller_close(&failed, on_other_closed);
    assert_int_equal(other_closed_calls, 2);
    assert_int_equal(uv_loop_alive(&e->loop), 0);

    /* Open and polled, closed twice before the loop runs: one callback, once closed. */
    struct chrony_addr u = fake_chrony_udp_addr(e->fake->port);
    start_poller(e, &u, ONCE_NS);
    await_calls(e, 1);
    e->p_open = false;
    poller_close(&e->p, on_closed);
    poller_close(&e->p, on_closed);
    assert_int_equal(e->closed_calls, 0);
    assert_true(loop_until(&e->loop, closed_once, e, WAIT_MS));
    loop_for(&e->loop, 5);
    assert_int_equal(e->closed_calls, 1);
    assert_null(e->p.client);
    assert_int_equal(uv_loop_alive(&e->loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_poll_reaches_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ntpdata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_replies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_replies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chrony_gone_and_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_phc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_chrony, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unix_and_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_lifecycle, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

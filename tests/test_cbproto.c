/* Unit tests: the ClockBound v1 socket protocol (oracle/cbproto.c), exact bytes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cbv1_requests.h"
#include "compat/cbproto.h"
#include "fake_chrony.h"

#define MS  INT64_C(1000000)
#define SEC INT64_C(1000000000)
/* Before any poll: bound INT64_MAX, earliest and latest saturated as cb_now leaves them. */
static struct cb_now now_without_bound(void)
{
    struct cb_now n = now_with(CB_STATUS_UNKNOWN, CB_REASON_NO_DATA);
    n.bound_ns = INT64_MAX;
    n.earliest_ns = n.rt_ns - INT64_MAX;
    n.latest_ns = INT64_MAX;
    return n;
}

/* The reply to the datagram req (len bytes) at n, compared with want byte for byte. */
static void expect_reply(const char *what, const uint8_t *req, size_t len, const struct cb_now *n,
                         bool holds, const uint8_t *want, size_t want_len)
{
    struct cbp_request q;
    cbp_parse(req, len, &q);
    uint8_t out[CBP_RESPONSE_MAX];
    memset(out, 0xee, sizeof(out));
    size_t got = cbp_respond(&q, n, holds, out);
    expect_bytes(what, out, got, want, want_len);
}

static void test_parse_good(void **state)
{
    (void)state;
    struct cbp_request q;
    assert_int_equal(cbp_parse(NOW_REQ, sizeof(NOW_REQ), &q), 0);
    assert_int_equal(q.type, CBP_NOW);
    assert_false(q.malformed);
    const uint8_t before[] = {1, 2, 0, 0, 0x18, 0xeb, 0x64, 0x45, 0xd0, 0x08, 0x80, 0x33};
    assert_int_equal(cbp_parse(before, sizeof(before), &q), 0);
    assert_int_equal(q.type, CBP_BEFORE);
    assert_false(q.malformed);
    assert_true(q.ts_ns == UINT64_C(0x18eb6445d0088033));
    const uint8_t after[] = {1, 3, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(cbp_parse(after, sizeof(after), &q), 0);
    assert_int_equal(q.type, CBP_AFTER);
    assert_true(q.ts_ns == UINT64_MAX);
    /* The reserved bytes are ignored. */
    const uint8_t reserved[] = {1, 1, 7, 9};
    assert_int_equal(cbp_parse(reserved, sizeof(reserved), &q), 0);
    assert_int_equal(q.type, CBP_NOW);
}

/* Every malformed request is refused, and keeps the type its byte 1 names: the reply's shape. */
static void test_parse_bad(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint8_t bytes[16];
        size_t len;
        enum cbp_type shape;
    } cases[] = {
        {"empty", {0}, 0, CBP_ERROR},
        {"1 byte", {1}, 1, CBP_ERROR},
        {"2 bytes, Now", {1, 1}, 2, CBP_NOW},
        {"3 bytes, Now", {1, 1, 0}, 3, CBP_NOW},
        {"version 0", {0, 1, 0, 0}, 4, CBP_NOW},
        {"version 2", {2, 1, 0, 0}, 4, CBP_NOW},
        {"version 2, Before", {2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 12, CBP_BEFORE},
        {"type 0", {1, 0, 0, 0}, 4, CBP_ERROR},
        {"type 4", {1, 4, 0, 0}, 4, CBP_ERROR},
        {"type 255", {1, 255, 0, 0}, 4, CBP_ERROR},
        {"Now with 12 bytes", {1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 12, CBP_NOW},
        {"Now with 5 bytes", {1, 1, 0, 0, 0}, 5, CBP_NOW},
        {"Now with 300 bytes", {1, 1, 0, 0}, 300, CBP_NOW},
        {"Before with 4 bytes", {1, 2, 0, 0}, 4, CBP_BEFORE},
        {"Before with 11 bytes", {1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 11, CBP_BEFORE},
        {"After with 13 bytes", {1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 13, CBP_AFTER},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cbp_request q;
        memset(&q, 0x5a, sizeof(q));
        if (cbp_parse(cases[i].bytes, cases[i].len, &q) != -EINVAL || !q.malformed ||
            q.type != cases[i].shape) {
            fail_msg("%s: accepted, or type %d (want %d)", cases[i].what, q.type, cases[i].shape);
        }
    }
}

static void test_respond_now(void **state)
{
    (void)state;
    struct cb_now n = now_with(CB_STATUS_SYNCHRONIZED, CB_REASON_OK);
    const uint8_t sync[20] = {1, 1, 0, 0, EARLIEST_BYTES, LATEST_BYTES};
    expect_reply("SYNCHRONIZED", NOW_REQ, 4, &n, true, sync, 20);
    /* The flag is ignored while the status is trusted. */
    expect_reply("SYNCHRONIZED, bound_holds false", NOW_REQ, 4, &n, false, sync, 20);
    /* FREE_RUNNING: the same values, F = 1. */
    n = now_with(CB_STATUS_FREE_RUNNING, CB_REASON_POLLS_FAILING);
    const uint8_t free_running[20] = {1, 1, 1, 0, EARLIEST_BYTES, LATEST_BYTES};
    expect_reply("FREE_RUNNING", NOW_REQ, 4, &n, true, free_running, 20);
    /* A Now whose earliest would be negative (a huge bound near the epoch) is clamped at 0. */
    n.earliest_ns = -5;
    const uint8_t clamped[20] = {1, 1, 1, 0, ZERO_BYTES, LATEST_BYTES};
    expect_reply("earliest before 1970", NOW_REQ, 4, &n, true, clamped, 20);
}

static void test_respond_before_after(void **state)
{
    (void)state;
    struct cb_now n = now_with(CB_STATUS_SYNCHRONIZED, CB_REASON_OK);
    static const struct {
        enum cbp_type type;
        uint64_t ts;
        uint8_t answer;
    } cases[] = {
        {CBP_BEFORE, EARLIEST - 1, 1}, /* before earliest: certainly passed */
        {CBP_BEFORE, EARLIEST, 0},
        {CBP_BEFORE, LATEST + 1, 0},
        {CBP_BEFORE, 0, 1},
        {CBP_BEFORE, UINT64_C(1) << 63, 0},
        {CBP_BEFORE, UINT64_MAX, 0},
        {CBP_AFTER, LATEST + 1, 1}, /* after latest: certainly not yet */
        {CBP_AFTER, LATEST, 0},
        {CBP_AFTER, EARLIEST - 1, 0},
        {CBP_AFTER, 0, 0},
        {CBP_AFTER, (UINT64_C(1) << 63) - 1, 1},
        {CBP_AFTER, UINT64_C(1) << 63, 1},
        {CBP_AFTER, UINT64_MAX, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t req[12];
        ts_request((uint8_t)cases[i].type, cases[i].ts, req);
        const uint8_t want[5] = {1, (uint8_t)cases[i].type, 0, 0, cases[i].answer};
        char what[64];
        snprintf(what, sizeof(what), "case %zu", i);
        expect_reply(what, req, 12, &n, true, want, 5);
    }
}

/*
 * UNKNOWN and DISRUPTED, as the ClockBound daemon 0.1.x answers a failed poll: a Now gets all 20
 * bytes with T = 0 (its clients read 20), F = 1, and an interval that contains true time: the
 * bound while it holds (chrony's polls failed past the grace, the bound wider than the maximum),
 * else 0 to 2^63 - 1. Before/After get 5 bytes, T = 0, the answer over that interval.
 */
static void test_respond_untrusted(void **state)
{
    (void)state;
    uint8_t before_e1[12], before_e[12], after_l1[12], after_l[12], before_0[12], after_top[12],
        after_max[12];
    ts_request(CBP_BEFORE, EARLIEST - 1, before_e1);
    ts_request(CBP_BEFORE, EARLIEST, before_e);
    ts_request(CBP_AFTER, LATEST + 1, after_l1);
    ts_request(CBP_AFTER, LATEST, after_l);
    ts_request(CBP_BEFORE, 0, before_0);
    ts_request(CBP_AFTER, (UINT64_C(1) << 63) - 1, after_top);
    ts_request(CBP_AFTER, UINT64_C(1) << 63, after_max);
    const uint8_t yes[5] = {1, 0, 1, 0, 1};
    const uint8_t no[5] = {1, 0, 1, 0, 0};

    /* The bound holds: it is given, T = 0, and Before/After answer over it. */
    const enum cb_reason holding[] = {CB_REASON_POLLS_FAILED, CB_REASON_BOUND_TOO_WIDE};
    for (size_t i = 0; i < 2; i++) {
        struct cb_now n = now_with(CB_STATUS_UNKNOWN, holding[i]);
        const uint8_t want[20] = {1, 0, 1, 0, EARLIEST_BYTES, LATEST_BYTES};
        expect_reply(cb_reason_text(holding[i]), NOW_REQ, 4, &n, true, want, 20);
        expect_reply("Before(earliest - 1)", before_e1, 12, &n, true, yes, 5);
        expect_reply("Before(earliest)", before_e, 12, &n, true, no, 5);
        expect_reply("After(latest + 1)", after_l1, 12, &n, true, yes, 5);
        expect_reply("After(latest)", after_l, 12, &n, true, no, 5);
    }

    /* No bound that holds: before the first poll, after a step, refused chrony data, and a bound
     * that would hold were the flag given (cbp_respond takes the caller's word). */
    struct cb_now cases[5];
    cases[0] = now_without_bound();
    cases[1] = now_with(CB_STATUS_DISRUPTED, CB_REASON_CLOCK_STEPPED);
    cases[2] = now_with(CB_STATUS_UNKNOWN, CB_REASON_CHRONY_UNSYNCHRONISED);
    cases[3] = now_with(CB_STATUS_UNKNOWN, CB_REASON_AWAITING_UPDATE);
    cases[4] = now_with(CB_STATUS_UNKNOWN, CB_REASON_POLLS_FAILED);
    for (size_t i = 0; i < 5; i++) {
        const struct cb_now *n = &cases[i];
        const char *what = cb_reason_text(n->reason);
        const uint8_t all[20] = {1, 0, 1, 0, ZERO_BYTES, MAX_BYTES};
        expect_reply(what, NOW_REQ, 4, n, false, all, 20);
        expect_reply("Before(earliest - 1), no bound", before_e1, 12, n, false, no, 5);
        expect_reply("Before(0), no bound", before_0, 12, n, false, no, 5);
        expect_reply("After(latest + 1), no bound", after_l1, 12, n, false, no, 5);
        expect_reply("After(2^63 - 1), no bound", after_top, 12, n, false, no, 5);
        /* 2^63 ns is 2262: past the interval's end, and past any int64 clock. */
        expect_reply("After(2^63), no bound", after_max, 12, n, false, yes, 5);
    }
}

/* Malformed requests: the shape their type byte asks for (20 bytes for a Now, as the ClockBound
 * daemon sends), T = 0, F as the clock is. */
static void test_respond_malformed(void **state)
{
    (void)state;
    struct cb_now sync = now_with(CB_STATUS_SYNCHRONIZED, CB_REASON_OK);
    struct cb_now none = now_without_bound();
    const uint8_t v2_now[4] = {2, 1, 0, 0};
    const uint8_t now12[12] = {1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    const uint8_t now3[3] = {1, 1, 0};
    const uint8_t before4[4] = {1, 2, 0, 0};
    const uint8_t after13[13] = {1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    const uint8_t type0[4] = {1, 0, 0, 0};
    const uint8_t type9[4] = {1, 9, 0, 0};
    const uint8_t sync_now[20] = {1, 0, 0, 0, EARLIEST_BYTES, LATEST_BYTES};
    const uint8_t none_now[20] = {1, 0, 1, 0, ZERO_BYTES, MAX_BYTES};
    const uint8_t sync_err[4] = {1, 0, 0, 0};
    const uint8_t none_err[4] = {1, 0, 1, 0};
    expect_reply("version 2 Now, synchronised", v2_now, 4, &sync, true, sync_now, 20);
    expect_reply("12-byte Now, synchronised", now12, 12, &sync, true, sync_now, 20);
    expect_reply("3-byte Now, synchronised", now3, 3, &sync, true, sync_now, 20);
    expect_reply("version 2 Now, no bound", v2_now, 4, &none, false, none_now, 20);
    expect_reply("4-byte Before, synchronised", before4, 4, &sync, true, sync_err, 4);
    expect_reply("13-byte After, synchronised", after13, 13, &sync, true, sync_err, 4);
    expect_reply("13-byte After, no bound", after13, 13, &none, false, none_err, 4);
    expect_reply("type 0", type0, 4, &sync, true, sync_err, 4);
    expect_reply("type 9, no bound", type9, 4, &none, false, none_err, 4);
    expect_reply("empty", type0, 0, &sync, true, sync_err, 4);
}

/*
 * What ClockBound's v1 clients compute from a Now reply, on every interval a reply can state
 * (trusted or not, with no bound, bounds from 0 to INT64_MAX, in 2026 and in 2100): nothing
 * overflows. earliest <= latest <= 2^63 - 1; latest - earliest and earliest + latest fit in an
 * int64 (a midpoint in signed ns); clock-bound-c's timestamp, latest - (latest - earliest) / 2 in
 * u64, lies between them; go-clockboundc's time.Unix(int64(ns / 1e9), ...) gets seconds >= 0.
 * This is the socket's side of the rule the segment's UNKNOWN bound keeps (CBSHM_UNKNOWN_BOUND_NS:
 * no reader's arithmetic overflows): the socket computes the ends itself, so it saturates them.
 */
static void test_no_reader_overflows(void **state)
{
    (void)state;
    const int64_t rts[] = {EARLIEST, INT64_C(4102444800) * SEC /* 2100 */};
    const int64_t bounds[] = {0,
                              10000,
                              INT64_C(1000000000000000),
                              EARLIEST,
                              EARLIEST + 1,
                              INT64_MAX - EARLIEST,
                              INT64_MAX - EARLIEST + 1,
                              INT64_MAX / 2,
                              INT64_MAX};
    for (size_t r = 0; r < 2; r++) {
        for (size_t b = 0; b < sizeof(bounds) / sizeof(bounds[0]); b++) {
            for (int holds = 0; holds < 2; holds++) {
                struct cb_now n = now_with(CB_STATUS_UNKNOWN, CB_REASON_POLLS_FAILED);
                n.rt_ns = rts[r];
                n.bound_ns = bounds[b];
                /* As cb_now leaves them: rt - bound cannot overflow (both >= 0), rt + bound
                 * saturates. */
                n.earliest_ns = n.rt_ns - n.bound_ns;
                n.latest_ns = n.bound_ns > INT64_MAX - n.rt_ns ? INT64_MAX : n.rt_ns + n.bound_ns;
                uint64_t e, l;
                cbp_interval(&n, holds, &e, &l);
                if (e > l || l > CBP_LATEST_MAX || l - e > (uint64_t)INT64_MAX ||
                    e + l > (uint64_t)INT64_MAX) {
                    fail_msg("rt %lld bound %lld: [%llu, %llu] overflows", (long long)rts[r],
                             (long long)bounds[b], (unsigned long long)e, (unsigned long long)l);
                }
                uint64_t ts = l - (l - e) / 2; /* clock-bound-c's Now timestamp */
                if (ts < e || ts > l || (int64_t)(l / 1000000000) < 0) {
                    fail_msg("rt %lld bound %lld: a reader's timestamp %llu", (long long)rts[r],
                             (long long)bounds[b], (unsigned long long)ts);
                }
                if (!holds && (e != 0 || l != CBP_LATEST_MAX)) {
                    fail_msg("no bound: [%llu, %llu]", (unsigned long long)e,
                             (unsigned long long)l);
                }
            }
        }
    }
}

/* --- cbp_bound_holds, on states the status machine made --- */

struct clock_pos {
    int64_t rt, mono;
};

#define RT0   (INT64_C(1795620000) * SEC)
#define MONO0 (INT64_C(5000) * SEC)

static struct cb_reading reading(struct clock_pos p)
{
    struct cb_reading r = {.rt_ns = p.rt, .mono_ns = p.mono, .rt_hi_ns = p.rt};
    return r;
}

static struct clock_pos later(struct clock_pos p, int64_t ns)
{
    struct clock_pos q = {p.rt + ns, p.mono + ns};
    return q;
}

/* A synchronised chrony's report, sent at p, its reference update 10 ms old (an NTP server at
 * 10.0.0.1; chrony updating every 1/16 s). */
static struct cb_poll make_poll(struct clock_pos p, int64_t ref_time_ns)
{
    struct cb_poll poll;
    memset(&poll, 0, sizeof(poll));
    struct chrony_tracking *t = &poll.tracking;
    t->ref_id = 0x0a000001;
    t->addr_family = 1;
    t->addr[0] = 10;
    t->addr[3] = 1;
    t->stratum = 2;
    t->leap = CHRONY_LEAP_NORMAL;
    t->ref_time_ns = ref_time_ns;
    t->root_delay_s = chrony_float_decode(fake_chrony_float(6e-6));
    t->root_dispersion_s = chrony_float_decode(fake_chrony_float(1e-6));
    t->skew_ppm = chrony_float_decode(fake_chrony_float(0.1));
    t->last_update_interval_s = chrony_float_decode(fake_chrony_float(0.0625));
    poll.sent = reading(p);
    poll.recv_rt_ns = p.rt;
    return poll;
}

static struct cb_now now_at(struct cb_state *st, struct clock_pos p)
{
    struct cb_reading r = reading(p);
    struct cb_now n;
    cb_now(st, &r, &n);
    return n;
}

/* A state that has trusted its clock (two reference updates seen, the start-up rule met), its
 * first poll at CLOCK_REALTIME rt0, the last 40 ms later; *p is 20 ms after that. */
static struct cb_state synchronised_at(int64_t rt0, struct clock_pos *p)
{
    struct cb_params params;
    cb_params_default(&params);
    struct cb_state st;
    cb_init(&st, &params);
    *p = (struct clock_pos){rt0, MONO0};
    for (int i = 0; i < 3; i++) {
        struct cb_poll poll = make_poll(*p, p->rt - 10 * MS);
        cb_on_poll(&st, &poll);
        *p = later(*p, 20 * MS);
    }
    return st;
}

static void expect_holds(const char *what, struct cb_state *st, struct clock_pos p,
                         enum cb_status status, enum cb_reason reason, bool holds)
{
    struct cb_now n = now_at(st, p);
    if (n.status != status || n.reason != reason) {
        fail_msg("%s: %s (%s), want %s (%s)", what, cb_status_name(n.status),
                 cb_reason_text(n.reason), cb_status_name(status), cb_reason_text(reason));
    }
    /* st is only read (const): the judgment runs on a copy. */
    if (cbp_bound_holds(st, &n) != holds) {
        fail_msg("%s: bound_holds %d, want %d", what, !holds, holds);
    }
}

static void test_bound_holds(void **state)
{
    (void)state;
    struct clock_pos p;
    struct cb_state st = synchronised_at(RT0, &p);
    expect_holds("synchronised", &st, p, CB_STATUS_SYNCHRONIZED, CB_REASON_OK, true);

    /* chronyd gone: FREE_RUNNING through the grace (5 s), then UNKNOWN; the bound, grown at the
     * drift since, still holds: the one oracled would serve with a longer grace. */
    struct cb_reading fail_at = reading(later(p, 1 * SEC));
    cb_on_poll_failure(&st, &fail_at, -ETIMEDOUT);
    expect_holds("polls failing", &st, later(p, 2 * SEC), CB_STATUS_FREE_RUNNING,
                 CB_REASON_POLLS_FAILING, true);
    expect_holds("polls failed", &st, later(p, 6 * SEC), CB_STATUS_UNKNOWN, CB_REASON_POLLS_FAILED,
                 true);
    expect_holds("polls failed for an hour", &st, later(p, 3600 * SEC), CB_STATUS_UNKNOWN,
                 CB_REASON_POLLS_FAILED, true);
    /* ... but not at a reading whose VMClock marker could not be read (the page mid-write):
     * whether the VM's clock was disrupted is not known there. */
    struct cb_reading torn = reading(later(p, 6 * SEC));
    torn.marker_state = CB_MARKER_TORN;
    struct cb_now tn;
    cb_now(&st, &torn, &tn);
    assert_int_equal(tn.status, CB_STATUS_UNKNOWN);
    assert_int_equal(tn.reason, CB_REASON_VMCLOCK_UNREADABLE);
    assert_false(cbp_bound_holds(&st, &tn));

    /* ... unless the data behind it was refused: chrony said "not synchronised", then died. */
    st = synchronised_at(RT0, &p);
    struct cb_poll unsync = make_poll(p, p.rt - 10 * MS);
    unsync.tracking.leap = CHRONY_LEAP_UNSYNCHRONISED;
    cb_on_poll(&st, &unsync);
    expect_holds("chrony unsynchronised", &st, later(p, 1 * MS), CB_STATUS_UNKNOWN,
                 CB_REASON_CHRONY_UNSYNCHRONISED, false);
    fail_at = reading(later(p, 1 * SEC));
    cb_on_poll_failure(&st, &fail_at, -ETIMEDOUT);
    expect_holds("polls failed after unsynchronised data", &st, later(p, 6 * SEC),
                 CB_STATUS_UNKNOWN, CB_REASON_POLLS_FAILED, false);

    /* A bound wider than --max-bound (10 ms): chrony's root dispersion 20 ms. It holds. */
    st = synchronised_at(RT0, &p);
    struct cb_poll wide = make_poll(p, p.rt - 10 * MS);
    wide.tracking.root_dispersion_s = chrony_float_decode(fake_chrony_float(0.02));
    cb_on_poll(&st, &wide);
    expect_holds("bound too wide", &st, later(p, 1 * MS), CB_STATUS_UNKNOWN,
                 CB_REASON_BOUND_TOO_WIDE, true);
    /* ... and once polls fail past the grace too. */
    fail_at = reading(later(p, 1 * SEC));
    cb_on_poll_failure(&st, &fail_at, -ETIMEDOUT);
    expect_holds("bound too wide, then polls failed", &st, later(p, 6 * SEC), CB_STATUS_UNKNOWN,
                 CB_REASON_POLLS_FAILED, true);

    /* A step of the clock: DISRUPTED; the bound does not include the step. Then polls fail: the
     * status says DISRUPTED first. */
    st = synchronised_at(RT0, &p);
    struct clock_pos stepped = {p.rt + 300 * MS, p.mono + 1 * MS};
    expect_holds("stepped", &st, stepped, CB_STATUS_DISRUPTED, CB_REASON_CLOCK_STEPPED, false);

    /* Start-up: the first poll's data is not trusted until chrony updates (a step before the
     * start cannot be seen); polls failing then leave POLLS_FAILED over that. */
    struct cb_params params;
    cb_params_default(&params);
    cb_init(&st, &params);
    p = (struct clock_pos){RT0, MONO0};
    struct cb_poll first = make_poll(p, p.rt - 10 * MS);
    cb_on_poll(&st, &first);
    expect_holds("awaiting an update", &st, later(p, 1 * MS), CB_STATUS_UNKNOWN,
                 CB_REASON_AWAITING_UPDATE, false);
    fail_at = reading(later(p, 1 * SEC));
    cb_on_poll_failure(&st, &fail_at, -ETIMEDOUT);
    expect_holds("polls failed while awaiting an update", &st, later(p, 6 * SEC), CB_STATUS_UNKNOWN,
                 CB_REASON_POLLS_FAILED, false);

    /* No poll yet. */
    cb_init(&st, &params);
    expect_holds("no data", &st, p, CB_STATUS_UNKNOWN, CB_REASON_NO_DATA, false);

    /* A leap second announced: inside its window (1 s + 2 x 10 ms around midnight) the bound may
     * be a second off, polls failed or not. */
    int64_t midnight = (RT0 / (86400 * SEC) + 1) * (86400 * SEC);
    st = synchronised_at(midnight - 30 * SEC, &p);
    struct cb_poll leap = make_poll(p, p.rt - 10 * MS);
    leap.tracking.leap = CHRONY_LEAP_INSERT;
    cb_on_poll(&st, &leap);
    fail_at = reading(later(p, 1 * SEC));
    cb_on_poll_failure(&st, &fail_at, -ETIMEDOUT);
    expect_holds("polls failed, before the leap window", &st, later(p, 6 * SEC), CB_STATUS_UNKNOWN,
                 CB_REASON_POLLS_FAILED, true);
    expect_holds("polls failed, in the leap window", &st, later(p, midnight - 500 * MS - p.rt),
                 CB_STATUS_UNKNOWN, CB_REASON_POLLS_FAILED, false);
    expect_holds("polls failed, after the leap window", &st, later(p, midnight + 2 * SEC - p.rt),
                 CB_STATUS_UNKNOWN, CB_REASON_POLLS_FAILED, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),          cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_respond_now),         cmocka_unit_test(test_respond_before_after),
        cmocka_unit_test(test_respond_untrusted),   cmocka_unit_test(test_respond_malformed),
        cmocka_unit_test(test_no_reader_overflows), cmocka_unit_test(test_bound_holds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

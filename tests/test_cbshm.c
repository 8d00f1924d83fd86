/* Unit tests: the ClockBound shared-memory segment (oracle/cbshm.c), read back by the
 * independent reader in tests/support/cbshm_reader.c, including while it is being written. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cbshm_reader.h"
#include "compat/cbproto.h"
#include "compat/cbshm.h"

#define S INT64_C(1000000000)

static char dir[64];
static char path[96];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_cbshm.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(path, sizeof(path), "%s/shm0", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    rmdir(dir);
    return 0;
}

/* A state just polled at CLOCK_MONOTONIC mono whose bound is bound_ns there and grows at
 * growth_ppb (chrony synchronised, no correction left to slew, its rate measured), and the Now
 * it gives at mono with the given status. */
static struct cb_state state_at(int64_t mono, int64_t bound, int64_t growth)
{
    struct cb_params p;
    cb_params_default(&p);
    struct cb_state st;
    cb_init(&st, &p);
    st.have_poll = true;
    st.last.sent.mono_ns = mono;
    st.bound.b0_ns = bound;
    st.bound.growth_ppb = growth;
    st.slew.have_poll = true;
    st.slew.poll_mono_ns = mono;
    st.slew.report_mono_hi_ns = mono;
    st.slew.rate_known = true;
    st.slew.max_rate_ppb = cb_slew_max_rate_ppb((struct chrony_float){0, 0});
    return st;
}

static struct cb_now now_of(const struct cb_state *st, int64_t mono, enum cb_status status)
{
    struct cb_now n;
    memset(&n, 0, sizeof(n));
    n.status = status;
    n.mono_ns = mono;
    n.poll_age_ns = mono - st->last.sent.mono_ns;
    n.bound_ns = st->have_poll ? cb_bound_at(st, mono) : INT64_MAX;
    n.growth_ppb = st->bound.growth_ppb;
    return n;
}

/* The record for a state as state_at() makes it, read at its poll. */
static void record_for(int64_t bound, int64_t growth, enum cb_status status, int64_t as_of,
                       int64_t valid, int64_t res, int64_t allowance, struct cbshm_record *r)
{
    struct cb_state st = state_at(as_of, bound, growth);
    struct cb_now n = now_of(&st, as_of, status);
    cbshm_record_from(&st, &n, as_of, valid, res, 50000, allowance, r);
}

/* What oracled's bound is at t for state_at(m0, b, g), worked out here without the library:
 * the drift, and, from 0.9 s on, the worst an update chrony made after the poll and never
 * reported could add (slew.h): the largest over u of 2 x bound(u) x (t - u - 0.9 s) / 0.9 s,
 * found by trying u every 100 us (so a hair lower than the library's exact maximum). */
static long double bound_model(int64_t m0, int64_t b, int64_t g, int64_t t)
{
    long double dt = (long double)(t - m0);
    long double seen = (long double)b + ceill((long double)g * dt / 1e9L);
    long double worst = 0;
    for (int64_t u = 0; (long double)u <= dt - 8e8L; u += 100000) {
        long double at_u = (long double)b + ceill((long double)g * (long double)u / 1e9L);
        long double over = 2.0L * at_u * (dt - (long double)u - 8e8L) / 8e8L;
        worst = over > worst ? over : worst;
    }
    return seen + worst;
}

/* Whether ClockBound's reader's bound (bound_nsec + rate x coarse elapsed, its coarse reading
 * up to lag behind: two ticks, as the record allows) stays at or above oracled's own (cb_bound_at)
 * plus the allowance at every instant it may use r, sampled every 1 ms; the first instant it does
 * not, else -1. */
static int64_t first_shortfall(const struct cb_state *st, const struct cbshm_record *r, int64_t lag,
                               int64_t allowance)
{
    int64_t until = r->void_after_ns > r->as_of_ns + CBSHM_READER_GRACE_NS
                        ? r->void_after_ns
                        : r->as_of_ns + CBSHM_READER_GRACE_NS;
    for (int64_t t = r->as_of_ns; t <= until + lag; t += 1000000) {
        int64_t coarse = t - lag > r->as_of_ns ? t - lag : r->as_of_ns;
        long double reader =
            (long double)r->bound_ns +
            floorl((long double)(coarse - r->as_of_ns) / 1e9L * (long double)r->max_drift_ppb);
        if (reader < (long double)(cb_bound_at(st, t) + allowance)) {
            return t;
        }
    }
    return -1;
}

static void test_record_from(void **state)
{
    (void)state;
    struct cbshm_record r;
    const int64_t as_of = 5 * S + 123;
    /* oracled's bound 7000 at its poll, growing at 50 ppm. The record must hold for
     * ClockBound's 5 s (and a 4 ms tick): the chord of oracled's bound over that, which past
     * 0.9 s includes what an update chrony made and never reported could add. */
    struct cb_state st = state_at(as_of, 7000, 50000);
    struct cb_now n = now_of(&st, as_of, CB_STATUS_SYNCHRONIZED);
    cbshm_record_from(&st, &n, as_of, 5 * S, 4000000, 50000, 3000, &r);
    int64_t horizon = 5 * S + 8000000; /* and two 4 ms ticks of the coarse clock's lag */
    long double end = bound_model(as_of, 7000, 50000, as_of + horizon);
    int64_t model_rate = (int64_t)ceill((end - 7000.0L) * 1e9L / (long double)horizon);
    int64_t rate = r.max_drift_ppb;
    print_message("oracled's bound 7000 ns at the poll, %.0Lf ns 5.008 s on: the reader's rate "
                  "%lld ppb (the model's chord: %lld)\n",
                  end, (long long)rate, (long long)model_rate);
    assert_int_equal(r.as_of_ns, as_of);
    assert_int_equal(r.void_after_ns, 10 * S + 123);
    assert_true(rate >= model_rate && rate <= model_rate + 10);
    /* The allowance for a step margin (3000), a tick of growth, the reader's truncation. */
    assert_int_equal(r.bound_ns, 7000 + 3000 + (rate * 8000000 + S - 1) / S + 3);
    assert_int_equal(r.status, 1);
    assert_int_equal(r.disruption_marker, 0);
    assert_int_equal(r.disruption_support, 0);
    /* The reader's line holds oracled's bound all the while it may use the record. */
    assert_int_equal(first_shortfall(&st, &r, 8000000, 3000), -1);
    /* Negative control: the record as it was, growing at the drift alone, falls short. */
    struct cbshm_record old = r;
    old.max_drift_ppb = 50000;
    old.bound_ns = 7000 + 3000 + 400 + 3; /* the same allowances, at 50 ppm */
    int64_t short_at = first_shortfall(&st, &old, 8000000, 3000);
    print_message("negative control, the record growing at 50 ppm: short of oracled's bound "
                  "%.3f s after as_of\n",
                  (double)(short_at - as_of) / 1e9);
    assert_true(short_at > as_of + 800000000);

    /* valid_ns is honoured whatever it is: 1 ns, 1 s, 0 (void at once), an hour (the chord
     * then spans the hour). */
    cbshm_record_from(&st, &n, as_of, 1, 4000000, 50000, 3000, &r);
    assert_int_equal(r.void_after_ns, as_of + 1);
    cbshm_record_from(&st, &n, as_of, S, 4000000, 50000, 3000, &r);
    assert_int_equal(r.void_after_ns, as_of + S);
    assert_int_equal(r.max_drift_ppb, rate); /* ClockBound's 5 s still rule */
    cbshm_record_from(&st, &n, as_of, 0, 4000000, 50000, 3000, &r);
    assert_int_equal(r.void_after_ns, as_of);
    cbshm_record_from(&st, &n, as_of, 7 * S, 4000000, 50000, 3000, &r);
    assert_int_equal(r.void_after_ns, as_of + 7 * S);
    assert_true(r.max_drift_ppb > rate);
    assert_int_equal(first_shortfall(&st, &r, 8000000, 3000), -1);

    /* A correction of 5 us being slewed at 1000 ppm, were chronyd to stop: it passes zero
     * 5 us / 1000 ppm = 5 ms after the poll and grows at 1000 ppm; the chord takes that in. */
    st.slew.corr_hi_ns = 5000;
    st.slew.corr_lo_ns = 4999;
    st.slew.rate_ppb = 1000000;
    st.bound.correction_ns = 5000;
    st.bound.b0_ns = 12000;
    n = now_of(&st, as_of + 2000000, CB_STATUS_SYNCHRONIZED);
    cbshm_record_from(&st, &n, as_of, 5 * S, 4000000, 50000, 3000, &r);
    assert_true(r.max_drift_ppb > 1000000);
    assert_int_equal(first_shortfall(&st, &r, 8000000, 3000), -1);

    /* A leap second announced: its window (1 s + 2 x 10 ms before midnight) must not begin
     * while readers still trust the record (5 s and two ticks), for nothing would tell them if
     * oracled were gone. */
    st = state_at(as_of, 7000, 50000);
    n = now_of(&st, as_of, CB_STATUS_SYNCHRONIZED);
    n.rt_ns = INT64_C(1798761600) * S - 7 * S; /* 7 s before midnight */
    st.leap_at_ns = INT64_C(1798761600) * S;
    cbshm_record_from(&st, &n, as_of, 5 * S, 4000000, 50000, 3000, &r);
    assert_int_equal(r.status, 1); /* the window begins 5.98 s on: after the record's use */
    n.rt_ns += 1000 * 1000 * 1000;
    cbshm_record_from(&st, &n, as_of, 5 * S, 4000000, 50000, 3000, &r);
    assert_int_equal(r.status, 0); /* 4.98 s on: within it */
    assert_int_equal(r.bound_ns, CBSHM_UNKNOWN_BOUND_NS);

    /* A margin now wider than the allowance is kept as it is. */
    st = state_at(as_of, 7000, 50000);
    n = now_of(&st, as_of, CB_STATUS_SYNCHRONIZED);
    n.step_margin_ns = 4000;
    cbshm_record_from(&st, &n, as_of, 5 * S, 0, 50000, 3000, &r);
    assert_int_equal(r.bound_ns, 7000 + 4000 + 3);
    n.step_margin_ns = 500;
    cbshm_record_from(&st, &n, as_of, 5 * S, 0, 50000, 3000, &r);
    assert_int_equal(r.bound_ns, 7000 + 3000 + 3);

    /* Not to be used (DISRUPTED, UNKNOWN): the status, and a bound no reader can use either. */
    n = now_of(&st, as_of, CB_STATUS_DISRUPTED);
    cbshm_record_from(&st, &n, as_of, 5 * S, 4000000, 50000, 3000, &r);
    assert_int_equal(r.status, 3);
    assert_int_equal(r.bound_ns, CBSHM_UNKNOWN_BOUND_NS);
    assert_int_equal(r.max_drift_ppb, 50000);
    n = now_of(&st, as_of, CB_STATUS_UNKNOWN);
    cbshm_record_from(&st, &n, as_of, 5 * S, 4000000, 50000, 3000, &r);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.bound_ns, CBSHM_UNKNOWN_BOUND_NS);
    /* No bound yet: UNKNOWN, 10^15 ns. */
    struct cb_state none;
    struct cb_params p;
    cb_params_default(&p);
    cb_init(&none, &p);
    n = now_of(&none, as_of, CB_STATUS_UNKNOWN);
    cbshm_record_from(&none, &n, as_of, 5 * S, 4000000, 50000, 3000, &r);
    assert_int_equal(r.bound_ns, INT64_C(1000000000000000));
    assert_int_equal(r.status, 0);
    assert_int_equal(r.max_drift_ppb, 50000);
    assert_int_equal(r.void_after_ns, as_of + 5 * S);
    /* A growth ClockBound's reader refuses (1e9 ppb and over): UNKNOWN too. */
    st = state_at(as_of, 7000, 2000000000);
    n = now_of(&st, as_of, CB_STATUS_FREE_RUNNING);
    cbshm_record_from(&st, &n, as_of, 5 * S, 4000000, 50000, 3000, &r);
    assert_int_equal(r.bound_ns, INT64_C(1000000000000000));
    assert_int_equal(r.status, 0);
    assert_int_equal(r.max_drift_ppb, 50000);
}

/* How long a record may be used: the grace, but never past the instant oracled itself would
 * go UNKNOWN if no poll succeeded again (the last successful poll's m0 + the grace). */
static void test_valid_ns(void **state)
{
    (void)state;
    struct cb_now n;
    memset(&n, 0, sizeof(n));
    n.status = CB_STATUS_SYNCHRONIZED;
    /* A poll that just succeeded: its m0 was read after the coarse as_of (here 3 us). */
    n.mono_ns = 100 * S + 40000;
    n.poll_age_ns = 37000;
    assert_int_equal(cbshm_valid_ns(5 * S, 100 * S, &n), 5 * S);
    assert_int_equal(cbshm_valid_ns(S, 100 * S, &n), S);
    /* Polls failing for 2 s (FREE_RUNNING): oracled stops serving 3 s after this as_of. */
    n.status = CB_STATUS_FREE_RUNNING;
    n.poll_age_ns = 2 * S + 40000;
    assert_int_equal(cbshm_valid_ns(5 * S, 100 * S, &n), 3 * S);
    /* Failing for longer than the grace: void at once. */
    n.status = CB_STATUS_UNKNOWN;
    n.poll_age_ns = 7 * S;
    assert_int_equal(cbshm_valid_ns(5 * S, 100 * S, &n), 0);
    /* No successful poll yet (the record is UNKNOWN anyway): the grace. */
    n.poll_age_ns = -1;
    assert_int_equal(cbshm_valid_ns(5 * S, 100 * S, &n), 5 * S);
    /* A grace of 0. */
    n.poll_age_ns = 40000;
    assert_int_equal(cbshm_valid_ns(0, 100 * S, &n), 0);
}

/* The record written at open and at a stop. */
static void test_record_unknown(void **state)
{
    (void)state;
    struct cbshm_record r;
    memset(&r, 0xa5, sizeof(r));
    cbshm_record_unknown(77 * S + 5, 50000, &r);
    assert_int_equal(r.as_of_ns, 77 * S + 5);
    assert_int_equal(r.void_after_ns, 77 * S + 5);
    assert_int_equal(r.bound_ns, INT64_C(1000000000000000));
    assert_int_equal(r.max_drift_ppb, 50000);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.disruption_marker, 0);
    assert_int_equal(r.disruption_support, 0);
}

/* --- what a ClockBound reader makes of a record (tests/support/cbshm_reader.c) --- */

#define YEAR (INT64_C(31557600) * S) /* 365.25 days */
/* CLOCK_REALTIME on 2026-12-01. */
#define REAL_2026 (INT64_C(1796083200) * S)

/* The record as a reader parses it from the segment's bytes. */
static struct cbr_record as_read(const struct cbshm_record *r)
{
    uint8_t b[CBSHM_SIZE];
    cbshm_encode(r, 2, b);
    struct cbr_record o;
    cbr_parse(b, &o);
    return o;
}

/*
 * NULL when no reader can misuse the UNKNOWN record r, at the moment it is written and up to
 * 100 years later (its coarse clock and the realtime clock both moved on by that much, the
 * bound grown at the record's max_drift_ppb): ClockBound's reader says UNKNOWN and void,
 * computes earliest and latest with no i64 overflow, a C caller's latest - earliest does not
 * overflow either, earliest stays after 1970 (for readers using unsigned ns), and the bound
 * is at least a day (useless to a reader that ignores the status). Otherwise what fails.
 */
static char misuse_why[256];
static const char *misuse_of(const struct cbshm_record *r, bool live);

static const char *misuse(const struct cbshm_record *r)
{
    return misuse_of(r, false);
}

/* The same, for a record a poll wrote while the clock was not to be used (live): its status may
 * be DISRUPTED as well as UNKNOWN, and it is void only from void_after, but never trusted. */
static const char *misuse_of(const struct cbshm_record *r, bool live)
{
    struct cbr_record o = as_read(r);
    int64_t as_of = o.as_of_sec * S + o.as_of_nsec;
    const int64_t later[] = {0, 1, S, 86400 * S, YEAR, 10 * YEAR, 100 * YEAR};
    for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
        struct cbr_now n;
        int rc = cbr_now(&o, REAL_2026 + later[i], as_of + later[i], &n);
        int64_t width = 0;
        int wrc = rc == 0 ? cbr_width(&n, &width) : 0;
        const char *what = NULL;
        if (rc == -EOVERFLOW) {
            what = "earliest/latest overflow i64";
        } else if (rc < 0) {
            what = "the reader refuses the record";
        } else if (wrc < 0) {
            what = "latest - earliest overflows i64";
        } else if (n.status != CBR_UNKNOWN && !(live && n.status == CBR_DISRUPTED)) {
            what = "the reader's status is not UNKNOWN";
        } else if (!n.void_after_passed && !live) {
            what = "not void";
        } else if (n.earliest_sec < 0) {
            what = "earliest before 1970";
        } else if (n.bound_ns < 86400 * S) {
            what = "a bound below a day";
        }
        if (what != NULL) {
            snprintf(misuse_why, sizeof(misuse_why),
                     "%s %lld s after the record (bound %lld ns, width %lld ns)", what,
                     (long long)(later[i] / S), (long long)n.bound_ns, (long long)width);
            return misuse_why;
        }
    }
    return NULL;
}

/* What the old cbshm_close wrote: zeroed times, 2^62 ns, no drift. */
static struct cbshm_record old_stop_record(void)
{
    struct cbshm_record r;
    memset(&r, 0, sizeof(r));
    r.bound_ns = INT64_C(1) << 62;
    r.status = 0;
    return r;
}

static void test_unknown_not_misusable(void **state)
{
    (void)state;
    struct cbshm_record r;
    /* The stop record, at the configured drifts from the default to the largest allowed. */
    const uint32_t drifts[] = {50000, 1000000, 100000000};
    for (size_t i = 0; i < sizeof(drifts) / sizeof(drifts[0]); i++) {
        cbshm_record_unknown(123456 * S + 789, drifts[i], &r);
        assert_null(misuse(&r));
    }
    /* The UNKNOWN record of a poll (void_after = as_of + valid_ns), even while oracled's own
     * bound grows at 999,999,999 ppb: it grows at the configured drift. */
    record_for(7000, 999999999, CB_STATUS_UNKNOWN, 123456 * S, 0, 4000000, 3000, &r);
    assert_int_equal(r.max_drift_ppb, 50000);
    assert_int_equal(r.bound_ns, CBSHM_UNKNOWN_BOUND_NS);
    assert_null(misuse(&r));
    /* The reader at the very instant of the stop: the same coarse reading as as_of. */
    cbshm_record_unknown(123456 * S, 50000, &r);
    struct cbr_record o = as_read(&r);
    struct cbr_now rn;
    assert_int_equal(cbr_now(&o, REAL_2026, 123456 * S, &rn), 0);
    assert_true(rn.void_after_passed);
    assert_int_equal(rn.status, 0);
    int64_t width;
    assert_int_equal(cbr_width(&rn, &width), 0);
    assert_int_equal(width, 2 * INT64_C(1000000000000000));

    /* Negative control: the same check on the record the old code left at a stop. */
    struct cbshm_record old = old_stop_record();
    const char *why = misuse(&old);
    assert_non_null(why);
    print_message("negative control, the old stop record (bound 2^62): %s\n", why);
    assert_non_null(strstr(why, "latest - earliest overflows i64"));
    assert_non_null(strstr(why, "width -9223372036854775808 ns"));
    /* And the old UNKNOWN record of a poll (2^62, as_of + 1000 s) fails it the same way. */
    old.as_of_ns = 123456 * S;
    old.void_after_ns = old.as_of_ns + 1000 * S;
    old.max_drift_ppb = 50000;
    why = misuse(&old);
    assert_non_null(why);
    print_message("negative control, the old UNKNOWN record of a poll: %s\n", why);
    /* The check does look a century ahead: 2^60 ns at 999,999,999 ppb passes for decades and
     * overflows only by then. */
    cbshm_record_unknown(123456 * S, 999999999, &r);
    r.bound_ns = INT64_C(1) << 60;
    why = misuse(&r);
    assert_non_null(why);
    print_message("negative control, 2^60 ns at 999,999,999 ppb: %s\n", why);
    assert_non_null(strstr(why, "overflow i64 3155760000 s after"));
}

/*
 * Every place that writes a record or an answer no one may use keeps issue 14's rule (the
 * UNKNOWN bound, CBSHM_UNKNOWN_BOUND_NS: no reader's arithmetic overflows for a century, and
 * the interval is useless to a reader that ignores the status): the segment at open and at a
 * stop (cbshm_record_unknown), every untrusted record a poll writes (cbshm_record_from: UNKNOWN
 * and DISRUPTED; no bound yet; a leap window ahead; a reading older than the poll; a growth the
 * reader refuses; a bound at or above the UNKNOWN one), and the v1 socket's answers in those
 * states (cbp_interval: the socket computes the ends itself and saturates them below 2^63, so
 * latest - earliest and earliest + latest fit an int64; test_cbproto checks every bound).
 */
static void test_every_unusable_record(void **state)
{
    (void)state;
    const int64_t as_of = 123456 * S;
    struct {
        const char *what;
        struct cbshm_record r;
        bool live;
        struct cb_now now; /* what the socket would answer from */
    } cases[9];
    size_t n = 0;
    struct cb_state st = state_at(as_of, 7000, 50000);
    cases[n].what = "open, stop";
    cbshm_record_unknown(as_of, 50000, &cases[n].r);
    cases[n].live = false;
    cases[n++].now = now_of(&st, as_of, CB_STATUS_UNKNOWN);
    const enum cb_status untrusted[] = {CB_STATUS_UNKNOWN, CB_STATUS_DISRUPTED};
    for (size_t i = 0; i < 2; i++) {
        cases[n].what = i == 0 ? "UNKNOWN" : "DISRUPTED";
        cases[n].now = now_of(&st, as_of, untrusted[i]);
        cbshm_record_from(&st, &cases[n].now, as_of, 5 * S, 4000000, 50000, 3000, &cases[n].r);
        cases[n++].live = true;
    }
    struct cb_params p;
    cb_params_default(&p);
    struct cb_state none;
    cb_init(&none, &p);
    cases[n].what = "no bound yet";
    cases[n].now = now_of(&none, as_of, CB_STATUS_UNKNOWN);
    cbshm_record_from(&none, &cases[n].now, as_of, 5 * S, 4000000, 50000, 3000, &cases[n].r);
    cases[n++].live = true;
    struct cb_state leap = state_at(as_of, 7000, 50000);
    leap.leap_at_ns = INT64_C(1798761600) * S;
    cases[n].what = "a leap window ahead";
    cases[n].now = now_of(&leap, as_of, CB_STATUS_SYNCHRONIZED);
    cases[n].now.rt_ns = leap.leap_at_ns - 2 * S;
    cbshm_record_from(&leap, &cases[n].now, as_of, 5 * S, 4000000, 50000, 3000, &cases[n].r);
    cases[n++].live = true;
    cases[n].what = "a reading older than the poll";
    cases[n].now = now_of(&st, as_of - 1, CB_STATUS_SYNCHRONIZED);
    cbshm_record_from(&st, &cases[n].now, as_of, 5 * S, 4000000, 50000, 3000, &cases[n].r);
    cases[n++].live = true;
    struct cb_state fast = state_at(as_of, 7000, 2000000000);
    cases[n].what = "a growth of 2e9 ppb";
    cases[n].now = now_of(&fast, as_of, CB_STATUS_FREE_RUNNING);
    cbshm_record_from(&fast, &cases[n].now, as_of, 5 * S, 4000000, 50000, 3000, &cases[n].r);
    cases[n++].live = true;
    /* A trusted status with a bound at or above the UNKNOWN one: the status machine never
     * gives it (--max-bound is at most an hour), but the record must not carry a trusted status
     * with a bound smaller than oracled's. */
    const int64_t huge[] = {CBSHM_UNKNOWN_BOUND_NS, 2 * CBSHM_UNKNOWN_BOUND_NS};
    for (size_t i = 0; i < 2; i++) {
        cases[n].what = i == 0 ? "FREE_RUNNING, bound 1e15" : "FREE_RUNNING, bound 2e15";
        cases[n].now = now_of(&st, as_of, CB_STATUS_FREE_RUNNING);
        cases[n].now.bound_ns = huge[i];
        cbshm_record_from(&st, &cases[n].now, as_of, 5 * S, 4000000, 50000, 3000, &cases[n].r);
        cases[n++].live = true;
    }
    assert_int_equal(n, sizeof(cases) / sizeof(cases[0]));
    for (size_t i = 0; i < n; i++) {
        const struct cbshm_record *r = &cases[i].r;
        const char *why = misuse_of(r, cases[i].live);
        if (why != NULL || r->bound_ns != CBSHM_UNKNOWN_BOUND_NS || r->max_drift_ppb != 50000 ||
            (r->status != CB_STATUS_UNKNOWN && r->status != CB_STATUS_DISRUPTED)) {
            fail_msg("%s: status %d, bound %lld, drift %u: %s", cases[i].what, r->status,
                     (long long)r->bound_ns, r->max_drift_ppb, why != NULL ? why : "");
        }
        /* The v1 socket at the same instant: whatever the bound, an interval no reader
         * overflows on (cbp_bound_holds decides which; both are checked). */
        struct cb_now sn = cases[i].now;
        sn.rt_ns = REAL_2026;
        sn.earliest_ns = sn.rt_ns - sn.bound_ns; /* both >= 0: no overflow */
        sn.latest_ns = sn.bound_ns > INT64_MAX - sn.rt_ns ? INT64_MAX : sn.rt_ns + sn.bound_ns;
        for (int holds = 0; holds < 2; holds++) {
            uint64_t e, l;
            cbp_interval(&sn, holds, &e, &l);
            if (e > l || l > CBP_LATEST_MAX || e + l > (uint64_t)INT64_MAX) {
                fail_msg("%s: the socket's [%llu, %llu]", cases[i].what, (unsigned long long)e,
                         (unsigned long long)l);
            }
        }
        print_message("%-30s status %d, bound %lld ns, void after %+.3f s\n", cases[i].what,
                      r->status, (long long)r->bound_ns,
                      (double)(r->void_after_ns - r->as_of_ns) / 1e9);
    }
}

/*
 * The first coarse instant, from as_of on, at which ClockBound's reader no longer trusts r
 * (SYNCHRONIZED or FREE_RUNNING), searched to the ns; INT64_MAX if it still trusts it an hour
 * after its void_after or as_of + 5 s. Its trust only ever ends once (checked on the way).
 */
static int64_t trusted_until(const struct cbshm_record *r)
{
    struct cbr_record o = as_read(r);
    struct cbr_now n;
    int64_t lo = r->as_of_ns; /* trusted */
    assert_int_equal(cbr_now(&o, REAL_2026, lo, &n), 0);
    assert_true(cbr_trusted(n.status));
    int64_t hi = (r->void_after_ns > r->as_of_ns + 5 * S ? r->void_after_ns : r->as_of_ns + 5 * S) +
                 3600 * S;
    assert_int_equal(cbr_now(&o, REAL_2026, hi, &n), 0);
    if (cbr_trusted(n.status)) {
        return INT64_MAX;
    }
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        assert_int_equal(cbr_now(&o, REAL_2026, mid, &n), 0);
        if (cbr_trusted(n.status)) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return hi;
}

static void test_live_record_void(void **state)
{
    (void)state;
    struct cbshm_record r;
    /* A grace of 7 s: SYNCHRONIZED for ClockBound's 5 s, FREE_RUNNING to void_after, then
     * UNKNOWN from the first coarse reading equal to void_after (the comparison is strict). */
    record_for(7000, 50000, CB_STATUS_SYNCHRONIZED, 100 * S, 7 * S, 4000000, 3000, &r);
    struct cbr_record o = as_read(&r);
    struct cbr_now rn;
    assert_int_equal(cbr_now(&o, REAL_2026, 105 * S - 1, &rn), 0);
    assert_int_equal(rn.status, 1);
    assert_int_equal(cbr_now(&o, REAL_2026, 105 * S, &rn), 0);
    assert_int_equal(rn.status, 2);
    assert_int_equal(cbr_now(&o, REAL_2026, 107 * S - 1, &rn), 0);
    assert_int_equal(rn.status, 2);
    assert_false(rn.void_after_passed);
    assert_int_equal(cbr_now(&o, REAL_2026, 107 * S, &rn), 0);
    assert_int_equal(rn.status, 0);
    assert_true(rn.void_after_passed);
    assert_int_equal(trusted_until(&r), 107 * S);
    /* A grace of 1 s: void_after passes at 101 s, but ClockBound's reader keeps SYNCHRONIZED
     * for 5 s after as_of and then says UNKNOWN, never FREE_RUNNING. */
    record_for(7000, 50000, CB_STATUS_SYNCHRONIZED, 100 * S, 1 * S, 4000000, 3000, &r);
    o = as_read(&r);
    assert_int_equal(cbr_now(&o, REAL_2026, 101 * S, &rn), 0);
    assert_int_equal(rn.status, 1);
    assert_true(rn.void_after_passed);
    assert_int_equal(trusted_until(&r), 105 * S);
    /* DISRUPTED is never trusted; UNKNOWN never either. */
    record_for(7000, 50000, CB_STATUS_DISRUPTED, 100 * S, 7 * S, 4000000, 3000, &r);
    o = as_read(&r);
    assert_int_equal(cbr_now(&o, REAL_2026, 100 * S, &rn), 0);
    assert_int_equal(rn.status, 3);
    /* The reader's other refusals: a coarse reading more than 1 us before as_of, a drift of
     * 1e9 ppb. */
    assert_int_equal(cbr_now(&o, REAL_2026, 100 * S - 1000, &rn), -EDOM);
    assert_int_equal(cbr_now(&o, REAL_2026, 100 * S - 999, &rn), 0);
    o.max_drift_ppb = 1000000000;
    assert_int_equal(cbr_now(&o, REAL_2026, 100 * S, &rn), -EPROTO);

    /* Negative control: the old record, void 1000 s after as_of, is still trusted (FREE_RUNNING)
     * when the 7 s one has been void for a long time. */
    record_for(7000, 50000, CB_STATUS_SYNCHRONIZED, 100 * S, 7 * S, 4000000, 3000, &r);
    r.void_after_ns = 1100 * S;
    o = as_read(&r);
    assert_int_equal(cbr_now(&o, REAL_2026, 107 * S, &rn), 0);
    assert_int_equal(rn.status, 2);
    assert_int_equal(trusted_until(&r), 1100 * S);
    print_message("negative control: void_after = as_of + 1000 s is trusted until %lld s after "
                  "as_of (status %d at 7 s), the 7 s grace's record until 7 s\n",
                  (long long)((trusted_until(&r) - 100 * S) / S), rn.status);
}

static void test_encode_layout(void **state)
{
    (void)state;
    struct cbshm_record r = {.as_of_ns = 12 * S + 345,
                             .void_after_ns = 1012 * S + 345,
                             .bound_ns = 7200,
                             .disruption_marker = 0,
                             .max_drift_ppb = 50000,
                             .status = 2,
                             .disruption_support = 0};
    uint8_t b[CBSHM_SIZE];
    cbshm_encode(&r, 4, b);
    /* On x86 the file starts 4E 5A 4D 41 00 02 42 43. */
    const uint8_t magic[8] = {0x4e, 0x5a, 0x4d, 0x41, 0x00, 0x02, 0x42, 0x43};
    assert_memory_equal(b, magic, 8);
    struct cbr_record o;
    cbr_parse(b, &o);
    assert_int_equal(o.size, 80);
    assert_int_equal(o.version, 2);
    assert_int_equal(o.generation, 4);
    assert_int_equal(o.as_of_sec, 12);
    assert_int_equal(o.as_of_nsec, 345);
    assert_int_equal(o.void_after_sec, 1012);
    assert_int_equal(o.void_after_nsec, 345);
    assert_int_equal(o.bound_nsec, 7200);
    assert_int_equal(o.disruption_marker, 0);
    assert_int_equal(o.max_drift_ppb, 50000);
    assert_int_equal(o.status, 2);
    assert_int_equal(o.disruption_support, 0);
    for (int i = 73; i < 80; i++) {
        assert_int_equal(b[i], 0);
    }
    /* The reader's formula: 1 s after as_of at 50 ppm, 50 us more. */
    assert_int_equal(cbr_bound_at(&o, 13 * S + 345), 7200 + 50000);
    /* Truncated: 1.5 us at 50 ppm is 0.075 ns. */
    assert_int_equal(cbr_bound_at(&o, 12 * S + 345 + 1500), 7200);
}

static void test_generation(void **state)
{
    (void)state;
    assert_int_equal(cbshm_next_generation(0), 2);
    assert_int_equal(cbshm_next_generation(2), 4);
    assert_int_equal(cbshm_next_generation(65532), 65534);
    assert_int_equal(cbshm_next_generation(65534), 2); /* never 0 once written */
}

static void test_file(void **state)
{
    (void)state;
    char why[256];
    struct cbshm w;
    /* 0644 under the unit's umask too. */
    mode_t old_mask = umask(077);
    assert_int_equal(cbshm_open(&w, path, 50 * S + 7, 50000, why, sizeof(why)), 0);
    umask(old_mask);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 80);
    assert_int_equal(st.st_mode & 0777, 0644);
    /* A second writer is refused while the first holds it. */
    struct cbshm w2;
    assert_int_equal(cbshm_open(&w2, path, 50 * S, 50000, why, sizeof(why)), -EBUSY);
    assert_non_null(strstr(why, "another process writes it"));
    struct cbr rd;
    assert_int_equal(cbr_open(&rd, path), 0);
    struct cbr_record o;
    assert_int_equal(cbr_read(&rd, &o, 1), 0);
    assert_int_equal(o.generation, 2);
    assert_int_equal(o.magic0, 0x414D5A4E);
    assert_int_equal(o.magic1, 0x43420200);
    /* Before the first poll: UNKNOWN, void from the coarse reading given at open. */
    assert_int_equal(o.status, 0);
    assert_int_equal(o.as_of_sec, 50);
    assert_int_equal(o.as_of_nsec, 7);
    assert_int_equal(o.void_after_sec, 50);
    assert_int_equal(o.void_after_nsec, 7);
    assert_int_equal(o.bound_nsec, INT64_C(1000000000000000));
    assert_int_equal(o.max_drift_ppb, 50000);
    assert_null(misuse(&(struct cbshm_record){.as_of_ns = 50 * S + 7,
                                              .void_after_ns = 50 * S + 7,
                                              .bound_ns = o.bound_nsec,
                                              .max_drift_ppb = o.max_drift_ppb,
                                              .status = o.status}));

    struct cbshm_record r;
    record_for(9000, 50000, CB_STATUS_SYNCHRONIZED, 77 * S, 5 * S, 4000000, 0, &r);
    cbshm_publish(&w, &r);
    assert_int_equal(cbr_read(&rd, &o, 1), 0);
    assert_int_equal(o.generation, 4);
    assert_int_equal(o.status, 1);
    assert_int_equal(o.bound_nsec, r.bound_ns);
    assert_int_equal(o.max_drift_ppb, r.max_drift_ppb);
    assert_true(o.bound_nsec > 9000 && o.bound_nsec < 12000);
    assert_int_equal(o.as_of_sec, 77);
    assert_int_equal(o.void_after_sec, 82);
    /* Stopped: UNKNOWN, void from the coarse reading at the stop, the UNKNOWN bound. */
    cbshm_close(&w, 90 * S + 3);
    assert_int_equal(w.fd, -1);
    cbshm_close(&w, 91 * S); /* a second close does nothing */
    assert_int_equal(cbr_read(&rd, &o, 1), 0);
    assert_int_equal(o.generation, 6);
    assert_int_equal(o.status, 0);
    assert_int_equal(o.as_of_sec, 90);
    assert_int_equal(o.as_of_nsec, 3);
    assert_int_equal(o.void_after_sec, 90);
    assert_int_equal(o.void_after_nsec, 3);
    assert_int_equal(o.bound_nsec, INT64_C(1000000000000000));
    assert_int_equal(o.max_drift_ppb, 50000);
    struct cbr_now rn;
    assert_int_equal(cbr_now(&o, REAL_2026, 90 * S + 3, &rn), 0);
    assert_int_equal(rn.status, 0);
    assert_true(rn.void_after_passed);

    /* Reopened: the generation goes on from where it was. */
    assert_int_equal(cbshm_open(&w, path, 95 * S, 50000, why, sizeof(why)), 0);
    assert_int_equal(cbr_read(&rd, &o, 1), 0);
    assert_int_equal(o.generation, 8);
    assert_int_equal(o.as_of_sec, 95);
    cbshm_close(&w, 96 * S);
    cbr_close(&rd);

    /* Errors say what is wrong. */
    assert_int_equal(cbshm_open(&w, dir, S, 50000, why, sizeof(why)), -EISDIR);
    char longpath[400];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(cbshm_open(&w, longpath, S, 50000, why, sizeof(why)), -ENAMETOOLONG);
}

/* A missing directory is created, every missing level of it, mode 0755 under the unit's umask
 * (0077), as ClockBound's writer does (create_dir_all on the segment's parent); what is there
 * already is left as it is. */
static char made_top[128], made_mid[128], made_dir[128], made_path[160], plain[128], locked[128];

static int teardown_made(void **state)
{
    unlink(made_path);
    rmdir(made_dir);
    rmdir(made_mid);
    rmdir(made_top);
    unlink(plain);
    rmdir(locked);
    return teardown(state);
}

static void test_missing_directory(void **state)
{
    (void)state;
    char why[256];
    struct cbshm w;
    snprintf(made_top, sizeof(made_top), "%s/no", dir);
    snprintf(made_mid, sizeof(made_mid), "%s/no/such", dir);
    snprintf(made_dir, sizeof(made_dir), "%s/no/such/dir", dir);
    snprintf(made_path, sizeof(made_path), "%s/no/such/dir/shm0", dir);
    assert_int_equal(chmod(dir, 0700), 0);
    mode_t old_mask = umask(077);
    int rc = cbshm_open(&w, made_path, S, 50000, why, sizeof(why));
    umask(old_mask);
    if (rc != 0) {
        fail_msg("cbshm_open: %s", why);
    }
    assert_string_equal(w.made_dir, made_top);
    const char *levels[] = {made_top, made_mid, made_dir};
    for (size_t i = 0; i < 3; i++) {
        struct stat st;
        assert_int_equal(stat(levels[i], &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        if ((st.st_mode & 07777) != 0755) {
            fail_msg("%s: mode %04o", levels[i], (unsigned)(st.st_mode & 07777));
        }
    }
    /* The directory that was there is left as it was. */
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    struct cbr rd;
    assert_int_equal(cbr_open(&rd, made_path), 0);
    struct cbr_record o;
    assert_int_equal(cbr_read(&rd, &o, 1), 0);
    assert_int_equal(o.status, 0);
    cbr_close(&rd);
    cbshm_close(&w, 2 * S);
    /* Opened again: nothing to create. */
    assert_int_equal(cbshm_open(&w, made_path, 3 * S, 50000, why, sizeof(why)), 0);
    assert_string_equal(w.made_dir, "");
    cbshm_close(&w, 4 * S);

    /* A file where a directory should be: refused, naming it. */
    snprintf(plain, sizeof(plain), "%s/plain", dir);
    int fd = open(plain, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    close(fd);
    char under[192];
    snprintf(under, sizeof(under), "%s/sub/shm0", plain);
    assert_int_equal(cbshm_open(&w, under, S, 50000, why, sizeof(why)), -ENOTDIR);
    char want[256];
    snprintf(want, sizeof(want), "cannot create its directory: %s is not a directory", plain);
    assert_string_equal(why, want);
    assert_int_equal(w.fd, -1);
    /* A directory that cannot be made: under one without write permission. Run as another
     * user when this is root (which writes anywhere): nobody, in a child. */
    snprintf(locked, sizeof(locked), "%s/locked", dir);
    assert_int_equal(mkdir(locked, 0555), 0);
    assert_int_equal(chmod(locked, 0555), 0);
    assert_int_equal(chmod(dir, 0755), 0);
    char below[192];
    snprintf(below, sizeof(below), "%s/sub/shm0", locked);
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0)) {
            _exit(3);
        }
        struct cbshm c;
        char cwhy[256] = "";
        int crc = cbshm_open(&c, below, S, 50000, cwhy, sizeof(cwhy));
        if (write(pipefd[1], cwhy, strlen(cwhy) + 1) < 0) {
            _exit(4);
        }
        _exit(crc == -EACCES ? 0 : 1);
    }
    close(pipefd[1]);
    char got[256] = "";
    ssize_t len = read(pipefd[0], got, sizeof(got) - 1);
    close(pipefd[0]);
    got[len > 0 ? len : 0] = '\0';
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    print_message("under a directory it may not write to: %s\n", got);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    snprintf(want, sizeof(want), "cannot create the directory %s/sub: Permission denied", locked);
    assert_string_equal(got, want);
}

/* The control: a writer stopped half-way through a record (generation odd, as_of new,
 * void_after old). The seqlock reader refuses it; a reader ignoring the generation takes an
 * inconsistent record. */
static void test_half_written(void **state)
{
    (void)state;
    char why[256];
    struct cbshm w;
    assert_int_equal(cbshm_open(&w, path, S, 50000, why, sizeof(why)), 0);
    struct cbshm_record r;
    record_for(9000, 50000, CB_STATUS_SYNCHRONIZED, 10 * S, 5 * S, 4000000, 0, &r);
    cbshm_publish(&w, &r);
    uint16_t odd = (uint16_t)(w.generation + 1);
    memcpy(w.map + 14, &odd, 2);
    int64_t new_sec = 20;
    memcpy(w.map + 16, &new_sec, 8);
    struct cbr rd;
    assert_int_equal(cbr_open(&rd, path), 0);
    struct cbr_record o;
    assert_int_equal(cbr_read(&rd, &o, 100), -EAGAIN);
    cbr_read_unsafe(&rd, &o);
    assert_int_not_equal(o.void_after_sec - o.as_of_sec, 5);
    cbr_close(&rd);
    cbshm_close(&w, 11 * S);
}

/* A writer publishing as fast as it can while the reader reads: every snapshot the seqlock
 * reader accepts is one record, whole. */
static atomic_bool stop_writer;
static atomic_ulong writes_done;

static void *writer(void *arg)
{
    struct cbshm *w = arg;
    for (int64_t k = 1; !atomic_load(&stop_writer); k++) {
        struct cbshm_record r = {.as_of_ns = k * 1000003,
                                 .void_after_ns = k * 1000003 + 5 * S,
                                 .bound_ns = k,
                                 .max_drift_ppb = (uint32_t)(k & 0xffff),
                                 .status = (int32_t)(k & 3)};
        r.disruption_marker = (uint64_t)k;
        cbshm_publish(w, &r);
        atomic_fetch_add(&writes_done, 1);
    }
    return NULL;
}

static bool consistent(const struct cbr_record *o)
{
    int64_t k = o->bound_nsec;
    int64_t as_of = k * 1000003;
    return o->as_of_sec == as_of / S && o->as_of_nsec == as_of % S &&
           o->void_after_sec == as_of / S + 5 && o->void_after_nsec == as_of % S &&
           o->disruption_marker == (uint64_t)k && o->max_drift_ppb == (uint32_t)(k & 0xffff) &&
           o->status == (int32_t)(k & 3);
}

static void test_race(void **state)
{
    (void)state;
    char why[256];
    struct cbshm w;
    assert_int_equal(cbshm_open(&w, path, S, 50000, why, sizeof(why)), 0);
    struct cbshm_record first = {.as_of_ns = 1000003,
                                 .void_after_ns = 1000003 + 5 * S,
                                 .bound_ns = 1,
                                 .max_drift_ppb = 1,
                                 .status = 1,
                                 .disruption_marker = 1};
    cbshm_publish(&w, &first);
    struct cbr rd;
    assert_int_equal(cbr_open(&rd, path), 0);
    atomic_store(&stop_writer, false);
    atomic_store(&writes_done, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer, &w), 0);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    uint64_t reads = 0, busy = 0, torn = 0, unsafe_torn = 0, unsafe_reads = 0;
    int64_t elapsed = 0;
    int64_t last_k = 0;
    do {
        for (int i = 0; i < 1000; i++) {
            struct cbr_record o;
            if (cbr_read(&rd, &o, 4) < 0) {
                busy++;
            } else {
                reads++;
                if (!consistent(&o) || o.bound_nsec < last_k) {
                    torn++;
                }
                last_k = o.bound_nsec;
            }
            cbr_read_unsafe(&rd, &o);
            unsafe_reads++;
            unsafe_torn += !consistent(&o);
        }
        sched_yield(); /* under valgrind's one-thread-at-a-time, the writer's turn */
        clock_gettime(CLOCK_MONOTONIC, &now);
        elapsed = (now.tv_sec - start.tv_sec) * S + (now.tv_nsec - start.tv_nsec);
        /* Half a second, and at least 1000 writes and reads, within 20 s. */
    } while ((elapsed < S / 2 || atomic_load(&writes_done) < 1000 || reads < 1000) &&
             elapsed < 20 * S);
    atomic_store(&stop_writer, true);
    pthread_join(t, NULL);
    print_message("%llu seqlock reads (%llu found a write in progress), %llu torn; %llu writes; "
                  "the same reader ignoring the generation: %llu of %llu torn\n",
                  (unsigned long long)reads, (unsigned long long)busy, (unsigned long long)torn,
                  (unsigned long long)atomic_load(&writes_done), (unsigned long long)unsafe_torn,
                  (unsigned long long)unsafe_reads);
    assert_true(reads >= 1000);
    /* With two CPUs and no valgrind serialising the threads, they must have overlapped, or the
     * test saw no race at all. */
    const char *preload = getenv("LD_PRELOAD");
    bool valgrind = preload != NULL && strstr(preload, "vgpreload") != NULL;
    if (sysconf(_SC_NPROCESSORS_ONLN) > 1 && !valgrind) {
        assert_true(busy + unsafe_torn > 0);
    }
    assert_true(atomic_load(&writes_done) >= 1000);
    assert_int_equal(torn, 0);
    cbr_close(&rd);
    cbshm_close(&w, 2 * S);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_from),
        cmocka_unit_test(test_valid_ns),
        cmocka_unit_test(test_record_unknown),
        cmocka_unit_test(test_unknown_not_misusable),
        cmocka_unit_test(test_every_unusable_record),
        cmocka_unit_test(test_live_record_void),
        cmocka_unit_test(test_encode_layout),
        cmocka_unit_test(test_generation),
        cmocka_unit_test_setup_teardown(test_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown_made),
        cmocka_unit_test_setup_teardown(test_half_written, setup, teardown),
        cmocka_unit_test_setup_teardown(test_race, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

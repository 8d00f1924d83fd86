/*
 * clockbound: the clock's status and the interval [earliest, latest] that certainly contains true
 * time (DESIGN.md section 2). Pure: the caller feeds chrony polls and clock readings in, the state
 * machine never reads a clock, touches a socket or logs.
 *
 *   cb_init()             once
 *   cb_on_poll()          after each successful chrony tracking query
 *   cb_on_poll_failure()  after each failed one (timeout, refused, malformed reply)
 *   cb_on_upstream()      after each NTPDATA answer about the reference's NTP server
 *   cb_now()              whenever the time is needed; also runs the step detector
 *   cb_before/cb_after()  on the result of cb_now()
 *
 * Names follow AWS ClockBound: Before(ts) is true iff ts < earliest (ts has certainly passed;
 * Spanner calls this TT.after), After(ts) is true iff ts > latest (ts has certainly not arrived;
 * Spanner's TT.before).
 */
#ifndef CLOCKBOUND_CLOCKBOUND_H
#define CLOCKBOUND_CLOCKBOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bound.h"
#include "chrony_proto.h"
#include "clock.h"
#include "dispersion.h"
#include "phc.h"
#include "sample.h"
#include "slew.h"
#include "step.h"

/* Numbered as the wire's ClockStatus (DESIGN.md section 3). */
enum cb_status {
    CB_STATUS_UNKNOWN = 0,      /* nothing that depends on the bound may be served */
    CB_STATUS_SYNCHRONIZED = 1, /* chrony is tracking a source; the bound is fresh */
    CB_STATUS_FREE_RUNNING = 2, /* chrony's data is stale or polls fail; the bound keeps growing */
    CB_STATUS_DISRUPTED = 3,    /* the clock was stepped, or the VM's clock disrupted; wait for
                                 * chrony to measure again */
};

/* Why the status is what it is. */
enum cb_reason {
    CB_REASON_OK,                    /* SYNCHRONIZED */
    CB_REASON_NO_DATA,               /* UNKNOWN: no reply from chrony yet */
    CB_REASON_CHRONY_UNSYNCHRONISED, /* UNKNOWN: chrony's leap status is "not synchronised" */
    CB_REASON_LOCAL_REFERENCE,       /* UNKNOWN: chrony's `local` fallback is the reference */
    CB_REASON_NO_REFERENCE_TIME,     /* UNKNOWN: reference time is zero */
    CB_REASON_REFERENCE_IN_FUTURE,   /* UNKNOWN: reference time is after the reply */
    CB_REASON_POLLS_FAILED,          /* UNKNOWN: polls failed for longer than the grace period */
    CB_REASON_BOUND_TOO_WIDE,        /* UNKNOWN: bound above --max-bound */
    CB_REASON_LEAP_SECOND,           /* UNKNOWN: within the window around an announced leap */
    CB_REASON_AWAITING_UPDATE,       /* UNKNOWN: no chrony measurement since start yet */
    CB_REASON_POLLS_FAILING,         /* FREE_RUNNING: polls failing, within the grace period */
    CB_REASON_STALE_REFERENCE,       /* FREE_RUNNING: reference older than 8 update intervals
                                      * (and than CB_STALE_MIN_NS: chrony 4.3 sets back its
                                      * reference time by a random 0..1 s at every update,
                                      * reference.c fuzz_ref_time, so it looks up to 1 s older
                                      * than the update; seen 1.14 s old at 1/16 s polls) */
    CB_REASON_CLOCK_STEPPED,         /* DISRUPTED */
    CB_REASON_UPSTREAM_LOCAL,        /* UNKNOWN: the reference is an NTP server (not loopback)
                                      * that NTPDATA says runs on its own local clock */
    CB_REASON_ZERO_ERROR_TERM,       /* UNKNOWN: synchronised, yet a root delay or dispersion of
                                      * exactly 0: chrony sends a NaN as 0 (chrony_proto.h) */
    /* UNKNOWN: the PHC is chrony's reference and its own error bound cannot be used (phc.h):
     * the file could not be read, was empty, held no number, a negative one, or one above
     * --max-bound. */
    CB_REASON_PHC_UNREADABLE,
    CB_REASON_PHC_EMPTY,
    CB_REASON_PHC_INVALID,
    CB_REASON_PHC_NEGATIVE,
    CB_REASON_PHC_ABSURD,
    CB_REASON_VMCLOCK_DISRUPTED,  /* DISRUPTED: the VMClock's disruption marker changed (live
                                   * migration, a long pause): REALTIME and MONOTONIC moved
                                   * together, so the step detector could not see it */
    CB_REASON_VMCLOCK_UNREADABLE, /* UNKNOWN at this reading alone: its marker could not be
                                   * read whole (the page mid-write at every try) */
};

/*
 * After a clock step. chrony 4.3 does not notice a step under 10 s (sched.c): it takes the
 * jumped samples into its regression with the ones from before, and needs minsamples (6) of
 * them before none from before the step is left; until then its estimate may hold a fraction of
 * the step, or overshoot it, while its root dispersion stays small. Measured (a simulation on
 * chrony's own regress.c and sourcestats.c, and real chronyd 4.3 runs): a report's interval
 * missed the truth, by up to ~0.9 of the step, at any of the first 5 updates after the step,
 * and from the 6th on only when the step is under ~5 times chrony's root distance, until the
 * 9th. So DISRUPTED lasts CB_STEP_UPDATES reference updates, and a step that small stays in the
 * bound until CB_STEP_FLOOR_UPDATES.
 */
#define CB_STEP_UPDATES 6 /* chrony's default minsamples */
/* After a VMClock disruption the clock's error is of unknown size (a step the detector did not
 * see, a frequency that changed with the host): DISRUPTED lasts CB_STEP_FLOOR_UPDATES, the count
 * after which no step, however small against chrony's root distance, was seen left in its
 * estimate. chrony is also asked to drop its samples (oracled, poller.c), which it may refuse. */
#define CB_VMCLOCK_UPDATES CB_STEP_FLOOR_UPDATES
/* Markers replaced that are remembered, so a reading taken before a change (and taken in after
 * it) is not a change back: more changes than this within one reading's life (a poll's, 20 ms)
 * would count an old reading as one more disruption, which only lengthens DISRUPTED. */
#define CB_VMCLOCK_REPLACED   8
#define CB_STEP_FLOOR_UPDATES 10
#define CB_STEP_FLOOR_FACTOR  5

/* Defaults (DESIGN.md section 2). */
#define CB_DEFAULT_MAX_DRIFT_PPB            50000      /* 50 ppm, as ClockBound recommends */
#define CB_DEFAULT_CHRONY_MAXCLOCKERROR_PPB 1000       /* chrony's own default, 1 ppm */
#define CB_DEFAULT_MAX_BOUND_NS             10000000   /* 10 ms */
#define CB_DEFAULT_GRACE_NS                 5000000000 /* 5 s */
#define CB_STALE_FACTOR                     8          /* stale after 8 x last_update_interval_s */
#define CB_STALE_MIN_NS                     4000000000 /* ... and never before 4 s (see above) */
#define CB_REF_FUTURE_TOLERANCE_NS          1000       /* float rounding of ref time vs reply */
#define CB_LEAP_MARGIN_BASE_NS              1000000000 /* leap window: 1 s + 2 x max bound */
#define CB_MAX_RATE_PPB                     100000000  /* parameter sanity: 10 % */
/* Timestamps are below 2^63, so signed and unsigned code agree. */
#define CB_TS_LIMIT (UINT64_C(1) << 63)

struct cb_params {
    int64_t max_drift_ppb;            /* D: the fastest the clock may drift, ppb */
    int64_t chrony_maxclockerror_ppb; /* M: chrony's maxclockerror setting, ppb */
    int64_t max_bound_ns;             /* a wider bound is UNKNOWN */
    int64_t grace_ns;                 /* how long failing polls stay FREE_RUNNING */
    int64_t step_threshold_ns;        /* a larger change of REALTIME - MONOTONIC is a step */
    /* UNKNOWN until chrony reports a reference update made after the first poll. A step made
     * before start cannot be seen any other way; a server sets this, a one-shot tool cannot
     * afford the wait (up to one chrony poll interval). */
    bool await_update_after_start;
};

/* Fills in the defaults above. */
void cb_params_default(struct cb_params *p);

/* Returns 0 when every parameter is in range, else -EINVAL with *why naming the bad one. */
int cb_params_check(const struct cb_params *p, const char **why);

/* What chrony's NTPDATA said about the NTP server behind one source (cb_on_upstream). */
struct cb_upstream {
    bool known;           /* an answer has been taken in */
    uint16_t addr_family; /* the source it is about: CHRONY_ADDR_INET4 or CHRONY_ADDR_INET6 */
    uint8_t addr[16];     /* IPv4 in addr[0..3] */
    uint32_t ref_id;      /* that server's own reference ID (CHRONY_REFID_LOCAL: its local clock) */
    uint8_t stratum;      /* its stratum, as it sent it */
};

/* The state. Plain data, no resources: copy or discard it freely, no fini needed. */
struct cb_state {
    struct cb_params params;
    bool have_poll;                    /* a successful poll has been seen */
    struct cb_poll last;               /* the last successful poll */
    struct cb_bound_at_poll bound;     /* computed from it */
    struct cb_slew slew;               /* chrony's slew as of that poll (slew.h) */
    struct cb_dispersion dispersion;   /* chrony's dispersion growth, measured (dispersion.h) */
    enum cb_phc_verdict phc_verdict;   /* what the PHC's error bound did at that poll (phc.h) */
    struct cb_phc_history phc_history; /* the values read over chrony's last updates (phc.h) */
    enum cb_reason verdict;            /* CB_REASON_OK, or why that poll's data is unusable */
    bool failing;                      /* the most recent poll failed */
    int last_error;                    /* its negative errno (0 if none) */
    struct cb_step step;           /* based on the first poll, re-based only at a detected step */
    bool disrupted;                /* a step or a VMClock disruption was seen and chrony has
                                    * not measured enough since */
    enum cb_reason disruption;     /* which: CB_REASON_CLOCK_STEPPED or _VMCLOCK_DISRUPTED */
    int disruption_updates;        /* the reference updates that end it */
    int64_t step_mono_ns;          /* CLOCK_MONOTONIC when the step was detected */
    int64_t step_ns;               /* its size, signed */
    bool step_baseline_set;        /* a poll sent after the detection has been taken in ... */
    int64_t step_baseline_ref_ns;  /* ... and this is the reference time it showed */
    int64_t step_last_ref_ns;      /* the last reference time seen since */
    int step_updates;              /* reference updates seen since the baseline: all after the
                                    * step */
    int64_t step_root_distance_ns; /* chrony's delay/2 + dispersion at the detection */
    int64_t step_floor_ns;         /* kept in the bound after DISRUPTED, see cb_now() */
    bool awaiting_update;          /* await_update_after_start, and no fresh update yet */
    int64_t start_mono_ns;         /* the first poll's m0 */
    int64_t start_ref_ns;          /* the first poll's reference time */
    int64_t leap_at_ns;            /* the midnight of an announced leap second, 0 if none */
    struct cb_upstream upstream;   /* what chrony's last NTPDATA answer said (cb_on_upstream) */
    bool vm_have_marker;           /* a reading has carried the VMClock's marker ... */
    uint64_t vm_marker;            /* ... and this is the last one seen */
    int vm_replaced;               /* markers it replaced, the last CB_VMCLOCK_REPLACED of
                                    * them kept: a reading showing one is an old reading */
    uint64_t vm_replaced_marker[CB_VMCLOCK_REPLACED];
    uint64_t vm_disruptions; /* changes of it seen */
};

/* The answer to "what time is it". */
struct cb_now {
    enum cb_status status;
    enum cb_reason reason;
    int64_t rt_ns;          /* the CLOCK_REALTIME reading it was computed from */
    int64_t mono_ns;        /* ... and its CLOCK_MONOTONIC reading */
    int64_t bound_ns;       /* INT64_MAX before the first successful poll; includes step_margin */
    int64_t step_margin_ns; /* the largest REALTIME - MONOTONIC change the step detector could
                             * have missed since its base (the readings' widths) */
    int64_t earliest_ns;    /* rt - bound, saturating; meaningful only when trusted */
    int64_t latest_ns;      /* rt + bound, saturating */
    int64_t poll_age_ns;    /* CLOCK_MONOTONIC since the last successful poll's m0; -1 if none */
    int64_t growth_ppb;     /* how fast the bound grows at this instant (0 before the first poll):
                             * the poll's growth plus the slew's (cb_slew_growth_ppb) */
};

/* Initialises st with a copy of *p (which must pass cb_params_check). */
void cb_init(struct cb_state *st, const struct cb_params *p);

/* Takes in a successful poll. Detects a step since the base reading. */
void cb_on_poll(struct cb_state *st, const struct cb_poll *poll);

/*
 * An outside sign, seen at reading r, that the VM's clock was disrupted: the VMClock's VM
 * generation counter changed (a clone, a snapshot restored; later kernels' vmclock-abi.h says
 * it may change without the disruption marker). Handled as a marker change: DISRUPTED, counted
 * in vm_disruptions.
 */
void cb_on_disruption(struct cb_state *st, const struct cb_reading *r);

/*
 * The VMClock marker as the caller read it before any reading was taken in (at start, when
 * checking it against the one kept from the last run): every later reading is compared with it,
 * so a change between that check and the first reading is a disruption too.
 */
void cb_set_marker(struct cb_state *st, uint64_t marker);

/* Records a failed poll (err: negative errno) at reading r. */
void cb_on_poll_failure(struct cb_state *st, const struct cb_reading *r, int err);

/*
 * Computes status and bounds at reading r (take it with cb_clock_read() right before). Runs the
 * step detector first, and compares the reading's VMClock marker with the last one seen (a
 * change is a disruption, handled as a step of unknown size that lasts CB_VMCLOCK_UPDATES; a
 * torn read is no change, but the status at that reading is UNKNOWN, CB_REASON_VMCLOCK_UNREADABLE;
 * a disruption while another is not over restarts the count with the longer rule): a step seen here
 * makes the status DISRUPTED from now on, until a poll sent after the detection has shown one
 * reference time (the baseline: chrony's reference time is on the old timescale, so an update made
 * just before a step cannot count) and later polls have shown CB_STEP_UPDATES other ones, the last
 * made (by its age) after the step (DESIGN.md section 2, "Clock status"). A step under
 * CB_STEP_FLOOR_FACTOR times chrony's root distance then stays in the bound (its size, plus the
 * readings' widths) until CB_STEP_FLOOR_UPDATES.
 *
 * The bound is the poll's b0 with its correction term replaced by the slew model
 * (cb_slew_correction_ns), plus growth_ppb over |mono - m0|, plus the step margin.
 */
void cb_now(struct cb_state *st, const struct cb_reading *r, struct cb_now *out);

/*
 * The bound (without the step margin, which only a reading can give) that the state gives for
 * CLOCK_MONOTONIC mono_ns, later or earlier than now: what cb_now() would say there if nothing
 * new came in. Past the last poll's m0 + Tmin it includes what a slew of an update chrony made
 * and never reported could add (cb_slew_unseen_ns). INT64_MAX before the first poll. Pure.
 */
int64_t cb_bound_at(const struct cb_state *st, int64_t mono_ns);

/*
 * A line above the bound from from_ns to to_ns (CLOCK_MONOTONIC, from_ns at or after the last
 * poll's reply): *bound_ns = cb_bound_at(from_ns), and the smallest *slope_ppb found such that
 * bound + slope * (t - from) >= cb_bound_at(t) for every t in [from_ns, to_ns] (the chord of a
 * convex upper version of the bound; the ClockBound segment's linear growth is such a line).
 * Returns 0, or -ERANGE without a poll, for from_ns before the reply, or to_ns <= from_ns.
 * Pure.
 */
int cb_bound_line(const struct cb_state *st, int64_t from_ns, int64_t to_ns, int64_t *bound_ns,
                  int64_t *slope_ppb);

/* The CLOCK_REALTIME instant at which an announced leap second makes the status UNKNOWN (1 s +
 * 2 x max bound before its midnight), or INT64_MAX when none is announced. Pure. */
int64_t cb_leap_window_start_ns(const struct cb_state *st);

/* True for SYNCHRONIZED and FREE_RUNNING: the bound may be used. */
bool cb_status_trusted(enum cb_status s);

/*
 * Before(ts): 1 if ts < earliest (certainly passed), 0 if not. -ERANGE if ts >= 2^63, -EAGAIN
 * if the status is not trusted (retry later, elsewhere).
 */
int cb_before(const struct cb_now *now, uint64_t ts_ns);

/* After(ts): 1 if ts > latest (certainly not yet arrived), 0 if not. Errors as cb_before(). */
int cb_after(const struct cb_now *now, uint64_t ts_ns);

/* "SYNCHRONIZED", "FREE_RUNNING", "UNKNOWN", "DISRUPTED". */
const char *cb_status_name(enum cb_status s);

/* A short phrase for a reason ("chrony is not synchronised", ...). */
const char *cb_reason_text(enum cb_reason r);

/*
 * Whether a new poll shows that the bound advertised before it was wrong: chrony's fresh
 * estimate of the clock's offset at the poll, at its smallest (|current_correction| rounded
 * down, less root_delay/2 and root_dispersion rounded up), exceeds the bound `before` (the state
 * before taking the poll in) gave for the same moment (the poll's own reading). Only a trusted
 * earlier bound counts. Pure; on a violation *excess_ns (if non-NULL) gets by how much.
 */
bool cb_bound_violated(const struct cb_state *before, const struct cb_poll *poll,
                       int64_t *excess_ns);

/* Writes the reference's IP address (dotted IPv4, or IPv6 as eight hex groups) into buf.
 * Returns false, writing nothing, when the reference has no IP address (a refclock). */
bool cb_tracking_addr_text(const struct chrony_tracking *t, char *buf, size_t len);

/* True if the tracking report's reference is a loopback NTP server: a demo time source. */
bool cb_tracking_is_demo(const struct chrony_tracking *t);

/*
 * Takes in chrony's NTPDATA answer about one NTP source (replacing what an earlier answer said,
 * about any address). An upstream server that has fallen back to its own clock (`local`, reference
 * ID LOCL) looks like a normal source with a tiny root dispersion; while the current reference is
 * that source, not a loopback (demo) one, the status is UNKNOWN (CB_REASON_UPSTREAM_LOCAL). When
 * NTPDATA cannot be had (chronyd refuses it over UDP) nothing is known and nothing is refused.
 */
void cb_on_upstream(struct cb_state *st, const struct chrony_ntpdata *nd);

/* The upstream answer if it is about the current tracking reference's address, else NULL.
 * Borrowed from st. */
const struct cb_upstream *cb_upstream_current(const struct cb_state *st);

/* True when the current reference is a non-loopback NTP server whose NTPDATA said it runs on its
 * own local clock: the rule that makes the status UNKNOWN with CB_REASON_UPSTREAM_LOCAL. */
bool cb_upstream_local(const struct cb_state *st);

#endif

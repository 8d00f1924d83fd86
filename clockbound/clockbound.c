/* clockbound status machine and Now/Before/After (see clockbound.h). Pure. */
#include "clockbound.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "satmath.h"

#define NS_PER_DAY (86400 * CB_NS_PER_S)

void cb_params_default(struct cb_params *p)
{
    p->max_drift_ppb = CB_DEFAULT_MAX_DRIFT_PPB;
    p->chrony_maxclockerror_ppb = CB_DEFAULT_CHRONY_MAXCLOCKERROR_PPB;
    p->max_bound_ns = CB_DEFAULT_MAX_BOUND_NS;
    p->grace_ns = CB_DEFAULT_GRACE_NS;
    p->step_threshold_ns = CB_STEP_THRESHOLD_NS;
    p->await_update_after_start = true;
}

int cb_params_check(const struct cb_params *p, const char **why)
{
    const char *bad = NULL;
    if (p->max_drift_ppb < 1 || p->max_drift_ppb > CB_MAX_RATE_PPB) {
        bad = "max drift must be between 1 and 100000000 ppb";
    } else if (p->chrony_maxclockerror_ppb < 0 || p->chrony_maxclockerror_ppb > CB_MAX_RATE_PPB) {
        bad = "chrony maxclockerror must be between 0 and 100000000 ppb";
    } else if (p->max_bound_ns < 1 || p->max_bound_ns > 3600 * CB_NS_PER_S) {
        bad = "max bound must be between 1 ns and 1 hour";
    } else if (p->grace_ns < 0 || p->grace_ns > 3600 * CB_NS_PER_S) {
        bad = "grace period must be between 0 and 1 hour";
    } else if (p->step_threshold_ns < 0 || p->step_threshold_ns > CB_NS_PER_S) {
        bad = "step threshold must be between 0 and 1 s";
    }
    if (bad != NULL) {
        if (why != NULL) {
            *why = bad;
        }
        return -EINVAL;
    }
    return 0;
}

void cb_init(struct cb_state *st, const struct cb_params *p)
{
    memset(st, 0, sizeof(*st));
    st->params = *p;
    st->verdict = CB_REASON_NO_DATA;
    cb_step_init(&st->step, p->step_threshold_ns);
    cb_dispersion_init(&st->dispersion);
}

/* DISRUPTED from reading r on, for `why` (a step of step_ns, or a VMClock disruption), until
 * `updates` reference updates after a baseline (end_disruption). */
static void disrupt(struct cb_state *st, const struct cb_reading *r, enum cb_reason why,
                    int64_t step_ns, int updates)
{
    /* A disruption on top of one not yet over starts the count afresh, and keeps the longer
     * rule: a step right after a migration (chrony correcting it, an operator's makestep) must
     * not cut the VMClock's ten updates to a step's six. */
    if (st->disrupted && st->disruption_updates > updates) {
        why = st->disruption;
        updates = st->disruption_updates;
    }
    /* Never move the detection earlier while disrupted (an old reading taken in late): the
     * baseline poll must be sent after the latest disruption seen. */
    if (!st->disrupted || r->mono_ns > st->step_mono_ns) {
        st->step_mono_ns = r->mono_ns;
    }
    st->disrupted = true;
    st->disruption = why;
    st->disruption_updates = updates;
    st->step_ns = step_ns;
    st->step_baseline_set = false;
    st->step_updates = 0;
    st->step_floor_ns = 0;
    st->step_root_distance_ns =
        st->have_poll ? cb_sat_add(st->bound.half_delay_ns, st->bound.dispersion_ns) : 0;
}

/* Whether marker is one the current marker (or one before it) replaced. */
static bool replaced_marker(const struct cb_state *st, uint64_t marker)
{
    int n = st->vm_replaced < CB_VMCLOCK_REPLACED ? st->vm_replaced : CB_VMCLOCK_REPLACED;
    for (int i = 0; i < n; i++) {
        if (st->vm_replaced_marker[i] == marker) {
            return true;
        }
    }
    return false;
}

/* Runs the step detector on r; on a step, records it and makes r the new base so the same step
 * is reported once. The base otherwise stays where the first poll put it, so changes below the
 * threshold cannot add up unseen (and cb_step_margin() keeps them in the bound). Then the
 * VMClock's marker: a change since the last reading that carried it is a disruption (a torn
 * read, CB_MARKER_TORN, is not: it says nothing). */
static void detect_step(struct cb_state *st, const struct cb_reading *r)
{
    int64_t step_ns = 0;
    if (cb_step_check(&st->step, r, &step_ns)) {
        disrupt(st, r, CB_REASON_CLOCK_STEPPED, step_ns, CB_STEP_UPDATES);
        cb_step_rebase(&st->step, r);
    }
    /* The marker seen last (nearly every reading) is settled first. A reading taken before a
     * change but taken in after it (a poll's, from when its request went out) shows a marker
     * replaced: markers never repeat (vmclock-abi.h), so that is old news, not a change back. */
    if (r->marker_state != CB_MARKER_OK || (st->vm_have_marker && r->marker == st->vm_marker) ||
        replaced_marker(st, r->marker)) {
        return;
    }
    if (st->vm_have_marker) {
        st->vm_disruptions++;
        st->vm_replaced_marker[st->vm_replaced % CB_VMCLOCK_REPLACED] = st->vm_marker;
        st->vm_replaced++;
        disrupt(st, r, CB_REASON_VMCLOCK_DISRUPTED, 0, CB_VMCLOCK_UPDATES);
    }
    st->vm_have_marker = true;
    st->vm_marker = r->marker;
}

/* Whether a poll's own data can be used at all (before staleness, bound and leap rules). */
static enum cb_reason judge_poll(const struct cb_poll *poll)
{
    const struct chrony_tracking *t = &poll->tracking;
    if (t->leap == CHRONY_LEAP_UNSYNCHRONISED) {
        return CB_REASON_CHRONY_UNSYNCHRONISED;
    }
    if (t->ref_id == CHRONY_REFID_LOCAL) {
        return CB_REASON_LOCAL_REFERENCE;
    }
    if (t->ref_time_ns == 0) {
        return CB_REASON_NO_REFERENCE_TIME;
    }
    /* A synchronised chrony's root delay and dispersion are sums of positive terms (a refclock's
     * delay option is 1e-9 s at least); exactly 0 is a NaN, which chrony encodes as 0, or a
     * value below 1e-100. Either way not an error estimate to build a bound on. */
    if (t->root_delay_s.coef == 0 || t->root_dispersion_s.coef == 0) {
        return CB_REASON_ZERO_ERROR_TERM;
    }
    /* chrony made its report before our post-reply reading; on its timescale the reference
     * time cannot be later than that. */
    int64_t recv_ntp_ns =
        cb_sat_add(poll->recv_rt_ns, cb_float_signed_upper(t->current_correction_s, CB_NS_PER_S));
    if (cb_sat_sub(t->ref_time_ns, recv_ntp_ns) > CB_REF_FUTURE_TOLERANCE_NS) {
        return CB_REASON_REFERENCE_IN_FUTURE;
    }
    return CB_REASON_OK;
}

/* The reason a PHC verdict gives a poll: CB_REASON_OK when its value was added or the PHC is
 * not the reference. */
static enum cb_reason phc_reason(enum cb_phc_verdict v)
{
    switch (v) {
    case CB_PHC_NOT_REFERENCE:
    case CB_PHC_ADDED:
        return CB_REASON_OK;
    case CB_PHC_UNREADABLE:
        return CB_REASON_PHC_UNREADABLE;
    case CB_PHC_EMPTY:
        return CB_REASON_PHC_EMPTY;
    case CB_PHC_INVALID:
        return CB_REASON_PHC_INVALID;
    case CB_PHC_NEGATIVE:
        return CB_REASON_PHC_NEGATIVE;
    case CB_PHC_ABSURD:
        return CB_REASON_PHC_ABSURD;
    }
    return CB_REASON_PHC_INVALID;
}

/* The midnight UTC an announced leap second belongs to: the one just passed if rt is still
 * within the window after it, else the next one. */
static int64_t leap_midnight(int64_t rt_ns, int64_t margin_ns)
{
    int64_t next = (rt_ns / NS_PER_DAY + 1) * NS_PER_DAY;
    int64_t prev = next - NS_PER_DAY;
    return rt_ns - prev <= margin_ns ? prev : next;
}

static int64_t leap_margin(const struct cb_params *p)
{
    return cb_sat_add(CB_LEAP_MARGIN_BASE_NS, cb_sat_mul(2, p->max_bound_ns));
}

/* Whether chrony made a reference update after the CLOCK_MONOTONIC instant since_mono_ns, with
 * a reference time other than old_ref_ns. The update's time is measured as elapsed time back
 * from the poll, so a step of the clock cannot fake it; a different reference time rules out
 * an old update merely seen through a stepped clock. */
static bool updated_since(const struct cb_state *st, const struct cb_poll *poll,
                          int64_t since_mono_ns, int64_t old_ref_ns)
{
    int64_t update_mono_ns = cb_sat_sub(poll->sent.mono_ns, st->bound.ref_age_ns);
    return st->verdict == CB_REASON_OK && poll->tracking.ref_time_ns != old_ref_ns &&
           update_mono_ns > since_mono_ns;
}

/* DISRUPTED ends when chrony has measured enough since the step (clockbound.h, CB_STEP_UPDATES):
 * a poll sent after the detection (its report came after the step) gives the baseline reference
 * time, and every other one seen after it is an update made after the step. The last must also
 * look made after the detection by its age (chrony fuzzes reference times back by up to 1 s,
 * which can only delay this). The baseline matters for a step that races an update: chrony's
 * reference time is on the old timescale, so an update made just before a backward step looks
 * newer than the step; compared with the baseline it is the same. */
static void end_disruption(struct cb_state *st, const struct cb_poll *poll)
{
    bool counting = st->disrupted || st->step_floor_ns > 0;
    if (!counting || poll->sent.mono_ns < st->step_mono_ns) {
        return;
    }
    if (!st->step_baseline_set) {
        st->step_baseline_set = true;
        st->step_baseline_ref_ns = poll->tracking.ref_time_ns;
        st->step_last_ref_ns = poll->tracking.ref_time_ns;
        return;
    }
    if (poll->tracking.ref_time_ns != st->step_last_ref_ns) {
        st->step_last_ref_ns = poll->tracking.ref_time_ns;
        st->step_updates++;
    }
    if (st->disrupted && st->step_updates >= st->disruption_updates &&
        updated_since(st, poll, st->step_mono_ns, st->step_baseline_ref_ns)) {
        st->disrupted = false;
        int64_t size = st->step_ns < 0 ? cb_sat_sub(0, st->step_ns) : st->step_ns;
        if (st->disruption == CB_REASON_CLOCK_STEPPED &&
            size < cb_sat_mul(CB_STEP_FLOOR_FACTOR, st->step_root_distance_ns)) {
            /* The smallest step the readings show, plus what their widths could add. */
            st->step_floor_ns = cb_sat_add(size, 2 * CB_READING_MAX_SPREAD_NS);
        }
    }
    if (st->step_floor_ns > 0 && st->step_updates >= CB_STEP_FLOOR_UPDATES) {
        st->step_floor_ns = 0;
    }
}

void cb_on_poll(struct cb_state *st, const struct cb_poll *poll)
{
    if (!st->step.have_base) {
        cb_step_rebase(&st->step, &poll->sent);
    }
    detect_step(st, &poll->sent);

    bool first = !st->have_poll;
    enum cb_reason verdict = judge_poll(poll);
    /* chrony's growth is measured only from data it stands behind; a chronyd that is not
     * synchronised may have been restarted with another maxclockerror. */
    if (verdict == CB_REASON_OK) {
        cb_dispersion_observe(&st->dispersion, poll);
    } else {
        cb_dispersion_forget(&st->dispersion);
    }
    const struct cb_poll *prev = first ? NULL : &st->last;
    cb_slew_observe(&st->slew, prev, poll, prev != NULL && cb_poll_same_update(prev, poll));

    /* The PHC's own error (phc.h): added while it is the reference; a value that cannot be
     * used then makes the poll's data unusable, after the rules about chrony itself. */
    int64_t phc_ns = 0;
    if (poll->phc.configured && poll->phc.error == 0 && poll->phc.error_bound_ns >= 0) {
        cb_phc_history_add(&st->phc_history, poll->tracking.ref_time_ns, poll->phc.error_bound_ns);
    }
    st->phc_verdict =
        cb_phc_judge(&poll->phc, poll->tracking.ref_id, st->params.max_bound_ns, &phc_ns);
    if (st->phc_verdict == CB_PHC_ADDED) {
        /* The worst the PHC was over the updates chrony may still rest on, not just now. */
        int64_t held = cb_phc_history_max(&st->phc_history);
        phc_ns = held > phc_ns ? held : phc_ns;
    }
    if (verdict == CB_REASON_OK) {
        verdict = phc_reason(st->phc_verdict);
    }

    const struct cb_dispersion *d = &st->dispersion;
    struct cb_bound_params bp = {
        .max_drift_ppb = st->params.max_drift_ppb,
        .chrony_maxclockerror_ppb = st->params.chrony_maxclockerror_ppb,
        .measured_maxclockerror_lo_ppb = d->measured ? d->maxclockerror_lo_ppb : -1,
        .measured_maxclockerror_hi_ppb = d->measured ? d->maxclockerror_hi_ppb : -1,
        .phc_error_ns = phc_ns,
    };
    st->last = *poll;
    cb_bound_at_poll(&bp, &poll->tracking, poll->sent.rt_ns, &st->bound);
    st->verdict = verdict;
    st->have_poll = true;
    st->failing = false;
    st->last_error = 0;

    if (first && st->params.await_update_after_start) {
        st->awaiting_update = true;
        st->start_mono_ns = poll->sent.mono_ns;
        st->start_ref_ns = poll->tracking.ref_time_ns;
    }
    if (st->awaiting_update && updated_since(st, poll, st->start_mono_ns, st->start_ref_ns)) {
        st->awaiting_update = false;
    }
    end_disruption(st, poll);

    /* Remember an announced leap: chrony reports "not synchronised" for a moment after it and
     * then "normal", but the window of DESIGN.md section 2 lasts regardless. A leap withdrawn
     * before its window is forgotten. */
    int64_t margin = leap_margin(&st->params);
    const struct chrony_tracking *t = &poll->tracking;
    if (t->leap == CHRONY_LEAP_INSERT || t->leap == CHRONY_LEAP_DELETE) {
        st->leap_at_ns = leap_midnight(poll->sent.rt_ns, margin);
    } else if (t->leap == CHRONY_LEAP_NORMAL && st->leap_at_ns != 0 &&
               poll->sent.rt_ns < cb_sat_sub(st->leap_at_ns, margin)) {
        st->leap_at_ns = 0;
    }
}

void cb_set_marker(struct cb_state *st, uint64_t marker)
{
    st->vm_have_marker = true;
    st->vm_marker = marker;
}

void cb_on_disruption(struct cb_state *st, const struct cb_reading *r)
{
    st->vm_disruptions++;
    disrupt(st, r, CB_REASON_VMCLOCK_DISRUPTED, 0, CB_VMCLOCK_UPDATES);
}

void cb_on_poll_failure(struct cb_state *st, const struct cb_reading *r, int err)
{
    detect_step(st, r);
    st->failing = true;
    st->last_error = err;
    cb_dispersion_forget(&st->dispersion);
}

static void judge_now(const struct cb_state *st, const struct cb_now *n, enum cb_status *status,
                      enum cb_reason *reason)
{
    const struct cb_params *p = &st->params;
    const struct chrony_tracking *t = &st->last.tracking;

    *status = CB_STATUS_UNKNOWN;
    if (st->disrupted) {
        *status = CB_STATUS_DISRUPTED;
        *reason = st->disruption;
        return;
    }
    if (!st->have_poll) {
        *reason = CB_REASON_NO_DATA;
        return;
    }
    if (st->failing && n->poll_age_ns >= p->grace_ns) {
        *reason = CB_REASON_POLLS_FAILED;
        return;
    }
    if (st->verdict != CB_REASON_OK) {
        *reason = st->verdict;
        return;
    }
    if (cb_upstream_local(st)) {
        *reason = CB_REASON_UPSTREAM_LOCAL;
        return;
    }
    if (st->awaiting_update) {
        *reason = CB_REASON_AWAITING_UPDATE;
        return;
    }
    if (st->leap_at_ns != 0) {
        int64_t from_leap = cb_sat_sub(n->rt_ns, st->leap_at_ns);
        if (from_leap >= -leap_margin(p) && from_leap <= leap_margin(p)) {
            *reason = CB_REASON_LEAP_SECOND;
            return;
        }
    }
    if (n->bound_ns > p->max_bound_ns) {
        *reason = CB_REASON_BOUND_TOO_WIDE;
        return;
    }
    *status = CB_STATUS_FREE_RUNNING;
    if (st->failing) {
        *reason = CB_REASON_POLLS_FAILING;
        return;
    }
    int64_t interval_ns = cb_float_upper(t->last_update_interval_s, CB_NS_PER_S, 0);
    int64_t stale_after_ns = cb_sat_mul(CB_STALE_FACTOR, interval_ns);
    if (stale_after_ns < CB_STALE_MIN_NS) {
        stale_after_ns = CB_STALE_MIN_NS;
    }
    int64_t age_now_ns = cb_sat_add(st->bound.ref_age_ns, n->poll_age_ns);
    if (age_now_ns > stale_after_ns) {
        *reason = CB_REASON_STALE_REFERENCE;
        return;
    }
    *status = CB_STATUS_SYNCHRONIZED;
    *reason = CB_REASON_OK;
}

/* The bound at mono_ns before an unseen update's slew (slew.h): b0 with its correction term
 * replaced by the slew rule `rule` (or the smallest, rule < 0), plus the drift. */
static int64_t seen_at(const struct cb_state *st, int rule, int64_t mono_ns)
{
    int64_t rest =
        cb_sat_add(cb_sat_sub(st->bound.b0_ns, st->bound.correction_ns), st->step_floor_ns);
    int64_t corr = rule < 0 ? cb_slew_correction_ns(&st->slew, mono_ns)
                            : cb_slew_rule_ns(&st->slew, (enum cb_slew_rule)rule, mono_ns);
    /* A reading older than the poll (taken earlier in the same loop turn) is as far from the
     * poll's m0 as a later one: the drift term grows both ways. */
    int64_t elapsed = cb_sat_sub(mono_ns, st->last.sent.mono_ns);
    int64_t drift =
        cb_ppb_of_ns_ceil(st->bound.growth_ppb, elapsed < 0 ? cb_sat_sub(0, elapsed) : elapsed);
    return cb_sat_add(cb_sat_add(rest, corr), drift);
}

/* seen_at() plus what an update chrony made after its last report, unseen, can add
 * (cb_slew_unseen_ns, from the bound at the report and Tmin earlier). */
static int64_t bound_with(const struct cb_state *st, int rule, int64_t mono_ns)
{
    int64_t report = st->slew.report_mono_hi_ns;
    int64_t before = cb_sat_sub(mono_ns, CB_SLEW_MIN_DURATION_NS);
    int64_t unseen = before > report ? cb_slew_unseen_ns(&st->slew, seen_at(st, rule, report),
                                                         seen_at(st, rule, before), mono_ns)
                                     : 0;
    return cb_sat_add(seen_at(st, rule, mono_ns), unseen);
}

int64_t cb_bound_at(const struct cb_state *st, int64_t mono_ns)
{
    if (!st->have_poll) {
        return INT64_MAX;
    }
    return bound_with(st, -1, mono_ns);
}

int cb_bound_line(const struct cb_state *st, int64_t from_ns, int64_t to_ns, int64_t *bound_ns,
                  int64_t *slope_ppb)
{
    if (!st->have_poll || from_ns < st->slew.report_mono_hi_ns || to_ns <= from_ns) {
        return -ERANGE;
    }
    int64_t b = cb_bound_at(st, from_ns);
    int64_t span = to_ns - from_ns;
    int64_t best = INT64_MAX;
    /* The bound is at most each rule's version of it, and each version is convex: the chord of
     * any version that starts at the bound lies above the bound. The flattest one is taken. */
    for (int r = 0; r < CB_SLEW_RULES; r++) {
        if (bound_with(st, r, from_ns) != b) {
            continue;
        }
        int64_t end = bound_with(st, r, to_ns);
        if (end == INT64_MAX) {
            continue;
        }
        int64_t rise = cb_sat_sub(end, b);
        int64_t slope = cb_rate_ppb(rise > 0 ? rise : 0, span, 1);
        best = slope < best ? slope : best;
    }
    if (best == INT64_MAX) {
        return -ERANGE;
    }
    *bound_ns = b;
    *slope_ppb = best;
    return 0;
}

void cb_now(struct cb_state *st, const struct cb_reading *r, struct cb_now *out)
{
    detect_step(st, r);

    out->rt_ns = r->rt_ns;
    out->mono_ns = r->mono_ns;
    out->step_margin_ns = cb_step_margin(&st->step, r);
    if (st->have_poll) {
        out->poll_age_ns = cb_sat_sub(r->mono_ns, st->last.sent.mono_ns);
        out->bound_ns = cb_sat_add(cb_bound_at(st, r->mono_ns), out->step_margin_ns);
        out->growth_ppb =
            cb_sat_add(st->bound.growth_ppb, cb_slew_growth_ppb(&st->slew, r->mono_ns));
    } else {
        out->poll_age_ns = -1;
        out->bound_ns = INT64_MAX;
        out->growth_ppb = 0;
    }
    out->earliest_ns = cb_sat_sub(r->rt_ns, out->bound_ns);
    out->latest_ns = cb_sat_add(r->rt_ns, out->bound_ns);
    judge_now(st, out, &out->status, &out->reason);
    /* The VMClock page was being written at every try (vmclock.h): whether the VM's clock was
     * disrupted is not known at this reading. Not a disruption (the next whole read says), but
     * nothing may be served from it. */
    if (r->marker_state == CB_MARKER_TORN && out->status != CB_STATUS_DISRUPTED) {
        out->status = CB_STATUS_UNKNOWN;
        out->reason = CB_REASON_VMCLOCK_UNREADABLE;
    }
}

int64_t cb_leap_window_start_ns(const struct cb_state *st)
{
    return st->leap_at_ns == 0 ? INT64_MAX : cb_sat_sub(st->leap_at_ns, leap_margin(&st->params));
}

bool cb_status_trusted(enum cb_status s)
{
    return s == CB_STATUS_SYNCHRONIZED || s == CB_STATUS_FREE_RUNNING;
}

static int check_query(const struct cb_now *now, uint64_t ts_ns)
{
    if (ts_ns >= CB_TS_LIMIT) {
        return -ERANGE;
    }
    if (!cb_status_trusted(now->status)) {
        return -EAGAIN;
    }
    return 0;
}

int cb_before(const struct cb_now *now, uint64_t ts_ns)
{
    int rc = check_query(now, ts_ns);
    if (rc < 0) {
        return rc;
    }
    return (int64_t)ts_ns < now->earliest_ns;
}

int cb_after(const struct cb_now *now, uint64_t ts_ns)
{
    int rc = check_query(now, ts_ns);
    if (rc < 0) {
        return rc;
    }
    return (int64_t)ts_ns > now->latest_ns;
}

const char *cb_status_name(enum cb_status s)
{
    switch (s) {
    case CB_STATUS_UNKNOWN:
        return "UNKNOWN";
    case CB_STATUS_SYNCHRONIZED:
        return "SYNCHRONIZED";
    case CB_STATUS_FREE_RUNNING:
        return "FREE_RUNNING";
    case CB_STATUS_DISRUPTED:
        return "DISRUPTED";
    }
    return "INVALID";
}

const char *cb_reason_text(enum cb_reason r)
{
    switch (r) {
    case CB_REASON_OK:
        return "chrony is synchronised";
    case CB_REASON_NO_DATA:
        return "no reply from chrony yet";
    case CB_REASON_CHRONY_UNSYNCHRONISED:
        return "chrony is not synchronised to any source";
    case CB_REASON_LOCAL_REFERENCE:
        return "chrony's reference is its own local clock (`local` directive)";
    case CB_REASON_NO_REFERENCE_TIME:
        return "chrony reports no reference time";
    case CB_REASON_REFERENCE_IN_FUTURE:
        return "chrony's reference time is in the future";
    case CB_REASON_POLLS_FAILED:
        return "chrony has not answered for longer than the grace period";
    case CB_REASON_BOUND_TOO_WIDE:
        return "the error bound exceeds the maximum bound";
    case CB_REASON_LEAP_SECOND:
        return "a leap second is due at midnight UTC";
    case CB_REASON_AWAITING_UPDATE:
        return "waiting for chrony's first measurement since start";
    case CB_REASON_POLLS_FAILING:
        return "chrony is not answering; the bound keeps growing";
    case CB_REASON_STALE_REFERENCE:
        return "chrony has lost its time source; the bound keeps growing";
    case CB_REASON_CLOCK_STEPPED:
        return "the system clock was stepped; waiting for chrony to measure again";
    case CB_REASON_UPSTREAM_LOCAL:
        return "the upstream NTP server runs on its own local clock (reference ID LOCL)";
    case CB_REASON_ZERO_ERROR_TERM:
        return "chrony reports a root delay or dispersion of exactly 0 (a NaN: chrony sends NaN "
               "as 0)";
    case CB_REASON_PHC_UNREADABLE:
        return "the PHC is chrony's reference and its error bound file cannot be read";
    case CB_REASON_PHC_EMPTY:
        return "the PHC is chrony's reference and its error bound file is empty";
    case CB_REASON_PHC_INVALID:
        return "the PHC is chrony's reference and its error bound file does not hold a number";
    case CB_REASON_PHC_NEGATIVE:
        return "the PHC is chrony's reference and its error bound is negative or out of range";
    case CB_REASON_PHC_ABSURD:
        return "the PHC is chrony's reference and its error bound is above the max bound";
    case CB_REASON_VMCLOCK_UNREADABLE:
        return "the VMClock page was being written at every read: whether the VM's clock was "
               "disrupted is not known";
    case CB_REASON_VMCLOCK_DISRUPTED:
        return "the VM's clock was disrupted (VMClock disruption marker changed: a live "
               "migration or a long pause); waiting for chrony to measure again";
    }
    return "invalid reason";
}

bool cb_bound_violated(const struct cb_state *before, const struct cb_poll *poll,
                       int64_t *excess_ns)
{
    if (!before->have_poll) {
        return false;
    }
    /* What `before` said at the poll's moment (a copy: cb_now may record a step). */
    struct cb_state copy = *before;
    struct cb_now then;
    cb_now(&copy, &poll->sent, &then);
    if (!cb_status_trusted(then.status)) {
        return false;
    }
    const struct chrony_tracking *t = &poll->tracking;
    int64_t offset_lo =
        cb_sat_sub(cb_float_lower(t->current_correction_s, CB_NS_PER_S),
                   cb_sat_add(cb_float_upper(t->root_delay_s, CB_NS_PER_S, 1),
                              cb_float_upper(t->root_dispersion_s, CB_NS_PER_S, 0)));
    if (offset_lo <= then.bound_ns) {
        return false;
    }
    if (excess_ns != NULL) {
        *excess_ns = offset_lo - then.bound_ns;
    }
    return true;
}

bool cb_tracking_addr_text(const struct chrony_tracking *t, char *buf, size_t len)
{
    if (t->addr_family == 1) {
        snprintf(buf, len, "%u.%u.%u.%u", t->addr[0], t->addr[1], t->addr[2], t->addr[3]);
        return true;
    }
    if (t->addr_family == 2) {
        size_t off = 0;
        for (int i = 0; i < 16 && off + 6 < len; i += 2) {
            off += (size_t)snprintf(buf + off, len - off, "%s%x", i ? ":" : "",
                                    (unsigned)(t->addr[i] << 8 | t->addr[i + 1]));
        }
        return true;
    }
    return false;
}

bool cb_tracking_is_demo(const struct chrony_tracking *t)
{
    static const uint8_t v6_loopback[16] = {[15] = 1};
    if (t->addr_family == 1) {
        return t->addr[0] == 127;
    }
    if (t->addr_family == 2) {
        return memcmp(t->addr, v6_loopback, sizeof(v6_loopback)) == 0;
    }
    return false;
}

void cb_on_upstream(struct cb_state *st, const struct chrony_ntpdata *nd)
{
    struct cb_upstream *u = &st->upstream;
    memset(u, 0, sizeof(*u));
    u->known = true;
    u->addr_family = nd->addr_family;
    memcpy(u->addr, nd->addr, sizeof(u->addr));
    u->ref_id = nd->ref_id;
    u->stratum = nd->stratum;
}

const struct cb_upstream *cb_upstream_current(const struct cb_state *st)
{
    const struct cb_upstream *u = &st->upstream;
    const struct chrony_tracking *t = &st->last.tracking;
    if (!st->have_poll || !u->known || u->addr_family != t->addr_family) {
        return NULL;
    }
    size_t n = t->addr_family == CHRONY_ADDR_INET4   ? 4
               : t->addr_family == CHRONY_ADDR_INET6 ? 16
                                                     : 0;
    if (n == 0 || memcmp(u->addr, t->addr, n) != 0) {
        return NULL;
    }
    return u;
}

bool cb_upstream_local(const struct cb_state *st)
{
    const struct cb_upstream *u = cb_upstream_current(st);
    /* A loopback server is the demo pair (dev/demo-chrony), whose server is `local` by
     * design: it stays a flagged demo (cb_tracking_is_demo) rather than refused. */
    return u != NULL && u->ref_id == CHRONY_REFID_LOCAL && !cb_tracking_is_demo(&st->last.tracking);
}

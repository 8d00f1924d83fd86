/* What the server knows and says of its clock (see clockwatch.h). */
#include "clockwatch.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static void describe_source(struct clockwatch *w)
{
    const struct cb_state *st = &w->state;
    if (!st->have_poll) {
        snprintf(w->time_source, sizeof(w->time_source), "chrony %s", w->chrony_text);
        return;
    }
    const struct chrony_tracking *t = &st->last.tracking;
    char ref[64];
    if (!cb_tracking_addr_text(t, ref, sizeof(ref))) {
        snprintf(ref, sizeof(ref), "refid %08" PRIX32, t->ref_id);
    }
    bool demo = cb_tracking_is_demo(t);
    snprintf(w->time_source, sizeof(w->time_source), "chrony %s, reference %s, stratum %u%s",
             w->chrony_text, ref, (unsigned)t->stratum, demo ? ", DEMO (loopback NTP server)" : "");
    if (demo && !w->demo) {
        log_warn("time source is a loopback NTP server (%s): a DEMO source, not real time", ref);
    }
    w->demo = demo;
}

void clockwatch_init(struct clockwatch *w, const struct cb_params *p, const char *chrony_text)
{
    memset(w, 0, sizeof(*w));
    cb_init(&w->state, p);
    w->prev = w->state;
    w->chrony_text = chrony_text;
    w->logged_status = CB_STATUS_UNKNOWN;
    w->logged_reason = CB_REASON_NO_DATA;
    hist_init(&w->chrony_rtt);
    describe_source(w);
}

/* chrony's maxclockerror, measured from its reports, certainly below what oracled was told:
 * the bound already uses the measured value (clockbound/dispersion.h); say so once, with the
 * fix. */
static void note_chrony_growth(struct clockwatch *w)
{
    const struct cb_dispersion *d = &w->state.dispersion;
    const struct cb_params *p = &w->state.params;
    int64_t told = p->chrony_maxclockerror_ppb;
    if (w->maxclockerror_warned || !d->measured || d->maxclockerror_hi_ppb >= told) {
        return;
    }
    w->maxclockerror_warned = true;
    log_warn("chrony's maxclockerror measures %" PRId64 "..%" PRId64
             " ppb (its dispersion grows at %" PRId64 " ppb), below the %" PRId64
             " ppb of --chrony-maxclockerror-ppb: the bound uses the measured value and tops up "
             "to --max-drift-ppb (%" PRId64 " ppb) itself. To match, set 'maxclockerror %.3f' "
             "(ppm) in chrony.conf, or chrony-maxclockerror-ppb to what chrony has",
             d->maxclockerror_lo_ppb, d->maxclockerror_hi_ppb, d->rate_lo_ppb, told,
             p->max_drift_ppb, (double)p->max_drift_ppb / 1000.0);
}

void clockwatch_polled(struct clockwatch *w, bool ok, int64_t rtt_ns)
{
    if (ok) {
        int64_t excess = 0;
        if (cb_bound_violated(&w->prev, &w->state.last, &excess)) {
            w->bound_violations++;
            if (excess > w->worst_violation_ns) {
                w->worst_violation_ns = excess;
            }
            log_err("bound violation: chrony now measures the clock at least %" PRId64
                    " ns further off than the bound given a moment ago",
                    excess);
        }
        hist_record(&w->chrony_rtt, rtt_ns);
    }
    w->prev = w->state;
    describe_source(w);
    note_chrony_growth(w);
}

void clockwatch_note(struct clockwatch *w, const struct cb_now *now)
{
    if (now->status == w->logged_status && now->reason == w->logged_reason) {
        return;
    }
    if (cb_status_trusted(now->status)) {
        log_info("clock %s: %s (bound %" PRId64 " ns)", cb_status_name(now->status),
                 cb_reason_text(now->reason), now->bound_ns);
    } else {
        log_warn("clock %s: %s; requests get retriable errors", cb_status_name(now->status),
                 cb_reason_text(now->reason));
    }
    w->logged_status = now->status;
    w->logged_reason = now->reason;
}

uint64_t clockwatch_take_disruptions(struct clockwatch *w)
{
    uint64_t n = w->state.vm_disruptions - w->vm_disruptions_seen;
    if (n == 0) {
        return 0;
    }
    w->vm_disruptions_seen = w->state.vm_disruptions;
    log_warn("VMClock: the VM's clock was disrupted (disruption marker %" PRIu64 ", %" PRIu64
             " disruption%s seen now: a live migration, a long pause or a clone): clock "
             "DISRUPTED until chrony has measured %d times since",
             w->state.vm_marker, n, n == 1 ? "" : "s", CB_VMCLOCK_UPDATES);
    return n;
}

/*
 * What the server knows and says of its clock: the clockbound state the poller feeds, the time
 * source as ServerInfo and /healthz describe it, the status changes logged once each, bound
 * violations (a new chrony sample further off than the bound given before it), chrony's round
 * trips, chrony's maxclockerror measured below the setting, and the VMClock disruptions not yet
 * acted on. No I/O but logging: the server reads the clock and drives it.
 */
#ifndef ORACLE_CLOCKWATCH_H
#define ORACLE_CLOCKWATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "clockbound.h"
#include "histogram.h"
#include "wire.h"

struct clockwatch {
    struct cb_state state;
    struct cb_state prev; /* before the latest poll: for bound violations */
    const char *chrony_text;
    enum cb_status logged_status;
    enum cb_reason logged_reason;
    bool demo;                    /* the reference is a loopback NTP server */
    bool maxclockerror_warned;    /* chrony's maxclockerror was measured below the setting */
    uint64_t vm_disruptions_seen; /* state.vm_disruptions already acted on */
    uint64_t bound_violations;
    int64_t worst_violation_ns;
    struct histogram chrony_rtt; /* chrony tracking queries, send to reply */
    char time_source[WIRE_INFO_TEXT_MAX];
};

/* chrony_text (borrowed) names chrony's address in the time source. */
void clockwatch_init(struct clockwatch *w, const struct cb_params *p, const char *chrony_text);

/* A poll ended (the state already took its reply in when ok): checks the new sample against
 * the bound given before it, records the round trip, describes the source again and notes
 * chrony's growth. */
void clockwatch_polled(struct clockwatch *w, bool ok, int64_t rtt_ns);
/* Logs a status or reason that changed since the last one logged. */
void clockwatch_note(struct clockwatch *w, const struct cb_now *now);
/* VMClock disruptions seen since the last call, logged; 0 when none. */
uint64_t clockwatch_take_disruptions(struct clockwatch *w);

#endif

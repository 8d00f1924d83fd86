/*
 * One successful chrony poll: the tracking report and the clock readings that bracket the query.
 * Produced by chrony_client, consumed by the clockbound state machine.
 */
#ifndef CLOCKBOUND_SAMPLE_H
#define CLOCKBOUND_SAMPLE_H

#include <stdbool.h>
#include <stdint.h>

#include "chrony_proto.h"
#include "clock.h"
#include "phc.h"

struct cb_poll {
    struct chrony_tracking tracking; /* the decoded reply */
    struct cb_reading sent;          /* taken just before the request was sent: m0 and t_query */
    int64_t recv_rt_ns;              /* CLOCK_REALTIME just after the reply arrived */
    struct cb_phc_reading phc;       /* the PHC's error bound, read when the reply arrived
                                      * (zeroed: no PHC configured) */
};

/*
 * Whether two reports show the same chrony reference update: every field chrony sets only when
 * it updates its reference (or changes its frequency, which starts a new slew too) is equal.
 * Between updates only current_correction (the slew) and root_dispersion (its growth) move
 * (chrony reference.c REF_GetTrackingReport, sys_generic.c offset_convert). Pure.
 */
bool cb_poll_same_update(const struct cb_poll *a, const struct cb_poll *b);

/* When chrony made the report, at the latest, on CLOCK_MONOTONIC: m0 plus the round trip
 * (recv_rt - sent.rt, taken as 0 if negative). Pure. */
int64_t cb_poll_report_mono_hi(const struct cb_poll *p);

#endif

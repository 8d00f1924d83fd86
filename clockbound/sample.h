/*
 * One successful chrony poll: the tracking report and the clock readings that bracket the query.
 * Produced by chrony_client, consumed by the clockbound state machine.
 */
#ifndef CLOCKBOUND_SAMPLE_H
#define CLOCKBOUND_SAMPLE_H

#include <stdint.h>

#include "chrony_proto.h"
#include "clock.h"

struct cb_poll {
    struct chrony_tracking tracking; /* the decoded reply */
    struct cb_reading sent;          /* taken just before the request was sent: m0 and t_query */
    int64_t recv_rt_ns;              /* CLOCK_REALTIME just after the reply arrived */
};

#endif

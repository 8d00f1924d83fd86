/* The real clock implementation (an I/O edge) and the step-safe paired reading. */
#include "clock.h"

#include <time.h>

static int64_t system_read_ns(struct cb_clock *clock, enum cb_clock_id id)
{
    (void)clock;
    clockid_t cid = CLOCK_REALTIME;
    switch (id) {
    case CB_CLOCK_REALTIME:
        cid = CLOCK_REALTIME;
        break;
    case CB_CLOCK_MONOTONIC:
        cid = CLOCK_MONOTONIC;
        break;
    case CB_CLOCK_MONOTONIC_COARSE:
        cid = CLOCK_MONOTONIC_COARSE;
        break;
    }
    struct timespec ts;
    /* clock_gettime cannot fail for these clock ids with a valid pointer. */
    (void)clock_gettime(cid, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + (int64_t)ts.tv_nsec;
}

static struct cb_clock system_clock = {.read_ns = system_read_ns};

struct cb_clock *cb_clock_system(void)
{
    return &system_clock;
}

void cb_clock_read(struct cb_clock *clock, struct cb_reading *out)
{
    struct cb_reading best = {0};
    for (int i = 0; i < CB_READING_MAX_TRIES; i++) {
        struct cb_reading r = {0};
        r.rt_ns = cb_clock_ns(clock, CB_CLOCK_REALTIME);
        r.mono_ns = cb_clock_ns(clock, CB_CLOCK_MONOTONIC);
        r.rt_hi_ns = cb_clock_ns(clock, CB_CLOCK_REALTIME);
        int64_t spread = cb_reading_spread_ns(&r);
        /* A negative spread (REALTIME stepped back mid-read) is kept only if nothing better
         * comes; the step detector orders the interval's ends itself. */
        if (i == 0 || (spread >= 0 &&
                       (cb_reading_spread_ns(&best) < 0 || spread < cb_reading_spread_ns(&best)))) {
            best = r;
        }
        if (spread >= 0 && spread <= CB_READING_MAX_SPREAD_NS) {
            break;
        }
    }
    best.marker_state = CB_MARKER_NONE;
    best.marker = 0;
    if (clock->read_marker != NULL) {
        best.marker_state =
            clock->read_marker(clock, &best.marker) == 0 ? CB_MARKER_OK : CB_MARKER_TORN;
    }
    *out = best;
}

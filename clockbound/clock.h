/*
 * Clock interface: every clock reading in oracled goes through a struct cb_clock, so tests can
 * substitute a fake clock (tests/support/fake_clock.h) that they set and step at will. The real
 * implementation is cb_clock_system(). No test code lives in the production files.
 */
#ifndef CLOCKBOUND_CLOCK_H
#define CLOCKBOUND_CLOCK_H

#include <stdint.h>

enum cb_clock_id {
    CB_CLOCK_REALTIME,         /* CLOCK_REALTIME: ns since the Unix epoch, may be stepped */
    CB_CLOCK_MONOTONIC,        /* CLOCK_MONOTONIC: slewed with REALTIME but never stepped */
    CB_CLOCK_MONOTONIC_COARSE, /* CLOCK_MONOTONIC_COARSE: cheap, tick resolution (timeouts) */
};

struct cb_clock {
    /* Returns the clock's reading in ns. Must not fail: the real clocks cannot. */
    int64_t (*read_ns)(struct cb_clock *clock, enum cb_clock_id id);
    /* Optional (NULL: none): reads the VMClock's disruption marker (vmclock.h), 0 or -EAGAIN
     * when it is being written and could not be read whole. Read after the clocks in every
     * paired reading, as cheaply as they are. */
    int (*read_marker)(struct cb_clock *clock, uint64_t *marker);
};

/* The system clocks (clock_gettime). Borrowed, static lifetime, never freed. */
struct cb_clock *cb_clock_system(void);

static inline int64_t cb_clock_ns(struct cb_clock *clock, enum cb_clock_id id)
{
    return clock->read_ns(clock, id);
}

/*
 * A paired reading of CLOCK_REALTIME and CLOCK_MONOTONIC, taken as REALTIME, MONOTONIC,
 * REALTIME: the true offset REALTIME - MONOTONIC at the instant MONOTONIC was read lies in
 * [rt_ns - mono_ns, rt_hi_ns - mono_ns]. A preemption between the reads only widens that
 * interval, so it can never be mistaken for a clock step (DESIGN.md section 2, "Clock steps").
 */
/* What a reading says about the VMClock's disruption marker. */
enum cb_marker_state {
    CB_MARKER_NONE = 0, /* no VMClock */
    CB_MARKER_OK,       /* marker read, after the clocks */
    CB_MARKER_TORN,     /* the hypervisor was writing the page: unknown, never a change */
};

struct cb_reading {
    int64_t rt_ns;    /* first CLOCK_REALTIME reading: "now" for bounds and timestamps */
    int64_t mono_ns;  /* CLOCK_MONOTONIC, read after rt_ns */
    int64_t rt_hi_ns; /* second CLOCK_REALTIME reading, after mono_ns */
    enum cb_marker_state marker_state;
    uint64_t marker; /* the VMClock's disruption marker when marker_state is CB_MARKER_OK: a
                      * disruption of the clock made before this read shows as a change */
};

/* Widest rt_hi_ns - rt_ns a reading is accepted with before retrying (a few clock reads take
 * ~100 ns; anything wider means the thread was preempted or the clock stepped mid-read). */
#define CB_READING_MAX_SPREAD_NS 2000
/* Retries before the tightest reading seen is returned anyway. */
#define CB_READING_MAX_TRIES 8

/*
 * Takes a paired reading. Retries while rt_hi_ns - rt_ns exceeds CB_READING_MAX_SPREAD_NS (or is
 * negative: the clock stepped back mid-read), up to CB_READING_MAX_TRIES times, and returns the
 * tightest reading seen (the first one if every spread was negative). Then, when the clock has
 * a read_marker, reads the VMClock's marker. Never fails.
 */
void cb_clock_read(struct cb_clock *clock, struct cb_reading *out);

/* rt_hi_ns - rt_ns, the uncertainty of the reading's REALTIME - MONOTONIC offset. */
static inline int64_t cb_reading_spread_ns(const struct cb_reading *r)
{
    return r->rt_hi_ns - r->rt_ns;
}

#endif

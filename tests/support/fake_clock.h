/*
 * A fake clock for tests: settable, steppable, optionally advancing by a tick on every read, with
 * a hook that runs before each read so a test can simulate preemption or a step mid-read.
 */
#ifndef TESTS_FAKE_CLOCK_H
#define TESTS_FAKE_CLOCK_H

#include <stdint.h>

#include "clock.h"

struct fake_clock;
typedef void fake_clock_hook(struct fake_clock *fc, enum cb_clock_id id, void *arg);

struct fake_clock {
    struct cb_clock base;  /* pass &fc->base wherever a struct cb_clock * is wanted */
    int64_t rt_ns;         /* CLOCK_REALTIME */
    int64_t mono_ns;       /* CLOCK_MONOTONIC (and MONOTONIC_COARSE) */
    int64_t tick_ns;       /* both clocks advance by this after every read */
    fake_clock_hook *hook; /* called before every read, may change the clock */
    void *hook_arg;
    unsigned reads; /* reads so far */
};

void fake_clock_init(struct fake_clock *fc, int64_t rt_ns, int64_t mono_ns);
/* Time passes: both clocks move (slewing moves both too). */
void fake_clock_advance(struct fake_clock *fc, int64_t ns);
/* REALTIME alone jumps, as settimeofday() would make it. */
void fake_clock_step(struct fake_clock *fc, int64_t ns);
/* A paired reading (cb_clock_read) of the fake clock. */
struct cb_reading fake_clock_reading(struct fake_clock *fc);

#endif

/*
 * The ClockBound shared-memory segment, format version 2: what AWS ClockBound's client
 * libraries read to compute the bound themselves, without asking anyone. 80 bytes, native byte
 * order, written with a seqlock (cbshm_publish):
 *
 *   0  magic u32 0x414D5A4E, 4 magic u32 0x43420200   8  segment size u32 (80)
 *   12 version u16 (2)       14 generation u16 (odd while being written; never 0 once written)
 *   16 as_of {i64 s, i64 ns}  32 void_after {i64 s, i64 ns}   (CLOCK_MONOTONIC_COARSE)
 *   48 bound_nsec i64        56 disruption marker u64          64 max_drift_ppb u32
 *   68 clock status i32 (0 unknown, 1 synchronized, 2 free-running, 3 disrupted)
 *   72 clock disruption support u8 (1 with a VMClock: readers compare the page's marker with
 *      the segment's, UNKNOWN while they differ; 0 without: oracled's own status alone)
 *
 * How ClockBound's readers use it (aws/clock-bound 2.0.2, read for the facts only). All three
 * clients go through one function, ClockErrorBound::compute_bound_at in
 * clock-bound-shm/src/lib.rs: clock-bound-client (src/lib.rs, via clock-bound-vmclock/src/lib.rs
 * VMClock::now) and the C library clock-bound-ffi (src/lib.rs clockbound_now, header
 * include/clockbound.h), which only copies its earliest/latest into struct timespecs.
 *  - Clocks: CLOCK_REALTIME, then "CLOCK_MONOTONIC", which clock-bound-shm/src/common.rs
 *    defines as CLOCK_MONOTONIC_COARSE on every OS but macOS. So as_of and void_after are
 *    compared with a coarse reading: one system-wide value, advancing a tick at a time
 *    (clock_getres: 4 ms at HZ=250), never ahead of CLOCK_MONOTONIC.
 *  - Status: UNKNOWN (0) and DISRUPTED (3) are returned as written, whatever the times. For
 *    SYNCHRONIZED (1) and FREE_RUNNING (2): if mono < as_of + 5 s (CLOCKBOUND_RESTART_GRACE_
 *    PERIOD, strict) the written status; else if mono < void_after (strict) FREE_RUNNING; else
 *    UNKNOWN. So a record is void from the first coarse reading >= void_after, but a trusted
 *    status is kept for 5 s after as_of whatever void_after says (CBSHM_READER_GRACE_NS).
 *  - Errors, not statuses: max_drift_ppb >= 1e9 (SegmentMalformed); mono more than 1 us before
 *    as_of (CausalityBreach; within 1 us the elapsed time is taken as 0).
 *  - Bound: bound_nsec + (i64)((mono - as_of) in ns as f64 / 1e9 * max_drift_ppb as f64), the
 *    growth truncated by a saturating cast and added to bound_nsec in i64. Then realtime -/+
 *    that bound gives earliest/latest, with the TimeSpec arithmetic of nix 0.26 (read at
 *    v0.26.4, src/sys/time.rs): Add/Sub go through num_nanoseconds(), i64 ns, so an overflow
 *    wraps in a release build (how clock-bound-ffi is built) and panics in a debug one; and
 *    TimeSpec::nanoseconds() asserts the result is within +-TS_MAX_SECONDS (i64::MAX / 1e9 -
 *    1 s), a panic that aborts a C caller. The C caller gets two timespecs; its width, latest
 *    minus earliest in i64 ns, is 2 x bound: the old UNKNOWN bound of 2^62 ns made it 2^63,
 *    which a real C reader printed as -2^63.
 *  - The ClockBound daemon itself writes void_after = as_of + 1000 s (clock-bound-d/src/
 *    clock_bound_runner.rs, "TODO: calibrate") and leaves no record of its own at a stop.
 *
 * oracled's choices from those facts:
 *  - A live record is void valid_ns after as_of (cbshm_record_from): the grace period, shortened
 *    to when oracled itself would stop serving (cbshm_valid_ns). Readers trust it while their
 *    coarse reading is below void_after. That reading lags CLOCK_MONOTONIC by about a tick
 *    (the kernel advances it a whole tick at a time, and some time after the tick: 2.7 to 6.7
 *    ms with a 4 ms tick on the VM the tests ran on), so in CLOCK_MONOTONIC terms trust ends
 *    that much after void_after; and ClockBound's readers keep a trusted status for 5 s after
 *    as_of whatever void_after says.
 *  - An UNKNOWN record (before the first poll, a bound not known, at a stop) carries
 *    CBSHM_UNKNOWN_BOUND_NS. The stop record (cbshm_record_unknown) has as_of = void_after = a
 *    coarse reading taken at the stop. "No later than the stop" then holds on both clocks: that
 *    reading is below the stop's CLOCK_MONOTONIC time (by the lag above), and every coarse
 *    reading any process takes once the record is written is >= it, so the record is void for
 *    all of them, whatever the resolution.
 *
 * A reader computes bound = bound_nsec + max_drift_ppb x (CLOCK_MONOTONIC_COARSE now - as_of)
 * and reads CLOCK_REALTIME itself. The record is made so that is never less than oracled's own
 * bound at that instant (cbshm_record_from).
 */
#ifndef ORACLE_CBSHM_H
#define ORACLE_CBSHM_H

#include <stddef.h>
#include <stdint.h>

#include "clockbound.h"

#define CBSHM_SIZE           80
#define CBSHM_MAGIC0         UINT32_C(0x414D5A4E)
#define CBSHM_MAGIC1         UINT32_C(0x43420200)
#define CBSHM_VERSION        2
#define CBSHM_OFF_GENERATION 14

/* ClockBound's readers keep a SYNCHRONIZED or FREE_RUNNING status this long after as_of,
 * whatever void_after says (clock-bound-shm/src/lib.rs CLOCKBOUND_RESTART_GRACE_PERIOD). */
#define CBSHM_READER_GRACE_NS INT64_C(5000000000)

/*
 * The bound of every UNKNOWN record: 10^15 ns, 11.6 days. Large enough that no reader could
 * use it: 277 times the widest bound oracled ever serves (--max-bound is at most 1 h), a
 * commit-wait of 23 days. Small enough that nothing a reader computes from it overflows an
 * int64 of ns for a century: 100 years at the fastest growth a reader accepts (999,999,999
 * ppb) add 3.16e18 ns, so bound + growth stays below 3.2e18 ns; realtime + that, even in
 * 2126 (4.95e18 ns), stays below 8.2e18 < 2^63 - 1 = 9.22e18 (and nix's TimeSpec limit of
 * 9223372035 s), and latest - earliest = 2 x that stays below 6.4e18. At oracled's own
 * drifts (--max-drift-ppb at most 1e8) earliest stays after 1970 for a century too, so a
 * reader using unsigned ns does not wrap either. (The old 2^62 made latest - earliest
 * 2^63: -2^63 in int64.)
 */
#define CBSHM_UNKNOWN_BOUND_NS INT64_C(1000000000000000)

struct cbshm_record {
    int64_t as_of_ns;      /* CLOCK_MONOTONIC_COARSE */
    int64_t void_after_ns; /* CLOCK_MONOTONIC_COARSE: as_of + valid_ns; as_of at a stop */
    int64_t bound_ns;      /* at as_of, for the reader's formula */
    uint64_t disruption_marker;
    uint32_t max_drift_ppb; /* the growth rate the reader applies */
    int32_t status;         /* enum cb_status: the same numbers as ClockBound's */
    uint8_t disruption_support;
};

/*
 * The record for now (oracled's Now from state st at a fine CLOCK_MONOTONIC reading),
 * published with as_of = a CLOCK_MONOTONIC_COARSE reading taken before the chrony query behind
 * now (so as_of <= now->mono_ns), void_after = as_of + valid_ns (valid_ns >= 0, ns: how long
 * readers may use it; cbshm_valid_ns), and coarse_res_ns = CLOCK_MONOTONIC_COARSE's resolution.
 * The reader's bound must not fall below oracled's own at any instant it may use the record
 * (until the later of void_after and as_of + CBSHM_READER_GRACE_NS), were oracled to write no
 * other:
 *  - its growth rate is the slope of a line above oracled's bound from now to then
 *    (cb_bound_line): the drift, and, were chronyd to stop too, what its slew and an update it
 *    made unseen could add (clockbound/slew.h); at least max_drift_ppb;
 *  - its coarse clock may lag the fine one by up to two ticks (2 x coarse_res_ns: the kernel
 *    advances it late, more on a busy or stolen CPU) more at the reading than at as_of: the
 *    horizon is that much longer, and the growth over it added;
 *  - a leap second's window (cb_leap_window_start_ns) beginning within that time makes the
 *    record UNKNOWN: a reader would otherwise go on trusting it through the leap;
 *  - oracled's bound carries a step margin (clock changes below the step threshold, which only
 *    its own readings see): now's margin is replaced by step_allowance_ns, the largest margin
 *    a reading can show without being a step (cbcompat computes it);
 *  - ClockBound's reader truncates its growth: 1 ns more, and 2 ns for the bound's own
 *    rounding.
 * A status that may not be used (UNKNOWN, DISRUPTED) is written with CBSHM_UNKNOWN_BOUND_NS,
 * and so is a bound not yet known, a bound at or above that one, or a growth rate ClockBound's
 * reader cannot take (1e9 ppb or more), the last two with the status UNKNOWN. Pure.
 */
void cbshm_record_from(const struct cb_state *st, const struct cb_now *now, int64_t as_of_ns,
                       int64_t valid_ns, int64_t coarse_res_ns, uint32_t max_drift_ppb,
                       int64_t step_allowance_ns, struct cbshm_record *out);

/*
 * How long after as_of_ns (the coarse reading before the latest chrony query) a record made
 * from now may be used, in ns: grace_ns (the daemon's grace period), but no later than
 * oracled itself would stop serving if no poll succeeded again: the last successful poll's
 * CLOCK_MONOTONIC m0 (now->mono_ns - now->poll_age_ns) + grace_ns. So grace_ns after a
 * successful poll (its m0 is read after as_of), less while polls fail, 0 once they have failed
 * for longer than the grace. Pure.
 */
int64_t cbshm_valid_ns(int64_t grace_ns, int64_t as_of_ns, const struct cb_now *now);

/*
 * The record readers cannot misuse, for before the first poll and after a stop: status
 * UNKNOWN, as_of = void_after = coarse_ns (a CLOCK_MONOTONIC_COARSE reading taken when it is
 * written, so it is void for every coarse reading any process takes afterwards: the coarse
 * clock is one system-wide value that never goes back), bound CBSHM_UNKNOWN_BOUND_NS growing at
 * max_drift_ppb (below 1e9: the daemon's configured drift). Pure.
 */
void cbshm_record_unknown(int64_t coarse_ns, uint32_t max_drift_ppb, struct cbshm_record *out);

/* The 80 bytes of the segment for r with the given generation (pure; for tests and for the
 * first write). */
void cbshm_encode(const struct cbshm_record *r, uint16_t generation, uint8_t out[CBSHM_SIZE]);

/* The generation after a completed write at g (even): g + 2, skipping 0 on wrap. */
uint16_t cbshm_next_generation(uint16_t g);

struct cbshm {
    int fd;
    uint8_t *map;
    uint16_t generation; /* the last even generation written */
    uint64_t writes;
    uint32_t max_drift_ppb; /* for the UNKNOWN records written at open and close */
    char path[256];
    char made_dir[256]; /* the topmost directory cbshm_open created, "" if none */
};

/* The mode of the directories cbshm_open creates, whatever the umask: every user's readers must
 * reach the segment. */
#define CBSHM_DIR_MODE 0755

/*
 * Creates (or takes over) the segment file at path, mode 0644 whatever the umask, and the
 * directories missing above it as ClockBound 2.x's writer does (all of them, each
 * CBSHM_DIR_MODE; the first one created is named in made_dir), locks it
 * (flock: a second writer would break the seqlock), sizes and maps it, and writes
 * cbshm_record_unknown(coarse_ns, max_drift_ppb): coarse_ns is a CLOCK_MONOTONIC_COARSE
 * reading taken just before the call, max_drift_ppb the daemon's configured drift (below 1e9).
 * Returns 0, or a negative errno with a sentence in why.
 */
int cbshm_open(struct cbshm *s, const char *path, int64_t coarse_ns, uint32_t max_drift_ppb,
               char *why, size_t why_cap);

/* Writes r with the seqlock: generation made odd, fields stored, generation made even. */
void cbshm_publish(struct cbshm *s, const struct cbshm_record *r);

/* Writes cbshm_record_unknown(coarse_ns, the drift given at open), coarse_ns being a
 * CLOCK_MONOTONIC_COARSE reading taken at the stop (just before the call): readers see
 * UNKNOWN, void, at once. Then unmaps and closes. The file stays, as ClockBound's does. A
 * closed or never-opened segment (fd < 0) is a no-op. */
void cbshm_close(struct cbshm *s, int64_t coarse_ns);

#endif

/*
 * An independent reader of the ClockBound shared-memory segment, format 2, written from the
 * published description of the layout (not from oracle/cbshm.h): the way a ClockBound client
 * reads it. Offsets are spelt out here on purpose, so a layout mistake in the writer shows.
 *
 * cbr_now() computes what ClockBound's clients return for a record, as AWS ClockBound 2.0.2
 * does it (clock-bound-shm/src/lib.rs, ClockErrorBound::compute_bound_at, which the Rust client
 * and the C library both call; nix 0.26's TimeSpec arithmetic underneath): the status with its
 * 5 s restart grace and void_after, the growth in f64 truncated, earliest and latest in i64 ns.
 * cbr_width() is what a C caller computes from the two timespecs. Written from those facts,
 * not from the writer's code.
 */
#ifndef TESTS_CBSHM_READER_H
#define TESTS_CBSHM_READER_H

#include <stdbool.h>
#include <stdint.h>

struct cbr_record {
    uint32_t magic0, magic1, size;
    uint16_t version, generation;
    int64_t as_of_sec, as_of_nsec, void_after_sec, void_after_nsec;
    int64_t bound_nsec;
    uint64_t disruption_marker;
    uint32_t max_drift_ppb;
    int32_t status;
    uint8_t disruption_support;
};

struct cbr {
    int fd;
    const volatile uint8_t *map;
};

/* Maps the file read-only. 0 or a negative errno. */
int cbr_open(struct cbr *r, const char *path);
void cbr_close(struct cbr *r);

/*
 * One consistent snapshot with the seqlock protocol: the generation read (acquire), even and
 * nonzero; the fields copied; a fence; the generation read again and unchanged. Retries up to
 * `tries` times. Returns 0, or -EAGAIN when every try met a write in progress.
 */
int cbr_read(const struct cbr *r, struct cbr_record *out, int tries);

/* The fields copied with no regard for the generation: the control a torn read shows up in. */
void cbr_read_unsafe(const struct cbr *r, struct cbr_record *out);

/* A record parsed from 80 bytes at p (no protocol: for a buffer the caller owns). */
void cbr_parse(const uint8_t *p, struct cbr_record *out);

/* The client's formula: bound_nsec + max_drift_ppb x (coarse_now - as_of), the growth in f64
 * truncated to ns (elapsed time below 0 counted as 0), the sum saturated (cbr_now tells an
 * overflow). */
int64_t cbr_bound_at(const struct cbr_record *rec, int64_t coarse_now_ns);

/* ClockBound's reader keeps a SYNCHRONIZED or FREE_RUNNING status this long after as_of,
 * whatever void_after says (CLOCKBOUND_RESTART_GRACE_PERIOD). */
#define CBR_RESTART_GRACE_NS INT64_C(5000000000)
/* A coarse reading up to this much before as_of counts as as_of; further is an error. */
#define CBR_CAUSALITY_BLUR_NS INT64_C(1000)

enum cbr_status {
    CBR_UNKNOWN = 0,
    CBR_SYNCHRONIZED = 1,
    CBR_FREE_RUNNING = 2,
    CBR_DISRUPTED = 3,
};

/* What clockbound_now() hands a C caller, and how the reader got there. */
struct cbr_now {
    enum cbr_status status;
    bool void_after_passed;              /* coarse_now >= void_after (the record is void) */
    int64_t bound_ns;                    /* bound_nsec + growth (wrapped when overflow) */
    int64_t earliest_sec, earliest_nsec; /* a normalised timespec (0 <= nsec < 1e9) */
    int64_t latest_sec, latest_nsec;
    bool overflow; /* an i64 step overflowed, or a TimeSpec fell outside nix's range */
};

/*
 * What ClockBound's reader returns for rec at the readings realtime_ns (CLOCK_REALTIME) and
 * coarse_now_ns (CLOCK_MONOTONIC_COARSE, ClockBound's "CLOCK_MONOTONIC"):
 *  - status: UNKNOWN and DISRUPTED as written; SYNCHRONIZED and FREE_RUNNING as written while
 *    coarse_now < as_of + 5 s, then FREE_RUNNING while coarse_now < void_after, then UNKNOWN;
 *  - bound = bound_nsec + (i64)((coarse_now - as_of) / 1e9 * max_drift_ppb) (f64; elapsed
 *    time within CBR_CAUSALITY_BLUR_NS before as_of counts as 0); earliest = realtime - bound,
 *    latest = realtime + bound in i64 ns.
 * Returns 0; -EPROTO for what the reader calls SegmentMalformed (max_drift_ppb >= 1e9) or a
 * status outside 0..3 (undefined in its Rust enum); -EDOM for CausalityBreach (coarse_now
 * more than 1 us before as_of); -EOVERFLOW when an i64 step overflows or a result is outside
 * nix's TimeSpec range (+-(INT64_MAX / 1e9 - 1) s): a release build of ClockBound wraps, a
 * debug one panics; out then holds the wrapped values.
 */
int cbr_now(const struct cbr_record *rec, int64_t realtime_ns, int64_t coarse_now_ns,
            struct cbr_now *out);

/* True for the statuses ClockBound says can be trusted: SYNCHRONIZED and FREE_RUNNING. */
bool cbr_trusted(enum cbr_status s);

/*
 * latest - earliest in ns as a C caller of clockbound_now() computes it, in int64: each
 * timespec as tv_sec * 1e9 + tv_nsec, then the difference. 0, or -EOVERFLOW with the wrapped
 * value in *width_ns (what that caller would print).
 */
int cbr_width(const struct cbr_now *n, int64_t *width_ns);

#endif

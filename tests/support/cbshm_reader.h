/*
 * An independent reader of the ClockBound shared-memory segment, format 2, written from the
 * published description of the layout (not from oracle/cbshm.h): the way a ClockBound client
 * reads it. Offsets are spelt out here on purpose, so a layout mistake in the writer shows.
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

/* The client's formula: bound_nsec + max_drift_ppb x (coarse_now - as_of), truncated to ns. */
int64_t cbr_bound_at(const struct cbr_record *rec, int64_t coarse_now_ns);

#endif

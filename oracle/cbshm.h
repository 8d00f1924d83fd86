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
 *   72 clock disruption support u8 (0: oracled detects steps itself and writes DISRUPTED)
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
#define CBSHM_VOID_AFTER_NS  INT64_C(1000000000000) /* ClockBound's 1000 s */
#define CBSHM_OFF_GENERATION 14

struct cbshm_record {
    int64_t as_of_ns;      /* CLOCK_MONOTONIC_COARSE */
    int64_t void_after_ns; /* as_of + 1000 s */
    int64_t bound_ns;      /* at as_of, for the reader's formula */
    uint64_t disruption_marker;
    uint32_t max_drift_ppb; /* the growth rate the reader applies */
    int32_t status;         /* enum cb_status: the same numbers as ClockBound's */
    uint8_t disruption_support;
};

/*
 * The record for now (oracled's Now at a fine CLOCK_MONOTONIC reading), published with as_of =
 * a CLOCK_MONOTONIC_COARSE reading taken before the chrony query behind now (so as_of <=
 * now->mono_ns), and coarse_res_ns = CLOCK_MONOTONIC_COARSE's resolution. The reader's bound
 * must not fall below oracled's own at any later instant until the next rewrite:
 *  - its coarse clock lags the fine one by up to coarse_res_ns: the growth over that is added;
 *  - oracled's bound carries a step margin (clock changes below the step threshold, which only
 *    its own readings see): now's margin is replaced by step_allowance_ns, the largest margin
 *    a reading can show without being a step (cbcompat computes it);
 *  - ClockBound's reader truncates its growth: 1 ns more.
 * A bound not yet known (before the first poll), or a growth rate ClockBound's reader cannot
 * take (1e9 ppb or more), is written as 2^62 ns with the status UNKNOWN, so no reader's
 * arithmetic overflows and none trusts it.
 */
void cbshm_record_from(const struct cb_now *now, int64_t as_of_ns, int64_t coarse_res_ns,
                       uint32_t max_drift_ppb, int64_t step_allowance_ns, struct cbshm_record *out);

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
    char path[256];
};

/*
 * Creates (or takes over) the segment file at path, mode 0644 whatever the umask, locks it
 * (flock: a second writer would break the seqlock), sizes and maps it, and writes the header
 * with status UNKNOWN. Returns 0, or a negative errno with a sentence in why.
 */
int cbshm_open(struct cbshm *s, const char *path, char *why, size_t why_cap);

/* Writes r with the seqlock: generation made odd, fields stored, generation made even. */
void cbshm_publish(struct cbshm *s, const struct cbshm_record *r);

/* Writes status UNKNOWN (readers stop trusting it at once), unmaps and closes. The file stays,
 * as ClockBound's does. A closed or never-opened segment (fd < 0) is a no-op. */
void cbshm_close(struct cbshm *s);

#endif

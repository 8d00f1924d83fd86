/*
 * Timestamp allocation (DESIGN.md section 2, "Timestamps"). Pure: the clock is an argument.
 *
 *   first = max(latest, last_issued + 1, min_ts + 1);  a batch of n takes first .. first + n - 1
 *
 * Strictly increasing per instance whatever the clock does; never ahead of `latest` by more
 * than max_run_ahead (beyond that the caller answers OVERLOADED rather than pushing the
 * timestamp space away from the clock); always below 2^63.
 */
#ifndef ORACLE_TSALLOC_H
#define ORACLE_TSALLOC_H

#include <stdint.h>

#define TSALLOC_MAX_COUNT 65536 /* the largest batch */

struct tsalloc {
    uint64_t last_issued;     /* the last timestamp handed out, 0 before the first */
    int64_t max_run_ahead_ns; /* how far the batch's last timestamp may be beyond latest */
    uint64_t limit_ns;        /* nothing above this is handed out: the durable high-water mark */
};

/* limit_ns: the highest timestamp that may be handed out (UINT64_MAX: no limit). */
void tsalloc_init(struct tsalloc *a, uint64_t last_issued, int64_t max_run_ahead_ns,
                  uint64_t limit_ns);

/* Raises the limit (a higher high-water mark is durable now). */
void tsalloc_set_limit(struct tsalloc *a, uint64_t limit_ns);

/*
 * Works out the batch for a request without taking it: *first_out gets its first timestamp.
 * Returns 0, or:
 *   -EINVAL  count is 0 or above TSALLOC_MAX_COUNT
 *   -ERANGE  the batch would reach 2^63 (min_ts too large)
 *   -EBUSY   the batch's last timestamp would be more than max_run_ahead beyond latest
 *   -EAGAIN  the batch would pass the limit (the next high-water mark is not durable yet)
 */
int tsalloc_reserve(const struct tsalloc *a, int64_t latest_ns, uint64_t min_ts_ns, uint32_t count,
                    uint64_t *first_out);

/* Takes the batch tsalloc_reserve() worked out (with no other commit in between). */
void tsalloc_commit(struct tsalloc *a, uint64_t first, uint32_t count);

#endif

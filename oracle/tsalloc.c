/* Timestamp allocation (see tsalloc.h). Pure. */
#include "tsalloc.h"

#include <errno.h>

#define TS_LIMIT (UINT64_C(1) << 63)

void tsalloc_init(struct tsalloc *a, uint64_t last_issued, int64_t max_run_ahead_ns,
                  uint64_t limit_ns)
{
    a->last_issued = last_issued;
    a->max_run_ahead_ns = max_run_ahead_ns;
    a->limit_ns = limit_ns;
}

void tsalloc_set_limit(struct tsalloc *a, uint64_t limit_ns)
{
    if (limit_ns > a->limit_ns) {
        a->limit_ns = limit_ns;
    }
}

int tsalloc_reserve(const struct tsalloc *a, int64_t latest_ns, uint64_t min_ts_ns, uint32_t count,
                    uint64_t *first_out)
{
    if (count == 0 || count > TSALLOC_MAX_COUNT) {
        return -EINVAL;
    }
    if (min_ts_ns >= TS_LIMIT - count) {
        return -ERANGE;
    }
    uint64_t latest = latest_ns > 0 ? (uint64_t)latest_ns : 0;
    uint64_t first = latest;
    if (a->last_issued + 1 > first) {
        first = a->last_issued + 1;
    }
    if (min_ts_ns + 1 > first) {
        first = min_ts_ns + 1;
    }
    uint64_t last = first + count - 1;
    if (last >= TS_LIMIT) {
        return -ERANGE;
    }
    if (last > latest && last - latest > (uint64_t)a->max_run_ahead_ns) {
        return -EBUSY;
    }
    if (last > a->limit_ns) {
        return -EAGAIN;
    }
    *first_out = first;
    return 0;
}

void tsalloc_commit(struct tsalloc *a, uint64_t first, uint32_t count)
{
    a->last_issued = first + count - 1;
}

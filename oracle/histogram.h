/*
 * A latency histogram with bounded relative error: values (ns, >= 0) fall into buckets that
 * are exact below 32 ns and 1/32 wide (3 %) above, up to 2^63. Fixed memory, no allocation,
 * O(1) recording. Pure.
 */
#ifndef ORACLE_HISTOGRAM_H
#define ORACLE_HISTOGRAM_H

#include <stdint.h>

#define HIST_SUB_BITS 5
#define HIST_SUB      (1 << HIST_SUB_BITS)
#define HIST_BUCKETS  ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct histogram {
    uint64_t counts[HIST_BUCKETS];
    uint64_t total;
    int64_t min_ns;
    int64_t max_ns;
    long double sum_ns;
};

void hist_init(struct histogram *h);
/* Records a value; negative values count as 0. */
void hist_record(struct histogram *h, int64_t ns);
/* The value at quantile q (0..1): the upper edge of the bucket holding it, at most max. 0 when
 * empty. */
int64_t hist_quantile(const struct histogram *h, double q);
/* How many values were recorded at or below ns, counting the whole bucket ns falls in (so up
 * to 3 % above ns): Prometheus histogram buckets. */
uint64_t hist_count_le(const struct histogram *h, int64_t ns);
/* Adds every count of src to dst. */
void hist_merge(struct histogram *dst, const struct histogram *src);

#endif

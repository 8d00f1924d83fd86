/* Latency histogram (see histogram.h). Pure. */
#include "histogram.h"

#include <string.h>

static unsigned bucket_of(uint64_t v)
{
    if (v < HIST_SUB) {
        return (unsigned)v;
    }
    unsigned top = 63u - (unsigned)__builtin_clzll(v); /* >= HIST_SUB_BITS */
    unsigned shift = top - HIST_SUB_BITS;
    unsigned sub = (unsigned)(v >> shift) & (HIST_SUB - 1);
    return (shift + 1) * HIST_SUB + sub;
}

/* The largest value that falls into bucket b. */
static uint64_t bucket_top(unsigned b)
{
    if (b < HIST_SUB) {
        return b;
    }
    unsigned shift = b / HIST_SUB - 1;
    uint64_t sub = b % HIST_SUB;
    uint64_t low = (HIST_SUB + sub) << shift;
    return low + ((UINT64_C(1) << shift) - 1);
}

void hist_init(struct histogram *h)
{
    memset(h, 0, sizeof(*h));
    h->min_ns = INT64_MAX;
}

void hist_record(struct histogram *h, int64_t ns)
{
    if (ns < 0) {
        ns = 0;
    }
    h->counts[bucket_of((uint64_t)ns)]++;
    h->total++;
    h->sum_ns += (long double)ns;
    if (ns < h->min_ns) {
        h->min_ns = ns;
    }
    if (ns > h->max_ns) {
        h->max_ns = ns;
    }
}

int64_t hist_quantile(const struct histogram *h, double q)
{
    if (h->total == 0) {
        return 0;
    }
    uint64_t rank = (uint64_t)(q * (double)h->total);
    if (rank >= h->total) {
        rank = h->total - 1;
    }
    uint64_t seen = 0;
    for (unsigned b = 0; b < HIST_BUCKETS; b++) {
        seen += h->counts[b];
        if (seen > rank) {
            uint64_t top = bucket_top(b);
            return top > (uint64_t)h->max_ns ? h->max_ns : (int64_t)top;
        }
    }
    return h->max_ns;
}

uint64_t hist_count_le(const struct histogram *h, int64_t ns)
{
    if (ns < 0) {
        return 0;
    }
    unsigned last = bucket_of((uint64_t)ns);
    uint64_t n = 0;
    for (unsigned b = 0; b <= last; b++) {
        n += h->counts[b];
    }
    return n;
}

void hist_merge(struct histogram *dst, const struct histogram *src)
{
    for (unsigned b = 0; b < HIST_BUCKETS; b++) {
        dst->counts[b] += src->counts[b];
    }
    dst->total += src->total;
    dst->sum_ns += src->sum_ns;
    if (src->total > 0) {
        dst->min_ns = src->min_ns < dst->min_ns ? src->min_ns : dst->min_ns;
        dst->max_ns = src->max_ns > dst->max_ns ? src->max_ns : dst->max_ns;
    }
}

/*
 * A Prometheus histogram read from /metrics text: its cumulative buckets, the difference of two
 * scrapes, and quantiles interpolated within buckets (as PromQL's histogram_quantile does).
 * Pure.
 */
#ifndef ORACLE_PROMHIST_H
#define ORACLE_PROMHIST_H

#include <stddef.h>
#include <stdint.h>

#define PROMHIST_MAX 64

struct promhist {
    size_t n;
    double le[PROMHIST_MAX];      /* upper edges, seconds, increasing; the last may be +Inf */
    uint64_t count[PROMHIST_MAX]; /* cumulative counts */
};

/* Reads NAME_bucket{le="..."} lines of histogram name from text. Returns 0, or -ENOENT when
 * there are none, -EINVAL on a malformed line. */
int promhist_parse(const char *text, const char *name, struct promhist *out);

/* after - before, bucket by bucket (the same layout). Returns 0 or -EINVAL. */
int promhist_delta(const struct promhist *after, const struct promhist *before,
                   struct promhist *out);

/* The q-quantile in seconds, linear within its bucket (from the previous edge, or 0); the
 * largest finite edge when it falls in +Inf; -1 when empty. */
double promhist_quantile(const struct promhist *h, double q);

/* The value of the unlabelled gauge or counter name ("name 0.000012\n"). Returns 0, or
 * -ENOENT. */
int prom_value(const char *text, const char *name, double *value);

/* The upper edge of the highest bucket that gained values: a bound on the maximum; -1 when
 * empty. */
double promhist_max_bound(const struct promhist *h);

#endif

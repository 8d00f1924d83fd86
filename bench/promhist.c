/* Prometheus histograms from /metrics text (see promhist.h). Pure. */
#include "promhist.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int promhist_parse(const char *text, const char *name, struct promhist *out)
{
    char prefix[160];
    snprintf(prefix, sizeof(prefix), "%s_bucket{le=\"", name);
    size_t pl = strlen(prefix);
    out->n = 0;
    for (const char *line = text; line != NULL && *line != '\0';) {
        const char *nl = strchr(line, '\n');
        if (strncmp(line, prefix, pl) == 0) {
            if (out->n == PROMHIST_MAX) {
                return -EINVAL;
            }
            const char *v = line + pl;
            char *end;
            double le = strncmp(v, "+Inf", 4) == 0 ? INFINITY : strtod(v, &end);
            const char *close = strstr(v, "\"} ");
            if (close == NULL || (nl != NULL && close > nl)) {
                return -EINVAL;
            }
            unsigned long long c = strtoull(close + 3, &end, 10);
            if (end == close + 3) {
                return -EINVAL;
            }
            out->le[out->n] = le;
            out->count[out->n] = c;
            out->n++;
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    return out->n == 0 ? -ENOENT : 0;
}

int promhist_delta(const struct promhist *after, const struct promhist *before,
                   struct promhist *out)
{
    if (after->n != before->n) {
        return -EINVAL;
    }
    out->n = after->n;
    for (size_t i = 0; i < after->n; i++) {
        if (after->le[i] != before->le[i] || after->count[i] < before->count[i]) {
            return -EINVAL;
        }
        out->le[i] = after->le[i];
        out->count[i] = after->count[i] - before->count[i];
    }
    return 0;
}

double promhist_quantile(const struct promhist *h, double q)
{
    if (h->n == 0 || h->count[h->n - 1] == 0) {
        return -1;
    }
    double rank = q * (double)h->count[h->n - 1];
    for (size_t i = 0; i < h->n; i++) {
        if ((double)h->count[i] >= rank) {
            double lo = i == 0 ? 0 : h->le[i - 1];
            if (isinf(h->le[i])) {
                return lo;
            }
            uint64_t below = i == 0 ? 0 : h->count[i - 1];
            uint64_t in = h->count[i] - below;
            double frac = in == 0 ? 1 : (rank - (double)below) / (double)in;
            return lo + (h->le[i] - lo) * frac;
        }
    }
    return h->le[h->n - 1];
}

int prom_value(const char *text, const char *name, double *value)
{
    size_t nl = strlen(name);
    for (const char *line = text; line != NULL && *line != '\0';) {
        if (strncmp(line, name, nl) == 0 && line[nl] == ' ') {
            char *end;
            double v = strtod(line + nl + 1, &end);
            if (end != line + nl + 1) {
                *value = v;
                return 0;
            }
        }
        const char *next = strchr(line, '\n');
        line = next != NULL ? next + 1 : NULL;
    }
    return -ENOENT;
}

double promhist_max_bound(const struct promhist *h)
{
    for (size_t i = h->n; i-- > 0;) {
        uint64_t below = i == 0 ? 0 : h->count[i - 1];
        if (h->count[i] > below) {
            if (isinf(h->le[i])) {
                return i == 0 ? -1 : h->le[i - 1];
            }
            return h->le[i];
        }
    }
    return -1;
}

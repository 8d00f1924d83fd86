/* Histograms as JSON (see histjson.h). */
#include "histjson.h"

#include <inttypes.h>
#include <stdio.h>

void hist_json(const char *name, const struct histogram *h)
{
    if (h->total == 0) {
        return;
    }
    printf(",\"%s\":{\"count\":%" PRIu64 ",\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,"
           "\"p999\":%.3f,\"max\":%.3f,\"mean\":%.3f}",
           name, h->total, (double)hist_quantile(h, 0.5) / 1e3, (double)hist_quantile(h, 0.9) / 1e3,
           (double)hist_quantile(h, 0.99) / 1e3, (double)hist_quantile(h, 0.999) / 1e3,
           (double)h->max_ns / 1e3, (double)(h->sum_ns / (long double)h->total) / 1e3);
}

/* A latency histogram as a JSON member of oracle-bench's result object. */
#ifndef BENCH_HISTJSON_H
#define BENCH_HISTJSON_H

#include "histogram.h"

/* Prints ,"name":{"count":..,"p50":..,"p90":..,"p99":..,"p999":..,"max":..,"mean":..} in us on
 * stdout; nothing when h is empty. */
void hist_json(const char *name, const struct histogram *h);

#endif

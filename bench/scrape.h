/* Reads oracled's /metrics over HTTP/1.0: the benchmark's view of the server's own counters. */
#ifndef ORACLE_SCRAPE_H
#define ORACLE_SCRAPE_H

/* GET /metrics from addr (numeric HOST:PORT), 2 s at most. Returns the body (caller frees),
 * or NULL with a message on stderr. */
char *scrape_metrics(const char *addr);

#endif

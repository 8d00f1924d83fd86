/*
 * Helpers the integration tests share that need nothing but libc (it_client links the client
 * library alone, as a user's program would): the system clock, and oracled's /metrics read over
 * a plain blocking HTTP/1.1 connection.
 */
#ifndef TESTS_IT_UTIL_H
#define TESTS_IT_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Clock id's time in ns (since the epoch for CLOCK_REALTIME). */
int64_t it_clock_ns(clockid_t id);

/* CLOCK_REALTIME in ns since the epoch. */
int64_t it_realtime_ns(void);

/* GET http://HOSTPORT/PATH ("127.0.0.1:7601", "[::1]:7601"; numeric addresses only) with
 * Connection: close, reading the reply until the server closes, timeout_ms at most in all.
 * The whole reply (head and body) goes to buf, NUL-terminated and cut to cap - 1 bytes.
 * Returns the HTTP status code, or a negative errno (-ETIMEDOUT, -EPROTO for a reply that is
 * not HTTP/1.1, -EINVAL for a bad HOSTPORT). */
int it_http_get(const char *hostport, const char *path, char *buf, size_t cap, int timeout_ms);

/* The value of the sample NAME in oracled's /metrics at HOSTPORT: NAME is the sample's whole
 * name, labels included (`oracled_connections_accepted_total`,
 * `oracled_requests_total{op="now",result="ok"}`), and its value must be a whole number (a
 * counter, or a gauge that counts). Returns 0, -ENOENT when /metrics has no such sample,
 * -EPROTO when its value is not a whole number or /metrics did not answer 200, or the GET's
 * error. */
int it_metric_u64(const char *hostport, const char *name, uint64_t *value);

#endif

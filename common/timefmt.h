/*
 * Timestamps as people write them: UTC date/time with nanoseconds out, and in either decimal
 * nanoseconds since the Unix epoch or RFC 3339 with fractional seconds. Pure.
 */
#ifndef ORACLE_TIMEFMT_H
#define ORACLE_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define TIMEFMT_UTC_LEN 40 /* enough for any timefmt_utc() output */

/* Writes ns as 2026-11-25T15:20:16.125638675Z ("(before 1970)" when negative). */
void timefmt_utc(int64_t ns, char *buf, size_t len);

/*
 * Parses a timestamp: decimal ns since the epoch ("1795620000123456789"), or RFC 3339
 * ("2026-11-25T15:20:16.125638675Z", "2026-11-25 16:20:16+01:00", up to 9 fraction digits).
 * Returns 0, -EINVAL when it is neither, or -ERANGE when it lies before 1970 or at or after
 * 2^63 ns (2262-04-11T23:47:16.854775808Z).
 */
int timefmt_parse(const char *text, uint64_t *ns);

#endif

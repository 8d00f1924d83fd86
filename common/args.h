/*
 * Command-line value parsing shared by the project's programs: integers with range checks,
 * durations and sizes with units, and the same formats back for --help's defaults. Pure.
 */
#ifndef ORACLE_ARGS_H
#define ORACLE_ARGS_H

#include <stddef.h>
#include <stdint.h>

/* Parses a decimal integer in [min, max]. Returns 0, -EINVAL (not a number) or -ERANGE. */
int args_parse_i64(const char *text, int64_t min, int64_t max, int64_t *out);

/* Parses an unsigned decimal integer. Returns 0, -EINVAL or -ERANGE (above UINT64_MAX). */
int args_parse_u64(const char *text, uint64_t *out);

/*
 * Parses a duration: a decimal number (fractions allowed) followed by a unit, one of ns, us,
 * ms, s, m; "0" alone is allowed. Examples: "200ms", "1.5s", "250us". Stores whole nanoseconds,
 * rounded up. Returns 0, -EINVAL (malformed or no unit) or -ERANGE (negative or too large).
 */
int args_parse_duration_ns(const char *text, int64_t *out);

/*
 * Parses a size in bytes: a decimal integer, optionally followed by K/KiB, M/MiB or G/GiB
 * (binary multiples; "B" allowed). Returns 0, -EINVAL or -ERANGE.
 */
int args_parse_size(const char *text, uint64_t *out);

/*
 * Formats a duration the way args_parse_duration_ns() reads it, in the largest unit that
 * divides it (m from 10 minutes on, else s, ms, us, ns): 600000000000 is "10m", 60000000000
 * "60s", 1500000000 "1500ms", 0 "0". A negative duration is "-" and the rest.
 */
void args_format_duration(int64_t ns, char *buf, size_t cap);

/* Formats a size the way args_parse_size() reads it, in the largest binary unit that divides
 * it: 2097152 is "2MiB", 1000 "1000". */
void args_format_size(uint64_t bytes, char *buf, size_t cap);

#endif

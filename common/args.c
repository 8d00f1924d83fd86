/* Command-line value parsing (see args.h). */
#include "args.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int args_parse_i64(const char *text, int64_t min, int64_t max, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end != '\0') {
        return -EINVAL;
    }
    if (errno == ERANGE || v < min || v > max) {
        return -ERANGE;
    }
    *out = (int64_t)v;
    return 0;
}

int args_parse_u64(const char *text, uint64_t *out)
{
    if (text[0] < '0' || text[0] > '9') {
        return -EINVAL; /* strtoull would accept "-1" and leading spaces */
    }
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (*end != '\0') {
        return -EINVAL;
    }
    if (errno == ERANGE) {
        return -ERANGE;
    }
    *out = (uint64_t)v;
    return 0;
}

int args_parse_size(const char *text, uint64_t *out)
{
    static const struct {
        const char *name;
        uint64_t mult;
    } units[] = {{"", 1},         {"B", 1},          {"K", 1024},     {"KiB", 1024},
                 {"M", 1u << 20}, {"MiB", 1u << 20}, {"G", 1u << 30}, {"GiB", 1u << 30}};
    if (text[0] < '0' || text[0] > '9') {
        return -EINVAL;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno == ERANGE) {
        return -ERANGE;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].name) == 0) {
            uint64_t bytes;
            if (__builtin_mul_overflow((uint64_t)v, units[i].mult, &bytes)) {
                return -ERANGE;
            }
            *out = bytes;
            return 0;
        }
    }
    return -EINVAL;
}

int args_parse_duration_ns(const char *text, int64_t *out)
{
    static const struct {
        const char *name;
        int64_t ns;
    } units[] = {{"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", 1000000000}, {"m", 60000000000}};
    if (strcmp(text, "0") == 0) {
        *out = 0;
        return 0;
    }
    const char *p = text;
    if (*p == '-') {
        return -ERANGE;
    }
    /* Whole part and up to 9 fraction digits, kept as integers to round exactly. */
    int64_t whole = 0;
    int64_t frac = 0;
    int64_t frac_scale = 1;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (whole > (INT64_MAX - 9) / 10) {
            return -ERANGE;
        }
        whole = whole * 10 + (*p - '0');
    }
    if (*p == '.') {
        p++;
        for (; *p >= '0' && *p <= '9'; p++, digits++) {
            if (frac_scale >= 1000000000) {
                return -EINVAL; /* more precision than a nanosecond of a second */
            }
            frac = frac * 10 + (*p - '0');
            frac_scale *= 10;
        }
    }
    if (digits == 0) {
        return -EINVAL;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(p, units[i].name) != 0) {
            continue;
        }
        int64_t ns;
        if (__builtin_mul_overflow(whole, units[i].ns, &ns)) {
            return -ERANGE;
        }
        /* frac / frac_scale of a unit, rounded up. s and m are multiples of every scale up to
         * 1e9; for ns, us and ms, frac * unit < 1e9 * 1e6 fits. */
        int64_t part;
        if (units[i].ns % frac_scale == 0) {
            part = frac * (units[i].ns / frac_scale);
        } else {
            part = (frac * units[i].ns + frac_scale - 1) / frac_scale;
        }
        if (__builtin_add_overflow(ns, part, &ns)) {
            return -ERANGE;
        }
        *out = ns;
        return 0;
    }
    return -EINVAL;
}

void args_format_duration(int64_t ns, char *buf, size_t cap)
{
    static const struct {
        const char *name;
        int64_t ns;
    } units[] = {{"m", 60000000000}, {"s", 1000000000}, {"ms", 1000000}, {"us", 1000}};
    if (ns == 0) {
        snprintf(buf, cap, "0");
        return;
    }
    /* INT64_MIN has no positive counterpart; it is a whole number of ns either way. */
    uint64_t mag = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    const char *sign = ns < 0 ? "-" : "";
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        /* Minutes from ten on: a minute reads 60s, as the settings are usually written. */
        if (units[i].ns == 60000000000 && mag < 600000000000) {
            continue;
        }
        if (mag % (uint64_t)units[i].ns == 0) {
            snprintf(buf, cap, "%s%" PRIu64 "%s", sign, mag / (uint64_t)units[i].ns, units[i].name);
            return;
        }
    }
    snprintf(buf, cap, "%s%" PRIu64 "ns", sign, mag);
}

void args_format_size(uint64_t bytes, char *buf, size_t cap)
{
    static const struct {
        const char *name;
        uint64_t mult;
    } units[] = {{"GiB", 1u << 30}, {"MiB", 1u << 20}, {"KiB", 1024}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (bytes != 0 && bytes % units[i].mult == 0) {
            snprintf(buf, cap, "%" PRIu64 "%s", bytes / units[i].mult, units[i].name);
            return;
        }
    }
    snprintf(buf, cap, "%" PRIu64, bytes);
}

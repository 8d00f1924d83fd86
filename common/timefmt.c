/* Timestamps in and out (see timefmt.h). Pure. */
#include "timefmt.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "args.h"

#define NS_PER_S INT64_C(1000000000)

void timefmt_utc(int64_t ns, char *buf, size_t len)
{
    if (ns < 0) {
        snprintf(buf, len, "(before 1970)");
        return;
    }
    time_t sec = (time_t)(ns / NS_PER_S);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char date[32];
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%09" PRId64 "Z", date, ns % NS_PER_S);
}

/* Exactly n decimal digits at s into *out. */
static bool digits(const char *s, int n, int64_t *out)
{
    int64_t v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool leap_year(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/*
 * Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar: counting in 400-year eras
 * that start on March 1st, so the leap day ends each year (H. Hinnant, "chrono-Compatible
 * Low-Level Date Algorithms", days_from_civil). Exact for every year 0000 .. 9999.
 */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int parse_rfc3339(const char *s, uint64_t *ns)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t y, mo, d, h, mi, sec;
    if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) || strchr("Tt ", s[10]) == NULL ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &sec)) {
        return -EINVAL;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap_year(y) ? 1 : 0) ||
        h > 23 || mi > 59 || sec > 59) {
        return -EINVAL; /* a leap second (:60) has no CLOCK_REALTIME value of its own */
    }
    const char *p = s + 19;
    int64_t frac = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        while (p[n] >= '0' && p[n] <= '9') {
            n++;
        }
        if (n == 0 || n > 9) {
            return -EINVAL;
        }
        (void)digits(p, n, &frac);
        for (int i = n; i < 9; i++) {
            frac *= 10;
        }
        p += n;
    }
    int64_t offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int64_t oh, om;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59) {
            return -EINVAL;
        }
        offset_s = (oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return -EINVAL;
    }
    if (*p != '\0') {
        return -EINVAL;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset_s;
    /* 2^63 ns is 9223372036.854775808 s. */
    if (secs < 0 || secs > INT64_MAX / NS_PER_S ||
        (secs == INT64_MAX / NS_PER_S && frac > INT64_MAX % NS_PER_S)) {
        return -ERANGE;
    }
    *ns = (uint64_t)(secs * NS_PER_S + frac);
    return 0;
}

int timefmt_parse(const char *text, uint64_t *ns)
{
    if (text[0] >= '0' && text[0] <= '9' && strspn(text, "0123456789") == strlen(text)) {
        uint64_t v;
        int rc = args_parse_u64(text, &v);
        if (rc < 0) {
            return rc;
        }
        if (v > (uint64_t)INT64_MAX) {
            return -ERANGE;
        }
        *ns = v;
        return 0;
    }
    return parse_rfc3339(text, ns);
}

/*
 * Saturating int64 arithmetic for time math.
 *
 * Error bounds only ever need to be rounded towards "wider": a bound that saturates at
 * INT64_MAX is still a sound (if useless) bound, whereas one that wraps is a lie. A product of
 * ppb and elapsed nanoseconds overflows int64 after ~51 h at 50 ppm, so every multiplication
 * here saturates instead of wrapping. All functions are pure.
 */
#ifndef CLOCKBOUND_SATMATH_H
#define CLOCKBOUND_SATMATH_H

#include <stdint.h>

#define CB_NS_PER_S  1000000000LL
#define CB_PPB_PER_1 1000000000LL /* parts per billion in a ratio of 1 */

/* a + b, clamped to [INT64_MIN, INT64_MAX]. */
static inline int64_t cb_sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) {
        return b > 0 ? INT64_MAX : INT64_MIN;
    }
    return r;
}

/* a - b, clamped to [INT64_MIN, INT64_MAX]. */
static inline int64_t cb_sat_sub(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r)) {
        return b < 0 ? INT64_MAX : INT64_MIN;
    }
    return r;
}

/* a * b for a, b >= 0, clamped to INT64_MAX. */
static inline int64_t cb_sat_mul(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r)) {
        return INT64_MAX;
    }
    return r;
}

/*
 * ceil(rate_ppb * elapsed_ns / 1e9): the growth in ns of an error growing at rate_ppb for
 * elapsed_ns. Splits elapsed into whole seconds and a remainder, so the remainder's product
 * (< rate * 1e9) never overflows for rate_ppb <= CB_RATE_MAX_PPB; only the whole-seconds part can
 * saturate. Returns 0 when either input is <= 0 and INT64_MAX for rates above CB_RATE_MAX_PPB
 * (a ratio of 9: no clock drifts that fast, and "unbounded" is the sound answer).
 */
#define CB_RATE_MAX_PPB (INT64_MAX / CB_NS_PER_S)
static inline int64_t cb_ppb_of_ns_ceil(int64_t rate_ppb, int64_t elapsed_ns)
{
    if (rate_ppb <= 0 || elapsed_ns <= 0) {
        return 0;
    }
    if (rate_ppb > CB_RATE_MAX_PPB) {
        return INT64_MAX;
    }
    int64_t whole_s = elapsed_ns / CB_NS_PER_S;
    int64_t prod = rate_ppb * (elapsed_ns % CB_NS_PER_S);
    int64_t part = prod / CB_PPB_PER_1 + (prod % CB_PPB_PER_1 != 0);
    return cb_sat_add(cb_sat_mul(rate_ppb, whole_s), part);
}

/*
 * num_ns * 1e9 / den_ns, rounded down or (up) up: the rate in ppb at which num_ns accrue over
 * den_ns. For num >= 0, den > 0; INT64_MAX when it would not fit (seconds per second).
 */
static inline int64_t cb_rate_ppb(int64_t num_ns, int64_t den_ns, int up)
{
    if (num_ns > INT64_MAX / CB_PPB_PER_1) {
        return INT64_MAX;
    }
    int64_t p = num_ns * CB_PPB_PER_1;
    return p / den_ns + (up && p % den_ns != 0);
}

#endif

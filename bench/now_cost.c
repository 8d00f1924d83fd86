/*
 * now-cost: what one cb_now() costs, the clock math every request and every release pass runs
 * (clockbound/clockbound.c), on a state as a running oracled holds it: two reports of one
 * chrony update, a 10 us correction standing still. Prints ns per call over N calls (default
 * 20,000,000); the readings are made up, so no clock is read. A report, not a test.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clockbound.h"

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 20000000;
    if (n <= 0) {
        fprintf(stderr, "usage: now-cost [CALLS]\n");
        return 2;
    }
    struct cb_params p;
    cb_params_default(&p);
    p.await_update_after_start = false;
    struct cb_state st;
    cb_init(&st, &p);
    const int64_t rt0 = INT64_C(1795620000000000000), mono0 = INT64_C(5000000000000);
    for (int i = 0; i < 2; i++) {
        struct cb_poll poll;
        memset(&poll, 0, sizeof(poll));
        struct chrony_tracking *t = &poll.tracking;
        t->ref_id = 0x7F000001;
        t->addr_family = 1;
        t->stratum = 2;
        t->ref_time_ns = rt0 - 100000000;
        t->root_delay_s = chrony_float_decode(0xe0c7d9a7);                       /* 6 us */
        t->root_dispersion_s = chrony_float_decode(i ? 0xda9290d6 : 0xd8f1b884); /* growing */
        t->skew_ppm = chrony_float_decode(0x0693851f);
        t->current_correction_s = chrony_float_decode(0xe2a7c5ac); /* 10 us */
        int64_t at = (i - 1) * INT64_C(20000000);
        poll.sent =
            (struct cb_reading){.rt_ns = rt0 + at, .mono_ns = mono0 + at, .rt_hi_ns = rt0 + at};
        poll.recv_rt_ns = rt0 + at;
        cb_on_poll(&st, &poll);
    }
    struct timespec a, b;
    int64_t sum = 0;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) {
        struct cb_reading r = {.rt_ns = rt0 + i, .mono_ns = mono0 + i, .rt_hi_ns = rt0 + i};
        struct cb_now now;
        cb_now(&st, &r, &now);
        sum += now.bound_ns;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
    printf("%.1f ns per cb_now (%ld calls, checksum %" PRId64 ")\n", ns / (double)n, n, sum % 1000);
    return 0;
}

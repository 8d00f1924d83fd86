/* ClockBound v1 socket requests for tests, the Now they are answered from, and byte-for-byte
 * comparison of replies (test_cbproto, test_cbsock). */
#ifndef TESTS_CBV1_REQUESTS_H
#define TESTS_CBV1_REQUESTS_H

#include <stddef.h>
#include <stdint.h>

#include "clockbound.h"

#define EARLIEST INT64_C(1795620000000000000) /* 0x18eb52e05b964000 */
#define LATEST   INT64_C(1795620000000020000) /* 0x18eb52e05b968e20 */

/* The bytes of EARLIEST and LATEST, big-endian. */
#define EARLIEST_BYTES 0x18, 0xeb, 0x52, 0xe0, 0x5b, 0x96, 0x40, 0x00
#define LATEST_BYTES   0x18, 0xeb, 0x52, 0xe0, 0x5b, 0x96, 0x8e, 0x20
/* 0 and 2^63 - 1: the interval with no bound. */
#define ZERO_BYTES 0, 0, 0, 0, 0, 0, 0, 0
#define MAX_BYTES  0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff

/* A Now as cb_now gives it: rt 10 us after EARLIEST, a 10 us bound. */
struct cb_now now_with(enum cb_status status, enum cb_reason reason);

/* A Now request (version 1, type 1). */
extern const uint8_t NOW_REQ[4];

/* A Before (type 2) or After (type 3) request for ts, big-endian as the protocol has it. */
void ts_request(uint8_t type, uint64_t ts, uint8_t req[12]);

/* Fails the test, showing the bytes got in hex, unless they are want. */
void expect_bytes(const char *what, const uint8_t *got, size_t got_len, const uint8_t *want,
                  size_t want_len);

#endif

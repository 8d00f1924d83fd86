/* ClockBound v1 socket requests for tests, and byte-for-byte comparison of replies. */
#ifndef TESTS_CBV1_REQUESTS_H
#define TESTS_CBV1_REQUESTS_H

#include <stddef.h>
#include <stdint.h>

/* A Now request (version 1, type 1). */
extern const uint8_t NOW_REQ[4];

/* A Before (type 2) or After (type 3) request for ts, big-endian as the protocol has it. */
void ts_request(uint8_t type, uint64_t ts, uint8_t req[12]);

/* Fails the test, showing the bytes got in hex, unless they are want. */
void expect_bytes(const char *what, const uint8_t *got, size_t got_len, const uint8_t *want,
                  size_t want_len);

#endif

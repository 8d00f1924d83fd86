/*
 * wire_client calls for cmocka tests (it_oracled, it_abuse): each fails the running test with a
 * message (fail_msg) instead of returning an error.
 */
#ifndef TESTS_WIRE_CHECKS_H
#define TESTS_WIRE_CHECKS_H

#include "wire_client.h"

/* Connects c to addr ("HOST:PORT", "[V6]:PORT"), or fails the test. */
void wc_connect_or_fail(struct wire_client *c, const char *addr);

/* Sends q and returns the response with its id (whatever its kind), or fails the test when none
 * comes within timeout_ms or the connection breaks. */
struct response wc_call_or_fail(struct wire_client *c, const struct request *q, int timeout_ms);

/* Fails the test unless r is an error with this code. */
void wc_expect_error(const struct response *r, enum wire_error code);

#endif

/*
 * it_util's calls for cmocka tests (it_client, it_abuse): each fails the running test with a
 * message (fail_msg) instead of returning an error.
 */
#ifndef TESTS_IT_CHECKS_H
#define TESTS_IT_CHECKS_H

#include <stdint.h>

/* The whole-number sample NAME of oracled's /metrics at HOSTPORT (see it_metric_u64), or fails
 * the test. */
uint64_t it_metric_or_fail(const char *hostport, const char *name);

#endif

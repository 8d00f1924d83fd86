/* ClockBound v1 socket requests for tests (see cbv1_requests.h). */
#include "cbv1_requests.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define SHOWN_MAX 64 /* bytes shown when a reply differs */

const uint8_t NOW_REQ[4] = {1, 1, 0, 0};

struct cb_now now_with(enum cb_status status, enum cb_reason reason)
{
    struct cb_now n;
    memset(&n, 0, sizeof(n));
    n.status = status;
    n.reason = reason;
    n.rt_ns = EARLIEST + 10000;
    n.bound_ns = 10000;
    n.earliest_ns = EARLIEST;
    n.latest_ns = LATEST;
    return n;
}

void ts_request(uint8_t type, uint64_t ts, uint8_t req[12])
{
    req[0] = 1;
    req[1] = type;
    req[2] = 0;
    req[3] = 0;
    for (int i = 0; i < 8; i++) {
        req[4 + i] = (uint8_t)(ts >> (56 - 8 * i));
    }
}

void expect_bytes(const char *what, const uint8_t *got, size_t got_len, const uint8_t *want,
                  size_t want_len)
{
    if (got_len == want_len && memcmp(got, want, want_len) == 0) {
        return;
    }
    char hex[3 * SHOWN_MAX + 1] = "";
    for (size_t i = 0; i < got_len && i < SHOWN_MAX; i++) {
        snprintf(hex + 3 * i, 4, "%02x ", got[i]);
    }
    fail_msg("%s: %zu bytes %s(want %zu)", what, got_len, hex, want_len);
}

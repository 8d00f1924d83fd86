/* wire_client calls that fail a cmocka test (see wire_checks.h). */
#include "wire_checks.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

void wc_connect_or_fail(struct wire_client *c, const char *addr)
{
    int rc = wc_connect_addr(c, addr);
    if (rc < 0) {
        fail_msg("connect %s: %s", addr, strerror(-rc));
    }
}

struct response wc_call_or_fail(struct wire_client *c, const struct request *q, int timeout_ms)
{
    struct response r;
    int rc = wc_call(c, q, &r, timeout_ms);
    if (rc < 0) {
        fail_msg("request %llu: %s", (unsigned long long)q->id, strerror(-rc));
    }
    return r;
}

void wc_expect_error(const struct response *r, enum wire_error code)
{
    if (r->kind != RESP_ERROR || r->u.error.code != code) {
        fail_msg("expected error %d, got kind %d (error %d: %s)", code, r->kind,
                 r->kind == RESP_ERROR ? (int)r->u.error.code : 0,
                 r->kind == RESP_ERROR ? r->u.error.message : "");
    }
}

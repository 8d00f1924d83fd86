/* it_util's calls that fail a cmocka test (see it_checks.h). */
#include "it_checks.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "it_util.h"

uint64_t it_metric_or_fail(const char *hostport, const char *name)
{
    uint64_t v = 0;
    int rc = it_metric_u64(hostport, name, &v);
    if (rc < 0) {
        fail_msg("%s from http://%s/metrics: %s", name, hostport, strerror(-rc));
    }
    return v;
}

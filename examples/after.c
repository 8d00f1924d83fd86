/*
 * ClockBound's "after" demo with liboracle-client: a timestamp one second past the clock's
 * latest edge is certainly still in the future (true); two seconds later it has certainly come
 * (false). Exit 0 when both answers are as expected, 1 when not, 2 on an error.
 */
#include "common.h"

int main(int argc, char **argv)
{
    oracle_client *c = example_client(argc, argv);
    if (c == NULL) {
        return 2;
    }
    struct oracle_error err;
    struct oracle_bounds now;
    int rc = 2;
    bool first = false;
    bool second = true;
    if (oracle_now(c, &now, &err) < 0) {
        rc = example_fail("now", &err);
        goto out;
    }
    uint64_t ts = now.latest_ns + 1000000000;
    printf("now: latest %" PRIu64 "; asking about latest + 1 s = %" PRIu64 "\n", now.latest_ns, ts);
    if (oracle_after(c, ts, &first, &err) < 0) {
        rc = example_fail("after", &err);
        goto out;
    }
    printf("after(latest + 1 s) right away: %s\n", first ? "true" : "false");
    example_sleep_ms(2000);
    if (oracle_after(c, ts, &second, &err) < 0) {
        rc = example_fail("after", &err);
        goto out;
    }
    printf("after(latest + 1 s) 2 s later:  %s\n", second ? "true" : "false");
    rc = first && !second ? 0 : 1;
out:
    oracle_client_free(c);
    return rc;
}

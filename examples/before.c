/*
 * ClockBound's "before" demo with liboracle-client: take the clock's interval now, ask whether
 * a moment just past its latest edge is certainly in the past (no: true time may not have
 * reached it yet), sleep one second and ask again (yes). ClockBound asks about latest itself,
 * in-process; over the network the bound (microseconds with a good chrony) is shorter than a
 * round trip, so latest may have passed by the time the question arrives: this demo asks about
 * latest + 100 ms. Exit 0 when both answers are as expected, 1 when not, 2 on an error.
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
    bool first = true;
    bool second = false;
    if (oracle_now(c, &now, &err) < 0) {
        rc = example_fail("now", &err);
        goto out;
    }
    uint64_t ts = now.latest_ns + 100000000;
    printf("now: earliest %" PRIu64 ", latest %" PRIu64 "; asking about latest + 100 ms\n",
           now.earliest_ns, now.latest_ns);
    if (oracle_before(c, ts, &first, &err) < 0) {
        rc = example_fail("before", &err);
        goto out;
    }
    printf("before(latest + 100 ms) right away: %s\n", first ? "true" : "false");
    example_sleep_ms(1000);
    if (oracle_before(c, ts, &second, &err) < 0) {
        rc = example_fail("before", &err);
        goto out;
    }
    printf("before(latest + 100 ms) 1 s later:  %s\n", second ? "true" : "false");
    rc = !first && second ? 0 : 1;
out:
    oracle_client_free(c);
    return rc;
}

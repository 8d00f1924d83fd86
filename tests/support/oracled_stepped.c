/*
 * oracled-stepped: oracled on a clock a test can step (never the system's): CLOCK_REALTIME is
 * the system's plus the offset in $ORACLE_TEST_STEP_FILE, re-read on SIGUSR1 (step_offset.h);
 * the monotonic clocks are the system's, as they would be across a real step.
 */
#include "clock.h"
#include "daemon.h"
#include "step_offset.h"

static int64_t stepped_read(struct cb_clock *clock, enum cb_clock_id id)
{
    (void)clock;
    int64_t ns = cb_clock_ns(cb_clock_system(), id);
    return id == CB_CLOCK_REALTIME ? ns + step_offset_ns() : ns;
}

int main(int argc, char **argv)
{
    step_offset_init();
    struct cb_clock stepped = {.read_ns = stepped_read};
    return oracled_main(argc, argv, &stepped);
}

#include "fake_clock.h"

#include <stddef.h>

static int64_t fake_read_ns(struct cb_clock *clock, enum cb_clock_id id)
{
    struct fake_clock *fc = (struct fake_clock *)clock; /* base is the first member */
    if (fc->hook != NULL) {
        fc->hook(fc, id, fc->hook_arg);
    }
    int64_t v = id == CB_CLOCK_REALTIME ? fc->rt_ns : fc->mono_ns;
    fc->reads++;
    fake_clock_advance(fc, fc->tick_ns);
    return v;
}

void fake_clock_init(struct fake_clock *fc, int64_t rt_ns, int64_t mono_ns)
{
    fc->base.read_ns = fake_read_ns;
    fc->base.read_marker = NULL;
    fc->rt_ns = rt_ns;
    fc->mono_ns = mono_ns;
    fc->tick_ns = 0;
    fc->hook = NULL;
    fc->hook_arg = NULL;
    fc->reads = 0;
}

void fake_clock_advance(struct fake_clock *fc, int64_t ns)
{
    fc->rt_ns += ns;
    fc->mono_ns += ns;
}

void fake_clock_step(struct fake_clock *fc, int64_t ns)
{
    fc->rt_ns += ns;
}

struct cb_reading fake_clock_reading(struct fake_clock *fc)
{
    struct cb_reading r;
    cb_clock_read(&fc->base, &r);
    return r;
}

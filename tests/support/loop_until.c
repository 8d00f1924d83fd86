/* Driving a libuv loop until a condition holds (see loop_until.h). */
#include "loop_until.h"

#include <stddef.h>

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static void on_tick_closed(uv_handle_t *h)
{
    *(bool *)h->data = true;
}

static bool never(void *arg)
{
    (void)arg;
    return false;
}

bool loop_until(uv_loop_t *loop, loop_until_fn *done, void *arg, int64_t timeout_ms)
{
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, on_tick, 1, 1);
    uint64_t end = uv_hrtime() + (uint64_t)timeout_ms * 1000000u;
    bool ok = done(arg);
    while (!ok && uv_hrtime() < end) {
        uv_run(loop, UV_RUN_ONCE);
        ok = done(arg);
    }
    /* The timer lives on this stack: closed, and the close completed, before returning. */
    bool closed = false;
    tick.data = &closed;
    uv_close((uv_handle_t *)&tick, on_tick_closed);
    while (!closed) {
        uv_run(loop, UV_RUN_NOWAIT);
    }
    return ok;
}

void loop_for(uv_loop_t *loop, int64_t ms)
{
    (void)loop_until(loop, never, NULL, ms);
}

static void close_one(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) {
        uv_close(h, NULL);
    }
}

int loop_close_all(uv_loop_t *loop)
{
    uv_walk(loop, close_one, NULL);
    uv_run(loop, UV_RUN_DEFAULT); /* closes them, and lets queued work finish */
    return uv_loop_close(loop);
}

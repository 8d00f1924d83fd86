/*
 * Driving a libuv loop in a test until something holds: the loop's own events, or a condition
 * outside it (a client socket, a fake's thread), checked at least every millisecond, with a
 * deadline in seconds so a loaded machine is waited for and a hang still ends.
 */
#ifndef TESTS_LOOP_UNTIL_H
#define TESTS_LOOP_UNTIL_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

/* Checked after every turn of the loop; arg is the caller's. */
typedef bool loop_until_fn(void *arg);

/*
 * Runs loop (UV_RUN_ONCE, a 1 ms timer keeping it from sleeping longer) until done(arg) or
 * timeout_ms have passed. Returns whether done(arg) held. The timer is closed before it returns:
 * the loop is left with no handle of this helper's.
 */
bool loop_until(uv_loop_t *loop, loop_until_fn *done, void *arg, int64_t timeout_ms);

/* Runs loop for ms milliseconds, whatever happens. */
void loop_for(uv_loop_t *loop, int64_t ms);

/* Closes every handle still open on loop (a test that failed half-way), runs it until they
 * have closed, and returns uv_loop_close()'s result. Handles closed this way have no close
 * callback: memory their owner frees there is not freed. */
int loop_close_all(uv_loop_t *loop);

#endif

/*
 * liboracle-client's asynchronous face: the client on the caller's own libuv loop, a callback
 * per call. For databases built on an event loop.
 *
 *     #include <oracle/async.h>          cc ... $(pkg-config --cflags --libs oracle-client)
 *
 *     static void committed(const struct oracle_response *r, void *arg)
 *     {
 *         if (r->rc == 0) ... r->u.ts.first_ns is certainly in the past now
 *     }
 *     oracle_async *a = oracle_async_new(loop, &opts, &err);
 *     struct oracle_request req = {.op = ORACLE_OP_GET_TIMESTAMP,
 *                                  .ts = {.count = 1, .commit_wait = true}};
 *     oracle_async_submit(a, &req, committed, ctx, &err);
 *     ...
 *     oracle_async_close(a, NULL, NULL);   // then let the loop run until it has closed
 *
 * It is the engine the shared client (oracle_shared_new() in client.h) runs on its own thread:
 * the same options, connections, failover, session monotonicity and batching, documented there.
 * Every function here is called on the loop's thread; callbacks run there too.
 *
 * Each submitted call ends exactly once, through its callback: r->rc is 0, ORACLE_E_SERVER
 * (r->error holds the server's code, message and retriable flag), or a failure (ORACLE_E_TIMEOUT,
 * ORACLE_E_CONNECT, ORACLE_E_PROTOCOL, ORACLE_E_CLOSED ...) with r->error saying what
 * happened. r is valid during the callback only. A callback may submit further calls, or close
 * the client.
 *
 * The client's handles (its connection, its timers) keep the loop running while it is open:
 * uv_run(loop, UV_RUN_DEFAULT) returns only after oracle_async_close() has done its work.
 */
#ifndef ORACLE_ASYNC_H
#define ORACLE_ASYNC_H

#include <uv.h>

#include "oracle/client.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct oracle_async oracle_async;

typedef void (*oracle_async_cb)(const struct oracle_response *r, void *arg);

/* A client on loop; nothing is connected yet. NULL on a bad option (err says which) or lack of
 * memory. Close it with oracle_async_close(). */
oracle_async *oracle_async_new(uv_loop_t *loop, const struct oracle_client_options *o,
                               struct oracle_error *err);

/*
 * Submits one call: cb(r, arg) is called once, later, never from within this function. The
 * call leaves on the loop's next turn, with the other calls made meanwhile. Returns 0, or
 * ORACLE_E_INVALID (a bad argument), ORACLE_E_NOMEM or ORACLE_E_CLOSED (after
 * oracle_async_close()) with err filled and cb never called.
 */
int oracle_async_submit(oracle_async *a, const struct oracle_request *req, oracle_async_cb cb,
                        void *arg, struct oracle_error *err);

/*
 * Ends the calls not yet ended with ORACLE_E_CLOSED (their callbacks run from within this
 * function), closes the connections, and frees the client once its handles are closed, on a
 * later turn of the loop; closed(arg) is called then, when not NULL. NULL a: no-op.
 */
void oracle_async_close(oracle_async *a, void (*closed)(void *arg), void *arg);

/* The largest timestamp this client has seen, or 0. */
uint64_t oracle_async_max_seen(oracle_async *a);
/* Makes the client treat ts_ns as seen. */
void oracle_async_observe(oracle_async *a, uint64_t ts_ns);
/* What it has done (see oracle_client_counts()). */
void oracle_async_counts(oracle_async *a, struct oracle_client_counts *out);

#ifdef __cplusplus
}
#endif

#endif

/*
 * The engine behind the shared and asynchronous clients: calls from any number of callers,
 * merged into batches (batch.h) and sent over a connection it owns, on a libuv loop. All of it
 * runs on the loop's thread, except engine_max_seen(), engine_observe() and engine_peer(),
 * which any thread may call.
 *
 * Connections. One connection at a time carries new requests, to the servers of the list in
 * turn (each name resolved afresh, every address it resolves to tried, connect_timeout_ms per
 * attempt). A connection that breaks, or whose server answers with NOT_READY, OVERLOADED,
 * CLOCK_UNAVAILABLE, SHUTTING_DOWN or BOUND_TOO_WIDE (it cannot serve now), or says it closes
 * it, is left for the next server of the list; the calls it carried are sent again there,
 * within their deadlines, after a backoff that doubles from 1 ms to 100 ms while failures go
 * on. A connection left is closed once its replies are in.
 *
 * Calls. Every call ends exactly once, through its done callback: with its reply (any other
 * server error, WAIT_TOO_LONG included, is a reply), ORACLE_E_CONNECT when a pass over every
 * server found none that accepts, ORACLE_E_PROTOCOL when a server sends what cannot be a reply,
 * or at its deadline (connect_timeout_ms + request_timeout_ms + the commit-wait it allows, from
 * the call) with the last error that sent it elsewhere, or ORACLE_E_TIMEOUT when none. A request
 * in flight past the deadlines of all its calls takes its connection down (the server is stuck;
 * the other calls go on elsewhere), so a late reply is never taken for another's.
 * engine_close() ends the calls not yet ended with ORACLE_E_CLOSED. Calls sent again keep the
 * order they were made in, among themselves and ahead of later calls of their queue.
 *
 * Batching (batch.h says why each merged call keeps its guarantee). GetTimestamp of one
 * timestamp without min_ts_ns, with or without commit-wait, and Now are merged: while two
 * batches of a kind are in flight, the calls of that kind queue, and all of them leave together
 * when a reply comes. WaitUntil calls never wait for a reply to others; those queued together
 * within BATCH_WAIT_SPREAD_NS of each other leave as one. One caller alone costs one round trip,
 * without delay; with max_batch_delay_ns, a batch waits that long at most for company. Other
 * calls go alone, pipelined.
 */
#ifndef ORACLE_CLIENT_ENGINE_H
#define ORACLE_CLIENT_ENGINE_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "config.h"
#include "oracle/client.h"

struct engine;

/* A call's end: r->rc is 0 or negative, and r->error says what happened when it is negative.
 * Called on the loop's thread; r is valid during the call only. */
typedef void (*engine_done_fn)(const struct oracle_response *r, void *arg);

/* An engine on loop with the settings cfg, speaking TLS with tls when not NULL (a reference is
 * taken). Returns NULL when out of memory. */
struct engine *engine_new(uv_loop_t *loop, const struct client_config *cfg, SSL_CTX *tls);

/*
 * Takes a call: done(reply, arg) is called once, later (never from within this call). Returns
 * 0, or ORACLE_E_INVALID (a bad argument), ORACLE_E_NOMEM, or ORACLE_E_CLOSED after
 * engine_close(), with err filled and done never called. The call is sent on the loop's next
 * turn (engine_flush() sends at once).
 */
int engine_submit(struct engine *e, const struct oracle_request *req, engine_done_fn done,
                  void *arg, struct oracle_error *err);

/* Sends what can be sent now. */
void engine_flush(struct engine *e);

/*
 * Ends every call not yet ended with ORACLE_E_CLOSED, closes the connections and frees the
 * engine once its handles are closed, then calls closed(arg) (when not NULL). The loop must
 * run for that. Calls made from done callbacks meanwhile fail with ORACLE_E_CLOSED.
 */
void engine_close(struct engine *e, void (*closed)(void *arg), void *arg);

/* The largest timestamp seen, as oracle_client_max_seen(). Any thread. */
uint64_t engine_max_seen(struct engine *e);
/* Treats ts_ns as seen, as oracle_client_observe(). Any thread. */
void engine_observe(struct engine *e, uint64_t ts_ns);
/* The current connection's server ("127.0.0.1:7600", "" when none) into buf. Any thread. */
void engine_peer(struct engine *e, char *buf, size_t cap);

/* Counts since engine_new(), as oracle_client_counts() says them. Any thread. */
void engine_counts(struct engine *e, struct oracle_client_counts *out);

#endif

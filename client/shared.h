/*
 * The shared client (oracle_shared_new()): the engine (engine.h) on a private thread and loop,
 * and the blocking calls of any number of threads handed to it. A call is queued under a lock,
 * the engine woken with uv_async_send(), and the caller sleeps on its own condition variable
 * until the engine ends the call (it always does, at the latest at the call's deadline).
 */
#ifndef ORACLE_CLIENT_SHARED_H
#define ORACLE_CLIENT_SHARED_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "oracle/client.h"

struct shared;

/* Starts the engine's thread. Returns NULL with err filled (out of memory, no thread). */
/* tls: as engine_new's. */
struct shared *shared_new(const struct client_config *cfg, SSL_CTX *tls, struct oracle_error *err);

/* Ends the calls still waiting with ORACLE_E_CLOSED, stops the thread and frees everything. */
void shared_free(struct shared *s);

/* One call, blocking: its reply in *out; returns out->rc (err filled when negative). */
int shared_call(struct shared *s, const struct oracle_request *req, struct oracle_response *out,
                struct oracle_error *err);

uint64_t shared_max_seen(struct shared *s);
void shared_observe(struct shared *s, uint64_t ts_ns);
void shared_peer(struct shared *s, char *buf, size_t cap);
void shared_counts(struct shared *s, struct oracle_client_counts *out);

#endif

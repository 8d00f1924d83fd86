/*
 * Requests as the client library sends them: a struct oracle_request checked and turned into
 * the wire's struct request. Pure; shared by the blocking client and the engine behind the
 * shared and asynchronous clients.
 */
#ifndef ORACLE_CLIENT_REQUEST_H
#define ORACLE_CLIENT_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "oracle/client.h"
#include "wire.h"

#define REQUEST_TS_LIMIT    (UINT64_C(1) << 63) /* every timestamp on the wire is below this */
#define REQUEST_MAX_COUNT   65536               /* GetTimestamp.count (oracle.proto) */
#define REQUEST_ENCODED_MAX 128                 /* an encoded request is shorter than this */
/* A commit-wait request without max_wait_ns may be held this long: oracled's --max-wait cap. */
#define REQUEST_WAIT_ALLOWANCE_MAX_NS UINT64_C(60000000000)

/* Checks req's arguments. Returns 0, or ORACLE_E_INVALID with what is wrong written into why. */
int request_check(const struct oracle_request *req, char *why, size_t cap);

/* req as the wire says it, with the id, the min_ts_ns and the max_wait_ns to send. */
struct request request_to_wire(const struct oracle_request *req, uint64_t id, uint64_t min_ts_ns,
                               uint64_t max_wait_ns);

/* How long the server may hold a commit-wait that allows max_wait_ns (0: its own maximum). */
uint64_t request_allowance(uint64_t max_wait_ns);

#endif

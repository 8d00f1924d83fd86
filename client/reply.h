/*
 * Replies as the client library hands them out: a decoded wire Response checked against the
 * request it answers and turned into a struct oracle_response. Pure.
 */
#ifndef ORACLE_CLIENT_REPLY_H
#define ORACLE_CLIENT_REPLY_H

#include <stdbool.h>
#include <stdint.h>

#include "oracle/client.h"
#include "wire.h"

/* A request in flight: what its reply must match. */
struct flight {
    uint64_t id; /* 0: the slot is free */
    enum oracle_op op;
    uint32_t count; /* GET_TIMESTAMP: as asked (0 means 1) */
    bool commit_wait;
    uint64_t min_ts_ns;    /* GET_TIMESTAMP: every timestamp must be above this */
    uint64_t allowance_ns; /* how long the server may hold it (its commit-wait) */
};

/*
 * Fills *out from w, the decoded reply to f. Returns NULL, or what is wrong with the reply (a
 * phrase: "a reply of another kind than the request"). *closes is set when the reply is an
 * error after which the server closes the connection.
 */
const char *reply_take(const struct flight *f, const struct response *w,
                       struct oracle_response *out, bool *closes);

#endif

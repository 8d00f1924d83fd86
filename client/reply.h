/*
 * Replies as the client library hands them out: a decoded wire Response checked against the
 * request it answers and turned into a struct oracle_response. Pure.
 */
#ifndef ORACLE_CLIENT_REPLY_H
#define ORACLE_CLIENT_REPLY_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "frame.h"
#include "oracle/client.h"
#include "wire.h"

/* Room for the bytes received and not yet decoded: a whole largest frame and the next. */
#define REPLY_IN_CAP (2 * FRAME_MAX_TOTAL)
/*
 * protobuf-c unpacking allocates per field it scans (a scanned-member record, and one for each
 * unknown field), none freed until the end: a 64 KiB reply of 2-byte fields needs about 53
 * bytes per message byte. The arena replies are unpacked into is this large; it is only
 * touched as far as a reply needs it.
 */
#define REPLY_ARENA_CAP (64 * FRAME_MAX_LEN)

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

/*
 * Decodes the next whole frame of buf[0 .. len) into *w, unpacked into a (reset first).
 * Returns the bytes it took (> 0), 0 when more bytes are needed, or -EPROTO with *what saying
 * what the server sent ("sent a malformed length prefix").
 */
int reply_decode(const uint8_t *buf, size_t len, struct arena *a, struct response *w,
                 const char **what);

/*
 * reply_take() for the reply w with a nonzero id, whose flight is f (NULL: none with that id is
 * in flight). Returns true, or false with what the server sent written into what ("sent a reply
 * for id 7, which is not in flight").
 */
bool reply_accept(const struct flight *f, const struct response *w, struct oracle_response *out,
                  bool *closes, char *what, size_t cap);

#endif

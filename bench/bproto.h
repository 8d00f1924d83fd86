/*
 * The load generator's codecs: lean encoders and parsers for the three servers it drives —
 * oracled (varint-framed oracle.v1 protobuf, the few fields a benchmark needs, read straight
 * off the bytes), Redis (RESP: INCR and its integer reply) and the echo server. Pure; tested
 * against the daemon's own wire module.
 */
#ifndef ORACLE_BPROTO_H
#define ORACLE_BPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bp_op {
    BP_OP_TS,         /* GetTimestamp, no commit-wait */
    BP_OP_TS_WAIT,    /* GetTimestamp with commit-wait */
    BP_OP_NOW,        /* Now */
    BP_OP_WAIT_UNTIL, /* WaitUntil(ts) */
};

#define BP_REQUEST_MAX 64 /* no request this module writes is longer */

/*
 * Writes an oracled request, length prefix first, into out (BP_REQUEST_MAX bytes): id, op,
 * count (GetTimestamp; 0 means 1) and ts_ns (WaitUntil). Returns its length.
 */
size_t bp_oracle_request(uint8_t *out, uint64_t id, enum bp_op op, uint32_t count, uint64_t ts_ns);

/* What a benchmark reads from an oracled Response. */
struct bp_reply {
    uint64_t id;
    bool error;    /* an Error result */
    uint32_t code; /* its code */
    bool timestamps;
    uint64_t first_ns;
    uint32_t count;
    uint64_t waited_ns;
    uint64_t bound_ns;
    uint64_t earliest_ns;
    bool waited; /* a Waited result */
};

/*
 * Parses one Response message (without its length prefix). Unknown fields are skipped.
 * Returns 0, or -EBADMSG when the bytes are not a well-formed message.
 */
int bp_oracle_parse(const uint8_t *msg, size_t len, struct bp_reply *out);

/* The RESP request "INCR key" into out (BP_REQUEST_MAX bytes; key at most 32 bytes). Returns
 * its length. */
size_t bp_redis_incr(uint8_t *out, const char *key);

/*
 * Looks for one RESP reply at buf[0..len). Returns its length (> 0) and sets *ok when it is an
 * integer reply (":N\r\n"), 0 when incomplete, -EBADMSG when it is not a simple RESP line
 * (only integer, simple string and error replies are expected: "+", "-", ":").
 */
int bp_redis_reply(const uint8_t *buf, size_t len, bool *ok);

#endif

/*
 * The adapter between the wire (proto/oracle.proto, protobuf-c) and the daemon's own request and
 * response structs: the only module that sees protobuf-c types. Decoding unpacks into an arena;
 * encoding writes the varint length and the message straight into the caller's buffer. No
 * malloc on either path.
 */
#ifndef ORACLE_WIRE_H
#define ORACLE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"

enum req_op {
    REQ_OP_NONE = 0, /* no operation set, or one this server does not know */
    REQ_OP_GET_TIMESTAMP,
    REQ_OP_NOW,
    REQ_OP_BEFORE,
    REQ_OP_AFTER,
    REQ_OP_WAIT_UNTIL,
    REQ_OP_SERVER_INFO,
};

struct request {
    uint64_t id;
    enum req_op op;
    /* GetTimestamp */
    uint32_t count; /* as sent: 0 means 1 */
    bool commit_wait;
    uint64_t min_ts_ns;
    uint64_t max_wait_ns; /* GetTimestamp and WaitUntil; 0: the server's maximum */
    /* Before, After, WaitUntil */
    uint64_t ts_ns;
};

/* Numbered as the wire's ErrorCode. */
enum wire_error {
    WIRE_ERROR_BAD_REQUEST = 1,
    WIRE_ERROR_UNSUPPORTED = 2,
    WIRE_ERROR_CLOCK_UNAVAILABLE = 3,
    WIRE_ERROR_BOUND_TOO_WIDE = 4,
    WIRE_ERROR_WAIT_TOO_LONG = 5,
    WIRE_ERROR_OVERLOADED = 6,
    WIRE_ERROR_NOT_READY = 7,
    WIRE_ERROR_SHUTTING_DOWN = 8,
};

enum resp_kind {
    RESP_TIMESTAMPS,
    RESP_BOUNDS,
    RESP_BEFORE,
    RESP_AFTER,
    RESP_WAITED,
    RESP_ERROR,
    RESP_INFO,
};

#define WIRE_MESSAGE_MAX   256 /* error messages are cut to this */
#define WIRE_INFO_TEXT_MAX 256 /* each Info string is cut to this */
/* No encoded response is longer than this (framed), whatever its strings. */
#define WIRE_RESPONSE_MAX 2048

struct response {
    uint64_t id;
    int clock_status; /* the wire's ClockStatus (numbered as enum cb_status) */
    enum resp_kind kind;
    union {
        struct {
            uint64_t first_ns;
            uint32_t count;
            uint64_t waited_ns;
            uint64_t bound_ns;
            uint64_t earliest_ns;
            uint64_t latest_ns;
        } ts;
        struct {
            uint64_t earliest_ns;
            uint64_t latest_ns;
        } bounds;
        bool answer; /* RESP_BEFORE, RESP_AFTER */
        uint64_t waited_ns;
        struct {
            enum wire_error code;
            bool retriable;
            const char *message; /* borrowed until the response is encoded */
        } error;
        struct {
            const char *version; /* borrowed until the response is encoded */
            const char *instance_id;
            const char *time_source;
            uint32_t max_drift_ppb;
            uint64_t max_wait_ns;
            uint32_t max_count;
        } info;
    } u;
};

/*
 * Unpacks one message (without its length prefix) into *out, allocating only from arena (reset
 * it after). Returns 0, or -EBADMSG when the bytes are not a Request (or the arena is too small
 * for them).
 */
int wire_decode_request(const uint8_t *msg, size_t len, struct arena *arena, struct request *out);

/*
 * Writes the response, length prefix first, into out (cap bytes; WIRE_RESPONSE_MAX always
 * suffices). Returns the number of bytes written, or -ENOBUFS when cap is too small.
 */
int wire_encode_response(const struct response *r, uint8_t *out, size_t cap);

/* Encodes a request (for clients and tests), length prefix first. Returns bytes or -ENOBUFS. */
int wire_encode_request(const struct request *r, uint8_t *out, size_t cap);

/* Decodes a response (for clients and tests) into *out; strings point into the arena. */
int wire_decode_response(const uint8_t *msg, size_t len, struct arena *arena, struct response *out);

#endif

/*
 * The ClockBound v1 socket protocol (AWS ClockBound's unix datagram protocol), pure: bytes in,
 * bytes out, the answer computed from a cb_now the caller took. All integers big-endian.
 *
 *   request:  version=1, type, 0, 0                      Now (type 1): exactly 4 bytes
 *             ... then ts: u64 ns since the epoch        Before (2), After (3): 12 bytes
 *   response: version=1, type (echoed), F, 0             F = 1 when not synchronised
 *             ... Now: earliest u64, latest u64 (20 bytes); Before/After: 1 byte, 1 = true (5)
 *   error:    version=1, 0, F, 0 (4 bytes): any malformed request, and every request while the
 *             clock is UNKNOWN or DISRUPTED
 *
 * Before(t) is true when t < earliest (t has certainly passed: Spanner's TT.after(t)); After(t)
 * when t > latest (t certainly has not come yet: TT.before(t)). The same rule as oracled's own
 * Before/After, over the same bound.
 */
#ifndef ORACLE_CBPROTO_H
#define ORACLE_CBPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "clockbound.h"

#define CBP_VERSION      1
#define CBP_HEADER_LEN   4
#define CBP_REQ_TS_LEN   12
#define CBP_RESPONSE_MAX 20

enum cbp_type {
    CBP_ERROR = 0,
    CBP_NOW = 1,
    CBP_BEFORE = 2,
    CBP_AFTER = 3,
};

struct cbp_request {
    enum cbp_type type;
    uint64_t ts_ns; /* Before and After */
};

/* Parses a datagram. Returns 0, or -EINVAL when it is not a well-formed v1 request (wrong
 * version, unknown type, wrong length). The two reserved bytes are ignored. */
int cbp_parse(const uint8_t *buf, size_t len, struct cbp_request *req);

/*
 * The response to req (NULL: the request was malformed) at now. Writes it to out and returns
 * its length (4, 5 or 20).
 */
size_t cbp_respond(const struct cbp_request *req, const struct cb_now *now,
                   uint8_t out[CBP_RESPONSE_MAX]);

#endif

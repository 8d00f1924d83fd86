/*
 * The ClockBound v1 socket protocol (AWS ClockBound's unix datagram protocol), pure: bytes in,
 * bytes out, the answer computed from a cb_now the caller took. All integers big-endian.
 *
 *   request:  V=1, T, 0, 0                              Now (T = 1): exactly 4 bytes
 *             ... then ts: u64 ns since the epoch        Before (2), After (3): exactly 12 bytes
 *   response: V=1, T, F, 0, then what the request's type byte (its byte 1) asks for:
 *             Now (1):           earliest u64, latest u64                        20 bytes
 *             Before/After (2/3): 1 byte, 1 = true; nothing if malformed        5 or 4 bytes
 *             anything else:      nothing                                        4 bytes
 *     T = the request's type when it is well-formed and the clock is trusted (SYNCHRONIZED or
 *         FREE_RUNNING); else 0 (error): every malformed request, every request while the clock
 *         is UNKNOWN or DISRUPTED.
 *     F = 1 unless the clock is SYNCHRONIZED (also in an error reply).
 *     earliest, latest (cbp_interval): rt -/+ the bound while it may be trusted, and while the
 *         status is not trusted but the bound still contains true time (cbp_bound_holds); else
 *         0 and 2^63 - 1, which contain every time there is (no bound: before the first chrony
 *         poll, after a step, on chrony data oracled refused). Never above 2^63 - 1.
 *     Before(ts) = ts < earliest, After(ts) = ts > latest, over that same interval.
 *
 * How the ClockBound daemon 0.1.x answers (aws/clock-bound, clock-bound-d 0.1.0 to 0.1.4,
 * src/response.rs build_response and src/server.rs handle_client; read for the facts only):
 *  - It reads each datagram into a zeroed 12-byte buffer (a longer one is cut to 12 bytes and
 *    counts as 12) and sends the header V=1, T, F, 0 with T = 0 (Error) when the request is
 *    malformed (version other than 1, type other than 1-3, length other than 4 or 12 for its
 *    type) or its last chrony poll failed (error_flag: no reply, or a reference time of 0 from a
 *    restarted chronyd); else the request's type. F = 1 when its last chrony report says "not
 *    synchronised" (leap status 3), in error replies too; it keeps the last report while polls
 *    fail.
 *  - The body goes by the request's byte 1, not by T: 1 (Now) always gets earliest and latest, 20
 *    bytes, even with T = 0 (the bound from its last report, the dispersion grown since; a
 *    malformed Now too); 2 and 3 get the answer byte only when T is not 0 (so 4 bytes with an
 *    error); any other type gets the header alone. Only one case sends a 4-byte Now: its last
 *    report's reference time is in the future (update_root_dispersion fails).
 *  - While chrony says "not synchronised" but answers, every reply is a normal one with F = 1
 *    (T = the type; Before/After 5 bytes). It binds its socket only once chrony has first been
 *    synchronised, so before that clients get ECONNREFUSED or ENOENT, not a reply.
 * Clients: go-clockboundc (shogo82148) rejects a Now reply of any length but 20 ("invalid
 * response length"); AWS clock-bound-c 0.1.1 reads a Now into a zeroed 20-byte buffer (a 4-byte
 * reply gave it earliest = latest = 0) and computes latest - (latest - earliest) / 2 in u64;
 * both read a Before/After reply into 5 bytes without looking at its length or T, and
 * go-clockboundc reads it into the buffer its request was in, so a 4-byte reply to a well-formed
 * Before/After would make it take the request's own byte 4 (the timestamp's top byte, not 0
 * after 1972) as the answer: true. So oracled answers every well-formed Before/After with 5
 * bytes, the answer byte sound.
 *
 * oracled differs only where that keeps answers sound: T = 0 for every untrusted status, not
 * only failed polls, with the interval above rather than a bound oracled does not stand behind;
 * F = 1 also while FREE_RUNNING or UNKNOWN for a reason other than chrony's leap status (the
 * daemon's F says only what chrony's leap status said); a longer datagram is malformed, not cut
 * to 12 bytes; a Before/After while untrusted gets 5 bytes (T = 0) where the daemon sent 4.
 */
#ifndef ORACLE_CBPROTO_H
#define ORACLE_CBPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clockbound.h"

#define CBP_VERSION      1
#define CBP_HEADER_LEN   4
#define CBP_REQ_TS_LEN   12
#define CBP_NOW_LEN      20
#define CBP_ANSWER_LEN   5
#define CBP_RESPONSE_MAX 20
/* The latest a reply ever says: the largest time an int64 of ns holds (2262-04-11). */
#define CBP_LATEST_MAX UINT64_C(0x7fffffffffffffff)

enum cbp_type {
    CBP_ERROR = 0,
    CBP_NOW = 1,
    CBP_BEFORE = 2,
    CBP_AFTER = 3,
};

struct cbp_request {
    enum cbp_type type; /* the type byte the request carries, CBP_ERROR when it names none */
    bool malformed;     /* the reply is an error (T = 0) */
    uint64_t ts_ns;     /* Before and After, well-formed */
};

/* Parses a datagram of len bytes (its whole length, however long: buf need hold only the first
 * min(len, CBP_REQ_TS_LEN) of them, as no longer request is well-formed). Fills req either way: its
 * type is byte 1 when that is 1, 2 or 3 (so the reply has the shape the ClockBound daemon gives
 * that type), else CBP_ERROR. Returns 0, or -EINVAL (req->malformed) when it is not a well-formed
 * v1 request: version other than 1, unknown type, length other than 4 (Now) or 12 (Before,
 * After). The two reserved bytes are ignored. */
int cbp_parse(const uint8_t *buf, size_t len, struct cbp_request *req);

/*
 * Whether now's bound still contains true time: always while its status is trusted; otherwise
 * only while oracled would trust it but for its grace period or its maximum bound (the status
 * is UNKNOWN because polls have failed for longer than the grace, or because the bound is wider
 * than --max-bound, and state st, where now came from, would otherwise be trusted: the chrony
 * data behind it accepted, no step, no leap window, no pending start-up update). After a step
 * (DISRUPTED) the bound does not include the step, and a bound from chrony data oracled refused
 * says nothing. st is only read (a copy is judged). Pure.
 */
bool cbp_bound_holds(const struct cb_state *st, const struct cb_now *now);

/*
 * The interval a reply states, in ns since the epoch, 0 <= *earliest <= *latest <=
 * CBP_LATEST_MAX: now's rt -/+ its bound (saturating) when bound_holds (cbp_bound_holds), else
 * [0, CBP_LATEST_MAX], which contains every time an int64 of ns can hold. Both ends below 2^63,
 * so latest - earliest and earliest + latest fit in an int64, and readers that convert to
 * signed ns (Go's time.Unix, Java) do not wrap.
 */
void cbp_interval(const struct cb_now *now, bool bound_holds, uint64_t *earliest, uint64_t *latest);

/* The response to req at now (bound_holds: cbp_bound_holds, read only while now's status is not
 * trusted). Writes it to out and returns its length: 20 for a request of type Now (well-formed
 * or not), 5 for a well-formed Before/After, else 4. */
size_t cbp_respond(const struct cbp_request *req, const struct cb_now *now, bool bound_holds,
                   uint8_t out[CBP_RESPONSE_MAX]);

#endif

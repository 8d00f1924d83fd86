/*
 * chrony command-and-monitoring (cmdmon) protocol, version 6: the tracking request and reply.
 *
 * A pure codec: no I/O, no clock reads. This module is the only place that knows chrony's wire
 * layout; everything else sees struct chrony_tracking. Written from the facts in DESIGN.md
 * section 4 and chrony's candm.h (read for facts only; chrony is GPL): all fields big-endian,
 * a 28-byte reply header, then the tracking report.
 */
#ifndef CLOCKBOUND_CHRONY_PROTO_H
#define CLOCKBOUND_CHRONY_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define CHRONY_PROTO_VERSION    6
#define CHRONY_PKT_TYPE_REQUEST 1
#define CHRONY_PKT_TYPE_REPLY   2
#define CHRONY_REQ_TRACKING     33
#define CHRONY_RPY_TRACKING     5
#define CHRONY_STT_SUCCESS      0
#define CHRONY_HEADER_LEN       28  /* reply header; an error reply is just this */
#define CHRONY_TRACKING_LEN     104 /* request (padded) and reply are both exactly this long */
#define CHRONY_REFID_LOCAL      0x7F7F0101u /* "LOCL": chrony's `local` fallback reference */
#define CHRONY_TV_NOHIGHSEC     0x7fffffffu /* tv_sec_high of a 32-bit timestamp */
#define CHRONY_MAX_STRATUM      16
#define CHRONY_REPLY_MAX_LEN    1024 /* receive buffer: longer datagrams are malformed */

/* Leap status as chrony reports it. */
enum chrony_leap {
    CHRONY_LEAP_NORMAL = 0,
    CHRONY_LEAP_INSERT = 1,
    CHRONY_LEAP_DELETE = 2,
    CHRONY_LEAP_UNSYNCHRONISED = 3,
};

/*
 * chrony's 32-bit float, kept exact: value = coef * 2^exp2 with coef a signed 25-bit integer and
 * exp2 = (signed 7-bit exponent) - 25, so coef in [-2^24, 2^24 - 1] and exp2 in [-89, 38]. The
 * format has no NaN or infinity (chrony encodes NaN as 0). chrony's encoder rounds, so the true
 * value is within a unit of coef (see bound.h for the conversions that round towards wider).
 */
struct chrony_float {
    int32_t coef;
    int32_t exp2;
};

/* Decodes a host-order 32-bit chrony float. Pure, total. */
struct chrony_float chrony_float_decode(uint32_t raw);
/* The float's value as a double, exact (25 significant bits fit in a double); for display. */
double chrony_float_to_double(struct chrony_float f);

/* A decoded, validated tracking report. Times are chrony's (NTP) timescale. */
struct chrony_tracking {
    uint32_t ref_id;      /* reference ID; CHRONY_REFID_LOCAL for the `local` fallback */
    uint16_t addr_family; /* 0 unspecified, 1 IPv4, 2 IPv6, 3 ID (candm IPADDR_*) */
    uint8_t addr[16];     /* source address: IPv4 in addr[0..3], IPv6 in addr[0..15] */
    uint16_t stratum;
    uint16_t leap;       /* enum chrony_leap */
    int64_t ref_time_ns; /* last reference update, ns since the epoch; 0 when none */
    struct chrony_float current_correction_s;   /* s; > 0: system clock slow of NTP time */
    struct chrony_float last_offset_s;          /* s */
    struct chrony_float rms_offset_s;           /* s, >= 0 */
    struct chrony_float freq_ppm;               /* ppm */
    struct chrony_float resid_freq_ppm;         /* ppm */
    struct chrony_float skew_ppm;               /* ppm, >= 0 */
    struct chrony_float root_delay_s;           /* s, >= 0 */
    struct chrony_float root_dispersion_s;      /* s, >= 0; grown by chrony up to the report time */
    struct chrony_float last_update_interval_s; /* s, >= 0 */
};

/* Sanity limits: a reply outside them is malformed, not merely a bad clock. */
#define CHRONY_MAX_ABS_SECONDS 1000.0 /* corrections, offsets, delay, dispersion */
#define CHRONY_MAX_ABS_PPM     1.0e6  /* frequency, residual frequency, skew */
#define CHRONY_MAX_INTERVAL_S  1.0e8  /* last update interval (chrony's maxpoll is 2^24 s) */

/*
 * Writes the 104-byte tracking request with the given sequence number and attempt counter into
 * buf. Returns the length written (CHRONY_TRACKING_LEN), or -ENOBUFS when len is too small.
 */
int chrony_encode_tracking_request(uint8_t *buf, size_t len, uint32_t sequence, uint16_t attempt);

/*
 * Decodes and validates a tracking reply of len bytes answering the request with sequence
 * expected_seq. On success returns 0 and fills *out. On failure returns a negative errno and sets
 * *why (if why is non-NULL) to a static sentence saying what was wrong:
 *   -EMSGSIZE         shorter than a header, or a success reply not exactly 104 bytes
 *   -EPROTONOSUPPORT  protocol version is not 6
 *   -EPROTO           packet type, reserved bytes, padding, command or reply type are wrong
 *   -ESTALE           sequence number differs (a late reply to an earlier request: ignore it)
 *   -EREMOTEIO        chrony answered with a non-success status (*why names it)
 *   -EBADMSG          a field is invalid: leap status, stratum, address family, nanoseconds,
 *                     or a float negative where it cannot be or absurdly large
 * Checks run in that order (header, status, length, payload); the first failure is reported.
 */
int chrony_decode_tracking_reply(const uint8_t *buf, size_t len, uint32_t expected_seq,
                                 struct chrony_tracking *out, const char **why);

/* A short name for a chrony status code ("unauthorised", "bad packet version", ...). */
const char *chrony_status_name(unsigned status);

#endif

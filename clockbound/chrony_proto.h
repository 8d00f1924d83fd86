/*
 * chrony command-and-monitoring (cmdmon) protocol, version 6: the tracking and NTPDATA requests
 * and replies, and the RESET_SOURCES and BURST commands with their null replies.
 *
 * A pure codec: no I/O, no clock reads. This module is the only place that knows chrony's wire
 * layout; everything else sees struct chrony_tracking and struct chrony_ntpdata. Written from the
 * facts in DESIGN.md section 4 and chrony's candm.h (read for facts only; chrony is GPL): all
 * fields big-endian, a 28-byte reply header, then the tracking report.
 *
 * NTPDATA (what chrony knows about one NTP source: its server's own reference ID, stratum, leap,
 * mode, ...), established from chrony 4.3's candm.h, pktlength.c and cmdmon.c and checked against
 * chronyd 4.3 on Debian 12 (`chronyc ntpdata`, and replies captured in tests/test_chrony_proto.c):
 *   - Command REQ_NTP_DATA = 57, reply type RPY_NTP_DATA = 16 (candm.h "Request codes", "Reply
 *     codes").
 *   - Request: the 20-byte request header (version 6, type 1, command @4, attempt @6, sequence
 *     @8, pad1/pad2 @12..19), then REQ_NTPData { IPAddr ip_addr } @20: candm's IPAddr is 16
 *     address bytes (IPv4 in the first 4, network order, the rest zero) @20, family u16 @36
 *     (IPADDR_INET4 1, IPADDR_INET6 2; addressing.h), _pad u16 @38, then EOR @40. pktlength.c's
 *     REQ_LENGTH_ENTRY(ntp_data, ntp_data) pads the request to the reply's length (protocol 6
 *     anti-amplification): 40 + 112 bytes of zeros = 152. chronyd answers a shorter request with
 *     a bare header, status STT_BADPKTLENGTH (19) (seen for 151, 104 and 40 bytes).
 *   - Reply: the 28-byte header, then RPY_NTPData (candm.h): remote_addr IPAddr @28 (family @44,
 *     pad @46), local_addr IPAddr @48 (family @64, pad @66), remote_port u16 @68, leap u8 @70,
 *     version u8 @71, mode u8 @72, stratum u8 @73, poll s8 @74, precision s8 @75, root_delay
 *     Float @76, root_dispersion Float @80, ref_id u32 @84, ref_time Timespec @88 (sec_high,
 *     sec_low, nsec), offset @100, peer_delay @104, peer_dispersion @108, response_time @112,
 *     jitter_asymmetry @116 (Floats), flags u16 @120, tx_tss_char u8 @122, rx_tss_char u8 @123,
 *     total_tx_count @124, total_rx_count @128, total_valid_count @132, total_good_count @136
 *     (u32), reserved[3] @140..151 (cmdmon.c handle_ntp_data sets them to 0xff), EOR @152: 152
 *     bytes. cmdmon.c zeroes the reply first; leap, version and mode are the 2- and 3-bit fields
 *     of the server's last valid packet (ntp_core.c), ref_id is that server's own reference ID
 *     (0x7F7F0101 "LOCL" when it serves its `local` clock), stratum its packet's raw stratum;
 *     peer_delay and response_time are fabs() values, jitter_asymmetry is clamped to +-0.5
 *     (sourcestats.c), flags hold the ten test bits (0x3ff) plus 0x4000 interleaved and 0x8000
 *     authenticated, the timestamping chars are 'D', 'K' or 'H' (0 before the first packet).
 *     The reply's remote_addr is the address asked about (ntp_sources.c NSR_GetNTPReport looks
 *     the source up by it; STT_NOSUCHSOURCE (4) when there is none).
 *   - Permission: cmdmon.c's permissions[] has NTP_DATA as PERMIT_AUTH, and PERMIT_AUTH commands
 *     are allowed only on the unix socket (read_from_cmd_socket). Over UDP, even from 127.0.0.1,
 *     chronyd answers a bare header with status STT_UNAUTH (2): `chronyc -h 127.0.0.1 ntpdata`
 *     prints "501 Not authorised", `chronyc -h /run/chrony/chronyd.sock ntpdata` works.
 *   - chrony 4.6 and later append four counters to the reply (172 bytes) and so need a 172-byte
 *     request; a 152-byte request gets STT_BADPKTLENGTH there. This codec is for 4.3 (Debian 12).
 *
 * RESET_SOURCES and BURST: what AWS ClockBound asks of chronyd after a clock disruption (a VM
 * live migration), so that chrony starts over: drop every sample of every source, then sample
 * them all again at once instead of at the next poll. Established from chrony 4.3's candm.h,
 * pktlength.c, cmdmon.c, sources.c, ntp_sources.c and ntp_core.c, and checked against chronyd
 * 4.3 on Debian 12 (replies captured in tests/test_chrony_proto.c; tests/it_chrony_reset.sh):
 *   - Commands REQ_RESET_SOURCES = 66 (chrony >= 4.0, `chronyc reset sources`) and REQ_BURST = 3
 *     (`chronyc burst 4/8`). Both are answered by a bare 28-byte header: reply type RPY_NULL = 1,
 *     the command echoed @4, the status @8 (cmdmon.c read_from_cmd_socket fills it in first and
 *     the handlers only change the status; pktlength.c gives RPY_NULL a length of 28).
 *   - RESET_SOURCES request: the 20-byte header and REQ_Null { EOR } @20, padded by pktlength.c
 *     REQ_LENGTH_ENTRY(null, null) to the reply's 28 bytes: header + 8 zero bytes = 28. chronyd
 *     drops anything shorter than a reply header without answering (read_from_cmd_socket: "an
 *     error reply would be larger than the request"; seen for 20 and 27 bytes) and accepts longer
 *     requests (seen for 29 and 104).
 *   - BURST request: the header, then REQ_Burst { IPAddr mask @20; IPAddr address @40; int32
 *     n_good_samples @60; int32 n_total_samples @64; EOR @68 } (IPAddr as for NTPDATA: 16 address
 *     bytes, family u16, pad u16). 68 bytes, longer than the 28-byte reply, so no padding
 *     (REQ_LENGTH_ENTRY(burst, null)). chronyd answers 28..67 bytes with STT_BADPKTLENGTH (19),
 *     even over UDP (the length is checked before the permission). mask and address of family
 *     IPADDR_UNSPEC (0) mean every source (ntp_sources.c NSR_InitiateSampleBurst: "address->family
 *     == IPADDR_UNSPEC"), which is what chronyc sends for a bare `burst 4/8` and ClockBound sends
 *     after a disruption, with 4 good and 8 total samples.
 *   - Statuses: STT_SUCCESS; STT_NOSUCHSOURCE (4) for a BURST when chronyd has no NTP source at
 *     all (seen from a `local stratum 1` server with no `server` line; chronyc: "503 No such
 *     source"); RESET_SOURCES always succeeds (a loop over the sources, none or many).
 *   - Permission: both are PERMIT_AUTH in cmdmon.c's permissions[]: allowed only on the unix
 *     socket. Over UDP, even from 127.0.0.1, chronyd answers STT_UNAUTH (2) and does nothing
 *     (`chronyc -h 127.0.0.1 reset sources`: "501 Not authorised"; the source's samples stay).
 *   - What chronyd does. RESET_SOURCES (cmdmon.c handle_reset_sources): every source's samples
 *     and reachability are dropped (sources.c SRC_ResetSources; `chronyc sourcestats` NP 0), and
 *     an unknown step is announced to the other modules without touching the clock
 *     (LCL_NotifyExternalTimeStep): the reference is forgotten (`chronyc tracking`: reference ID
 *     0, "Not synchronised") and each NTP source's state reset with its poll back at minpoll
 *     (ntp_sources.c slew_sources: NCR_ResetInstance, NCR_ResetPoll). The next sample still
 *     waits for the next poll: with minpoll 6, up to 64 s. BURST (ntp_core.c
 *     NCR_InitiateSampleBurst) makes each client-mode source send requests every min(2 s,
 *     poll / 4) until n_good good samples or n_total requests, whichever comes first; a burst
 *     already running (e.g. iburst) is not restarted, and symmetric peers are left alone.
 *     Measured: after RESET_SOURCES and BURST 4/8 on a minpoll 6 source, NP went 0, 1, 2, 3, 4
 *     at about 0, 2, 4, 6 s and stayed at 4.
 */
#ifndef CLOCKBOUND_CHRONY_PROTO_H
#define CLOCKBOUND_CHRONY_PROTO_H

#include <stdbool.h>
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
#define CHRONY_REQ_NTP_DATA     57
#define CHRONY_RPY_NTP_DATA     16
#define CHRONY_NTPDATA_LEN      152 /* request (padded) and reply are both exactly this long */
#define CHRONY_STT_UNAUTH       2 /* e.g. NTPDATA asked over UDP: allowed on the unix socket only */
#define CHRONY_STT_NOSUCHSOURCE 4
#define CHRONY_STT_BADPKTLENGTH 19
#define CHRONY_ADDR_UNSPEC      0 /* candm IPADDR_* */
#define CHRONY_ADDR_INET4       1
#define CHRONY_ADDR_INET6       2

/* RESET_SOURCES and BURST (candm.h), answered by a bare header of reply type RPY_NULL. */
#define CHRONY_REQ_BURST         3
#define CHRONY_REQ_RESET_SOURCES 66
#define CHRONY_RPY_NULL          1
#define CHRONY_NULL_REPLY_LEN    28 /* RPY_NULL: a bare header, whatever the status */
#define CHRONY_RESET_SOURCES_LEN 28 /* request: header + REQ_Null, padded to the reply's 28 */
#define CHRONY_BURST_LEN         68 /* request: header + REQ_Burst (longer than the reply) */
/* What AWS ClockBound asks for after a clock disruption; chrony's own iburst uses the same. */
#define CHRONY_BURST_GOOD_SAMPLES  4
#define CHRONY_BURST_TOTAL_SAMPLES 8

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

/*
 * A decoded, validated tracking report. Times are chrony's (NTP) timescale.
 *
 * NaN. chrony's encoder (util.c UTI_FloatHostToNetwork) writes a NaN, and anything below 1e-100,
 * as 0, and an infinity as the largest float; the limits below refuse the latter, but a 0 cannot
 * be told from a real 0. What a 0 that was a NaN would do, field by field:
 *  - current_correction: the slew term would be 0. Not detectable, and not expected: chrony
 *    computes it as the offset left minus rate x time, all finite.
 *  - root_delay, root_dispersion: the bound would lose its whole error estimate. A synchronised
 *    chrony's are sums of positive terms (a refclock's delay is at least 1e-9 s), so a 0 is
 *    refused: UNKNOWN, CB_REASON_ZERO_ERROR_TERM (clockbound.c judge_poll).
 *  - skew, resid_freq: chrony's claimed growth would look slower, so the top-up to the drift
 *    is larger: safe. The measured growth (dispersion.h) does not use them for its rate.
 *  - freq: the largest slew rate is computed from it (slew.h); it is taken as at least chrony's
 *    default maxdrift, 500 ppm, so a 0 cannot lower it.
 *  - last_update_interval: staleness comes sooner (8 x 0, floored at CB_STALE_MIN_NS): safe.
 *  - last_offset, rms_offset: not used by the bound (only to tell reference updates apart).
 */
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

/* NTPDATA flags (candm.h RPY_NTP_FLAG_*): the ten NTP test bits and two flags. */
#define CHRONY_NTP_FLAGS_TESTS        0x03ffu
#define CHRONY_NTP_FLAG_INTERLEAVED   0x4000u
#define CHRONY_NTP_FLAG_AUTHENTICATED 0x8000u
/* Sanity limits of an NTPDATA reply: root delay and dispersion come from the server's packet
 * (NTP short format, below 2^16 s); offsets and delays are differences of NTP timestamps. */
#define CHRONY_NTP_MAX_ROOT_SECONDS 65536.0
#define CHRONY_NTP_MAX_ABS_SECONDS  4294967296.0
#define CHRONY_NTP_MAX_ASYMMETRY    0.5 /* sourcestats.c MAX_ASYMMETRY */

/* A decoded, validated NTPDATA report: chrony's view of one NTP source and of the server behind
 * it, taken from that server's last valid packet. Times are on chrony's (NTP) timescale. */
struct chrony_ntpdata {
    uint16_t addr_family;  /* the source: CHRONY_ADDR_INET4 or CHRONY_ADDR_INET6 */
    uint8_t addr[16];      /* IPv4 in addr[0..3] (the rest zero), IPv6 in addr[0..15] */
    uint16_t local_family; /* chrony's own address for it: CHRONY_ADDR_UNSPEC, _INET4, _INET6 */
    uint8_t local_addr[16];
    uint16_t remote_port;
    uint8_t leap;        /* the server's leap indicator, enum chrony_leap (0..3) */
    uint8_t version;     /* NTP version of its packet (0..7) */
    uint8_t mode;        /* NTP mode of its packet (0..7; 4 = server) */
    uint8_t stratum;     /* its packet's stratum, as sent (0..255) */
    int8_t poll;         /* log2 s */
    int8_t precision;    /* log2 s */
    uint32_t ref_id;     /* the SERVER's reference ID: CHRONY_REFID_LOCAL when it serves its local
                          * clock (`local` directive), e.g. 0x47505300 "GPS" for a GPS refclock */
    int64_t ref_time_ns; /* the server's reference time, ns; 0 when none */
    struct chrony_float root_delay_s;      /* s, >= 0: the server's */
    struct chrony_float root_dispersion_s; /* s, >= 0: the server's */
    struct chrony_float offset_s;          /* s: the last sample's offset */
    struct chrony_float peer_delay_s;      /* s, >= 0 */
    struct chrony_float peer_dispersion_s; /* s, >= 0 */
    struct chrony_float response_time_s;   /* s, >= 0: the server's processing time */
    struct chrony_float jitter_asymmetry;  /* -0.5 .. 0.5 */
    uint16_t flags;                        /* CHRONY_NTP_FLAG* bits */
    uint8_t tx_tss_char;                   /* 'D' daemon, 'K' kernel, 'H' hardware, 0: none yet */
    uint8_t rx_tss_char;
    uint32_t total_tx_count;
    uint32_t total_rx_count;
    uint32_t total_valid_count;
    uint32_t total_good_count;
};

/*
 * Writes the 152-byte NTPDATA request for the source at (family, addr) with the given sequence
 * number and attempt counter into buf. addr holds 16 bytes; for IPv4 only addr[0..3] are read
 * (network order). Returns the length written (CHRONY_NTPDATA_LEN), -ENOBUFS when len is too
 * small, or -EAFNOSUPPORT when family is neither CHRONY_ADDR_INET4 nor CHRONY_ADDR_INET6.
 */
int chrony_encode_ntpdata_request(uint8_t *buf, size_t len, uint32_t sequence, uint16_t attempt,
                                  uint16_t family, const uint8_t *addr);

/*
 * Decodes and validates an NTPDATA reply of len bytes answering the request with sequence
 * expected_seq about the source (family, addr) (as given to chrony_encode_ntpdata_request).
 * Returns 0 and fills *out, or a negative errno with *why (if non-NULL) a static sentence:
 *   -EMSGSIZE         shorter than a header, or a success reply not exactly 152 bytes
 *   -EPROTONOSUPPORT  protocol version is not 6
 *   -EPROTO           packet type, reserved bytes, padding, command or reply type are wrong
 *   -ESTALE           sequence number differs (a late reply to an earlier request: ignore it)
 *   -EREMOTEIO        chronyd answered with a non-success status: *why names it ("unauthorised"
 *                     when asked over UDP, "no such source", "bad packet length")
 *   -EBADMSG          a field is invalid: an address family, address padding, a remote address
 *                     other than the one asked about, leap, version, mode, a float negative where
 *                     it cannot be or out of range, the reference time, flags, timestamping
 *                     characters, or reserved bytes other than chronyd's 0xff
 * Checks run in that order; the first failure is reported; *out is written only on success.
 */
int chrony_decode_ntpdata_reply(const uint8_t *buf, size_t len, uint32_t expected_seq,
                                uint16_t family, const uint8_t *addr, struct chrony_ntpdata *out,
                                const char **why);

/* Whether a datagram of len bytes is a reply to an NTPDATA request (its command field is 57),
 * to be decoded with chrony_decode_ntpdata_reply(); any other is for the tracking decoder. */
bool chrony_reply_is_ntpdata(const uint8_t *buf, size_t len);

/*
 * The command field of a datagram of len bytes (@4: the request it claims to answer, e.g.
 * CHRONY_REQ_TRACKING, CHRONY_REQ_NTP_DATA, CHRONY_REQ_RESET_SOURCES, CHRONY_REQ_BURST), so that
 * replies arriving on one socket go to the right decoder; -EMSGSIZE when it is shorter than 6
 * bytes. Nothing else is checked: the decoder does that.
 */
int chrony_reply_command(const uint8_t *buf, size_t len);

/*
 * Writes the 28-byte RESET_SOURCES request (drop all samples of all sources; chrony >= 4.0)
 * with the given sequence number and attempt counter into buf. Returns the length written
 * (CHRONY_RESET_SOURCES_LEN) or -ENOBUFS when len is too small.
 */
int chrony_encode_reset_sources_request(uint8_t *buf, size_t len, uint32_t sequence,
                                        uint16_t attempt);

/*
 * Writes the 68-byte BURST request for every source (mask and address unspecified) into buf:
 * chronyd then samples each source until n_good good samples or n_total requests, whichever
 * comes first (ClockBound: CHRONY_BURST_GOOD_SAMPLES, CHRONY_BURST_TOTAL_SAMPLES). Returns the
 * length written (CHRONY_BURST_LEN), -ENOBUFS when len is too small, or -EINVAL unless
 * 1 <= n_good <= n_total (chronyd takes any int32, but fewer than one good sample ends the burst
 * at the first reply, and more good than total samples is never reached).
 */
int chrony_encode_burst_request(uint8_t *buf, size_t len, uint32_t sequence, uint16_t attempt,
                                int32_t n_good, int32_t n_total);

/*
 * Decodes and validates the reply of len bytes to a RESET_SOURCES or BURST request (command,
 * CHRONY_REQ_RESET_SOURCES or CHRONY_REQ_BURST) with sequence expected_seq: a bare 28-byte
 * header, reply type RPY_NULL. Returns 0 when chronyd did what was asked, or a negative errno
 * with *why (if non-NULL) a static sentence:
 *   -EINVAL           command is neither of the two (the caller's mistake; nothing is read)
 *   -EMSGSIZE         shorter than a header, or a success reply not exactly 28 bytes
 *   -EPROTONOSUPPORT  protocol version is not 6
 *   -EPROTO           packet type, reserved bytes, padding or reply type are wrong, or the reply
 *                     echoes another command
 *   -ESTALE           sequence number differs (a late reply to an earlier request: ignore it)
 *   -EREMOTEIO        chronyd refused: *why names the status ("unauthorised" over UDP, "no such
 *                     source" for a BURST with no source, "bad packet length")
 * Checks run in that order (header, status, length, reply type), as for the tracking reply.
 */
int chrony_decode_null_reply(const uint8_t *buf, size_t len, uint16_t command,
                             uint32_t expected_seq, const char **why);

/* A short name for a chrony status code ("unauthorised", "bad packet version", ...). */
const char *chrony_status_name(unsigned status);

#endif

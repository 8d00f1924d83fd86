/* chrony cmdmon codec: tracking, NTPDATA, RESET_SOURCES, BURST (facts: chrony_proto.h). Pure. */
#include "chrony_proto.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* Reply header offsets (candm.h CMD_Reply). */
enum {
    OFF_VERSION = 0,
    OFF_PKT_TYPE = 1,
    OFF_RES1 = 2,
    OFF_RES2 = 3,
    OFF_COMMAND = 4,
    OFF_REPLY = 6,
    OFF_STATUS = 8,
    OFF_PAD1 = 10, /* pad1..pad3: u16 @10, @12, @14 */
    OFF_SEQUENCE = 16,
    OFF_PAD4 = 20, /* pad4, pad5: u32 @20, @24 */
    /* Tracking report (candm.h RPY_Tracking), after the 28-byte header. */
    OFF_REF_ID = 28,
    OFF_ADDR = 32, /* 16 address bytes, then family u16 @48, padding u16 @50 */
    OFF_FAMILY = 48,
    OFF_ADDR_PAD = 50,
    OFF_STRATUM = 52,
    OFF_LEAP = 54,
    OFF_REF_SEC_HIGH = 56,
    OFF_REF_SEC_LOW = 60,
    OFF_REF_NSEC = 64,
    OFF_CURRENT_CORRECTION = 68,
    OFF_LAST_OFFSET = 72,
    OFF_RMS_OFFSET = 76,
    OFF_FREQ = 80,
    OFF_RESID_FREQ = 84,
    OFF_SKEW = 88,
    OFF_ROOT_DELAY = 92,
    OFF_ROOT_DISPERSION = 96,
    OFF_LAST_UPDATE_INTERVAL = 100,
};

/* Request offsets (candm.h CMD_Request). */
enum {
    REQ_OFF_COMMAND = 4,
    REQ_OFF_ATTEMPT = 6,
    REQ_OFF_SEQUENCE = 8,
};

#define FLOAT_EXP_BITS  7
#define FLOAT_COEF_BITS 25

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | (unsigned)p[1]);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

struct chrony_float chrony_float_decode(uint32_t raw)
{
    /* Top 7 bits: two's-complement exponent; low 25 bits: two's-complement coefficient. */
    int32_t exp = (int32_t)(raw >> FLOAT_COEF_BITS);
    if (exp >= 1 << (FLOAT_EXP_BITS - 1)) {
        exp -= 1 << FLOAT_EXP_BITS;
    }
    int32_t coef = (int32_t)(raw & ((1u << FLOAT_COEF_BITS) - 1));
    if (coef >= 1 << (FLOAT_COEF_BITS - 1)) {
        coef -= 1 << FLOAT_COEF_BITS;
    }
    struct chrony_float f = {.coef = coef, .exp2 = exp - FLOAT_COEF_BITS};
    return f;
}

double chrony_float_to_double(struct chrony_float f)
{
    return ldexp((double)f.coef, f.exp2);
}

/* Zeroes len bytes of buf and writes a request header for command into them. */
static void put_request_header(uint8_t *buf, size_t len, uint16_t command, uint32_t sequence,
                               uint16_t attempt)
{
    memset(buf, 0, len);
    buf[0] = CHRONY_PROTO_VERSION;
    buf[1] = CHRONY_PKT_TYPE_REQUEST;
    put_u16(buf + REQ_OFF_COMMAND, command);
    put_u16(buf + REQ_OFF_ATTEMPT, attempt);
    put_u32(buf + REQ_OFF_SEQUENCE, sequence);
}

int chrony_encode_tracking_request(uint8_t *buf, size_t len, uint32_t sequence, uint16_t attempt)
{
    if (len < CHRONY_TRACKING_LEN) {
        return -ENOBUFS;
    }
    /* chrony answers only requests padded to the reply's length (anti-amplification), so the
     * request is the header followed by zeros up to 104 bytes. */
    put_request_header(buf, CHRONY_TRACKING_LEN, CHRONY_REQ_TRACKING, sequence, attempt);
    return CHRONY_TRACKING_LEN;
}

const char *chrony_status_name(unsigned status)
{
    /* candm.h STT_* */
    static const char *const names[] = {
        "success",
        "failed",
        "unauthorised",
        "invalid",
        "no such source",
        "invalid timestamp",
        "not enabled",
        "bad subnet",
        "access allowed",
        "access denied",
        "no host access",
        "source already known",
        "too many sources",
        "no RTC",
        "bad RTC file",
        "inactive",
        "bad sample",
        "invalid address family",
        "bad packet version",
        "bad packet length",
        "(unused)",
        "invalid name",
    };
    if (status < sizeof(names) / sizeof(names[0])) {
        return names[status];
    }
    return "unknown status";
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0) {
            return 0;
        }
    }
    return 1;
}

static int fail(const char **why, const char *msg, int err)
{
    if (why != NULL) {
        *why = msg;
    }
    return err;
}

/* Checks a float field: |value| <= max_abs, and value >= 0 when nonneg is set. */
static int check_float(struct chrony_float f, int nonneg, double max_abs)
{
    if (nonneg && f.coef < 0) {
        return 0;
    }
    return fabs(chrony_float_to_double(f)) <= max_abs;
}

/* A chrony float field of a reply: where it is, where it goes, what it may be. */
struct float_field {
    size_t off;   /* in the reply */
    size_t field; /* offsetof in the decoded struct */
    int nonneg;
    double max_abs;
    const char *name; /* the sentence when it is wrong */
};

/* Decodes and checks n float fields of buf into the struct at out. Returns 0, or -EBADMSG with
 * *why the bad field's sentence. */
static int decode_floats(const uint8_t *buf, const struct float_field *fields, size_t n, void *out,
                         const char **why)
{
    for (size_t i = 0; i < n; i++) {
        struct chrony_float f = chrony_float_decode(get_u32(buf + fields[i].off));
        if (!check_float(f, fields[i].nonneg, fields[i].max_abs)) {
            return fail(why, fields[i].name, -EBADMSG);
        }
        memcpy((char *)out + fields[i].field, &f, sizeof(f));
    }
    return 0;
}

/* What a reply header must say for one command, and how to say that it does not. */
struct reply_kind {
    uint16_t command;
    uint16_t reply_type;
    size_t len;
    const char *wrong_command;
    const char *wrong_len;
    const char *wrong_type;
};

static const struct reply_kind tracking_kind = {
    CHRONY_REQ_TRACKING,
    CHRONY_RPY_TRACKING,
    CHRONY_TRACKING_LEN,
    "reply is for a command other than tracking",
    "tracking reply is not 104 bytes long",
    "reply type is not a tracking report",
};

static const struct reply_kind ntpdata_kind = {
    CHRONY_REQ_NTP_DATA,
    CHRONY_RPY_NTP_DATA,
    CHRONY_NTPDATA_LEN,
    "reply is for a command other than NTPDATA",
    "NTPDATA reply is not 152 bytes long",
    "reply type is not an NTPDATA report",
};

/* Checks the 28-byte header, the status and the length of a reply of kind k. */
static int check_header(const uint8_t *buf, size_t len, uint32_t expected_seq,
                        const struct reply_kind *k, const char **why)
{
    if (len < CHRONY_HEADER_LEN) {
        return fail(why, "reply is shorter than a chrony reply header", -EMSGSIZE);
    }
    if (buf[OFF_VERSION] != CHRONY_PROTO_VERSION) {
        return fail(why, "reply has protocol version other than 6", -EPROTONOSUPPORT);
    }
    if (buf[OFF_PKT_TYPE] != CHRONY_PKT_TYPE_REPLY) {
        return fail(why, "packet is not a reply", -EPROTO);
    }
    if (buf[OFF_RES1] != 0 || buf[OFF_RES2] != 0) {
        return fail(why, "reply has nonzero reserved bytes", -EPROTO);
    }
    /* chronyd zeroes the whole reply before filling it in. */
    if (!all_zero(buf + OFF_PAD1, 6) || !all_zero(buf + OFF_PAD4, 8)) {
        return fail(why, "reply has nonzero padding", -EPROTO);
    }
    if (get_u16(buf + OFF_COMMAND) != k->command) {
        return fail(why, k->wrong_command, -EPROTO);
    }
    if (get_u32(buf + OFF_SEQUENCE) != expected_seq) {
        return fail(why, "reply sequence number does not match the request", -ESTALE);
    }
    /* An error reply is a bare header (reply type RPY_NULL), so the status is checked before
     * the length and reply type: "unauthorised" says more than "28 bytes". */
    unsigned status = get_u16(buf + OFF_STATUS);
    if (status != CHRONY_STT_SUCCESS) {
        return fail(why, chrony_status_name(status), -EREMOTEIO);
    }
    if (len != k->len) {
        return fail(why, k->wrong_len, -EMSGSIZE);
    }
    if (get_u16(buf + OFF_REPLY) != k->reply_type) {
        return fail(why, k->wrong_type, -EPROTO);
    }
    return 0;
}

/* Decodes a Timespec (candm.h) at p into ns since the epoch. Returns 0 or -EBADMSG. */
static int get_timespec(const uint8_t *p, int64_t *out_ns, const char **why)
{
    uint32_t sec_high = get_u32(p);
    uint32_t sec_low = get_u32(p + 4);
    uint32_t nsec = get_u32(p + 8);
    if (sec_high == CHRONY_TV_NOHIGHSEC) {
        sec_high = 0;
    }
    uint64_t sec = (uint64_t)sec_high << 32 | sec_low;
    if (nsec > 999999999u) {
        return fail(why, "reference time nanoseconds out of range", -EBADMSG);
    }
    if (sec > (uint64_t)(INT64_MAX / 1000000000) - 1) {
        return fail(why, "reference time out of range", -EBADMSG);
    }
    *out_ns = (int64_t)sec * 1000000000 + (int64_t)nsec;
    return 0;
}

int chrony_decode_tracking_reply(const uint8_t *buf, size_t len, uint32_t expected_seq,
                                 struct chrony_tracking *out, const char **why)
{
    int rc = check_header(buf, len, expected_seq, &tracking_kind, why);
    if (rc < 0) {
        return rc;
    }

    struct chrony_tracking t;
    memset(&t, 0, sizeof(t));
    t.ref_id = get_u32(buf + OFF_REF_ID);
    memcpy(t.addr, buf + OFF_ADDR, sizeof(t.addr));
    t.addr_family = get_u16(buf + OFF_FAMILY);
    if (t.addr_family > 3 || !all_zero(buf + OFF_ADDR_PAD, 2)) {
        return fail(why, "reference address family is invalid", -EBADMSG);
    }
    t.stratum = get_u16(buf + OFF_STRATUM);
    if (t.stratum > CHRONY_MAX_STRATUM) {
        return fail(why, "stratum is above 16", -EBADMSG);
    }
    t.leap = get_u16(buf + OFF_LEAP);
    if (t.leap > CHRONY_LEAP_UNSYNCHRONISED) {
        return fail(why, "leap status is invalid", -EBADMSG);
    }

    rc = get_timespec(buf + OFF_REF_SEC_HIGH, &t.ref_time_ns, why);
    if (rc < 0) {
        return rc;
    }

    static const struct float_field floats[] = {
#define F(o, m, nn, max, what) \
    {o, offsetof(struct chrony_tracking, m), nn, max, what " is negative or out of range"}
        F(OFF_CURRENT_CORRECTION, current_correction_s, 0, CHRONY_MAX_ABS_SECONDS, "correction"),
        F(OFF_LAST_OFFSET, last_offset_s, 0, CHRONY_MAX_ABS_SECONDS, "last offset"),
        F(OFF_RMS_OFFSET, rms_offset_s, 1, CHRONY_MAX_ABS_SECONDS, "RMS offset"),
        F(OFF_FREQ, freq_ppm, 0, CHRONY_MAX_ABS_PPM, "frequency"),
        F(OFF_RESID_FREQ, resid_freq_ppm, 0, CHRONY_MAX_ABS_PPM, "residual frequency"),
        F(OFF_SKEW, skew_ppm, 1, CHRONY_MAX_ABS_PPM, "skew"),
        F(OFF_ROOT_DELAY, root_delay_s, 1, CHRONY_MAX_ABS_SECONDS, "root delay"),
        F(OFF_ROOT_DISPERSION, root_dispersion_s, 1, CHRONY_MAX_ABS_SECONDS, "root dispersion"),
        F(OFF_LAST_UPDATE_INTERVAL, last_update_interval_s, 1, CHRONY_MAX_INTERVAL_S,
          "update interval"),
#undef F
    };
    rc = decode_floats(buf, floats, sizeof(floats) / sizeof(floats[0]), &t, why);
    if (rc < 0) {
        return rc;
    }

    *out = t;
    return 0;
}

/* --- NTPDATA (facts and references: chrony_proto.h) --- */

/* NTPDATA request offsets (candm.h CMD_Request, REQ_NTPData). */
enum {
    NDQ_OFF_ADDR = 20, /* IPAddr: 16 address bytes */
    NDQ_OFF_FAMILY = 36,
};

/* NTPDATA reply offsets (candm.h RPY_NTPData, after the 28-byte header). */
enum {
    ND_OFF_REMOTE_ADDR = 28, /* IPAddr: address @28, family @44, padding @46 */
    ND_OFF_LOCAL_ADDR = 48,  /* IPAddr: address @48, family @64, padding @66 */
    ND_OFF_REMOTE_PORT = 68,
    ND_OFF_LEAP = 70,
    ND_OFF_VERSION = 71,
    ND_OFF_MODE = 72,
    ND_OFF_STRATUM = 73,
    ND_OFF_POLL = 74,
    ND_OFF_PRECISION = 75,
    ND_OFF_ROOT_DELAY = 76,
    ND_OFF_ROOT_DISPERSION = 80,
    ND_OFF_REF_ID = 84,
    ND_OFF_REF_TIME = 88,
    ND_OFF_OFFSET = 100,
    ND_OFF_PEER_DELAY = 104,
    ND_OFF_PEER_DISPERSION = 108,
    ND_OFF_RESPONSE_TIME = 112,
    ND_OFF_JITTER_ASYMMETRY = 116,
    ND_OFF_FLAGS = 120,
    ND_OFF_TX_TSS = 122,
    ND_OFF_RX_TSS = 123,
    ND_OFF_TOTAL_TX = 124,
    ND_OFF_TOTAL_RX = 128,
    ND_OFF_TOTAL_VALID = 132,
    ND_OFF_TOTAL_GOOD = 136,
    ND_OFF_RESERVED = 140, /* 3 x u32, 0xffffffff each */
};

#define IPADDR_FAMILY_OFF 16 /* candm IPAddr: 16 address bytes, family u16, padding u16 */
#define NTP_LEAP_MAX      3  /* 2-bit field */
#define NTP_VERSION_MAX   7  /* 3-bit fields */
#define NTP_MODE_MAX      7

/* How many of an address's 16 bytes carry it: 4 for IPv4, 16 for IPv6, 0 otherwise. */
static size_t addr_len(uint16_t family)
{
    switch (family) {
    case CHRONY_ADDR_INET4:
        return 4;
    case CHRONY_ADDR_INET6:
        return 16;
    default:
        return 0;
    }
}

int chrony_encode_ntpdata_request(uint8_t *buf, size_t len, uint32_t sequence, uint16_t attempt,
                                  uint16_t family, const uint8_t *addr)
{
    size_t n = addr_len(family);
    if (n == 0) {
        return -EAFNOSUPPORT;
    }
    if (len < CHRONY_NTPDATA_LEN) {
        return -ENOBUFS;
    }
    /* The request is padded with zeros to the reply's 152 bytes (pktlength.c). */
    put_request_header(buf, CHRONY_NTPDATA_LEN, CHRONY_REQ_NTP_DATA, sequence, attempt);
    memcpy(buf + NDQ_OFF_ADDR, addr, n);
    put_u16(buf + NDQ_OFF_FAMILY, family);
    return CHRONY_NTPDATA_LEN;
}

bool chrony_reply_is_ntpdata(const uint8_t *buf, size_t len)
{
    return chrony_reply_command(buf, len) == CHRONY_REQ_NTP_DATA;
}

/* Reads a candm IPAddr at p whose family must be in [min_family, CHRONY_ADDR_INET6]: the
 * address bytes it does not use and its padding must be zero (UTI_IPHostToNetwork zeroes
 * them). Returns false when it is malformed. */
static bool get_ipaddr(const uint8_t *p, uint16_t min_family, uint16_t *family, uint8_t *addr)
{
    uint16_t f = get_u16(p + IPADDR_FAMILY_OFF);
    if (f < min_family || f > CHRONY_ADDR_INET6) {
        return false;
    }
    size_t n = addr_len(f);
    if (!all_zero(p + n, 16 - n) || !all_zero(p + IPADDR_FAMILY_OFF + 2, 2)) {
        return false;
    }
    *family = f;
    memcpy(addr, p, 16);
    return true;
}

int chrony_decode_ntpdata_reply(const uint8_t *buf, size_t len, uint32_t expected_seq,
                                uint16_t family, const uint8_t *addr, struct chrony_ntpdata *out,
                                const char **why)
{
    int rc = check_header(buf, len, expected_seq, &ntpdata_kind, why);
    if (rc < 0) {
        return rc;
    }
    struct chrony_ntpdata d;
    memset(&d, 0, sizeof(d));
    if (!get_ipaddr(buf + ND_OFF_REMOTE_ADDR, CHRONY_ADDR_INET4, &d.addr_family, d.addr)) {
        return fail(why, "NTPDATA remote address is malformed", -EBADMSG);
    }
    size_t n = addr_len(family);
    if (d.addr_family != family || n == 0 || memcmp(d.addr, addr, n) != 0) {
        return fail(why, "NTPDATA reply is about another address than the one asked about",
                    -EBADMSG);
    }
    if (!get_ipaddr(buf + ND_OFF_LOCAL_ADDR, CHRONY_ADDR_UNSPEC, &d.local_family, d.local_addr)) {
        return fail(why, "NTPDATA local address is malformed", -EBADMSG);
    }
    d.remote_port = get_u16(buf + ND_OFF_REMOTE_PORT);
    d.leap = buf[ND_OFF_LEAP];
    d.version = buf[ND_OFF_VERSION];
    d.mode = buf[ND_OFF_MODE];
    d.stratum = buf[ND_OFF_STRATUM]; /* the packet's raw stratum: every value can be sent */
    if (d.leap > NTP_LEAP_MAX || d.version > NTP_VERSION_MAX || d.mode > NTP_MODE_MAX) {
        return fail(why, "NTPDATA leap, version or mode is out of range", -EBADMSG);
    }
    d.poll = (int8_t)buf[ND_OFF_POLL];
    d.precision = (int8_t)buf[ND_OFF_PRECISION];
    d.ref_id = get_u32(buf + ND_OFF_REF_ID);

    static const struct float_field floats[] = {
#define F(o, m, nn, max, what) \
    {o, offsetof(struct chrony_ntpdata, m), nn, max, "NTPDATA " what " is negative or out of range"}
        F(ND_OFF_ROOT_DELAY, root_delay_s, 1, CHRONY_NTP_MAX_ROOT_SECONDS, "root delay"),
        F(ND_OFF_ROOT_DISPERSION, root_dispersion_s, 1, CHRONY_NTP_MAX_ROOT_SECONDS,
          "root dispersion"),
        F(ND_OFF_OFFSET, offset_s, 0, CHRONY_NTP_MAX_ABS_SECONDS, "offset"),
        F(ND_OFF_PEER_DELAY, peer_delay_s, 1, CHRONY_NTP_MAX_ABS_SECONDS, "peer delay"),
        F(ND_OFF_PEER_DISPERSION, peer_dispersion_s, 1, CHRONY_NTP_MAX_ABS_SECONDS,
          "peer dispersion"),
        F(ND_OFF_RESPONSE_TIME, response_time_s, 1, CHRONY_NTP_MAX_ABS_SECONDS, "response time"),
        F(ND_OFF_JITTER_ASYMMETRY, jitter_asymmetry, 0, CHRONY_NTP_MAX_ASYMMETRY,
          "jitter asymmetry"),
#undef F
    };
    rc = decode_floats(buf, floats, sizeof(floats) / sizeof(floats[0]), &d, why);
    if (rc < 0) {
        return rc;
    }
    rc = get_timespec(buf + ND_OFF_REF_TIME, &d.ref_time_ns, why);
    if (rc < 0) {
        return rc;
    }
    d.flags = get_u16(buf + ND_OFF_FLAGS);
    if ((d.flags & ~(CHRONY_NTP_FLAGS_TESTS | CHRONY_NTP_FLAG_INTERLEAVED |
                     CHRONY_NTP_FLAG_AUTHENTICATED)) != 0) {
        return fail(why, "NTPDATA flags has unknown bits", -EBADMSG);
    }
    d.tx_tss_char = buf[ND_OFF_TX_TSS];
    d.rx_tss_char = buf[ND_OFF_RX_TSS];
    static const char tss_chars[] = {'\0', 'D', 'K', 'H'};
    if (memchr(tss_chars, d.tx_tss_char, sizeof(tss_chars)) == NULL ||
        memchr(tss_chars, d.rx_tss_char, sizeof(tss_chars)) == NULL) {
        return fail(why, "NTPDATA timestamping source is not D, K or H", -EBADMSG);
    }
    d.total_tx_count = get_u32(buf + ND_OFF_TOTAL_TX);
    d.total_rx_count = get_u32(buf + ND_OFF_TOTAL_RX);
    d.total_valid_count = get_u32(buf + ND_OFF_TOTAL_VALID);
    d.total_good_count = get_u32(buf + ND_OFF_TOTAL_GOOD);
    for (size_t i = 0; i < 12; i++) {
        if (buf[ND_OFF_RESERVED + i] != 0xff) {
            return fail(why, "NTPDATA reserved bytes are not chronyd's 0xff", -EBADMSG);
        }
    }
    *out = d;
    return 0;
}

/* --- RESET_SOURCES and BURST (facts and references: chrony_proto.h) --- */

/* BURST request offsets (candm.h REQ_Burst). */
enum {
    BQ_OFF_MASK = 20,    /* IPAddr: 16 bytes, family u16 @36, pad u16 @38 */
    BQ_OFF_ADDRESS = 40, /* IPAddr: 16 bytes, family u16 @56, pad u16 @58 */
    BQ_OFF_N_GOOD = 60,
    BQ_OFF_N_TOTAL = 64,
};

int chrony_reply_command(const uint8_t *buf, size_t len)
{
    if (len < OFF_COMMAND + 2) {
        return -EMSGSIZE;
    }
    return get_u16(buf + OFF_COMMAND);
}

int chrony_encode_reset_sources_request(uint8_t *buf, size_t len, uint32_t sequence,
                                        uint16_t attempt)
{
    if (len < CHRONY_RESET_SOURCES_LEN) {
        return -ENOBUFS;
    }
    /* A header and 8 zero bytes: padded to the reply's length (pktlength.c), and chronyd drops
     * anything shorter than its reply header unanswered. */
    put_request_header(buf, CHRONY_RESET_SOURCES_LEN, CHRONY_REQ_RESET_SOURCES, sequence, attempt);
    return CHRONY_RESET_SOURCES_LEN;
}

int chrony_encode_burst_request(uint8_t *buf, size_t len, uint32_t sequence, uint16_t attempt,
                                int32_t n_good, int32_t n_total)
{
    if (n_good < 1 || n_total < n_good) {
        return -EINVAL;
    }
    if (len < CHRONY_BURST_LEN) {
        return -ENOBUFS;
    }
    /* mask and address stay all zero: family IPADDR_UNSPEC, every source. The counts are
     * int32 in network order (chronyd reads them with ntohl). */
    put_request_header(buf, CHRONY_BURST_LEN, CHRONY_REQ_BURST, sequence, attempt);
    put_u32(buf + BQ_OFF_N_GOOD, (uint32_t)n_good);
    put_u32(buf + BQ_OFF_N_TOTAL, (uint32_t)n_total);
    return CHRONY_BURST_LEN;
}

static const struct reply_kind reset_sources_kind = {
    CHRONY_REQ_RESET_SOURCES,
    CHRONY_RPY_NULL,
    CHRONY_NULL_REPLY_LEN,
    "reply is for a command other than RESET_SOURCES",
    "RESET_SOURCES reply is not 28 bytes long",
    "RESET_SOURCES reply type is not RPY_NULL",
};

static const struct reply_kind burst_kind = {
    CHRONY_REQ_BURST,
    CHRONY_RPY_NULL,
    CHRONY_NULL_REPLY_LEN,
    "reply is for a command other than BURST",
    "BURST reply is not 28 bytes long",
    "BURST reply type is not RPY_NULL",
};

int chrony_decode_null_reply(const uint8_t *buf, size_t len, uint16_t command,
                             uint32_t expected_seq, const char **why)
{
    const struct reply_kind *k = NULL;
    switch (command) {
    case CHRONY_REQ_RESET_SOURCES:
        k = &reset_sources_kind;
        break;
    case CHRONY_REQ_BURST:
        k = &burst_kind;
        break;
    default:
        return fail(why, "not a command answered by a null reply", -EINVAL);
    }
    return check_header(buf, len, expected_seq, k, why);
}

/* chrony cmdmon tracking codec (see chrony_proto.h). Pure. */
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

int chrony_encode_tracking_request(uint8_t *buf, size_t len, uint32_t sequence, uint16_t attempt)
{
    if (len < CHRONY_TRACKING_LEN) {
        return -ENOBUFS;
    }
    /* chrony answers only requests padded to the reply's length (anti-amplification), so the
     * request is the header followed by zeros up to 104 bytes. */
    memset(buf, 0, CHRONY_TRACKING_LEN);
    buf[0] = CHRONY_PROTO_VERSION;
    buf[1] = CHRONY_PKT_TYPE_REQUEST;
    put_u16(buf + REQ_OFF_COMMAND, CHRONY_REQ_TRACKING);
    put_u16(buf + REQ_OFF_ATTEMPT, attempt);
    put_u32(buf + REQ_OFF_SEQUENCE, sequence);
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

int chrony_decode_tracking_reply(const uint8_t *buf, size_t len, uint32_t expected_seq,
                                 struct chrony_tracking *out, const char **why)
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
    if (get_u16(buf + OFF_COMMAND) != CHRONY_REQ_TRACKING) {
        return fail(why, "reply is for a command other than tracking", -EPROTO);
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
    if (len != CHRONY_TRACKING_LEN) {
        return fail(why, "tracking reply is not 104 bytes long", -EMSGSIZE);
    }
    if (get_u16(buf + OFF_REPLY) != CHRONY_RPY_TRACKING) {
        return fail(why, "reply type is not a tracking report", -EPROTO);
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

    uint32_t sec_high = get_u32(buf + OFF_REF_SEC_HIGH);
    uint32_t sec_low = get_u32(buf + OFF_REF_SEC_LOW);
    uint32_t nsec = get_u32(buf + OFF_REF_NSEC);
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
    t.ref_time_ns = (int64_t)sec * 1000000000 + (int64_t)nsec;

    static const struct {
        size_t off;
        size_t field;
        int nonneg;
        double max_abs;
        const char *name;
    } floats[] = {
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
    for (size_t i = 0; i < sizeof(floats) / sizeof(floats[0]); i++) {
        struct chrony_float f = chrony_float_decode(get_u32(buf + floats[i].off));
        if (!check_float(f, floats[i].nonneg, floats[i].max_abs)) {
            return fail(why, floats[i].name, -EBADMSG);
        }
        memcpy((char *)&t + floats[i].field, &f, sizeof(f));
    }

    *out = t;
    return 0;
}

/* The ClockBound v1 socket protocol (see cbproto.h). */
#include "cbproto.h"

#include <errno.h>
#include <string.h>

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

int cbp_parse(const uint8_t *buf, size_t len, struct cbp_request *req)
{
    /* Bytes 2 and 3 are reserved: clients send 0; they are ignored, so a client that fills them
     * is still answered. */
    if (len < CBP_HEADER_LEN || buf[0] != CBP_VERSION) {
        return -EINVAL;
    }
    switch (buf[1]) {
    case CBP_NOW:
        if (len != CBP_HEADER_LEN) {
            return -EINVAL;
        }
        req->type = CBP_NOW;
        req->ts_ns = 0;
        return 0;
    case CBP_BEFORE:
    case CBP_AFTER:
        if (len != CBP_REQ_TS_LEN) {
            return -EINVAL;
        }
        req->type = (enum cbp_type)buf[1];
        req->ts_ns = get_be64(buf + CBP_HEADER_LEN);
        return 0;
    default:
        return -EINVAL;
    }
}

static size_t header(uint8_t *out, enum cbp_type type, const struct cb_now *now)
{
    out[0] = CBP_VERSION;
    out[1] = (uint8_t)type;
    out[2] = now->status != CB_STATUS_SYNCHRONIZED;
    out[3] = 0;
    return CBP_HEADER_LEN;
}

/* Before/After for any u64: at or beyond 2^63 ns (the year 2262) a time has certainly not come,
 * which cb_before/cb_after (int64 timestamps) leave as an error. */
static uint8_t answer(enum cbp_type type, const struct cb_now *now, uint64_t ts_ns)
{
    if (ts_ns > (uint64_t)INT64_MAX) {
        return type == CBP_AFTER;
    }
    int rc = type == CBP_BEFORE ? cb_before(now, ts_ns) : cb_after(now, ts_ns);
    return rc == 1;
}

size_t cbp_respond(const struct cbp_request *req, const struct cb_now *now,
                   uint8_t out[CBP_RESPONSE_MAX])
{
    if (req == NULL || !cb_status_trusted(now->status)) {
        return header(out, CBP_ERROR, now);
    }
    size_t n = header(out, req->type, now);
    if (req->type == CBP_NOW) {
        put_be64(out + n, now->earliest_ns < 0 ? 0 : (uint64_t)now->earliest_ns);
        put_be64(out + n + 8, (uint64_t)now->latest_ns);
        return n + 16;
    }
    out[n] = answer(req->type, now, req->ts_ns);
    return n + 1;
}

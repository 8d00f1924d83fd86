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
    req->type = CBP_ERROR;
    req->malformed = true;
    req->ts_ns = 0;
    /* The reply's shape goes by byte 1 whatever else is wrong, as the ClockBound daemon's does:
     * a client that asked for a Now reads 20 bytes. */
    if (len >= 2 && buf[1] >= CBP_NOW && buf[1] <= CBP_AFTER) {
        req->type = (enum cbp_type)buf[1];
    }
    /* Bytes 2 and 3 are reserved: clients send 0; they are ignored, so a client that fills them
     * is still answered. */
    if (len < CBP_HEADER_LEN || buf[0] != CBP_VERSION || req->type == CBP_ERROR) {
        return -EINVAL;
    }
    size_t want = req->type == CBP_NOW ? CBP_HEADER_LEN : CBP_REQ_TS_LEN;
    if (len != want) {
        return -EINVAL;
    }
    if (req->type != CBP_NOW) {
        req->ts_ns = get_be64(buf + CBP_HEADER_LEN);
    }
    req->malformed = false;
    return 0;
}

bool cbp_bound_holds(const struct cb_state *st, const struct cb_now *now)
{
    if (cb_status_trusted(now->status)) {
        return true;
    }
    if (now->status != CB_STATUS_UNKNOWN || !st->have_poll ||
        (now->reason != CB_REASON_POLLS_FAILED && now->reason != CB_REASON_BOUND_TOO_WIDE)) {
        return false;
    }
    /* The status machine judges the failed polls before the data behind the bound and the
     * bound's width last: ask it again as if the polls had not failed. Trusted then, or refused
     * only for its width, and the bound is the one oracled would serve (the same state, the same
     * reading, the same bound). Only the reading's clocks are given, taken as exact (rt_hi =
     * rt): if anything, that shows the step detector a step the real reading did not, which
     * answers false; whatever else the real reading carried, cb_now has judged on the real
     * state already (a disruption it showed is DISRUPTED, answered above). */
    struct cb_state again = *st;
    again.failing = false;
    struct cb_reading r = {.rt_ns = now->rt_ns, .mono_ns = now->mono_ns, .rt_hi_ns = now->rt_ns};
    struct cb_now n;
    cb_now(&again, &r, &n);
    return cb_status_trusted(n.status) ||
           (n.status == CB_STATUS_UNKNOWN && n.reason == CB_REASON_BOUND_TOO_WIDE);
}

void cbp_interval(const struct cb_now *now, bool bound_holds, uint64_t *earliest, uint64_t *latest)
{
    if (!bound_holds || now->bound_ns < 0) {
        *earliest = 0;
        *latest = CBP_LATEST_MAX;
        return;
    }
    /* cb_now saturates both at the int64 range; an earliest before 1970 is 1970. */
    *earliest = now->earliest_ns < 0 ? 0 : (uint64_t)now->earliest_ns;
    *latest = now->latest_ns < 0 ? 0 : (uint64_t)now->latest_ns;
}

size_t cbp_respond(const struct cbp_request *req, const struct cb_now *now, bool bound_holds,
                   uint8_t out[CBP_RESPONSE_MAX])
{
    bool trusted = cb_status_trusted(now->status);
    out[0] = CBP_VERSION;
    out[1] = (uint8_t)(req->malformed || !trusted ? CBP_ERROR : req->type);
    out[2] = now->status != CB_STATUS_SYNCHRONIZED;
    out[3] = 0;
    uint64_t earliest, latest;
    cbp_interval(now, bound_holds || trusted, &earliest, &latest);
    switch (req->type) {
    case CBP_NOW:
        put_be64(out + CBP_HEADER_LEN, earliest);
        put_be64(out + CBP_HEADER_LEN + 8, latest);
        return CBP_NOW_LEN;
    case CBP_BEFORE:
    case CBP_AFTER:
        if (req->malformed) {
            return CBP_HEADER_LEN;
        }
        /* Over the interval: ts < earliest has certainly passed, ts > latest certainly not
         * come (a ts at or past 2^63 included: latest is below it). */
        out[CBP_HEADER_LEN] = req->type == CBP_BEFORE ? req->ts_ns < earliest : req->ts_ns > latest;
        return CBP_ANSWER_LEN;
    case CBP_ERROR:
        break;
    }
    return CBP_HEADER_LEN;
}

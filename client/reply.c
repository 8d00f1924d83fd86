/* Checking and converting replies (see reply.h). Pure. */
#include "reply.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define TS_LIMIT (UINT64_C(1) << 63) /* every timestamp on the wire is below this */

static void copy_text(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src != NULL ? src : "");
}

/* The errors after which oracled closes the connection (oracle/ops.c, unavailable()). */
static bool closes_connection(enum wire_error code)
{
    return code == WIRE_ERROR_CLOCK_UNAVAILABLE || code == WIRE_ERROR_BOUND_TOO_WIDE ||
           code == WIRE_ERROR_NOT_READY || code == WIRE_ERROR_SHUTTING_DOWN;
}

/*
 * A Timestamps reply against its request: the batch asked for, above min_ts_ns, below 2^63, a
 * sane interval, and with commit-wait the server's own bound showing the batch past.
 */
static const char *check_timestamps(const struct flight *f, const struct response *w)
{
    uint32_t want = f->count == 0 ? 1 : f->count;
    if (w->u.ts.count != want) {
        return "a timestamp reply with another count than asked for";
    }
    if (w->u.ts.first_ns <= f->min_ts_ns) {
        return "timestamps not above the min_ts_ns asked for";
    }
    if (w->u.ts.first_ns > TS_LIMIT - want) {
        return "timestamps at or above 2^63";
    }
    if (w->u.ts.earliest_ns > w->u.ts.latest_ns) {
        return "a clock interval whose earliest is after its latest";
    }
    if (f->commit_wait && w->u.ts.earliest_ns <= w->u.ts.first_ns + want - 1) {
        return "a commit-waited timestamp its own bound does not show in the past";
    }
    return NULL;
}

const char *reply_take(const struct flight *f, const struct response *w,
                       struct oracle_response *out, bool *closes)
{
    memset(out, 0, sizeof(*out));
    *closes = false;
    out->id = f->id;
    out->op = f->op;
    /* A status added by a later server version is passed on as its number. */
    out->clock_status = (enum oracle_clock_status)w->clock_status;
    if (w->kind == RESP_ERROR) {
        out->rc = ORACLE_E_SERVER;
        out->error.rc = ORACLE_E_SERVER;
        out->error.code = (enum oracle_error_code)w->u.error.code;
        out->error.retriable = w->u.error.retriable;
        copy_text(out->error.message, sizeof(out->error.message), w->u.error.message);
        *closes = closes_connection(w->u.error.code);
        return NULL;
    }
    switch (f->op) {
    case ORACLE_OP_GET_TIMESTAMP: {
        if (w->kind != RESP_TIMESTAMPS) {
            break;
        }
        const char *bad = check_timestamps(f, w);
        if (bad != NULL) {
            return bad;
        }
        out->u.ts.first_ns = w->u.ts.first_ns;
        out->u.ts.count = w->u.ts.count;
        out->u.ts.waited_ns = w->u.ts.waited_ns;
        out->u.ts.bound_ns = w->u.ts.bound_ns;
        out->u.ts.earliest_ns = w->u.ts.earliest_ns;
        out->u.ts.latest_ns = w->u.ts.latest_ns;
        out->u.ts.clock_status = out->clock_status;
        return NULL;
    }
    case ORACLE_OP_NOW:
        if (w->kind != RESP_BOUNDS) {
            break;
        }
        if (w->u.bounds.earliest_ns > w->u.bounds.latest_ns) {
            return "a clock interval whose earliest is after its latest";
        }
        out->u.bounds.earliest_ns = w->u.bounds.earliest_ns;
        out->u.bounds.latest_ns = w->u.bounds.latest_ns;
        out->u.bounds.clock_status = out->clock_status;
        return NULL;
    case ORACLE_OP_BEFORE:
    case ORACLE_OP_AFTER:
        if (w->kind != (f->op == ORACLE_OP_BEFORE ? RESP_BEFORE : RESP_AFTER)) {
            break;
        }
        out->u.answer = w->u.answer;
        return NULL;
    case ORACLE_OP_WAIT_UNTIL:
        if (w->kind != RESP_WAITED) {
            break;
        }
        out->u.waited_ns = w->u.waited_ns;
        return NULL;
    case ORACLE_OP_SERVER_INFO:
        if (w->kind != RESP_INFO) {
            break;
        }
        copy_text(out->u.info.version, sizeof(out->u.info.version), w->u.info.version);
        copy_text(out->u.info.instance_id, sizeof(out->u.info.instance_id), w->u.info.instance_id);
        copy_text(out->u.info.time_source, sizeof(out->u.info.time_source), w->u.info.time_source);
        out->u.info.max_drift_ppb = w->u.info.max_drift_ppb;
        out->u.info.max_wait_ns = w->u.info.max_wait_ns;
        out->u.info.max_count = w->u.info.max_count;
        out->u.info.clock_status = out->clock_status;
        return NULL;
    }
    return "a reply of another kind than the request";
}

int reply_decode(const uint8_t *buf, size_t len, struct arena *a, struct response *w,
                 const char **what)
{
    const uint8_t *msg;
    size_t msg_len;
    int n = frame_decode(buf, len, FRAME_MAX_LEN, &msg, &msg_len);
    if (n == 0) {
        return 0;
    }
    if (n < 0) {
        *what = n == -EMSGSIZE ? "sent a reply longer than 65536 bytes"
                               : "sent a malformed length prefix";
        return -EPROTO;
    }
    arena_reset(a);
    if (wire_decode_response(msg, msg_len, a, w) < 0) {
        *what = "sent a reply that is not an oracle.v1.Response";
        return -EPROTO;
    }
    return n;
}

bool reply_accept(const struct flight *f, const struct response *w, struct oracle_response *out,
                  bool *closes, char *what, size_t cap)
{
    if (f == NULL) {
        snprintf(what, cap, "sent a reply for id %llu, which is not in flight",
                 (unsigned long long)w->id);
        return false;
    }
    const char *bad = reply_take(f, w, out, closes);
    if (bad != NULL) {
        snprintf(what, cap, "sent %s (id %llu)", bad, (unsigned long long)w->id);
        return false;
    }
    return true;
}

/* The load generator's codecs (see bproto.h). Pure. */
#include "bproto.h"

#include <errno.h>
#include <string.h>

/* protobuf wire types */
#define WT_VARINT  0
#define WT_FIXED64 1
#define WT_LEN     2
#define WT_FIXED32 5

static size_t put_varint(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

static size_t put_fixed64(uint8_t *out, uint64_t v)
{
    for (size_t i = 0; i < 8; i++) {
        out[i] = (uint8_t)(v >> (8 * i));
    }
    return 8;
}

size_t bp_oracle_request(uint8_t *out, uint64_t id, enum bp_op op, uint32_t count, uint64_t ts_ns)
{
    uint8_t msg[BP_REQUEST_MAX];
    uint8_t sub[32];
    size_t n = 0;
    size_t s = 0;
    msg[n++] = 0x08; /* id = 1, varint */
    n += put_varint(msg + n, id);
    uint8_t field = 0;
    switch (op) {
    case BP_OP_TS:
    case BP_OP_TS_WAIT:
        field = 2; /* get_timestamp */
        if (count > 1) {
            sub[s++] = 0x08; /* count = 1 */
            s += put_varint(sub + s, count);
        }
        if (op == BP_OP_TS_WAIT) {
            sub[s++] = 0x10; /* commit_wait = 2 */
            sub[s++] = 1;
        }
        break;
    case BP_OP_NOW:
        field = 3;
        break;
    case BP_OP_WAIT_UNTIL:
        field = 6;
        sub[s++] = 0x09; /* ts_ns = 1, fixed64 */
        s += put_fixed64(sub + s, ts_ns);
        break;
    }
    msg[n++] = (uint8_t)(field << 3 | WT_LEN);
    msg[n++] = (uint8_t)s;
    memcpy(msg + n, sub, s);
    n += s;
    size_t h = put_varint(out, n);
    memcpy(out + h, msg, n);
    return h + n;
}

/* Reads a varint at *p (below end). Returns false when it runs off the end or past 10 bytes. */
static bool get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (int i = 0; i < 10; i++) {
        if (*p == end) {
            return false;
        }
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            *v = r;
            return true;
        }
    }
    return false;
}

static bool get_fixed64(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    if (end - *p < 8) {
        return false;
    }
    uint64_t r = 0;
    for (int i = 0; i < 8; i++) {
        r |= (uint64_t)(*p)[i] << (8 * i);
    }
    *p += 8;
    *v = r;
    return true;
}

/*
 * Walks the fields of msg[0..len), calling visit(field, wire type, value, sub-message) for
 * each; a length-delimited field's bytes are given as [sub, sub_end). Returns 0 or -EBADMSG.
 */
typedef void (*visit_fn)(void *ctx, uint32_t field, uint64_t value, const uint8_t *sub,
                         const uint8_t *sub_end);

static int walk(const uint8_t *msg, size_t len, visit_fn visit, void *ctx)
{
    const uint8_t *p = msg;
    const uint8_t *end = msg + len;
    while (p < end) {
        uint64_t key;
        if (!get_varint(&p, end, &key) || key >> 3 == 0 || key >> 3 > UINT32_MAX) {
            return -EBADMSG;
        }
        uint32_t field = (uint32_t)(key >> 3);
        uint64_t v = 0;
        switch (key & 7) {
        case WT_VARINT:
            if (!get_varint(&p, end, &v)) {
                return -EBADMSG;
            }
            visit(ctx, field, v, NULL, NULL);
            break;
        case WT_FIXED64:
            if (!get_fixed64(&p, end, &v)) {
                return -EBADMSG;
            }
            visit(ctx, field, v, NULL, NULL);
            break;
        case WT_LEN:
            if (!get_varint(&p, end, &v) || v > (uint64_t)(end - p)) {
                return -EBADMSG;
            }
            visit(ctx, field, 0, p, p + v);
            p += v;
            break;
        case WT_FIXED32:
            if (end - p < 4) {
                return -EBADMSG;
            }
            p += 4;
            break;
        default:
            return -EBADMSG;
        }
    }
    return 0;
}

struct parse_ctx {
    struct bp_reply *out;
    int rc;
};

static void visit_timestamps(void *ctx, uint32_t field, uint64_t v, const uint8_t *sub,
                             const uint8_t *sub_end)
{
    (void)sub;
    (void)sub_end;
    struct bp_reply *r = ((struct parse_ctx *)ctx)->out;
    switch (field) {
    case 1:
        r->first_ns = v;
        break;
    case 2:
        r->count = (uint32_t)v;
        break;
    case 3:
        r->waited_ns = v;
        break;
    case 4:
        r->bound_ns = v;
        break;
    case 5:
        r->earliest_ns = v;
        break;
    default:
        break;
    }
}

static void visit_error(void *ctx, uint32_t field, uint64_t v, const uint8_t *sub,
                        const uint8_t *sub_end)
{
    (void)sub;
    (void)sub_end;
    if (field == 1) {
        ((struct parse_ctx *)ctx)->out->code = (uint32_t)v;
    }
}

static void visit_waited(void *ctx, uint32_t field, uint64_t v, const uint8_t *sub,
                         const uint8_t *sub_end)
{
    (void)sub;
    (void)sub_end;
    if (field == 1) {
        ((struct parse_ctx *)ctx)->out->waited_ns = v;
    }
}

static void visit_response(void *ctx, uint32_t field, uint64_t v, const uint8_t *sub,
                           const uint8_t *sub_end)
{
    struct parse_ctx *c = ctx;
    struct bp_reply *r = c->out;
    switch (field) {
    case 1:
        r->id = v;
        break;
    case 3:
        r->timestamps = true;
        if (sub != NULL && walk(sub, (size_t)(sub_end - sub), visit_timestamps, c) < 0) {
            c->rc = -EBADMSG;
        }
        break;
    case 7:
        r->waited = true;
        if (sub != NULL && walk(sub, (size_t)(sub_end - sub), visit_waited, c) < 0) {
            c->rc = -EBADMSG;
        }
        break;
    case 8:
        r->error = true;
        if (sub != NULL && walk(sub, (size_t)(sub_end - sub), visit_error, c) < 0) {
            c->rc = -EBADMSG;
        }
        break;
    default:
        break;
    }
}

int bp_oracle_parse(const uint8_t *msg, size_t len, struct bp_reply *out)
{
    memset(out, 0, sizeof(*out));
    struct parse_ctx c = {.out = out, .rc = 0};
    int rc = walk(msg, len, visit_response, &c);
    return rc < 0 ? rc : c.rc;
}

size_t bp_redis_incr(uint8_t *out, const char *key)
{
    size_t kl = strnlen(key, 32);
    size_t n = 0;
    memcpy(out, "*2\r\n$4\r\nINCR\r\n$", 15);
    n = 15;
    if (kl >= 10) {
        out[n++] = (uint8_t)('0' + kl / 10);
    }
    out[n++] = (uint8_t)('0' + kl % 10);
    out[n++] = '\r';
    out[n++] = '\n';
    memcpy(out + n, key, kl);
    n += kl;
    out[n++] = '\r';
    out[n++] = '\n';
    return n;
}

int bp_redis_reply(const uint8_t *buf, size_t len, bool *ok)
{
    if (len == 0) {
        return 0;
    }
    if (buf[0] != ':' && buf[0] != '+' && buf[0] != '-') {
        return -EBADMSG;
    }
    const uint8_t *lf = memchr(buf, '\n', len > 512 ? 512 : len);
    if (lf == NULL) {
        return len >= 512 ? -EBADMSG : 0;
    }
    if (lf == buf || lf[-1] != '\r') {
        return -EBADMSG;
    }
    *ok = buf[0] == ':';
    return (int)(lf - buf + 1);
}

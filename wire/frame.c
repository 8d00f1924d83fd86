/* Varint length-delimited framing (see frame.h). Pure. */
#include "frame.h"

#include <errno.h>

int frame_decode(const uint8_t *buf, size_t len, size_t max_len, const uint8_t **msg,
                 size_t *msg_len)
{
    uint64_t value = 0;
    size_t i = 0;
    for (;; i++) {
        if (i == FRAME_VARINT_MAX_LEN) {
            return -EPROTO;
        }
        if (i == len) {
            return 0;
        }
        uint8_t b = buf[i];
        uint64_t bits = b & 0x7f;
        /* The 10th byte may only carry the 64th bit. */
        if (i == FRAME_VARINT_MAX_LEN - 1 && bits > 1) {
            return -EPROTO;
        }
        value |= bits << (7 * i);
        /* Later bytes can only add higher bits: a value already too large stays too large. */
        if (value > max_len) {
            return -EMSGSIZE;
        }
        if ((b & 0x80) == 0) {
            break;
        }
    }
    size_t header = i + 1;
    if (len - header < value) {
        return 0;
    }
    *msg = buf + header;
    *msg_len = (size_t)value;
    return (int)(header + value);
}

size_t frame_header_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t frame_encode_header(uint8_t *out, uint64_t msg_len)
{
    size_t n = 0;
    while (msg_len >= 0x80) {
        out[n++] = (uint8_t)(msg_len | 0x80);
        msg_len >>= 7;
    }
    out[n++] = (uint8_t)msg_len;
    return n;
}

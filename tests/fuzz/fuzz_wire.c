/*
 * libFuzzer target: a byte stream as a connection would deliver it, cut into frames the way
 * the server does (wire/frame.c), each message decoded as a Request (the server's path) and
 * as a Response (the client library's and the benchmark's paths). The whole input is also a
 * ClockBound v1 datagram (oracle/cbproto.c). Checks that no decoder reads outside the input,
 * and what each promises about its result.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "bproto.h"
#include "compat/cbproto.h"
#include "frame.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct arena arena;

/* A datagram is either a request (answered by its own type) or answered by an error header,
 * shaped by its type byte: 20 bytes for a Now, 4 otherwise. */
static void clockbound_datagram(const uint8_t *data, size_t size)
{
    struct cb_now now;
    memset(&now, 0, sizeof(now));
    now.status = CB_STATUS_SYNCHRONIZED;
    now.rt_ns = INT64_C(1795620000000000000);
    now.bound_ns = 10000;
    now.earliest_ns = now.rt_ns - now.bound_ns;
    now.latest_ns = now.rt_ns + now.bound_ns;
    struct cbp_request q;
    bool ok = cbp_parse(data, size, &q) == 0;
    uint8_t out[CBP_RESPONSE_MAX];
    size_t n = cbp_respond(&q, &now, true, out);
    bool now_type = size >= 2 && data[1] == CBP_NOW;
    size_t want = now_type ? 20 : ok ? 5 : 4;
    if (n != want || ok == q.malformed || out[0] != 1 || out[1] != (ok ? data[1] : 0) ||
        out[2] != 0 || out[3] != 0 || (ok && size != (q.type == CBP_NOW ? 4u : 12u))) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (arena.base == NULL && arena_init(&arena, 4 * FRAME_MAX_TOTAL) < 0) {
        abort();
    }
    clockbound_datagram(data, size);
    size_t off = 0;
    while (off < size) {
        const uint8_t *msg;
        size_t msg_len;
        int n = frame_decode(data + off, size - off, FRAME_MAX_LEN, &msg, &msg_len);
        if (n <= 0) {
            break;
        }
        if ((size_t)n > size - off || msg < data + off || msg + msg_len > data + off + n ||
            msg_len > FRAME_MAX_LEN) {
            abort(); /* a frame that is not inside what was given */
        }
        struct request req;
        arena_reset(&arena);
        if (wire_decode_request(msg, msg_len, &arena, &req) == 0 &&
            (req.op < REQ_OP_NONE || req.op > REQ_OP_SERVER_INFO)) {
            abort();
        }
        struct response resp;
        arena_reset(&arena);
        (void)wire_decode_response(msg, msg_len, &arena, &resp);
        struct bp_reply r;
        (void)bp_oracle_parse(msg, msg_len, &r);
        off += (size_t)n;
    }
    return 0;
}

/*
 * Framing: each message is preceded by its length as a protobuf varint (writeDelimitedTo /
 * parseDelimitedFrom). Pure and incremental, in the style of picohttpparser: the decoder looks
 * at whatever bytes have arrived and says how many a whole frame takes, that it needs more, or
 * that the stream is bad.
 */
#ifndef ORACLE_FRAME_H
#define ORACLE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_MAX_LEN        65536 /* largest message, bytes (DESIGN.md section 3) */
#define FRAME_VARINT_MAX_LEN 10    /* longest varint a 64-bit length can take */
#define FRAME_MAX_TOTAL      (FRAME_MAX_LEN + FRAME_VARINT_MAX_LEN)

/*
 * Looks for one frame at the start of buf[0..len). Returns:
 *   > 0        the frame's total length (header + message); *msg and *msg_len give the message
 *   0          more bytes are needed (the header or the message is incomplete)
 *   -EMSGSIZE  the length is above max_len: known as soon as the header's bytes so far prove it
 *   -EPROTO    the length varint runs past 10 bytes or past 64 bits
 * Never reads beyond buf[len - 1]. A valid frame's length fits in an int (<= FRAME_MAX_TOTAL).
 */
int frame_decode(const uint8_t *buf, size_t len, size_t max_len, const uint8_t **msg,
                 size_t *msg_len);

/* Writes msg_len as a varint into out (at least FRAME_VARINT_MAX_LEN bytes); returns its length. */
size_t frame_encode_header(uint8_t *out, uint64_t msg_len);

/* The length of the varint for v, 1 .. 10. */
size_t frame_header_len(uint64_t v);

#endif

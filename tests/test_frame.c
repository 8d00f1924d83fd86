/* Unit tests: varint length-delimited framing (wire/frame.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "frame.h"
#include "test_seed.h"

static void test_header_encoding(void **state)
{
    (void)state;
    const struct {
        uint64_t len;
        size_t bytes;
    } cases[] = {{0, 1},     {1, 1},     {127, 1},   {128, 2},
                 {16383, 2}, {16384, 3}, {65536, 3}, {UINT64_MAX, 10}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t buf[FRAME_VARINT_MAX_LEN];
        assert_int_equal(frame_encode_header(buf, cases[i].len), cases[i].bytes);
        assert_int_equal(frame_header_len(cases[i].len), cases[i].bytes);
    }
    uint8_t buf[4];
    assert_int_equal(frame_encode_header(buf, 300), 2);
    assert_int_equal(buf[0], 0xac); /* protobuf's own example: 300 = ac 02 */
    assert_int_equal(buf[1], 0x02);
}

/* Builds a stream of frames with the given message lengths; message bytes are a pattern. */
static size_t build_stream(uint8_t *out, const size_t *lens, size_t n)
{
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        off += frame_encode_header(out + off, lens[i]);
        for (size_t j = 0; j < lens[i]; j++) {
            out[off + j] = (uint8_t)(i * 31 + j);
        }
        off += lens[i];
    }
    return off;
}

/* Decodes a whole stream the way a connection does: whatever has arrived, keeping the rest.
 * chunk(i) says how many bytes arrive next. Checks every frame against lens. */
static void feed(const uint8_t *stream, size_t total, const size_t *lens, size_t n,
                 size_t (*chunk)(size_t, void *), void *arg)
{
    static uint8_t pending[4 * FRAME_MAX_TOTAL];
    size_t have = 0, fed = 0, got = 0;
    for (size_t step = 0; fed < total; step++) {
        size_t k = chunk(step, arg);
        if (k > total - fed) {
            k = total - fed;
        }
        memcpy(pending + have, stream + fed, k);
        have += k;
        fed += k;
        for (;;) {
            const uint8_t *msg = NULL;
            size_t msg_len = 0;
            int r = frame_decode(pending, have, FRAME_MAX_LEN, &msg, &msg_len);
            assert_true(r >= 0);
            if (r == 0) {
                break;
            }
            assert_true(got < n);
            assert_int_equal(msg_len, lens[got]);
            for (size_t j = 0; j < msg_len; j++) {
                assert_int_equal(msg[j], (uint8_t)(got * 31 + j));
            }
            got++;
            memmove(pending, pending + r, have - (size_t)r);
            have -= (size_t)r;
        }
    }
    assert_int_equal(got, n);
    assert_int_equal(have, 0);
}

static size_t one_byte(size_t step, void *arg)
{
    (void)step;
    (void)arg;
    return 1;
}

static size_t split_at(size_t step, void *arg)
{
    size_t k = *(size_t *)arg;
    return step == 0 ? k : SIZE_MAX;
}

static void test_byte_by_byte_and_every_split(void **state)
{
    (void)state;
    /* Small frames: every split point. */
    static const size_t small[] = {0, 1, 5, 127, 128, 300, 2, 3, 0};
    size_t ns = sizeof(small) / sizeof(small[0]);
    static uint8_t stream[4 * FRAME_MAX_TOTAL];
    size_t total = build_stream(stream, small, ns);
    feed(stream, total, small, ns, one_byte, NULL);
    for (size_t k = 0; k <= total; k++) {
        feed(stream, total, small, ns, split_at, &k);
    }
    /* Up to the largest frame: byte by byte, and splits around every frame boundary and every
     * 251 bytes in between. */
    static const size_t big[] = {16384, 2, FRAME_MAX_LEN, 3, 16383};
    size_t nb = sizeof(big) / sizeof(big[0]);
    total = build_stream(stream, big, nb);
    feed(stream, total, big, nb, one_byte, NULL);
    size_t boundary = 0;
    for (size_t i = 0; i <= nb; i++) {
        for (size_t k = boundary > 12 ? boundary - 12 : 0; k <= boundary + 12 && k <= total; k++) {
            feed(stream, total, big, nb, split_at, &k);
        }
        if (i < nb) {
            boundary += frame_header_len(big[i]) + big[i];
        }
    }
    for (size_t k = 0; k <= total; k += 251) {
        feed(stream, total, big, nb, split_at, &k);
    }
}

static size_t random_chunk(size_t step, void *arg)
{
    (void)step;
    return 1 + (size_t)rand() % *(size_t *)arg;
}

static void test_random_chunks(void **state)
{
    (void)state;
    (void)test_seed("test_random_chunks");
    size_t lens[64];
    for (size_t i = 0; i < 64; i++) {
        lens[i] = (size_t)(rand() % 4 == 0 ? rand() % (FRAME_MAX_LEN + 1) : rand() % 200);
    }
    static uint8_t stream[64 * FRAME_MAX_TOTAL];
    size_t total = build_stream(stream, lens, 64);
    for (int round = 0; round < 20; round++) {
        size_t max_chunk = (size_t)(1 + rand() % 70000);
        feed(stream, total, lens, 64, random_chunk, &max_chunk);
    }
}

static void test_bad_lengths(void **state)
{
    (void)state;
    const uint8_t *msg;
    size_t msg_len;
    /* Over the cap: 65537 = 81 80 04. */
    const uint8_t over[] = {0x81, 0x80, 0x04};
    assert_int_equal(frame_decode(over, 3, FRAME_MAX_LEN, &msg, &msg_len), -EMSGSIZE);
    /* Known too large from the bytes so far, before the varint ends: 2^21 and more. */
    const uint8_t big_prefix[] = {0x80, 0x80, 0x80, 0x01};
    assert_int_equal(frame_decode(big_prefix, 3, FRAME_MAX_LEN, &msg, &msg_len), 0);
    assert_int_equal(frame_decode(big_prefix, 4, FRAME_MAX_LEN, &msg, &msg_len), -EMSGSIZE);
    const uint8_t huge_prefix[] = {0xff, 0xff, 0xff};
    assert_int_equal(frame_decode(huge_prefix, 3, FRAME_MAX_LEN, &msg, &msg_len), -EMSGSIZE);
    /* Exactly the cap is fine (needs its 65536 bytes). */
    const uint8_t cap[] = {0x80, 0x80, 0x04};
    assert_int_equal(frame_decode(cap, 3, FRAME_MAX_LEN, &msg, &msg_len), 0);
    /* A varint of more than 10 bytes, even of a small value. */
    const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    for (size_t k = 0; k < 10; k++) {
        assert_int_equal(frame_decode(eleven, k, FRAME_MAX_LEN, &msg, &msg_len), 0);
    }
    assert_int_equal(frame_decode(eleven, 10, FRAME_MAX_LEN, &msg, &msg_len), -EPROTO);
    assert_int_equal(frame_decode(eleven, 11, FRAME_MAX_LEN, &msg, &msg_len), -EPROTO);
    /* The 10th byte may carry only the 64th bit: 0x02 there would be bit 64. */
    const uint8_t bit64[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02};
    assert_int_equal(frame_decode(bit64, 10, FRAME_MAX_LEN, &msg, &msg_len), -EPROTO);
    const uint8_t bit63[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    assert_int_equal(frame_decode(bit63, 10, FRAME_MAX_LEN, &msg, &msg_len), -EMSGSIZE);
    assert_int_equal(frame_decode(bit63, 10, SIZE_MAX, &msg, &msg_len), 0); /* 2^63: needs more */
    /* A padded but valid varint: 1 in two bytes, then its message. */
    const uint8_t padded[] = {0x81, 0x00, 0x2a};
    assert_int_equal(frame_decode(padded, 3, FRAME_MAX_LEN, &msg, &msg_len), 3);
    assert_int_equal(msg_len, 1);
    assert_int_equal(msg[0], 0x2a);
    /* A smaller cap is honoured. */
    const uint8_t ten[] = {10};
    assert_int_equal(frame_decode(ten, 1, 9, &msg, &msg_len), -EMSGSIZE);
}

/* Inputs ending right before a PROT_NONE page: reading one byte too far would fault. */
static void test_guard_page(void **state)
{
    (void)state;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t span = 32 * page;
    uint8_t *mem =
        mmap(NULL, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(mem != MAP_FAILED);
    assert_int_equal(mprotect(mem + span, page, PROT_NONE), 0);
    static const size_t lens[] = {0, 1, 200, 70000 % (FRAME_MAX_LEN + 1)};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        uint8_t frame[FRAME_MAX_TOTAL];
        size_t total = build_stream(frame, &lens[i], 1);
        /* Every prefix, placed to end at the guard page. */
        for (size_t k = 0; k <= total; k += (k < 64 || total - k < 64) ? 1 : 997) {
            uint8_t *at = mem + span - k;
            memcpy(at, frame, k);
            const uint8_t *msg;
            size_t msg_len;
            int r = frame_decode(at, k, FRAME_MAX_LEN, &msg, &msg_len);
            assert_int_equal(r, k == total ? (int)total : 0);
        }
    }
    /* Bad headers ending at the guard page. */
    const uint8_t nine[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80};
    memcpy(mem + span - 9, nine, 9);
    const uint8_t *msg;
    size_t msg_len;
    assert_int_equal(frame_decode(mem + span - 9, 9, FRAME_MAX_LEN, &msg, &msg_len), 0);
    munmap(mem, span + page);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_encoding), cmocka_unit_test(test_byte_by_byte_and_every_split),
        cmocka_unit_test(test_random_chunks),   cmocka_unit_test(test_bad_lengths),
        cmocka_unit_test(test_guard_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * libFuzzer target: the chrony reply decoders (clockbound/chrony_proto.c), tracking, NTPDATA and
 * the null replies to RESET_SOURCES and BURST, fed two ways. The first input byte picks the way:
 *   bit 0 clear: the bytes as they are (any datagram that could arrive on the socket), given to
 *                both decoders and to the dispatch between them;
 *   bit 0 set:   a valid reply from the fake chronyd (bit 1 clear: tracking, set: NTPDATA about
 *                10.0.0.1), with the rest of the input applied as (offset, value) byte changes,
 *                so the fuzzer works field by field past the header checks.
 * A success must come with no reason and sane fields; a refusal must say why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chrony_proto.h"
#include "fake_chrony.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEQUENCE 0x12345678u

static const uint8_t asked[16] = {10, 0, 0, 1};

static void check_tracking(const uint8_t *buf, size_t len)
{
    struct chrony_tracking t;
    const char *why = NULL;
    int rc = chrony_decode_tracking_reply(buf, len, SEQUENCE, &t, &why);
    if (rc == 0 && (why != NULL || t.stratum > 16)) {
        abort();
    }
    if (rc < 0 && why == NULL) {
        abort();
    }
}

static void check_ntpdata(const uint8_t *buf, size_t len)
{
    struct chrony_ntpdata d;
    const char *why = NULL;
    int rc = chrony_decode_ntpdata_reply(buf, len, SEQUENCE, CHRONY_ADDR_INET4, asked, &d, &why);
    if (rc == 0 &&
        (why != NULL || len != CHRONY_NTPDATA_LEN || !chrony_reply_is_ntpdata(buf, len) ||
         d.addr_family != CHRONY_ADDR_INET4 || memcmp(d.addr, asked, 4) != 0 || d.leap > 3 ||
         d.mode > 7 || d.version > 7 || d.ref_time_ns < 0)) {
        abort();
    }
    if (rc < 0 && why == NULL) {
        abort();
    }
}

/* RESET_SOURCES and BURST: a success is exactly the bare header, of the command asked. */
static void check_null(const uint8_t *buf, size_t len, uint16_t command)
{
    const char *why = NULL;
    int rc = chrony_decode_null_reply(buf, len, command, SEQUENCE, &why);
    if (rc == 0 && (why != NULL || len != CHRONY_NULL_REPLY_LEN ||
                    chrony_reply_command(buf, len) != (int)command)) {
        abort();
    }
    if (rc < 0 && why == NULL) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    if ((data[0] & 1) == 0) {
        (void)chrony_reply_is_ntpdata(data + 1, size - 1);
        check_tracking(data + 1, size - 1);
        check_ntpdata(data + 1, size - 1);
        check_null(data + 1, size - 1, CHRONY_REQ_RESET_SOURCES);
        check_null(data + 1, size - 1, CHRONY_REQ_BURST);
        return 0;
    }
    bool ntpdata = (data[0] & 2) != 0;
    struct fake_chrony_script s;
    fake_chrony_script_default(&s, INT64_C(1795620000000000000));
    uint8_t buf[512];
    size_t len = ntpdata ? fake_chrony_build_ntpdata_reply(&s, SEQUENCE, CHRONY_ADDR_INET4, asked,
                                                           buf, sizeof(buf))
                         : fake_chrony_build_reply(&s, SEQUENCE, buf, sizeof(buf));
    for (size_t i = 1; i + 1 < size; i += 2) {
        buf[data[i] % len] = data[i + 1];
    }
    if (ntpdata) {
        check_ntpdata(buf, len);
    } else {
        check_tracking(buf, len);
    }
    return 0;
}

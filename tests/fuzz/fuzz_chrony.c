/*
 * libFuzzer target: the chrony tracking-reply decoder (clockbound/chrony_proto.c), fed two
 * ways. The first input byte picks the way:
 *   even: the bytes as they are (any datagram that could arrive on the socket);
 *   odd:  a valid reply from the fake chronyd, with the rest of the input applied as
 *         (offset, value) byte changes, so the fuzzer works field by field past the header
 *         checks.
 * A success must come with no reason and sane fields; a refusal must say why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chrony_proto.h"
#include "fake_chrony.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEQUENCE 0x12345678u

static void check(const uint8_t *buf, size_t len)
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    if ((data[0] & 1) == 0) {
        check(data + 1, size - 1);
        return 0;
    }
    struct fake_chrony_script s;
    fake_chrony_script_default(&s, INT64_C(1795620000000000000));
    uint8_t buf[512];
    size_t len = fake_chrony_build_reply(&s, SEQUENCE, buf, sizeof(buf));
    for (size_t i = 1; i + 1 < size; i += 2) {
        buf[data[i] % len] = data[i + 1];
    }
    check(buf, len);
    return 0;
}

/* Unit tests: chrony cmdmon tracking codec (clockbound/chrony_proto.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "chrony_proto.h"
#include "fake_chrony.h"
#include "test_seed.h"

#define SEQ    0x12345678u
#define REF_NS INT64_C(1795620016012906108)

static void build(struct fake_chrony_script *s, uint8_t *buf, size_t *len)
{
    *len = fake_chrony_build_reply(s, SEQ, buf, 2048);
}

static int decode(const struct fake_chrony_script *s, struct chrony_tracking *t, const char **why)
{
    uint8_t buf[2048];
    size_t len = fake_chrony_build_reply(s, SEQ, buf, sizeof(buf));
    return chrony_decode_tracking_reply(buf, len, SEQ, t, why);
}

static void test_float_vectors(void **state)
{
    (void)state;
    /* 1.0 = 0x04800000: exponent 2, coefficient 2^23: 2^23 * 2^(2-25) = 1. */
    struct chrony_float one = chrony_float_decode(0x04800000);
    assert_int_equal(one.coef, 1 << 23);
    assert_int_equal(one.exp2, 2 - 25);
    assert_true(chrony_float_to_double(one) == 1.0);

    /* 1e-5 = 0xe2a7c5ac: exponent -15, coefficient 10995116, which is slightly below 1e-5. */
    struct chrony_float small = chrony_float_decode(0xe2a7c5ac);
    assert_int_equal(small.coef, 10995116);
    assert_int_equal(small.exp2, -15 - 25);
    double v = chrony_float_to_double(small);
    assert_true(v < 1e-5);
    assert_true(v > 0.99999997e-5);

    /* -1.0: chrony lets negative coefficients reach -2^24. */
    struct chrony_float minus_one = chrony_float_decode(0x03000000);
    assert_int_equal(minus_one.coef, -(1 << 24));
    assert_true(chrony_float_to_double(minus_one) == -1.0);

    /* Zero, and the extremes of both fields. */
    assert_true(chrony_float_to_double(chrony_float_decode(0)) == 0.0);
    struct chrony_float huge = chrony_float_decode(0x7effffff); /* exp 63, coef 2^24-1 */
    assert_int_equal(huge.exp2, 63 - 25);
    assert_int_equal(huge.coef, (1 << 24) - 1);
    struct chrony_float tiny = chrony_float_decode(0x81000000); /* exp -64, coef -2^24 */
    assert_int_equal(tiny.exp2, -64 - 25);
    assert_int_equal(tiny.coef, -(1 << 24));
}

static void test_float_encoder_roundtrip(void **state)
{
    (void)state;
    /* The fake's encoder must agree with the decoder (and with chrony's known vectors). */
    assert_int_equal(fake_chrony_float(1.0), 0x04800000);
    assert_int_equal(fake_chrony_float(1e-5), 0xe2a7c5ac);
    assert_int_equal(fake_chrony_float(-1.0), 0x03000000);
    const double values[] = {5e-3, -1.386e-6, 0.0625, 2.305, -0.483, 1000.0, 3e-9};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        double back = chrony_float_to_double(chrony_float_decode(fake_chrony_float(values[i])));
        double err = back > values[i] ? back - values[i] : values[i] - back;
        assert_true(err <= (values[i] < 0 ? -values[i] : values[i]) * 1.2e-7); /* a unit */
    }
}

static void test_encode_request(void **state)
{
    (void)state;
    uint8_t buf[CHRONY_TRACKING_LEN + 8];
    memset(buf, 0xAA, sizeof(buf));
    assert_int_equal(chrony_encode_tracking_request(buf, sizeof(buf), 0xDEADBEEF, 2),
                     CHRONY_TRACKING_LEN);
    const uint8_t head[] = {6, 1, 0, 0, 0, 33, 0, 2, 0xDE, 0xAD, 0xBE, 0xEF};
    assert_memory_equal(buf, head, sizeof(head));
    for (size_t i = sizeof(head); i < CHRONY_TRACKING_LEN; i++) {
        assert_int_equal(buf[i], 0);
    }
    assert_int_equal(buf[CHRONY_TRACKING_LEN], 0xAA); /* nothing written past 104 */
    assert_int_equal(chrony_encode_tracking_request(buf, CHRONY_TRACKING_LEN - 1, 1, 0), -ENOBUFS);
}

static void test_decode_valid(void **state)
{
    (void)state;
    struct fake_chrony_script s;
    fake_chrony_script_default(&s, REF_NS);
    s.current_correction_s = 0xdd45f967;
    s.leap = CHRONY_LEAP_INSERT;
    struct chrony_tracking t;
    const char *why = NULL;
    assert_int_equal(decode(&s, &t, &why), 0);
    assert_int_equal(t.ref_id, 0x7F000001);
    assert_int_equal(t.addr_family, 1);
    assert_int_equal(t.addr[0], 127);
    assert_int_equal(t.addr[3], 1);
    assert_int_equal(t.stratum, 2);
    assert_int_equal(t.leap, CHRONY_LEAP_INSERT);
    assert_int_equal(t.ref_time_ns, REF_NS);
    struct chrony_float cc = chrony_float_decode(0xdd45f967);
    assert_int_equal(t.current_correction_s.coef, cc.coef);
    assert_int_equal(t.current_correction_s.exp2, cc.exp2);
    assert_true(chrony_float_to_double(t.last_update_interval_s) == 0.0625);
    /* Every float lands in its own field (the defaults are all different). */
    const struct {
        struct chrony_float got;
        uint32_t raw;
    } fields[] = {
        {t.last_offset_s, s.last_offset_s},
        {t.rms_offset_s, s.rms_offset_s},
        {t.freq_ppm, s.freq_ppm},
        {t.resid_freq_ppm, s.resid_freq_ppm},
        {t.skew_ppm, s.skew_ppm},
        {t.root_delay_s, s.root_delay_s},
        {t.root_dispersion_s, s.root_dispersion_s},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        struct chrony_float want = chrony_float_decode(fields[i].raw);
        assert_int_equal(fields[i].got.coef, want.coef);
        assert_int_equal(fields[i].got.exp2, want.exp2);
    }
    assert_true(chrony_float_to_double(t.skew_ppm) ==
                chrony_float_to_double(chrony_float_decode(s.skew_ppm)));
}

/* A tracking reply captured from a real chronyd 4.3 (the demo pair, sequence 0x12345678). */
static const char captured_hex[] =
    "060200000021000500000000000000001234567800000000000000007f0000017f0000010000000000000000"
    "000000000001000000020000000000006b0706110b144b07dd41fb10d298b20fd8aa2adeff3ca50ff4cf1ccf"
    "009f8342e0bb66c9d8aa1103fc81dec6";

static void close_to(double got, double want)
{
    double d = got > want ? got - want : want - got;
    if (d > (want < 0 ? -want : want) * 1e-7) {
        fail_msg("%.12g is not %.12g", got, want);
    }
}

static void test_decode_captured_reply(void **state)
{
    (void)state;
    uint8_t buf[CHRONY_TRACKING_LEN];
    assert_int_equal(strlen(captured_hex), 2 * CHRONY_TRACKING_LEN);
    for (size_t i = 0; i < CHRONY_TRACKING_LEN; i++) {
        unsigned byte = 0;
        sscanf(captured_hex + 2 * i, "%2x", &byte);
        buf[i] = (uint8_t)byte;
    }
    struct chrony_tracking t;
    const char *why = NULL;
    assert_int_equal(chrony_decode_tracking_reply(buf, sizeof(buf), SEQ, &t, &why), 0);
    assert_int_equal(t.ref_id, 0x7F000001);
    assert_int_equal(t.addr_family, 1);
    assert_int_equal(t.addr[0], 127);
    assert_int_equal(t.stratum, 2);
    assert_int_equal(t.leap, 0);
    assert_int_equal(t.ref_time_ns, INT64_C(1795622417185879303));
    /* What chronyc printed at about the same moment: System time 1.4 us fast, RMS offset
     * 0.3 us, frequency 0.19 ppm slow, skew 0.31 ppm, root delay 5.6 us, update interval
     * 0.06 s. */
    close_to(chrony_float_to_double(t.current_correction_s), -1.4157540135784075e-06);
    close_to(chrony_float_to_double(t.last_offset_s), 3.555220118300895e-08);
    close_to(chrony_float_to_double(t.rms_offset_s), 3.1696157520855195e-07);
    close_to(chrony_float_to_double(t.freq_ppm), -0.19077660143375397);
    close_to(chrony_float_to_double(t.resid_freq_ppm), 0.006320572923868895);
    close_to(chrony_float_to_double(t.skew_ppm), 0.31154829263687134);
    close_to(chrony_float_to_double(t.root_delay_s), 5.585000053542899e-06);
    close_to(chrony_float_to_double(t.root_dispersion_s), 3.167734519138321e-07);
    close_to(chrony_float_to_double(t.last_update_interval_s), 0.06341318786144257);
}

static void test_decode_nohighsec(void **state)
{
    (void)state;
    struct fake_chrony_script s;
    fake_chrony_script_default(&s, 0);
    s.ref_sec_high = CHRONY_TV_NOHIGHSEC; /* a 32-bit chronyd's "no high seconds" */
    s.ref_sec_low = 1700000000;
    s.ref_nsec = 5;
    struct chrony_tracking t;
    assert_int_equal(decode(&s, &t, NULL), 0);
    assert_int_equal(t.ref_time_ns, INT64_C(1700000000000000005));
}

struct bad_case {
    const char *name;
    void (*mangle)(struct fake_chrony_script *s);
    int err;
};

static void m_short_header(struct fake_chrony_script *s)
{
    s->reply_len = 27;
}
static void m_empty(struct fake_chrony_script *s)
{
    s->reply_len = 0;
}
static void m_short(struct fake_chrony_script *s)
{
    s->reply_len = 103;
}
static void m_long(struct fake_chrony_script *s)
{
    s->reply_len = 105;
}
static void m_header_only_success(struct fake_chrony_script *s)
{
    s->reply_len = 28;
}
static void m_version(struct fake_chrony_script *s)
{
    s->version = 5;
}
static void m_pkt_type(struct fake_chrony_script *s)
{
    s->pkt_type = 1;
}
static void m_res1(struct fake_chrony_script *s)
{
    s->patch_offset = 2;
    s->patch_value = 1;
}
static void m_res2(struct fake_chrony_script *s)
{
    s->patch_offset = 3;
    s->patch_value = 0x80;
}
static void m_command(struct fake_chrony_script *s)
{
    s->command = 34;
}
static void m_reply_type(struct fake_chrony_script *s)
{
    s->reply_type = 6;
}
static void m_status(struct fake_chrony_script *s)
{
    s->status = 2; /* unauthorised */
    s->reply_len = 28;
}
static void m_status_full(struct fake_chrony_script *s)
{
    s->status = 1;
}
static void m_sequence(struct fake_chrony_script *s)
{
    s->seq_xor = 1;
}
static void m_pad_header(struct fake_chrony_script *s)
{
    s->patch_offset = 12;
    s->patch_value = 1;
}
static void m_pad_tail(struct fake_chrony_script *s)
{
    s->patch_offset = 27;
    s->patch_value = 1;
}
static void m_addr_pad(struct fake_chrony_script *s)
{
    s->patch_offset = 51;
    s->patch_value = 1;
}
static void m_stratum(struct fake_chrony_script *s)
{
    s->stratum = 17;
}
static void m_leap(struct fake_chrony_script *s)
{
    s->leap = 4;
}
static void m_family(struct fake_chrony_script *s)
{
    s->addr_family = 4;
}
static void m_nsec(struct fake_chrony_script *s)
{
    s->ref_nsec = 1000000000;
}
static void m_sec(struct fake_chrony_script *s)
{
    s->ref_sec_high = 0x7ffffffe; /* ~2^63 s */
}
static void m_neg_rms(struct fake_chrony_script *s)
{
    s->rms_offset_s = fake_chrony_float(-1e-6);
}
static void m_neg_skew(struct fake_chrony_script *s)
{
    s->skew_ppm = fake_chrony_float(-0.1);
}
static void m_neg_delay(struct fake_chrony_script *s)
{
    s->root_delay_s = fake_chrony_float(-1e-6);
}
static void m_neg_disp(struct fake_chrony_script *s)
{
    s->root_dispersion_s = fake_chrony_float(-1e-9);
}
static void m_neg_interval(struct fake_chrony_script *s)
{
    s->last_update_interval_s = fake_chrony_float(-1.0);
}
static void m_huge_corr(struct fake_chrony_script *s)
{
    s->current_correction_s = fake_chrony_float(-1001.0);
}
static void m_huge_offset(struct fake_chrony_script *s)
{
    s->last_offset_s = 0x7effffff;
}
static void m_huge_disp(struct fake_chrony_script *s)
{
    s->root_dispersion_s = fake_chrony_float(1e6);
}
static void m_huge_delay(struct fake_chrony_script *s)
{
    s->root_delay_s = fake_chrony_float(2000.0);
}
static void m_huge_freq(struct fake_chrony_script *s)
{
    s->freq_ppm = fake_chrony_float(2e6);
}
static void m_huge_resid(struct fake_chrony_script *s)
{
    s->resid_freq_ppm = fake_chrony_float(-2e6);
}
static void m_huge_skew(struct fake_chrony_script *s)
{
    s->skew_ppm = fake_chrony_float(1.5e6);
}
static void m_huge_interval(struct fake_chrony_script *s)
{
    s->last_update_interval_s = fake_chrony_float(1e9);
}

static void test_decode_rejects(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {"empty", m_empty, -EMSGSIZE},
        {"shorter than header", m_short_header, -EMSGSIZE},
        {"103 bytes", m_short, -EMSGSIZE},
        {"105 bytes", m_long, -EMSGSIZE},
        {"success header only", m_header_only_success, -EMSGSIZE},
        {"version", m_version, -EPROTONOSUPPORT},
        {"packet type", m_pkt_type, -EPROTO},
        {"reserved 1", m_res1, -EPROTO},
        {"reserved 2", m_res2, -EPROTO},
        {"command", m_command, -EPROTO},
        {"reply type", m_reply_type, -EPROTO},
        {"status unauthorised", m_status, -EREMOTEIO},
        {"status failed, full length", m_status_full, -EREMOTEIO},
        {"sequence", m_sequence, -ESTALE},
        {"header padding", m_pad_header, -EPROTO},
        {"padding after the sequence", m_pad_tail, -EPROTO},
        {"address padding", m_addr_pad, -EBADMSG},
        {"stratum 17", m_stratum, -EBADMSG},
        {"leap", m_leap, -EBADMSG},
        {"family", m_family, -EBADMSG},
        {"nanoseconds", m_nsec, -EBADMSG},
        {"seconds", m_sec, -EBADMSG},
        {"negative rms offset", m_neg_rms, -EBADMSG},
        {"negative skew", m_neg_skew, -EBADMSG},
        {"negative root delay", m_neg_delay, -EBADMSG},
        {"negative root dispersion", m_neg_disp, -EBADMSG},
        {"negative update interval", m_neg_interval, -EBADMSG},
        {"huge correction", m_huge_corr, -EBADMSG},
        {"huge last offset", m_huge_offset, -EBADMSG},
        {"huge root dispersion", m_huge_disp, -EBADMSG},
        {"huge root delay", m_huge_delay, -EBADMSG},
        {"huge frequency", m_huge_freq, -EBADMSG},
        {"huge residual frequency", m_huge_resid, -EBADMSG},
        {"huge skew", m_huge_skew, -EBADMSG},
        {"huge update interval", m_huge_interval, -EBADMSG},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fake_chrony_script s;
        fake_chrony_script_default(&s, REF_NS);
        cases[i].mangle(&s);
        struct chrony_tracking t;
        memset(&t, 0x5A, sizeof(t));
        const char *why = NULL;
        int rc = decode(&s, &t, &why);
        if (rc != cases[i].err) {
            fail_msg("case '%s': got %d, want %d (%s)", cases[i].name, rc, cases[i].err,
                     why ? why : "no reason");
        }
        assert_non_null(why);
        assert_true(strlen(why) > 0);
        /* Nothing written on failure. */
        assert_int_equal(t.ref_id, 0x5A5A5A5A);
    }
}

static void test_status_names(void **state)
{
    (void)state;
    struct fake_chrony_script s;
    fake_chrony_script_default(&s, REF_NS);
    m_status(&s);
    const char *why = NULL;
    struct chrony_tracking t;
    assert_int_equal(decode(&s, &t, &why), -EREMOTEIO);
    assert_string_equal(why, "unauthorised");
    assert_string_equal(chrony_status_name(19), "bad packet length");
    assert_string_equal(chrony_status_name(999), "unknown status");
}

/* Random mutations of a valid reply never crash, and whatever is accepted obeys the limits.
 * Runs under ASan/UBSan in CI. */
static void test_decode_random_mutations(void **state)
{
    (void)state;
    (void)test_seed("test_decode_random_mutations");
    struct fake_chrony_script s;
    fake_chrony_script_default(&s, REF_NS);
    uint8_t good[2048];
    size_t len;
    build(&s, good, &len);
    for (int iter = 0; iter < 200000; iter++) {
        uint8_t buf[CHRONY_TRACKING_LEN + 4];
        memcpy(buf, good, CHRONY_TRACKING_LEN);
        int flips = 1 + rand() % 4;
        for (int i = 0; i < flips; i++) {
            buf[rand() % CHRONY_TRACKING_LEN] = (uint8_t)rand();
        }
        size_t n = CHRONY_TRACKING_LEN;
        if (rand() % 16 == 0) {
            n = (size_t)(rand() % (int)sizeof(buf));
        }
        struct chrony_tracking t;
        const char *why = NULL;
        int rc = chrony_decode_tracking_reply(buf, n, SEQ, &t, &why);
        if (rc == 0) {
            assert_int_equal(n, CHRONY_TRACKING_LEN);
            assert_true(t.leap <= 3);
            assert_true(t.addr_family <= 3);
            assert_true(t.ref_time_ns >= 0);
            assert_true(t.root_delay_s.coef >= 0 && t.root_dispersion_s.coef >= 0);
            assert_true(t.skew_ppm.coef >= 0 && t.last_update_interval_s.coef >= 0);
            assert_true(chrony_float_to_double(t.root_dispersion_s) <= CHRONY_MAX_ABS_SECONDS);
        } else {
            assert_non_null(why);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_float_vectors),
        cmocka_unit_test(test_float_encoder_roundtrip),
        cmocka_unit_test(test_encode_request),
        cmocka_unit_test(test_decode_valid),
        cmocka_unit_test(test_decode_captured_reply),
        cmocka_unit_test(test_decode_nohighsec),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_decode_random_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* An independent ClockBound segment reader (see cbshm_reader.h). */
#include "cbshm_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SEGMENT_BYTES 80

int cbr_open(struct cbr *r, const char *path)
{
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        return -errno;
    }
    void *m = mmap(NULL, SEGMENT_BYTES, PROT_READ, MAP_SHARED, r->fd, 0);
    if (m == MAP_FAILED) {
        int err = errno;
        close(r->fd);
        return -err;
    }
    r->map = m;
    return 0;
}

void cbr_close(struct cbr *r)
{
    munmap((void *)(uintptr_t)r->map, SEGMENT_BYTES);
    close(r->fd);
}

static uint64_t u64_at(const uint8_t *p, int off)
{
    uint64_t v;
    memcpy(&v, p + off, 8);
    return v;
}
static uint32_t u32_at(const uint8_t *p, int off)
{
    uint32_t v;
    memcpy(&v, p + off, 4);
    return v;
}
static uint16_t u16_at(const uint8_t *p, int off)
{
    uint16_t v;
    memcpy(&v, p + off, 2);
    return v;
}

void cbr_parse(const uint8_t *p, struct cbr_record *o)
{
    o->magic0 = u32_at(p, 0);
    o->magic1 = u32_at(p, 4);
    o->size = u32_at(p, 8);
    o->version = u16_at(p, 12);
    o->generation = u16_at(p, 14);
    o->as_of_sec = (int64_t)u64_at(p, 16);
    o->as_of_nsec = (int64_t)u64_at(p, 24);
    o->void_after_sec = (int64_t)u64_at(p, 32);
    o->void_after_nsec = (int64_t)u64_at(p, 40);
    o->bound_nsec = (int64_t)u64_at(p, 48);
    o->disruption_marker = u64_at(p, 56);
    o->max_drift_ppb = u32_at(p, 64);
    o->status = (int32_t)u32_at(p, 68);
    o->disruption_support = p[72];
}

/* Eight bytes at a time with relaxed atomic loads: each field whole, the order from fences. */
static void copy(const struct cbr *r, uint8_t *buf)
{
    for (int off = 0; off < SEGMENT_BYTES; off += 8) {
        uint64_t v = __atomic_load_n((const uint64_t *)(const void *)(uintptr_t)(r->map + off),
                                     __ATOMIC_RELAXED);
        memcpy(buf + off, &v, 8);
    }
}

int cbr_read(const struct cbr *r, struct cbr_record *out, int tries)
{
    const uint16_t *gen = (const uint16_t *)(const void *)(uintptr_t)(r->map + 14);
    uint8_t buf[SEGMENT_BYTES];
    for (int i = 0; i < tries; i++) {
        uint16_t g1 = __atomic_load_n(gen, __ATOMIC_ACQUIRE);
        if (g1 == 0 || (g1 & 1) != 0) {
            continue;
        }
        copy(r, buf);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        uint16_t g2 = __atomic_load_n(gen, __ATOMIC_RELAXED);
        if (g1 == g2) {
            cbr_parse(buf, out);
            out->generation = g1;
            return 0;
        }
    }
    return -EAGAIN;
}

void cbr_read_unsafe(const struct cbr *r, struct cbr_record *out)
{
    uint8_t buf[SEGMENT_BYTES];
    copy(r, buf);
    cbr_parse(buf, out);
}

#define NS INT64_C(1000000000)
/* nix's TS_MAX_SECONDS on 64-bit targets. */
#define TS_MAX_SECONDS (INT64_MAX / NS - 1)

/* A timespec's num_nanoseconds() in nix: sec * 1e9 + nsec in i64. */
static bool ts_ns(int64_t sec, int64_t nsec, int64_t *out)
{
    int64_t s_ns;
    bool ovf = __builtin_mul_overflow(sec, NS, &s_ns);
    return __builtin_add_overflow(s_ns, nsec, out) || ovf;
}

/* TimeSpec::nanoseconds(ns): floor division; asserts the seconds are within range. */
static bool ts_from_ns(int64_t ns, int64_t *sec, int64_t *nsec)
{
    *sec = ns / NS;
    *nsec = ns % NS;
    if (*nsec < 0) {
        *nsec += NS;
        *sec -= 1;
    }
    return *sec < -TS_MAX_SECONDS || *sec > TS_MAX_SECONDS;
}

/* (duration_ns as f64 / 1e9 * ppb as f64) as i64: Rust's float-to-int cast saturates. */
static int64_t growth(int64_t duration_ns, uint32_t ppb)
{
    double g = (double)duration_ns / 1e9 * (double)ppb;
    if (g >= 9223372036854775807.0) {
        return INT64_MAX;
    }
    if (g <= -9223372036854775808.0) {
        return INT64_MIN;
    }
    return (int64_t)g; /* truncated toward zero, as `as i64` */
}

/* The elapsed time the reader uses: 0 within the causality blur before as_of. */
static int64_t elapsed_since(int64_t as_of, int64_t coarse_now_ns)
{
    return coarse_now_ns >= as_of ? coarse_now_ns - as_of : 0;
}

int64_t cbr_bound_at(const struct cbr_record *rec, int64_t coarse_now_ns)
{
    int64_t as_of = rec->as_of_sec * NS + rec->as_of_nsec;
    int64_t b;
    if (__builtin_add_overflow(
            rec->bound_nsec, growth(elapsed_since(as_of, coarse_now_ns), rec->max_drift_ppb), &b)) {
        return INT64_MAX;
    }
    return b;
}

bool cbr_trusted(enum cbr_status s)
{
    return s == CBR_SYNCHRONIZED || s == CBR_FREE_RUNNING;
}

int cbr_now(const struct cbr_record *rec, int64_t realtime_ns, int64_t coarse_now_ns,
            struct cbr_now *out)
{
    memset(out, 0, sizeof(*out));
    if (rec->max_drift_ppb >= 1000000000) {
        return -EPROTO;
    }
    if (rec->status < 0 || rec->status > 3) {
        return -EPROTO;
    }
    bool ovf = false;
    int64_t as_of = 0, void_after = 0, restart_until = 0;
    ovf |= ts_ns(rec->as_of_sec, rec->as_of_nsec, &as_of);
    ovf |= ts_ns(rec->void_after_sec, rec->void_after_nsec, &void_after);
    ovf |= __builtin_add_overflow(as_of, CBR_RESTART_GRACE_NS, &restart_until);
    /* Both comparisons strict: mono < as_of + 5 s, mono < void_after. */
    out->void_after_passed = !(coarse_now_ns < void_after);
    out->status = (enum cbr_status)rec->status;
    if (cbr_trusted(out->status) && !(coarse_now_ns < restart_until)) {
        out->status = out->void_after_passed ? CBR_UNKNOWN : CBR_FREE_RUNNING;
    }
    if (coarse_now_ns < as_of && !(coarse_now_ns > as_of - CBR_CAUSALITY_BLUR_NS)) {
        return -EDOM;
    }
    int64_t g = growth(elapsed_since(as_of, coarse_now_ns), rec->max_drift_ppb);
    ovf |= __builtin_add_overflow(rec->bound_nsec, g, &out->bound_ns);
    int64_t bs, bn, e, l;
    ovf |= ts_from_ns(out->bound_ns, &bs, &bn);
    ovf |= __builtin_sub_overflow(realtime_ns, out->bound_ns, &e);
    ovf |= __builtin_add_overflow(realtime_ns, out->bound_ns, &l);
    ovf |= ts_from_ns(e, &out->earliest_sec, &out->earliest_nsec);
    ovf |= ts_from_ns(l, &out->latest_sec, &out->latest_nsec);
    out->overflow = ovf;
    return ovf ? -EOVERFLOW : 0;
}

int cbr_width(const struct cbr_now *n, int64_t *width_ns)
{
    int64_t e, l;
    bool ovf = ts_ns(n->earliest_sec, n->earliest_nsec, &e);
    ovf |= ts_ns(n->latest_sec, n->latest_nsec, &l);
    ovf |= __builtin_sub_overflow(l, e, width_ns);
    return ovf ? -EOVERFLOW : 0;
}

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

int64_t cbr_bound_at(const struct cbr_record *rec, int64_t coarse_now_ns)
{
    int64_t as_of = rec->as_of_sec * 1000000000 + rec->as_of_nsec;
    int64_t elapsed = coarse_now_ns - as_of;
    if (elapsed < 0) {
        elapsed = 0;
    }
    /* Truncated, as ClockBound's reader does. */
    return rec->bound_nsec + elapsed * (int64_t)rec->max_drift_ppb / 1000000000;
}

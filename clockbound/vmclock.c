/*
 * VMClock reader. The layout is Linux's include/uapi/linux/vmclock-abi.h; the open checks
 * follow Linux's drivers/ptp/ptp_vmclock.c (vmclock_probe: magic, size within the region,
 * version == 1; vmclock_miscdev_mmap: one page, read-only, offset 0).
 *
 * Memory ordering. The writer is the hypervisor, on another CPU, outside this program; a test
 * stand-in is another thread or process. The writer's protocol (vmclock-abi.h, and QEMU's and
 * the VMClock specification's writers, smp_wmb() at each stage): store seq_count odd; barrier;
 * store the fields; barrier; store seq_count even. The reader:
 *
 *   s1 = load_acquire(seq_count); if s1 is odd: retry
 *   every field: load_acquire(field)
 *   s2 = load_relaxed(seq_count); if s2 != s1: retry
 *
 * - s1's acquire keeps the field loads after it: if s1 is the even value ending write k, every
 *   field read is write k's or later (never older).
 * - Each field load's acquire keeps the s2 load after it: if any field read is write k+1's
 *   (stored after k+1 made seq_count odd), then s2 reads k+1's odd value or later, which is not
 *   s1. So s1 == s2, even, means every field is write k's: one whole write.
 * In the C11 model (for the in-process writer of the tests): the writer stores seq_count odd,
 * then each field with release, then seq_count even with release. A field load (acquire) that
 * reads a field store (release) synchronises with it, so the odd store happens before s2, and
 * coherence gives s2 >= odd; the even store (release) read by s1 (acquire) makes write k's
 * fields visible to the field loads. (The reasoning is Boehm's, "Can seqlocks get along with
 * programming language memory models?", MSPC 2012, with acquire loads in place of his fence.)
 *
 * Acquire loads rather than relaxed loads and one acquire fence before s2 (the same ordering):
 * ThreadSanitizer does not model standalone fences (GCC rejects them under -fsanitize=thread),
 * so the fence version could not be checked by it. On x86 both compile to plain loads; on
 * arm64 to LDAR/LDAPR per field instead of one DMB ISHLD.
 *
 * Every load is an atomic load of the field's natural width at its natural alignment (the
 * mapping is page-aligned), so no field is itself torn, and the reader never has a data race
 * with an in-process writer. seq_count is a u32: a false match would need 2^31 writes between
 * two loads a few nanoseconds apart.
 */
#include "vmclock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Byte offsets in struct vmclock_abi. */
enum {
    OFF_MAGIC = 0,
    OFF_SIZE = 4,
    OFF_VERSION = 8, /* u16, then counter_id (10) and time_type (11) */
    OFF_SEQ = 12,
    OFF_BODY = 16, /* disruption_marker: the first of the 64-bit words under the seqcount */
};
#define BODY_WORDS     11 /* offsets 16 .. 96: disruption_marker .. time_maxerror_nanosec */
#define BODY_GEN_WORDS 12 /* ... and vm_generation_counter at 104 */

/* What is wrong with a header, in cb_vmclock_check()'s order. */
enum problem {
    OK,
    TOO_SHORT,
    BAD_MAGIC,
    BAD_VERSION,
    SIZE_SMALL,
    SIZE_LARGE,
};

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static enum problem inspect(const uint8_t *page, size_t len, struct cb_vmclock_header *hdr)
{
    memset(hdr, 0, sizeof(*hdr));
    if (len >= 12) {
        hdr->magic = get_le32(page + OFF_MAGIC);
        hdr->size = get_le32(page + OFF_SIZE);
        hdr->version = get_le16(page + OFF_VERSION);
        hdr->counter_id = page[10];
        hdr->time_type = page[11];
    }
    if (len < CB_VMCLOCK_ABI_LEN) {
        return TOO_SHORT;
    }
    if (hdr->magic != CB_VMCLOCK_MAGIC) {
        return BAD_MAGIC;
    }
    if (hdr->version != CB_VMCLOCK_VERSION) {
        return BAD_VERSION;
    }
    if (hdr->size < CB_VMCLOCK_ABI_LEN) {
        return SIZE_SMALL;
    }
    if (hdr->size > len) {
        return SIZE_LARGE;
    }
    return OK;
}

static int problem_errno(enum problem p)
{
    switch (p) {
    case OK:
        return 0;
    case TOO_SHORT:
        return -EMSGSIZE;
    case BAD_MAGIC:
        return -EPROTO;
    case BAD_VERSION:
        return -EPROTONOSUPPORT;
    case SIZE_SMALL:
    case SIZE_LARGE:
        return -EPROTO;
    }
    return -EPROTO;
}

static const char *problem_text(enum problem p)
{
    switch (p) {
    case OK:
        return "valid VMClock page";
    case TOO_SHORT:
        return "page is shorter than the 104-byte VMClock structure";
    case BAD_MAGIC:
        return "bad magic (not a VMClock page)";
    case BAD_VERSION:
        return "unsupported version (only version 1 is defined)";
    case SIZE_SMALL:
        return "size field is smaller than the 104-byte VMClock structure";
    case SIZE_LARGE:
        return "size field is larger than the bytes mapped";
    }
    return "invalid VMClock page";
}

int cb_vmclock_check(const uint8_t *page, size_t len, struct cb_vmclock_header *hdr,
                     const char **why)
{
    struct cb_vmclock_header h;
    enum problem p = inspect(page, len, &h);
    if (hdr != NULL) {
        *hdr = h;
    }
    if (why != NULL) {
        *why = problem_text(p);
    }
    return problem_errno(p);
}

/* The same failure as a sentence with the values, for the open functions. */
static void describe(enum problem p, const char *name, const struct cb_vmclock_header *h,
                     size_t len, char *why, size_t why_len)
{
    switch (p) {
    case OK:
        snprintf(why, why_len, "%s: valid VMClock page", name);
        return;
    case TOO_SHORT:
        snprintf(why, why_len, "%s: %zu bytes, shorter than the %d-byte VMClock structure", name,
                 len, CB_VMCLOCK_ABI_LEN);
        return;
    case BAD_MAGIC:
        snprintf(why, why_len, "%s: bad magic 0x%08x, expected 0x%08x (not a VMClock page)", name,
                 (unsigned)h->magic, (unsigned)CB_VMCLOCK_MAGIC);
        return;
    case BAD_VERSION:
        snprintf(why, why_len,
                 "%s: unsupported VMClock version %u (only version %d is defined, and another "
                 "version's fields are not read as version %d's)",
                 name, (unsigned)h->version, CB_VMCLOCK_VERSION, CB_VMCLOCK_VERSION);
        return;
    case SIZE_SMALL:
        snprintf(why, why_len, "%s: size field %u is smaller than the %d-byte VMClock structure",
                 name, (unsigned)h->size, CB_VMCLOCK_ABI_LEN);
        return;
    case SIZE_LARGE:
        snprintf(why, why_len, "%s: size field %u is larger than the %zu bytes mapped", name,
                 (unsigned)h->size, len);
        return;
    }
}

static void set_closed(struct cb_vmclock *vc)
{
    memset(vc, 0, sizeof(*vc));
    vc->fd = -1;
}

/* Checks the page at map and, if valid, makes vc use it. */
static int attach(struct cb_vmclock *vc, const uint8_t *map, size_t len, const char *name,
                  char *why, size_t why_len)
{
    struct cb_vmclock_header h;
    enum problem p = inspect(map, len, &h);
    if (p != OK) {
        if (why != NULL && why_len > 0) {
            describe(p, name, &h, len, why, why_len);
        }
        return problem_errno(p);
    }
    vc->map = map;
    vc->len = len;
    vc->header = h;
    return 0;
}

/* Writes the sentence (when why is given) and returns err. */
__attribute__((format(printf, 4, 5))) static int failf(char *why, size_t why_len, int err,
                                                       const char *fmt, ...)
{
    if (why != NULL && why_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return err;
}

int cb_vmclock_open(struct cb_vmclock *vc, const char *path, char *why, size_t why_len)
{
    set_closed(vc);
    if (path == NULL) {
        path = CB_VMCLOCK_DEFAULT_PATH;
    }
    if (strlen(path) >= sizeof(vc->path)) {
        return failf(why, why_len, -ENAMETOOLONG, "%.64s...: path longer than %d bytes", path,
                     CB_VMCLOCK_PATH_MAX - 1);
    }
    int err = 0;
    void *map = MAP_FAILED;
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err = -errno;
        if (err == -ENOENT) {
            failf(why, why_len, err,
                  "%s: no such file (no VMClock here: the hypervisor offers none, or the kernel "
                  "has no ptp_vmclock driver)",
                  path);
        } else if (err == -EACCES) {
            failf(why, why_len, err,
                  "%s: permission denied (the device is readable by root only unless made "
                  "readable: chmod a+r, or a udev rule)",
                  path);
        } else {
            failf(why, why_len, err, "%s: cannot open: %s", path, strerror(-err));
        }
        goto fail;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        err = -errno;
        failf(why, why_len, err, "%s: fstat: %s", path, strerror(-err));
        goto fail;
    }
    if (S_ISCHR(st.st_mode)) {
        /* The device reports st_size 0; its driver maps exactly one page. */
        long page = sysconf(_SC_PAGESIZE);
        len = page > 0 ? (size_t)page : 4096;
    } else if (S_ISREG(st.st_mode)) {
        if (st.st_size < CB_VMCLOCK_ABI_LEN) {
            err = failf(why, why_len, -EMSGSIZE,
                        "%s: %lld bytes, shorter than the %d-byte VMClock structure", path,
                        (long long)st.st_size, CB_VMCLOCK_ABI_LEN);
            goto fail;
        }
        if (st.st_size > CB_VMCLOCK_MAP_MAX) {
            err = failf(why, why_len, -EFBIG,
                        "%s: %lld bytes, more than the %d a VMClock page can be", path,
                        (long long)st.st_size, CB_VMCLOCK_MAP_MAX);
            goto fail;
        }
        len = (size_t)st.st_size;
    } else {
        err =
            failf(why, why_len, -ENODEV, "%s: neither a character device nor a regular file", path);
        goto fail;
    }
    map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        err = -errno;
        failf(why, why_len, err, "%s: mmap of %zu bytes: %s", path, len, strerror(-err));
        goto fail;
    }
    err = attach(vc, map, len, path, why, why_len);
    if (err != 0) {
        goto fail;
    }
    vc->fd = fd;
    vc->mapped = true;
    memcpy(vc->path, path, strlen(path) + 1);
    return 0;

fail:
    if (map != MAP_FAILED) {
        munmap(map, len);
    }
    if (fd >= 0) {
        close(fd);
    }
    set_closed(vc);
    return err;
}

int cb_vmclock_open_mem(struct cb_vmclock *vc, const void *page, size_t len, char *why,
                        size_t why_len)
{
    set_closed(vc);
    if (page == NULL || (uintptr_t)page % 8 != 0) {
        return failf(why, why_len, -EINVAL, "memory page: %s",
                     page == NULL ? "NULL" : "not 8-byte aligned");
    }
    int err = attach(vc, page, len, "memory page", why, why_len);
    if (err != 0) {
        set_closed(vc);
    }
    return err;
}

void cb_vmclock_close(struct cb_vmclock *vc)
{
    if (vc->map == NULL) {
        return;
    }
    if (vc->mapped) {
        /* The mapping is read-only; munmap drops the const the pointer carries. */
        void *p;
        memcpy(&p, &vc->map, sizeof(p));
        munmap(p, vc->len);
    }
    if (vc->fd >= 0) {
        close(vc->fd);
    }
    set_closed(vc);
}

/* A hint to the CPU that this is a spin-wait (frees the core for a sibling hyperthread). */
static inline void cpu_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

static inline uint32_t load_seq(const uint8_t *map, int order)
{
    return __atomic_load_n((const uint32_t *)(const void *)(map + OFF_SEQ), order);
}

static inline uint64_t load_word(const uint8_t *map, size_t off)
{
    return __atomic_load_n((const uint64_t *)(const void *)(map + off), __ATOMIC_ACQUIRE);
}

int cb_vmclock__marker_retry(const struct cb_vmclock *vc, uint64_t *marker)
{
    if (vc->map == NULL) {
        return -EBADF;
    }
    /* cb_vmclock_marker() made the first attempt. */
    for (int i = 1; i < CB_VMCLOCK_MARKER_TRIES; i++) {
        cpu_pause();
        uint32_t s1 = load_seq(vc->map, __ATOMIC_ACQUIRE);
        if ((cb_vmclock__le32(s1) & 1u) != 0) {
            continue;
        }
        uint64_t m = load_word(vc->map, OFF_BODY);
        uint32_t s2 = load_seq(vc->map, __ATOMIC_RELAXED);
        if (s1 == s2) {
            *marker = cb_vmclock__le64(m);
            return 0;
        }
    }
    return -EAGAIN;
}

static uint8_t byte_of(uint64_t v, unsigned i)
{
    return (uint8_t)(v >> (8 * i));
}

/* The words, read as little-endian u64 from offsets 16, 24, ..., into the snapshot. */
static void decode_body(const uint64_t *w, size_t n, struct cb_vmclock_snapshot *s)
{
    s->disruption_marker = w[0];
    s->flags = w[1];
    /* offset 32: pad[2], clock_status, leap_second_smearing_hint, tai_offset_sec (i16),
     * leap_indicator, counter_period_shift */
    s->clock_status = byte_of(w[2], 2);
    s->leap_second_smearing_hint = byte_of(w[2], 3);
    uint16_t tai = (uint16_t)(byte_of(w[2], 4) | byte_of(w[2], 5) << 8);
    s->tai_offset_sec = (int16_t)(tai < 0x8000 ? (int32_t)tai : (int32_t)tai - 0x10000);
    s->leap_indicator = byte_of(w[2], 6);
    s->counter_period_shift = byte_of(w[2], 7);
    s->counter_value = w[3];
    s->counter_period_frac_sec = w[4];
    s->counter_period_esterror_rate_frac_sec = w[5];
    s->counter_period_maxerror_rate_frac_sec = w[6];
    s->time_sec = w[7];
    s->time_frac_sec = w[8];
    s->time_esterror_nanosec = w[9];
    s->time_maxerror_nanosec = w[10];
    s->has_vm_generation_counter =
        n > BODY_WORDS && (s->flags & CB_VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT) != 0;
    s->vm_generation_counter = s->has_vm_generation_counter ? w[11] : 0;
}

int cb_vmclock_snapshot(const struct cb_vmclock *vc, struct cb_vmclock_snapshot *out)
{
    if (vc->map == NULL) {
        return -EBADF;
    }
    const uint8_t *map = vc->map;
    /* The constant fields, whole: a page reset or replaced under us is not read as VMClock. */
    uint32_t magic = cb_vmclock__le32(
        __atomic_load_n((const uint32_t *)(const void *)(map + OFF_MAGIC), __ATOMIC_RELAXED));
    uint32_t ver_ids = cb_vmclock__le32(
        __atomic_load_n((const uint32_t *)(const void *)(map + OFF_VERSION), __ATOMIC_RELAXED));
    if (magic != CB_VMCLOCK_MAGIC || (ver_ids & 0xffffu) != CB_VMCLOCK_VERSION) {
        return -EPROTO;
    }
    size_t n = vc->len >= CB_VMCLOCK_GEN_LEN ? BODY_GEN_WORDS : BODY_WORDS;
    uint64_t w[BODY_GEN_WORDS];
    for (int i = 0; i < CB_VMCLOCK_SNAPSHOT_TRIES; i++) {
        if (i > 0) {
            cpu_pause();
        }
        uint32_t s1 = load_seq(map, __ATOMIC_ACQUIRE);
        if ((cb_vmclock__le32(s1) & 1u) != 0) {
            continue;
        }
        for (size_t k = 0; k < n; k++) {
            w[k] = load_word(map, OFF_BODY + 8 * k);
        }
        uint32_t s2 = load_seq(map, __ATOMIC_RELAXED);
        if (s1 != s2) {
            continue;
        }
        for (size_t k = 0; k < n; k++) {
            w[k] = cb_vmclock__le64(w[k]);
        }
        struct cb_vmclock_snapshot s;
        memset(&s, 0, sizeof(s));
        s.seq_count = cb_vmclock__le32(s1);
        s.header.magic = magic;
        s.header.size = vc->header.size;
        s.header.version = (uint16_t)(ver_ids & 0xffffu);
        s.header.counter_id = (uint8_t)(ver_ids >> 16);
        s.header.time_type = (uint8_t)(ver_ids >> 24);
        decode_body(w, n, &s);
        *out = s;
        return 0;
    }
    return -EAGAIN;
}

const char *cb_vmclock_status_name(unsigned status)
{
    switch (status) {
    case CB_VMCLOCK_STATUS_UNKNOWN:
        return "UNKNOWN";
    case CB_VMCLOCK_STATUS_INITIALIZING:
        return "INITIALIZING";
    case CB_VMCLOCK_STATUS_SYNCHRONIZED:
        return "SYNCHRONIZED";
    case CB_VMCLOCK_STATUS_FREERUNNING:
        return "FREERUNNING";
    case CB_VMCLOCK_STATUS_UNRELIABLE:
        return "UNRELIABLE";
    }
    return "INVALID";
}

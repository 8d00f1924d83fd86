/*
 * VMClock reader (DESIGN.md section 2, "VMClock"): the hypervisor's clock page, /dev/vmclock0,
 * mapped read-only, and its disruption_marker, which changes when the VM's clock was disrupted
 * (live migration, a restore from a snapshot) in a way that moves REALTIME and MONOTONIC
 * together, so the step detector cannot see it.
 *
 * The page is Linux's struct vmclock_abi (include/uapi/linux/vmclock-abi.h), little-endian:
 *
 *   0 magic u32 ("VCLK")    4 size u32    8 version u16    10 counter_id u8   11 time_type u8
 *  12 seq_count u32        16 disruption_marker u64        24 flags u64
 *  32 pad[2]  34 clock_status u8  35 leap_second_smearing_hint u8  36 tai_offset_sec i16
 *  38 leap_indicator u8    39 counter_period_shift u8      40 counter_value u64
 *  48 counter_period_frac_sec u64   56 counter_period_esterror_rate_frac_sec u64
 *  64 counter_period_maxerror_rate_frac_sec u64             72 time_sec u64
 *  80 time_frac_sec u64    88 time_esterror_nanosec u64     96 time_maxerror_nanosec u64
 * 104 vm_generation_counter u64 (later kernels; present when flags bit 8 is set)
 *
 * Bytes 0..11 never change. The rest are written under seq_count, a seqcount: the writer makes
 * it odd, writes the fields, makes it even again. cb_vmclock_snapshot() and cb_vmclock_marker()
 * accept a copy only when seq_count was even and unchanged across it, so a half-written page is
 * never returned as data; when every bounded attempt meets a write they return -EAGAIN.
 *
 * cb_vmclock_check() is pure. cb_vmclock_open() is the I/O edge: open, fstat, mmap. The readers
 * are loads from the mapping: no system call, no clock read, no allocation.
 */
#ifndef CLOCKBOUND_VMCLOCK_H
#define CLOCKBOUND_VMCLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CB_VMCLOCK_DEFAULT_PATH "/dev/vmclock0"
#define CB_VMCLOCK_MAGIC        0x4b4c4356u /* "VCLK" read as a little-endian u32 */
#define CB_VMCLOCK_VERSION      1
#define CB_VMCLOCK_ABI_LEN      104 /* struct vmclock_abi version 1, through time_maxerror */
#define CB_VMCLOCK_GEN_LEN      112 /* ... and vm_generation_counter */
#define CB_VMCLOCK_PATH_MAX     256
/* Largest regular file cb_vmclock_open() maps (a stand-in for the device; the device itself is
 * one page). The ABI's size field is a u32; nothing real is near this. */
#define CB_VMCLOCK_MAP_MAX (1024 * 1024)

/*
 * Read attempts before -EAGAIN. Each attempt that meets a write in progress (seq_count odd, or
 * changed across the copy) is followed by a CPU pause hint (x86 PAUSE, arm64 YIELD); no clock
 * is read, so the budget is a count. The VMClock specification asks the hypervisor to keep
 * seq_count odd only for as short a time as "it is reasonable for a guest to spin".
 * test_vmclock prints what a page held odd costs: for the marker, a few microseconds; for a
 * snapshot, a few tens of microseconds.
 */
#define CB_VMCLOCK_MARKER_TRIES   64   /* cb_vmclock_marker(): the timestamp hot path */
#define CB_VMCLOCK_SNAPSHOT_TRIES 1024 /* cb_vmclock_snapshot(): once per poll */

/* flags (vmclock-abi.h VMCLOCK_FLAG_*) */
#define CB_VMCLOCK_FLAG_TAI_OFFSET_VALID       (UINT64_C(1) << 0)
#define CB_VMCLOCK_FLAG_DISRUPTION_SOON        (UINT64_C(1) << 1) /* "about a day" */
#define CB_VMCLOCK_FLAG_DISRUPTION_IMMINENT    (UINT64_C(1) << 2) /* "about an hour" */
#define CB_VMCLOCK_FLAG_PERIOD_ESTERROR_VALID  (UINT64_C(1) << 3)
#define CB_VMCLOCK_FLAG_PERIOD_MAXERROR_VALID  (UINT64_C(1) << 4)
#define CB_VMCLOCK_FLAG_TIME_ESTERROR_VALID    (UINT64_C(1) << 5)
#define CB_VMCLOCK_FLAG_TIME_MAXERROR_VALID    (UINT64_C(1) << 6)
#define CB_VMCLOCK_FLAG_TIME_MONOTONIC         (UINT64_C(1) << 7)
#define CB_VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT (UINT64_C(1) << 8)
#define CB_VMCLOCK_FLAG_NOTIFICATION_PRESENT   (UINT64_C(1) << 9)

/* clock_status (vmclock-abi.h VMCLOCK_STATUS_*) */
enum cb_vmclock_status {
    CB_VMCLOCK_STATUS_UNKNOWN = 0,
    CB_VMCLOCK_STATUS_INITIALIZING = 1,
    CB_VMCLOCK_STATUS_SYNCHRONIZED = 2,
    CB_VMCLOCK_STATUS_FREERUNNING = 3,
    CB_VMCLOCK_STATUS_UNRELIABLE = 4,
};
#define CB_VMCLOCK_STATUS_COUNT 5 /* values 0 .. COUNT-1 have names */

/*
 * The ABI's name for a clock_status value without its prefix: "UNKNOWN", "INITIALIZING",
 * "SYNCHRONIZED", "FREERUNNING", "UNRELIABLE"; "INVALID" for any other value (the byte comes
 * from the hypervisor). Static strings, for logs, /healthz and metric labels. FREERUNNING is
 * the ABI's spelling, kept so it is not mistaken for oracled's own FREE_RUNNING.
 */
const char *cb_vmclock_status_name(unsigned status);

/* The constant fields, bytes 0..11, decoded. */
struct cb_vmclock_header {
    uint32_t magic;
    uint32_t size; /* "size of region containing this structure" */
    uint16_t version;
    uint8_t counter_id; /* 0 arm64 virtual counter, 1 x86 TSC, 0xff none */
    uint8_t time_type;  /* 0 UTC, 1 TAI, 2 monotonic */
};

/*
 * Checks the constant fields of a page of len bytes at page, in this order:
 *  - len >= 104 (CB_VMCLOCK_ABI_LEN), else -EMSGSIZE;
 *  - magic == 0x4b4c4356, else -EPROTO;
 *  - version == 1, else -EPROTONOSUPPORT. Exactly 1, not "any nonzero": version 1 is the only
 *    layout defined, Linux's driver refuses any other at probe, and the VMClock specification
 *    says a change of behaviour would come with a new version. Reading another version's page
 *    as version 1 could take a field that never changes for the disruption marker and miss
 *    every disruption, so an unknown version is refused, not guessed at;
 *  - size >= 104, else -EPROTO: the page says it is smaller than the structure;
 *  - size <= len, else -EPROTO: the page says its region is larger than what was mapped (the
 *    device maps one page; Linux's driver checks the same against its region at probe).
 * Returns 0, or the first failure's negative errno with *why (if non-NULL) a static sentence
 * naming it. *hdr (if non-NULL) gets whatever could be decoded (all of it when len >= 12, else
 * zeros), so the caller can print the values. Reads only bytes 0..11, which never change, so
 * page may be a live mapping.
 */
int cb_vmclock_check(const uint8_t *page, size_t len, struct cb_vmclock_header *hdr,
                     const char **why);

/*
 * An open VMClock page. A zeroed struct is closed; fd means something only while map is not
 * NULL. Fields are read-only for callers.
 */
struct cb_vmclock {
    int fd;                          /* O_RDONLY descriptor, -1 for none (cb_vmclock_open_mem) */
    const uint8_t *map;              /* the page; NULL when closed */
    size_t len;                      /* bytes mapped (or lent) */
    bool mapped;                     /* map came from mmap: cb_vmclock_close() unmaps it */
    struct cb_vmclock_header header; /* as checked at open */
    char path[CB_VMCLOCK_PATH_MAX];  /* "" for cb_vmclock_open_mem */
};

/*
 * Opens path (NULL: /dev/vmclock0) O_RDONLY|O_CLOEXEC and maps it PROT_READ, MAP_SHARED, whole:
 * a character device as one page (sysconf(_SC_PAGESIZE)): it reports st_size 0, and Linux's
 * driver maps exactly one page, read-only, at offset 0, and refuses anything else; a regular
 * file (a stand-in, tests/support/fake_vmclock.c) as its st_size bytes, from 104 to
 * CB_VMCLOCK_MAP_MAX. Then checks the header with cb_vmclock_check().
 *
 * Returns 0 with vc open, or a negative errno with vc closed and why (why_len bytes, may be
 * NULL) a sentence naming the path and what is wrong, with the values: -ENOENT (no such
 * device), -EACCES (not readable by this user; the device is root-only by default), -ENODEV
 * (neither a regular file nor a character device), -EMSGSIZE (shorter than 104 bytes),
 * -EFBIG, -ENAMETOOLONG, cb_vmclock_check()'s errors, or open/fstat/mmap's errno.
 *
 * The descriptor stays open until cb_vmclock_close(). (Later Linux drivers let poll(2) on it
 * report an update when the hypervisor notifies them, flags bit 9; this module does not use
 * that.) vc must be closed (or zeroed) beforehand.
 */
int cb_vmclock_open(struct cb_vmclock *vc, const char *path, char *why, size_t why_len);

/*
 * Uses len bytes at page, which another thread may be writing as the hypervisor would, as the
 * page: for tests, and for a page mapped by other means. page must be 8-byte aligned (the
 * readers load 64-bit fields atomically) and stays the caller's: borrowed until
 * cb_vmclock_close(), which does not free it. Returns 0, -EINVAL (misaligned), or
 * cb_vmclock_check()'s errors, with why as cb_vmclock_open().
 */
int cb_vmclock_open_mem(struct cb_vmclock *vc, const void *page, size_t len, char *why,
                        size_t why_len);

/* Unmaps and closes what cb_vmclock_open() opened. A zeroed or closed vc is a no-op. */
void cb_vmclock_close(struct cb_vmclock *vc);

/* One consistent copy of the page: every field from the same write. */
struct cb_vmclock_snapshot {
    uint32_t seq_count; /* even: which write this copy is */
    struct cb_vmclock_header header;
    uint64_t disruption_marker;
    uint64_t flags;       /* CB_VMCLOCK_FLAG_* */
    uint8_t clock_status; /* enum cb_vmclock_status, or any value the hypervisor wrote */
    uint8_t leap_second_smearing_hint;
    int16_t tai_offset_sec;
    uint8_t leap_indicator;
    uint8_t counter_period_shift;
    uint64_t counter_value;
    uint64_t counter_period_frac_sec;
    uint64_t counter_period_esterror_rate_frac_sec;
    uint64_t counter_period_maxerror_rate_frac_sec;
    uint64_t time_sec;
    uint64_t time_frac_sec;
    uint64_t time_esterror_nanosec;
    uint64_t time_maxerror_nanosec;
    bool has_vm_generation_counter; /* flags bit 8 set and the mapping holds byte 111 */
    uint64_t vm_generation_counter; /* 0 unless has_vm_generation_counter */
};

/*
 * Copies the page under the seqcount: seq_count even and the same before and after the copy,
 * up to CB_VMCLOCK_SNAPSHOT_TRIES attempts. Returns 0 with *out filled; -EAGAIN when every
 * attempt met a write in progress; -EPROTO when magic or version is no longer what open
 * checked (the page was reset or replaced); -EBADF when vc is closed. *out is written only on
 * success: a half-written page is never returned.
 */
int cb_vmclock_snapshot(const struct cb_vmclock *vc, struct cb_vmclock_snapshot *out);

/* Internal: cb_vmclock_marker()'s retries. */
int cb_vmclock__marker_retry(const struct cb_vmclock *vc, uint64_t *marker);

static inline uint32_t cb_vmclock__le32(uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return __builtin_bswap32(v);
#else
    return v;
#endif
}

static inline uint64_t cb_vmclock__le64(uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return __builtin_bswap64(v);
#else
    return v;
#endif
}

/*
 * The disruption marker alone, for every timestamp issued: with the same guarantee as
 * cb_vmclock_snapshot() (seq_count even and unchanged across the read), in three loads from
 * one cache line when no write is in progress (on x86 three plain loads). Returns 0 with
 * *marker set; -EAGAIN when CB_VMCLOCK_MARKER_TRIES attempts all met a write in progress (the
 * marker may be changing: treat as not knowing whether the clock was disrupted); -EBADF when
 * vc is closed. *marker is written only on success.
 *
 * Memory ordering: see the comment at the top of vmclock.c.
 */
static inline int cb_vmclock_marker(const struct cb_vmclock *vc, uint64_t *marker)
{
    if (vc->map != NULL) {
        const uint32_t *seq = (const uint32_t *)(const void *)(vc->map + 12);
        const uint64_t *mk = (const uint64_t *)(const void *)(vc->map + 16);
        uint32_t s1 = __atomic_load_n(seq, __ATOMIC_ACQUIRE);
        uint64_t m = __atomic_load_n(mk, __ATOMIC_ACQUIRE);
        uint32_t s2 = __atomic_load_n(seq, __ATOMIC_RELAXED);
        if (s1 == s2 && (cb_vmclock__le32(s1) & 1u) == 0) {
            *marker = cb_vmclock__le64(m);
            return 0;
        }
    }
    return cb_vmclock__marker_retry(vc, marker);
}

#endif

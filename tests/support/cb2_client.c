/*
 * cb2-client: what AWS ClockBound 2.x's client returns on a host whose segment has clock
 * disruption support on: clock-bound-vmclock/src/lib.rs VMClock::now (2.0.2, read for the facts
 * only) reads the ClockBound segment (status and bound as compute_bound_at gives them: here
 * cbshm_reader's cbr_now) and, when the segment's clock_disruption_support_enabled is set, the
 * VMClock page's disruption_marker; when the two markers differ it returns UNKNOWN, whatever the
 * segment says. The VMClock page is read here from the ABI's offsets (magic @0, seq_count @12,
 * disruption_marker @16, little-endian), under its seqcount, independently of
 * clockbound/vmclock.c.
 *
 *   cb2-client SHM VMCLOCK
 *
 * Prints one line: "status NAME segment_marker M vmclock_marker N support S record NAME bound B"
 * (record: the segment's own status, before the marker comparison) and exits 0, or 2 when a
 * file cannot be read.
 */
#include <endian.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cbshm_reader.h"
#include "it_util.h"

/* The VMClock page's marker under its seqcount; 0, or -1 when unreadable or always mid-write. */
static int vmclock_marker(const char *path, uint64_t *marker)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    long page = sysconf(_SC_PAGESIZE);
    const uint8_t *map = mmap(NULL, (size_t)page, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        return -1;
    }
    int rc = -1;
    uint32_t magic;
    memcpy(&magic, map, 4);
    if (le32toh(magic) == 0x4b4c4356u) {
        for (int i = 0; i < 1000 && rc != 0; i++) {
            uint32_t s1 =
                __atomic_load_n((const uint32_t *)(const void *)(map + 12), __ATOMIC_ACQUIRE);
            uint64_t m =
                __atomic_load_n((const uint64_t *)(const void *)(map + 16), __ATOMIC_ACQUIRE);
            uint32_t s2 =
                __atomic_load_n((const uint32_t *)(const void *)(map + 12), __ATOMIC_RELAXED);
            if (s1 == s2 && (le32toh(s1) & 1) == 0) {
                *marker = le64toh(m);
                rc = 0;
            }
        }
    }
    munmap((void *)(uintptr_t)map, (size_t)page);
    return rc;
}

static const char *name(enum cbr_status s)
{
    switch (s) {
    case CBR_UNKNOWN:
        return "UNKNOWN";
    case CBR_SYNCHRONIZED:
        return "SYNCHRONIZED";
    case CBR_FREE_RUNNING:
        return "FREE_RUNNING";
    case CBR_DISRUPTED:
        return "DISRUPTED";
    }
    return "?";
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: cb2-client SHM VMCLOCK\n");
        return 2;
    }
    struct cbr r;
    if (cbr_open(&r, argv[1]) < 0) {
        fprintf(stderr, "cb2-client: cannot map %s\n", argv[1]);
        return 2;
    }
    struct cbr_record rec;
    if (cbr_read(&r, &rec, 1000) < 0) {
        fprintf(stderr, "cb2-client: %s is always being written\n", argv[1]);
        cbr_close(&r);
        return 2;
    }
    cbr_close(&r);
    struct cbr_now now;
    if (cbr_now(&rec, it_clock_ns(CLOCK_REALTIME), it_clock_ns(CLOCK_MONOTONIC_COARSE), &now) < 0) {
        fprintf(stderr, "cb2-client: the reader refuses the record\n");
        return 2;
    }
    uint64_t vm = 0;
    enum cbr_status status = now.status;
    if (rec.disruption_support) {
        if (vmclock_marker(argv[2], &vm) < 0) {
            fprintf(stderr, "cb2-client: cannot read the VMClock page %s\n", argv[2]);
            return 2;
        }
        if (vm != rec.disruption_marker) {
            status = CBR_UNKNOWN;
        }
    }
    printf("status %s segment_marker %" PRIu64 " vmclock_marker %" PRIu64
           " support %u record %s bound %" PRId64 "\n",
           name(status), rec.disruption_marker, vm, (unsigned)rec.disruption_support,
           name(now.status), now.bound_ns);
    return 0;
}

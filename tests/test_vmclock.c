/*
 * Unit tests: the VMClock reader (clockbound/vmclock.c). Pages are written here byte by byte at
 * the ABI's offsets (spelt out, not taken from vmclock.c); torn writes come from a writer thread
 * in this process (ThreadSanitizer sees both sides) and from tests/support/fake_vmclock in
 * another (its path in $FAKE_VMCLOCK; those tests are skipped without it).
 *
 * The race tests are checked by a negative control: the same harness, the same writer, a reader
 * that skips the second seq_count check must be caught returning a torn snapshot.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmclock.h"

#define S INT64_C(1000000000)

/* Offsets in struct vmclock_abi (include/uapi/linux/vmclock-abi.h). */
#define O_MAGIC     0
#define O_SIZE      4
#define O_VERSION   8
#define O_COUNTER   10
#define O_TIME_TYPE 11
#define O_SEQ       12
#define O_MARKER    16
#define O_FLAGS     24
#define O_STATUS    34
#define O_SMEAR     35
#define O_TAI       36
#define O_LEAP      38
#define O_SHIFT     39
#define O_CVALUE    40
#define O_PERIOD    48
#define O_PEST      56
#define O_PMAX      64
#define O_TSEC      72
#define O_TFRAC     80
#define O_TEST      88
#define O_TMAX      96
#define O_GEN       104

#define PAGE_LEN 4096

static char dir[64];
static char path[128];
static pid_t child; /* a fake_vmclock still running: teardown kills it if a test failed */

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_vmclock.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(path, sizeof(path), "%s/vmclock0", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        child = 0;
    }
    unlink(path);
    rmdir(dir);
    return 0;
}

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * S + t.tv_nsec;
}

static bool under_valgrind(void)
{
    const char *preload = getenv("LD_PRELOAD");
    return preload != NULL && strstr(preload, "vgpreload") != NULL;
}

static void put16(uint8_t *p, size_t off, uint16_t v)
{
    p[off] = (uint8_t)v;
    p[off + 1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, size_t off, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[off + (size_t)i] = (uint8_t)(v >> (8 * i));
    }
}

static void put64(uint8_t *p, size_t off, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[off + (size_t)i] = (uint8_t)(v >> (8 * i));
    }
}

/* The first 12 bytes of a valid page whose region is 4096 bytes: "VCLK", size 4096, version 1,
 * counter_id 1 (x86 TSC), time_type 1 (TAI). */
static const uint8_t good_header[12] = {0x56, 0x43, 0x4c, 0x4b, 0x00, 0x10,
                                        0x00, 0x00, 0x01, 0x00, 0x01, 0x01};

/* A valid page with every field set to a distinct value, seq_count 2. */
static void fill_page(uint8_t *p, size_t len)
{
    memset(p, 0, len);
    memcpy(p, good_header, sizeof(good_header));
    put32(p, O_SIZE, (uint32_t)len);
    put32(p, O_SEQ, 2);
    put64(p, O_MARKER, UINT64_C(0x1122334455667788));
    put64(p, O_FLAGS, UINT64_C(0x61)); /* TAI offset, time esterror and maxerror valid */
    p[O_STATUS] = 2;
    p[O_SMEAR] = 1;
    put16(p, O_TAI, 37);
    p[O_LEAP] = 1;
    p[O_SHIFT] = 29;
    put64(p, O_CVALUE, UINT64_C(0x0102030405060708));
    put64(p, O_PERIOD, UINT64_C(0x89705f4136b4a597));
    put64(p, O_PEST, 1111);
    put64(p, O_PMAX, 2222);
    put64(p, O_TSEC, UINT64_C(1795620000));
    put64(p, O_TFRAC, UINT64_C(0x8000000000000000));
    put64(p, O_TEST, 12345);
    put64(p, O_TMAX, 67890);
    if (len >= O_GEN + 8) {
        put64(p, O_GEN, UINT64_C(0xabcdef));
    }
}

static void write_file(const char *p, const uint8_t *buf, size_t len)
{
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

/* A page-sized, 8-byte-aligned buffer for in-memory pages. */
static uint64_t mem_words[PAGE_LEN / 8];
#define MEM ((uint8_t *)mem_words)

/* ---- cb_vmclock_check: exact bytes ---- */

struct check_case {
    const char *name;
    uint8_t header[12];
    size_t len;
    int err;
    const char *why;
};

static void test_check_header(void **state)
{
    (void)state;
    static const struct check_case cases[] = {
        {"valid, region 4096",
         {0x56, 0x43, 0x4c, 0x4b, 0x00, 0x10, 0x00, 0x00, 0x01, 0x00, 1, 1},
         4096,
         0,
         "valid VMClock page"},
        {"valid, region 104 bytes exactly",
         {0x56, 0x43, 0x4c, 0x4b, 0x68, 0x00, 0x00, 0x00, 0x01, 0x00, 1, 1},
         104,
         0,
         "valid VMClock page"},
        {"valid, size 104 in a 4096-byte mapping",
         {0x56, 0x43, 0x4c, 0x4b, 0x68, 0x00, 0x00, 0x00, 0x01, 0x00, 1, 1},
         4096,
         0,
         "valid VMClock page"},
        {"103 bytes",
         {0x56, 0x43, 0x4c, 0x4b, 0x67, 0x00, 0x00, 0x00, 0x01, 0x00, 1, 1},
         103,
         -EMSGSIZE,
         "page is shorter than the 104-byte VMClock structure"},
        {"short and bad magic: short first",
         {0},
         50,
         -EMSGSIZE,
         "page is shorter than the 104-byte VMClock structure"},
        {"zero page", {0}, 4096, -EPROTO, "bad magic (not a VMClock page)"},
        {"magic written big-endian (\"KLCV\")",
         {0x4b, 0x4c, 0x43, 0x56, 0x00, 0x10, 0x00, 0x00, 0x01, 0x00, 1, 1},
         4096,
         -EPROTO,
         "bad magic (not a VMClock page)"},
        {"magic one bit off (0x4b4c4357)",
         {0x57, 0x43, 0x4c, 0x4b, 0x00, 0x10, 0x00, 0x00, 0x01, 0x00, 1, 1},
         4096,
         -EPROTO,
         "bad magic (not a VMClock page)"},
        {"bad magic and bad version: magic first",
         {0x00, 0x43, 0x4c, 0x4b, 0x00, 0x10, 0x00, 0x00, 0x02, 0x00, 1, 1},
         4096,
         -EPROTO,
         "bad magic (not a VMClock page)"},
        {"version 0 (ClockBound: not initialised)",
         {0x56, 0x43, 0x4c, 0x4b, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 1, 1},
         4096,
         -EPROTONOSUPPORT,
         "unsupported version (only version 1 is defined)"},
        {"version 2",
         {0x56, 0x43, 0x4c, 0x4b, 0x00, 0x10, 0x00, 0x00, 0x02, 0x00, 1, 1},
         4096,
         -EPROTONOSUPPORT,
         "unsupported version (only version 1 is defined)"},
        {"version 1 written big-endian (256)",
         {0x56, 0x43, 0x4c, 0x4b, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01, 1, 1},
         4096,
         -EPROTONOSUPPORT,
         "unsupported version (only version 1 is defined)"},
        {"bad version and bad size: version first",
         {0x56, 0x43, 0x4c, 0x4b, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 1, 1},
         4096,
         -EPROTONOSUPPORT,
         "unsupported version (only version 1 is defined)"},
        {"size 103",
         {0x56, 0x43, 0x4c, 0x4b, 0x67, 0x00, 0x00, 0x00, 0x01, 0x00, 1, 1},
         4096,
         -EPROTO,
         "size field is smaller than the 104-byte VMClock structure"},
        {"size 0",
         {0x56, 0x43, 0x4c, 0x4b, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 1, 1},
         4096,
         -EPROTO,
         "size field is smaller than the 104-byte VMClock structure"},
        {"size 4097 in 4096 bytes",
         {0x56, 0x43, 0x4c, 0x4b, 0x01, 0x10, 0x00, 0x00, 0x01, 0x00, 1, 1},
         4096,
         -EPROTO,
         "size field is larger than the bytes mapped"},
        {"size 105 in 104 bytes",
         {0x56, 0x43, 0x4c, 0x4b, 0x69, 0x00, 0x00, 0x00, 0x01, 0x00, 1, 1},
         104,
         -EPROTO,
         "size field is larger than the bytes mapped"},
        {"size 0xffffffff",
         {0x56, 0x43, 0x4c, 0x4b, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 1, 1},
         4096,
         -EPROTO,
         "size field is larger than the bytes mapped"},
        {"size 4096 written big-endian (0x00100000)",
         {0x56, 0x43, 0x4c, 0x4b, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00, 1, 1},
         4096,
         -EPROTO,
         "size field is larger than the bytes mapped"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct check_case *c = &cases[i];
        static uint8_t buf[PAGE_LEN];
        memset(buf, 0, sizeof(buf));
        memcpy(buf, c->header, sizeof(c->header));
        const char *why = NULL;
        struct cb_vmclock_header h;
        int err = cb_vmclock_check(buf, c->len, &h, &why);
        if (err != c->err || why == NULL || strcmp(why, c->why) != 0) {
            fail_msg("%s: got %d \"%s\", expected %d \"%s\"", c->name, err, why ? why : "(null)",
                     c->err, c->why);
        }
        /* The values decoded for the caller's message, whatever the verdict. */
        assert_int_equal(h.magic, (uint32_t)c->header[0] | (uint32_t)c->header[1] << 8 |
                                      (uint32_t)c->header[2] << 16 | (uint32_t)c->header[3] << 24);
        assert_int_equal(h.version, c->header[8] | c->header[9] << 8);
        assert_int_equal(h.counter_id, c->header[10]);
        assert_int_equal(h.time_type, c->header[11]);
    }
    /* NULL hdr and why are allowed; fewer than 12 bytes decode to zeros. */
    assert_int_equal(cb_vmclock_check(good_header, 12, NULL, NULL), -EMSGSIZE);
    struct cb_vmclock_header h;
    assert_int_equal(cb_vmclock_check(good_header, 11, &h, NULL), -EMSGSIZE);
    assert_int_equal(h.magic, 0);
    assert_int_equal(h.size, 0);
    assert_int_equal(cb_vmclock_check(good_header, 12, &h, NULL), -EMSGSIZE);
    assert_int_equal(h.magic, CB_VMCLOCK_MAGIC);
    assert_int_equal(h.size, 4096);
    assert_int_equal(h.version, 1);
}

/* ---- cb_vmclock_open: files, devices, failures ---- */

static void expect_open_fails(const char *p, int err, const char *expected_why)
{
    struct cb_vmclock vc;
    memset(&vc, 0xa5, sizeof(vc));
    char why[512] = "";
    int rc = cb_vmclock_open(&vc, p, why, sizeof(why));
    if (rc != err || (expected_why != NULL && strcmp(why, expected_why) != 0)) {
        fail_msg("open %s: got %d \"%s\", expected %d \"%s\"", p, rc, why, err,
                 expected_why ? expected_why : "(any)");
    }
    /* Left closed: close is a no-op, the readers refuse. */
    assert_null(vc.map);
    assert_int_equal(vc.fd, -1);
    uint64_t m = 7;
    assert_int_equal(cb_vmclock_marker(&vc, &m), -EBADF);
    assert_int_equal(m, 7);
    cb_vmclock_close(&vc);
    print_message("open %s: %s\n", p, why);
}

static void test_open_missing(void **state)
{
    (void)state;
    char expected[512];
    snprintf(expected, sizeof(expected),
             "%s: no such file (no VMClock here: the hypervisor offers none, or the kernel has "
             "no ptp_vmclock driver)",
             path);
    expect_open_fails(path, -ENOENT, expected);
}

static void test_open_short(void **state)
{
    (void)state;
    uint8_t buf[PAGE_LEN];
    fill_page(buf, sizeof(buf));
    char expected[512];
    write_file(path, buf, 103);
    snprintf(expected, sizeof(expected),
             "%s: 103 bytes, shorter than the 104-byte VMClock structure", path);
    expect_open_fails(path, -EMSGSIZE, expected);
    write_file(path, buf, 0);
    snprintf(expected, sizeof(expected), "%s: 0 bytes, shorter than the 104-byte VMClock structure",
             path);
    expect_open_fails(path, -EMSGSIZE, expected);
}

static void test_open_bad_header(void **state)
{
    (void)state;
    uint8_t buf[PAGE_LEN];
    char expected[512];

    fill_page(buf, sizeof(buf));
    put32(buf, O_MAGIC, 0);
    write_file(path, buf, sizeof(buf));
    snprintf(expected, sizeof(expected),
             "%s: bad magic 0x00000000, expected 0x4b4c4356 (not a VMClock page)", path);
    expect_open_fails(path, -EPROTO, expected);

    fill_page(buf, sizeof(buf));
    put16(buf, O_VERSION, 2);
    write_file(path, buf, sizeof(buf));
    snprintf(expected, sizeof(expected),
             "%s: unsupported VMClock version 2 (only version 1 is defined, and another "
             "version's fields are not read as version 1's)",
             path);
    expect_open_fails(path, -EPROTONOSUPPORT, expected);

    fill_page(buf, sizeof(buf));
    put16(buf, O_VERSION, 0);
    write_file(path, buf, sizeof(buf));
    snprintf(expected, sizeof(expected),
             "%s: unsupported VMClock version 0 (only version 1 is defined, and another "
             "version's fields are not read as version 1's)",
             path);
    expect_open_fails(path, -EPROTONOSUPPORT, expected);

    fill_page(buf, sizeof(buf));
    put32(buf, O_SIZE, 100);
    write_file(path, buf, sizeof(buf));
    snprintf(expected, sizeof(expected),
             "%s: size field 100 is smaller than the 104-byte VMClock structure", path);
    expect_open_fails(path, -EPROTO, expected);

    /* A file of 104 bytes claiming a 4096-byte region. */
    fill_page(buf, sizeof(buf));
    write_file(path, buf, 104);
    snprintf(expected, sizeof(expected), "%s: size field 4096 is larger than the 104 bytes mapped",
             path);
    expect_open_fails(path, -EPROTO, expected);
}

static void test_open_not_a_page(void **state)
{
    (void)state;
    char expected[512];
    snprintf(expected, sizeof(expected), "%s: neither a character device nor a regular file", dir);
    expect_open_fails(dir, -ENODEV, expected);

    /* Character devices are mapped as one page whatever st_size says (0 for both). /dev/zero
     * maps: a page of zeros, not VMClock. /dev/null cannot be mapped at all. */
    struct stat st;
    if (stat("/dev/zero", &st) == 0 && S_ISCHR(st.st_mode)) {
        assert_int_equal(st.st_size, 0);
        expect_open_fails("/dev/zero", -EPROTO,
                          "/dev/zero: bad magic 0x00000000, expected 0x4b4c4356 (not a VMClock "
                          "page)");
    }
    if (stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode)) {
        snprintf(expected, sizeof(expected), "/dev/null: mmap of %ld bytes: %s",
                 sysconf(_SC_PAGESIZE), strerror(ENODEV));
        expect_open_fails("/dev/null", -ENODEV, expected);
    }

    char longpath[CB_VMCLOCK_PATH_MAX + 10];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    snprintf(expected, sizeof(expected), "%.64s...: path longer than 255 bytes", longpath);
    expect_open_fails(longpath, -ENAMETOOLONG, expected);

    uint8_t *big = calloc(1, CB_VMCLOCK_MAP_MAX + 1);
    assert_non_null(big);
    fill_page(big, PAGE_LEN);
    write_file(path, big, CB_VMCLOCK_MAP_MAX + 1);
    free(big);
    snprintf(expected, sizeof(expected),
             "%s: 1048577 bytes, more than the 1048576 a VMClock page "
             "can be",
             path);
    expect_open_fails(path, -EFBIG, expected);
}

/* Not readable by this user: as root, tried from a child that has become nobody. */
static void test_open_permission(void **state)
{
    (void)state;
    uint8_t buf[PAGE_LEN];
    fill_page(buf, sizeof(buf));
    write_file(path, buf, sizeof(buf));
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(chmod(dir, 0755), 0);
    char expected[512];
    snprintf(expected, sizeof(expected),
             "%s: permission denied (the device is readable by root only unless made readable: "
             "chmod a+r, or a udev rule)",
             path);
    if (geteuid() != 0) {
        assert_int_equal(chmod(path, 0), 0);
        expect_open_fails(path, -EACCES, expected);
        return;
    }
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        if (setgid(65534) != 0 || setuid(65534) != 0) {
            _exit(3);
        }
        struct cb_vmclock vc;
        char why[512] = "";
        int rc = cb_vmclock_open(&vc, path, why, sizeof(why));
        ssize_t n = write(pipefd[1], why, strlen(why));
        (void)n;
        _exit(rc == -EACCES && vc.map == NULL ? 0 : 1);
    }
    close(pipefd[1]);
    char why[512] = "";
    ssize_t n = read(pipefd[0], why, sizeof(why) - 1);
    close(pipefd[0]);
    why[n > 0 ? n : 0] = '\0';
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_string_equal(why, expected);
    print_message("open as nobody: %s\n", why);
}

/* Whether /proc/self/maps shows a read-only shared mapping of p. */
static bool mapped_read_only_shared(const char *p)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL) {
        return false;
    }
    char line[1024];
    bool found = false;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strstr(line, p) != NULL) {
            char perms[8] = "";
            if (sscanf(line, "%*s %7s", perms) == 1 && strcmp(perms, "r--s") == 0) {
                found = true;
            }
        }
    }
    fclose(f);
    return found;
}

static void test_open_good(void **state)
{
    (void)state;
    uint8_t buf[PAGE_LEN];
    fill_page(buf, sizeof(buf));
    write_file(path, buf, sizeof(buf));
    struct cb_vmclock vc;
    char why[256] = "";
    assert_int_equal(cb_vmclock_open(&vc, path, why, sizeof(why)), 0);
    assert_non_null(vc.map);
    assert_true(vc.fd >= 0);
    assert_true(vc.mapped);
    assert_int_equal(vc.len, PAGE_LEN);
    assert_string_equal(vc.path, path);
    assert_int_equal(vc.header.magic, CB_VMCLOCK_MAGIC);
    assert_int_equal(vc.header.size, PAGE_LEN);
    assert_int_equal(vc.header.version, 1);
    assert_int_equal(vc.header.counter_id, 1);
    assert_int_equal(vc.header.time_type, 1);
    assert_int_equal(fcntl(vc.fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    assert_int_equal(fcntl(vc.fd, F_GETFL) & O_ACCMODE, O_RDONLY);
    assert_true(mapped_read_only_shared(path));
    uint64_t m = 0;
    assert_int_equal(cb_vmclock_marker(&vc, &m), 0);
    assert_int_equal(m, UINT64_C(0x1122334455667788));

    /* A file of exactly 104 bytes whose size field says 104. */
    cb_vmclock_close(&vc);
    assert_null(vc.map);
    assert_int_equal(vc.fd, -1);
    assert_false(mapped_read_only_shared(path));
    cb_vmclock_close(&vc); /* idempotent */
    put32(buf, O_SIZE, 104);
    write_file(path, buf, 104);
    assert_int_equal(cb_vmclock_open(&vc, path, why, sizeof(why)), 0);
    assert_int_equal(vc.len, 104);
    struct cb_vmclock_snapshot snap;
    assert_int_equal(cb_vmclock_snapshot(&vc, &snap), 0);
    assert_false(snap.has_vm_generation_counter); /* byte 111 is not mapped */
    cb_vmclock_close(&vc);

    /* A zeroed struct is closed. */
    struct cb_vmclock zero;
    memset(&zero, 0, sizeof(zero));
    cb_vmclock_close(&zero);
    assert_int_equal(cb_vmclock_snapshot(&zero, &snap), -EBADF);
    assert_int_equal(cb_vmclock_marker(&zero, &m), -EBADF);
}

static void test_open_mem(void **state)
{
    (void)state;
    struct cb_vmclock vc;
    char why[256] = "";
    fill_page(MEM, PAGE_LEN);
    assert_int_equal(cb_vmclock_open_mem(&vc, MEM + 4, PAGE_LEN - 8, why, sizeof(why)), -EINVAL);
    assert_string_equal(why, "memory page: not 8-byte aligned");
    assert_int_equal(cb_vmclock_open_mem(&vc, NULL, PAGE_LEN, why, sizeof(why)), -EINVAL);
    assert_int_equal(cb_vmclock_open_mem(&vc, MEM, 100, why, sizeof(why)), -EMSGSIZE);
    assert_string_equal(why, "memory page: 100 bytes, shorter than the 104-byte VMClock structure");
    assert_null(vc.map);
    put32(MEM, O_MAGIC, 0x12345678);
    assert_int_equal(cb_vmclock_open_mem(&vc, MEM, PAGE_LEN, why, sizeof(why)), -EPROTO);
    assert_string_equal(
        why, "memory page: bad magic 0x12345678, expected 0x4b4c4356 (not a VMClock page)");
    fill_page(MEM, PAGE_LEN);
    assert_int_equal(cb_vmclock_open_mem(&vc, MEM, PAGE_LEN, NULL, 0), 0);
    assert_false(vc.mapped);
    assert_int_equal(vc.fd, -1);
    assert_string_equal(vc.path, "");
    cb_vmclock_close(&vc); /* does not unmap the caller's memory */
    assert_null(vc.map);
    assert_int_equal(MEM[0], 0x56);
}

/* ---- cb_vmclock_snapshot and cb_vmclock_marker on a still page ---- */

static void test_snapshot_fields(void **state)
{
    (void)state;
    struct cb_vmclock vc;
    fill_page(MEM, PAGE_LEN);
    put16(MEM, O_TAI, (uint16_t)-5); /* signed: -5 */
    assert_int_equal(cb_vmclock_open_mem(&vc, MEM, PAGE_LEN, NULL, 0), 0);
    struct cb_vmclock_snapshot s;
    assert_int_equal(cb_vmclock_snapshot(&vc, &s), 0);
    assert_int_equal(s.seq_count, 2);
    assert_int_equal(s.header.magic, CB_VMCLOCK_MAGIC);
    assert_int_equal(s.header.size, 4096);
    assert_int_equal(s.header.version, 1);
    assert_int_equal(s.header.counter_id, 1);
    assert_int_equal(s.header.time_type, 1);
    assert_int_equal(s.disruption_marker, UINT64_C(0x1122334455667788));
    assert_int_equal(s.flags, 0x61);
    assert_int_equal(s.clock_status, CB_VMCLOCK_STATUS_SYNCHRONIZED);
    assert_int_equal(s.leap_second_smearing_hint, 1);
    assert_int_equal(s.tai_offset_sec, -5);
    assert_int_equal(s.leap_indicator, 1);
    assert_int_equal(s.counter_period_shift, 29);
    assert_int_equal(s.counter_value, UINT64_C(0x0102030405060708));
    assert_int_equal(s.counter_period_frac_sec, UINT64_C(0x89705f4136b4a597));
    assert_int_equal(s.counter_period_esterror_rate_frac_sec, 1111);
    assert_int_equal(s.counter_period_maxerror_rate_frac_sec, 2222);
    assert_int_equal(s.time_sec, 1795620000);
    assert_int_equal(s.time_frac_sec, UINT64_C(0x8000000000000000));
    assert_int_equal(s.time_esterror_nanosec, 12345);
    assert_int_equal(s.time_maxerror_nanosec, 67890);
    assert_false(s.has_vm_generation_counter); /* flags bit 8 clear */
    assert_int_equal(s.vm_generation_counter, 0);

    put64(MEM, O_FLAGS, 0x61 | CB_VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT);
    put16(MEM, O_TAI, 37);
    assert_int_equal(cb_vmclock_snapshot(&vc, &s), 0);
    assert_true(s.has_vm_generation_counter);
    assert_int_equal(s.vm_generation_counter, 0xabcdef);
    assert_int_equal(s.tai_offset_sec, 37);

    /* The same page lent as 104 bytes: the generation counter is outside it. */
    cb_vmclock_close(&vc);
    put32(MEM, O_SIZE, 104);
    assert_int_equal(cb_vmclock_open_mem(&vc, MEM, 104, NULL, 0), 0);
    assert_int_equal(cb_vmclock_snapshot(&vc, &s), 0);
    assert_false(s.has_vm_generation_counter);
    assert_int_equal(s.vm_generation_counter, 0);
    cb_vmclock_close(&vc);
}

static void test_snapshot_page_replaced(void **state)
{
    (void)state;
    struct cb_vmclock vc;
    fill_page(MEM, PAGE_LEN);
    assert_int_equal(cb_vmclock_open_mem(&vc, MEM, PAGE_LEN, NULL, 0), 0);
    struct cb_vmclock_snapshot s;
    memset(&s, 0x5a, sizeof(s));
    struct cb_vmclock_snapshot before = s;
    put32(MEM, O_MAGIC, 0);
    assert_int_equal(cb_vmclock_snapshot(&vc, &s), -EPROTO);
    assert_memory_equal(&s, &before, sizeof(s));
    fill_page(MEM, PAGE_LEN);
    put16(MEM, O_VERSION, 2);
    assert_int_equal(cb_vmclock_snapshot(&vc, &s), -EPROTO);
    assert_memory_equal(&s, &before, sizeof(s));
    fill_page(MEM, PAGE_LEN);
    assert_int_equal(cb_vmclock_snapshot(&vc, &s), 0);
    cb_vmclock_close(&vc);
}

/* A page whose seq_count is odd is being written: -EAGAIN, never its fields; even again, the
 * new fields. Also prints what the bounded spin costs. */
static void test_odd_seq(void **state)
{
    (void)state;
    struct cb_vmclock vc;
    fill_page(MEM, PAGE_LEN);
    assert_int_equal(cb_vmclock_open_mem(&vc, MEM, PAGE_LEN, NULL, 0), 0);
    /* Half a write: seq_count odd, the marker new, time_sec still old. */
    put32(MEM, O_SEQ, 3);
    put64(MEM, O_MARKER, 42);
    struct cb_vmclock_snapshot s;
    memset(&s, 0x5a, sizeof(s));
    struct cb_vmclock_snapshot untouched = s;
    uint64_t m = 0x5a5a;
    int64_t t0 = mono_ns();
    assert_int_equal(cb_vmclock_snapshot(&vc, &s), -EAGAIN);
    int64_t t1 = mono_ns();
    assert_int_equal(cb_vmclock_marker(&vc, &m), -EAGAIN);
    int64_t t2 = mono_ns();
    assert_memory_equal(&s, &untouched, sizeof(s));
    assert_int_equal(m, 0x5a5a);
    print_message("seq_count odd: snapshot gave up after %d tries in %" PRId64
                  " ns, marker after %d tries in %" PRId64 " ns\n",
                  CB_VMCLOCK_SNAPSHOT_TRIES, t1 - t0, CB_VMCLOCK_MARKER_TRIES, t2 - t1);
    /* Any odd value, including the largest. */
    put32(MEM, O_SEQ, UINT32_MAX);
    assert_int_equal(cb_vmclock_snapshot(&vc, &s), -EAGAIN);
    assert_int_equal(cb_vmclock_marker(&vc, &m), -EAGAIN);

    /* The write completes (seq_count wraps to 0, even). */
    put64(MEM, O_TSEC, 84);
    put32(MEM, O_SEQ, 0);
    assert_int_equal(cb_vmclock_snapshot(&vc, &s), 0);
    assert_int_equal(s.seq_count, 0);
    assert_int_equal(s.disruption_marker, 42);
    assert_int_equal(s.time_sec, 84);
    assert_int_equal(cb_vmclock_marker(&vc, &m), 0);
    assert_int_equal(m, 42);
    cb_vmclock_close(&vc);
}

static void test_marker(void **state)
{
    (void)state;
    struct cb_vmclock vc;
    fill_page(MEM, PAGE_LEN);
    assert_int_equal(cb_vmclock_open_mem(&vc, MEM, PAGE_LEN, NULL, 0), 0);
    uint64_t m = 0;
    assert_int_equal(cb_vmclock_marker(&vc, &m), 0);
    assert_int_equal(m, UINT64_C(0x1122334455667788));
    /* Byte order: the page is little-endian. */
    put64(MEM, O_MARKER, 0x0100);
    put32(MEM, O_SEQ, 4);
    assert_int_equal(cb_vmclock_marker(&vc, &m), 0);
    assert_int_equal(m, 256);
    put64(MEM, O_MARKER, UINT64_MAX);
    assert_int_equal(cb_vmclock_marker(&vc, &m), 0);
    assert_int_equal(m, UINT64_MAX);

    /* Its cost with no write in progress (printed, not asserted: machines differ). */
    int64_t t0 = mono_ns();
    uint64_t sum = 0;
    enum { N = 1000000 };
    for (int i = 0; i < N; i++) {
        uint64_t x;
        if (cb_vmclock_marker(&vc, &x) == 0) {
            sum += x & 1;
        }
    }
    int64_t t1 = mono_ns();
    assert_int_equal(sum, N);
    print_message("cb_vmclock_marker: %.1f ns per call\n", (double)(t1 - t0) / N);
    cb_vmclock_close(&vc);
}

static void test_status_names(void **state)
{
    (void)state;
    assert_int_equal(CB_VMCLOCK_STATUS_COUNT, 5);
    assert_string_equal(cb_vmclock_status_name(0), "UNKNOWN");
    assert_string_equal(cb_vmclock_status_name(1), "INITIALIZING");
    assert_string_equal(cb_vmclock_status_name(2), "SYNCHRONIZED");
    assert_string_equal(cb_vmclock_status_name(3), "FREERUNNING");
    assert_string_equal(cb_vmclock_status_name(4), "UNRELIABLE");
    assert_string_equal(cb_vmclock_status_name(5), "INVALID");
    assert_string_equal(cb_vmclock_status_name(255), "INVALID");
    assert_string_equal(cb_vmclock_status_name(UINT32_MAX), "INVALID");
    assert_int_equal(CB_VMCLOCK_STATUS_UNKNOWN, 0);
    assert_int_equal(CB_VMCLOCK_STATUS_UNRELIABLE, 4);
}

/* ---- Torn writes: a writer thread, in this process ---- */

/*
 * The writer: the hypervisor's protocol as vmclock.c's comment states it, on MEM. Write k
 * stores disruption_marker = k, time_sec = 2k, time_frac_sec = ~k, spinning (k % 64) loads
 * between the marker and the rest so that some writes are long and some short, and (7k % 64)
 * loads after it so that the page is sometimes still between writes.
 */
static atomic_bool writer_stop;
static atomic_ulong writer_writes;

static void *writer(void *arg)
{
    (void)arg;
    uint32_t *seq = (uint32_t *)(void *)(MEM + O_SEQ);
    uint64_t *marker = (uint64_t *)(void *)(MEM + O_MARKER);
    uint64_t *tsec = (uint64_t *)(void *)(MEM + O_TSEC);
    uint64_t *tfrac = (uint64_t *)(void *)(MEM + O_TFRAC);
    uint32_t s = __atomic_load_n(seq, __ATOMIC_RELAXED);
    for (uint64_t k = 1; !atomic_load_explicit(&writer_stop, memory_order_relaxed); k++) {
        __atomic_store_n(seq, s + 1, __ATOMIC_RELAXED);
        __atomic_store_n(marker, k, __ATOMIC_RELEASE);
        for (uint64_t i = 0; i < k % 64; i++) {
            (void)__atomic_load_n(seq, __ATOMIC_RELAXED);
        }
        __atomic_store_n(tsec, 2 * k, __ATOMIC_RELEASE);
        __atomic_store_n(tfrac, ~k, __ATOMIC_RELEASE);
        s += 2;
        __atomic_store_n(seq, s, __ATOMIC_RELEASE);
        atomic_fetch_add_explicit(&writer_writes, 1, memory_order_relaxed);
        for (uint64_t i = 0; i < (k * 7) % 64; i++) {
            (void)__atomic_load_n(seq, __ATOMIC_RELAXED);
        }
    }
    return NULL;
}

/* A reader under test: 0 with (marker, time_sec, time_frac_sec) of one snapshot, or -EAGAIN. */
typedef int (*reader_fn)(const struct cb_vmclock *vc, uint64_t out[3]);

static int good_reader(const struct cb_vmclock *vc, uint64_t out[3])
{
    struct cb_vmclock_snapshot s;
    int rc = cb_vmclock_snapshot(vc, &s);
    if (rc == 0) {
        out[0] = s.disruption_marker;
        out[1] = s.time_sec;
        out[2] = s.time_frac_sec;
    }
    return rc;
}

/*
 * The negative controls: seq_count read (acquire) and odd refused, the fields read (acquire),
 * and no second seq_count check. broken_reader is that mistake alone; broken_reader_preempted
 * also gives up the CPU between the marker and the other fields, as a reader preempted
 * mid-copy would (which, under valgrind's one thread at a time, is when the writer runs).
 */
static int broken_read(const struct cb_vmclock *vc, uint64_t out[3], bool preempted)
{
    const uint8_t *map = vc->map;
    uint32_t s1 = __atomic_load_n((const uint32_t *)(const void *)(map + O_SEQ), __ATOMIC_ACQUIRE);
    if (s1 & 1u) {
        return -EAGAIN;
    }
    out[0] = __atomic_load_n((const uint64_t *)(const void *)(map + O_MARKER), __ATOMIC_ACQUIRE);
    if (preempted) {
        sched_yield();
    }
    out[1] = __atomic_load_n((const uint64_t *)(const void *)(map + O_TSEC), __ATOMIC_ACQUIRE);
    out[2] = __atomic_load_n((const uint64_t *)(const void *)(map + O_TFRAC), __ATOMIC_ACQUIRE);
    return 0; /* missing: re-read seq_count, retry if it changed */
}

static int broken_reader(const struct cb_vmclock *vc, uint64_t out[3])
{
    return broken_read(vc, out, false);
}

static int broken_reader_preempted(const struct cb_vmclock *vc, uint64_t out[3])
{
    return broken_read(vc, out, true);
}

struct race_result {
    uint64_t reads, busy, torn, backwards, markers_seen, marker_reads, marker_busy,
        marker_backwards, writes;
    int64_t elapsed_ns;
};

/*
 * Runs the writer thread against read() (and cb_vmclock_marker()) for at least min_ns, at most
 * max_ns, until both sides have done 1000 operations; with stop_on_torn, until the first torn
 * snapshot or max_ns. A snapshot is torn unless time_sec == 2 x marker and time_frac_sec ==
 * ~marker; markers must never go backwards (the writer only increments).
 */
static struct race_result race(reader_fn read, int64_t min_ns, int64_t max_ns, bool stop_on_torn)
{
    struct race_result r;
    memset(&r, 0, sizeof(r));
    fill_page(MEM, PAGE_LEN);
    put64(MEM, O_MARKER, 0);
    put64(MEM, O_TSEC, 0);
    put64(MEM, O_TFRAC, ~UINT64_C(0));
    struct cb_vmclock vc;
    assert_int_equal(cb_vmclock_open_mem(&vc, MEM, PAGE_LEN, NULL, 0), 0);
    atomic_store(&writer_stop, false);
    atomic_store(&writer_writes, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer, NULL), 0);
    int64_t start = mono_ns();
    uint64_t last = 0, last_marker = 0;
    do {
        for (int i = 0; i < 1000; i++) {
            uint64_t v[3];
            if (read(&vc, v) != 0) {
                r.busy++;
            } else {
                r.reads++;
                if (v[1] != 2 * v[0] || v[2] != ~v[0]) {
                    r.torn++;
                }
                if (v[0] < last) {
                    r.backwards++;
                }
                last = v[0];
            }
            uint64_t m;
            if (cb_vmclock_marker(&vc, &m) != 0) {
                r.marker_busy++;
            } else {
                r.marker_reads++;
                if (m < last_marker) {
                    r.marker_backwards++;
                }
                r.markers_seen += m != last_marker;
                last_marker = m;
            }
        }
        sched_yield(); /* under valgrind's one thread at a time, the writer's turn */
        r.elapsed_ns = mono_ns() - start;
        if (stop_on_torn && r.torn > 0) {
            break;
        }
    } while ((stop_on_torn || r.elapsed_ns < min_ns || atomic_load(&writer_writes) < 1000 ||
              r.reads < 1000) &&
             r.elapsed_ns < max_ns);
    atomic_store(&writer_stop, true);
    pthread_join(t, NULL);
    r.writes = atomic_load(&writer_writes);
    cb_vmclock_close(&vc);
    return r;
}

static void print_race(const char *name, const struct race_result *r)
{
    print_message("%s: %.2f s, %" PRIu64 " writes; %" PRIu64 " snapshots (%" PRIu64
                  " -EAGAIN), %" PRIu64 " torn, %" PRIu64 " backwards; markers: %" PRIu64
                  " read (%" PRIu64 " -EAGAIN), %" PRIu64 " changes seen, %" PRIu64 " backwards\n",
                  name, (double)r->elapsed_ns / 1e9, r->writes, r->reads, r->busy, r->torn,
                  r->backwards, r->marker_reads, r->marker_busy, r->markers_seen,
                  r->marker_backwards);
}

static void test_torn_writes(void **state)
{
    (void)state;
    struct race_result r = race(good_reader, S / 2, 20 * S, false);
    print_race("cb_vmclock_snapshot against the writer thread", &r);
    assert_int_equal(r.torn, 0);
    assert_int_equal(r.backwards, 0);
    assert_int_equal(r.marker_backwards, 0);
    assert_true(r.reads >= 1000);
    assert_true(r.writes >= 1000);
    /* With two CPUs running both threads, the hot-path read saw the marker change under load,
     * and some reads met a write. Valgrind runs one thread at a time, in long slices: the
     * writer may do all its writes in one (seen in CI: 1.15 M writes, no change seen). */
    if (sysconf(_SC_NPROCESSORS_ONLN) > 1 && !under_valgrind()) {
        assert_true(r.markers_seen > 1);
        assert_true(r.busy + r.marker_busy > 0);
    }
}

static void test_torn_writes_negative_control(void **state)
{
    (void)state;
    /* The mistake alone: with two CPUs running both threads, caught within milliseconds.
     * Valgrind runs one thread at a time and switches rarely, so there it may not be. */
    struct race_result r = race(broken_reader, 0, under_valgrind() ? S : 10 * S, true);
    print_race("negative control, no second seq_count check", &r);
    if (sysconf(_SC_NPROCESSORS_ONLN) > 1 && !under_valgrind()) {
        assert_true(r.torn > 0);
    }
    /* The same reader preempted mid-copy: caught everywhere, valgrind included. */
    r = race(broken_reader_preempted, 0, 10 * S, true);
    print_race("negative control, no second seq_count check, preempted mid-copy", &r);
    assert_true(r.torn > 0);
}

/* ---- Against tests/support/fake_vmclock, another process ---- */

static const char *fake_path(void)
{
    const char *p = getenv("FAKE_VMCLOCK");
    return p != NULL && p[0] != '\0' ? p : NULL;
}

/* Runs fake_vmclock with args (NULL-terminated, after the program name); its stdout and
 * stderr into out. Returns its exit status, or -1. */
static int run_fake(char *out, size_t out_len, ...)
{
    char *argv[24];
    int argc = 0;
    argv[argc++] = (char *)(uintptr_t)fake_path();
    va_list ap;
    va_start(ap, out_len);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && argc < 23) {
        argv[argc++] = (char *)(uintptr_t)a;
    }
    va_end(ap);
    argv[argc] = NULL;
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        close(pipefd[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pipefd[1]);
    size_t used = 0;
    ssize_t n;
    while (used + 1 < out_len && (n = read(pipefd[0], out + used, out_len - 1 - used)) > 0) {
        used += (size_t)n;
    }
    out[used] = '\0';
    close(pipefd[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Starts fake_vmclock in the background with its stdout on *out_fd. */
static pid_t spawn_fake(int *out_fd, const char *cmd, const char *a1, const char *a2,
                        const char *a3, const char *a4)
{
    char *argv[] = {(char *)(uintptr_t)fake_path(), (char *)(uintptr_t)cmd,
                    (char *)(uintptr_t)path,        (char *)(uintptr_t)a1,
                    (char *)(uintptr_t)a2,          (char *)(uintptr_t)a3,
                    (char *)(uintptr_t)a4,          NULL};
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pipefd[1], 1);
        close(pipefd[0]);
        close(pipefd[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pipefd[1]);
    *out_fd = pipefd[0];
    child = pid;
    return pid;
}

/* Reads one line (up to len-1 bytes) from fd, without its newline. */
static void read_line(int fd, char *buf, size_t len)
{
    size_t used = 0;
    char c;
    while (used + 1 < len && read(fd, &c, 1) == 1 && c != '\n') {
        buf[used++] = c;
    }
    buf[used] = '\0';
}

static void open_ok(struct cb_vmclock *vc)
{
    char why[512] = "";
    int rc = cb_vmclock_open(vc, path, why, sizeof(why));
    if (rc != 0) {
        fail_msg("open %s: %d %s", path, rc, why);
    }
}

static void test_fake_create(void **state)
{
    (void)state;
    if (fake_path() == NULL) {
        skip();
    }
    char out[512];
    assert_int_equal(run_fake(out, sizeof(out), "create", path, "--marker", "7", NULL), 0);
    struct cb_vmclock vc;
    open_ok(&vc);
    assert_int_equal(vc.len, 4096);
    struct cb_vmclock_snapshot s;
    assert_int_equal(cb_vmclock_snapshot(&vc, &s), 0);
    assert_int_equal(s.disruption_marker, 7);
    assert_int_equal(s.time_sec, 14);
    assert_int_equal(s.time_frac_sec, ~UINT64_C(7));
    assert_int_equal(s.seq_count, 0);
    assert_int_equal(s.clock_status, CB_VMCLOCK_STATUS_SYNCHRONIZED);
    assert_int_equal(s.header.counter_id, 1);
    assert_int_equal(s.header.time_type, 1);
    assert_int_equal(s.tai_offset_sec, 37);
    assert_int_equal(s.time_maxerror_nanosec, 100000);
    cb_vmclock_close(&vc);

    /* The bad pages it makes are refused as the byte-level tests say. */
    struct {
        const char *opt, *val;
        int err;
    } bad[] = {
        {"--magic", "0", -EPROTO},
        {"--magic", "564c434b", -EPROTO},
        {"--version", "0", -EPROTONOSUPPORT},
        {"--version", "2", -EPROTONOSUPPORT},
        {"--size", "103", -EPROTO},
        {"--size", "8192", -EPROTO},
        {"--length", "50", -EMSGSIZE},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(run_fake(out, sizeof(out), "create", path, bad[i].opt, bad[i].val, NULL),
                         0);
        char why[512] = "";
        int rc = cb_vmclock_open(&vc, path, why, sizeof(why));
        if (rc != bad[i].err) {
            fail_msg("create %s %s: open gave %d (%s), expected %d", bad[i].opt, bad[i].val, rc,
                     why, bad[i].err);
        }
        print_message("create %s %s: %s\n", bad[i].opt, bad[i].val, why);
    }
    /* 104 bytes, size 104: valid. */
    assert_int_equal(run_fake(out, sizeof(out), "create", path, "--length", "104", NULL), 0);
    open_ok(&vc);
    assert_int_equal(vc.len, 104);
    cb_vmclock_close(&vc);
    assert_int_equal(run_fake(out, sizeof(out), "frobnicate", path, NULL), 2);
    assert_int_equal(run_fake(out, sizeof(out), "create", path, "--marker", "x", NULL), 2);
}

static void test_fake_bump_and_status(void **state)
{
    (void)state;
    if (fake_path() == NULL) {
        skip();
    }
    char out[512];
    assert_int_equal(run_fake(out, sizeof(out), "create", path, "--marker", "100", NULL), 0);
    struct cb_vmclock vc;
    open_ok(&vc);
    uint64_t m = 0;
    assert_int_equal(cb_vmclock_marker(&vc, &m), 0);
    assert_int_equal(m, 100);

    /* Seen through the reader's own mapping, opened before the writes. */
    assert_int_equal(run_fake(out, sizeof(out), "bump", path, NULL), 0);
    assert_string_equal(out, "seq 2 marker 101 status synchronized\n");
    assert_int_equal(cb_vmclock_marker(&vc, &m), 0);
    assert_int_equal(m, 101);
    assert_int_equal(run_fake(out, sizeof(out), "bump", path, "--marker", "5000", NULL), 0);
    assert_string_equal(out, "seq 4 marker 5000 status synchronized\n");
    struct cb_vmclock_snapshot s;
    assert_int_equal(cb_vmclock_snapshot(&vc, &s), 0);
    assert_int_equal(s.seq_count, 4);
    assert_int_equal(s.disruption_marker, 5000);
    assert_int_equal(s.time_sec, 10000);

    assert_int_equal(run_fake(out, sizeof(out), "set-status", path, "unreliable", NULL), 0);
    assert_string_equal(out, "seq 6 marker 5000 status unreliable\n");
    assert_int_equal(cb_vmclock_snapshot(&vc, &s), 0);
    assert_int_equal(s.clock_status, CB_VMCLOCK_STATUS_UNRELIABLE);
    assert_string_equal(cb_vmclock_status_name(s.clock_status), "UNRELIABLE");
    assert_int_equal(run_fake(out, sizeof(out), "set-status", path, "9", NULL), 0);
    assert_int_equal(cb_vmclock_snapshot(&vc, &s), 0);
    assert_int_equal(s.clock_status, 9);
    assert_string_equal(cb_vmclock_status_name(s.clock_status), "INVALID");
    assert_int_equal(s.disruption_marker, 5000); /* a status write leaves the marker */

    assert_int_equal(run_fake(out, sizeof(out), "show", path, NULL), 0);
    print_message("fake_vmclock show:\n%s", out);
    assert_non_null(strstr(out, "magic 0x4b4c4356 size 4096 version 1"));
    assert_non_null(strstr(out, "seq 8 marker 5000"));
    cb_vmclock_close(&vc);
}

/* hold-odd: while the other process holds a write open, -EAGAIN, and the page really is half
 * written (the raw bytes show the new marker beside the old time_sec); after SIGTERM, the
 * whole write. */
static void test_fake_hold_odd(void **state)
{
    (void)state;
    if (fake_path() == NULL) {
        skip();
    }
    char out[512];
    assert_int_equal(run_fake(out, sizeof(out), "create", path, "--marker", "20", NULL), 0);
    struct cb_vmclock vc;
    open_ok(&vc);
    int fd;
    pid_t pid = spawn_fake(&fd, "hold-odd", "--timeout", "30", NULL, NULL);
    char line[128];
    read_line(fd, line, sizeof(line));
    assert_string_equal(line, "odd");

    struct cb_vmclock_snapshot s;
    memset(&s, 0, sizeof(s));
    uint64_t m = 0;
    assert_int_equal(cb_vmclock_snapshot(&vc, &s), -EAGAIN);
    assert_int_equal(cb_vmclock_marker(&vc, &m), -EAGAIN);
    assert_int_equal(m, 0);
    uint64_t raw[3];
    assert_int_equal(broken_reader(&vc, raw), -EAGAIN); /* even it sees seq_count odd */
    memcpy(&raw[0], vc.map + O_MARKER, 8);
    memcpy(&raw[1], vc.map + O_TSEC, 8);
    assert_int_equal(raw[0], 21);
    assert_int_equal(raw[1], 40); /* time_sec of marker 20: the write is half done */

    assert_int_equal(kill(pid, SIGTERM), 0);
    read_line(fd, line, sizeof(line));
    assert_string_equal(line, "even");
    read_line(fd, line, sizeof(line));
    assert_string_equal(line, "seq 2 marker 21 status synchronized");
    close(fd);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    child = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(cb_vmclock_snapshot(&vc, &s), 0);
    assert_int_equal(s.disruption_marker, 21);
    assert_int_equal(s.time_sec, 42);
    assert_int_equal(s.seq_count, 2);
    assert_int_equal(cb_vmclock_marker(&vc, &m), 0);
    assert_int_equal(m, 21);
    cb_vmclock_close(&vc);
}

/* churn: the marker changing as fast as another process can write it, read through the file
 * mapping: every snapshot whole, the marker never going back, and seen changing. */
static void test_fake_churn(void **state)
{
    (void)state;
    if (fake_path() == NULL) {
        skip();
    }
    char out[512];
    assert_int_equal(run_fake(out, sizeof(out), "create", path, NULL), 0);
    struct cb_vmclock vc;
    open_ok(&vc);
    int fd;
    pid_t pid = spawn_fake(&fd, "churn", "--seconds", "0.5", "--dawdle", "32");
    struct race_result r;
    memset(&r, 0, sizeof(r));
    uint64_t last = 0, last_marker = 0;
    int status = 0;
    pid_t done = 0;
    int64_t start = mono_ns();
    while (done == 0 && mono_ns() - start < 20 * S) {
        for (int i = 0; i < 1000; i++) {
            uint64_t v[3];
            if (good_reader(&vc, v) != 0) {
                r.busy++;
            } else {
                r.reads++;
                r.torn += v[1] != 2 * v[0] || v[2] != ~v[0];
                r.backwards += v[0] < last;
                last = v[0];
            }
            uint64_t m;
            if (cb_vmclock_marker(&vc, &m) != 0) {
                r.marker_busy++;
            } else {
                r.marker_reads++;
                r.marker_backwards += m < last_marker;
                r.markers_seen += m != last_marker;
                last_marker = m;
            }
        }
        done = waitpid(pid, &status, WNOHANG);
    }
    if (done == 0) {
        kill(pid, SIGTERM);
        waitpid(pid, &status, 0);
    }
    child = 0;
    r.elapsed_ns = mono_ns() - start;
    read_line(fd, out, sizeof(out));
    close(fd);
    assert_int_equal(sscanf(out, "writes %" SCNu64, &r.writes), 1);
    print_race("cb_vmclock_snapshot against fake_vmclock churn", &r);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(r.torn, 0);
    assert_int_equal(r.backwards, 0);
    assert_int_equal(r.marker_backwards, 0);
    assert_true(r.reads > 0);
    assert_true(r.markers_seen > 1);
    /* After the writer is gone: the last write, whole. */
    struct cb_vmclock_snapshot s;
    assert_int_equal(cb_vmclock_snapshot(&vc, &s), 0);
    assert_int_equal(s.disruption_marker, r.writes);
    assert_int_equal(s.seq_count, 2 * r.writes);
    cb_vmclock_close(&vc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_header),
        cmocka_unit_test_setup_teardown(test_open_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_short, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_bad_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_not_a_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_permission, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_good, setup, teardown),
        cmocka_unit_test(test_open_mem),
        cmocka_unit_test(test_snapshot_fields),
        cmocka_unit_test(test_snapshot_page_replaced),
        cmocka_unit_test(test_odd_seq),
        cmocka_unit_test(test_marker),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_torn_writes),
        cmocka_unit_test(test_torn_writes_negative_control),
        cmocka_unit_test_setup_teardown(test_fake_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fake_bump_and_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fake_hold_odd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fake_churn, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

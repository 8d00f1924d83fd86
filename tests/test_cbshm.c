/* Unit tests: the ClockBound shared-memory segment (oracle/cbshm.c), read back by the
 * independent reader in tests/support/cbshm_reader.c, including while it is being written. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cbshm.h"
#include "cbshm_reader.h"

#define S INT64_C(1000000000)

static char dir[64];
static char path[96];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_cbshm.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(path, sizeof(path), "%s/shm0", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    rmdir(dir);
    return 0;
}

static struct cb_now now_with(int64_t bound, int64_t growth, enum cb_status status)
{
    struct cb_now n;
    memset(&n, 0, sizeof(n));
    n.status = status;
    n.bound_ns = bound;
    n.growth_ppb = growth;
    return n;
}

static void test_record_from(void **state)
{
    (void)state;
    struct cbshm_record r;
    /* oracled's bound 7000 with no step margin now; the allowance for one (3000), a 4 ms
     * coarse tick at 50 ppm (200) and the reader's truncation (1). */
    struct cb_now n = now_with(7000, 50000, CB_STATUS_SYNCHRONIZED);
    cbshm_record_from(&n, 5 * S + 123, 4000000, 50000, 3000, &r);
    assert_int_equal(r.as_of_ns, 5 * S + 123);
    assert_int_equal(r.void_after_ns, 1005 * S + 123);
    assert_int_equal(r.bound_ns, 7000 + 3000 + 200 + 1);
    assert_int_equal(r.max_drift_ppb, 50000);
    assert_int_equal(r.status, 1);
    assert_int_equal(r.disruption_support, 0);
    /* Free running faster than D: the reader grows it at oracled's rate; 1 ns tick rounds up. */
    n = now_with(7000, 80000, CB_STATUS_FREE_RUNNING);
    cbshm_record_from(&n, 5 * S, 1, 50000, 3000, &r);
    assert_int_equal(r.max_drift_ppb, 80000);
    assert_int_equal(r.bound_ns, 7000 + 3000 + 1 + 1);
    assert_int_equal(r.status, 2);
    /* A margin now wider than the allowance is kept as it is. */
    n = now_with(7000, 50000, CB_STATUS_SYNCHRONIZED);
    n.step_margin_ns = 4000;
    cbshm_record_from(&n, 5 * S, 4000000, 50000, 3000, &r);
    assert_int_equal(r.bound_ns, 7000 - 4000 + 4000 + 200 + 1);
    n.step_margin_ns = 500;
    cbshm_record_from(&n, 5 * S, 4000000, 50000, 3000, &r);
    assert_int_equal(r.bound_ns, 7000 - 500 + 3000 + 200 + 1);
    n = now_with(7000, 50000, CB_STATUS_DISRUPTED);
    cbshm_record_from(&n, 5 * S, 4000000, 50000, 3000, &r);
    assert_int_equal(r.status, 3);
    /* No bound yet: 2^62 and UNKNOWN, whatever the status says. */
    n = now_with(INT64_MAX, 0, CB_STATUS_UNKNOWN);
    cbshm_record_from(&n, 5 * S, 4000000, 50000, 3000, &r);
    assert_int_equal(r.bound_ns, INT64_C(1) << 62);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.max_drift_ppb, 50000);
    /* A growth rate ClockBound's reader refuses (1e9 ppb and over): UNKNOWN too. */
    n = now_with(7000, 1000000000, CB_STATUS_FREE_RUNNING);
    cbshm_record_from(&n, 5 * S, 4000000, 50000, 3000, &r);
    assert_int_equal(r.bound_ns, INT64_C(1) << 62);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.max_drift_ppb, 50000);
}

static void test_encode_layout(void **state)
{
    (void)state;
    struct cbshm_record r = {.as_of_ns = 12 * S + 345,
                             .void_after_ns = 1012 * S + 345,
                             .bound_ns = 7200,
                             .disruption_marker = 0,
                             .max_drift_ppb = 50000,
                             .status = 2,
                             .disruption_support = 0};
    uint8_t b[CBSHM_SIZE];
    cbshm_encode(&r, 4, b);
    /* On x86 the file starts 4E 5A 4D 41 00 02 42 43. */
    const uint8_t magic[8] = {0x4e, 0x5a, 0x4d, 0x41, 0x00, 0x02, 0x42, 0x43};
    assert_memory_equal(b, magic, 8);
    struct cbr_record o;
    cbr_parse(b, &o);
    assert_int_equal(o.size, 80);
    assert_int_equal(o.version, 2);
    assert_int_equal(o.generation, 4);
    assert_int_equal(o.as_of_sec, 12);
    assert_int_equal(o.as_of_nsec, 345);
    assert_int_equal(o.void_after_sec, 1012);
    assert_int_equal(o.void_after_nsec, 345);
    assert_int_equal(o.bound_nsec, 7200);
    assert_int_equal(o.disruption_marker, 0);
    assert_int_equal(o.max_drift_ppb, 50000);
    assert_int_equal(o.status, 2);
    assert_int_equal(o.disruption_support, 0);
    for (int i = 73; i < 80; i++) {
        assert_int_equal(b[i], 0);
    }
    /* The reader's formula: 1 s after as_of at 50 ppm, 50 us more. */
    assert_int_equal(cbr_bound_at(&o, 13 * S + 345), 7200 + 50000);
}

static void test_generation(void **state)
{
    (void)state;
    assert_int_equal(cbshm_next_generation(0), 2);
    assert_int_equal(cbshm_next_generation(2), 4);
    assert_int_equal(cbshm_next_generation(65532), 65534);
    assert_int_equal(cbshm_next_generation(65534), 2); /* never 0 once written */
}

static void test_file(void **state)
{
    (void)state;
    char why[256];
    struct cbshm w;
    /* 0644 under the unit's umask too. */
    mode_t old_mask = umask(077);
    assert_int_equal(cbshm_open(&w, path, why, sizeof(why)), 0);
    umask(old_mask);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 80);
    assert_int_equal(st.st_mode & 0777, 0644);
    /* A second writer is refused while the first holds it. */
    struct cbshm w2;
    assert_int_equal(cbshm_open(&w2, path, why, sizeof(why)), -EBUSY);
    assert_non_null(strstr(why, "another process writes it"));
    struct cbr rd;
    assert_int_equal(cbr_open(&rd, path), 0);
    struct cbr_record o;
    assert_int_equal(cbr_read(&rd, &o, 1), 0);
    assert_int_equal(o.generation, 2);
    assert_int_equal(o.status, 0);
    assert_int_equal(o.magic0, 0x414D5A4E);
    assert_int_equal(o.magic1, 0x43420200);

    struct cb_now n = now_with(9000, 50000, CB_STATUS_SYNCHRONIZED);
    struct cbshm_record r;
    cbshm_record_from(&n, 77 * S, 4000000, 50000, 0, &r);
    cbshm_publish(&w, &r);
    assert_int_equal(cbr_read(&rd, &o, 1), 0);
    assert_int_equal(o.generation, 4);
    assert_int_equal(o.status, 1);
    assert_int_equal(o.bound_nsec, 9201);
    assert_int_equal(o.as_of_sec, 77);
    assert_int_equal(o.void_after_sec, 1077);
    cbshm_close(&w);
    assert_int_equal(cbr_read(&rd, &o, 1), 0);
    assert_int_equal(o.generation, 6);
    assert_int_equal(o.status, 0); /* a stopped oracled is not trusted */

    /* Reopened: the generation goes on from where it was. */
    assert_int_equal(cbshm_open(&w, path, why, sizeof(why)), 0);
    assert_int_equal(cbr_read(&rd, &o, 1), 0);
    assert_int_equal(o.generation, 8);
    cbshm_close(&w);
    cbr_close(&rd);

    /* Errors say what is wrong. */
    char missing[128];
    snprintf(missing, sizeof(missing), "%s/no/such/dir/shm0", dir);
    assert_int_equal(cbshm_open(&w, missing, why, sizeof(why)), -ENOENT);
    assert_non_null(strstr(why, "does its directory exist?"));
    assert_int_equal(cbshm_open(&w, dir, why, sizeof(why)), -EISDIR);
    char longpath[400];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(cbshm_open(&w, longpath, why, sizeof(why)), -ENAMETOOLONG);
}

/* The control: a writer stopped half-way through a record (generation odd, as_of new,
 * void_after old). The seqlock reader refuses it; a reader ignoring the generation takes an
 * inconsistent record. */
static void test_half_written(void **state)
{
    (void)state;
    char why[256];
    struct cbshm w;
    assert_int_equal(cbshm_open(&w, path, why, sizeof(why)), 0);
    struct cb_now n = now_with(9000, 50000, CB_STATUS_SYNCHRONIZED);
    struct cbshm_record r;
    cbshm_record_from(&n, 10 * S, 4000000, 50000, 0, &r);
    cbshm_publish(&w, &r);
    uint16_t odd = (uint16_t)(w.generation + 1);
    memcpy(w.map + 14, &odd, 2);
    int64_t new_sec = 20;
    memcpy(w.map + 16, &new_sec, 8);
    struct cbr rd;
    assert_int_equal(cbr_open(&rd, path), 0);
    struct cbr_record o;
    assert_int_equal(cbr_read(&rd, &o, 100), -EAGAIN);
    cbr_read_unsafe(&rd, &o);
    assert_int_not_equal(o.void_after_sec - o.as_of_sec, 1000);
    cbr_close(&rd);
    cbshm_close(&w);
}

/* A writer publishing as fast as it can while the reader reads: every snapshot the seqlock
 * reader accepts is one record, whole. */
static atomic_bool stop_writer;
static atomic_ulong writes_done;

static void *writer(void *arg)
{
    struct cbshm *w = arg;
    for (int64_t k = 1; !atomic_load(&stop_writer); k++) {
        struct cbshm_record r = {.as_of_ns = k * 1000003,
                                 .void_after_ns = k * 1000003 + 1000 * S,
                                 .bound_ns = k,
                                 .max_drift_ppb = (uint32_t)(k & 0xffff),
                                 .status = (int32_t)(k & 3)};
        r.disruption_marker = (uint64_t)k;
        cbshm_publish(w, &r);
        atomic_fetch_add(&writes_done, 1);
    }
    return NULL;
}

static bool consistent(const struct cbr_record *o)
{
    int64_t k = o->bound_nsec;
    int64_t as_of = k * 1000003;
    return o->as_of_sec == as_of / S && o->as_of_nsec == as_of % S &&
           o->void_after_sec == as_of / S + 1000 && o->void_after_nsec == as_of % S &&
           o->disruption_marker == (uint64_t)k && o->max_drift_ppb == (uint32_t)(k & 0xffff) &&
           o->status == (int32_t)(k & 3);
}

static void test_race(void **state)
{
    (void)state;
    char why[256];
    struct cbshm w;
    assert_int_equal(cbshm_open(&w, path, why, sizeof(why)), 0);
    struct cbshm_record first = {.as_of_ns = 1000003,
                                 .void_after_ns = 1000003 + 1000 * S,
                                 .bound_ns = 1,
                                 .max_drift_ppb = 1,
                                 .status = 1,
                                 .disruption_marker = 1};
    cbshm_publish(&w, &first);
    struct cbr rd;
    assert_int_equal(cbr_open(&rd, path), 0);
    atomic_store(&stop_writer, false);
    atomic_store(&writes_done, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer, &w), 0);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    uint64_t reads = 0, busy = 0, torn = 0, unsafe_torn = 0, unsafe_reads = 0;
    int64_t elapsed = 0;
    int64_t last_k = 0;
    do {
        for (int i = 0; i < 1000; i++) {
            struct cbr_record o;
            if (cbr_read(&rd, &o, 4) < 0) {
                busy++;
            } else {
                reads++;
                if (!consistent(&o) || o.bound_nsec < last_k) {
                    torn++;
                }
                last_k = o.bound_nsec;
            }
            cbr_read_unsafe(&rd, &o);
            unsafe_reads++;
            unsafe_torn += !consistent(&o);
        }
        sched_yield(); /* under valgrind's one-thread-at-a-time, the writer's turn */
        clock_gettime(CLOCK_MONOTONIC, &now);
        elapsed = (now.tv_sec - start.tv_sec) * S + (now.tv_nsec - start.tv_nsec);
        /* Half a second, and at least 1000 writes and reads, within 20 s. */
    } while ((elapsed < S / 2 || atomic_load(&writes_done) < 1000 || reads < 1000) &&
             elapsed < 20 * S);
    atomic_store(&stop_writer, true);
    pthread_join(t, NULL);
    print_message("%llu seqlock reads (%llu found a write in progress), %llu torn; %llu writes; "
                  "the same reader ignoring the generation: %llu of %llu torn\n",
                  (unsigned long long)reads, (unsigned long long)busy, (unsigned long long)torn,
                  (unsigned long long)atomic_load(&writes_done), (unsigned long long)unsafe_torn,
                  (unsigned long long)unsafe_reads);
    assert_true(reads > 1000);
    /* With two CPUs and no valgrind serialising the threads, they must have overlapped, or the
     * test saw no race at all. */
    const char *preload = getenv("LD_PRELOAD");
    bool valgrind = preload != NULL && strstr(preload, "vgpreload") != NULL;
    if (sysconf(_SC_NPROCESSORS_ONLN) > 1 && !valgrind) {
        assert_true(busy + unsafe_torn > 0);
    }
    assert_true(atomic_load(&writes_done) >= 1000);
    assert_int_equal(torn, 0);
    cbr_close(&rd);
    cbshm_close(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_from),
        cmocka_unit_test(test_encode_layout),
        cmocka_unit_test(test_generation),
        cmocka_unit_test_setup_teardown(test_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_written, setup, teardown),
        cmocka_unit_test_setup_teardown(test_race, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

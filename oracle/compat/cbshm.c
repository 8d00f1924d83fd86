/* The ClockBound shared-memory segment (see cbshm.h). */
#include "cbshm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errtext.h"
#include "satmath.h"

#define NS_PER_S INT64_C(1000000000)

/* What a reader must not trust: status UNKNOWN, a bound far from overflowing its sums. */
static void mark_unknown(struct cbshm_record *r)
{
    r->bound_ns = CBSHM_UNKNOWN_BOUND_NS;
    r->status = CB_STATUS_UNKNOWN;
}

void cbshm_record_from(const struct cb_state *st, const struct cb_now *now, int64_t as_of_ns,
                       int64_t valid_ns, int64_t coarse_res_ns, uint32_t max_drift_ppb,
                       int64_t step_allowance_ns, struct cbshm_record *out)
{
    memset(out, 0, sizeof(*out));
    /* The VMClock's marker as oracled last saw it. ClockBound 2.x's client, when support is
     * set, compares it with the page's own and returns UNKNOWN while they differ
     * (clock-bound-vmclock/src/lib.rs VMClock::now): a migration shows to readers at once,
     * before oracled's next record, which then carries the new marker (and DISRUPTED). Set once
     * oracled has read a marker: with no VMClock, as the 2.x daemon without disruption
     * support, 0 and 0. */
    out->disruption_marker = st->vm_have_marker ? st->vm_marker : 0;
    out->disruption_support = st->vm_have_marker ? 1 : 0;
    out->as_of_ns = as_of_ns;
    out->void_after_ns = cb_sat_add(as_of_ns, valid_ns);
    out->max_drift_ppb = max_drift_ppb;
    out->status = (int32_t)now->status;
    if (!cb_status_trusted(now->status)) {
        /* Nothing to use: the status says so, and the bound is the one no reader can use
         * either (a reader that ignores the status included). */
        out->bound_ns = CBSHM_UNKNOWN_BOUND_NS;
        return;
    }
    if (now->bound_ns >= CBSHM_UNKNOWN_BOUND_NS) {
        /* A trusted status with a bound no reader could use (the status machine refuses any
         * above --max-bound, an hour at most): the UNKNOWN bound would be smaller than oracled's
         * own, so the status must say UNKNOWN too. */
        mark_unknown(out);
        return;
    }
    /* Readers use the record until their coarse clock reaches the later of void_after and
     * as_of + 5 s, a tick or two after CLOCK_MONOTONIC does: horizon ns after now at most
     * (as_of <= now). Over that the reader's line must stay above oracled's bound
     * (cb_bound_line). */
    int64_t trusted = valid_ns > CBSHM_READER_GRACE_NS ? valid_ns : CBSHM_READER_GRACE_NS;
    /* The coarse clock's lag varies by about a tick, more on a busy or stolen CPU: two. */
    int64_t lag = cb_sat_add(coarse_res_ns, coarse_res_ns);
    int64_t horizon = cb_sat_add(trusted, lag);
    if (cb_sat_add(now->rt_ns, horizon) >= cb_leap_window_start_ns(st)) {
        /* A leap second's window would begin while readers still trusted the record, and
         * nothing would tell them if oracled were gone. */
        mark_unknown(out);
        return;
    }
    int64_t b_now = 0;
    int64_t rate = 0;
    if (cb_bound_line(st, now->mono_ns, cb_sat_add(now->mono_ns, horizon), &b_now, &rate) < 0) {
        /* A reading older than the poll's reply: the daemon takes none. */
        mark_unknown(out);
        return;
    }
    if (rate < (int64_t)max_drift_ppb) {
        rate = max_drift_ppb;
    }
    if (rate >= NS_PER_S) {
        /* Faster than ClockBound's reader takes: UNKNOWN. */
        mark_unknown(out);
        return;
    }
    out->max_drift_ppb = (uint32_t)rate;
    /* The reader's elapsed time is short of ours by up to the lag's variation (its coarse
     * reading now and as_of lag CLOCK_MONOTONIC by different amounts): that growth is added.
     * oracled's step margin, which only its own readings see, becomes the largest a reading
     * can show without being a step. ClockBound's reader truncates its growth: 1 ns more. */
    int64_t res_growth = cb_ppb_of_ns_ceil(rate, lag);
    int64_t margin =
        now->step_margin_ns > step_allowance_ns ? now->step_margin_ns : step_allowance_ns;
    /* And 2 ns for the rounding of the bound's own terms, which keeps it convex only to
     * within a ns or two. */
    out->bound_ns = cb_sat_add(cb_sat_add(b_now, margin), cb_sat_add(res_growth, 3));
}

int64_t cbshm_valid_ns(int64_t grace_ns, int64_t as_of_ns, const struct cb_now *now)
{
    int64_t valid = grace_ns;
    if (now->poll_age_ns >= 0) {
        /* oracled goes UNKNOWN once the last successful poll's m0 is grace_ns old. */
        int64_t m0 = now->mono_ns - now->poll_age_ns;
        int64_t until = cb_sat_add(m0, grace_ns) - as_of_ns;
        if (until < valid) {
            valid = until;
        }
    }
    return valid > 0 ? valid : 0;
}

void cbshm_record_unknown(int64_t coarse_ns, uint32_t max_drift_ppb, struct cbshm_record *out)
{
    memset(out, 0, sizeof(*out));
    out->as_of_ns = coarse_ns;
    out->void_after_ns = coarse_ns;
    out->max_drift_ppb = max_drift_ppb;
    mark_unknown(out);
}

static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, sizeof(v));
}
static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
}
static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, sizeof(v));
}
static void put_timespec(uint8_t *p, int64_t ns)
{
    put64(p, (uint64_t)(ns / NS_PER_S));
    put64(p + 8, (uint64_t)(ns % NS_PER_S));
}

void cbshm_encode(const struct cbshm_record *r, uint16_t generation, uint8_t out[CBSHM_SIZE])
{
    memset(out, 0, CBSHM_SIZE);
    put32(out, CBSHM_MAGIC0);
    put32(out + 4, CBSHM_MAGIC1);
    put32(out + 8, CBSHM_SIZE);
    put16(out + 12, CBSHM_VERSION);
    put16(out + CBSHM_OFF_GENERATION, generation);
    put_timespec(out + 16, r->as_of_ns);
    put_timespec(out + 32, r->void_after_ns);
    put64(out + 48, (uint64_t)r->bound_ns);
    put64(out + 56, r->disruption_marker);
    put32(out + 64, r->max_drift_ppb);
    put32(out + 68, (uint32_t)r->status);
    out[72] = r->disruption_support;
}

uint16_t cbshm_next_generation(uint16_t g)
{
    uint16_t n = (uint16_t)(g + 2);
    return n == 0 ? 2 : n;
}

/*
 * Creates the directories missing above path, every one of them (ClockBound 2.x's writer calls
 * Rust's fs::create_dir_all on the segment's parent: clock-bound-shm/src/writer.rs,
 * ShmWriter::wipe), each mode CBSHM_DIR_MODE whatever the umask. The first one created goes to
 * made (empty if none). Returns 0, or a negative errno with a sentence in why.
 */
static int make_parents(const char *path, char *made, size_t made_cap, char *why, size_t why_cap)
{
    char dir[sizeof(((struct cbshm *)NULL)->path)];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir) {
        return 0; /* in the working directory, or in / */
    }
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0') {
            continue;
        }
        char c = *p;
        *p = '\0';
        if (mkdir(dir, CBSHM_DIR_MODE) == 0) {
            /* mkdir applies the umask (the unit's is 0077): readers of every user must reach
             * the segment. */
            if (chmod(dir, CBSHM_DIR_MODE) < 0) {
                int err = errno;
                snprintf(why, why_cap, "cannot make the directory %s readable to all: %s", dir,
                         err_text(err));
                return -err;
            }
            if (made[0] == '\0') {
                snprintf(made, made_cap, "%s", dir);
            }
        } else if (errno != EEXIST) {
            int err = errno;
            snprintf(why, why_cap, "cannot create the directory %s: %s", dir, err_text(err));
            return -err;
        } else {
            struct stat st;
            if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
                snprintf(why, why_cap, "cannot create its directory: %s is not a directory", dir);
                return -ENOTDIR;
            }
        }
        *p = c;
        if (c == '\0') {
            return 0;
        }
    }
}

int cbshm_open(struct cbshm *s, const char *path, int64_t coarse_ns, uint32_t max_drift_ppb,
               char *why, size_t why_cap)
{
    memset(s, 0, sizeof(*s));
    s->fd = -1;
    s->max_drift_ppb = max_drift_ppb;
    if (strlen(path) >= sizeof(s->path)) {
        snprintf(why, why_cap, "the path is longer than %zu bytes", sizeof(s->path) - 1);
        return -ENAMETOOLONG;
    }
    snprintf(s->path, sizeof(s->path), "%s", path);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 && (errno == ENOENT || errno == ENOTDIR)) {
        /* Its directory is missing: ClockBound's writer creates it, so clients configured for
         * it find the segment where they look. (ENOTDIR: something on the way is not a
         * directory, which make_parents names.) */
        int rc = make_parents(path, s->made_dir, sizeof(s->made_dir), why, why_cap);
        if (rc < 0) {
            return rc;
        }
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    }
    if (fd < 0) {
        int err = errno;
        snprintf(why, why_cap, "cannot create it: %s%s", err_text(err),
                 err == ENOENT ? " (does its directory exist?)" : "");
        return -err;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, why_cap, "it is not a regular file");
        close(fd);
        return -EINVAL;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int err = errno;
        snprintf(why, why_cap, "%s",
                 err == EWOULDBLOCK ? "another process writes it (another oracled?)"
                                    : err_text(err));
        close(fd);
        return -(err == EWOULDBLOCK ? EBUSY : err);
    }
    /* Readable by every local client whatever the umask (the unit's is 0077). */
    if (fchmod(fd, 0644) < 0) {
        int err = errno;
        snprintf(why, why_cap, "cannot make it readable to all: %s", err_text(err));
        close(fd);
        return -err;
    }
    if (ftruncate(fd, CBSHM_SIZE) < 0) {
        int err = errno;
        snprintf(why, why_cap, "cannot size it: %s", err_text(err));
        close(fd);
        return -err;
    }
    void *map = mmap(NULL, CBSHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        int err = errno;
        snprintf(why, why_cap, "cannot map it: %s", err_text(err));
        close(fd);
        return -err;
    }
    s->fd = fd;
    s->map = map;
    /* A segment left by an earlier run keeps counting from its generation, so a reader that
     * held it open never sees a generation repeat. */
    uint16_t g = 0;
    uint32_t magic0 = 0;
    memcpy(&magic0, s->map, sizeof(magic0));
    if (magic0 == CBSHM_MAGIC0) {
        memcpy(&g, s->map + CBSHM_OFF_GENERATION, sizeof(g));
        g = (uint16_t)(g & ~1u);
    }
    s->generation = g;
    struct cbshm_record r;
    cbshm_record_unknown(coarse_ns, max_drift_ppb, &r);
    cbshm_publish(s, &r);
    return 0;
}

/* Stores of the mapped fields are atomic (relaxed) so no field is ever half-written; the order
 * between the generation and the fields comes from the fences and the release store. */
static void store64(uint8_t *p, uint64_t v)
{
    __atomic_store_n((uint64_t *)(void *)p, v, __ATOMIC_RELAXED);
}
static void store32(uint8_t *p, uint32_t v)
{
    __atomic_store_n((uint32_t *)(void *)p, v, __ATOMIC_RELAXED);
}

void cbshm_publish(struct cbshm *s, const struct cbshm_record *r)
{
    uint8_t rec[CBSHM_SIZE];
    cbshm_encode(r, 0, rec);
    uint16_t *gen = (uint16_t *)(void *)(s->map + CBSHM_OFF_GENERATION);
    uint16_t next = cbshm_next_generation(s->generation);
    /* Odd: a reader that sees it, or sees it change, retries. */
    __atomic_store_n(gen, (uint16_t)(next - 1), __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE); /* the odd generation before any field */
    for (size_t off = 0; off < 12; off += 4) {
        uint32_t v;
        memcpy(&v, rec + off, sizeof(v));
        store32(s->map + off, v);
    }
    __atomic_store_n((uint16_t *)(void *)(s->map + 12), (uint16_t)CBSHM_VERSION, __ATOMIC_RELAXED);
    for (size_t off = 16; off < CBSHM_SIZE; off += 8) {
        uint64_t v;
        memcpy(&v, rec + off, sizeof(v));
        store64(s->map + off, v);
    }
    /* Even again: release orders every field store before it. */
    __atomic_store_n(gen, next, __ATOMIC_RELEASE);
    s->generation = next;
    s->writes++;
}

void cbshm_close(struct cbshm *s, int64_t coarse_ns)
{
    if (s->fd < 0) {
        return;
    }
    struct cbshm_record r;
    cbshm_record_unknown(coarse_ns, s->max_drift_ppb, &r);
    cbshm_publish(s, &r);
    munmap(s->map, CBSHM_SIZE);
    close(s->fd);
    s->fd = -1;
    s->map = NULL;
}

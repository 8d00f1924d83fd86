/*
 * Unit tests: the reservation of timestamps on disk (oracle/reserve.c) on a real libuv loop and a
 * private state directory: opening (absent, empty, an existing state file, every refusal with its
 * sentence), the window (when a new high-water mark is written, and which), the mark reported
 * only once it is on disk, write failures and the recovery after them, the directory's lock,
 * reserve_disabled and closing twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "log.h"
#include "loop_until.h"
#include "reserve.h"
#include "statefile.h"

#define MS     INT64_C(1000000)
#define SEC    INT64_C(1000000000)
#define RT0    (INT64_C(1795620000) * SEC) /* 2026-11-25T14:40:00Z */
#define WINDOW SEC                         /* the default window */
#define HALF   (WINDOW / 2)
#define BOUND  (10 * MS) /* the default maximum bound */

struct env {
    uv_loop_t loop;
    char dir[64];       /* the private directory everything happens in */
    char state_dir[96]; /* the state directory: dir/state (absent until opened) */
    struct reserve r;
    unsigned calls;     /* reserve_cb calls ... */
    uint64_t marks[16]; /* ... and the marks they reported */
};

static void on_reserved(struct reserve *r, uint64_t high_water_ns)
{
    struct env *e = r->data;
    /* Reported once it is the H on disk, never before. */
    assert_true(high_water_ns == r->h_committed);
    assert_false(r->writing);
    if (e->calls < sizeof(e->marks) / sizeof(e->marks[0])) {
        e->marks[e->calls] = high_water_ns;
    }
    e->calls++;
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        return -1;
    }
    log_threshold = LOG_LEVEL_ERR;
    snprintf(e->dir, sizeof(e->dir), "/tmp/test_reserve.XXXXXX");
    if (mkdtemp(e->dir) == NULL || uv_loop_init(&e->loop) != 0) {
        free(e);
        return -1;
    }
    snprintf(e->state_dir, sizeof(e->state_dir), "%s/state", e->dir);
    *state = e;
    return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    chmod(path, 0700); /* a test may have made a directory read-only */
    return remove(path) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    /* Whatever a failed test left: a write under way finishes, the lock goes with the fds. */
    int rc = loop_close_all(&e->loop);
    reserve_close(&e->r);
    chmod(e->dir, 0700);
    chmod(e->state_dir, 0700);
    int removed = nftw(e->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(e);
    return rc == 0 && removed == 0 ? 0 : -1;
}

/* Opens the reservation on e->state_dir with the default window and bound at now_rt_ns. */
static int open_at(struct env *e, int64_t now_rt_ns, char *why, size_t cap)
{
    why[0] = '\0';
    int rc = reserve_open(&e->r, &e->loop, e->state_dir, WINDOW, BOUND, now_rt_ns, on_reserved, why,
                          cap);
    e->r.data = e;
    return rc;
}

static void path_of(const struct env *e, const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", e->state_dir, name);
}

/* The state file's text, "" when there is none. */
static const char *state_text(const struct env *e)
{
    static char text[STATEFILE_MAX_LEN + 2];
    char path[160];
    path_of(e, STATEFILE_NAME, path, sizeof(path));
    text[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        assert_int_equal(errno, ENOENT);
        return text;
    }
    ssize_t n = read(fd, text, sizeof(text) - 1);
    close(fd);
    assert_true(n >= 0);
    text[n] = '\0';
    return text;
}

/* What the state file holds for H. */
static const char *line_for(uint64_t h)
{
    static char line[STATEFILE_MAX_LEN];
    statefile_format(h, line, sizeof(line));
    return line;
}

static void write_state(const struct env *e, const char *text)
{
    assert_true(mkdir(e->state_dir, 0750) == 0 || errno == EEXIST);
    char path[160];
    path_of(e, STATEFILE_NAME, path, sizeof(path));
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* Runs the loop until no write is under way (uv_run returns when the queued work is done). */
static void run_writes(struct env *e)
{
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_false(e->r.writing);
}

/* The state directory does not exist: made (0750 under umask 022), locked, a fresh start, and
 * nothing written until the first check. */
static void test_open_absent_dir(void **state)
{
    struct env *e = *state;
    char why[512];
    mode_t old = umask(022);
    int rc = open_at(e, RT0, why, sizeof(why));
    umask(old);
    if (rc != 0) {
        fail_msg("reserve_open: %d: %s", rc, why);
    }
    assert_true(e->r.enabled);
    assert_true(e->r.h_start == 0);
    assert_true(e->r.h_committed == 0);
    assert_false(e->r.writing);
    assert_int_equal(e->r.last_error, 0);
    assert_true(e->r.writes == 0 && e->r.failures == 0);
    struct stat st;
    assert_int_equal(stat(e->state_dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0750);
    char lock[160];
    path_of(e, STATEFILE_LOCK, lock, sizeof(lock));
    assert_int_equal(access(lock, F_OK), 0);
    assert_string_equal(state_text(e), "");
    /* Nothing was queued: the loop has nothing to do. */
    assert_int_equal(uv_loop_alive(&e->loop), 0);

    /* The first check reserves a window above latest, and reports it once it is on disk. */
    reserve_check(&e->r, 0, RT0);
    assert_true(e->r.writing);
    assert_true(e->r.h_writing == (uint64_t)(RT0 + WINDOW));
    assert_true(e->r.h_committed == 0); /* not yet durable: not yet the limit */
    run_writes(e);
    assert_int_equal(e->calls, 1);
    assert_true(e->marks[0] == (uint64_t)(RT0 + WINDOW));
    assert_true(e->r.h_committed == (uint64_t)(RT0 + WINDOW));
    assert_true(e->r.writes == 1 && e->r.failures == 0);
    assert_true(e->r.write_ns.total == 1);
    assert_string_equal(state_text(e), line_for((uint64_t)(RT0 + WINDOW)));
    char tmp[160];
    path_of(e, STATEFILE_TMP_NAME, tmp, sizeof(tmp));
    assert_int_equal(access(tmp, F_OK), -1); /* renamed, not left behind */
}

/* An empty existing directory: a fresh start, its mode left alone. */
static void test_open_empty_dir(void **state)
{
    struct env *e = *state;
    assert_int_equal(mkdir(e->state_dir, 0700), 0);
    char why[512];
    assert_int_equal(open_at(e, RT0, why, sizeof(why)), 0);
    assert_true(e->r.h_start == 0 && e->r.h_committed == 0);
    struct stat st;
    assert_int_equal(stat(e->state_dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_string_equal(state_text(e), "");
}

/* An existing state file: h_start and h_committed are its H, and nothing is rewritten while more
 * than half a window is left above what has been issued. */
static void test_open_existing_state(void **state)
{
    struct env *e = *state;
    const uint64_t h = (uint64_t)(RT0 + 700 * MS);
    write_state(e, line_for(h));
    char why[512];
    assert_int_equal(open_at(e, RT0, why, sizeof(why)), 0);
    assert_true(e->r.h_start == h);
    assert_true(e->r.h_committed == h);
    /* Exactly half a window left above latest: enough. */
    reserve_check(&e->r, 0, (int64_t)h - HALF);
    assert_false(e->r.writing);
    assert_int_equal(uv_loop_alive(&e->loop), 0);
    assert_int_equal(e->calls, 0);
    assert_string_equal(state_text(e), line_for(h));
    /* One ns less: a new mark, a window above latest. */
    reserve_check(&e->r, 0, (int64_t)h - HALF + 1);
    assert_true(e->r.writing);
    run_writes(e);
    assert_int_equal(e->calls, 1);
    assert_true(e->marks[0] == h - HALF + 1 + WINDOW);
    assert_true(e->r.h_start == h); /* what was found at start stays what it was */
    assert_string_equal(state_text(e), line_for(h - HALF + 1 + WINDOW));
}

/* The window: base = max(last_issued, latest); a new H = base + window is written when less
 * than half a window is left above base; one write at a time. */
static void test_window(void **state)
{
    struct env *e = *state;
    char why[512];
    assert_int_equal(open_at(e, RT0, why, sizeof(why)), 0);
    reserve_check(&e->r, 0, RT0);
    run_writes(e);
    uint64_t h1 = (uint64_t)(RT0 + WINDOW);
    assert_true(e->r.h_committed == h1);

    static const struct {
        const char *what;
        uint64_t last_issued;
        int64_t latest_ns;
        uint64_t want; /* the new H, 0 when none is written */
    } steps[] = {
        {"latest well below", 0, RT0 + 1, 0},
        {"exactly half a window left", 0, RT0 + HALF, 0},
        {"last issued at exactly half", (uint64_t)(RT0 + HALF), RT0, 0},
        {"half a window less 1 ns", 0, RT0 + HALF + 1, (uint64_t)(RT0 + HALF + 1 + WINDOW)},
        /* From H2 = RT0 + 1.5 s + 1: issued timestamps ahead of latest count as the base. */
        {"last issued ahead of latest", (uint64_t)(RT0 + WINDOW + 2), RT0,
         (uint64_t)(RT0 + 2 * WINDOW + 2)},
        /* From H3 = RT0 + 2 s + 2: latest at H3 or past it (the mark already reached). */
        {"latest at the mark", 0, RT0 + 2 * WINDOW + 2, (uint64_t)(RT0 + 3 * WINDOW + 2)},
        {"latest past the mark", 0, RT0 + 5 * WINDOW, (uint64_t)(RT0 + 6 * WINDOW)},
        /* A negative latest (no clock) is no base: last issued alone. */
        {"no latest", (uint64_t)(RT0 + 6 * WINDOW), -1, (uint64_t)(RT0 + 7 * WINDOW)},
    };
    unsigned calls = e->calls;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        uint64_t before = e->r.h_committed;
        reserve_check(&e->r, steps[i].last_issued, steps[i].latest_ns);
        if (steps[i].want == 0) {
            if (e->r.writing) {
                fail_msg("%s: a write started (H %llu) with H %llu on disk", steps[i].what,
                         (unsigned long long)e->r.h_writing, (unsigned long long)before);
            }
            continue;
        }
        if (!e->r.writing || e->r.h_writing != steps[i].want) {
            fail_msg("%s: writing %d, H %llu (want %llu)", steps[i].what, e->r.writing,
                     (unsigned long long)e->r.h_writing, (unsigned long long)steps[i].want);
        }
        assert_true(e->r.h_committed == before); /* the limit moves only once durable */
        run_writes(e);
        calls++;
        assert_int_equal(e->calls, calls);
        assert_true(e->marks[calls - 1] == steps[i].want);
        assert_true(e->r.h_committed == steps[i].want);
        assert_string_equal(state_text(e), line_for(steps[i].want));
    }

    /* One write at a time: a second check while one is under way changes nothing. */
    uint64_t base = e->r.h_committed;
    reserve_check(&e->r, base, 0);
    assert_true(e->r.writing && e->r.h_writing == base + WINDOW);
    reserve_check(&e->r, base + 10 * WINDOW, 0);
    assert_true(e->r.h_writing == base + WINDOW);
    run_writes(e);
    assert_int_equal(e->calls, calls + 1);
    assert_true(e->r.h_committed == base + WINDOW);
    /* ... and the next check after it takes the later base. */
    reserve_check(&e->r, base + 10 * WINDOW, 0);
    run_writes(e);
    assert_int_equal(e->calls, calls + 2);
    assert_true(e->r.h_committed == base + 11 * WINDOW);
    assert_true(e->r.writes == calls + 2 && e->r.failures == 0);
    assert_true(e->r.write_ns.total == e->r.writes);
}

/* An H further ahead than window + max bound is refused with the sentence, and the lock is
 * released (another open succeeds); at exactly window + max bound it is accepted. */
static void test_too_far_ahead(void **state)
{
    struct env *e = *state;
    const uint64_t h = (uint64_t)(RT0 + 2 * SEC);
    write_state(e, line_for(h));
    char why[768];
    const int64_t edge = (int64_t)h - WINDOW - BOUND;
    assert_int_equal(open_at(e, edge - 1, why, sizeof(why)), -ERANGE);
    char want[768];
    snprintf(want, sizeof(want),
             "state file %s/state holds the high-water mark 1795620002000000000, 1.010 s ahead "
             "of this clock (more than the 1.000 s window plus the 0.010 s maximum bound): the "
             "clock went backwards since the last run, or the file came from another machine. "
             "Fix the clock; or, if no instance can have issued timestamps that high, remove the "
             "file to start afresh",
             e->state_dir);
    assert_string_equal(why, want);
    assert_int_equal(e->r.sf.lock_fd, -1);
    reserve_close(&e->r); /* after a failed open: nothing to do, allowed */
    assert_int_equal(open_at(e, edge, why, sizeof(why)), 0);
    assert_true(e->r.h_committed == h);
}

/* A corrupt or unreadable state file is refused, never read as a fresh start; the lock is
 * released. */
static void test_corrupt_state(void **state)
{
    struct env *e = *state;
    char why[768], want[768];
    const char *tail = ". It is not reset silently: if no instance using it can have issued "
                       "timestamps at or above the time now, remove it and start again";

    write_state(e, "garbage\n");
    assert_int_equal(open_at(e, RT0, why, sizeof(why)), -EBADMSG);
    snprintf(want, sizeof(want),
             "state file %s/state: the file does not start with \"oracled-state v1 "
             "high_water_ns=\"%s",
             e->state_dir, tail);
    assert_string_equal(why, want);
    assert_int_equal(e->r.sf.lock_fd, -1);

    char line[STATEFILE_MAX_LEN];
    size_t len = statefile_format((uint64_t)RT0, line, sizeof(line));
    line[len - 1] = '\0'; /* no final newline: truncated */
    write_state(e, line);
    assert_int_equal(open_at(e, RT0, why, sizeof(why)), -EBADMSG);
    snprintf(want, sizeof(want), "state file %s/state: the file is truncated (no final newline)%s",
             e->state_dir, tail);
    assert_string_equal(why, want);

    write_state(e, "");
    assert_int_equal(open_at(e, RT0, why, sizeof(why)), -EBADMSG);
    snprintf(want, sizeof(want), "state file %s/state: the file is empty%s", e->state_dir, tail);
    assert_string_equal(why, want);

    /* A directory where the state file should be: it cannot be read. */
    char path[160];
    path_of(e, STATEFILE_NAME, path, sizeof(path));
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(open_at(e, RT0, why, sizeof(why)), -EISDIR);
    snprintf(want, sizeof(want), "state file %s/state: cannot read the state file%s", e->state_dir,
             tail);
    assert_string_equal(why, want);
    assert_int_equal(e->r.sf.lock_fd, -1);
}

/* State directories that cannot be used, each with its errno and sentence. */
static void test_bad_dir(void **state)
{
    struct env *e = *state;
    char why[768], want[768];

    /* A regular file where the directory should be. */
    int fd = open(e->state_dir, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(open_at(e, RT0, why, sizeof(why)), -ENOTDIR);
    snprintf(want, sizeof(want),
             "state directory %s: cannot open the state directory (Not a directory)", e->state_dir);
    assert_string_equal(why, want);
    assert_int_equal(unlink(e->state_dir), 0);

    /* Its parent is missing: not made (only the last component is). */
    snprintf(e->state_dir, sizeof(e->state_dir), "%s/missing/state", e->dir);
    assert_int_equal(open_at(e, RT0, why, sizeof(why)), -ENOENT);
    snprintf(want, sizeof(want),
             "state directory %s: cannot create the state directory (No such file or directory)",
             e->state_dir);
    assert_string_equal(why, want);

    /* A path longer than the module keeps. */
    char longdir[400];
    memset(longdir, 'd', sizeof(longdir) - 1);
    longdir[0] = '/';
    longdir[sizeof(longdir) - 1] = '\0';
    assert_int_equal(
        reserve_open(&e->r, &e->loop, longdir, WINDOW, BOUND, RT0, on_reserved, why, sizeof(why)),
        -ENAMETOOLONG);
    snprintf(want, sizeof(want),
             "state directory %s: the state directory's path is too long (File name too long)",
             longdir);
    assert_string_equal(why, want);
    snprintf(e->state_dir, sizeof(e->state_dir), "%s/state", e->dir);
}

/* The directory is locked: a second reservation on it is refused while the first is open, and
 * succeeds once it is closed. Closing twice is harmless. */
static void test_lock(void **state)
{
    struct env *e = *state;
    char why[512];
    assert_int_equal(open_at(e, RT0, why, sizeof(why)), 0);
    struct reserve other;
    char owhy[512];
    assert_int_equal(reserve_open(&other, &e->loop, e->state_dir, WINDOW, BOUND, RT0, on_reserved,
                                  owhy, sizeof(owhy)),
                     -EWOULDBLOCK);
    char want[512];
    snprintf(want, sizeof(want),
             "state directory %s: another oracled holds the state directory's lock (Resource "
             "temporarily unavailable)",
             e->state_dir);
    assert_string_equal(owhy, want);
    reserve_close(&other); /* after a failed open: harmless */

    reserve_close(&e->r);
    assert_int_equal(e->r.sf.lock_fd, -1);
    assert_int_equal(e->r.sf.dir_fd, -1);
    reserve_close(&e->r); /* twice: harmless */
    assert_int_equal(reserve_open(&other, &e->loop, e->state_dir, WINDOW, BOUND, RT0, on_reserved,
                                  owhy, sizeof(owhy)),
                     0);
    reserve_close(&other);
}

/* A write that fails (a directory in the way of the temporary file, then of the state file):
 * counted, the error and the step kept, no mark reported, the limit left where it was; the next
 * check tries again, and once the way is clear the mark is written and the error cleared. */
static void test_write_failure_and_recovery(void **state)
{
    struct env *e = *state;
    char why[512];
    assert_int_equal(open_at(e, RT0, why, sizeof(why)), 0);
    char tmp[160], st[160];
    path_of(e, STATEFILE_TMP_NAME, tmp, sizeof(tmp));
    path_of(e, STATEFILE_NAME, st, sizeof(st));

    assert_int_equal(mkdir(tmp, 0700), 0);
    reserve_check(&e->r, 0, RT0);
    assert_true(e->r.writing);
    run_writes(e);
    assert_int_equal(e->calls, 0);
    assert_true(e->r.failures == 1 && e->r.writes == 0);
    assert_int_equal(e->r.last_error, -EISDIR);
    assert_string_equal(e->r.last_why, "cannot create the temporary file");
    assert_true(e->r.h_committed == 0);
    assert_true(e->r.write_ns.total == 0);
    assert_string_equal(state_text(e), "");
    struct reserve_stats rs;
    reserve_stats(&e->r, &rs);
    assert_int_equal(rs.last_error, -EISDIR);
    assert_true(rs.failures == 1 && rs.writes == 0 && rs.h_committed == 0);

    /* Each check tries again while it fails. */
    reserve_check(&e->r, 0, RT0 + 1);
    assert_true(e->r.writing);
    run_writes(e);
    assert_true(e->r.failures == 2 && e->r.writes == 0);
    assert_true(e->r.h_committed == 0);

    /* The temporary file can be written, the rename cannot (a directory named state). */
    assert_int_equal(rmdir(tmp), 0);
    assert_int_equal(mkdir(st, 0700), 0);
    reserve_check(&e->r, 0, RT0 + 2);
    run_writes(e);
    assert_true(e->r.failures == 3 && e->r.writes == 0);
    assert_int_equal(e->r.last_error, -EISDIR);
    assert_string_equal(e->r.last_why, "cannot rename the temporary file over the file");
    assert_true(e->r.h_committed == 0);
    assert_int_equal(e->calls, 0);

    /* A directory that cannot be written (not for root: permissions do not stop it). */
    assert_int_equal(rmdir(st), 0);
    assert_int_equal(unlink(tmp), 0);
    if (geteuid() != 0) {
        assert_int_equal(chmod(e->state_dir, 0500), 0);
        reserve_check(&e->r, 0, RT0 + 3);
        run_writes(e);
        assert_true(e->r.failures == 4 && e->r.writes == 0);
        assert_int_equal(e->r.last_error, -EACCES);
        assert_string_equal(e->r.last_why, "cannot create the temporary file");
        assert_int_equal(chmod(e->state_dir, 0750), 0);
    } else {
        print_message("read-only directory case skipped: root writes anyway\n");
    }
    uint64_t failures = e->r.failures;

    /* The way is clear: written, reported, the error forgotten. */
    reserve_check(&e->r, 0, RT0 + 4);
    run_writes(e);
    assert_int_equal(e->calls, 1);
    assert_true(e->marks[0] == (uint64_t)(RT0 + 4 + WINDOW));
    assert_true(e->r.h_committed == (uint64_t)(RT0 + 4 + WINDOW));
    assert_true(e->r.writes == 1 && e->r.failures == failures);
    assert_int_equal(e->r.last_error, 0);
    assert_null(e->r.last_why);
    assert_string_equal(state_text(e), line_for((uint64_t)(RT0 + 4 + WINDOW)));
    /* The snapshot /metrics reads. */
    memset(&rs, 0xa5, sizeof(rs));
    reserve_stats(&e->r, &rs);
    assert_true(rs.enabled);
    assert_true(rs.h_start == 0);
    assert_true(rs.h_committed == (uint64_t)(RT0 + 4 + WINDOW));
    assert_int_equal(rs.last_error, 0);
    assert_true(rs.writes == 1 && rs.failures == failures);
    assert_ptr_equal(rs.write_ns, &e->r.write_ns);
    assert_true(rs.write_ns->total == 1);
}

/* No state directory: nothing is ever limited or written, and closing (twice) is harmless. */
static void test_disabled(void **state)
{
    struct env *e = *state;
    memset(&e->r, 0xa5, sizeof(e->r)); /* whatever was there before */
    reserve_disabled(&e->r);
    assert_false(e->r.enabled);
    assert_true(e->r.h_committed == UINT64_MAX);
    assert_false(e->r.writing);
    assert_int_equal(e->r.sf.lock_fd, -1);
    assert_int_equal(e->r.sf.dir_fd, -1);
    assert_true(e->r.writes == 0 && e->r.failures == 0);
    reserve_check(&e->r, UINT64_MAX - 1, INT64_MAX);
    reserve_check(&e->r, 0, 0);
    assert_false(e->r.writing);
    assert_int_equal(uv_loop_alive(&e->loop), 0);
    assert_true(e->r.h_committed == UINT64_MAX);
    struct reserve_stats rs;
    reserve_stats(&e->r, &rs);
    assert_false(rs.enabled);
    assert_true(rs.h_committed == UINT64_MAX && rs.h_start == 0);
    assert_true(rs.writes == 0 && rs.failures == 0 && rs.last_error == 0);
    reserve_close(&e->r);
    reserve_close(&e->r);
    assert_int_equal(e->calls, 0);
    struct stat st;
    assert_int_equal(stat(e->state_dir, &st), -1); /* no directory made */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_absent_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_empty_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_existing_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_far_ahead, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure_and_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disabled, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

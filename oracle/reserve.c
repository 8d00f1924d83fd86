/* The reservation of timestamps on disk (see reserve.h). */
#include "reserve.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "errtext.h"
#include "log.h"
#include "util.h"

int reserve_open(struct reserve *r, uv_loop_t *loop, const char *dir, int64_t window_ns,
                 int64_t max_bound_ns, int64_t now_rt_ns, reserve_cb *cb, char *why_buf,
                 size_t why_cap)
{
    memset(r, 0, sizeof(*r));
    r->enabled = true;
    r->loop = loop;
    r->window_ns = window_ns;
    r->cb = cb;
    hist_init(&r->write_ns);
    const char *why = NULL;
    int rc = statefile_open(&r->sf, dir, &why);
    if (rc < 0) {
        snprintf(why_buf, why_cap, "state directory %s: %s (%s)", dir, why, err_text(rc));
        return rc;
    }
    int fresh = 0;
    rc = statefile_read(&r->sf, &r->h_start, &fresh, &why);
    if (rc < 0) {
        snprintf(why_buf, why_cap,
                 "state file %s/%s: %s. It is not reset silently: if no instance using it can "
                 "have issued timestamps at or above the time now, remove it and start again",
                 dir, STATEFILE_NAME, why);
        statefile_close(&r->sf);
        return rc;
    }
    if (statefile_too_far_ahead(r->h_start, now_rt_ns, window_ns, max_bound_ns)) {
        snprintf(why_buf, why_cap,
                 "state file %s/%s holds the high-water mark %" PRIu64 ", %.3f s ahead of this "
                 "clock (more than the %.3f s window plus the %.3f s maximum bound): the clock "
                 "went backwards since the last run, or the file came from another machine. Fix "
                 "the clock; or, if no instance can have issued timestamps that high, remove "
                 "the file to start afresh",
                 dir, STATEFILE_NAME, r->h_start, (double)((int64_t)r->h_start - now_rt_ns) / 1e9,
                 (double)window_ns / 1e9, (double)max_bound_ns / 1e9);
        statefile_close(&r->sf);
        return -ERANGE;
    }
    r->h_committed = r->h_start;
    if (fresh) {
        log_info("state directory %s: no state file yet, a fresh start", dir);
    } else {
        log_info("state file %s/%s: high-water mark %" PRIu64
                 "; serving once the clock's earliest has passed it",
                 dir, STATEFILE_NAME, r->h_start);
    }
    return 0;
}

void reserve_disabled(struct reserve *r)
{
    memset(r, 0, sizeof(*r));
    r->enabled = false;
    r->h_committed = UINT64_MAX;
    r->sf.dir_fd = -1;
    r->sf.lock_fd = -1;
    hist_init(&r->write_ns);
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* In the thread pool: the blocking write. Touches only the work fields. */
static void do_write(uv_work_t *w)
{
    struct reserve *r = container_of(w, struct reserve, work);
    int64_t t0 = mono_ns();
    r->work_why = NULL;
    r->work_rc = statefile_write(&r->sf, r->h_writing, &r->work_why);
    r->work_ns = mono_ns() - t0;
}

static void after_write(uv_work_t *w, int status)
{
    struct reserve *r = container_of(w, struct reserve, work);
    r->writing = false;
    if (status < 0) {
        r->work_rc = status; /* cancelled at shutdown */
        r->work_why = "cancelled";
    }
    if (r->work_rc < 0) {
        r->failures++;
        if (r->last_error == 0) {
            log_err("state file %s/%s: %s: %s; timestamps stop at %" PRIu64
                    " until a write succeeds",
                    r->sf.dir, STATEFILE_NAME, r->work_why, err_text(r->work_rc), r->h_committed);
        }
        r->last_error = r->work_rc;
        r->last_why = r->work_why;
        return;
    }
    if (r->last_error != 0) {
        log_info("state file %s/%s written again", r->sf.dir, STATEFILE_NAME);
    }
    r->last_error = 0;
    r->last_why = NULL;
    r->writes++;
    hist_record(&r->write_ns, r->work_ns);
    r->h_committed = r->h_writing;
    r->cb(r, r->h_committed);
}

void reserve_check(struct reserve *r, uint64_t last_issued, int64_t latest_ns)
{
    if (!r->enabled || r->writing) {
        return;
    }
    uint64_t base =
        latest_ns > 0 && (uint64_t)latest_ns > last_issued ? (uint64_t)latest_ns : last_issued;
    if (r->h_committed > base && r->h_committed - base >= (uint64_t)r->window_ns / 2) {
        return;
    }
    r->h_writing = base + (uint64_t)r->window_ns;
    r->writing = true;
    int rc = uv_queue_work(r->loop, &r->work, do_write, after_write);
    if (rc < 0) {
        r->writing = false;
        log_err_errno(rc, "state file: cannot queue the write");
    }
}

void reserve_close(struct reserve *r)
{
    if (r->enabled) {
        statefile_close(&r->sf);
    }
}

void reserve_stats(const struct reserve *r, struct reserve_stats *out)
{
    out->enabled = r->enabled;
    out->h_start = r->h_start;
    out->h_committed = r->h_committed;
    out->last_error = r->last_error;
    out->writes = r->writes;
    out->failures = r->failures;
    out->write_ns = &r->write_ns;
}

/* timerfd + uv_idle wake-ups for commit-wait (see waketimer.h). */
#include "waketimer.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static void update_lead(struct waketimer *wt)
{
    int64_t worst = 0;
    unsigned n =
        wt->overshoot_count < WAKE_OVERSHOOT_SAMPLES ? wt->overshoot_count : WAKE_OVERSHOOT_SAMPLES;
    for (unsigned i = 0; i < n; i++) {
        if (wt->overshoot_ns[i] > worst) {
            worst = wt->overshoot_ns[i];
        }
    }
    int64_t lead = worst + WAKE_LEAD_SLACK_NS;
    if (lead < WAKE_LEAD_MIN_NS) {
        lead = WAKE_LEAD_MIN_NS;
    }
    if (lead > WAKE_LEAD_MAX_NS) {
        lead = WAKE_LEAD_MAX_NS;
    }
    wt->lead_ns = lead;
}

static void disarm(struct waketimer *wt)
{
    if (wt->armed) {
        struct itimerspec off;
        memset(&off, 0, sizeof(off));
        (void)timerfd_settime(wt->tfd, TFD_TIMER_ABSTIME, &off, NULL);
        wt->armed = false;
        wt->idle_armed = false;
    }
}

static void on_idle(uv_idle_t *h);

/* Arms the timerfd for fire_rt (CLOCK_REALTIME), cancelled by any clock set. */
static void arm_at(struct waketimer *wt, int64_t fire_rt, bool idle)
{
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    its.it_value.tv_sec = (time_t)(fire_rt / 1000000000);
    its.it_value.tv_nsec = (long)(fire_rt % 1000000000);
    if (timerfd_settime(wt->tfd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL) < 0) {
        /* ECANCELED: the clock was set since the last read; spin once to re-read it. */
        log_debug_errno(errno, "commit-wait timer: timerfd_settime");
        wt->armed = false;
        wt->idle_armed = false;
        uv_idle_start(&wt->idle, on_idle);
        wt->spinning = true;
        return;
    }
    wt->armed = true;
    wt->idle_armed = idle;
    wt->armed_for_rt_ns = fire_rt;
}

static void stop_spinning(struct waketimer *wt)
{
    if (wt->spinning) {
        uv_idle_stop(&wt->idle);
        wt->spinning = false;
    }
}

static void on_idle(uv_idle_t *h)
{
    struct waketimer *wt = container_of(h, struct waketimer, idle);
    wt->wakeups++;
    wt->cb(wt);
}

static void on_timerfd(uv_poll_t *h, int status, int events)
{
    (void)events;
    struct waketimer *wt = container_of(h, struct waketimer, poll);
    if (status < 0) {
        log_warn_errno(status, "commit-wait timer: poll error");
    }
    uint64_t expirations;
    ssize_t n = read(wt->tfd, &expirations, sizeof(expirations));
    if (n < 0 && errno == ECANCELED) {
        /* TFD_TIMER_CANCEL_ON_SET: someone set the clock. The callback's reading will show the
         * step; the timer has to be armed again either way. */
        wt->clock_set_events++;
        wt->armed = false;
        wt->idle_armed = false;
    } else if (n == (ssize_t)sizeof(expirations)) {
        int64_t overshoot = cb_clock_ns(wt->clock, CB_CLOCK_REALTIME) - wt->armed_for_rt_ns;
        bool was_idle = wt->idle_armed; /* an hour passed: no overshoot worth learning from */
        wt->armed = false;
        wt->idle_armed = false;
        if (overshoot >= 0 && !was_idle) {
            wt->overshoot_ns[wt->overshoot_next] = overshoot;
            wt->overshoot_next = (wt->overshoot_next + 1) % WAKE_OVERSHOOT_SAMPLES;
            wt->overshoot_count++;
            update_lead(wt);
        }
    } else {
        return; /* spurious readiness (EAGAIN) */
    }
    wt->wakeups++;
    wt->cb(wt);
}

int waketimer_init(struct waketimer *wt, uv_loop_t *loop, struct cb_clock *clock, waketimer_cb *cb)
{
    memset(wt, 0, sizeof(*wt));
    wt->loop = loop;
    wt->clock = clock;
    wt->cb = cb;
    wt->lead_ns = WAKE_LEAD_INITIAL_NS;
    wt->tfd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
    if (wt->tfd < 0) {
        return -errno;
    }
    int rc = uv_poll_init(loop, &wt->poll, wt->tfd);
    if (rc < 0) {
        close(wt->tfd);
        wt->tfd = -1;
        return rc;
    }
    uv_idle_init(loop, &wt->idle);
    wt->initialised = true; /* from here on the handles must be closed, whatever happens */
    return uv_poll_start(&wt->poll, UV_READABLE, on_timerfd);
}

void waketimer_schedule(struct waketimer *wt, int64_t now_rt_ns, int64_t delay_ns)
{
    if (delay_ns == INT64_MAX) {
        stop_spinning(wt);
        if (!(wt->armed && wt->idle_armed)) {
            arm_at(wt, now_rt_ns + WAKE_IDLE_NS, true);
        }
        return;
    }
    if (delay_ns <= wt->lead_ns) {
        /* The idle arming stays (an hour off, it still hears of clock sets): no system call on
         * the spin-and-release path a short commit-wait takes. */
        if (!wt->idle_armed) {
            disarm(wt);
        }
        if (!wt->spinning) {
            uv_idle_start(&wt->idle, on_idle);
            wt->spinning = true;
        }
        return;
    }
    stop_spinning(wt);
    int64_t fire_rt = now_rt_ns + delay_ns - wt->lead_ns;
    if (wt->armed && !wt->idle_armed && wt->armed_for_rt_ns == fire_rt) {
        return;
    }
    arm_at(wt, fire_rt, false);
}

static void on_closed(struct uvclose *u)
{
    struct waketimer *wt = container_of(u, struct waketimer, closer);
    if (wt->initialised && wt->tfd >= 0) {
        close(wt->tfd); /* (a failed init closed its own; a zeroed one has none) */
        wt->tfd = -1;
    }
    if (wt->close_cb != NULL) {
        wt->close_cb(wt);
    }
}

void waketimer_close(struct waketimer *wt, void (*close_cb)(struct waketimer *wt))
{
    if (wt->close_called) {
        return;
    }
    wt->close_called = true;
    wt->close_cb = close_cb;
    uv_handle_t *handles[] = {(uv_handle_t *)&wt->poll, (uv_handle_t *)&wt->idle};
    uvclose_all(&wt->closer, handles, wt->initialised ? 2 : 0, on_closed);
}

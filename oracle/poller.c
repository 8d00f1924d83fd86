/* chrony poller on the libuv loop (see poller.h). */
#include "poller.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "log.h"
#include "util.h"

static void fail(struct poller *p, int err, const char *why)
{
    struct cb_reading r;
    cb_clock_read(p->clock, &r);
    cb_on_poll_failure(p->state, &r, err);
    p->polls_failed++;
    p->failures_unlogged++;
    /* The first failure after a success is logged at once; while chrony stays away, a reminder
     * every POLLER_LOG_EVERY_NS, not one line per poll. */
    if (p->last_error == 0 || r.mono_ns - p->logged_mono_ns >= POLLER_LOG_EVERY_NS) {
        log_warn("chrony poll failed: %s (%" PRIu64 " failure%s since the last report)",
                 why != NULL ? why : strerror(-err), p->failures_unlogged,
                 p->failures_unlogged == 1 ? "" : "s");
        p->logged_mono_ns = r.mono_ns;
        p->failures_unlogged = 0;
    }
    p->last_error = err;
    p->last_why = why;
    /* A hard error ends the attempt: the next tick starts a fresh one. */
    p->unanswered = 0;
    p->cb(p);
}

static void on_tick(uv_timer_t *h)
{
    struct poller *p = container_of(h, struct poller, timer);
    if (p->unanswered >= POLLER_ATTEMPTS) {
        fail(p, -ETIMEDOUT, "no reply from chronyd");
        p->unanswered = 0;
    }
    p->sent_coarse_ns = cb_clock_ns(p->clock, CB_CLOCK_MONOTONIC_COARSE);
    int rc = chrony_client_send(p->client, (uint16_t)p->unanswered);
    if (rc < 0) {
        fail(p, rc, NULL);
        return;
    }
    p->unanswered++;
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    (void)events;
    struct poller *p = container_of(h, struct poller, poll);
    if (status < 0) {
        /* libuv reports a socket error (an ICMP "port unreachable" from a chronyd that is
         * gone) as UV_EBADF and stops the handle. Read the error off the socket below and
         * start the handle again, or no reply would ever be read once chronyd is back. */
        int rc = uv_poll_start(&p->poll, UV_READABLE, on_readable);
        if (rc < 0) {
            log_err("chrony socket: cannot poll again: %s", uv_strerror(rc));
        }
    }
    for (;;) {
        struct cb_poll sample;
        const char *why = NULL;
        int rc = chrony_client_recv(p->client, &sample, &why);
        if (rc == -EAGAIN) {
            return;
        }
        if (rc == -ESTALE) {
            continue; /* a late reply to an earlier request */
        }
        if (rc < 0) {
            fail(p, rc, why);
            continue;
        }
        p->unanswered = 0;
        p->polls_ok++;
        p->last_rtt_ns = sample.recv_rt_ns - sample.sent.rt_ns;
        if (p->last_error != 0) {
            log_info("chrony answers again (%" PRIu64 " failures since the last report)",
                     p->failures_unlogged);
            p->failures_unlogged = 0;
        }
        p->last_error = 0;
        p->last_why = NULL;
        cb_on_poll(p->state, &sample);
        p->cb(p);
    }
}

int poller_init(struct poller *p, uv_loop_t *loop, const struct chrony_addr *addr,
                struct cb_clock *clock, struct cb_state *state, int64_t interval_ns, poller_cb *cb)
{
    memset(p, 0, sizeof(*p));
    p->loop = loop;
    p->clock = clock;
    p->state = state;
    p->cb = cb;
    p->interval_ns = interval_ns;
    int err = 0;
    p->client = chrony_client_new(addr, clock, &err);
    if (p->client == NULL) {
        return err;
    }
    int rc = uv_poll_init(loop, &p->poll, chrony_client_fd(p->client));
    if (rc < 0) {
        chrony_client_free(p->client);
        p->client = NULL;
        return rc;
    }
    uv_timer_init(loop, &p->timer);
    return 0;
}

int poller_start(struct poller *p)
{
    int rc = uv_poll_start(&p->poll, UV_READABLE, on_readable);
    if (rc < 0) {
        return rc;
    }
    uint64_t ms = (uint64_t)((p->interval_ns + 999999) / 1000000);
    return uv_timer_start(&p->timer, on_tick, 0, ms);
}

static void on_closed(uv_handle_t *h)
{
    struct poller *p = h->data;
    if (--p->closing == 0) {
        chrony_client_free(p->client);
        p->client = NULL;
        if (p->close_cb != NULL) {
            p->close_cb(p);
        }
    }
}

void poller_close(struct poller *p, void (*close_cb)(struct poller *p))
{
    p->close_cb = close_cb;
    p->closing = 2;
    p->timer.data = p;
    p->poll.data = p;
    uv_close((uv_handle_t *)&p->timer, on_closed);
    uv_close((uv_handle_t *)&p->poll, on_closed);
}

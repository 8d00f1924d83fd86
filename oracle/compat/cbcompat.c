/* oracled's ClockBound socket and shared-memory segment (see cbcompat.h). */
#include "cbcompat.h"

#include <stddef.h>
#include <string.h>
#include <time.h>

#include "cbproto.h"
#include "log.h"
#include "util.h"

/* The socket's Now: the server's, and whether its bound holds while the status is not trusted
 * (the socket then still gives it, with T = 0). */
static void sock_now(void *ctx, struct cb_now *now, bool *bound_holds)
{
    struct cbcompat *c = ctx;
    c->now_fn(c->now_ctx, now);
    *bound_holds = cbp_bound_holds(c->state, now);
}

int cbcompat_open(struct cbcompat *c, uv_loop_t *loop, struct cb_clock *clock,
                  const struct cb_state *state, const char *socket_path, unsigned socket_mode,
                  const char *shm_path, uint32_t max_drift_ppb, int64_t grace_ns,
                  cbcompat_now_fn *now_fn, void *ctx)
{
    memset(c, 0, sizeof(*c));
    c->sock.fd = -1;
    c->shm.fd = -1;
    c->clock = clock;
    c->state = state;
    c->now_fn = now_fn;
    c->now_ctx = ctx;
    c->max_drift_ppb = max_drift_ppb;
    c->grace_ns = grace_ns;
    c->published_status = CB_STATUS_UNKNOWN;
    struct timespec res;
    c->coarse_res_ns = clock_getres(CLOCK_MONOTONIC_COARSE, &res) == 0
                           ? (int64_t)res.tv_sec * 1000000000 + res.tv_nsec
                           : 10000000; /* 10 ms: coarser than any HZ Linux has */
    c->as_of_ns = cb_clock_ns(clock, CB_CLOCK_MONOTONIC_COARSE);
    char why[320];
    /* The socket first: a live ClockBound daemon holds it, and then the segment it writes is
     * not touched. */
    if (socket_path != NULL) {
        int rc =
            cbsock_open(&c->sock, loop, socket_path, socket_mode, sock_now, c, why, sizeof(why));
        if (rc < 0) {
            log_err("clockbound socket: %s", why);
            return rc;
        }
        c->sock_on = true;
        log_info("clockbound socket at %s (protocol v1, mode %04o)", socket_path, socket_mode);
    }
    if (shm_path != NULL) {
        int rc = cbshm_open(&c->shm, shm_path, c->as_of_ns, max_drift_ppb, why, sizeof(why));
        if (rc < 0) {
            log_err("clockbound shared memory %s: %s", shm_path, why);
            return rc;
        }
        c->shm_on = true;
        if (c->shm.made_dir[0] != '\0') {
            log_info("clockbound shared memory: created the missing directories from %s down "
                     "(mode %04o), as ClockBound's own writer does",
                     c->shm.made_dir, CBSHM_DIR_MODE);
        }
        log_info("clockbound shared memory segment at %s (format 2, %d bytes; a record is void "
                 "at most %.3f s after its as_of, the grace)",
                 shm_path, CBSHM_SIZE, (double)grace_ns / 1e9);
        if (grace_ns < CBSHM_READER_GRACE_NS) {
            log_info("clockbound shared memory: ClockBound's readers keep a trusted status for "
                     "%.0f s after as_of whatever void_after says, longer than the %.3f s grace",
                     (double)CBSHM_READER_GRACE_NS / 1e9, (double)grace_ns / 1e9);
        }
    }
    return 0;
}

void cbcompat_query_sent(struct cbcompat *c, int64_t coarse_ns)
{
    c->as_of_ns = coarse_ns;
}

/* The largest step margin a reading can show without being called a step: the threshold plus
 * the base reading's width plus the widest reading cb_clock_read() normally returns. */
static int64_t step_allowance(const struct cb_state *st)
{
    const struct cb_step *s = &st->step;
    int64_t base = s->have_base ? s->base_hi_ns - s->base_lo_ns : 0;
    return s->threshold_ns + base + CB_READING_MAX_SPREAD_NS;
}

void cbcompat_publish(struct cbcompat *c, const struct cb_state *st, const struct cb_now *now)
{
    if (!c->shm_on) {
        return;
    }
    struct cbshm_record r;
    cbshm_record_from(st, now, c->as_of_ns, cbshm_valid_ns(c->grace_ns, c->as_of_ns, now),
                      c->coarse_res_ns, c->max_drift_ppb, step_allowance(st), &r);
    cbshm_publish(&c->shm, &r);
    c->published_status = now->status;
}

static void on_sock_closed(struct cbsock *s)
{
    struct cbcompat *c = container_of(s, struct cbcompat, sock);
    if (c->close_cb != NULL) {
        c->close_cb(c);
    }
}

void cbcompat_close(struct cbcompat *c, void (*close_cb)(struct cbcompat *c))
{
    c->close_cb = close_cb;
    if (c->shm_on) {
        cbshm_close(&c->shm, cb_clock_ns(c->clock, CB_CLOCK_MONOTONIC_COARSE));
        c->shm_on = false;
    }
    if (c->sock_on) {
        c->sock_on = false;
        cbsock_close(&c->sock, on_sock_closed);
        return;
    }
    /* A failed cbsock_open has closed what it opened itself. */
    if (close_cb != NULL) {
        close_cb(c);
    }
}

void cbcompat_stats(const struct cbcompat *c, struct cbcompat_stats *out)
{
    out->answered = c->sock.answered;
    out->malformed = c->sock.malformed;
    out->unbound = c->sock.unbound.count;
    out->send_failed = c->sock.send_failed.count;
    out->shm_writes = c->shm.writes;
}

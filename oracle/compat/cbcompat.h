/*
 * oracled's ClockBound face: the v1 socket (cbsock) and the shared-memory segment (cbshm),
 * both off unless configured, both from the server's own bound. The server tells it of every
 * poll (the segment is rewritten) and every clock reading (rewritten at once when the status
 * changes, so a detected step shows as DISRUPTED before the next poll).
 */
#ifndef ORACLE_CBCOMPAT_H
#define ORACLE_CBCOMPAT_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "cbshm.h"
#include "cbsock.h"
#include "clockbound.h"

/* Fills now with the server's Now at this instant. */
typedef void cbcompat_now_fn(void *ctx, struct cb_now *now);

/* What /metrics shows of the ClockBound faces. */
struct cbcompat_stats {
    uint64_t answered;    /* socket requests answered */
    uint64_t malformed;   /* ... with an error reply */
    uint64_t unbound;     /* ... dropped: from clients with no address */
    uint64_t send_failed; /* ... whose reply could not be sent */
    uint64_t shm_writes;  /* segment writes */
};

struct cbcompat {
    struct cbsock sock;
    struct cbshm shm;
    bool sock_on;
    bool shm_on;
    struct cb_clock *clock;
    const struct cb_state *state; /* the server's, which its Nows come from */
    cbcompat_now_fn *now_fn;
    void *now_ctx;
    int64_t coarse_res_ns; /* CLOCK_MONOTONIC_COARSE's resolution */
    uint32_t max_drift_ppb;
    int64_t grace_ns; /* the daemon's grace period: how long a record may be used */
    int64_t as_of_ns; /* a coarse reading taken before the latest chrony query */
    enum cb_status published_status;
    void (*close_cb)(struct cbcompat *c);
};

/*
 * Opens what is configured (socket_path / shm_path NULL: off). max_drift_ppb is the daemon's
 * configured drift (below 1e9), grace_ns its grace period (>= 0): each record is void
 * cbshm_valid_ns(grace_ns, ...) after its as_of. The segment starts UNKNOWN (cbshm_open). The
 * socket answers from now_fn(ctx), whose Nows come from state (read to judge whether an
 * untrusted bound still holds: cbp_bound_holds). clock and state are borrowed until
 * cbcompat_close. Errors are logged and returned (negative errno); what was opened is closed
 * again by cbcompat_close().
 */
int cbcompat_open(struct cbcompat *c, uv_loop_t *loop, struct cb_clock *clock,
                  const struct cb_state *state, const char *socket_path, unsigned socket_mode,
                  const char *shm_path, uint32_t max_drift_ppb, int64_t grace_ns,
                  cbcompat_now_fn *now_fn, void *ctx);

/* A chrony query is about to be sent: the segment's next as_of. */
void cbcompat_query_sent(struct cbcompat *c, int64_t coarse_ns);

/* After a poll (success or failure): rewrites the segment from now (st: the state it came
 * from, for the step detector's allowance). */
void cbcompat_publish(struct cbcompat *c, const struct cb_state *st, const struct cb_now *now);

/* After any clock reading: rewrites the segment when the status differs from the one there. */
static inline void cbcompat_reading(struct cbcompat *c, const struct cb_state *st,
                                    const struct cb_now *now)
{
    if (c->shm_on && now->status != c->published_status) {
        cbcompat_publish(c, st, now);
    }
}

/* Closes both; the segment is left UNKNOWN and void from a coarse reading taken here (the
 * stop), with the UNKNOWN bound (cbshm_close). close_cb runs when done. */
void cbcompat_close(struct cbcompat *c, void (*close_cb)(struct cbcompat *c));

void cbcompat_stats(const struct cbcompat *c, struct cbcompat_stats *out);

#endif

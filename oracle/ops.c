/* The protocol's operations (see ops.h). */
#include "ops.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

#define TS_LIMIT (UINT64_C(1) << 63)

/* Counts an answer to op: result 0 ok, else the error code. */
static void count_result(struct ops *o, enum req_op op, int result)
{
    if ((unsigned)op < OPS_COUNTED_OPS && result >= 0 && result < OPS_COUNTED_RESULTS) {
        o->requests[op][result]++;
    }
}

static void count_ok(struct ops *o, enum req_op op)
{
    count_result(o, op, 0);
}

/* Sends an Error response carrying the latest clock status, counted for op. */
static void send_error(struct ops *o, struct conn *c, enum req_op op, uint64_t id,
                       enum wire_error code, bool retriable, const char *message)
{
    count_result(o, op, (int)code);
    conn_send_error(c, id, code, retriable, message);
}

/* The clock for a request: within a read batch, one reading taken at its first request serves
 * them all (ops.h). Releases always read the clock afresh. */
static void request_now(struct ops *o, struct cb_now *now)
{
    if (o->in_batch && o->batch_now_valid) {
        *now = o->batch_now;
        return;
    }
    o->cfg.now(o->cfg.now_ctx, now);
    if (o->in_batch) {
        o->batch_now = *now;
        o->batch_now_valid = true;
    }
}

void ops_batch(struct ops *o, bool begin)
{
    o->in_batch = begin;
    o->batch_now_valid = false;
}

/* After timestamps were taken: keeps the reservation on disk ahead of them. */
static void issued(struct ops *o, const struct cb_now *now)
{
    reserve_check(o->cfg.reserve, o->alloc.last_issued, now->latest_ns);
}

static void schedule_wake(struct ops *o, const struct cb_now *now)
{
    struct cw_wake wake = cw_next_wake(&o->waits.queue, now);
    int64_t delay =
        wake.release_in_ns < wake.deadline_in_ns ? wake.release_in_ns : wake.deadline_in_ns;
    waketimer_schedule(o->cfg.wake, now->rt_ns, delay);
}

/* A response carrying the clock status of the reading it answers from. */
static void init_response(struct response *r, uint64_t id, enum resp_kind kind,
                          enum cb_status status)
{
    memset(r, 0, sizeof(*r));
    r->id = id;
    r->clock_status = (int)status;
    r->kind = kind;
}

static void bad_request(struct ops *o, struct conn *c, const struct request *req, const char *msg)
{
    send_error(o, c, req->op, req->id, WIRE_ERROR_BAD_REQUEST, false, msg);
}

static void unavailable(struct ops *o, struct conn *c, enum req_op op, uint64_t id,
                        const struct cb_now *now)
{
    enum wire_error code = WIRE_ERROR_CLOCK_UNAVAILABLE;
    char msg[WIRE_MESSAGE_MAX];
    if (cb_status_trusted(now->status)) {
        /* Trusted clock, but still starting up (DESIGN.md section 2, "Restarts"). */
        code = WIRE_ERROR_NOT_READY;
        snprintf(msg, sizeof(msg),
                 "starting: waiting for the clock to pass the last run's "
                 "high-water mark; connect again");
    } else {
        if (now->reason == CB_REASON_BOUND_TOO_WIDE) {
            code = WIRE_ERROR_BOUND_TOO_WIDE;
        } else if (now->reason == CB_REASON_NO_DATA || now->reason == CB_REASON_AWAITING_UPDATE) {
            code = WIRE_ERROR_NOT_READY;
        }
        snprintf(msg, sizeof(msg), "clock %s: %s; connect again (another instance may be ready)",
                 cb_status_name(now->status), cb_reason_text(now->reason));
    }
    send_error(o, c, op, id, code, true, msg);
    /* Clients reconnect through the load balancer to a healthy instance. */
    conn_close_after_flush(c);
}

/* Reads the clock; answers with a retriable error (and closes) unless timestamps may be served:
 * the clock trusted and the server started up. Returns whether to go on. */
static bool gate(struct ops *o, struct conn *c, const struct request *req, struct cb_now *now)
{
    request_now(o, now);
    if (cb_status_trusted(now->status) && o->started) {
        return true;
    }
    unavailable(o, c, req->op, req->id, now);
    return false;
}

/* gate() for the operations on a timestamp, which must be below 2^63 first. */
static bool gate_ts(struct ops *o, struct conn *c, const struct request *req, struct cb_now *now)
{
    if (req->ts_ns >= TS_LIMIT) {
        bad_request(o, c, req, "ts_ns must be below 2^63");
        return false;
    }
    return gate(o, c, req, now);
}

/* A request's max_wait_ns: 0 means the server's, anything larger is capped at it. */
static int64_t effective_max_wait(const struct ops *o, uint64_t asked)
{
    if (asked == 0 || asked > (uint64_t)o->cfg.max_wait_ns) {
        return o->cfg.max_wait_ns;
    }
    return (int64_t)asked;
}

static void wait_too_long(struct ops *o, struct conn *c, const struct request *req, int64_t est,
                          int64_t max_wait)
{
    char msg[WIRE_MESSAGE_MAX];
    if (est > INT64_MAX / 2) {
        snprintf(msg, sizeof(msg), "commit-wait would never end within the %" PRId64 " us allowed",
                 max_wait / 1000);
    } else {
        snprintf(msg, sizeof(msg),
                 "commit-wait would take about %" PRId64 " us, more than the %" PRId64
                 " us allowed",
                 (est + 999) / 1000, max_wait / 1000);
    }
    send_error(o, c, req->op, req->id, WIRE_ERROR_WAIT_TOO_LONG, true, msg);
}

static void send_timestamps(struct ops *o, struct conn *c, uint64_t id, uint64_t first,
                            uint32_t count, int64_t waited_ns, const struct cb_now *now)
{
    struct response r;
    init_response(&r, id, RESP_TIMESTAMPS, now->status);
    r.u.ts.first_ns = first;
    r.u.ts.count = count;
    r.u.ts.waited_ns = waited_ns > 0 ? (uint64_t)waited_ns : 0;
    r.u.ts.bound_ns = (uint64_t)now->bound_ns;
    r.u.ts.earliest_ns = now->earliest_ns > 0 ? (uint64_t)now->earliest_ns : 0;
    r.u.ts.latest_ns = (uint64_t)now->latest_ns;
    count_ok(o, REQ_OP_GET_TIMESTAMP);
    conn_send(c, &r);
}

/*
 * Queues a commit-wait on release_ts (with the batch first/count for GetTimestamp), or answers
 * WAIT_TOO_LONG when it would take longer than the request allows, or OVERLOADED when too many
 * are pending or no memory is left. Returns whether it was queued.
 */
static bool queue_wait(struct ops *o, struct conn *c, const struct request *req,
                       uint64_t release_ts, uint64_t first, uint32_t count,
                       const struct cb_now *now)
{
    int64_t max_wait = effective_max_wait(o, req->max_wait_ns);
    int64_t est = cw_wait_estimate_ns(now, release_ts);
    if (est > max_wait) {
        wait_too_long(o, c, req, est, max_wait);
        return false;
    }
    struct pending *p = waits_get(&o->waits);
    if (p != NULL) {
        p->id = req->id;
        p->op = req->op;
        p->first_ns = first;
        p->count = count;
        p->conn = c;
        int rc = waits_add(&o->waits, p, release_ts, max_wait, now->mono_ns);
        if (rc == 1) {
            /* A new head of either queue: the wake-up may be due sooner (otherwise the timer is
             * already right, and re-arming it costs a system call per request). */
            schedule_wake(o, now);
        }
        if (rc >= 0) {
            return true;
        }
        if (rc == -EBUSY) {
            send_error(o, c, req->op, req->id, WIRE_ERROR_OVERLOADED, true,
                       "too many commit-waits pending; retry shortly");
            return false;
        }
    }
    send_error(o, c, req->op, req->id, WIRE_ERROR_OVERLOADED, true, "out of memory");
    return false;
}

static void get_timestamp(struct ops *o, struct conn *c, const struct request *req)
{
    uint32_t count = req->count == 0 ? 1 : req->count;
    if (count > TSALLOC_MAX_COUNT) {
        bad_request(o, c, req, "count must be between 1 and 65536");
        return;
    }
    if (req->min_ts_ns >= TS_LIMIT) {
        bad_request(o, c, req, "min_ts_ns must be below 2^63");
        return;
    }
    struct cb_now now;
    if (!gate(o, c, req, &now)) {
        return;
    }
    uint64_t first = 0;
    int rc = tsalloc_reserve(&o->alloc, now.latest_ns, req->min_ts_ns, count, &first);
    if (rc == -ERANGE) {
        bad_request(o, c, req, "min_ts_ns is too close to 2^63 for this batch");
        return;
    }
    if (rc == -EBUSY) {
        send_error(o, c, req->op, req->id, WIRE_ERROR_OVERLOADED, true,
                   "timestamps would run too far ahead of the clock (min_ts_ns far in "
                   "the future, or too many requested); retry shortly");
        return;
    }
    if (rc == -EAGAIN) {
        /* The next high-water mark is not on disk yet: nothing above the last one goes out. */
        issued(o, &now);
        send_error(o, c, req->op, req->id, WIRE_ERROR_NOT_READY, true,
                   "waiting for the state file to be written; retry shortly");
        return;
    }
    uint64_t last = first + count - 1;
    if (!req->commit_wait) {
        tsalloc_commit(&o->alloc, first, count);
        issued(o, &now);
        send_timestamps(o, c, req->id, first, count, 0, &now);
        return;
    }
    if (queue_wait(o, c, req, last, first, count, &now)) {
        /* Taken only once queued: a refused request leaves no hole in the timestamp space. */
        tsalloc_commit(&o->alloc, first, count);
        issued(o, &now);
    }
}

static void send_waited(struct ops *o, struct conn *c, uint64_t id, int64_t waited_ns,
                        const struct cb_now *now)
{
    struct response r;
    init_response(&r, id, RESP_WAITED, now->status);
    r.u.waited_ns = waited_ns > 0 ? (uint64_t)waited_ns : 0;
    count_ok(o, REQ_OP_WAIT_UNTIL);
    conn_send(c, &r);
}

static void wait_until(struct ops *o, struct conn *c, const struct request *req)
{
    struct cb_now now;
    if (!gate_ts(o, c, req, &now)) {
        return;
    }
    if (cw_wait_estimate_ns(&now, req->ts_ns) == 0) {
        send_waited(o, c, req->id, 0, &now);
        return;
    }
    queue_wait(o, c, req, req->ts_ns, 0, 0, &now);
}

static void now_op(struct ops *o, struct conn *c, const struct request *req)
{
    struct cb_now now;
    if (!gate(o, c, req, &now)) {
        return;
    }
    struct response r;
    init_response(&r, req->id, RESP_BOUNDS, now.status);
    r.u.bounds.earliest_ns = now.earliest_ns > 0 ? (uint64_t)now.earliest_ns : 0;
    r.u.bounds.latest_ns = (uint64_t)now.latest_ns;
    count_ok(o, req->op);
    conn_send(c, &r);
}

static void before_after(struct ops *o, struct conn *c, const struct request *req)
{
    struct cb_now now;
    if (!gate_ts(o, c, req, &now)) {
        return;
    }
    bool before = req->op == REQ_OP_BEFORE;
    int rc = before ? cb_before(&now, req->ts_ns) : cb_after(&now, req->ts_ns);
    struct response r;
    init_response(&r, req->id, before ? RESP_BEFORE : RESP_AFTER, now.status);
    r.u.answer = rc == 1;
    count_ok(o, req->op);
    conn_send(c, &r);
}

static void server_info(struct ops *o, struct conn *c, const struct request *req)
{
    struct cb_now now;
    request_now(o, &now); /* the status the response reports */
    struct response r;
    init_response(&r, req->id, RESP_INFO, now.status);
    r.u.info.version = o->cfg.version;
    r.u.info.instance_id = o->cfg.instance_id;
    r.u.info.time_source = o->cfg.time_source;
    r.u.info.max_drift_ppb = o->cfg.max_drift_ppb;
    r.u.info.max_wait_ns = (uint64_t)o->cfg.max_wait_ns;
    r.u.info.max_count = TSALLOC_MAX_COUNT;
    count_ok(o, req->op);
    conn_send(c, &r);
}

void ops_handle(struct ops *o, struct conn *c, const struct request *req)
{
    if (o->closing) {
        send_error(o, c, req->op, req->id, WIRE_ERROR_SHUTTING_DOWN, true,
                   "server shutting down; retry on another instance");
        conn_close_after_flush(c);
        return;
    }
    switch (req->op) {
    case REQ_OP_GET_TIMESTAMP:
        get_timestamp(o, c, req);
        break;
    case REQ_OP_NOW:
        now_op(o, c, req);
        break;
    case REQ_OP_BEFORE:
    case REQ_OP_AFTER:
        before_after(o, c, req);
        break;
    case REQ_OP_WAIT_UNTIL:
        wait_until(o, c, req);
        break;
    case REQ_OP_SERVER_INFO:
        server_info(o, c, req);
        break;
    case REQ_OP_NONE:
        send_error(o, c, req->op, req->id, WIRE_ERROR_UNSUPPORTED, false,
                   "no operation, or one this server does not know");
        break;
    }
}

void ops_reject(struct ops *o, struct conn *c, const char *why)
{
    send_error(o, c, REQ_OP_NONE, 0, WIRE_ERROR_BAD_REQUEST, false, why);
}

/* --- the release pass --- */

/* Answers a commit-wait whose timestamp earliest has passed, at now. */
static void release(struct ops *o, struct pending *p, const struct cb_now *now)
{
    int64_t waited = now->mono_ns - p->cw.enqueued_mono_ns;
    hist_record(&o->commit_wait, waited);
    if (p->op == REQ_OP_GET_TIMESTAMP) {
        send_timestamps(o, p->conn, p->id, p->first_ns, p->count, waited, now);
    } else {
        send_waited(o, p->conn, p->id, waited, now);
    }
}

/* After one of c's waits was answered: while closing, a connection with nothing left to wait
 * for closes once its replies are out. */
static void wait_answered(struct ops *o, struct conn *c)
{
    if (o->closing && c->waits == NULL && !c->closing) {
        conn_close_after_flush(c);
    }
    conn_wait_done(c);
}

void ops_flush(struct ops *o)
{
    conn_flush_all(o->cfg.conns);
    struct release_hists h = {&o->lateness, &o->lateness_recent, &o->late_at_release,
                              &o->late_write};
    waits_complete_marks(&o->waits, &h);
}

#define RELEASE_COALESCE_NS    5000  /* waiters due this soon join the current release pass */
#define RELEASE_PASS_MAX_NS    25000 /* the longest a pass spends gathering them */
#define RELEASE_PASS_MAX_SPINS 10000

void ops_wake(struct ops *o)
{
    struct cw_queue *q = &o->waits.queue;
    bool answered = false;
    struct cb_now now;
    o->cfg.now(o->cfg.now_ctx, &now);
    struct cw_waiter *w;
    if (!cb_status_trusted(now.status)) {
        while ((w = cw_pop_any(q)) != NULL) {
            struct pending *p = waits_detach(w);
            unavailable(o, p->conn, p->op, p->id, &now);
            waits_put(&o->waits, p);
            answered = true;
        }
        waketimer_schedule(o->cfg.wake, now.rt_ns, INT64_MAX);
        if (answered) {
            ops_flush(o);
        }
        return;
    }
    int64_t pass_start_ns = now.mono_ns;
    for (int spins = 0;; spins++) {
        while ((w = cw_pop_released(q, &now)) != NULL) {
            struct pending *p = waits_detach(w);
            struct conn *c = p->conn;
            /* earliest passed release_ts + 1 this many ns (of earliest's progress) ago. */
            int64_t late = now.earliest_ns - (int64_t)(w->release_ts + 1);
            waits_mark(&o->waits, c, late, now.mono_ns);
            release(o, p, &now);
            waits_put(&o->waits, p);
            wait_answered(o, c);
            answered = true;
        }
        /* A write that wakes a sleeping client costs ~50 us on a virtual machine (measured:
         * the first flush of a pass 52-56 us, the next 6 us), and the next waiter would wait
         * for it. So the waiters due within RELEASE_COALESCE_NS join this pass: the clock is
         * re-read until they are due (never earlier), up to RELEASE_PASS_MAX_NS in all. */
        if (!answered || now.mono_ns - pass_start_ns > RELEASE_PASS_MAX_NS ||
            spins == RELEASE_PASS_MAX_SPINS) {
            break; /* (the spin cap: a clock that stands still, as a test's may) */
        }
        struct cw_wake next = cw_next_wake(q, &now);
        if (next.release_in_ns > RELEASE_COALESCE_NS) {
            break;
        }
        o->cfg.now(o->cfg.now_ctx, &now);
        if (!cb_status_trusted(now.status)) {
            break; /* the next wake-up fails them */
        }
    }
    o->release_passes += answered ? 1 : 0; /* (so far only releases have answered) */
    while ((w = cw_pop_expired(q, now.mono_ns)) != NULL) {
        struct pending *p = waits_detach(w);
        struct conn *c = p->conn;
        send_error(o, c, p->op, p->id, WIRE_ERROR_WAIT_TOO_LONG, true,
                   "still waiting after the maximum wait; the bound has grown");
        waits_put(&o->waits, p);
        wait_answered(o, c);
        answered = true;
    }
    /* Released from the idle or timer callback: write now, not after the loop's next poll,
     * which may block until the next chrony tick. */
    if (answered) {
        ops_flush(o);
    }
    schedule_wake(o, &now);
}

void ops_conn_closing(struct ops *o, struct conn *c)
{
    waits_drop_conn(&o->waits, c);
}

void ops_shutdown_conn(struct ops *o, struct conn *c)
{
    struct pending *p;
    while ((p = waits_take(&o->waits, c)) != NULL) {
        send_error(o, c, p->op, p->id, WIRE_ERROR_SHUTTING_DOWN, true,
                   "server shutting down; retry on another instance");
        waits_put(&o->waits, p);
    }
}

/* --- set-up and figures --- */

void ops_init(struct ops *o, const struct ops_config *cfg)
{
    memset(o, 0, sizeof(*o));
    o->cfg = *cfg;
    const struct reserve *r = cfg->reserve;
    tsalloc_init(&o->alloc, r->enabled ? r->h_start : 0, cfg->max_run_ahead_ns, r->h_committed);
    waits_init(&o->waits, cfg->max_pending, cfg->max_pending_per_conn);
    hist_init(&o->commit_wait);
    hist_init(&o->lateness);
    hist_init(&o->lateness_recent);
    hist_init(&o->late_at_release);
    hist_init(&o->late_write);
}

void ops_fini(struct ops *o)
{
    waits_fini(&o->waits);
}

void ops_stats(const struct ops *o, struct ops_stats *out)
{
    memcpy(out->requests, o->requests, sizeof(out->requests));
    out->commit_wait = &o->commit_wait;
    out->lateness = &o->lateness;
    out->late_at_release = &o->late_at_release;
    out->late_write = &o->late_write;
    out->release_passes = o->release_passes;
    out->pending = waits_len(&o->waits);
    out->last_issued = o->alloc.last_issued;
}

void ops_take_recent_lateness(struct ops *o, struct histogram *out)
{
    *out = o->lateness_recent;
    hist_init(&o->lateness_recent);
}

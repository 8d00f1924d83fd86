/* The protocol's operations (see ops.h). */
#include "ops.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "tsalloc.h"

#define TS_LIMIT (UINT64_C(1) << 63)

/* A response carrying the clock status of the reading it answers from. */
static void init_response(struct response *r, uint64_t id, enum resp_kind kind,
                          enum cb_status status)
{
    memset(r, 0, sizeof(*r));
    r->id = id;
    r->clock_status = (int)status;
    r->kind = kind;
}

static void bad_request(struct server *s, struct conn *c, const struct request *req,
                        const char *msg)
{
    server_send_error(s, c, req->op, req->id, WIRE_ERROR_BAD_REQUEST, false, msg);
}

static void unavailable(struct server *s, struct conn *c, enum req_op op, uint64_t id,
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
    server_send_error(s, c, op, id, code, true, msg);
    /* Clients reconnect through the load balancer to a healthy instance. */
    conn_close_after_flush(c);
}

/* Reads the clock; answers with a retriable error (and closes) unless timestamps may be served:
 * the clock trusted and the server started up. Returns whether to go on. */
static bool gate(struct server *s, struct conn *c, const struct request *req, struct cb_now *now)
{
    server_request_now(s, now);
    if (cb_status_trusted(now->status) && s->phase != PHASE_STARTING) {
        return true;
    }
    unavailable(s, c, req->op, req->id, now);
    return false;
}

/* gate() for the operations on a timestamp, which must be below 2^63 first. */
static bool gate_ts(struct server *s, struct conn *c, const struct request *req, struct cb_now *now)
{
    if (req->ts_ns >= TS_LIMIT) {
        bad_request(s, c, req, "ts_ns must be below 2^63");
        return false;
    }
    return gate(s, c, req, now);
}

/* A request's max_wait_ns: 0 means the server's, anything larger is capped at it. */
static int64_t effective_max_wait(const struct server *s, uint64_t asked)
{
    if (asked == 0 || asked > (uint64_t)s->cfg->max_wait_ns) {
        return s->cfg->max_wait_ns;
    }
    return (int64_t)asked;
}

static void wait_too_long(struct server *s, struct conn *c, const struct request *req, int64_t est,
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
    server_send_error(s, c, req->op, req->id, WIRE_ERROR_WAIT_TOO_LONG, true, msg);
}

static void send_timestamps(struct server *s, struct conn *c, uint64_t id, uint64_t first,
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
    server_count_ok(s, REQ_OP_GET_TIMESTAMP);
    conn_send(c, &r);
}

/*
 * Queues a commit-wait on release_ts (with the batch first/count for GetTimestamp), or answers
 * WAIT_TOO_LONG when it would take longer than the request allows, or OVERLOADED when too many
 * are pending or no memory is left. Returns whether it was queued.
 */
static bool queue_wait(struct server *s, struct conn *c, const struct request *req,
                       uint64_t release_ts, uint64_t first, uint32_t count,
                       const struct cb_now *now)
{
    int64_t max_wait = effective_max_wait(s, req->max_wait_ns);
    int64_t est = cw_wait_estimate_ns(now, release_ts);
    if (est > max_wait) {
        wait_too_long(s, c, req, est, max_wait);
        return false;
    }
    struct pending *p = server_pending_get(s);
    if (p != NULL) {
        p->id = req->id;
        p->op = req->op;
        p->first_ns = first;
        p->count = count;
        p->conn = c;
        int rc = server_enqueue(s, p, release_ts, max_wait, now);
        if (rc == 0) {
            return true;
        }
        if (rc == -EBUSY) {
            server_send_error(s, c, req->op, req->id, WIRE_ERROR_OVERLOADED, true,
                              "too many commit-waits pending; retry shortly");
            return false;
        }
    }
    server_send_error(s, c, req->op, req->id, WIRE_ERROR_OVERLOADED, true, "out of memory");
    return false;
}

static void get_timestamp(struct server *s, struct conn *c, const struct request *req)
{
    uint32_t count = req->count == 0 ? 1 : req->count;
    if (count > TSALLOC_MAX_COUNT) {
        bad_request(s, c, req, "count must be between 1 and 65536");
        return;
    }
    if (req->min_ts_ns >= TS_LIMIT) {
        bad_request(s, c, req, "min_ts_ns must be below 2^63");
        return;
    }
    struct cb_now now;
    if (!gate(s, c, req, &now)) {
        return;
    }
    uint64_t first = 0;
    int rc = tsalloc_reserve(&s->alloc, now.latest_ns, req->min_ts_ns, count, &first);
    if (rc == -ERANGE) {
        bad_request(s, c, req, "min_ts_ns is too close to 2^63 for this batch");
        return;
    }
    if (rc == -EBUSY) {
        server_send_error(s, c, req->op, req->id, WIRE_ERROR_OVERLOADED, true,
                          "timestamps would run too far ahead of the clock (min_ts_ns far in "
                          "the future, or too many requested); retry shortly");
        return;
    }
    if (rc == -EAGAIN) {
        /* The next high-water mark is not on disk yet: nothing above the last one goes out. */
        server_issued(s, &now);
        server_send_error(s, c, req->op, req->id, WIRE_ERROR_NOT_READY, true,
                          "waiting for the state file to be written; retry shortly");
        return;
    }
    uint64_t last = first + count - 1;
    if (!req->commit_wait) {
        tsalloc_commit(&s->alloc, first, count);
        server_issued(s, &now);
        send_timestamps(s, c, req->id, first, count, 0, &now);
        return;
    }
    if (queue_wait(s, c, req, last, first, count, &now)) {
        /* Taken only once queued: a refused request leaves no hole in the timestamp space. */
        tsalloc_commit(&s->alloc, first, count);
        server_issued(s, &now);
    }
}

static void send_waited(struct server *s, struct conn *c, uint64_t id, int64_t waited_ns,
                        const struct cb_now *now)
{
    struct response r;
    init_response(&r, id, RESP_WAITED, now->status);
    r.u.waited_ns = waited_ns > 0 ? (uint64_t)waited_ns : 0;
    server_count_ok(s, REQ_OP_WAIT_UNTIL);
    conn_send(c, &r);
}

static void wait_until(struct server *s, struct conn *c, const struct request *req)
{
    struct cb_now now;
    if (!gate_ts(s, c, req, &now)) {
        return;
    }
    if (cw_wait_estimate_ns(&now, req->ts_ns) == 0) {
        send_waited(s, c, req->id, 0, &now);
        return;
    }
    queue_wait(s, c, req, req->ts_ns, 0, 0, &now);
}

static void now_op(struct server *s, struct conn *c, const struct request *req)
{
    struct cb_now now;
    if (!gate(s, c, req, &now)) {
        return;
    }
    struct response r;
    init_response(&r, req->id, RESP_BOUNDS, now.status);
    r.u.bounds.earliest_ns = now.earliest_ns > 0 ? (uint64_t)now.earliest_ns : 0;
    r.u.bounds.latest_ns = (uint64_t)now.latest_ns;
    server_count_ok(s, req->op);
    conn_send(c, &r);
}

static void before_after(struct server *s, struct conn *c, const struct request *req)
{
    struct cb_now now;
    if (!gate_ts(s, c, req, &now)) {
        return;
    }
    bool before = req->op == REQ_OP_BEFORE;
    int rc = before ? cb_before(&now, req->ts_ns) : cb_after(&now, req->ts_ns);
    struct response r;
    init_response(&r, req->id, before ? RESP_BEFORE : RESP_AFTER, now.status);
    r.u.answer = rc == 1;
    server_count_ok(s, req->op);
    conn_send(c, &r);
}

static void server_info(struct server *s, struct conn *c, const struct request *req)
{
    struct cb_now now;
    server_request_now(s, &now); /* the status the response reports */
    struct response r;
    init_response(&r, req->id, RESP_INFO, now.status);
    r.u.info.version = s->cfg->version;
    r.u.info.instance_id = s->instance_id;
    r.u.info.time_source = s->time_source;
    r.u.info.max_drift_ppb = (uint32_t)s->cfg->clock.max_drift_ppb;
    r.u.info.max_wait_ns = (uint64_t)s->cfg->max_wait_ns;
    r.u.info.max_count = TSALLOC_MAX_COUNT;
    server_count_ok(s, req->op);
    conn_send(c, &r);
}

void ops_handle(struct server *s, struct conn *c, const struct request *req)
{
    switch (req->op) {
    case REQ_OP_GET_TIMESTAMP:
        get_timestamp(s, c, req);
        break;
    case REQ_OP_NOW:
        now_op(s, c, req);
        break;
    case REQ_OP_BEFORE:
    case REQ_OP_AFTER:
        before_after(s, c, req);
        break;
    case REQ_OP_WAIT_UNTIL:
        wait_until(s, c, req);
        break;
    case REQ_OP_SERVER_INFO:
        server_info(s, c, req);
        break;
    case REQ_OP_NONE:
        server_send_error(s, c, req->op, req->id, WIRE_ERROR_UNSUPPORTED, false,
                          "no operation, or one this server does not know");
        break;
    }
}

void ops_release(struct server *s, struct pending *p, const struct cb_now *now)
{
    int64_t waited = now->mono_ns - p->cw.enqueued_mono_ns;
    hist_record(&s->stats.commit_wait, waited);
    if (p->op == REQ_OP_GET_TIMESTAMP) {
        send_timestamps(s, p->conn, p->id, p->first_ns, p->count, waited, now);
    } else {
        send_waited(s, p->conn, p->id, waited, now);
    }
}

void ops_expire(struct server *s, struct pending *p)
{
    server_send_error(s, p->conn, p->op, p->id, WIRE_ERROR_WAIT_TOO_LONG, true,
                      "still waiting after the maximum wait; the bound has grown");
}

void ops_fail_clock(struct server *s, struct pending *p, const struct cb_now *now)
{
    unavailable(s, p->conn, p->op, p->id, now);
}

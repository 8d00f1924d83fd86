/* Checking requests and putting them on the wire (see request.h). Pure. */
#include "request.h"

#include <stdio.h>
#include <string.h>

int request_check(const struct oracle_request *req, char *why, size_t cap)
{
    switch (req->op) {
    case ORACLE_OP_GET_TIMESTAMP:
        if (req->ts.count > REQUEST_MAX_COUNT) {
            snprintf(why, cap, "count %u is above %d", (unsigned)req->ts.count, REQUEST_MAX_COUNT);
            return ORACLE_E_INVALID;
        }
        if (req->ts.min_ts_ns >= REQUEST_TS_LIMIT) {
            snprintf(why, cap, "min_ts_ns is not below 2^63");
            return ORACLE_E_INVALID;
        }
        return 0;
    case ORACLE_OP_BEFORE:
    case ORACLE_OP_AFTER:
    case ORACLE_OP_WAIT_UNTIL:
        if (req->ts_ns >= REQUEST_TS_LIMIT) {
            snprintf(why, cap, "timestamp %llu is not below 2^63 (ns since the epoch)",
                     (unsigned long long)req->ts_ns);
            return ORACLE_E_INVALID;
        }
        return 0;
    case ORACLE_OP_NOW:
    case ORACLE_OP_SERVER_INFO:
        return 0;
    }
    snprintf(why, cap, "unknown operation %d", (int)req->op);
    return ORACLE_E_INVALID;
}

struct request request_to_wire(const struct oracle_request *req, uint64_t id, uint64_t min_ts_ns,
                               uint64_t max_wait_ns)
{
    struct request w;
    memset(&w, 0, sizeof(w));
    w.id = id;
    switch (req->op) {
    case ORACLE_OP_GET_TIMESTAMP:
        w.op = REQ_OP_GET_TIMESTAMP;
        w.count = req->ts.count;
        w.commit_wait = req->ts.commit_wait;
        w.min_ts_ns = min_ts_ns;
        w.max_wait_ns = max_wait_ns;
        break;
    case ORACLE_OP_NOW:
        w.op = REQ_OP_NOW;
        break;
    case ORACLE_OP_BEFORE:
        w.op = REQ_OP_BEFORE;
        w.ts_ns = req->ts_ns;
        break;
    case ORACLE_OP_AFTER:
        w.op = REQ_OP_AFTER;
        w.ts_ns = req->ts_ns;
        break;
    case ORACLE_OP_WAIT_UNTIL:
        w.op = REQ_OP_WAIT_UNTIL;
        w.ts_ns = req->ts_ns;
        w.max_wait_ns = max_wait_ns;
        break;
    case ORACLE_OP_SERVER_INFO:
        w.op = REQ_OP_SERVER_INFO;
        break;
    }
    return w;
}

uint64_t request_allowance(uint64_t max_wait_ns)
{
    return max_wait_ns == 0 || max_wait_ns > REQUEST_WAIT_ALLOWANCE_MAX_NS
               ? REQUEST_WAIT_ALLOWANCE_MAX_NS
               : max_wait_ns;
}

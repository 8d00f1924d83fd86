/*
 * liboracle-client: commit timestamps from oracled, for transaction coordinators in C and C++.
 *
 *     #include <oracle/client.h>         cc ... $(pkg-config --cflags --libs oracle-client)
 *
 *     struct oracle_client_options o;
 *     oracle_client_options_init(&o);
 *     o.servers = "10.0.0.5:7600,10.0.1.5:7600";
 *     struct oracle_error err;
 *     oracle_client *c = oracle_client_new(&o, &err);
 *     uint64_t ts;
 *     if (oracle_commit_timestamp(c, &ts, &err) == 0) ...   // certainly in the past on return
 *     oracle_client_free(c);
 *
 * Every call returns 0 or a negative errno-style code (named below) and, when err is not NULL,
 * fills *err with the code, a sentence saying what happened and what to do, and whether the
 * same call may succeed later. A server's own Error keeps its code, message and retriable flag.
 *
 * Connections. The client connects on its first call, trying the servers in the order given
 * (each name resolved afresh, every address it resolves to tried), and again on the next call
 * after the connection broke, timed out, or the server announced it would close it (clock
 * unavailable, bound too wide, not ready, shutting down): behind a load balancer that reaches a
 * healthy instance. An idle connection the server closed meanwhile (idle timeout, restart) is
 * noticed before a request is written on it and replaced. Otherwise a call never retries by itself:
 * it reports, and the caller decides.
 *
 * Session monotonicity. The client remembers the largest timestamp it has seen (the last of
 * every batch, and whatever oracle_client_observe() is given). With session_min (on by
 * default) every GetTimestamp asks for timestamps above it, so a session's timestamps increase
 * even when the load balancer sends successive connections to different instances.
 *
 * Pipelining. oracle_send() queues requests (many may be in flight), oracle_flush() writes them
 * and oracle_receive() returns responses in the order the server sends them, which need not be
 * the order of the requests: match them by id. The one-request calls (oracle_now() ...) may be
 * mixed with pipelined requests: responses for other ids that arrive while they wait are kept
 * for oracle_receive(). Every request ends exactly once: with its reply, or counted in a
 * failure returned by the call that waited for it or by oracle_receive(). Replies that arrived
 * whole before a connection broke are still delivered (the server's last replies often say why
 * it closed), the failure after them. After the server announced it closes the connection, the
 * next request first takes in what is still coming on it, then reconnects.
 *
 * Timeouts. connect_timeout_ms bounds each connection attempt; request_timeout_ms bounds how
 * long a call waits for its reply beyond any commit-wait it asked for: a commit-wait request is
 * allowed its max_wait_ns on top. A request that leaves max_wait_ns at 0 is sent with the
 * client's max_wait_ms (the server caps it at its own --max-wait); with max_wait_ms 0 too, the
 * server's --max-wait applies and the client allows 60 s, the longest any oracled holds a wait.
 * A timeout closes the connection; a late reply can never be taken for another request's.
 *
 * Thread safety. The library has no global state. A client from oracle_client_new() may be used
 * by one thread at a time: calls on the same handle from two threads at once need the caller's
 * lock. Distinct handles are independent and may be used from different threads freely. A
 * client from oracle_shared_new() (below) is for any number of threads at once.
 * oracle_strerror(), oracle_client_options_init() and the name functions are safe from any
 * thread. The client sends with MSG_NOSIGNAL: a broken connection never raises SIGPIPE.
 *
 * Three faces, one protocol:
 *  - oracle_client_new(): blocking, one thread, pipelining by hand. The least latency for one
 *    caller alone, and what a program with a handful of threads, each with its own client, wants.
 *  - oracle_shared_new(): blocking, any number of threads on one handle. Concurrent calls are
 *    merged (TiDB PD's way) into one request per round trip. For a transaction layer with many
 *    threads: fewer requests and connections, more timestamps per second.
 *  - oracle_async_new() (oracle/async.h): the same engine on the caller's own libuv loop, a
 *    callback per call.
 */
#ifndef ORACLE_CLIENT_H
#define ORACLE_CLIENT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ORACLE_CLIENT_DEFAULT_PORT 7600

/* Return codes: 0, or one of these. */
#define ORACLE_E_SERVER   (-EREMOTEIO)    /* the server answered with an Error: see err->code */
#define ORACLE_E_CONNECT  (-ECONNREFUSED) /* no server address accepted a connection in time */
#define ORACLE_E_TIMEOUT  (-ETIMEDOUT)    /* no reply within the timeout */
#define ORACLE_E_CLOSED   (-ECONNRESET)   /* the connection broke before the reply came */
#define ORACLE_E_PROTOCOL (-EPROTO)       /* the server sent bytes that are not a valid reply */
#define ORACLE_E_INVALID  (-EINVAL)       /* a bad argument or option */
#define ORACLE_E_NOMEM    (-ENOMEM)       /* out of memory */
#define ORACLE_E_BUSY     (-ENOBUFS)      /* max_in_flight requests already in flight */

/* The server's error codes (oracle.proto ErrorCode), in oracle_error.code with ORACLE_E_SERVER. */
enum oracle_error_code {
    ORACLE_ERROR_NONE = 0,
    ORACLE_ERROR_BAD_REQUEST = 1,
    ORACLE_ERROR_UNSUPPORTED = 2,
    ORACLE_ERROR_CLOCK_UNAVAILABLE = 3,
    ORACLE_ERROR_BOUND_TOO_WIDE = 4,
    ORACLE_ERROR_WAIT_TOO_LONG = 5,
    ORACLE_ERROR_OVERLOADED = 6,
    ORACLE_ERROR_NOT_READY = 7,
    ORACLE_ERROR_SHUTTING_DOWN = 8,
};

/* The clock's status when the server answered (oracle.proto ClockStatus). */
/* A status added by a later server version is passed on as its number. */
enum oracle_clock_status {
    ORACLE_CLOCK_UNKNOWN = 0,
    ORACLE_CLOCK_SYNCHRONIZED = 1,
    ORACLE_CLOCK_FREE_RUNNING = 2,
    ORACLE_CLOCK_DISRUPTED = 3,
};

#define ORACLE_MESSAGE_MAX 320

struct oracle_error {
    int rc;                           /* the call's return value */
    enum oracle_error_code code;      /* with ORACLE_E_SERVER, the server's code; else NONE */
    bool retriable;                   /* may the same call succeed later, or on another instance? */
    char message[ORACLE_MESSAGE_MAX]; /* what happened and what to do, for people */
    char peer[80];                    /* the server concerned (HOST:PORT), "" when none */
};

typedef struct oracle_client oracle_client;

struct oracle_client_options {
    /*
     * Where oracled listens: "host:port", several separated by commas, tried in order. host is
     * a name, an IPv4 address or a bracketed IPv6 address ("[::1]:7600"); without ":port",
     * port 7600. Borrowed: copied by oracle_client_new().
     */
    const char *servers;
    uint32_t connect_timeout_ms; /* per connection attempt; default 1000 */
    uint32_t request_timeout_ms; /* for each reply, beyond its commit-wait; default 2000 */
    uint32_t max_wait_ms;        /* a commit-wait's max_wait_ns when left 0; default 1000; 0: the
                                    server's --max-wait (the client then allows 60 s for it) */
    uint32_t max_in_flight;      /* pipelined requests in flight at most; default 4096 */
    bool session_min;            /* raise min_ts_ns to the largest timestamp seen; default on */
    /* Shared and asynchronous clients: how long a batch may wait for more calls once it could be
     * sent, in µs (0 .. 1000000); default 0, sent at once. */
    uint32_t max_batch_delay_us;
    /*
     * TLS (oracled --tls-cert): on when tls_ca is set, the PEM file of the CA certificates that
     * sign the server's certificate ("system": the system's CA certificates). tls_cert and
     * tls_key: the client's own certificate and key, for a server that requires one (mutual
     * TLS). tls_server_name: the name the server's certificate must carry, a DNS name or an IP
     * address (default: each server's host as given in servers). Borrowed: the files are read
     * by oracle_client_new() (and its shared and asynchronous siblings).
     */
    const char *tls_ca;
    const char *tls_cert;
    const char *tls_key;
    const char *tls_server_name;
};

/* Fills *o with the defaults (servers "127.0.0.1:7600"). */
void oracle_client_options_init(struct oracle_client_options *o);

/*
 * Makes a client; nothing is connected yet. Returns NULL on a bad option (err says which) or
 * lack of memory. Caller owns the result: free it with oracle_client_free().
 */
oracle_client *oracle_client_new(const struct oracle_client_options *o, struct oracle_error *err);

/* Closes the connection and frees everything; requests in flight are abandoned. NULL: no-op. */
void oracle_client_free(oracle_client *c);

/* Connects now unless connected (calls do it themselves; this reports problems early). */
int oracle_client_connect(oracle_client *c, struct oracle_error *err);

/* The address of the current connection ("127.0.0.1:7600"), or "" when not connected. */
const char *oracle_client_peer(const oracle_client *c);

/* The largest timestamp this client has seen, or 0. */
uint64_t oracle_client_max_seen(const oracle_client *c);

/* Makes the client treat ts_ns as seen (one learned from another session, say). */
void oracle_client_observe(oracle_client *c, uint64_t ts_ns);

/* What a client has done since it was made: how well a shared client batches, for one. */
struct oracle_client_counts {
    uint64_t calls;    /* calls that ended (shared); requests answered or failed (blocking) */
    uint64_t requests; /* requests written to a server */
    uint64_t batched;  /* calls that left in a request of more than one call (shared) */
    uint64_t connects; /* connections made */
};
/* Fills *out. Any thread, for a shared client. */
void oracle_client_counts(const oracle_client *c, struct oracle_client_counts *out);

/*
 * A client that any number of threads share. Its engine runs on a thread of its own, on a
 * libuv loop, with one connection at a time; every thread calls the one-request functions below
 * (oracle_timestamp(), oracle_commit_timestamp(), oracle_wait_until(), oracle_now() ...) on
 * the same handle, and each call blocks its thread as it does with oracle_client_new().
 * oracle_send(), oracle_flush() and oracle_receive() are for a client of one thread: on a
 * shared one they return ORACLE_E_INVALID. oracle_client_connect() sends a Now, and reports.
 *
 * Batching. Calls that arrive while two requests of their kind are in flight wait for a reply,
 * then leave together as one request: one-timestamp GetTimestamp calls (without min_ts_ns) as
 * one GetTimestamp of count n, split back in the order the calls were made; commit-waited ones
 * likewise, the server holding the reply until the whole range is past; Now calls as one Now.
 * WaitUntil calls never wait for a reply to others, and those queued together whose timestamps
 * lie within 1 us of each other leave as one wait on the largest. Only calls allowing the same
 * max_wait_ns are merged. A caller alone costs one round trip, without added delay;
 * max_batch_delay_us makes a batch wait that long at most for company. Other calls are sent as
 * they come.
 *
 * Why no merged call weakens what README "What a client gets" promises:
 *  - every request leaves after each of its calls was made, so a caller's timestamp is above
 *    every commit-waited timestamp whose reply arrived before that caller asked, and above the
 *    session's largest seen then (min_ts_ns is the session's largest when the batch leaves);
 *  - the callers of one batch get distinct, consecutive timestamps, increasing in the order the
 *    calls were made (calls sent again after a failure go first, in that order);
 *  - a commit-wait on the batch's last timestamp covers every smaller one of the batch (a
 *    caller is held at most the batch's size in ns past its own), and a WaitUntil on the
 *    largest timestamp covers the smaller ones (held at most 1 us past its own);
 *  - a merged Now's interval is read after every caller asked and before any returns;
 *  - a merged wait the server refuses as too long (WAIT_TOO_LONG: its largest timestamp too far
 *    ahead) is sent again call by call, so each caller gets its own request's answer.
 *
 * Failover. NOT_READY, OVERLOADED, CLOCK_UNAVAILABLE, SHUTTING_DOWN and BOUND_TOO_WIDE (a server
 * that cannot serve now) or a broken connection send the calls concerned again, to the next
 * server of the list, after a backoff doubling from 1 ms to 100 ms while failures go on, within
 * each call's deadline: connect_timeout_ms plus request_timeout_ms plus the commit-wait it
 * allows, from the call. At the deadline the call returns the last such error (or
 * ORACLE_E_TIMEOUT). Any other server error (WAIT_TOO_LONG, BAD_REQUEST ...) is the call's answer
 * at once. A pass over the whole list that finds no server accepting ends the waiting calls with
 * ORACLE_E_CONNECT, as oracle_client_new()'s would. Every request carries the session's largest
 * timestamp as min_ts_ns, whichever server it goes to.
 *
 * oracle_client_free() ends the calls still waiting with ORACLE_E_CLOSED and returns once every
 * calling thread has left the client's functions; no thread may start a call after it began.
 */
oracle_client *oracle_shared_new(const struct oracle_client_options *o, struct oracle_error *err);

/* ---- One request, one reply ---- */

struct oracle_ts_request {
    uint32_t count;       /* how many consecutive timestamps, 1 .. the server's max_count; 0: 1 */
    bool commit_wait;     /* hold the reply until the last one is certainly in the past */
    uint64_t min_ts_ns;   /* every timestamp is above this (and above max_seen with session_min) */
    uint64_t max_wait_ns; /* the longest commit-wait accepted; 0: the client's max_wait_ms */
};

struct oracle_timestamps {
    uint64_t first_ns; /* the batch is first_ns .. first_ns + count - 1, ns since the epoch */
    uint32_t count;
    uint64_t waited_ns; /* how long commit-wait held the reply */
    uint64_t bound_ns;  /* the clock when the server replied: its error bound ... */
    uint64_t earliest_ns;
    uint64_t latest_ns; /* ... and the interval that certainly contains true time */
    enum oracle_clock_status clock_status;
};

struct oracle_bounds {
    uint64_t earliest_ns; /* true time certainly lies in [earliest_ns, latest_ns] */
    uint64_t latest_ns;
    enum oracle_clock_status clock_status;
};

#define ORACLE_INFO_TEXT_MAX 257

struct oracle_info {
    char version[ORACLE_INFO_TEXT_MAX];
    char instance_id[ORACLE_INFO_TEXT_MAX]; /* new at every start of the server */
    char time_source[ORACLE_INFO_TEXT_MAX];
    uint32_t max_drift_ppb;
    uint64_t max_wait_ns;
    uint32_t max_count;
    enum oracle_clock_status clock_status;
};

/* Timestamps as req says (NULL: one, no commit-wait). */
int oracle_get_timestamps(oracle_client *c, const struct oracle_ts_request *req,
                          struct oracle_timestamps *out, struct oracle_error *err);
/* One timestamp, no commit-wait: a read timestamp. */
int oracle_timestamp(oracle_client *c, uint64_t *ts_ns, struct oracle_error *err);
/* One commit-waited timestamp: certainly in the past when the call returns. */
int oracle_commit_timestamp(oracle_client *c, uint64_t *ts_ns, struct oracle_error *err);
/* The interval that certainly contains true time. */
int oracle_now(oracle_client *c, struct oracle_bounds *out, struct oracle_error *err);
/* *answer: is ts_ns certainly in the past (ts_ns < earliest)? ClockBound's Before. */
int oracle_before(oracle_client *c, uint64_t ts_ns, bool *answer, struct oracle_error *err);
/* *answer: is ts_ns certainly still in the future (ts_ns > latest)? ClockBound's After. */
int oracle_after(oracle_client *c, uint64_t ts_ns, bool *answer, struct oracle_error *err);
/* Returns once ts_ns is certainly in the past; *waited_ns (may be NULL): the server's wait.
 * max_wait_ns: the longest wait accepted (0: the client's max_wait_ms); a longer one is
 * ORACLE_E_SERVER with ORACLE_ERROR_WAIT_TOO_LONG, at once. */
int oracle_wait_until(oracle_client *c, uint64_t ts_ns, uint64_t max_wait_ns, uint64_t *waited_ns,
                      struct oracle_error *err);
/* The server's identity and limits. */
int oracle_server_info(oracle_client *c, struct oracle_info *out, struct oracle_error *err);

/* ---- Pipelining ---- */

enum oracle_op {
    ORACLE_OP_GET_TIMESTAMP = 1,
    ORACLE_OP_NOW,
    ORACLE_OP_BEFORE,
    ORACLE_OP_AFTER,
    ORACLE_OP_WAIT_UNTIL,
    ORACLE_OP_SERVER_INFO,
};

struct oracle_request {
    enum oracle_op op;
    struct oracle_ts_request ts; /* GET_TIMESTAMP */
    uint64_t ts_ns;              /* BEFORE, AFTER, WAIT_UNTIL */
    uint64_t max_wait_ns;        /* WAIT_UNTIL; 0: the client's max_wait_ms */
};

struct oracle_response {
    uint64_t id; /* as oracle_send() returned it */
    enum oracle_op op;
    int rc;                    /* 0, or ORACLE_E_SERVER with error filled */
    struct oracle_error error; /* with ORACLE_E_SERVER */
    enum oracle_clock_status clock_status;
    union {
        struct oracle_timestamps ts; /* GET_TIMESTAMP */
        struct oracle_bounds bounds; /* NOW */
        bool answer;                 /* BEFORE, AFTER */
        uint64_t waited_ns;          /* WAIT_UNTIL */
        struct oracle_info info;     /* SERVER_INFO */
    } u;
};

/*
 * Queues one request (connecting first if needed) and stores its id in *id. It is written by
 * oracle_flush(), or by the next call that waits for a reply; once 256 KiB are queued,
 * oracle_send() writes them itself, and may then block (and fail) as oracle_flush() does.
 * ORACLE_E_BUSY when max_in_flight requests are in flight or received and not yet taken.
 */
int oracle_send(oracle_client *c, const struct oracle_request *req, uint64_t *id,
                struct oracle_error *err);
/* Writes every queued request, reading replies meanwhile so neither side can stall. */
int oracle_flush(oracle_client *c, struct oracle_error *err);
/*
 * Returns the next reply (writing queued requests too) in *out. A server Error is a reply: the
 * return is 0 and out->rc says ORACLE_E_SERVER. A negative return reports a failure of the
 * connection and the requests it ended (err->message says how many); ORACLE_E_INVALID when
 * nothing is pending.
 */
int oracle_receive(oracle_client *c, struct oracle_response *out, struct oracle_error *err);
/*
 * Requests whose end oracle_receive() has yet to return: in flight, replied to but not taken,
 * or ended by a failure not yet reported. Receive while this is above zero.
 */
size_t oracle_in_flight(const oracle_client *c);

/* ---- Names ---- */

/* "connection refused by every server" ... for a return code. */
const char *oracle_strerror(int rc);
/* "CONNECT", "TIMEOUT" ... for a return code ("OK" for 0, "SERVER" for ORACLE_E_SERVER). */
const char *oracle_rc_name(int rc);
/* "CLOCK_UNAVAILABLE" ... */
const char *oracle_error_code_name(enum oracle_error_code code);
/* "SYNCHRONIZED" ... */
const char *oracle_clock_status_name(enum oracle_clock_status s);

#ifdef __cplusplus
}
#endif

#endif

/*
 * The chrony poller on the daemon's loop: every interval a uv_timer sends a tracking request
 * (the client takes the m0 reading just before); uv_poll reads the replies. A request still
 * unanswered at the next tick is resent with a fresh sequence number; after `attempts`
 * unanswered ticks in a row, or at once for a refusal or a malformed reply, the poll counts as
 * failed (cb_on_poll_failure). The state it feeds is the caller's.
 *
 * After a successful poll whose reference is an NTP source (an IPv4 or IPv6 address; refclocks
 * have none and are skipped), it also asks chrony's NTPDATA about that source whenever the
 * reference address or chrony's reference time has changed since the last NTPDATA answer, and
 * feeds the answer to cb_on_upstream() (an upstream server on its own local clock makes the
 * status UNKNOWN). NTPDATA failures never count as poll failures: chronyd 4.3 refuses NTPDATA
 * over UDP ("unauthorised"), and then the check cannot be made; that is logged once (naming the
 * unix socket as the fix), counted, retried every POLLER_NTPDATA_RETRY_NS, and the clock is not
 * refused for it.
 */
#ifndef ORACLE_POLLER_H
#define ORACLE_POLLER_H

#include <stdint.h>

#include <uv.h>

#include "chrony_client.h"
#include "clockbound.h"
#include "uvclose.h"

#define POLLER_DEFAULT_INTERVAL_NS 20000000 /* 20 ms: at 50 ppm the bound grows 1 us between */
#define POLLER_ATTEMPTS            3
#define POLLER_LOG_EVERY_NS        INT64_C(30000000000) /* failure reminders: every 30 s */
#define POLLER_NTPDATA_TIMEOUT_NS  INT64_C(1000000000)  /* an NTPDATA request unanswered: failed */
#define POLLER_NTPDATA_RETRY_NS    INT64_C(10000000000) /* after a failure, ask again after 10 s */

struct poller;
/* Called after every poll outcome (success or failure), once the state has taken it in. */
typedef void poller_cb(struct poller *p);

struct poller {
    uv_loop_t *loop;
    struct chrony_client *client;
    struct cb_state *state; /* borrowed: the server's */
    struct cb_clock *clock;
    poller_cb *cb;
    uv_timer_t timer;
    uv_poll_t poll;
    int64_t interval_ns;
    int unanswered;       /* ticks since the last reply */
    int last_error;       /* the last failure's negative errno, 0 after a success */
    const char *last_why; /* ... and what was wrong, when known */
    uint64_t polls_ok;
    uint64_t polls_failed;
    int64_t last_rtt_ns;        /* send to reply of the last success */
    int64_t sent_coarse_ns;     /* CLOCK_MONOTONIC_COARSE just before the latest request */
    uint64_t failures_unlogged; /* failures since the last log line about them */
    int64_t logged_mono_ns;     /* when that line was written */
    bool handles;      /* the timer and the poll handle exist: closing goes through the loop */
    bool close_called; /* poller_close() was called */
    struct uvclose closer;
    void (*close_cb)(struct poller *p);
    void *data; /* the owner's */
    /* NTPDATA about the reference's NTP server. */
    poller_cb *upstream_cb;   /* optional (set after poller_init): after an NTPDATA answer has
                               * been taken in (cb_on_upstream), the status may have changed */
    bool nd_pending;          /* a request is out, asking about the nd_ask_* key */
    int64_t nd_sent_mono_ns;  /* ... sent then */
    int64_t nd_retry_mono_ns; /* after a failure: no request before this */
    bool nd_answered;         /* the nd_* key is that of the last answer */
    uint16_t nd_family, nd_ask_family;          /* CHRONY_ADDR_INET4 or _INET6 */
    uint8_t nd_addr[16], nd_ask_addr[16];       /* the source's address */
    int64_t nd_ref_time_ns, nd_ask_ref_time_ns; /* chrony's reference time when asked */
    uint64_t ntpdata_ok;                        /* NTPDATA answers taken in */
    uint64_t ntpdata_failed; /* NTPDATA requests refused, malformed or unanswered */
    int ntpdata_error;       /* the last NTPDATA failure's negative errno, 0 after an answer:
                              * nonzero means the upstream check cannot be made */
    const char *ntpdata_why; /* ... and what was wrong (static text) */
    bool ntpdata_warned;     /* that was logged (once until the next answer) */
    bool nd_logged;          /* an answer was logged, about these: */
    uint16_t nd_logged_family;
    uint8_t nd_logged_addr[16];
    uint32_t nd_logged_ref_id;
    /* Asking chronyd to start over after a VMClock disruption (poller_reset_chrony). */
    int reset_step;             /* 0 idle, 1 RESET_SOURCES out, 2 BURST out */
    int reset_tries;            /* attempts of the current step */
    int64_t reset_sent_mono_ns; /* when it was sent */
    bool reset_refused_logged;  /* chronyd refused (UDP): said once */
    uint64_t resets_ok;         /* RESET_SOURCES chronyd carried out */
    uint64_t resets_failed;     /* refused or unanswered */
    /* The PTP hardware clock's own error bound (clockbound/phc.h), read at every reply. */
    struct cb_phc phc;
    uint32_t phc_ref_id;
    uint32_t refclock_warned;   /* a refclock reference warned about (note_refclock), 0: none */
    int64_t phc_logged_mono_ns; /* the last line about the PHC's error bound ... */
    uint64_t phc_unlogged;      /* ... and the changes not logged since (at most one line per
                                 * POLLER_LOG_EVERY_NS) */
};

/* What /metrics and /healthz show of the poller. */
struct poller_stats {
    uint64_t polls_ok;
    uint64_t polls_failed;
    uint64_t ntpdata_ok;
    uint64_t ntpdata_failed;
    int ntpdata_error;       /* nonzero: the upstream check cannot be made */
    const char *ntpdata_why; /* ... why (static text), or NULL */
};

/*
 * Opens the chrony client (errors: see chrony_client_new) and the handles; does not start.
 * Returns 0 or a negative errno.
 */
int poller_init(struct poller *p, uv_loop_t *loop, const struct chrony_addr *addr,
                struct cb_clock *clock, struct cb_state *state, int64_t interval_ns, poller_cb *cb);
/*
 * Reads the PHC's error bound at every reply (into the poll, cb_phc_take), from the file the
 * --phc-interface (iface) or --phc-error-bound-file (file) setting names (cb_phc_open_setting),
 * to be added while chrony's reference ID is ref_id. Call after poller_init. Returns 0, or a
 * negative errno with a sentence in why (the file cannot be found or opened).
 */
int poller_set_phc(struct poller *p, const char *iface, const char *file, uint32_t ref_id,
                   char *why, size_t cap);
/*
 * After a VMClock disruption: asks chronyd to drop every sample (RESET_SOURCES), then to sample
 * every source at once (BURST), as AWS ClockBound does; retried on the poll timer while
 * unanswered (POLLER_RESET_TRIES, POLLER_RESET_TIMEOUT_NS apart). chronyd does it only when
 * asked on its unix socket: over UDP it refuses, which is logged once (the disruption rule
 * alone then keeps the bound sound, clockbound.h CB_VMCLOCK_UPDATES).
 */
void poller_reset_chrony(struct poller *p);
/* Sends the first request now, then every interval. */
int poller_start(struct poller *p);
#define POLLER_RESET_TRIES      5
#define POLLER_RESET_TIMEOUT_NS INT64_C(1000000000)

/* Stops, closes the handles and the client; close_cb runs when done. */
void poller_close(struct poller *p, void (*close_cb)(struct poller *p));

void poller_stats(const struct poller *p, struct poller_stats *out);

#endif

/*
 * Admission at the connection caps, so that no handful of peers can take the instance out of
 * its load balancer by holding connections (a leaking client pool, a scraper bug, an attacker
 * inside the VPC).
 *
 * Past --max-connections, the connection idle longest (nothing pending either way, see
 * conn_is_idle; what it has sent and was not read yet is read and handled first) gets a
 * connection-level OVERLOADED error, retriable, "evicted: connection limit", written at once,
 * and is closed: its client reconnects cleanly (the oracle client sees the frame before its
 * next request and reconnects). Only when none of the ADMIT_SCAN_MAX connections least recently
 * known idle is idle is the new one refused, with the same kind of frame; those found busy move
 * to the newest end, so each arrival costs O(ADMIT_SCAN_MAX) at most and the next one looks at
 * others. Past --max-connections-per-peer (0: off), the same among that peer's own
 * connections: one host cycles its own connections, not others'.
 *
 * The server calls admit_opened, admit_active and admit_closing as connections come, talk and
 * go (conn_events), and admit_check after each accept.
 */
#ifndef ORACLE_ADMIT_H
#define ORACLE_ADMIT_H

#include <stddef.h>
#include <stdint.h>

#include "connset.h"

struct conn;
struct conn_env;

enum admit_cap {
    ADMIT_CAP_TOTAL, /* --max-connections */
    ADMIT_CAP_PEER,  /* --max-connections-per-peer */
    ADMIT_CAPS,
};

#define ADMIT_LOG_EVERY_MS 10000 /* evictions and refusals: one log line at most this often */
#define ADMIT_SCAN_MAX     64    /* connections looked at for an idle one, per arrival */

/* Log rate-limiting: what happened since the last line. */
struct admit_log {
    uint64_t last_ms; /* uv_now of the last line; 0 none yet */
    uint64_t evicted;
    uint64_t refused;
};

struct admit_stats {
    size_t live;                  /* connections counted against the caps */
    size_t max;                   /* --max-connections */
    size_t max_per_peer;          /* --max-connections-per-peer, 0: off */
    size_t peers;                 /* peer addresses with connections counted (per-peer cap on) */
    uint64_t evicted[ADMIT_CAPS]; /* idle, closed to make room at a cap */
    uint64_t refused[ADMIT_CAPS]; /* new, closed at a cap where none was idle */
};

struct admit {
    struct conn_env *env; /* its list of every connection, most recently active first */
    size_t max;
    size_t max_per_peer;
    size_t n_live;
    struct cs_peers peers; /* by address, when the per-peer cap is on */
    struct admit_log log;
    uint64_t evicted[ADMIT_CAPS];
    uint64_t refused[ADMIT_CAPS];
};

/* The metric label of a cap: "limit" or "peer_limit". */
const char *admit_cap_name(enum admit_cap cap);

/* Sets up the caps, and the table of peers when the per-peer cap is on (max_per_peer > 0).
 * Returns 0 or -ENOMEM. A zeroed struct is safe to fini. */
int admit_init(struct admit *a, struct conn_env *env, size_t max, size_t max_per_peer);
void admit_fini(struct admit *a);

/* c was accepted: counted against the caps (its peer too). */
void admit_opened(struct admit *a, struct conn *c);
/* c sent something: the most recently active of its peer's now. O(1). */
void admit_active(struct admit *a, struct conn *c);
/* c is closing, evicted or refused: no longer counted. Idempotent. */
void admit_closing(struct admit *a, struct conn *c);
/* After admit_opened: if c takes its peer or the server past a cap, evicts the idle longest in
 * that scope, or refuses c itself when none is idle. */
void admit_check(struct admit *a, struct conn *c);

void admit_stats(const struct admit *a, struct admit_stats *out);

#endif

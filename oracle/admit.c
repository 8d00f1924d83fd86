/* Admission at the connection caps (see admit.h). */
#include "admit.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/random.h>

#include "conn.h"
#include "log.h"

const char *admit_cap_name(enum admit_cap cap)
{
    return cap == ADMIT_CAP_PEER ? "peer_limit" : "limit";
}

int admit_init(struct admit *a, struct conn_env *env, size_t max, size_t max_per_peer)
{
    memset(a, 0, sizeof(*a));
    a->env = env;
    a->max = max;
    a->max_per_peer = max_per_peer;
    if (max_per_peer == 0) {
        return 0;
    }
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
        seed = (uint64_t)(uintptr_t)a; /* the table still works; collisions just cost time */
    }
    return cs_peers_init(&a->peers, max, seed);
}

void admit_fini(struct admit *a)
{
    cs_peers_fini(&a->peers);
}

void admit_stats(const struct admit *a, struct admit_stats *out)
{
    out->live = a->n_live;
    out->max = a->max;
    out->max_per_peer = a->max_per_peer;
    out->peers = a->peers.len;
    memcpy(out->evicted, a->evicted, sizeof(out->evicted));
    memcpy(out->refused, a->refused, sizeof(out->refused));
}

void admit_opened(struct admit *a, struct conn *c)
{
    c->counted = true;
    a->n_live++;
    if (a->max_per_peer > 0 && c->peer_key.family != 0 && a->peers.buckets != NULL) {
        c->peer_entry = cs_peers_get(&a->peers, &c->peer_key);
        if (c->peer_entry != NULL) {
            cs_list_push(&c->peer_entry->conns, &c->by_peer);
        }
    }
}

void admit_active(struct admit *a, struct conn *c)
{
    (void)a; /* the list of every connection: conn.c moves c itself */
    if (c->peer_entry != NULL) {
        cs_list_touch(&c->peer_entry->conns, &c->by_peer);
    }
}

void admit_closing(struct admit *a, struct conn *c)
{
    if (!c->counted) {
        return;
    }
    c->counted = false;
    a->n_live--;
    /* Not moved in the list of every connection here: callers walk it while closing connections.
     * The look for an idle one moves it out of its way. */
    if (c->peer_entry != NULL) {
        cs_list_remove(&c->peer_entry->conns, &c->by_peer);
        cs_peers_release(&a->peers, c->peer_entry);
        c->peer_entry = NULL;
    }
}

/* The connection idle longest in a list, looked for from its oldest end among at most
 * ADMIT_SCAN_MAX connections; NULL when none of those is idle, or when one went by itself while
 * looked at and so made room. Each candidate first has what it
 * sent read and handled: a request already sent is served, not lost, and makes it busy (its
 * read moves it to the newest end); half a frame does not. A connection found busy (a
 * commit-wait pending, replies unsent) is moved to the newest end too: it was not idle at this
 * moment, and the next arrival looks at others, so no arrival looks at more than
 * ADMIT_SCAN_MAX, however many busy connections peers hold. */
static bool over_cap(const struct admit *a, const struct conn *c, enum admit_cap cap);

static struct conn *idle_longest(const struct admit *a, enum admit_cap cap, struct cs_list *l,
                                 struct conn *(*of)(struct cs_node *), const struct conn *newcomer)
{
    struct cs_node *n = l->oldest;
    for (int looked = 0; n != NULL && looked < ADMIT_SCAN_MAX; looked++) {
        struct cs_node *next = n->newer;
        struct conn *c = of(n);
        if (c == newcomer) {
            break; /* the newest: every other one was looked at */
        }
        if (conn_is_idle(c)) {
            /* Accepts come in bursts, before reads: what it sent is handled first. It may go
             * (the peer had closed, or sent garbage): then it has left this list, made room by
             * itself, and must not be touched. */
            conn_read_pending(c);
            if (!c->counted) {
                if (!over_cap(a, newcomer, cap)) {
                    return NULL; /* room made: the caller checks */
                }
                n = next;
                continue;
            }
            if (conn_is_idle(c)) {
                return c;
            }
        }
        /* Busy, or leaving (still in the list of every connection until freed; never in a peer's):
         * to the newest end, so the next arrival looks at others. */
        cs_list_touch(l, n);
        n = next;
    }
    return NULL;
}

static void note(struct admit *a, enum admit_cap cap, const struct conn *victim,
                 const struct conn *newcomer)
{
    bool evicted = victim != NULL;
    struct admit_log *l = &a->log;
    if (evicted) {
        a->evicted[cap]++;
        l->evicted++;
    } else {
        a->refused[cap]++;
        l->refused++;
    }
    uint64_t now = uv_now(a->env->loop);
    if (l->last_ms != 0 && now - l->last_ms < ADMIT_LOG_EVERY_MS) {
        return;
    }
    size_t limit = cap == ADMIT_CAP_PEER ? a->max_per_peer : a->max;
    const char *what = cap == ADMIT_CAP_PEER ? "connection limit per peer" : "connection limit";
    if (evicted) {
        log_warn("%s (%zu) reached: closed the connection idle longest (%s) to make room for one "
                 "from %s (%" PRIu64 " evicted, %" PRIu64 " refused since the last report); "
                 "peers hold connections open without using them",
                 what, limit, victim->peer, newcomer->peer, l->evicted, l->refused);
    } else {
        log_warn("%s (%zu) reached: refused one from %s, none idle (%" PRIu64 " evicted, %" PRIu64
                 " refused since the last report); peers hold connections busy",
                 what, limit, newcomer->peer, l->evicted, l->refused);
    }
    l->last_ms = now;
    l->evicted = 0;
    l->refused = 0;
}

static bool over_cap(const struct admit *a, const struct conn *c, enum admit_cap cap)
{
    if (cap == ADMIT_CAP_PEER) {
        return c->peer_entry != NULL && c->peer_entry->conns.len > a->max_per_peer;
    }
    return a->n_live > a->max;
}

/* Makes room in a scope that c has taken past its cap: evicts the idle longest there (never c
 * itself, the newest), or refuses c. Returns false when c was refused. */
static bool make_room(struct admit *a, struct conn *c, enum admit_cap cap, struct cs_list *l,
                      struct conn *(*of)(struct cs_node *))
{
    struct conn *victim = idle_longest(a, cap, l, of, c);
    if (victim == NULL && !over_cap(a, c, cap)) {
        return true; /* a connection found leaving while looked at made room */
    }
    note(a, cap, victim, c);
    if (victim != NULL) {
        admit_closing(a, victim);
        conn_goodbye(victim, WIRE_ERROR_OVERLOADED, true,
                     cap == ADMIT_CAP_PEER ? "evicted: connection limit per peer"
                                           : "evicted: connection limit");
        return true;
    }
    admit_closing(a, c);
    conn_goodbye(c, WIRE_ERROR_OVERLOADED, true,
                 cap == ADMIT_CAP_PEER
                     ? "refused: connection limit per peer, none idle; retry later"
                     : "refused: connection limit, none idle; retry later");
    return false;
}

void admit_check(struct admit *a, struct conn *c)
{
    struct cs_peer *p = c->peer_entry;
    if (over_cap(a, c, ADMIT_CAP_PEER) &&
        !make_room(a, c, ADMIT_CAP_PEER, &p->conns, conn_of_peer_node)) {
        return;
    }
    if (over_cap(a, c, ADMIT_CAP_TOTAL)) {
        make_room(a, c, ADMIT_CAP_TOTAL, &a->env->all, conn_of_activity);
    }
}

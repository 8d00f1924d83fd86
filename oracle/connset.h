/*
 * The bookkeeping behind the connection caps (--max-connections, --max-connections-per-peer):
 * intrusive lists ordered by activity (the most recently active first, so the one idle longest
 * is at the other end), and a table of peer addresses, each with the list of its connections.
 * At a cap the server walks a list from its oldest end for a connection with nothing pending,
 * closes it to make room, and refuses the new one only when there is none.
 *
 * Pure: memory only, no sockets, no clock, no logging. The caller owns the nodes (embedded in
 * its connections) and recovers them with container_of.
 */
#ifndef ORACLE_CONNSET_H
#define ORACLE_CONNSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct cs_node {
    struct cs_node *newer, *older;
};

struct cs_list {
    struct cs_node *newest, *oldest;
    size_t len;
};

/* Adds n (in no list) as the newest. */
void cs_list_push(struct cs_list *l, struct cs_node *n);
/* Takes n, which is in l, out of it. */
void cs_list_remove(struct cs_list *l, struct cs_node *n);
/* Makes n, which is in l, the newest: it was just active. O(1). */
void cs_list_touch(struct cs_list *l, struct cs_node *n);

/* A peer's address: the family and the address bytes, without the port. An IPv6 peer is its
 * /64 (the rest zero): one host commonly has a whole /64 to draw addresses from (privacy
 * addresses, EC2 prefix delegation), so a finer key would be no cap at all. */
struct cs_peer_key {
    uint8_t family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
};

/* Fills *k from an AF_INET or AF_INET6 address. Returns 0, or -EAFNOSUPPORT. An IPv4-mapped
 * IPv6 address is the IPv4 address: one peer, however it reached a dual-stack listener. */
int cs_peer_key_from(const struct sockaddr *sa, struct cs_peer_key *k);

struct cs_peer {
    struct cs_peer_key key;
    struct cs_list conns; /* this peer's connections, most recently active first */
    struct cs_peer *next; /* in its bucket */
};

struct cs_peers {
    struct cs_peer **buckets;
    size_t mask; /* buckets - 1, a power of two less one */
    size_t len;  /* peers in the table */
    uint64_t seed;
};

/* Sizes the table for about `expected` peers (at least 64 buckets, at most 65,536). The seed
 * (random in the daemon) keeps a peer from choosing addresses that share a bucket. Returns 0 or
 * -ENOMEM. */
int cs_peers_init(struct cs_peers *t, size_t expected, uint64_t seed);
/* Frees the table and any peers left in it (their lists must hold no nodes the caller still
 * needs). */
void cs_peers_fini(struct cs_peers *t);
/* The peer with key k, added with an empty list when new. NULL only when out of memory. */
struct cs_peer *cs_peers_get(struct cs_peers *t, const struct cs_peer_key *k);
/* The peer with key k, or NULL. */
struct cs_peer *cs_peers_find(const struct cs_peers *t, const struct cs_peer_key *k);
/* Frees p when its list is empty (its last connection has gone); otherwise does nothing. */
void cs_peers_release(struct cs_peers *t, struct cs_peer *p);

#endif

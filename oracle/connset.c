/* Activity-ordered lists and the table of peers behind the connection caps (see connset.h). */
#include "connset.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

void cs_list_push(struct cs_list *l, struct cs_node *n)
{
    n->newer = NULL;
    n->older = l->newest;
    if (l->newest != NULL) {
        l->newest->newer = n;
    } else {
        l->oldest = n;
    }
    l->newest = n;
    l->len++;
}

void cs_list_remove(struct cs_list *l, struct cs_node *n)
{
    if (n->newer != NULL) {
        n->newer->older = n->older;
    } else {
        l->newest = n->older;
    }
    if (n->older != NULL) {
        n->older->newer = n->newer;
    } else {
        l->oldest = n->newer;
    }
    n->newer = NULL;
    n->older = NULL;
    l->len--;
}

void cs_list_touch(struct cs_list *l, struct cs_node *n)
{
    if (l->newest == n) {
        return; /* the common case: the same connection active again */
    }
    cs_list_remove(l, n);
    cs_list_push(l, n);
}

int cs_peer_key_from(const struct sockaddr *sa, struct cs_peer_key *k)
{
    memset(k, 0, sizeof(*k));
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        k->family = AF_INET;
        memcpy(k->addr, &in->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            k->family = AF_INET;
            memcpy(k->addr, &in6->sin6_addr.s6_addr[12], 4);
        } else {
            k->family = AF_INET6;
            memcpy(k->addr, &in6->sin6_addr, 8); /* the /64: see connset.h */
        }
        return 0;
    }
    return -EAFNOSUPPORT;
}

/* FNV-1a over the seed and the key, then a final mix (splitmix64's) so that the low bits, the
 * bucket, depend on every byte. */
static size_t bucket_of(const struct cs_peers *t, const struct cs_peer_key *k)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325) ^ t->seed;
    h = (h ^ k->family) * UINT64_C(0x100000001b3);
    for (size_t i = 0; i < sizeof(k->addr); i++) {
        h = (h ^ k->addr[i]) * UINT64_C(0x100000001b3);
    }
    h ^= h >> 30;
    h *= UINT64_C(0xbf58476d1ce4e5b9);
    h ^= h >> 27;
    h *= UINT64_C(0x94d049bb133111eb);
    h ^= h >> 31;
    return (size_t)h & t->mask;
}

static bool same_key(const struct cs_peer_key *a, const struct cs_peer_key *b)
{
    return a->family == b->family && memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

int cs_peers_init(struct cs_peers *t, size_t expected, uint64_t seed)
{
    memset(t, 0, sizeof(*t));
    size_t n = 64;
    while (n < expected && n < 65536) {
        n *= 2;
    }
    t->buckets = calloc(n, sizeof(*t->buckets));
    if (t->buckets == NULL) {
        return -ENOMEM;
    }
    t->mask = n - 1;
    t->seed = seed;
    return 0;
}

void cs_peers_fini(struct cs_peers *t)
{
    if (t->buckets != NULL) {
        for (size_t i = 0; i <= t->mask; i++) {
            struct cs_peer *p = t->buckets[i];
            while (p != NULL) {
                struct cs_peer *next = p->next;
                free(p);
                p = next;
            }
        }
    }
    free(t->buckets);
    t->buckets = NULL;
    t->len = 0;
}

struct cs_peer *cs_peers_find(const struct cs_peers *t, const struct cs_peer_key *k)
{
    for (struct cs_peer *p = t->buckets[bucket_of(t, k)]; p != NULL; p = p->next) {
        if (same_key(&p->key, k)) {
            return p;
        }
    }
    return NULL;
}

struct cs_peer *cs_peers_get(struct cs_peers *t, const struct cs_peer_key *k)
{
    struct cs_peer *p = cs_peers_find(t, k);
    if (p != NULL) {
        return p;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return NULL;
    }
    p->key = *k;
    size_t b = bucket_of(t, k);
    p->next = t->buckets[b];
    t->buckets[b] = p;
    t->len++;
    return p;
}

void cs_peers_release(struct cs_peers *t, struct cs_peer *p)
{
    if (p->conns.len > 0) {
        return;
    }
    for (struct cs_peer **pp = &t->buckets[bucket_of(t, &p->key)]; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            t->len--;
            free(p);
            return;
        }
    }
}

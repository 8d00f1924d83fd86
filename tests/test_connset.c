/* Unit tests: the activity-ordered lists and the table of peers behind the connection caps. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "connset.h"

/* The list from oldest to newest as indexes into nodes, and checks the links both ways. */
static void assert_order(const struct cs_list *l, const struct cs_node *nodes, const int *want,
                         size_t n)
{
    assert_int_equal(l->len, n);
    size_t i = 0;
    const struct cs_node *prev = NULL;
    for (const struct cs_node *x = l->oldest; x != NULL; x = x->newer, i++) {
        assert_true(i < n);
        assert_ptr_equal(x, &nodes[want[i]]);
        assert_ptr_equal(x->older, prev);
        prev = x;
    }
    assert_int_equal(i, n);
    assert_ptr_equal(l->newest, n > 0 ? &nodes[want[n - 1]] : NULL);
}

static void test_list_orders_by_activity(void **state)
{
    (void)state;
    struct cs_list l = {0};
    struct cs_node nodes[4] = {0};
    assert_order(&l, nodes, NULL, 0);
    for (int i = 0; i < 4; i++) {
        cs_list_push(&l, &nodes[i]);
    }
    assert_order(&l, nodes, (const int[]){0, 1, 2, 3}, 4);
    cs_list_touch(&l, &nodes[0]); /* the oldest active again */
    assert_order(&l, nodes, (const int[]){1, 2, 3, 0}, 4);
    cs_list_touch(&l, &nodes[0]); /* already the newest: nothing moves */
    assert_order(&l, nodes, (const int[]){1, 2, 3, 0}, 4);
    cs_list_touch(&l, &nodes[2]); /* from the middle */
    assert_order(&l, nodes, (const int[]){1, 3, 0, 2}, 4);
    cs_list_remove(&l, &nodes[1]); /* the oldest */
    assert_order(&l, nodes, (const int[]){3, 0, 2}, 3);
    cs_list_remove(&l, &nodes[2]); /* the newest */
    assert_order(&l, nodes, (const int[]){3, 0}, 2);
    cs_list_remove(&l, &nodes[3]);
    cs_list_remove(&l, &nodes[0]);
    assert_order(&l, nodes, NULL, 0);
    assert_null(l.oldest);
}

static void test_peer_keys(void **state)
{
    (void)state;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(1)};
    inet_pton(AF_INET, "10.1.2.3", &a.sin_addr);
    struct sockaddr_in b = a;
    b.sin_port = htons(2); /* another port: the same peer */
    struct sockaddr_in6 m = {.sin6_family = AF_INET6, .sin6_port = htons(3)};
    inet_pton(AF_INET6, "::ffff:10.1.2.3", &m.sin6_addr);
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "2001:db8::1", &v6.sin6_addr);
    struct cs_peer_key ka, kb, km, k6;
    assert_int_equal(cs_peer_key_from((struct sockaddr *)&a, &ka), 0);
    assert_int_equal(cs_peer_key_from((struct sockaddr *)&b, &kb), 0);
    assert_int_equal(cs_peer_key_from((struct sockaddr *)&m, &km), 0);
    assert_int_equal(cs_peer_key_from((struct sockaddr *)&v6, &k6), 0);
    assert_int_equal(ka.family, AF_INET);
    assert_memory_equal(ka.addr, "\x0a\x01\x02\x03", 4);
    assert_memory_equal(&ka, &kb, sizeof(ka));
    assert_memory_equal(&ka, &km, sizeof(ka)); /* IPv4-mapped: the IPv4 peer */
    assert_int_equal(k6.family, AF_INET6);
    assert_memory_equal(k6.addr, &v6.sin6_addr, 8);
    assert_memory_equal(k6.addr + 8, "\0\0\0\0\0\0\0\0", 8);
    /* Another address in the same /64: the same peer; another /64: another. */
    struct sockaddr_in6 same64 = v6, other64 = v6;
    inet_pton(AF_INET6, "2001:db8::beef:2", &same64.sin6_addr);
    inet_pton(AF_INET6, "2001:db8:0:1::1", &other64.sin6_addr);
    struct cs_peer_key ks, ko;
    assert_int_equal(cs_peer_key_from((struct sockaddr *)&same64, &ks), 0);
    assert_int_equal(cs_peer_key_from((struct sockaddr *)&other64, &ko), 0);
    assert_memory_equal(&ks, &k6, sizeof(ks));
    assert_memory_not_equal(&ko, &k6, sizeof(ko));
    struct sockaddr unix_addr = {.sa_family = AF_UNIX};
    assert_int_equal(cs_peer_key_from(&unix_addr, &ka), -EAFNOSUPPORT);
}

static struct cs_peer_key key_n(uint32_t n)
{
    struct cs_peer_key k;
    memset(&k, 0, sizeof(k));
    k.family = AF_INET;
    memcpy(k.addr, &n, sizeof(n));
    return k;
}

static void test_peers_table(void **state)
{
    (void)state;
    struct cs_peers t;
    /* A small table, many peers: buckets hold several each. */
    assert_int_equal(cs_peers_init(&t, 10, 42), 0);
    assert_int_equal(t.mask, 63);
    enum { N = 1000 };
    static struct cs_node nodes[N];
    struct cs_peer *peers[N];
    for (uint32_t i = 0; i < N; i++) {
        struct cs_peer_key k = key_n(i);
        assert_null(cs_peers_find(&t, &k));
        peers[i] = cs_peers_get(&t, &k);
        assert_non_null(peers[i]);
        assert_ptr_equal(cs_peers_get(&t, &k), peers[i]); /* found, not added twice */
        cs_list_push(&peers[i]->conns, &nodes[i]);
    }
    assert_int_equal(t.len, N);
    for (uint32_t i = 0; i < N; i++) {
        struct cs_peer_key k = key_n(i);
        assert_ptr_equal(cs_peers_find(&t, &k), peers[i]);
    }
    /* A peer with connections left stays; without, it goes. */
    struct cs_node extra;
    cs_list_push(&peers[7]->conns, &extra);
    cs_list_remove(&peers[7]->conns, &nodes[7]);
    cs_peers_release(&t, peers[7]);
    struct cs_peer_key k7 = key_n(7);
    assert_ptr_equal(cs_peers_find(&t, &k7), peers[7]);
    cs_list_remove(&peers[7]->conns, &extra);
    cs_peers_release(&t, peers[7]);
    assert_null(cs_peers_find(&t, &k7));
    assert_int_equal(t.len, N - 1);
    for (uint32_t i = 0; i < N; i += 2) {
        if (i != 7) {
            cs_list_remove(&peers[i]->conns, &nodes[i]);
            cs_peers_release(&t, peers[i]);
        }
    }
    for (uint32_t i = 0; i < N; i++) {
        struct cs_peer_key k = key_n(i);
        bool gone = i % 2 == 0 || i == 7;
        if (gone) {
            assert_null(cs_peers_find(&t, &k));
        } else {
            assert_ptr_equal(cs_peers_find(&t, &k), peers[i]);
        }
    }
    assert_int_equal(t.len, N / 2 - 1);
    cs_peers_fini(&t); /* frees the peers left: ASan and valgrind would see a leak */
    assert_null(t.buckets);
}

static void test_peers_sizes(void **state)
{
    (void)state;
    struct cs_peers t;
    assert_int_equal(cs_peers_init(&t, 16384, 1), 0);
    assert_int_equal(t.mask, 16383);
    cs_peers_fini(&t);
    assert_int_equal(cs_peers_init(&t, 10000000, 1), 0);
    assert_int_equal(t.mask, 65535);
    cs_peers_fini(&t);
    cs_peers_fini(&t); /* twice: a no-op */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_orders_by_activity),
        cmocka_unit_test(test_peer_keys),
        cmocka_unit_test(test_peers_table),
        cmocka_unit_test(test_peers_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

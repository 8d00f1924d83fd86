/* Unit tests: the binary heap (oracle/pqueue.c), against a plain array as reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "pqueue.h"
#include "test_seed.h"

static void test_empty(void **state)
{
    (void)state;
    struct pqueue q;
    pq_init(&q);
    assert_null(pq_peek(&q));
    assert_null(pq_pop(&q));
    assert_int_equal(pq_len(&q), 0);
    pq_fini(&q);
}

static void test_fifo_among_equal_keys(void **state)
{
    (void)state;
    struct pqueue q;
    pq_init(&q);
    struct pq_node n[5];
    const uint64_t keys[] = {7, 3, 7, 3, 1};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(pq_push(&q, &n[i], keys[i]), 0);
        assert_true(pq_queued(&n[i]));
    }
    const int order[] = {4, 1, 3, 0, 2};
    for (int i = 0; i < 5; i++) {
        struct pq_node *got = pq_pop(&q);
        assert_ptr_equal(got, &n[order[i]]);
        assert_false(pq_queued(got));
    }
    pq_fini(&q);
}

/* Random pushes, pops and removals from the middle; every pop must return the smallest key
 * (earliest pushed among equals) of what the reference holds. */
static void test_random_against_reference(void **state)
{
    (void)state;
    unsigned seed = test_seed("test_random_against_reference");
    enum { N = 2000 };
    static struct pq_node nodes[N];
    static int in_heap[N];
    static uint64_t order[N];
    struct pqueue q;
    pq_init(&q);
    uint64_t pushes = 0;
    for (int round = 0; round < 200000; round++) {
        int i = rand() % N;
        int action = rand() % 3;
        if (!in_heap[i] && action != 2) {
            assert_int_equal(pq_push(&q, &nodes[i], (uint64_t)(rand() % 500)), 0);
            in_heap[i] = 1;
            order[i] = pushes++;
        } else if (in_heap[i] && action == 1) {
            pq_remove(&q, &nodes[i]);
            in_heap[i] = 0;
        } else if (action == 2 && pq_len(&q) > 0) {
            int best = -1;
            for (int j = 0; j < N; j++) {
                if (in_heap[j] && (best < 0 || nodes[j].key < nodes[best].key ||
                                   (nodes[j].key == nodes[best].key && order[j] < order[best]))) {
                    best = j;
                }
            }
            struct pq_node *got = pq_pop(&q);
            if (got != &nodes[best]) {
                fail_msg("seed %u round %d: popped key %llu, expected %llu", seed, round,
                         (unsigned long long)got->key, (unsigned long long)nodes[best].key);
            }
            in_heap[best] = 0;
        }
    }
    size_t left = 0;
    for (int j = 0; j < N; j++) {
        left += (size_t)in_heap[j];
    }
    assert_int_equal(pq_len(&q), left);
    uint64_t prev = 0;
    struct pq_node *n;
    while ((n = pq_pop(&q)) != NULL) {
        assert_true(n->key >= prev);
        prev = n->key;
    }
    pq_fini(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_fifo_among_equal_keys),
        cmocka_unit_test(test_random_against_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

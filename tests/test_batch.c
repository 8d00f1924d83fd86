/* Unit tests: merging concurrent calls into batches and splitting replies (client/batch.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batch.h"
#include "test_seed.h"

#define TS_LIMIT (UINT64_C(1) << 63)

static struct batch_call call(enum batch_kind kind, uint64_t ts, uint64_t max_wait)
{
    struct batch_call c;
    memset(&c, 0, sizeof(c));
    c.kind = kind;
    c.ts_ns = ts;
    c.max_wait_ns = max_wait;
    return c;
}

static void test_fifo_per_kind_and_split(void **state)
{
    (void)state;
    struct batch_queue q;
    memset(&q, 0, sizeof(q));
    struct batch_call a = call(BATCH_TS, 0, 0), x = call(BATCH_COMMIT_TS, 0, 0);
    struct batch_call b = call(BATCH_TS, 0, 0), y = call(BATCH_NOW, 0, 0);
    struct batch_call c = call(BATCH_TS, 0, 0);
    batch_push(&q, &a);
    batch_push(&q, &x);
    batch_push(&q, &b);
    batch_push(&q, &y);
    batch_push(&q, &c);
    assert_int_equal(batch_waiting(&q, BATCH_TS), 3);
    assert_int_equal(batch_waiting(&q, BATCH_COMMIT_TS), 1);

    struct batch bt;
    assert_int_equal(batch_take(&q, BATCH_TS, 2, &bt), 2);
    assert_ptr_equal(bt.calls, &a);
    assert_ptr_equal(a.next, &b);
    assert_null(b.next);
    assert_false(a.queued);
    assert_true(c.queued);
    assert_int_equal(batch_split(&bt, 1000, 2), 0);
    assert_int_equal(a.ts_ns, 1000); /* in the order the calls were made */
    assert_int_equal(b.ts_ns, 1001);

    assert_int_equal(batch_take(&q, BATCH_TS, 2, &bt), 1);
    assert_ptr_equal(bt.calls, &c);
    assert_int_equal(batch_take(&q, BATCH_TS, 2, &bt), 0);
    assert_null(bt.calls);
    assert_int_equal(batch_take(&q, BATCH_COMMIT_TS, 65536, &bt), 1);
    assert_ptr_equal(bt.calls, &x);
    assert_int_equal(batch_take(&q, BATCH_NOW, 1, &bt), 1);
    assert_ptr_equal(bt.calls, &y);
    for (int k = 0; k < BATCH_KINDS; k++) {
        assert_int_equal(batch_waiting(&q, (enum batch_kind)k), 0);
        assert_null(q.head[k]);
        assert_null(q.tail[k]);
    }
}

static void test_waits_merge_on_the_largest(void **state)
{
    (void)state;
    struct batch_queue q;
    memset(&q, 0, sizeof(q));
    struct batch_call w[5] = {
        call(BATCH_WAIT_UNTIL, 500, 1000000), call(BATCH_WAIT_UNTIL, 900, 1000000),
        call(BATCH_WAIT_UNTIL, 700, 1000000), call(BATCH_WAIT_UNTIL, 100, 0),
        call(BATCH_WAIT_UNTIL, 300, 1000000),
    };
    for (int i = 0; i < 5; i++) {
        batch_push(&q, &w[i]);
    }
    struct batch b;
    /* The oldest calls allowing the same wait, whatever the count limit: one wait on the
     * largest of their timestamps, as long as each of them allows. */
    assert_int_equal(batch_take(&q, BATCH_WAIT_UNTIL, 1, &b), 3);
    assert_int_equal(b.wait_ts_ns, 900);
    assert_int_equal(b.max_wait_ns, 1000000);
    /* A call leaving it to the server (0) goes alone: it allows more than the next one. */
    assert_int_equal(batch_take(&q, BATCH_WAIT_UNTIL, 1, &b), 1);
    assert_int_equal(b.wait_ts_ns, 100);
    assert_int_equal(b.max_wait_ns, 0);
    assert_ptr_equal(b.calls, &w[3]);
    assert_int_equal(batch_take(&q, BATCH_WAIT_UNTIL, 1, &b), 1);
    assert_ptr_equal(b.calls, &w[4]);
    assert_int_equal(batch_waiting(&q, BATCH_WAIT_UNTIL), 0);
    /* Commit-waited timestamps: the same rule, and the count limit holds. */
    struct batch_call t[4] = {call(BATCH_COMMIT_TS, 0, 5), call(BATCH_COMMIT_TS, 0, 5),
                              call(BATCH_COMMIT_TS, 0, 5), call(BATCH_COMMIT_TS, 0, 9)};
    for (int i = 0; i < 4; i++) {
        batch_push(&q, &t[i]);
    }
    assert_int_equal(batch_take(&q, BATCH_COMMIT_TS, 2, &b), 2);
    assert_int_equal(b.max_wait_ns, 5);
    assert_int_equal(b.wait_ts_ns, 0);
    assert_int_equal(batch_take(&q, BATCH_COMMIT_TS, 2, &b), 1);
    assert_ptr_equal(b.calls, &t[2]);
    assert_int_equal(batch_take(&q, BATCH_COMMIT_TS, 2, &b), 1);
    assert_int_equal(b.max_wait_ns, 9);
}

/* WaitUntil calls merge while their timestamps stay within 1 us of each other, measured from
 * the smallest taken, whichever way they come. */
static void test_wait_spread(void **state)
{
    (void)state;
    struct batch_queue q;
    memset(&q, 0, sizeof(q));
    struct batch_call w[4] = {call(BATCH_WAIT_UNTIL, 5000, 0), call(BATCH_WAIT_UNTIL, 6000, 0),
                              call(BATCH_WAIT_UNTIL, 4000, 0), call(BATCH_WAIT_UNTIL, 5500, 0)};
    for (int i = 0; i < 4; i++) {
        w[i].seq = (uint64_t)i;
        batch_push(&q, &w[i]);
    }
    struct batch b;
    assert_int_equal(batch_take(&q, BATCH_WAIT_UNTIL, 1, &b), 2); /* 5000 and 6000 */
    assert_int_equal(b.wait_ts_ns, 6000);
    assert_int_equal(batch_take(&q, BATCH_WAIT_UNTIL, 1, &b), 1); /* 4000: 5500 is 1.5 us on */
    assert_int_equal(b.wait_ts_ns, 4000);
    assert_int_equal(batch_take(&q, BATCH_WAIT_UNTIL, 1, &b), 1);
    /* Sent again, calls go back in the order they were made, ahead of later ones. */
    for (int i = 1; i < 4; i++) {
        batch_push(&q, &w[i]);
    }
    batch_requeue(&q, &w[0]);
    assert_int_equal(batch_waiting(&q, BATCH_WAIT_UNTIL), 4);
    assert_ptr_equal(q.head[BATCH_WAIT_UNTIL], &w[0]);
    assert_ptr_equal(q.tail[BATCH_WAIT_UNTIL], &w[3]);
}

static void test_split_refuses_what_is_not_the_batch(void **state)
{
    (void)state;
    struct batch_queue q;
    memset(&q, 0, sizeof(q));
    struct batch_call c[3] = {call(BATCH_TS, 0, 0), call(BATCH_TS, 0, 0), call(BATCH_TS, 0, 0)};
    for (int i = 0; i < 3; i++) {
        batch_push(&q, &c[i]);
    }
    struct batch b;
    assert_int_equal(batch_take(&q, BATCH_TS, 65536, &b), 3);
    assert_int_equal(batch_split(&b, 10, 2), -EPROTO);
    assert_int_equal(batch_split(&b, 10, 4), -EPROTO);
    assert_int_equal(batch_split(&b, TS_LIMIT - 2, 3), -EPROTO); /* would reach 2^63 */
    assert_int_equal(batch_split(&b, TS_LIMIT, 3), -EPROTO);
    assert_int_equal(batch_split(&b, TS_LIMIT - 3, 3), 0); /* the last is 2^63 - 1 */
    assert_int_equal(c[2].ts_ns, TS_LIMIT - 1);
}

static void test_cancel(void **state)
{
    (void)state;
    struct batch_queue q;
    memset(&q, 0, sizeof(q));
    struct batch_call c[4];
    for (int i = 0; i < 4; i++) {
        c[i] = call(BATCH_TS, 0, 0);
        batch_push(&q, &c[i]);
    }
    assert_true(batch_cancel(&q, &c[1]));  /* the middle */
    assert_false(batch_cancel(&q, &c[1])); /* once */
    assert_true(batch_cancel(&q, &c[3]));  /* the tail */
    assert_int_equal(batch_waiting(&q, BATCH_TS), 2);
    struct batch_call d = call(BATCH_TS, 0, 0);
    batch_push(&q, &d);                   /* behind c[2], the new tail */
    assert_true(batch_cancel(&q, &c[0])); /* the head */
    struct batch b;
    assert_int_equal(batch_take(&q, BATCH_TS, 1, &b), 1);
    assert_ptr_equal(b.calls, &c[2]);
    assert_false(batch_cancel(&q, &c[2])); /* in a batch: its reply ends it */
    assert_int_equal(batch_take(&q, BATCH_TS, 10, &b), 1);
    assert_ptr_equal(b.calls, &d);
    assert_null(q.head[BATCH_TS]);
    assert_null(q.tail[BATCH_TS]);
}

/* A random run against a model: every call ends exactly once (in a batch or cancelled), the
 * calls of a kind leave in the order they came, batch sizes keep to the limit, and a batch
 * holds only calls allowing the same wait. */
static void test_random_against_a_model(void **state)
{
    (void)state;
    test_seed("test_random_against_a_model");
    enum { CALLS = 20000 };
    struct batch_call *calls = calloc(CALLS, sizeof(*calls));
    int *ended = calloc(CALLS, sizeof(*ended));
    size_t *order = calloc(CALLS, sizeof(*order)); /* per kind, the sequence number */
    assert_non_null(calls);
    assert_non_null(ended);
    assert_non_null(order);
    size_t next_seq[BATCH_KINDS] = {0}, last_out[BATCH_KINDS] = {0};
    struct batch_queue q;
    memset(&q, 0, sizeof(q));
    size_t pushed = 0, waiting = 0;
    while (pushed < CALLS || waiting > 0) {
        int r = rand() % 10;
        if (r < 5 && pushed < CALLS) {
            struct batch_call *c = &calls[pushed];
            *c = call((enum batch_kind)(rand() % BATCH_KINDS), (uint64_t)(rand() % 1000),
                      (uint64_t)(rand() % 4 == 0));
            order[pushed] = ++next_seq[c->kind];
            batch_push(&q, c);
            pushed++;
            waiting++;
        } else if (r < 6 && pushed > 0) {
            size_t i = (size_t)rand() % pushed;
            bool was = calls[i].queued;
            assert_int_equal(batch_cancel(&q, &calls[i]), was);
            if (was) {
                ended[i]++;
                waiting--;
            }
        } else {
            enum batch_kind k = (enum batch_kind)(rand() % BATCH_KINDS);
            uint32_t max = 1 + (uint32_t)(rand() % 8);
            size_t before = batch_waiting(&q, k);
            struct batch b;
            uint32_t n = batch_take(&q, k, max, &b);
            bool counted = k == BATCH_TS || k == BATCH_COMMIT_TS || k == BATCH_ALONE;
            /* As many as the limit allows, up to the first call allowing another wait. */
            assert_true(n <= (counted && before > max ? max : before));
            assert_true(before == 0 || n >= 1);
            const struct batch_call *left = q.head[k];
            assert_true(left == NULL || left->max_wait_ns != b.max_wait_ns ||
                        (counted && n == max));
            uint32_t seen = 0;
            uint64_t largest = 0;
            for (struct batch_call *c = b.calls; c != NULL; c = c->next, seen++) {
                size_t i = (size_t)(c - calls);
                assert_int_equal(c->kind, k);
                assert_int_equal(c->max_wait_ns, b.max_wait_ns);
                assert_true(order[i] > last_out[k]); /* oldest first, never out of order */
                last_out[k] = order[i];
                ended[i]++;
                largest = c->ts_ns > largest ? c->ts_ns : largest;
            }
            assert_int_equal(seen, n);
            if (k == BATCH_WAIT_UNTIL) {
                assert_int_equal(b.wait_ts_ns, largest);
            }
            waiting -= n;
        }
    }
    for (size_t i = 0; i < CALLS; i++) {
        if (ended[i] != 1) {
            fail_msg("call %zu ended %d times", i, ended[i]);
        }
    }
    free(calls);
    free(ended);
    free(order);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_per_kind_and_split),
        cmocka_unit_test(test_waits_merge_on_the_largest),
        cmocka_unit_test(test_wait_spread),
        cmocka_unit_test(test_split_refuses_what_is_not_the_batch),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_random_against_a_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

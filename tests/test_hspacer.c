/* Unit tests: handshake pacing (oracle/hspacer.c) on a real libuv loop: a turn's budget, steps
 * over it run one turn at a time in order of arrival, a forgotten step never runs, the loop
 * does not block while steps wait, and nothing is left open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "hspacer.h"

#define NODES 5

struct fixture {
    uv_loop_t loop;
    uv_check_t turns; /* counts loop turns */
    uv_timer_t timer;
    unsigned turn;
    struct hspacer p;
    struct hspacer_node nodes[NODES];
    int ran[NODES];         /* the order they ran in: node index, -1 for none */
    unsigned ran_at[NODES]; /* ... and in which turn */
    int n_ran;
    bool take; /* whether run takes its step */
};

static void on_turn(uv_check_t *h)
{
    struct fixture *f = h->data;
    f->turn++;
}

static void run(struct hspacer *p, struct hspacer_node *n)
{
    struct fixture *f = p->data;
    if (f->take) {
        assert_true(hspacer_take(p));
    }
    f->ran[f->n_ran] = (int)(n - f->nodes);
    f->ran_at[f->n_ran] = f->turn;
    f->n_ran++;
}

static int setup(void **state)
{
    struct fixture *f = test_calloc(1, sizeof(*f));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    uv_check_init(&f->loop, &f->turns);
    f->turns.data = f;
    uv_check_start(&f->turns, on_turn); /* active: the loop turns (as a server's listeners keep
                                         * it turning) */
    assert_int_equal(hspacer_init(&f->p, &f->loop, 1, run, f), 0);
    memset(f->ran, -1, sizeof(f->ran));
    f->take = true;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    hspacer_close(&f->p);
    uv_close((uv_handle_t *)&f->turns, NULL);
    while (uv_run(&f->loop, UV_RUN_NOWAIT) != 0) {
    }
    assert_int_equal(uv_loop_close(&f->loop), 0); /* every handle closed */
    test_free(f);
    return 0;
}

static void test_budget_per_turn(void **state)
{
    struct fixture *f = *state;
    uv_run(&f->loop, UV_RUN_NOWAIT); /* a turn starts: the budget is there */
    assert_true(hspacer_take(&f->p));
    assert_false(hspacer_take(&f->p)); /* one a turn */
    assert_false(hspacer_take(&f->p));
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_true(hspacer_take(&f->p)); /* the next turn, again */
}

/* Steps queued in one turn run one a turn after it, first come first: node 0's turn, then 1's. */
static void test_queued_steps_run_in_order_one_a_turn(void **state)
{
    struct fixture *f = *state;
    assert_true(hspacer_take(&f->p)); /* this turn's step is spent */
    for (int i = 0; i < NODES; i++) {
        hspacer_defer(&f->p, &f->nodes[i], false);
    }
    hspacer_defer(&f->p, &f->nodes[0], false); /* once only */
    assert_int_equal(hspacer_waiting(&f->p), NODES);
    assert_int_equal(f->p.deferred, NODES);
    for (int k = 0; k < 3 * NODES && f->n_ran < NODES; k++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
    }
    assert_int_equal(f->n_ran, NODES);
    for (int i = 0; i < NODES; i++) {
        assert_int_equal(f->ran[i], i);
        assert_false(f->nodes[i].queued);
        if (i > 0 && f->ran_at[i] == f->ran_at[i - 1]) {
            fail_msg("steps %d and %d ran in the same turn (%u)", i - 1, i, f->ran_at[i]);
        }
    }
    assert_int_equal(hspacer_waiting(&f->p), 0);
    assert_int_equal(f->p.queue_max, NODES);
}

/* Urgent steps (second steps, whose clients wait) go ahead of the others, first come first
 * among themselves: queued as 0, 1u, 2, 3u, 4 they run as 1, 3, 0, 2, 4. */
static void test_urgent_steps_first(void **state)
{
    struct fixture *f = *state;
    assert_true(hspacer_take(&f->p));
    for (int i = 0; i < NODES; i++) {
        hspacer_defer(&f->p, &f->nodes[i], i % 2 == 1);
    }
    for (int k = 0; k < 3 * NODES && f->n_ran < NODES; k++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
    }
    const int want[NODES] = {1, 3, 0, 2, 4};
    assert_int_equal(f->n_ran, NODES);
    assert_memory_equal(f->ran, want, sizeof(want));
    assert_int_equal(f->p.urgent.len, 0);
    assert_null(f->p.urgent.oldest);
    /* An urgent one after the urgent ones ran still goes first. */
    f->n_ran = 0;
    hspacer_defer(&f->p, &f->nodes[0], false);
    hspacer_defer(&f->p, &f->nodes[1], true);
    hspacer_forget(&f->p, &f->nodes[1]); /* the only urgent one, taken out */
    hspacer_defer(&f->p, &f->nodes[2], true);
    for (int k = 0; k < 6 && f->n_ran < 2; k++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
    }
    assert_int_equal(f->n_ran, 2);
    assert_int_equal(f->ran[0], 2);
    assert_int_equal(f->ran[1], 0);
}

/* Closing forgets the queue: its nodes are no longer queued (their owners may forget them
 * after, safely). */
static void test_close_forgets_the_queue(void **state)
{
    struct fixture *f = *state;
    assert_true(hspacer_take(&f->p));
    hspacer_defer(&f->p, &f->nodes[0], false);
    hspacer_defer(&f->p, &f->nodes[1], true);
    hspacer_close(&f->p);
    assert_false(f->nodes[0].queued);
    assert_false(f->nodes[1].queued);
    assert_int_equal(hspacer_waiting(&f->p), 0);
    hspacer_forget(&f->p, &f->nodes[0]);
    assert_int_equal(hspacer_waiting(&f->p), 0);
}

/* A run that has no step to take (its connection closed) does not use the turn's budget: the
 * next one runs in the same turn. */
static void test_run_without_a_step_leaves_the_budget(void **state)
{
    struct fixture *f = *state;
    f->take = false;
    hspacer_defer(&f->p, &f->nodes[0], false);
    hspacer_defer(&f->p, &f->nodes[1], false);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(f->n_ran, 2);
    assert_int_equal(f->ran_at[0], f->ran_at[1]);
}

static void test_forgotten_step_never_runs(void **state)
{
    struct fixture *f = *state;
    assert_true(hspacer_take(&f->p));
    for (int i = 0; i < 3; i++) {
        hspacer_defer(&f->p, &f->nodes[i], false);
    }
    hspacer_forget(&f->p, &f->nodes[1]); /* the middle */
    hspacer_forget(&f->p, &f->nodes[3]); /* never queued: nothing */
    for (int k = 0; k < 10; k++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
    }
    assert_int_equal(f->n_ran, 2);
    assert_int_equal(f->ran[0], 0);
    assert_int_equal(f->ran[1], 2);
    hspacer_forget(&f->p, &f->nodes[2]); /* ran already: nothing */
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_timer(uv_timer_t *t)
{
    (void)t;
}

/* While steps wait, a turn does not block in the poll (a timer every 2 s is all there is to
 * wait for); once none wait, it does. */
static void test_loop_does_not_block_while_steps_wait(void **state)
{
    struct fixture *f = *state;
    uv_timer_t *timer = &f->timer;
    uv_timer_init(&f->loop, timer);
    uv_timer_start(timer, on_timer, 2000, 2000);
    assert_true(hspacer_take(&f->p));
    hspacer_defer(&f->p, &f->nodes[0], false);
    hspacer_defer(&f->p, &f->nodes[1], false);
    double t0 = mono_s();
    uv_run(&f->loop, UV_RUN_ONCE);
    uv_run(&f->loop, UV_RUN_ONCE);
    double took = mono_s() - t0;
    if (took > 1.0) {
        fail_msg("two turns with steps waiting took %.3f s", took);
    }
    assert_int_equal(f->n_ran, 2);
    uv_timer_start(timer, on_timer, 200, 0);
    t0 = mono_s();
    uv_run(&f->loop, UV_RUN_ONCE); /* nothing waits: this turn sleeps until the timer */
    assert_true(mono_s() - t0 >= 0.15);
    uv_close((uv_handle_t *)timer, NULL);
}

/* The pacer alone does not keep a loop running. */
static void test_does_not_hold_the_loop(void **state)
{
    struct fixture *f = *state;
    uv_unref((uv_handle_t *)&f->turns);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_budget_per_turn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queued_steps_run_in_order_one_a_turn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_urgent_steps_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_forgets_the_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_without_a_step_leaves_the_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forgotten_step_never_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loop_does_not_block_while_steps_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_does_not_hold_the_loop, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

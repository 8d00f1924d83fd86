/*
 * The shared client: the engine on its own thread, fed by many (see shared.h).
 *
 * The hand-off costs no lock. A caller pushes its waiter (on its own stack) onto a lock-free
 * stack and wakes the engine with uv_async_send() when the stack was empty; the engine takes
 * the whole stack at once, oldest first. The engine ends a waiter by storing its reply and then
 * the waiter's state (release); the caller sleeps on the state with a futex, which the engine
 * wakes only when the caller went to sleep.
 */
#include "shared.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <uv.h>

#include "engine.h"

enum waiter_state {
    WAITING = 0,
    SLEEPING = 1, /* on the futex: the engine must wake it */
    DONE = 2,
};

/* A caller's call, on the caller's stack until the engine has ended it. */
struct waiter {
    struct waiter *next;
    const struct oracle_request *req;
    struct oracle_response *out;
    _Atomic uint32_t state;
};

struct shared {
    pthread_t thread;
    uv_loop_t loop;
    uv_async_t wake;
    struct engine *engine;
    _Atomic(struct waiter *) inbox; /* newest first */
    _Atomic bool closing;           /* shared_free() began: no call is taken any more */
    _Atomic bool finish;            /* every caller has left: the engine's thread may end */
    _Atomic size_t callers;         /* in shared_call(): the client is not freed under them */
    bool engine_closed;             /* the engine's thread only */
};

static void futex_wait(_Atomic uint32_t *addr, uint32_t expected)
{
    (void)syscall(SYS_futex, (uint32_t *)(uintptr_t)addr, FUTEX_WAIT_PRIVATE, expected, NULL, NULL,
                  0);
}

static void futex_wake(_Atomic uint32_t *addr)
{
    (void)syscall(SYS_futex, (uint32_t *)(uintptr_t)addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Ends w with r: its reply, then its state; wakes it if it sleeps. w may be gone after the
 * exchange (its caller returns), and the futex word with it: a wake on a word that no one
 * waits on any more wakes no one, and a waiter re-checks its state after every wake. */
static void waiter_end(struct waiter *w, const struct oracle_response *r)
{
    *w->out = *r;
    _Atomic uint32_t *state = &w->state;
    if (atomic_exchange_explicit(state, DONE, memory_order_acq_rel) == SLEEPING) {
        futex_wake(state);
    }
}

static void on_done(const struct oracle_response *r, void *arg)
{
    waiter_end(arg, r);
}

static void fail_waiter(struct waiter *w, const struct oracle_error *err)
{
    struct oracle_response r;
    client_failed_response(&r, w->req->op, err);
    waiter_end(w, &r);
}

/* Takes every waiter handed over, oldest first. */
static struct waiter *take_inbox(struct shared *s)
{
    struct waiter *w = atomic_exchange_explicit(&s->inbox, NULL, memory_order_acquire);
    struct waiter *oldest_first = NULL;
    while (w != NULL) {
        struct waiter *next = w->next;
        w->next = oldest_first;
        oldest_first = w;
        w = next;
    }
    return oldest_first;
}

static void fail_inbox(struct shared *s)
{
    struct oracle_error err;
    client_error(&err, ORACLE_E_CLOSED, false, "the client was freed before the reply came");
    struct waiter *w = take_inbox(s);
    while (w != NULL) {
        struct waiter *next = w->next; /* read before the end: w may be gone after it */
        fail_waiter(w, &err);
        w = next;
    }
}

/* On the engine's thread: takes the calls handed over, or closes. */
static void on_wake(uv_async_t *h)
{
    struct shared *s = h->data;
    if (atomic_load_explicit(&s->closing, memory_order_acquire)) {
        fail_inbox(s);
        if (!s->engine_closed) {
            s->engine_closed = true;
            engine_close(s->engine, NULL, NULL); /* ends its calls, frees itself */
        }
        if (atomic_load(&s->finish)) {
            uv_close((uv_handle_t *)&s->wake, NULL); /* the loop ends once all is closed */
        }
        return;
    }
    struct waiter *w = take_inbox(s);
    while (w != NULL) {
        struct waiter *next = w->next;
        struct oracle_error err;
        if (engine_submit(s->engine, w->req, on_done, w, &err) < 0) {
            fail_waiter(w, &err);
        }
        w = next;
    }
    engine_flush(s->engine);
}

static void *run(void *arg)
{
    struct shared *s = arg;
    uv_run(&s->loop, UV_RUN_DEFAULT);
    return NULL;
}

struct shared *shared_new(const struct client_config *cfg, SSL_CTX *tls, struct oracle_error *err)
{
    struct shared *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        client_error(err, ORACLE_E_NOMEM, false, "out of memory");
        return NULL;
    }
    int rc = uv_loop_init(&s->loop);
    if (rc < 0) {
        free(s);
        client_error(err, ORACLE_E_NOMEM, false, "cannot start the client's loop: %s",
                     uv_strerror(rc));
        return NULL;
    }
    s->engine = engine_new(&s->loop, cfg, tls);
    rc = s->engine == NULL ? UV_ENOMEM : uv_async_init(&s->loop, &s->wake, on_wake);
    if (rc == 0) {
        s->wake.data = s;
        rc = -pthread_create(&s->thread, NULL, run, s);
        if (rc == 0) {
            return s;
        }
        uv_close((uv_handle_t *)&s->wake, NULL);
    }
    if (s->engine != NULL) {
        engine_close(s->engine, NULL, NULL);
    }
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
    free(s);
    client_error(err, ORACLE_E_NOMEM, false, "cannot start the client's thread: %s",
                 uv_strerror(rc));
    return NULL;
}

void shared_free(struct shared *s)
{
    if (s == NULL) {
        return;
    }
    /* Sequentially consistent with the callers' count and look (shared_call()): either this
     * sees a caller counted, or that caller sees closing and touches nothing. */
    atomic_store(&s->closing, true);
    uv_async_send(&s->wake);
    /* The engine's thread ends every call it has or is handed; a caller that came in before
     * closing was seen may still hand one over: wake the thread again until all have left.
     * Only then is the wake handle closed (a caller must never send to a closed one). */
    while (atomic_load(&s->callers) > 0) {
        sched_yield();
        uv_async_send(&s->wake);
    }
    atomic_store(&s->finish, true); /* sequentially consistent, before the last wake */
    uv_async_send(&s->wake);
    pthread_join(s->thread, NULL);
    uv_loop_close(&s->loop);
    free(s);
}

int shared_call(struct shared *s, const struct oracle_request *req, struct oracle_response *out,
                struct oracle_error *err)
{
    atomic_fetch_add(&s->callers, 1); /* sequentially consistent: see shared_free() */
    if (atomic_load(&s->closing)) {
        atomic_fetch_sub_explicit(&s->callers, 1, memory_order_release);
        return client_error(err, ORACLE_E_CLOSED, false, "the client is being freed");
    }
    struct waiter w = {.req = req, .out = out, .state = WAITING};
    struct waiter *head = atomic_load_explicit(&s->inbox, memory_order_relaxed);
    do {
        w.next = head;
    } while (!atomic_compare_exchange_weak_explicit(&s->inbox, &head, &w, memory_order_release,
                                                    memory_order_relaxed));
    if (head == NULL) {
        uv_async_send(&s->wake); /* later ones find it woken already */
    }
    /* No spinning first: a caller spinning takes the CPU the engine's thread needs to answer
     * it, and with many callers on few cores that costs more than a sleep. */
    uint32_t st = WAITING;
    if (atomic_compare_exchange_strong_explicit(&w.state, &st, SLEEPING, memory_order_acq_rel,
                                                memory_order_acquire)) {
        while (atomic_load_explicit(&w.state, memory_order_acquire) != DONE) {
            futex_wait(&w.state, SLEEPING);
        }
    }
    atomic_fetch_sub_explicit(&s->callers, 1, memory_order_release);
    if (out->rc < 0 && err != NULL) {
        *err = out->error;
    } else {
        client_error_clear(err);
    }
    return out->rc;
}

uint64_t shared_max_seen(struct shared *s)
{
    return engine_max_seen(s->engine);
}

void shared_observe(struct shared *s, uint64_t ts_ns)
{
    engine_observe(s->engine, ts_ns);
}

void shared_peer(struct shared *s, char *buf, size_t cap)
{
    engine_peer(s->engine, buf, cap);
}

void shared_counts(struct shared *s, struct oracle_client_counts *out)
{
    engine_counts(s->engine, out);
}

/* The shared client: the engine on its own thread, fed by many (see shared.h). */
#include "shared.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "engine.h"

/* A caller's call, on the caller's stack until the engine has ended it. */
struct waiter {
    struct waiter *next;
    struct shared *s;
    const struct oracle_request *req;
    struct oracle_response *out;
    pthread_cond_t cond;
    bool done;
};

struct shared {
    pthread_t thread;
    uv_loop_t loop;
    uv_async_t wake;
    struct engine *engine;
    pthread_mutex_t lock;
    /* Under lock: */
    struct waiter *inbox_head, *inbox_tail;
    bool closing;
    size_t callers;      /* in shared_call(): the client is not freed under them */
    pthread_cond_t left; /* signalled when the last caller leaves while closing */
    bool engine_closed;  /* the engine's thread only */
};

/* Ends w with r: copies it out and wakes the caller, whose stack w lives on. */
static void waiter_end(struct shared *s, struct waiter *w, const struct oracle_response *r)
{
    pthread_mutex_lock(&s->lock);
    *w->out = *r;
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&s->lock); /* w may be gone from here on */
}

static void on_done(const struct oracle_response *r, void *arg)
{
    struct waiter *w = arg;
    waiter_end(w->s, w, r);
}

static void fail_waiter(struct shared *s, struct waiter *w, const struct oracle_error *err)
{
    struct oracle_response r;
    memset(&r, 0, sizeof(r));
    r.op = w->req->op;
    r.rc = err->rc;
    r.error = *err;
    waiter_end(s, w, &r);
}

static void on_wake_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_engine_closed(void *arg)
{
    struct shared *s = arg;
    uv_close((uv_handle_t *)&s->wake, on_wake_closed);
}

/* On the engine's thread: takes the calls handed over, or closes. */
static void on_wake(uv_async_t *h)
{
    struct shared *s = h->data;
    pthread_mutex_lock(&s->lock);
    struct waiter *w = s->inbox_head;
    s->inbox_head = s->inbox_tail = NULL;
    bool closing = s->closing;
    pthread_mutex_unlock(&s->lock);
    while (w != NULL) {
        struct waiter *next = w->next;
        struct oracle_error err;
        if (closing) {
            client_error(&err, ORACLE_E_CLOSED, false,
                         "the client was freed before the reply came");
            fail_waiter(s, w, &err);
        } else if (engine_submit(s->engine, w->req, on_done, w, &err) < 0) {
            fail_waiter(s, w, &err);
        }
        w = next;
    }
    if (closing) {
        if (!s->engine_closed) {
            s->engine_closed = true;
            engine_close(s->engine, on_engine_closed, s);
        }
        return;
    }
    engine_flush(s->engine);
}

static void *run(void *arg)
{
    struct shared *s = arg;
    uv_run(&s->loop, UV_RUN_DEFAULT);
    return NULL;
}

struct shared *shared_new(const struct client_config *cfg, struct oracle_error *err)
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
    s->engine = engine_new(&s->loop, cfg);
    rc = s->engine == NULL ? UV_ENOMEM : uv_async_init(&s->loop, &s->wake, on_wake);
    if (rc == 0) {
        s->wake.data = s;
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->left, NULL);
        rc = -pthread_create(&s->thread, NULL, run, s);
        if (rc == 0) {
            return s;
        }
        pthread_cond_destroy(&s->left);
        pthread_mutex_destroy(&s->lock);
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
    pthread_mutex_lock(&s->lock);
    s->closing = true;
    pthread_mutex_unlock(&s->lock);
    uv_async_send(&s->wake);
    pthread_join(s->thread, NULL);
    uv_loop_close(&s->loop);
    pthread_mutex_lock(&s->lock);
    while (s->callers > 0) {
        pthread_cond_wait(&s->left, &s->lock); /* they were all answered: they are leaving */
    }
    pthread_mutex_unlock(&s->lock);
    pthread_cond_destroy(&s->left);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int shared_call(struct shared *s, const struct oracle_request *req, struct oracle_response *out,
                struct oracle_error *err)
{
    struct waiter w = {.s = s, .req = req, .out = out};
    pthread_cond_init(&w.cond, NULL);
    pthread_mutex_lock(&s->lock);
    if (s->closing) {
        pthread_mutex_unlock(&s->lock);
        pthread_cond_destroy(&w.cond);
        return client_error(err, ORACLE_E_CLOSED, false, "the client is being freed");
    }
    s->callers++;
    bool first = s->inbox_head == NULL;
    if (s->inbox_tail != NULL) {
        s->inbox_tail->next = &w;
    } else {
        s->inbox_head = &w;
    }
    s->inbox_tail = &w;
    pthread_mutex_unlock(&s->lock);
    if (first) {
        uv_async_send(&s->wake); /* later ones find it woken already */
    }
    pthread_mutex_lock(&s->lock);
    while (!w.done) {
        pthread_cond_wait(&w.cond, &s->lock);
    }
    if (--s->callers == 0 && s->closing) {
        pthread_cond_signal(&s->left);
    }
    pthread_mutex_unlock(&s->lock);
    pthread_cond_destroy(&w.cond);
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
    struct engine_counts n;
    engine_counts(s->engine, &n);
    out->calls = n.calls;
    out->requests = n.requests;
    out->batched = n.batched;
    out->connects = n.connects;
}

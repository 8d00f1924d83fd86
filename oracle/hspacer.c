/* Handshake pacing (see hspacer.h). */
#include "hspacer.h"

#include <string.h>

static void unlink_node(struct hspacer *p, struct hspacer_node *n)
{
    if (n == p->last_urgent) {
        p->last_urgent = n->prev; /* urgent too, or NULL: they come first */
    }
    if (n->prev != NULL) {
        n->prev->next = n->next;
    } else {
        p->head = n->next;
    }
    if (n->next != NULL) {
        n->next->prev = n->prev;
    } else {
        p->tail = n->prev;
    }
    n->prev = n->next = NULL;
    n->queued = false;
    p->queue_len--;
    if (p->head == NULL) {
        uv_idle_stop(&p->idle);
    }
}

/* Nothing to do: only there so that the loop does not block while steps wait. */
static void on_idle(uv_idle_t *h)
{
    (void)h;
}

/* A new turn: the budget again, spent first on the steps that waited longest. */
static void on_prepare(uv_prepare_t *h)
{
    struct hspacer *p = h->data;
    p->used = 0;
    while (p->head != NULL && p->used < p->per_turn) {
        struct hspacer_node *n = p->head;
        unlink_node(p, n);
        p->run(p, n); /* takes its step (hspacer_take), or has none to take any more */
    }
}

int hspacer_init(struct hspacer *p, uv_loop_t *loop, unsigned per_turn, hspacer_run *run,
                 void *data)
{
    memset(p, 0, sizeof(*p));
    p->run = run;
    p->data = data;
    p->per_turn = per_turn > 0 ? per_turn : HSPACER_STEPS_PER_TURN;
    uv_prepare_init(loop, &p->prepare);
    uv_idle_init(loop, &p->idle);
    p->prepare.data = p;
    p->idle.data = p;
    /* Neither keeps the loop alive: the connections waiting do. */
    uv_unref((uv_handle_t *)&p->prepare);
    uv_unref((uv_handle_t *)&p->idle);
    return uv_prepare_start(&p->prepare, on_prepare);
}

bool hspacer_take(struct hspacer *p)
{
    if (p->used >= p->per_turn) {
        return false;
    }
    p->used++;
    return true;
}

void hspacer_defer(struct hspacer *p, struct hspacer_node *n, bool urgent)
{
    if (n->queued) {
        return;
    }
    if (p->head == NULL) {
        uv_idle_start(&p->idle, on_idle);
    }
    n->queued = true;
    /* After prev: the last urgent node (or the head) for an urgent one, else the tail. */
    struct hspacer_node *prev = urgent ? p->last_urgent : p->tail;
    n->prev = prev;
    n->next = prev != NULL ? prev->next : p->head;
    if (prev != NULL) {
        prev->next = n;
    } else {
        p->head = n;
    }
    if (n->next != NULL) {
        n->next->prev = n;
    } else {
        p->tail = n;
    }
    if (urgent) {
        p->last_urgent = n;
    }
    p->deferred++;
    p->queue_len++;
    if (p->queue_len > p->queue_max) {
        p->queue_max = p->queue_len;
    }
}

void hspacer_forget(struct hspacer *p, struct hspacer_node *n)
{
    if (n->queued) {
        unlink_node(p, n);
    }
}

static void closed(struct uvclose *u)
{
    (void)u;
}

void hspacer_close(struct hspacer *p)
{
    while (p->head != NULL) {
        struct hspacer_node *n = p->head;
        p->head = n->next;
        n->prev = n->next = NULL;
        n->queued = false;
    }
    p->tail = p->last_urgent = NULL;
    p->queue_len = 0;
    if (p->run == NULL) {
        return; /* never started */
    }
    uv_handle_t *handles[] = {(uv_handle_t *)&p->prepare, (uv_handle_t *)&p->idle};
    uvclose_all(&p->closer, handles, 2, closed);
}

/* Handshake pacing (see hspacer.h). */
#include "hspacer.h"

#include <string.h>

#include "util.h"

size_t hspacer_waiting(const struct hspacer *p)
{
    return p->urgent.len + p->waiting.len;
}

static struct cs_list *list_of(struct hspacer *p, const struct hspacer_node *n)
{
    return n->urgent ? &p->urgent : &p->waiting;
}

static void unlink_node(struct hspacer *p, struct hspacer_node *n)
{
    cs_list_remove(list_of(p, n), &n->link);
    n->queued = false;
    if (hspacer_waiting(p) == 0) {
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
    while (p->used < p->per_turn) {
        struct cs_list *l = p->urgent.oldest != NULL ? &p->urgent : &p->waiting;
        if (l->oldest == NULL) {
            break;
        }
        struct hspacer_node *n = container_of(l->oldest, struct hspacer_node, link);
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
    if (hspacer_waiting(p) == 0) {
        uv_idle_start(&p->idle, on_idle);
    }
    n->queued = true;
    n->urgent = urgent;
    cs_list_push(list_of(p, n), &n->link);
    p->deferred++;
    if (hspacer_waiting(p) > p->queue_max) {
        p->queue_max = hspacer_waiting(p);
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
    struct cs_list *lists[] = {&p->urgent, &p->waiting};
    for (size_t i = 0; i < 2; i++) {
        while (lists[i]->oldest != NULL) {
            struct hspacer_node *n = container_of(lists[i]->oldest, struct hspacer_node, link);
            cs_list_remove(lists[i], &n->link);
            n->queued = false;
        }
    }
    if (p->run == NULL) {
        return; /* never started */
    }
    uv_handle_t *handles[] = {(uv_handle_t *)&p->prepare, (uv_handle_t *)&p->idle};
    uvclose_all(&p->closer, handles, 2, closed);
}

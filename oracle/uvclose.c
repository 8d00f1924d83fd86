/* Closing libuv handles together (see uvclose.h). */
#include "uvclose.h"

static void on_closed(uv_handle_t *h)
{
    struct uvclose *u = h->data;
    if (--u->left == 0) {
        u->done(u);
    }
}

void uvclose_all(struct uvclose *u, uv_handle_t *const *handles, int n,
                 void (*done)(struct uvclose *u))
{
    u->done = done;
    u->left = 1; /* held until every uv_close is issued: a callback cannot finish early */
    for (int i = 0; i < n; i++) {
        if (!uv_is_closing(handles[i])) {
            u->left++;
            handles[i]->data = u;
            uv_close(handles[i], on_closed);
        }
    }
    if (--u->left == 0) {
        done(u);
    }
}

/* A bump allocator for protobuf-c (see arena.h). */
#include "arena.h"

#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

static void *arena_alloc(void *data, size_t size)
{
    struct arena *a = data;
    size_t align = alignof(max_align_t);
    size_t start = (a->used + align - 1) & ~(align - 1);
    if (start > a->cap || size > a->cap - start) {
        a->failures++;
        return NULL;
    }
    a->used = start + size;
    if (a->used > a->high_water) {
        a->high_water = a->used;
    }
    return a->base + start;
}

static void arena_free(void *data, void *ptr)
{
    /* Everything goes at arena_reset(). */
    (void)data;
    (void)ptr;
}

int arena_init(struct arena *a, size_t cap)
{
    a->base = malloc(cap);
    if (a->base == NULL) {
        return -ENOMEM;
    }
    a->cap = cap;
    a->used = 0;
    a->high_water = 0;
    a->failures = 0;
    a->allocator.alloc = arena_alloc;
    a->allocator.free = arena_free;
    a->allocator.allocator_data = a;
    return 0;
}

void arena_fini(struct arena *a)
{
    free(a->base);
    a->base = NULL;
    a->cap = 0;
}

void arena_reset(struct arena *a)
{
    a->used = 0;
}

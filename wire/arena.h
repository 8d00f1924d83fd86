/*
 * A bump allocator for protobuf-c unpacking: one fixed block, allocations carved from it in
 * order, all released at once by arena_reset(). No malloc on the request path; a request that
 * would need more than the block fails to unpack (BAD_REQUEST) instead of growing memory.
 */
#ifndef ORACLE_ARENA_H
#define ORACLE_ARENA_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

struct arena {
    ProtobufCAllocator allocator; /* pass &arena.allocator to *_unpack() */
    unsigned char *base;
    size_t cap;
    size_t used;
    size_t high_water; /* the most ever used between two resets */
    size_t failures;   /* allocations refused for lack of room */
};

/* Allocates the block (cap bytes). Returns 0 or -ENOMEM. */
int arena_init(struct arena *a, size_t cap);
/* Frees the block. */
void arena_fini(struct arena *a);
/* Releases every allocation at once. */
void arena_reset(struct arena *a);

#endif

/*
 * Descriptor 0 replaced by a pipe while a test closes a zeroed struct (whose fd fields are 0):
 * whether the close left that descriptor alone, as a zeroed struct's close must.
 */
#ifndef TESTS_FD0_STAND_IN_H
#define TESTS_FD0_STAND_IN_H

#include <stdbool.h>

struct fd0_stand_in {
    int saved;   /* the real descriptor 0 */
    int pipe[2]; /* its stand-in is pipe[0] */
};

/* Puts a pipe's read end at descriptor 0 (fails the test if it cannot). */
void fd0_stand_in_begin(struct fd0_stand_in *s);
/* Puts the real descriptor 0 back. Returns whether the stand-in was still open. */
bool fd0_stand_in_end(struct fd0_stand_in *s);

#endif

/*
 * Closing a module's libuv handles together: uv_close each, and one callback once the last is
 * closed. Modules embed a struct uvclose and recover themselves with container_of in done.
 */
#ifndef ORACLE_UVCLOSE_H
#define ORACLE_UVCLOSE_H

#include <uv.h>

struct uvclose {
    int left; /* handles still closing */
    void (*done)(struct uvclose *u);
};

/* Closes the n handles (each must be initialised; those already closing are skipped) and calls
 * done(u) once all are closed: at once, from here, when none is left to close. */
void uvclose_all(struct uvclose *u, uv_handle_t *const *handles, int n,
                 void (*done)(struct uvclose *u));

#endif

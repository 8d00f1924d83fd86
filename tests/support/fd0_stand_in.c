/* Descriptor 0 replaced by a pipe (see fd0_stand_in.h). */
#include "fd0_stand_in.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

void fd0_stand_in_begin(struct fd0_stand_in *s)
{
    s->saved = dup(0);
    assert_true(s->saved >= 0);
    assert_int_equal(pipe(s->pipe), 0);
    assert_int_equal(dup2(s->pipe[0], 0), 0);
}

bool fd0_stand_in_end(struct fd0_stand_in *s)
{
    bool open = fcntl(0, F_GETFD) != -1;
    assert_int_equal(dup2(s->saved, 0), 0);
    close(s->saved);
    close(s->pipe[0]);
    close(s->pipe[1]);
    return open;
}

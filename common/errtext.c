/* Errors as text (see errtext.h). */
#include "errtext.h"

#include <string.h>

#include <uv.h>

const char *err_text(int err)
{
    if (err < -1000) {
        return uv_strerror(err);
    }
    return strerror(err < 0 ? -err : err);
}

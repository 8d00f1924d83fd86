/* systemd readiness notification (see notify.h). */
#include "notify.h"

#include <string.h>
#include <systemd/sd-daemon.h>

#include "log.h"

static void notify(const char *state)
{
    int rc = sd_notify(0, state);
    if (rc < 0) {
        log_warn_errno(rc, "sd_notify(%s)", state);
    } else if (rc > 0) {
        log_debug("sd_notify(%s) sent", state);
    }
}

void notify_ready(void)
{
    notify("READY=1\nSTATUS=serving timestamps");
}

void notify_stopping(void)
{
    notify("STOPPING=1\nSTATUS=draining");
}

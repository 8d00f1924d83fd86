/* The VMClock page on the daemon's side (see vmwatch.h). */
#include "vmwatch.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static int64_t wrapped_read_ns(struct cb_clock *clock, enum cb_clock_id id)
{
    struct vmwatch *w = container_of(clock, struct vmwatch, clock);
    return cb_clock_ns(w->inner, id);
}

static int wrapped_read_marker(struct cb_clock *clock, uint64_t *marker)
{
    struct vmwatch *w = container_of(clock, struct vmwatch, clock);
    return cb_vmclock_marker(&w->vc, marker);
}

int vmwatch_open(struct vmwatch *w, const char *path, struct cb_clock *inner, char *why,
                 size_t why_cap)
{
    memset(w, 0, sizeof(*w));
    w->inner = inner;
    if (path != NULL && strcmp(path, "none") == 0) {
        log_info("VMClock: off (--vmclock none): a live migration would not be seen");
        return 0;
    }
    if (path == NULL) {
        if (access(CB_VMCLOCK_DEFAULT_PATH, F_OK) != 0) {
            log_info("VMClock: %s not present (not a VM that has one): disruptions are seen "
                     "only as clock steps",
                     CB_VMCLOCK_DEFAULT_PATH);
            return 0;
        }
        path = CB_VMCLOCK_DEFAULT_PATH;
    }
    char detail[512];
    int rc = cb_vmclock_open(&w->vc, path, detail, sizeof(detail));
    if (rc < 0) {
        snprintf(why, why_cap,
                 "VMClock: %s%s; --vmclock none runs without it (a live migration would then go "
                 "unseen)",
                 detail,
                 rc == -EACCES ? " (make it readable by oracled, e.g. the udev rule in "
                                 "deploy/udev)"
                               : "");
        return rc;
    }
    w->enabled = true;
    w->clock.read_ns = wrapped_read_ns;
    w->clock.read_marker = wrapped_read_marker;
    vmwatch_poll(w);
    if (w->have_snapshot) {
        log_info("VMClock %s: disruption marker %" PRIu64 ", clock status %s: a change of the "
                 "marker makes the clock DISRUPTED",
                 path, w->last.disruption_marker, cb_vmclock_status_name(w->last.clock_status));
    }
    return 0;
}

struct cb_clock *vmwatch_clock(struct vmwatch *w)
{
    return w->enabled ? &w->clock : w->inner;
}

static void note_flags(uint64_t before, uint64_t now, bool first)
{
    static const struct {
        uint64_t bit;
        const char *what;
    } flags[] = {
        {CB_VMCLOCK_FLAG_DISRUPTION_SOON, "a disruption (maintenance) is expected within a day"},
        {CB_VMCLOCK_FLAG_DISRUPTION_IMMINENT,
         "a disruption (maintenance) is expected within an hour"},
    };
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        bool on = (now & flags[i].bit) != 0;
        bool was = (before & flags[i].bit) != 0;
        if (on && (first || !was)) {
            log_warn("VMClock: %s: the clock will be DISRUPTED then, until chrony has measured "
                     "again",
                     flags[i].what);
        } else if (!on && was && !first) {
            log_info("VMClock: no longer says %s", flags[i].what);
        }
    }
}

bool vmwatch_poll(struct vmwatch *w)
{
    if (!w->enabled) {
        return false;
    }
    struct cb_vmclock_snapshot snap;
    int rc = cb_vmclock_snapshot(&w->vc, &snap);
    if (rc < 0) {
        w->snapshots_failed++;
        if (w->last_error == 0) {
            log_warn("VMClock %s: cannot be read: %s", w->vc.path,
                     rc == -EAGAIN ? "being written at every try" : strerror(-rc));
        }
        w->last_error = rc;
        return false;
    }
    if (w->last_error != 0) {
        log_info("VMClock %s: read again", w->vc.path);
    }
    w->last_error = 0;
    bool first = !w->have_snapshot;
    if (!first && snap.clock_status != w->last.clock_status) {
        log_info("VMClock: clock status %s (was %s)", cb_vmclock_status_name(snap.clock_status),
                 cb_vmclock_status_name(w->last.clock_status));
    }
    note_flags(first ? 0 : w->last.flags, snap.flags, first);
    bool cloned = snap.has_vm_generation_counter && w->have_generation &&
                  snap.vm_generation_counter != w->generation;
    if (cloned) {
        log_warn("VMClock: VM generation counter changed to %" PRIu64 " (was %" PRIu64
                 "): this VM was cloned or restored from a snapshot",
                 snap.vm_generation_counter, w->generation);
    }
    if (snap.has_vm_generation_counter) {
        w->have_generation = true;
        w->generation = snap.vm_generation_counter;
    }
    w->last = snap;
    w->have_snapshot = true;
    return cloned;
}

void vmwatch_close(struct vmwatch *w)
{
    cb_vmclock_close(&w->vc);
    w->enabled = false;
}

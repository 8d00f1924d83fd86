/* The VMClock page on the daemon's side (see vmwatch.h). */
#include "vmwatch.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clockbound.h"
#include "errtext.h"
#include "log.h"
#include "statefile.h"
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

bool vmwatch_kept_differs(struct vmwatch *w, const char *state_dir, bool *have_marker,
                          uint64_t *marker)
{
    *have_marker = false;
    if (!w->enabled || state_dir == NULL) {
        return false;
    }
    snprintf(w->kept_dir, sizeof(w->kept_dir), "%s", state_dir);
    snprintf(w->kept_path, sizeof(w->kept_path), "%s/%s", state_dir, VMWATCH_KEPT_NAME);
    uint64_t now_marker = 0;
    if (cb_vmclock_marker(&w->vc, &now_marker) < 0) {
        log_warn("VMClock: the page is being written: the start counts as a disruption");
        return true;
    }
    *have_marker = true;
    *marker = now_marker;
    char text[64] = "";
    FILE *f = fopen(w->kept_path, "r");
    bool read_ok = f != NULL && fgets(text, sizeof(text), f) != NULL;
    if (f != NULL) {
        fclose(f);
    }
    char *end = NULL;
    errno = 0;
    unsigned long long v = read_ok ? strtoull(text, &end, 10) : 0;
    read_ok = read_ok && errno == 0 && end != text && (*end == '\n' || *end == '\0');
    if (!read_ok) {
        log_warn("VMClock: no disruption marker kept from an earlier run (%s): a migration "
                 "while oracled was not running cannot be ruled out, so the start counts as a "
                 "disruption (DISRUPTED until chrony has measured %d times)",
                 w->kept_path, CB_VMCLOCK_UPDATES);
        return true;
    }
    w->kept = true;
    w->kept_marker = v;
    if (v != now_marker) {
        log_warn("VMClock: disruption marker %" PRIu64 " now, %llu when oracled last ran: the VM "
                 "was disrupted (migrated) while oracled was not running; DISRUPTED until chrony "
                 "has measured %d times",
                 now_marker, v, CB_VMCLOCK_UPDATES);
        return true;
    }
    return false;
}

void vmwatch_keep(struct vmwatch *w, uint64_t marker)
{
    if (!w->enabled || w->kept_dir[0] == '\0' || (w->kept && w->kept_marker == marker)) {
        return;
    }
    char text[32];
    int len = snprintf(text, sizeof(text), "%" PRIu64 "\n", marker);
    const char *why = NULL;
    int rc = 0;
    int dfd = open(w->kept_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        rc = -errno;
        why = "cannot open the state directory";
    } else {
        rc = statefile_replace(dfd, VMWATCH_KEPT_NAME, VMWATCH_KEPT_NAME ".tmp", text, (size_t)len,
                               0600, &why);
        close(dfd);
    }
    if (rc < 0) {
        /* Not kept: the next start counts as a disruption. Safe, only slower; said once. */
        log_warn("VMClock: cannot keep the disruption marker in %s: %s: %s (the next start will "
                 "count as a disruption)",
                 w->kept_path, why, err_text(rc));
        w->kept_dir[0] = '\0';
        return;
    }
    w->kept = true;
    w->kept_marker = marker;
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
                     rc == -EAGAIN ? "being written at every try" : err_text(rc));
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

void vmwatch_stats(const struct vmwatch *w, struct vmwatch_stats *out)
{
    out->enabled = w->enabled;
    out->have_snapshot = w->have_snapshot;
    out->clock_status = w->have_snapshot ? w->last.clock_status : 0;
    out->flags = w->have_snapshot ? w->last.flags : 0;
    out->readable = w->last_error == 0;
}

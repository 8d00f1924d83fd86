/*
 * The VMClock page on the daemon's side (DESIGN.md section 2, "VMClock"): opened at start, its
 * disruption marker read with every clock reading (vmwatch_clock), its status and maintenance
 * flags taken at every chrony poll (vmwatch_poll) for /healthz, /metrics and the log.
 *
 * The marker comparison itself is clockbound's (cb_now: a change is DISRUPTED); this module only
 * makes the readings carry it.
 */
#ifndef ORACLE_VMWATCH_H
#define ORACLE_VMWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "vmclock.h"

/* The file in the state directory that keeps the marker between runs. */
#define VMWATCH_KEPT_NAME "vmclock"

/* What /metrics and /healthz show of the VMClock. */
struct vmwatch_stats {
    bool enabled;       /* a page is open */
    bool have_snapshot; /* the fields below are the last snapshot's */
    unsigned clock_status;
    uint64_t flags;
    bool readable; /* the last snapshot succeeded */
};

struct vmwatch {
    bool enabled;                    /* a VMClock page is open */
    struct cb_vmclock vc;            /* the page */
    struct cb_clock clock;           /* the clocks of `inner`, and the page's marker */
    struct cb_clock *inner;          /* borrowed */
    bool have_snapshot;              /* a snapshot was taken ... */
    struct cb_vmclock_snapshot last; /* ... the last one */
    int last_error;                  /* the last snapshot's negative errno, 0 after a success */
    char kept_dir[256];              /* the state directory ("" none) ... */
    char kept_path[300];             /* ... and STATE_DIR/vmclock: the marker of the last run */
    bool kept;                       /* the file holds ... */
    uint64_t kept_marker;            /* ... this marker */
    bool have_generation;            /* the page has a VM generation counter ... */
    uint64_t generation;             /* ... and this was its value */
    uint64_t snapshots_failed;
};

/*
 * Opens the VMClock for oracled's --vmclock setting: path NULL means CB_VMCLOCK_DEFAULT_PATH
 * when it exists (and nothing when it does not), "none" means nothing. Returns 0 (w->enabled
 * says whether a page is open), or a negative errno with a sentence in why when a page was
 * named, or the default exists, and cannot be used (unreadable, not a VMClock: a bad magic,
 * version or size): the daemon then refuses to start. inner is the clock to wrap.
 */
int vmwatch_open(struct vmwatch *w, const char *path, struct cb_clock *inner, char *why,
                 size_t why_cap);

/*
 * A migration while oracled was down would go unseen (the first reading takes the marker as it
 * finds it), so the marker is kept in STATE_DIR/vmclock between runs: vmwatch_kept_differs()
 * reads it at start and says whether the page's marker now differs, or nothing was kept (a first
 * start, a file unreadable): then the caller treats the start as a disruption (cb_on_disruption),
 * as ClockBound does (it starts with marker 0). vmwatch_keep() writes the marker once the clock
 * is trusted again (the file written to a temporary, fsynced, renamed, the directory fsynced;
 * a few ms on the loop, once per start or disruption). state_dir NULL or no page: neither does
 * anything (vmwatch_kept_differs() says false). *have_marker and *marker get the page's marker as
 * read for the check (false: it could not be read, or no page), for the caller to compare every
 * later reading with (cb_set_marker).
 */
bool vmwatch_kept_differs(struct vmwatch *w, const char *state_dir, bool *have_marker,
                          uint64_t *marker);
void vmwatch_keep(struct vmwatch *w, uint64_t marker);

/* The clock every reading should come from: the wrapped one when a page is open, else inner. */
struct cb_clock *vmwatch_clock(struct vmwatch *w);

/* Takes a snapshot of the page (at each chrony poll) and logs what changed: its clock status,
 * the maintenance flags (disruption soon / imminent), and failures to read it. Returns true when
 * the page's VM generation counter (later kernels: a clone or a restored snapshot, which may
 * leave the disruption marker alone) changed since the last snapshot: a disruption for the
 * caller to report (cb_on_disruption). */
bool vmwatch_poll(struct vmwatch *w);

/* Unmaps and closes. Idempotent; a zeroed struct is safe. */
void vmwatch_close(struct vmwatch *w);

void vmwatch_stats(const struct vmwatch *w, struct vmwatch_stats *out);

#endif

/*
 * The PTP hardware clock's own error bound (DESIGN.md section 2, "The PHC's own error").
 *
 * On EC2 chrony can follow the ENA driver's PTP hardware clock (a `refclock PHC` line,
 * deploy/chrony/ec2-phc.conf). chrony's root delay and dispersion then describe the system clock
 * against the PHC only: the PHC's own error against true time is in neither. The ENA driver
 * publishes it, in ns, as the sysfs attribute /sys/bus/pci/devices/<PCI slot>/phc_error_bound,
 * the slot being the PCI_SLOT_NAME= line of /sys/class/net/<interface>/device/uevent (facts from
 * AWS ClockBound 2.0.2, clock-bound-d/src/phc_utils.rs and chronyd_snapshot_poller.rs, read for
 * the facts only: it adds the value to chrony's bound whenever chrony's reference ID is the PHC
 * refclock's, and fails the poll when the file cannot be read or parsed).
 *
 * The parsing and the rule are pure; cb_phc_open/read/close and cb_phc_path_for_interface are
 * the I/O edge (a pread on an open descriptor at every poll: a sysfs attribute read at offset 0
 * is generated afresh, and nothing is allocated).
 */
#ifndef CLOCKBOUND_PHC_H
#define CLOCKBOUND_PHC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* chrony's reference ID for the first PHC refclock when none is set (refclock.c: the driver
 * name's first three letters and the refclock's index): "PHC0". */
#define CB_PHC_DEFAULT_REFID      UINT32_C(0x50484330)
#define CB_PHC_DEFAULT_REFID_TEXT "PHC0"
/* The attribute holds a decimal number and a newline; more than this is not such a file. */
#define CB_PHC_TEXT_MAX 32
#define CB_PHC_PATH_MAX 256

/*
 * Parses the attribute's text (len bytes, not NUL-terminated): optional spaces, tabs and
 * newlines around an unsigned decimal integer of ns. Returns 0 with *ns set, or:
 *   -ENODATA  nothing but whitespace (an empty file)
 *   -EINVAL   anything else than one decimal integer (a sign other than a lone '-' before
 *             digits, letters, two numbers, a NUL)
 *   -ERANGE   a negative number, or one above INT64_MAX
 * Pure.
 */
int cb_phc_parse(const char *text, size_t len, int64_t *ns);

/*
 * The value of the PCI_SLOT_NAME= line of a uevent file's text (len bytes) into slot (cap bytes,
 * NUL-terminated). Returns 0, -ENOENT when there is no such line, -EINVAL when the value is
 * empty, contains '/' or is "." or "..", or -ENAMETOOLONG. Pure.
 */
int cb_phc_slot_from_uevent(const char *text, size_t len, char *slot, size_t cap);

/*
 * A reference ID as chrony writes it in its configuration (conf.c, the refclock `refid`
 * option): one to four printable ASCII characters other than space, packed big-endian from the
 * top byte, the rest zero ("PHC0" -> 0x50484330, "GPS" -> 0x47505300). Returns 0 or -EINVAL.
 * Pure.
 */
int cb_refid_parse(const char *text, uint32_t *out);
/* What a reference ID given as an option must be (for error messages). */
#define CB_REFID_EXPECT "one to four printable ASCII characters, as chrony's refid (PHC0)"

/* Whether iface can name a Linux network interface: 1 to 15 bytes (IFNAMSIZ - 1), no '/', not
 * "." or "..". The rule cb_phc_path_for_interface applies, for checking a setting early. */
#define CB_PHC_IFACE_MAX 15
bool cb_phc_interface_name_ok(const char *iface);

/* The error bound at a poll, as the poller read it (cb_phc_read), for the state machine. */
struct cb_phc_reading {
    bool configured;        /* a PHC error bound file is set up (--phc-*) */
    uint32_t ref_id;        /* the PHC refclock's reference ID */
    int error;              /* 0, or the negative errno of the read or parse (-ENODATA: empty) */
    int64_t error_bound_ns; /* the value, when error is 0 */
};

/* What the PHC adds to the bound at a poll whose reference ID is ref_id. */
enum cb_phc_verdict {
    CB_PHC_NOT_REFERENCE, /* not configured, or the PHC is not chrony's reference: adds 0 */
    CB_PHC_ADDED,         /* the PHC is the reference and its value is added */
    CB_PHC_UNREADABLE,    /* the PHC is the reference and the file could not be read */
    CB_PHC_EMPTY,         /* ... it was empty */
    CB_PHC_INVALID,       /* ... it did not hold a number */
    CB_PHC_NEGATIVE,      /* ... it held a negative number (or one out of range) */
    CB_PHC_ABSURD,        /* ... it held more than max_bound_ns: no usable bound can include it */
};

/*
 * The rule: when r is configured and ref_id is its reference ID, the value is added, unless the
 * read failed or the value is negative or above max_bound_ns (then the clock is UNKNOWN); any
 * other reference adds nothing, whatever the file says. *add_ns gets what to add (0 unless
 * CB_PHC_ADDED). Pure.
 */
enum cb_phc_verdict cb_phc_judge(const struct cb_phc_reading *r, uint32_t ref_id,
                                 int64_t max_bound_ns, int64_t *add_ns);

/*
 * The largest value read during each of chrony's last CB_PHC_HISTORY_UPDATES reference updates.
 * chrony's estimate of the clock at an update rests on samples of the PHC taken at earlier
 * updates, each as wrong as the PHC was then: a value that falls (the driver re-synchronised
 * its PHC) does not make the samples chrony still uses any better. So the bound takes the
 * largest value of the updates chrony may still be using: sourcestats.c keeps at most 64
 * samples of a source (MAX_SAMPLES), one per update of a refclock's filtered output at most.
 * Pure; a zeroed struct is empty.
 */
#define CB_PHC_HISTORY_UPDATES 64

struct cb_phc_history {
    int n;                                  /* entries in use */
    int head;                               /* the newest entry */
    int64_t ref_ns[CB_PHC_HISTORY_UPDATES]; /* chrony's reference time at the reads */
    int64_t max_ns[CB_PHC_HISTORY_UPDATES]; /* the largest value read during it */
};

/* Takes in a value read (>= 0) at a poll whose reference time is ref_time_ns: into the newest
 * entry if it is the same update, else a new entry (the oldest dropped when full). */
void cb_phc_history_add(struct cb_phc_history *h, int64_t ref_time_ns, int64_t value_ns);

/* The largest value in the history, or -1 when it is empty. */
int64_t cb_phc_history_max(const struct cb_phc_history *h);

/* --- the I/O edge --- */

struct cb_phc {
    int fd; /* -1 when closed */
    char path[CB_PHC_PATH_MAX];
};

/*
 * The ENA driver's attribute for a network interface: reads SYSFS/class/net/IFACE/device/uevent
 * (sysfs_root is "/sys" but for tests) and writes SYSFS/bus/pci/devices/<slot>/phc_error_bound
 * into path (cap bytes). Returns 0, or a negative errno with a sentence in why (why_cap bytes):
 * an interface name that is empty, too long or has a '/', a uevent file that cannot be read or
 * has no PCI_SLOT_NAME (not a PCI device: not ENA).
 */
int cb_phc_path_for_interface(const char *sysfs_root, const char *iface, char *path, size_t cap,
                              char *why, size_t why_cap);

/*
 * Opens path read-only for cb_phc_read. Returns 0, or a negative errno with a sentence in why.
 * A zeroed or closed struct cb_phc has fd 0 or -1: call cb_phc_init first.
 */
void cb_phc_init(struct cb_phc *p);
int cb_phc_open(struct cb_phc *p, const char *path, char *why, size_t why_cap);

/*
 * Opens the file a --phc-interface or --phc-error-bound-file setting names (exactly one of iface
 * and file non-NULL): the interface's attribute under /sys (cb_phc_path_for_interface), or the
 * file itself. Returns 0, or a negative errno with a sentence in why naming the setting.
 */
int cb_phc_open_setting(struct cb_phc *p, const char *iface, const char *file, char *why,
                        size_t why_cap);

/*
 * Reads the value now (one pread at offset 0 of at most CB_PHC_TEXT_MAX bytes, then
 * cb_phc_parse). Returns 0 with *ns, -EBADF when not open, -EIO/-ENODEV... from pread, -EFBIG
 * when the file holds more than CB_PHC_TEXT_MAX bytes, or cb_phc_parse's errors. No allocation.
 */
int cb_phc_read(struct cb_phc *p, int64_t *ns);

/* Fills *out for a poll: configured, ref_id, and the result of cb_phc_read (-EBADF when the
 * file is not open). */
void cb_phc_take(struct cb_phc *p, uint32_t ref_id, struct cb_phc_reading *out);

/* Closes the descriptor. Idempotent; a cb_phc_init'ed struct is safe. */
void cb_phc_close(struct cb_phc *p);

/* A short phrase for a verdict ("the PHC error bound file could not be read", ...). */
const char *cb_phc_verdict_text(enum cb_phc_verdict v);

#endif

/* The PHC's own error bound (see phc.h): a pure parser and rule, and the file as an I/O edge. */
#include "phc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int cb_phc_parse(const char *text, size_t len, int64_t *ns)
{
    size_t i = 0;
    while (i < len && is_space(text[i])) {
        i++;
    }
    size_t end = len;
    while (end > i && is_space(text[end - 1])) {
        end--;
    }
    if (i == end) {
        return -ENODATA;
    }
    bool negative = false;
    if (text[i] == '-' || text[i] == '+') {
        negative = text[i] == '-';
        i++;
    }
    if (i == end) {
        return -EINVAL;
    }
    int64_t v = 0;
    bool overflow = false;
    for (; i < end; i++) {
        char c = text[i];
        if (c < '0' || c > '9') {
            return -EINVAL;
        }
        int64_t d = c - '0';
        if (v > (INT64_MAX - d) / 10) {
            overflow = true;
        } else {
            v = v * 10 + d;
        }
    }
    if (overflow || (negative && v != 0)) {
        return -ERANGE;
    }
    *ns = v;
    return 0;
}

int cb_phc_slot_from_uevent(const char *text, size_t len, char *slot, size_t cap)
{
    static const char key[] = "PCI_SLOT_NAME=";
    const size_t klen = sizeof(key) - 1;
    size_t i = 0;
    while (i < len) {
        size_t eol = i;
        while (eol < len && text[eol] != '\n') {
            eol++;
        }
        if (eol - i >= klen && memcmp(text + i, key, klen) == 0) {
            const char *v = text + i + klen;
            size_t vlen = eol - i - klen;
            if (vlen > 0 && v[vlen - 1] == '\r') {
                vlen--;
            }
            if (vlen == 0 || memchr(v, '/', vlen) != NULL || memchr(v, '\0', vlen) != NULL ||
                (vlen == 1 && v[0] == '.') || (vlen == 2 && v[0] == '.' && v[1] == '.')) {
                return -EINVAL;
            }
            if (vlen >= cap) {
                return -ENAMETOOLONG;
            }
            memcpy(slot, v, vlen);
            slot[vlen] = '\0';
            return 0;
        }
        i = eol + 1;
    }
    return -ENOENT;
}

int cb_refid_parse(const char *text, uint32_t *out)
{
    size_t n = strlen(text);
    if (n == 0 || n > 4) {
        return -EINVAL;
    }
    uint32_t id = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c <= 0x20 || c >= 0x7f) {
            return -EINVAL;
        }
        id |= (uint32_t)c << (24 - 8 * i);
    }
    *out = id;
    return 0;
}

enum cb_phc_verdict cb_phc_judge(const struct cb_phc_reading *r, uint32_t ref_id,
                                 int64_t max_bound_ns, int64_t *add_ns)
{
    *add_ns = 0;
    if (!r->configured || r->ref_id != ref_id) {
        return CB_PHC_NOT_REFERENCE;
    }
    switch (r->error) {
    case 0:
        break;
    case -ENODATA:
        return CB_PHC_EMPTY;
    case -EINVAL:
    case -EFBIG:
        return CB_PHC_INVALID;
    case -ERANGE:
        return CB_PHC_NEGATIVE;
    default:
        return CB_PHC_UNREADABLE;
    }
    if (r->error_bound_ns < 0) {
        return CB_PHC_NEGATIVE;
    }
    if (r->error_bound_ns > max_bound_ns) {
        return CB_PHC_ABSURD;
    }
    *add_ns = r->error_bound_ns;
    return CB_PHC_ADDED;
}

const char *cb_phc_verdict_text(enum cb_phc_verdict v)
{
    switch (v) {
    case CB_PHC_NOT_REFERENCE:
        return "the PHC is not chrony's reference";
    case CB_PHC_ADDED:
        return "the PHC's error bound is added";
    case CB_PHC_UNREADABLE:
        return "the PHC error bound file cannot be read";
    case CB_PHC_EMPTY:
        return "the PHC error bound file is empty";
    case CB_PHC_INVALID:
        return "the PHC error bound file does not hold a number";
    case CB_PHC_NEGATIVE:
        return "the PHC error bound is negative or out of range";
    case CB_PHC_ABSURD:
        return "the PHC error bound is above the max bound";
    }
    return "?";
}

void cb_phc_history_add(struct cb_phc_history *h, int64_t ref_time_ns, int64_t value_ns)
{
    if (h->n > 0 && h->ref_ns[h->head] == ref_time_ns) {
        if (value_ns > h->max_ns[h->head]) {
            h->max_ns[h->head] = value_ns;
        }
        return;
    }
    h->head = h->n == 0 ? 0 : (h->head + 1) % CB_PHC_HISTORY_UPDATES;
    if (h->n < CB_PHC_HISTORY_UPDATES) {
        h->n++;
    }
    h->ref_ns[h->head] = ref_time_ns;
    h->max_ns[h->head] = value_ns;
}

int64_t cb_phc_history_max(const struct cb_phc_history *h)
{
    int64_t m = -1;
    for (int i = 0; i < h->n; i++) {
        int idx = (h->head - i + CB_PHC_HISTORY_UPDATES) % CB_PHC_HISTORY_UPDATES;
        if (h->max_ns[idx] > m) {
            m = h->max_ns[idx];
        }
    }
    return m;
}

/* --- the I/O edge --- */

static int read_small(const char *path, char *buf, size_t cap, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    ssize_t n = read(fd, buf, cap);
    int err = n < 0 ? -errno : 0;
    close(fd);
    if (err < 0) {
        return err;
    }
    *len = (size_t)n;
    return 0;
}

bool cb_phc_interface_name_ok(const char *iface)
{
    size_t len = strlen(iface);
    return len > 0 && len <= CB_PHC_IFACE_MAX && strchr(iface, '/') == NULL &&
           strcmp(iface, ".") != 0 && strcmp(iface, "..") != 0;
}

int cb_phc_path_for_interface(const char *sysfs_root, const char *iface, char *path, size_t cap,
                              char *why, size_t why_cap)
{
    if (!cb_phc_interface_name_ok(iface)) {
        snprintf(why, why_cap, "'%s' is not a network interface name", iface);
        return -EINVAL;
    }
    char uevent[CB_PHC_PATH_MAX];
    int n = snprintf(uevent, sizeof(uevent), "%s/class/net/%s/device/uevent", sysfs_root, iface);
    if (n < 0 || (size_t)n >= sizeof(uevent)) {
        snprintf(why, why_cap, "the sysfs path for %s is too long", iface);
        return -ENAMETOOLONG;
    }
    char text[4096];
    size_t len = 0;
    int rc = read_small(uevent, text, sizeof(text), &len);
    if (rc < 0) {
        snprintf(why, why_cap, "cannot read %s (is %s a network interface?): %s", uevent, iface,
                 strerror(-rc));
        return rc;
    }
    char slot[64];
    rc = cb_phc_slot_from_uevent(text, len, slot, sizeof(slot));
    if (rc < 0) {
        snprintf(why, why_cap,
                 "%s has no usable PCI_SLOT_NAME line: %s is not a PCI device (the ENA driver's "
                 "PHC error bound is published for its PCI device)",
                 uevent, iface);
        return rc;
    }
    n = snprintf(path, cap, "%s/bus/pci/devices/%s/phc_error_bound", sysfs_root, slot);
    if (n < 0 || (size_t)n >= cap) {
        snprintf(why, why_cap, "the PHC error bound path for %s is too long", iface);
        return -ENAMETOOLONG;
    }
    return 0;
}

void cb_phc_init(struct cb_phc *p)
{
    p->fd = -1;
    p->path[0] = '\0';
}

int cb_phc_open(struct cb_phc *p, const char *path, char *why, size_t why_cap)
{
    cb_phc_close(p);
    if (strlen(path) >= sizeof(p->path) || path[0] == '\0') {
        snprintf(why, why_cap, "the PHC error bound path '%s' is empty or too long", path);
        return -ENAMETOOLONG;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = -errno;
        snprintf(why, why_cap, "cannot open the PHC error bound file %s: %s", path, strerror(-err));
        return err;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0 || S_ISDIR(sb.st_mode)) {
        close(fd);
        snprintf(why, why_cap, "the PHC error bound path %s is a directory", path);
        return -EISDIR;
    }
    p->fd = fd;
    snprintf(p->path, sizeof(p->path), "%s", path);
    return 0;
}

int cb_phc_open_setting(struct cb_phc *p, const char *iface, const char *file, char *why,
                        size_t why_cap)
{
    char path[CB_PHC_PATH_MAX];
    char detail[CB_PHC_PATH_MAX + 160];
    if (iface == NULL) {
        return cb_phc_open(p, file, why, why_cap);
    }
    int rc = cb_phc_path_for_interface("/sys", iface, path, sizeof(path), detail, sizeof(detail));
    if (rc == 0) {
        rc = cb_phc_open(p, path, detail, sizeof(detail));
        if (rc < 0) {
            snprintf(why, why_cap,
                     "--phc-interface %s: %s (does this instance type's ENA driver publish "
                     "phc_error_bound? it needs the PTP hardware clock enabled)",
                     iface, detail);
            return rc;
        }
        return 0;
    }
    snprintf(why, why_cap, "--phc-interface %s: %s", iface, detail);
    return rc;
}

int cb_phc_read(struct cb_phc *p, int64_t *ns)
{
    if (p->fd < 0) {
        return -EBADF;
    }
    /* One byte more than the longest accepted text, so a longer file shows itself. */
    char buf[CB_PHC_TEXT_MAX + 1];
    ssize_t n = pread(p->fd, buf, sizeof(buf), 0);
    if (n < 0) {
        return -errno;
    }
    if ((size_t)n > CB_PHC_TEXT_MAX) {
        return -EFBIG;
    }
    return cb_phc_parse(buf, (size_t)n, ns);
}

void cb_phc_take(struct cb_phc *p, uint32_t ref_id, struct cb_phc_reading *out)
{
    out->configured = p->path[0] != '\0';
    out->ref_id = ref_id;
    out->error_bound_ns = 0;
    out->error = out->configured ? cb_phc_read(p, &out->error_bound_ns) : 0;
    bool parse_error = out->error == -ENODATA || out->error == -EINVAL || out->error == -ERANGE;
    if (out->configured && out->error < 0 && !parse_error) {
        /* The device may have gone away and come back (a driver reload): open the path afresh
         * once; if that fails too, the read's error stands. */
        char path[CB_PHC_PATH_MAX];
        char why[CB_PHC_PATH_MAX + 64];
        snprintf(path, sizeof(path), "%s", p->path);
        if (cb_phc_open(p, path, why, sizeof(why)) == 0) {
            out->error = cb_phc_read(p, &out->error_bound_ns);
        }
    }
}

void cb_phc_close(struct cb_phc *p)
{
    if (p->fd >= 0) {
        close(p->fd);
    }
    p->fd = -1;
}

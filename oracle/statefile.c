/* The state file (see statefile.h). */
#include "statefile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define TS_LIMIT (UINT64_C(1) << 63)
#define PREFIX   "oracled-state v1 high_water_ns="

/* CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), bit by bit: the file is tiny. */
static uint32_t crc32_of(const char *data, size_t len)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint8_t)data[i];
        for (int k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

size_t statefile_format(uint64_t high_water_ns, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, PREFIX "%" PRIu64, high_water_ns);
    uint32_t crc = crc32_of(buf, (size_t)n);
    n += snprintf(buf + n, cap - (size_t)n, " crc32=%08" PRIx32 "\n", crc);
    return (size_t)n;
}

static int bad(const char **why, const char *msg)
{
    if (why != NULL) {
        *why = msg;
    }
    return -EBADMSG;
}

int statefile_parse(const char *data, size_t len, uint64_t *high_water_ns, const char **why)
{
    char line[STATEFILE_MAX_LEN + 1];
    if (len == 0) {
        return bad(why, "the file is empty");
    }
    if (len > STATEFILE_MAX_LEN) {
        return bad(why, "the file is longer than any state file");
    }
    if (data[len - 1] != '\n') {
        return bad(why, "the file is truncated (no final newline)");
    }
    memcpy(line, data, len);
    line[len] = '\0';
    size_t plen = strlen(PREFIX);
    if (strncmp(line, PREFIX, plen) != 0) {
        return bad(why, "the file does not start with \"" PREFIX "\"");
    }
    const char *p = line + plen;
    if (*p < '0' || *p > '9') {
        return bad(why, "the high-water mark is not a number");
    }
    char *end = NULL;
    errno = 0;
    unsigned long long h = strtoull(p, &end, 10);
    if (errno != 0 || h >= TS_LIMIT) {
        return bad(why, "the high-water mark is out of range");
    }
    if (strncmp(end, " crc32=", 7) != 0) {
        return bad(why, "the checksum is missing");
    }
    size_t covered = (size_t)(end - line);
    const char *hex = end + 7;
    char *hex_end = NULL;
    unsigned long crc = strtoul(hex, &hex_end, 16);
    if (hex_end != hex + 8 || strcmp(hex_end, "\n") != 0) {
        return bad(why, "the checksum is malformed");
    }
    if ((uint32_t)crc != crc32_of(line, covered)) {
        return bad(why, "the checksum does not match (the file is corrupt)");
    }
    *high_water_ns = (uint64_t)h;
    return 0;
}

int statefile_too_far_ahead(uint64_t high_water_ns, int64_t now_rt_ns, int64_t window_ns,
                            int64_t max_bound_ns)
{
    if (now_rt_ns < 0) {
        return 1;
    }
    uint64_t limit = (uint64_t)now_rt_ns + (uint64_t)window_ns + (uint64_t)max_bound_ns;
    return high_water_ns > limit;
}

static int fail(const char **why, const char *msg, int err)
{
    if (why != NULL) {
        *why = msg;
    }
    return err;
}

/* fsyncs the directory that holds path (path's last component removed): a new entry in it,
 * such as a directory just made, is then on disk before anything is written below it. */
static int fsync_parent(const char *path)
{
    char parent[sizeof(((struct statefile *)NULL)->dir)];
    strcpy(parent, path);
    size_t len = strlen(parent);
    while (len > 1 && parent[len - 1] == '/') {
        parent[--len] = '\0'; /* "a/b/" names b */
    }
    char *slash = strrchr(parent, '/');
    if (slash == NULL) {
        strcpy(parent, ".");
    } else {
        slash[slash == parent ? 1 : 0] = '\0'; /* "/b" -> "/" */
    }
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

int statefile_open(struct statefile *sf, const char *dir, const char **why)
{
    sf->dir_fd = -1;
    sf->lock_fd = -1;
    if (strlen(dir) >= sizeof(sf->dir)) {
        return fail(why, "the state directory's path is too long", -ENAMETOOLONG);
    }
    strcpy(sf->dir, dir);
    if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
        return fail(why, "cannot create the state directory", -errno);
    }
    /* A crash must not lose the directory the state file is about to be written in: its entry
     * in its parent is made durable, at every start (a previous run may have crashed between
     * making it and this). */
    int rc = fsync_parent(dir);
    if (rc < 0) {
        return fail(why, "cannot fsync the directory holding the state directory", rc);
    }
    sf->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sf->dir_fd < 0) {
        return fail(why, "cannot open the state directory", -errno);
    }
    sf->lock_fd = openat(sf->dir_fd, STATEFILE_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (sf->lock_fd < 0) {
        int err = -errno;
        statefile_close(sf);
        return fail(why, "cannot create the lock file", err);
    }
    if (flock(sf->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        int err = -errno;
        statefile_close(sf);
        return fail(why,
                    err == -EWOULDBLOCK ? "another oracled holds the state directory's lock"
                                        : "cannot lock the state directory",
                    err);
    }
    return 0;
}

void statefile_close(struct statefile *sf)
{
    if (sf->lock_fd >= 0) {
        close(sf->lock_fd); /* releases the flock */
        sf->lock_fd = -1;
    }
    if (sf->dir_fd >= 0) {
        close(sf->dir_fd);
        sf->dir_fd = -1;
    }
}

int statefile_read(const struct statefile *sf, uint64_t *high_water_ns, int *fresh,
                   const char **why)
{
    *fresh = 0;
    int fd = openat(sf->dir_fd, STATEFILE_NAME, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            *fresh = 1;
            *high_water_ns = 0;
            return 0;
        }
        return fail(why, "cannot open the state file", -errno);
    }
    char buf[STATEFILE_MAX_LEN + 2];
    ssize_t n = read(fd, buf, sizeof(buf));
    int err = n < 0 ? -errno : 0;
    close(fd);
    if (n < 0) {
        return fail(why, "cannot read the state file", err);
    }
    return statefile_parse(buf, (size_t)n, high_water_ns, why);
}

int statefile_replace(int dir_fd, const char *name, const char *tmp_name, const void *data,
                      size_t len, unsigned mode, const char **why)
{
    int fd = openat(dir_fd, tmp_name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) {
        return fail(why, "cannot create the temporary file", -errno);
    }
    ssize_t n = write(fd, data, len);
    if (n != (ssize_t)len) {
        int err = n < 0 ? -errno : -EIO;
        close(fd);
        return fail(why, "cannot write the temporary file", err);
    }
    if (fsync(fd) < 0) {
        int err = -errno;
        close(fd);
        return fail(why, "cannot fsync the temporary file", err);
    }
    if (close(fd) < 0) {
        return fail(why, "cannot close the temporary file", -errno);
    }
    if (renameat(dir_fd, tmp_name, dir_fd, name) < 0) {
        return fail(why, "cannot rename the temporary file over the file", -errno);
    }
    if (fsync(dir_fd) < 0) {
        return fail(why, "cannot fsync the directory", -errno);
    }
    return 0;
}

int statefile_write(const struct statefile *sf, uint64_t high_water_ns, const char **why)
{
    char buf[STATEFILE_MAX_LEN];
    size_t len = statefile_format(high_water_ns, buf, sizeof(buf));
    return statefile_replace(sf->dir_fd, STATEFILE_NAME, STATEFILE_TMP_NAME, buf, len, 0640, why);
}

/* Start-up checks of the host (see hostcheck.h). */
#include "hostcheck.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "log.h"

const char *hostcheck_clocksource(const char *name, char *buf, size_t cap)
{
    size_t len = strcspn(name, "\n");
    if (len == 3 && strncmp(name, "tsc", 3) == 0) {
        return NULL;
    }
    snprintf(buf, cap,
             "the kernel clocksource is '%.*s', not tsc: every clock reading is a system call "
             "(microseconds instead of ~20 ns), which slows every request and commit-wait "
             "release; see OPERATIONS.md, 'Clocksource'",
             (int)(len > 32 ? 32 : len), name);
    return buf;
}

const char *hostcheck_nofile(uint64_t nofile, uint64_t max_connections,
                             uint64_t http_max_connections, char *buf, size_t cap)
{
    if (nofile >= max_connections + http_max_connections + HOSTCHECK_FD_RESERVE) {
        return NULL;
    }
    snprintf(buf, cap,
             "the file descriptor limit (%llu) is below --max-connections (%llu) plus "
             "--http-max-connections (%llu) plus %d: accepting fails (EMFILE) before those "
             "limits are reached; raise LimitNOFILE (systemd) or ulimit -n",
             (unsigned long long)nofile, (unsigned long long)max_connections,
             (unsigned long long)http_max_connections, HOSTCHECK_FD_RESERVE);
    return buf;
}

/* path with repeated slashes and "." components dropped (".." kept: it depends on links), no
 * trailing slash; false when it does not fit in cap. */
static bool lexical(const char *path, char *out, size_t cap)
{
    size_t n = 0;
    const char *p = path;
    while (*p != '\0') {
        size_t len = strcspn(p, "/");
        bool skip = len == 0 || (len == 1 && p[0] == '.');
        if (!skip) {
            if (n + 1 + len + 1 > cap) {
                return false;
            }
            if (n > 0 || path[0] == '/') {
                out[n++] = '/';
            }
            memcpy(out + n, p, len);
            n += len;
        }
        p += len;
        if (*p == '/') {
            p++;
        }
    }
    if (n == 0 && path[0] == '/') {
        out[n++] = '/';
    }
    out[n] = '\0';
    return true;
}

const char *hostcheck_clockbound_shm(const char *path, char *buf, size_t cap)
{
    char norm[256];
    if (path == NULL || !lexical(path, norm, sizeof(norm))) {
        return NULL;
    }
    if (strcmp(norm, HOSTCHECK_CB1_SHM_PATH) != 0 &&
        strcmp(norm, HOSTCHECK_CB1_SHM_RUN_PATH) != 0) {
        return NULL;
    }
    snprintf(buf, cap,
             "--clockbound-shm %s is ClockBound 1.0's segment path, where its readers expect "
             "format 1: they would read the format-2 segment oracled writes as theirs (the magic "
             "is the same) and misread it, a clock status they do not know (a crash) and no "
             "drift; ClockBound 2.x's readers look for %s: use that path",
             path, HOSTCHECK_CB2_SHM_PATH);
    return buf;
}

void hostcheck_run(uint64_t max_connections, uint64_t http_max_connections,
                   const char *clockbound_shm)
{
    char buf[512];
    const char *advice = hostcheck_clockbound_shm(clockbound_shm, buf, sizeof(buf));
    if (advice != NULL) {
        log_warn("%s", advice);
    }
    FILE *f = fopen(HOSTCHECK_CLOCKSOURCE_PATH, "r");
    if (f != NULL) {
        char name[64];
        if (fgets(name, sizeof(name), f) != NULL) {
            const char *warning = hostcheck_clocksource(name, buf, sizeof(buf));
            if (warning != NULL) {
                log_warn("%s", warning);
            }
        }
        fclose(f);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        const char *warning = hostcheck_nofile((uint64_t)rl.rlim_cur, max_connections,
                                               http_max_connections, buf, sizeof(buf));
        if (warning != NULL) {
            log_warn("%s", warning);
        }
    }
}

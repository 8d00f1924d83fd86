/* /proc readings (see procstat.h). */
#include "procstat.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int procstat_cpu_ns(pid_t pid, int64_t *ns)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -errno;
    }
    char buf[1024];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces and parentheses: count from the last ')'. */
    const char *p = strrchr(buf, ')');
    unsigned long long utime;
    unsigned long long stime;
    if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                            &stime) != 2) {
        return -EINVAL;
    }
    long hz = sysconf(_SC_CLK_TCK);
    *ns = (int64_t)((utime + stime) * (1000000000ULL / (unsigned long long)hz));
    return 0;
}

int procstat_rss_kib(pid_t pid, int64_t *kib)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -errno;
    }
    char line[256];
    int rc = -EINVAL;
    while (fgets(line, sizeof(line), f) != NULL) {
        long long v;
        if (sscanf(line, "VmRSS: %lld kB", &v) == 1) {
            *kib = v;
            rc = 0;
            break;
        }
    }
    fclose(f);
    return rc;
}

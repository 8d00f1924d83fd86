/* /proc readings (see procstat.h). */
#include "procstat.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The start of /proc/PID/NAME, NUL-terminated. Returns 0 or -errno. */
static int read_proc(pid_t pid, const char *name, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -errno;
    }
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    return 0;
}

int procstat_cpu_ns(pid_t pid, int64_t *ns)
{
    char buf[1024];
    int rc = read_proc(pid, "stat", buf, sizeof(buf));
    if (rc < 0) {
        return rc;
    }
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

int procstat_parse_steal(const char *stat_text, uint64_t *total, uint64_t *steal)
{
    /* cpu  user nice system idle iowait irq softirq steal guest guest_nice; guest time is
     * already counted in user and nice. */
    unsigned long long v[8];
    if (strncmp(stat_text, "cpu ", 4) != 0 ||
        sscanf(stat_text + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], &v[6], &v[7]) != 8) {
        return -EINVAL;
    }
    *total = 0;
    for (int i = 0; i < 8; i++) {
        *total += v[i];
    }
    *steal = v[7];
    return 0;
}

int procstat_steal(uint64_t *total, uint64_t *steal)
{
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL) {
        return -errno;
    }
    char line[512];
    char *got = fgets(line, sizeof(line), f);
    fclose(f);
    return got == NULL ? -EINVAL : procstat_parse_steal(line, total, steal);
}

double procstat_steal_percent(uint64_t total0, uint64_t steal0, uint64_t total1, uint64_t steal1)
{
    if (total1 <= total0 || steal1 < steal0) {
        return -1;
    }
    return 100.0 * (double)(steal1 - steal0) / (double)(total1 - total0);
}

int procstat_parse_schedstat(const char *text, int64_t *run_ns, int64_t *wait_ns)
{
    long long run;
    long long wait;
    if (sscanf(text, "%lld %lld", &run, &wait) != 2 || run < 0 || wait < 0) {
        return -EINVAL;
    }
    *run_ns = run;
    *wait_ns = wait;
    return 0;
}

int procstat_schedstat(pid_t pid, int64_t *run_ns, int64_t *wait_ns)
{
    char buf[128];
    int rc = read_proc(pid, "schedstat", buf, sizeof(buf));
    return rc < 0 ? rc : procstat_parse_schedstat(buf, run_ns, wait_ns);
}

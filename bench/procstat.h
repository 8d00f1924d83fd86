/* A process's CPU time and resident memory, from /proc: what the benchmark reports of the
 * server it loads. */
#ifndef ORACLE_PROCSTAT_H
#define ORACLE_PROCSTAT_H

#include <stdint.h>
#include <sys/types.h>

/* User + system CPU time of pid in ns (clock-tick resolution). Returns 0 or -errno. */
int procstat_cpu_ns(pid_t pid, int64_t *ns);
/* VmRSS of pid in KiB. Returns 0 or -errno. */
int procstat_rss_kib(pid_t pid, int64_t *kib);

#endif

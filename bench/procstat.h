/* A process's CPU time, run-queue wait and resident memory, from /proc: what the benchmark
 * reports of the server it loads; and the host's steal time, which says whether a run measured
 * the machine or its hypervisor. */
#ifndef ORACLE_PROCSTAT_H
#define ORACLE_PROCSTAT_H

#include <stdint.h>
#include <sys/types.h>

/* User + system CPU time of pid in ns (clock-tick resolution). Returns 0 or -errno. */
int procstat_cpu_ns(pid_t pid, int64_t *ns);
/* VmRSS of pid in KiB. Returns 0 or -errno. */
int procstat_rss_kib(pid_t pid, int64_t *kib);

/* The aggregate "cpu" line of /proc/stat's text: all its times and the steal among them, in
 * clock ticks. Pure. Returns 0 or -EINVAL. */
int procstat_parse_steal(const char *stat_text, uint64_t *total, uint64_t *steal);
/* The same, read from /proc/stat. Returns 0 or -errno. */
int procstat_steal(uint64_t *total, uint64_t *steal);
/* The share of CPU time stolen between two readings, in %; -1 when no time passed. */
double procstat_steal_percent(uint64_t total0, uint64_t steal0, uint64_t total1, uint64_t steal1);

/* /proc/PID/schedstat's text: the time the thread ran and the time it waited, runnable, for a
 * CPU (in the run queue: preempted or not yet scheduled), in ns. Pure. Returns 0 or -EINVAL. */
int procstat_parse_schedstat(const char *text, int64_t *run_ns, int64_t *wait_ns);
/* The same for pid's main thread (oracled's loop thread), read from /proc. Returns 0 or -errno. */
int procstat_schedstat(pid_t pid, int64_t *run_ns, int64_t *wait_ns);

#endif

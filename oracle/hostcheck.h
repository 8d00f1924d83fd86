/*
 * What the host offers that oracled's speed or capacity depends on, checked once at start and
 * logged as warnings: the kernel's clocksource (anything but tsc makes every clock reading a
 * system call) and the file descriptor limit against --max-connections. The advice functions
 * are pure; hostcheck_run() reads the system and logs.
 */
#ifndef ORACLE_HOSTCHECK_H
#define ORACLE_HOSTCHECK_H

#include <stddef.h>
#include <stdint.h>

/* Where Linux names the current clocksource. */
#define HOSTCHECK_CLOCKSOURCE_PATH \
    "/sys/devices/system/clocksource/clocksource0/current_clocksource"

/* Descriptors oracled needs besides its clients: listeners, chrony, the state file, the loop. */
#define HOSTCHECK_FD_RESERVE 64

/* A warning for the clocksource read from sysfs (trailing newline allowed), or NULL when it is
 * tsc. Writes at most cap bytes into buf. */
const char *hostcheck_clocksource(const char *name, char *buf, size_t cap);

/* A warning when nofile descriptors cannot hold max_connections clients plus the reserve, or
 * NULL. */
const char *hostcheck_nofile(uint64_t nofile, uint64_t max_connections, char *buf, size_t cap);

/* Reads the clocksource and RLIMIT_NOFILE and logs any warning. */
void hostcheck_run(uint64_t max_connections);

#endif

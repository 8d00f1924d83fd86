/*
 * What the host offers that oracled's speed or capacity depends on, checked once at start and
 * logged as warnings: the kernel's clocksource (anything but tsc makes every clock reading a
 * system call) and the file descriptor limit against --max-connections; and a configuration
 * that works but misleads other programs: a ClockBound segment at ClockBound 1.0's path. The
 * advice functions are pure; hostcheck_run() reads the system and logs.
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

/* A warning when nofile descriptors cannot hold max_connections clients and
 * http_max_connections HTTP peers plus the reserve, or NULL. */
const char *hostcheck_nofile(uint64_t nofile, uint64_t max_connections,
                             uint64_t http_max_connections, char *buf, size_t cap);

/*
 * ClockBound's default segment paths (aws/clock-bound; /var/run is /run on Debian, so both
 * spellings name each): 1.0 wrote format 1 at .../shm (main-1.0: clock-bound-client/src/lib.rs
 * and clock-bound-ffi/include/clockbound.h, CLOCKBOUND_SHM_DEFAULT_PATH); 2.x writes format 2
 * at .../shm0 (the same constants in 2.0.2, clock-bound-d/src/lib.rs too; its CHANGELOG: "The
 * default ClockBound shared memory path has changed from /var/run/clockbound/shm to
 * /var/run/clockbound/shm0").
 */
#define HOSTCHECK_CB1_SHM_PATH     "/var/run/clockbound/shm"
#define HOSTCHECK_CB1_SHM_RUN_PATH "/run/clockbound/shm"
#define HOSTCHECK_CB2_SHM_PATH     "/var/run/clockbound/shm0"

/*
 * A warning when --clockbound-shm names ClockBound 1.0's segment path (HOSTCHECK_CB1_SHM_PATH or
 * its /run spelling, with repeated slashes and "." components allowed), else NULL (NULL path:
 * off). oracled writes format 2 there; 1.0's readers open that path and check only the magic,
 * which both formats share, and that the version is not 0, so they take it for their format 1:
 * their clock status lands on format 2's max_drift_ppb (an enum value Rust does not have: a
 * crash) and their drift on the disruption marker's low half (0). Writes at most cap bytes
 * into buf.
 */
const char *hostcheck_clockbound_shm(const char *path, char *buf, size_t cap);

/* Reads the clocksource and RLIMIT_NOFILE and logs any warning, and the advice about
 * clockbound_shm (NULL: off). */
void hostcheck_run(uint64_t max_connections, uint64_t http_max_connections,
                   const char *clockbound_shm);

#endif

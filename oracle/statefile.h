/*
 * The state file (DESIGN.md section 2, "Restarts"): the reserved high-water mark H. No timestamp
 * above the H on disk is ever handed out, so after a crash every new timestamp (which waits for
 * earliest > H) is above every old one.
 *
 * On disk, DIR/state is one line of text, checked by a CRC-32 of what precedes it:
 *
 *   oracled-state v1 high_water_ns=1795620000123456789 crc32=1a2b3c4d\n
 *
 * It is written to DIR/state.tmp, fsynced, renamed over DIR/state, and the directory fsynced.
 * DIR/oracled.lock is flock()ed for the life of the process: a second daemon on the same
 * directory refuses to start. A missing state file is a fresh start; an unreadable, truncated
 * or corrupt one is an error, never a silent reset.
 *
 * The text functions are pure; the rest is file I/O, run off the loop (uv_queue_work) by the
 * server.
 */
#ifndef ORACLE_STATEFILE_H
#define ORACLE_STATEFILE_H

#include <stddef.h>
#include <stdint.h>

#define STATEFILE_NAME              "state"
#define STATEFILE_TMP_NAME          "state.tmp"
#define STATEFILE_LOCK              "oracled.lock"
#define STATEFILE_MAX_LEN           128        /* a longer file is corrupt */
#define STATEFILE_DEFAULT_WINDOW_NS 1000000000 /* H runs this far ahead of latest */

/* Writes the line for H into buf (at least STATEFILE_MAX_LEN). Returns its length. */
size_t statefile_format(uint64_t high_water_ns, char *buf, size_t cap);

/*
 * Parses a state file's bytes. Returns 0 with *high_water_ns set, or -EBADMSG (not the format:
 * truncated, garbage, bad checksum, H >= 2^63) with *why a sentence.
 */
int statefile_parse(const char *data, size_t len, uint64_t *high_water_ns, const char **why);

/*
 * Whether H is too far ahead of this clock to wait for: further than window + max_bound past
 * now_rt_ns (the clock went backwards, or the file came from elsewhere). Pure.
 */
int statefile_too_far_ahead(uint64_t high_water_ns, int64_t now_rt_ns, int64_t window_ns,
                            int64_t max_bound_ns);

struct statefile {
    int dir_fd;  /* the state directory, for the fsync after rename */
    int lock_fd; /* DIR/oracled.lock, flock()ed */
    char dir[256];
};

/*
 * Opens (creating it, mode 0750, if missing) the state directory, fsyncs the directory that holds
 * it (every time: a run may have crashed between making it and its fsync), and locks it. Returns 0,
 * or a negative errno with *why a sentence: -EWOULDBLOCK when another process holds the lock.
 */
int statefile_open(struct statefile *sf, const char *dir, const char **why);

/* Unlocks and closes. */
void statefile_close(struct statefile *sf);

/*
 * Reads H. Returns 0 with *high_water_ns (0 and *fresh = 1 when there is no state file yet), or
 * a negative errno (-EBADMSG: corrupt) with *why a sentence.
 */
int statefile_read(const struct statefile *sf, uint64_t *high_water_ns, int *fresh,
                   const char **why);

/*
 * Makes H durable: statefile_replace() of state through state.tmp. Blocking: call it off the
 * loop. Returns 0 or a negative errno with *why naming the step that failed.
 */
int statefile_write(const struct statefile *sf, uint64_t high_water_ns, const char **why);

/*
 * Replaces the file name in the directory dir_fd by len bytes of data, durably: written to
 * tmp_name (mode, created or truncated), fsynced, renamed over name, the directory fsynced.
 * Blocking. Returns 0 or a negative errno with *why (if non-NULL) a static sentence naming the
 * step that failed.
 */
int statefile_replace(int dir_fd, const char *name, const char *tmp_name, const void *data,
                      size_t len, unsigned mode, const char **why);

#endif

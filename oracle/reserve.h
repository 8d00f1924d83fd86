/*
 * The reservation of timestamps on disk (DESIGN.md section 2, "Restarts"), run on the loop:
 * keeps the durable high-water mark H a window ahead of what is issued, writing the state file
 * off the loop (uv_queue_work) whenever less than half a window is left. The server hands out
 * nothing above the H that is on disk (tsalloc's limit).
 */
#ifndef ORACLE_RESERVE_H
#define ORACLE_RESERVE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "histogram.h"
#include "statefile.h"

struct reserve;
/* Called on the loop when a new H is durable. */
typedef void reserve_cb(struct reserve *r, uint64_t high_water_ns);

struct reserve {
    bool enabled; /* false: no state directory (in-process tests only) */
    struct statefile sf;
    uv_loop_t *loop;
    int64_t window_ns;
    uint64_t h_start;     /* H found at start (0: fresh) */
    uint64_t h_committed; /* the H on disk */
    uint64_t h_writing;   /* the H being written, when writing */
    bool writing;
    int last_error; /* the last write's negative errno, 0 when it succeeded */
    const char *last_why;
    uint64_t writes;
    uint64_t failures;
    struct histogram write_ns; /* how long each write took (write, fsync, rename, fsync dir) */
    reserve_cb *cb;
    void *data; /* the owner's */
    uv_work_t work;
    int work_rc;
    const char *work_why;
    int64_t work_ns;
};

/* What /metrics shows of the reservation. */
struct reserve_stats {
    bool enabled;
    uint64_t h_start;     /* H found at start */
    uint64_t h_committed; /* the H on disk */
    int last_error;       /* the last write's negative errno, 0 when it succeeded */
    uint64_t writes;
    uint64_t failures;
    const struct histogram *write_ns; /* points into the struct reserve */
};

/*
 * Opens and locks dir, reads H, and refuses an H too far ahead of now_rt_ns (window + max
 * bound). Returns 0, or a negative errno with a sentence in why_buf: the lock held elsewhere,
 * a corrupt file, H too far ahead (what to do is in the sentence).
 */
int reserve_open(struct reserve *r, uv_loop_t *loop, const char *dir, int64_t window_ns,
                 int64_t max_bound_ns, int64_t now_rt_ns, reserve_cb *cb, char *why_buf,
                 size_t why_cap);

/* A reservation that never limits anything (no state directory). */
void reserve_disabled(struct reserve *r);

/* Starts writing a new H = max(last_issued, latest) + window when less than half a window is
 * left above that, unless a write is under way. */
void reserve_check(struct reserve *r, uint64_t last_issued, int64_t latest_ns);

/* Unlocks the directory. Call once no write is under way (the loop has stopped). */
void reserve_close(struct reserve *r);

void reserve_stats(const struct reserve *r, struct reserve_stats *out);

#endif

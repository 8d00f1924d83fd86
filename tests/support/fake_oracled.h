/*
 * A scripted fake oracled for the client library's tests: a thread that accepts connections on
 * 127.0.0.1 (port 0) one at a time and treats every request on connection k as script[k] says
 * (the last entry goes on for later connections). Requests are decoded with the daemon's own
 * wire module and kept, so tests can check what the client sent.
 */
#ifndef TESTS_FAKE_ORACLED_H
#define TESTS_FAKE_ORACLED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

enum fake_act {
    FAKE_OK,          /* a correct reply */
    FAKE_GARBAGE,     /* a well-framed message that is no Response */
    FAKE_WRONG_ID,    /* a correct reply with another id */
    FAKE_CLOSE_MID,   /* half a frame, then close */
    FAKE_SILENT,      /* never answer */
    FAKE_OVERSIZED,   /* a length prefix of 70000 */
    FAKE_CLOCK_ERROR, /* Error CLOCK_UNAVAILABLE (retriable), then close, as oracled does */
    FAKE_ID0_ERROR,   /* Error BAD_REQUEST with id 0, then close */
    FAKE_BAD_COUNT,   /* timestamps: one more than asked */
    FAKE_NOT_PAST,    /* commit-wait reply whose earliest does not pass the timestamp */
    FAKE_REVERSE3,    /* correct replies, three requests at a time, in reverse order */
    FAKE_DRIBBLE,     /* a correct reply written one byte at a time */
    FAKE_OK_CLOSE,    /* a correct reply, then close (an idle timeout, say) */
    FAKE_SHUTDOWN,    /* Error SHUTTING_DOWN to the first request, then close */
    FAKE_PADDED,      /* a correct reply with its id field repeated 5000 times (valid protobuf) */
    FAKE_SLOW,        /* a correct reply after 30 ms (calls pile up behind it meanwhile) */
    FAKE_WAIT_LIMIT,  /* as FAKE_SLOW, but a WaitUntil above FAKE_WAIT_LIMIT_NS is WAIT_TOO_LONG
                         (retriable, as oracled sends it) */
    FAKE_SLOW_CLOSE,  /* no reply: 50 ms after the first request, close */
};

#define FAKE_SCRIPT_MAX    8
#define FAKE_WAIT_LIMIT_NS UINT64_C(1000000)
#define FAKE_REQUESTS_MAX  64

struct fake_oracled {
    int listen_fd;
    uint16_t port;
    pthread_t thread;
    enum fake_act script[FAKE_SCRIPT_MAX];
    size_t script_len;
    uint64_t next_ts; /* the next timestamp FAKE_OK hands out */
    pthread_mutex_t lock;
    atomic_bool stop;
    /* Under lock: */
    size_t connections; /* accepted so far */
    struct request requests[FAKE_REQUESTS_MAX];
    size_t n_requests;
};

/* Listens and starts the thread. Returns 0 or a negative errno. */
int fake_oracled_start(struct fake_oracled *f, const enum fake_act *script, size_t len);
/* Stops the thread and closes everything. */
void fake_oracled_stop(struct fake_oracled *f);
/* "127.0.0.1:PORT" into buf. */
void fake_oracled_addr(const struct fake_oracled *f, char *buf, size_t cap);
size_t fake_oracled_connections(struct fake_oracled *f);
/* The i-th request received (0-based); false when there are not that many. */
bool fake_oracled_request(struct fake_oracled *f, size_t i, struct request *out);

#endif

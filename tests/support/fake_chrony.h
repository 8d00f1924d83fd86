/*
 * A scriptable fake chronyd for tests: answers cmdmon tracking requests on a UDP or unix datagram
 * socket with whatever the script says, including what a real chronyd never sends: any leap
 * status, reference ID or time, exact floats, a wrong sequence number, a short, long or garbage
 * reply, or no reply at all.
 *
 * Each request is checked (104 bytes, version 6, request type, tracking command, zero padding);
 * a bad request is counted and not answered, so tests also prove the client's encoder is right.
 * NTPDATA requests (command 57) are checked as strictly (152 bytes, an IPv4 or IPv6 address with
 * zero padding) and answered about the address asked for, with the upstream_* fields below.
 */
#ifndef TESTS_FAKE_CHRONY_H
#define TESTS_FAKE_CHRONY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chrony_client.h"
#include "chrony_proto.h"

enum fake_chrony_mode {
    FAKE_CHRONY_ANSWER,  /* a reply built from the fields below, then mangled as asked */
    FAKE_CHRONY_SILENT,  /* read the request, send nothing */
    FAKE_CHRONY_GARBAGE, /* reply_len pseudo-random bytes */
};

struct fake_chrony_script {
    enum fake_chrony_mode mode;
    /* The tracking report. Floats are raw chrony floats (see fake_chrony_float()). */
    uint32_t ref_id;
    uint16_t addr_family;
    uint8_t addr[16];
    uint16_t stratum;
    uint16_t leap;
    uint32_t ref_sec_high, ref_sec_low, ref_nsec;
    uint32_t current_correction_s, last_offset_s, rms_offset_s, freq_ppm, resid_freq_ppm, skew_ppm,
        root_delay_s, root_dispersion_s, last_update_interval_s;
    /* Header fields and mangling. */
    uint8_t version;     /* 6 */
    uint8_t pkt_type;    /* 2 */
    uint16_t command;    /* 33 */
    uint16_t reply_type; /* 5 */
    uint16_t status;     /* 0 */
    uint32_t seq_xor;    /* nonzero: the echoed sequence is xored with it */
    size_t reply_len;    /* bytes sent: 104, or shorter/longer (zero-padded) */
    int patch_offset;    /* >= 0: that byte of the reply is set to patch_value */
    uint8_t patch_value;
    unsigned answer_after;  /* stay silent for this many requests first */
    unsigned answer_limit;  /* nonzero: answer only this many, then fall silent */
    unsigned garbage_first; /* requests up to this count (over the fake's life) get garbage */
    bool other_port;        /* UDP: send the reply from another socket (another source port) */
    /* NTPDATA replies (chrony's report about one NTP source; layout in chrony_proto.h). Of the
     * fields above only mode applies to them (silent, garbage); the counts, answer_after,
     * answer_limit and garbage_first are about tracking requests alone. */
    uint32_t upstream_ref_id; /* the server's own reference ID: 0x47505300 "GPS" */
    uint8_t upstream_stratum; /* 1 */
    uint8_t upstream_leap;    /* 0 */
    uint8_t upstream_mode;    /* 4 (server) */
    uint16_t ntpdata_status;  /* 0; nonzero: a bare 28-byte header with that status, as chronyd
                               * sends (2, unauthorised: what chronyd answers over UDP) */
    uint32_t ntpdata_seq_xor; /* nonzero: the echoed sequence is xored with it */
    size_t ntpdata_reply_len; /* bytes sent: 152, or shorter/longer (zero-padded) */
    int ntpdata_patch_offset; /* >= 0: that byte of the reply is set to ntpdata_patch_value */
    uint8_t ntpdata_patch_value;
    bool ntpdata_other_addr; /* report about another address (the last address byte + 1) */
    bool ntpdata_silent;     /* answer no NTPDATA request (tracking ones as scripted) */
    /* RESET_SOURCES (66) and BURST (3): a bare 28-byte header with this status, 2
     * (unauthorised) by default, as chronyd answers over UDP; 0 as on its unix socket. */
    uint16_t reset_status;
};

/* Encodes a double as a chrony float the way chronyd does. */
uint32_t fake_chrony_float(double x);

/* A healthy reply: synchronised to 127.0.0.1 at stratum 2, reference time ref_time_ns, small
 * delay and dispersion, zero correction, update interval 1/16 s. */
void fake_chrony_script_default(struct fake_chrony_script *s, int64_t ref_time_ns);

/* Called for each well-formed tracking request, with the fake's lock held, before it is answered:
 * may rewrite s, a copy of the script used for this one reply (the fake's own is left alone).
 * request is the request's number over the fake's life, from 1. */
typedef void fake_chrony_refresh_fn(void *arg, unsigned request, struct fake_chrony_script *s);

/* Builds the reply to a request with the given sequence into buf (at least reply_len bytes,
 * and at least CHRONY_TRACKING_LEN). Returns the length to send. */
size_t fake_chrony_build_reply(const struct fake_chrony_script *s, uint32_t sequence, uint8_t *buf,
                               size_t cap);

/* Builds the NTPDATA reply to a request with the given sequence about (family, addr) (16 bytes)
 * into buf (cap at least ntpdata_reply_len and CHRONY_NTPDATA_LEN). Returns the length to send. */
size_t fake_chrony_build_ntpdata_reply(const struct fake_chrony_script *s, uint32_t sequence,
                                       uint16_t family, const uint8_t *addr, uint8_t *buf,
                                       size_t cap);

struct fake_chrony {
    int fd;
    char path[108]; /* unix socket path ("" for UDP); removed in fake_chrony_free() */
    uint16_t port;  /* UDP port bound on 127.0.0.1 */
    pthread_mutex_t lock;
    struct fake_chrony_script script;
    fake_chrony_refresh_fn *refresh; /* NULL, or see fake_chrony_set_refresh() */
    void *refresh_arg;
    unsigned requests;           /* well-formed tracking requests seen */
    unsigned bad_requests;       /* malformed requests seen (not answered) */
    unsigned other_port_replies; /* replies sent from another port (script.other_port) */
    uint32_t last_sequence;
    uint16_t last_attempt;
    uint32_t sequences[16]; /* the first 16 sequence numbers seen */
    pthread_t thread;
    bool running;
    int stop_pipe[2];
    unsigned ntpdata_requests;    /* well-formed NTPDATA requests seen (not in requests) */
    unsigned reset_requests;      /* well-formed RESET_SOURCES requests seen (not in requests) */
    unsigned burst_requests;      /* ... BURST */
    uint16_t last_ntpdata_family; /* ... and the address the last one asked about */
    uint8_t last_ntpdata_addr[16];
    uint32_t last_ntpdata_sequence;
};

/* Binds 127.0.0.1 on an ephemeral port (or port, when nonzero). NULL on failure. */
struct fake_chrony *fake_chrony_new_udp(uint16_t port);
/* The client's address of a fake on UDP 127.0.0.1:port. */
struct chrony_addr fake_chrony_udp_addr(uint16_t port);
/* Binds a unix datagram socket at path. NULL on failure. */
struct fake_chrony *fake_chrony_new_unix(const char *path);
/* Stops the thread (if any), closes, removes the unix socket file. NULL is a no-op. */
void fake_chrony_free(struct fake_chrony *f);

/* Replaces the script (thread-safe). */
void fake_chrony_set(struct fake_chrony *f, const struct fake_chrony_script *s);
/* Has fn (NULL: none) fill in the script of every reply from now on, at the moment the request
 * is handled: a fake whose answers depend on the time. arg is borrowed until the fake is freed
 * or the hook replaced. Thread-safe. */
void fake_chrony_set_refresh(struct fake_chrony *f, fake_chrony_refresh_fn *fn, void *arg);

/* Waits up to timeout_ms for one request and handles it. Returns 1 if a request was read, 0 on
 * timeout, negative errno on error. */
int fake_chrony_serve_one(struct fake_chrony *f, int timeout_ms);

/* Serves in a background thread until fake_chrony_free(). Returns 0 or a negative errno. */
int fake_chrony_start(struct fake_chrony *f);

/* Snapshot of the counters (thread-safe). */
unsigned fake_chrony_requests(struct fake_chrony *f);
unsigned fake_chrony_ntpdata_requests(struct fake_chrony *f);

#endif

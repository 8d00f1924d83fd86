/*
 * chrony cmdmon client: the socket edge of clockbound. Sends tracking requests over UDP (chronyd's
 * cmdport, default 127.0.0.1:323) or a unix datagram socket (chronyd's bindcmdaddress path) and
 * validates the replies with chrony_proto.
 *
 * The socket is non-blocking. A server drives it from its event loop: poll the fd for reading,
 * call chrony_client_send() on its poll timer and chrony_client_recv() when readable, and resend
 * (a fresh sequence number each time) when a reply is late. chrony_client_query() does the same
 * with poll(2) for command-line tools.
 *
 * NTPDATA requests (chrony's report about one NTP source and its server) go over the same socket
 * with their own sequence number: chrony_client_send_ntpdata(), then chrony_client_recv_reply(),
 * which tells the kinds of reply apart. chronyd 4.3 answers NTPDATA only on its unix socket
 * (over UDP: "unauthorised"; see chrony_proto.h).
 *
 * RESET_SOURCES and BURST (what AWS ClockBound asks of chronyd after a clock disruption: drop
 * every sample, then sample every source again at once) go over the same socket too, each with
 * its own sequence number: chrony_client_send_reset_sources(), chrony_client_send_burst(), then
 * chrony_client_recv_reply(). chronyd 4.3 carries them out only on its unix socket; over UDP it
 * answers "unauthorised" and does nothing (see chrony_proto.h).
 */
#ifndef CLOCKBOUND_CHRONY_CLIENT_H
#define CLOCKBOUND_CHRONY_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "chrony_proto.h"
#include "clock.h"
#include "sample.h"

#define CHRONY_DEFAULT_PORT    323
#define CHRONY_DEFAULT_ADDRESS "udp:127.0.0.1:323"
#define CHRONY_HOST_MAX        256
#define CHRONY_PATH_MAX        108 /* sizeof(struct sockaddr_un.sun_path) on Linux */

enum chrony_transport {
    CHRONY_TRANSPORT_UDP,
    CHRONY_TRANSPORT_UNIX,
};

struct chrony_addr {
    enum chrony_transport transport;
    char host[CHRONY_HOST_MAX]; /* UDP: host name or address, no brackets */
    uint16_t port;              /* UDP */
    char path[CHRONY_PATH_MAX]; /* unix: chronyd's socket, NUL-terminated */
};

/*
 * Parses "udp:HOST:PORT", "udp:HOST" (port 323), "udp:[V6ADDR]:PORT" or "unix:PATH". Returns 0,
 * or -EINVAL (unknown form, bad port) / -ENAMETOOLONG (host or path too long), with *why saying
 * which.
 */
int chrony_addr_parse(const char *text, struct chrony_addr *out, const char **why);

/* Writes the address in the form chrony_addr_parse() reads. Returns snprintf's result. */
int chrony_addr_format(const struct chrony_addr *a, char *buf, size_t len);

/* The --chrony setting of a program: parses value into *out and its text into text. Returns 0,
 * or -EINVAL with the sentence "invalid --chrony 'VALUE': why" in why_buf. */
int chrony_addr_setting(const char *value, struct chrony_addr *out, char *text, size_t text_len,
                        char *why_buf, size_t why_len);

struct chrony_client;

/*
 * Opens a non-blocking datagram socket connected to a. A host name resolving to several
 * addresses gets its first IPv4 address (chronyd's default command addresses are 127.0.0.1 and
 * ::1), else its first IPv6 one. For unix sockets it binds its own socket next to chronyd's
 * (chronyd replies only to a bound client), named clockbound.PID.RANDOM.sock, and removes it in
 * chrony_client_free(). Every send and reply is timed with clock (borrowed; must outlive the
 * client). Returns NULL on failure with *err a negative errno (-EADDRNOTAVAIL: the host did
 * not resolve). Caller owns the result, free with chrony_client_free().
 */
struct chrony_client *chrony_client_new(const struct chrony_addr *a, struct cb_clock *clock,
                                        int *err);

/* Closes the socket and removes the client's own unix socket file. NULL is a no-op. */
void chrony_client_free(struct chrony_client *c);

/* The socket, for the caller's event loop. Borrowed: valid until chrony_client_free(). */
int chrony_client_fd(const struct chrony_client *c);

/* The client's own unix socket path ("" for UDP), for a signal handler that must remove it.
 * Borrowed: valid until chrony_client_free(). */
const char *chrony_client_local_path(const struct chrony_client *c);

/*
 * Takes a paired clock reading (m0 and t_query of DESIGN.md section 2), then sends a tracking
 * request with a fresh random sequence number; replies to earlier requests are ignored from now
 * on. attempt is the 0-based resend count chrony logs. Returns 0 or a negative errno from
 * send(2) (-ECONNREFUSED: nothing listens there, reported by a previous send).
 */
int chrony_client_send(struct chrony_client *c, uint16_t attempt);

/*
 * Reads one datagram. Returns 0 for a valid reply to the latest request, with *out holding the
 * reply, the reading taken before that request was sent, and CLOCK_REALTIME read just now.
 * Otherwise: -EAGAIN when nothing is waiting; -ESTALE for a reply to an older request or any
 * NTPDATA, RESET_SOURCES or BURST reply (drop it, keep waiting; a client that sends those reads
 * with chrony_client_recv_reply() instead); -EMSGSIZE for an over-long datagram; a negative errno
 * from recv(2); or a chrony_decode_tracking_reply() error, with *why saying what was wrong.
 */
int chrony_client_recv(struct chrony_client *c, struct cb_poll *out, const char **why);

/*
 * Sends an NTPDATA request about the NTP source at (family, addr) (CHRONY_ADDR_INET4 with the
 * address in addr[0..3], or CHRONY_ADDR_INET6; 16 bytes are read) with a fresh random sequence
 * number of its own: the pending tracking request, its sequence number and its clock reading are
 * untouched. A reply to an earlier NTPDATA request is ignored from now on. Returns 0,
 * -EAFNOSUPPORT for another family, or a negative errno from send(2).
 */
int chrony_client_send_ntpdata(struct chrony_client *c, uint16_t family, const uint8_t *addr,
                               uint16_t attempt);

/*
 * Sends a RESET_SOURCES request (chronyd drops all samples of all sources and forgets its
 * reference; chrony >= 4.0) with a fresh random sequence number of its own: no other pending
 * request is touched. A reply to an earlier RESET_SOURCES request is ignored from now on.
 * Returns 0 or a negative errno from send(2).
 */
int chrony_client_send_reset_sources(struct chrony_client *c, uint16_t attempt);

/*
 * Sends a BURST request for every source (chronyd samples each one every 2 s at most until
 * n_good good samples or n_total requests; ClockBound sends CHRONY_BURST_GOOD_SAMPLES and
 * CHRONY_BURST_TOTAL_SAMPLES) with a fresh random sequence number of its own, as
 * chrony_client_send_reset_sources(). Returns 0, -EINVAL unless 1 <= n_good <= n_total (nothing
 * sent), or a negative errno from send(2).
 */
int chrony_client_send_burst(struct chrony_client *c, int32_t n_good, int32_t n_total,
                             uint16_t attempt);

/* What a datagram from chronyd was (chrony_client_recv_reply()). */
enum chrony_reply_kind {
    CHRONY_REPLY_TRACKING,      /* a tracking reply, or anything that is none of the below */
    CHRONY_REPLY_NTPDATA,       /* a reply whose command field is NTPDATA (57) */
    CHRONY_REPLY_RESET_SOURCES, /* ... RESET_SOURCES (66): a bare header, nothing to read */
    CHRONY_REPLY_BURST,         /* ... BURST (3): a bare header, nothing to read */
};

struct chrony_reply {
    enum chrony_reply_kind kind;   /* set whenever a datagram was read, valid or not */
    struct cb_poll poll;           /* CHRONY_REPLY_TRACKING, on success: as chrony_client_recv() */
    struct chrony_ntpdata ntpdata; /* CHRONY_REPLY_NTPDATA, on success */
};

/*
 * Reads one datagram and decodes it as what it claims to be (its command field). Returns 0 with
 * out->kind saying which reply it was, or a negative errno with out->kind saying whose failure it
 * is (a datagram that is neither an NTPDATA, a RESET_SOURCES nor a BURST reply is the tracking
 * request's business, exactly as for chrony_client_recv()): -EAGAIN when nothing is waiting;
 * -ESTALE for a reply to an older request of its kind, or a reply of a kind none is awaited of
 * (drop it, keep waiting); or the decoder's error, with *why saying what was wrong (-EREMOTEIO
 * "unauthorised" for NTPDATA, RESET_SOURCES or BURST over UDP, "no such source" for a BURST to a
 * chronyd without sources). Only a CHRONY_REPLY_TRACKING success fills out->poll, only a
 * CHRONY_REPLY_NTPDATA one out->ntpdata; a RESET_SOURCES or BURST success (0) means chronyd did
 * it. Any reply but a stale one ends the wait for its request: a duplicate is -ESTALE.
 */
int chrony_client_recv_reply(struct chrony_client *c, struct chrony_reply *out, const char **why);

struct chrony_query_opts {
    int64_t timeout_ns; /* per attempt, >= 1 ms */
    int attempts;       /* total tries, each with a fresh sequence number, >= 1 */
};

#define CHRONY_QUERY_DEFAULT_TIMEOUT_NS 200000000
#define CHRONY_QUERY_DEFAULT_ATTEMPTS   3

/*
 * Blocking query for tools: for each attempt, sends and waits up to timeout_ns for a valid
 * reply; a malformed reply or a refusal ends that attempt and the next one starts at once.
 * Returns 0 with *out filled; -ETIMEDOUT when no attempt got an answer; -EINVAL for bad opts;
 * or the last attempt's error (refused, malformed reply), with *why a sentence.
 */
int chrony_client_query(struct chrony_client *c, const struct chrony_query_opts *opts,
                        struct cb_poll *out, const char **why);

/*
 * Blocking NTPDATA query for tools, as chrony_client_query() (tracking replies are ignored):
 * returns 0 with *out filled, -ETIMEDOUT, -EINVAL for bad opts, -EAFNOSUPPORT, or the last
 * attempt's error (-EREMOTEIO "unauthorised" over UDP, "no such source"), with *why a sentence.
 */
int chrony_client_query_ntpdata(struct chrony_client *c, const struct chrony_query_opts *opts,
                                uint16_t family, const uint8_t *addr, struct chrony_ntpdata *out,
                                const char **why);

/*
 * Blocking RESET_SOURCES and BURST for tools (tracking and NTPDATA replies are ignored): each
 * attempt sends the request with a fresh sequence number and waits up to timeout_ns. Returns 0
 * when chronyd did it; -EREMOTEIO at once when it refused ("unauthorised" over UDP, "no such
 * source"), since asking again gets the same answer; -ETIMEDOUT when no attempt was answered;
 * -EINVAL for bad opts or counts; or the last attempt's error (a malformed reply), with *why a
 * sentence. A lost reply means chronyd may have done it twice: harmless for both (a second reset
 * drops the few samples taken since the first; a burst already running is not restarted).
 */
int chrony_client_query_reset_sources(struct chrony_client *c, const struct chrony_query_opts *opts,
                                      const char **why);
int chrony_client_query_burst(struct chrony_client *c, const struct chrony_query_opts *opts,
                              int32_t n_good, int32_t n_total, const char **why);

#endif

/*
 * Integration checks of oracled's ClockBound interfaces, from the outside, as a ClockBound
 * client would use them: the v1 socket spoken with raw bytes built here (not with oracled's
 * codec), and the shared-memory segment through the independent reader (cbshm_reader.c).
 * Compared with the TCP service's Now over the wire.
 *
 *   it_cbcompat SOCKET SHM ORACLE_ADDR check GRACE_NS   every check on a synchronised oracled
 *                                                   run with that grace period
 *   it_cbcompat SOCKET SHM ORACLE_ADDR status NAME  waits up to 10 s for the socket and the
 *                                                   segment to show NAME (synchronized,
 *                                                   free-running, unknown, disrupted;
 *                                                   unknown-none, unknown-bound: see
 *                                                   wait_status)
 *   it_cbcompat SOCKET SHM ORACLE_ADDR segment-status NAME   the same, the segment alone,
 *                                                   sending nothing (disrupted, synchronized)
 *   it_cbcompat - - - coarse                        prints CLOCK_MONOTONIC_COARSE in ns
 *   it_cbcompat - SHM - killed PID GRACE_NS         SIGKILLs oracled PID (synchronised, run
 *                                                   with that grace) and watches its last
 *                                                   record through ClockBound's reader until
 *                                                   that reader stops trusting it
 *   it_cbcompat - SHM - stopped COARSE_NS           the record an oracled stopped after the
 *                                                   coarse reading COARSE_NS left
 * Exits 0 when every check passed, 1 with the failing one on stderr.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cbshm_reader.h"
#include "it_util.h"
#include "wire_client.h"

static const char *sock_path, *shm_path, *oracle_addr;
static int checks;

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void ok(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("ok: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    checks++;
}

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/* A client socket bound to a named path (named != 0) or an abstract address, as ClockBound's
 * clients bind theirs. */
static int client(bool named)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    socklen_t len;
    if (named) {
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s.client.%d", sock_path, (int)getpid());
        unlink(sa.sun_path);
        len = sizeof(sa);
    } else {
        int n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "it_cbcompat.%d", (int)getpid());
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    }
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, len) < 0) {
        fail("cannot bind a client socket: %s", strerror(errno));
    }
    struct timeval tv = {.tv_sec = 2, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static void client_close(int fd, bool named)
{
    if (named) {
        char p[120];
        snprintf(p, sizeof(p), "%s.client.%d", sock_path, (int)getpid());
        unlink(p);
    }
    close(fd);
}

/* Sends req, returns the reply's length (or -errno) with the reply in out. */
static ssize_t exchange(int fd, const uint8_t *req, size_t len, uint8_t *out, size_t cap)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
    if (sendto(fd, req, len, 0, (struct sockaddr *)&sa, sizeof(sa)) != (ssize_t)len) {
        return -errno;
    }
    ssize_t n = recv(fd, out, cap, 0);
    return n < 0 ? -errno : n;
}

static void hex(const char *label, const uint8_t *b, ssize_t n)
{
    printf("%s", label);
    for (ssize_t i = 0; i < n; i++) {
        printf("%s%02x", i == 0 ? "" : " ", b[i]);
    }
    printf("\n");
}

/* The largest time a reply may state: 2^63 - 1 ns. */
#define LATEST_MAX UINT64_C(0x7fffffffffffffff)

/* A Now reply, read as go-clockboundc reads one: exactly 20 bytes or an error ("invalid response
 * length"), whatever the header says; then its bytes checked here. */
struct v1_now {
    uint8_t raw[64];
    ssize_t len;
    uint8_t type, flag;
    uint64_t earliest, latest;
};

static void v1_now_bytes(int fd, const uint8_t *req, size_t req_len, struct v1_now *r)
{
    memset(r, 0, sizeof(*r));
    r->len = exchange(fd, req, req_len, r->raw, sizeof(r->raw));
    if (r->len != 20) {
        fail("a Now reply of %zd bytes: go-clockboundc accepts only 20", r->len);
    }
    if (r->raw[0] != 1 || r->raw[3] != 0 || r->raw[2] > 1) {
        fail("Now reply header %02x %02x %02x %02x", r->raw[0], r->raw[1], r->raw[2], r->raw[3]);
    }
    r->type = r->raw[1];
    r->flag = r->raw[2];
    r->earliest = be64(r->raw + 4);
    r->latest = be64(r->raw + 12);
    if (r->earliest > r->latest || r->latest > LATEST_MAX) {
        fail("Now reply [%llu, %llu]: not an interval below 2^63", (unsigned long long)r->earliest,
             (unsigned long long)r->latest);
    }
}

static void v1_now(int fd, struct v1_now *r)
{
    const uint8_t req[4] = {1, 1, 0, 0};
    v1_now_bytes(fd, req, sizeof(req), r);
}

/* Before (type 2) or After (3) of ts: the reply must be 5 bytes, 01 T F 00 and a 0/1 answer. */
static uint8_t ask_as(int fd, uint8_t type, uint64_t ts, uint8_t want_type, uint8_t want_flag)
{
    uint8_t req[12] = {1, type, 0, 0};
    for (int i = 0; i < 8; i++) {
        req[4 + i] = (uint8_t)(ts >> (56 - 8 * i));
    }
    uint8_t out[64];
    ssize_t n = exchange(fd, req, sizeof(req), out, sizeof(out));
    if (n != 5 || out[0] != 1 || out[1] != want_type || out[2] != want_flag || out[3] != 0 ||
        out[4] > 1) {
        fail("%s(%llu): a reply of %zd bytes, header %02x %02x %02x %02x (want 01 %02x %02x 00)",
             type == 2 ? "Before" : "After", (unsigned long long)ts, n, out[0], out[1], out[2],
             out[3], want_type, want_flag);
    }
    return out[4];
}

static uint8_t ask(int fd, uint8_t type, uint64_t ts)
{
    return ask_as(fd, type, ts, type, 0);
}

/* The TCP service's Now. */
static void tcp_now(uint64_t *earliest, uint64_t *latest)
{
    struct wire_client c;
    if (wc_connect_addr(&c, oracle_addr) < 0) {
        fail("cannot connect to %s", oracle_addr);
    }
    struct request q = wc_request(1, REQ_OP_NOW);
    struct response r;
    if (wc_call(&c, &q, &r, 2000) < 0 || r.kind != RESP_BOUNDS) {
        fail("TCP Now failed");
    }
    *earliest = r.u.bounds.earliest_ns;
    *latest = r.u.bounds.latest_ns;
    wc_close(&c);
}

static void check_socket(void)
{
    int fd = client(true);
    uint64_t te0, tl0, te1, tl1;
    tcp_now(&te0, &tl0);
    int64_t t0 = it_clock_ns(CLOCK_REALTIME);
    const uint8_t now_req[4] = {1, 1, 0, 0};
    struct v1_now r;
    v1_now(fd, &r);
    int64_t t1 = it_clock_ns(CLOCK_REALTIME);
    tcp_now(&te1, &tl1);
    hex("now request   ", now_req, 4);
    hex("now response  ", r.raw, r.len);
    if (r.type != 1 || r.flag != 0) {
        fail("Now: header %02x %02x %02x %02x", r.raw[0], r.raw[1], r.raw[2], r.raw[3]);
    }
    uint64_t e = r.earliest, l = r.latest;
    uint8_t out[64];
    ssize_t n;
    printf("              earliest %llu, latest %llu: bound %.3f us (TCP: %.3f, %.3f us)\n",
           (unsigned long long)e, (unsigned long long)l, (double)(l - e) / 2e3,
           (double)(tl0 - te0) / 2e3, (double)(tl1 - te1) / 2e3);
    if (!(e <= (uint64_t)t1 && l >= (uint64_t)t0)) {
        fail("Now [%llu, %llu] does not contain this clock's reading [%lld, %lld]",
             (unsigned long long)e, (unsigned long long)l, (long long)t0, (long long)t1);
    }
    /* The bound moves by a few ns between polls: 2 us of slack either side. */
    if (!(e + 2000 >= te0 && e <= te1 + 2000 && l + 2000 >= tl0 && l <= tl1 + 2000)) {
        fail("Now [%llu, %llu] is not between the TCP Nows [%llu, %llu] and [%llu, %llu]",
             (unsigned long long)e, (unsigned long long)l, (unsigned long long)te0,
             (unsigned long long)tl0, (unsigned long long)te1, (unsigned long long)tl1);
    }
    ok("Now over the socket: 20 bytes, synchronised, contains this clock, between two TCP Nows");

    if (ask(fd, 2, e - 1) != 1 || ask(fd, 2, l + 1000000000) != 0 ||
        ask(fd, 3, l + 1000000000) != 1 || ask(fd, 3, e - 1000000000) != 0 || ask(fd, 2, 0) != 1 ||
        ask(fd, 3, UINT64_MAX) != 1) {
        fail("Before/After answered wrongly");
    }
    ok("Before(earliest - 1) true, Before(latest + 1 s) false, After(latest + 1 s) true, "
       "After(earliest - 1 s) false, Before(0) true, After(2^64 - 1) true");

    /* Malformed: T = 0 (error), F = 0 (synchronised); a request whose type byte says Now gets
     * all 20 bytes, as the ClockBound daemon 0.1.x sends them, with the bound; others 4. */
    static const struct {
        const char *what;
        uint8_t bytes[16];
        size_t len;
        bool now_shape;
    } bad[] = {
        {"an empty datagram", {0}, 0, false},
        {"version 2", {2, 1, 0, 0}, 4, true},
        {"type 0", {1, 0, 0, 0}, 4, false},
        {"type 7", {1, 7, 0, 0}, 4, false},
        {"Now with 12 bytes", {1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 12, true},
        {"Now with 3 bytes", {1, 1, 0}, 3, true},
        {"Before with 4 bytes", {1, 2, 0, 0}, 4, false},
        {"After with 13 bytes", {1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 13, false},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (bad[i].now_shape) {
            struct v1_now m;
            int64_t m0 = it_clock_ns(CLOCK_REALTIME);
            v1_now_bytes(fd, bad[i].bytes, bad[i].len, &m);
            int64_t m1 = it_clock_ns(CLOCK_REALTIME);
            if (m.type != 0 || m.flag != 0 || m.earliest > (uint64_t)m1 ||
                m.latest < (uint64_t)m0 || m.latest - m.earliest > 2 * (l - e) + 4000) {
                hex("reply         ", m.raw, m.len);
                fail("%s: not the error header with the bound", bad[i].what);
            }
            continue;
        }
        n = exchange(fd, bad[i].bytes, bad[i].len, out, sizeof(out));
        if (n != 4 || memcmp(out, (const uint8_t[]){1, 0, 0, 0}, 4) != 0) {
            fail("%s: a %zd-byte reply, not the error header", bad[i].what, n);
        }
    }
    ok("8 malformed requests (empty, versions, types, lengths): 01 00 00 00, and for the 3 whose "
       "type byte is Now 20 bytes with the bound");
    const uint8_t reserved[4] = {1, 1, 5, 9};
    v1_now_bytes(fd, reserved, sizeof(reserved), &r);
    if (r.type != 1) {
        fail("Now with the reserved bytes set: type %u", r.type);
    }
    ok("Now with the reserved bytes set: answered (they are ignored)");
    /* A 300-byte datagram too: malformed, its type byte Now (the daemon would cut it to 12). */
    uint8_t big[300] = {1, 1};
    v1_now_bytes(fd, big, sizeof(big), &r);
    if (r.type != 0 || r.flag != 0) {
        fail("a 300-byte datagram: header %02x %02x", r.raw[1], r.raw[2]);
    }
    ok("a 300-byte datagram: 20 bytes, T = 0");
    client_close(fd, true);

    fd = client(false);
    v1_now(fd, &r);
    if (r.type != 1) {
        fail("Now from an abstract address: type %u", r.type);
    }
    client_close(fd, false);
    ok("a client bound to an abstract address is answered too");

    /* Unbound: nowhere to answer, so nothing comes back (and the server logs and counts it). */
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 300000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    n = exchange(fd, now_req, sizeof(now_req), out, sizeof(out));
    if (n != -EAGAIN) {
        fail("an unbound client got %zd", n);
    }
    close(fd);
    ok("an unbound client's request is dropped (no reply in 300 ms)");
}

static void check_segment(int64_t grace_ns)
{
    FILE *f = fopen(shm_path, "rb");
    uint8_t raw[80];
    if (f == NULL || fread(raw, 1, sizeof(raw), f) != sizeof(raw)) {
        fail("cannot read 80 bytes from %s", shm_path);
    }
    if (fgetc(f) != EOF) {
        fail("%s is longer than 80 bytes", shm_path);
    }
    fclose(f);
    const uint8_t magic[8] = {0x4e, 0x5a, 0x4d, 0x41, 0x00, 0x02, 0x42, 0x43};
    if (memcmp(raw, magic, 8) != 0) {
        fail("the segment does not start 4E 5A 4D 41 00 02 42 43");
    }
    hex("segment       ", raw, 80);
    struct cbr r;
    if (cbr_open(&r, shm_path) < 0) {
        fail("cannot map %s", shm_path);
    }
    /* TCP's Now first, then the segment as a reader sees it a moment later: oracled's bound
     * only grows in between (or restarts lower at a poll, when the segment is rewritten too). */
    uint64_t te, tl;
    tcp_now(&te, &tl);
    struct cbr_record o;
    if (cbr_read(&r, &o, 1000) < 0) {
        fail("no consistent snapshot in 1000 tries");
    }
    int64_t coarse = it_clock_ns(CLOCK_MONOTONIC_COARSE);
    int64_t as_of = o.as_of_sec * 1000000000 + o.as_of_nsec;
    int64_t bound = cbr_bound_at(&o, coarse);
    int64_t tcp_bound = (int64_t)(tl - te) / 2;
    printf("              status %d, as_of %.6f s (coarse now %.6f s), bound_nsec %lld, "
           "max_drift_ppb %u: bound now %lld ns (TCP %lld ns)\n",
           o.status, (double)as_of / 1e9, (double)coarse / 1e9, (long long)o.bound_nsec,
           o.max_drift_ppb, (long long)bound, (long long)tcp_bound);
    /* The segment's growth is at least the drift, and more where what oracled's own bound could
     * do over ClockBound's 5 s (an unseen slew, were chronyd and oracled both to stop) needs
     * it: here a synchronised demo with a bound of tens of us, so well under 1000 ppm. */
    if (o.size != 80 || o.version != 2 || o.status != 1 || o.max_drift_ppb < 50000 ||
        o.max_drift_ppb >= 1000000 || o.disruption_support != 0) {
        fail("header: size %u version %u status %d drift %u", o.size, o.version, o.status,
             o.max_drift_ppb);
    }
    /* ClockBound's client refuses an as_of ahead of its coarse clock by more than 1 us. */
    if (as_of > coarse + 1000 || coarse - as_of > 1000000000) {
        fail("as_of %lld vs CLOCK_MONOTONIC_COARSE %lld", (long long)as_of, (long long)coarse);
    }
    int64_t void_after = o.void_after_sec * 1000000000 + o.void_after_nsec;
    if (void_after - as_of != grace_ns) {
        fail("void_after - as_of is %lld ns, not the grace (%lld ns), after a successful poll",
             (long long)(void_after - as_of), (long long)grace_ns);
    }
    /* Never below the TCP service's bound; not much above it (the step allowance, about 3 us,
     * and the coarse tick's growth). */
    if (bound < tcp_bound || bound > tcp_bound + 20000) {
        fail("the segment's bound %lld ns disagrees with TCP's %lld ns", (long long)bound,
             (long long)tcp_bound);
    }
    ok("segment: 80 bytes, magic 4E 5A 4D 41 00 02 42 43, version 2, SYNCHRONIZED, as_of on "
       "CLOCK_MONOTONIC_COARSE, void_after = as_of + the grace (%.3f s), bound %lld ns vs TCP "
       "%lld ns",
       (double)grace_ns / 1e9, (long long)bound, (long long)tcp_bound);

    /* Read it while oracled rewrites it after every poll (every 1-20 ms). Every record is void
     * at most the grace after its as_of (less only after a failed poll). */
    uint64_t reads = 0, busy = 0, changes = 0, full_grace = 0;
    uint16_t last_gen = o.generation;
    int64_t end = it_clock_ns(CLOCK_MONOTONIC) + 1000000000;
    while (it_clock_ns(CLOCK_MONOTONIC) < end) {
        if (cbr_read(&r, &o, 1) < 0) {
            busy++;
            continue;
        }
        reads++;
        int64_t valid =
            (o.void_after_sec - o.as_of_sec) * 1000000000 + (o.void_after_nsec - o.as_of_nsec);
        if (o.magic0 != 0x414D5A4E || o.magic1 != 0x43420200 || o.size != 80 || valid < 0 ||
            valid > grace_ns || o.as_of_nsec < 0 || o.as_of_nsec >= 1000000000 || o.status < 0 ||
            o.status > 3 || o.bound_nsec <= 0) {
            fail("a torn or inconsistent record at generation %u", o.generation);
        }
        if (o.generation != last_gen) {
            changes++;
            full_grace += valid == grace_ns;
            last_gen = o.generation;
        }
    }
    cbr_close(&r);
    if (changes < 10) {
        fail("only %llu rewrites seen in 1 s", (unsigned long long)changes);
    }
    if (full_grace * 10 < changes * 9) {
        fail("only %llu of %llu records void the grace after as_of", (unsigned long long)full_grace,
             (unsigned long long)changes);
    }
    ok("read %llu times in 1 s while oracled rewrote it %llu times (%llu reads met a write): "
       "never torn; void_after - as_of within the grace, exactly the grace in %llu",
       (unsigned long long)reads, (unsigned long long)changes, (unsigned long long)busy,
       (unsigned long long)full_grace);
}

static const char *status_name(enum cbr_status s)
{
    static const char *names[] = {"UNKNOWN", "SYNCHRONIZED", "FREE_RUNNING", "DISRUPTED"};
    return s >= 0 && s <= 3 ? names[s] : "?";
}

static int64_t as_of_of(const struct cbr_record *o)
{
    return o->as_of_sec * 1000000000 + o->as_of_nsec;
}

static int64_t void_after_of(const struct cbr_record *o)
{
    return o->void_after_sec * 1000000000 + o->void_after_nsec;
}

/* True when ClockBound's reader trusts o at these readings (SYNCHRONIZED or FREE_RUNNING). */
static bool reader_trusts(const struct cbr_record *o, int64_t real, int64_t coarse,
                          enum cbr_status *status)
{
    struct cbr_now n;
    int rc = cbr_now(o, real, coarse, &n);
    if (rc < 0) {
        fail("ClockBound's reader refuses the record: %s", strerror(-rc));
    }
    *status = n.status;
    return cbr_trusted(n.status);
}

/* True once /proc says pid is a zombie (or gone): it writes nothing any more. */
static bool dead(pid_t pid)
{
    char p[64], buf[256];
    snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(p, "r");
    if (f == NULL) {
        return true;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    return paren != NULL && (paren[2] == 'Z' || paren[2] == 'X');
}

/*
 * How far CLOCK_MONOTONIC_COARSE lags CLOCK_MONOTONIC here, at most, over 200 ms: readings
 * taken between two fine ones less than 20 us apart. More than its resolution: the kernel
 * advances it a whole tick at a time, and only some time after the tick's end (2.7 ms after,
 * with a 4 ms tick, on the VM this was written on).
 */
static int64_t coarse_lag(void)
{
    int64_t worst = 0;
    int64_t end = it_clock_ns(CLOCK_MONOTONIC) + 200000000;
    while (it_clock_ns(CLOCK_MONOTONIC) < end) {
        int64_t m1 = it_clock_ns(CLOCK_MONOTONIC);
        int64_t c = it_clock_ns(CLOCK_MONOTONIC_COARSE);
        int64_t m2 = it_clock_ns(CLOCK_MONOTONIC);
        if (m2 - m1 < 20000 && m1 - c > worst) {
            worst = m1 - c;
        }
        usleep(100);
    }
    return worst;
}

/*
 * oracled (pid, run with grace_ns) is SIGKILLed while the segment is trusted. Its last record
 * must stay as it is, be trusted at first, and stop being trusted by ClockBound's reader (the
 * model in cbshm_reader.c) once the coarse clock reaches max(void_after, as_of + the reader's
 * 5 s): in CLOCK_MONOTONIC terms, no later than that plus the coarse clock's lag (measured
 * here, about a tick); then say UNKNOWN for good. The negative control: the same record with
 * the old void_after (as_of + 1000 s), or with void_after ignored, is still trusted when this
 * one is void.
 */
static void check_killed(pid_t pid, int64_t grace_ns)
{
    struct timespec res;
    clock_getres(CLOCK_MONOTONIC_COARSE, &res);
    int64_t tick = res.tv_sec * INT64_C(1000000000) + res.tv_nsec;
    int64_t lag = coarse_lag();
    /* What the coarse clock may lag by when the reader reads it: the worst seen, 1 ms more. */
    int64_t allowance = (lag > tick ? lag : tick) + 1000000;
    struct cbr r;
    if (cbr_open(&r, shm_path) < 0) {
        fail("cannot map %s", shm_path);
    }
    struct cbr_record o;
    enum cbr_status st = CBR_UNKNOWN;
    int64_t end = it_clock_ns(CLOCK_MONOTONIC) + 10 * INT64_C(1000000000);
    while (
        cbr_read(&r, &o, 100) < 0 ||
        !reader_trusts(&o, it_clock_ns(CLOCK_REALTIME), it_clock_ns(CLOCK_MONOTONIC_COARSE), &st) ||
        st != CBR_SYNCHRONIZED) {
        if (it_clock_ns(CLOCK_MONOTONIC) > end) {
            fail("the segment was not SYNCHRONIZED within 10 s");
        }
        usleep(2000);
    }
    if (kill(pid, SIGKILL) < 0) {
        fail("kill %d: %s", (int)pid, strerror(errno));
    }
    int64_t killed = it_clock_ns(CLOCK_MONOTONIC);
    while (!dead(pid)) {
        if (it_clock_ns(CLOCK_MONOTONIC) - killed > 5 * INT64_C(1000000000)) {
            fail("oracled %d still alive 5 s after SIGKILL", (int)pid);
        }
        usleep(1000);
    }
    if (cbr_read(&r, &o, 1000) < 0) {
        fail("no consistent snapshot of the dead writer's segment");
    }
    const struct cbr_record last = o;
    int64_t as_of = as_of_of(&last);
    int64_t void_after = void_after_of(&last);
    if (void_after - as_of != grace_ns) {
        fail("the last record is void %lld ns after as_of, not the grace (%lld ns)",
             (long long)(void_after - as_of), (long long)grace_ns);
    }
    int64_t window = grace_ns > CBR_RESTART_GRACE_NS ? grace_ns : CBR_RESTART_GRACE_NS;
    printf("              SIGKILL %.1f ms after the last as_of; void_after = as_of + %.3f s; "
           "ClockBound's reader trusts it for max(the grace, its own 5 s) = %.3f s of its coarse "
           "clock, which lags by up to %.3f ms here (resolution %.0f ms)\n",
           (double)(killed - as_of) / 1e6, (double)grace_ns / 1e9, (double)window / 1e9,
           (double)lag / 1e6, (double)tick / 1e6);

    /* Watch it, 1 ms apart: fine reading, coarse and realtime readings, fine reading. */
    enum cbr_status prev = CBR_SYNCHRONIZED;
    int64_t first_fine = -1, last_trusted_fine = -1, void_fine = -1, void_coarse = 0;
    int64_t void_real = 0;
    uint64_t samples = 0;
    for (;;) {
        int64_t m1 = it_clock_ns(CLOCK_MONOTONIC);
        int64_t coarse = it_clock_ns(CLOCK_MONOTONIC_COARSE);
        int64_t real = it_clock_ns(CLOCK_REALTIME);
        int64_t m2 = it_clock_ns(CLOCK_MONOTONIC);
        if (cbr_read(&r, &o, 1000) < 0 || o.generation != last.generation) {
            fail("the dead writer's record changed (generation %u, then %u)", last.generation,
                 o.generation);
        }
        bool trusted = reader_trusts(&o, real, coarse, &st);
        samples++;
        if (first_fine < 0) {
            first_fine = m1;
            if (!trusted) {
                fail("not trusted right after the kill (%s): nothing left to check",
                     status_name(st));
            }
        }
        if (st != prev) {
            printf("              %s from %.3f s after as_of (coarse), seen at %.3f s\n",
                   status_name(st), (double)(coarse - as_of) / 1e9, (double)(m2 - as_of) / 1e9);
            prev = st;
        }
        if (trusted) {
            last_trusted_fine = m1;
        } else {
            void_fine = m2;
            void_coarse = coarse;
            void_real = real;
            break;
        }
        if (m1 - as_of > window + 2 * INT64_C(1000000000)) {
            fail("still trusted (%s) %.3f s after as_of", status_name(st),
                 (double)(m1 - as_of) / 1e9);
        }
        usleep(1000);
    }
    /* The trusted reading came after m1: m1 must be within the window plus the coarse lag. */
    if (last_trusted_fine - as_of >= window + allowance) {
        fail("trusted %.6f s after as_of, beyond %.3f s + %.3f ms",
             (double)(last_trusted_fine - as_of) / 1e9, (double)window / 1e9,
             (double)allowance / 1e6);
    }
    if (st != CBR_UNKNOWN || void_coarse < void_after) {
        fail("untrusted as %s before void_after", status_name(st));
    }
    /* And not given up much before the window: a restart of oracled within it goes unnoticed. */
    if (last_trusted_fine - as_of < window - 200000000) {
        fail("trusted only %.3f s after as_of", (double)(last_trusted_fine - as_of) / 1e9);
    }
    /* UNKNOWN for good: a while later still. */
    usleep(50000);
    if (cbr_read(&r, &o, 1000) < 0 || o.generation != last.generation ||
        reader_trusts(&o, it_clock_ns(CLOCK_REALTIME), it_clock_ns(CLOCK_MONOTONIC_COARSE), &st)) {
        fail("trusted again after it went void");
    }
    cbr_close(&r);
    ok("SIGKILL: the last record (void_after = as_of + %.3f s) trusted until %.6f s after as_of, "
       "UNKNOWN from %.6f s (coarse; seen at %.6f s): within max(grace, 5 s) + %.3f ms; %llu "
       "samples",
       (double)grace_ns / 1e9, (double)(last_trusted_fine - as_of) / 1e9,
       (double)(void_coarse - as_of) / 1e9, (double)(void_fine - as_of) / 1e9,
       (double)allowance / 1e6, (unsigned long long)samples);

    /* Negative control: the same reader at the same instant, on the record as the old code
     * wrote it (void_after = as_of + 1000 s), and with void_after ignored. */
    struct cbr_record old = last;
    old.void_after_sec = last.as_of_sec + 1000;
    old.void_after_nsec = last.as_of_nsec;
    enum cbr_status old_st, ignored_st;
    bool old_trusted = reader_trusts(&old, void_real, void_coarse, &old_st);
    struct cbr_record ignored = last;
    ignored.void_after_sec = INT64_MAX / 1000000000 - 1;
    bool ignored_trusted = reader_trusts(&ignored, void_real, void_coarse, &ignored_st);
    if (!old_trusted || !ignored_trusted) {
        fail("negative control: the old record is not trusted at that instant");
    }
    ok("negative control: at that instant the old record (as_of + 1000 s) is still trusted (%s), "
       "and so is this one with void_after ignored (%s): the check above would fail",
       status_name(old_st), status_name(ignored_st));
}

/*
 * The record a stopped oracled left (stopped after the coarse reading before_ns): UNKNOWN for
 * ClockBound's reader, void (void_after no later than as_of, as_of a coarse reading taken at
 * the stop), and a bound a C caller can subtract: latest - earliest in int64, now and for a
 * reader 100 years later. The negative control: the same checks on the old stop record's
 * bound (2^62 ns) and on a void_after of as_of + 1000 s.
 */
static void check_stopped(int64_t before_ns)
{
    struct cbr r;
    if (cbr_open(&r, shm_path) < 0) {
        fail("cannot map %s", shm_path);
    }
    struct cbr_record o;
    if (cbr_read(&r, &o, 1000) < 0) {
        fail("no consistent snapshot");
    }
    cbr_close(&r);
    int64_t coarse = it_clock_ns(CLOCK_MONOTONIC_COARSE);
    int64_t real = it_clock_ns(CLOCK_REALTIME);
    int64_t as_of = as_of_of(&o), void_after = void_after_of(&o);
    printf("              status %d, as_of %.6f s (the SIGTERM at %.6f s, now %.6f s), "
           "void_after %.6f s, bound_nsec %lld, max_drift_ppb %u\n",
           o.status, (double)as_of / 1e9, (double)before_ns / 1e9, (double)coarse / 1e9,
           (double)void_after / 1e9, (long long)o.bound_nsec, o.max_drift_ppb);
    if (o.status != 0) {
        fail("status %d after the stop", o.status);
    }
    if (as_of < before_ns || as_of > coarse) {
        fail("as_of is not a reading taken at the stop");
    }
    if (void_after > as_of) {
        fail("void_after is after the stop");
    }
    const int64_t century = INT64_C(100) * 31557600 * 1000000000;
    for (int i = 0; i < 2; i++) {
        struct cbr_now n;
        int64_t later = i == 0 ? 0 : century;
        int rc = cbr_now(&o, real + later, coarse + later, &n);
        int64_t width = 0;
        if (rc < 0 || cbr_width(&n, &width) < 0) {
            fail("%s: the reader's earliest/latest (%s) or width %lld overflow",
                 i == 0 ? "now" : "in 100 years", strerror(-rc), (long long)width);
        }
        if (n.status != CBR_UNKNOWN || !n.void_after_passed || width != 2 * n.bound_ns ||
            n.bound_ns < 86400 * INT64_C(1000000000) || n.earliest_sec < 0) {
            fail("%s: status %s, void %d, width %lld, bound %lld, earliest %lld s",
                 i == 0 ? "now" : "in 100 years", status_name(n.status), n.void_after_passed,
                 (long long)width, (long long)n.bound_ns, (long long)n.earliest_sec);
        }
        printf("              %s: %s, void, bound %lld ns, width %lld ns\n",
               i == 0 ? "now" : "a reader 100 years later", status_name(n.status),
               (long long)n.bound_ns, (long long)width);
    }
    ok("stopped: UNKNOWN, void_after <= as_of = a coarse reading at the stop (%.1f ms after the "
       "SIGTERM), bound %lld ns: latest - earliest fits in int64 now and in 100 years",
       (double)(as_of - before_ns) / 1e6, (long long)o.bound_nsec);

    /* Negative control: the old stop record's bound, and the old void_after. */
    struct cbr_record old = o;
    old.bound_nsec = INT64_C(1) << 62;
    struct cbr_now n;
    int64_t width = 0;
    int rc = cbr_now(&old, real, coarse, &n);
    int wrc = rc == 0 ? cbr_width(&n, &width) : rc;
    old = o;
    old.void_after_sec = o.as_of_sec + 1000;
    struct cbr_now n2;
    cbr_now(&old, real, coarse, &n2);
    if (wrc != -EOVERFLOW || n2.void_after_passed) {
        fail("negative control: the old record passes");
    }
    ok("negative control: with the old bound 2^62 the same width check overflows (latest - "
       "earliest = %lld), and void_after = as_of + 1000 s is not void",
       (long long)width);
}

/*
 * Waits for both interfaces to show the status NAME: synchronized, free-running, unknown,
 * disrupted; or unknown-none (UNKNOWN with no bound, e.g. before chrony answers) or
 * unknown-bound (UNKNOWN with a bound that still holds: chrony gone past the grace), which check
 * the bytes further, on an oracled whose clock is this one. Every Now reply must be 20 bytes (as
 * go-clockboundc requires) with T = 1 while the clock is trusted and 0 (error) while not, F = 1
 * unless synchronised; untrusted, the interval must contain true time: 0 to 2^63 - 1 without a
 * bound (after a step too), this clock's reading with one; Before/After 5 bytes, T = 0, answered
 * soundly over it.
 */
static void wait_status(const char *name)
{
    bool none = strcmp(name, "unknown-none") == 0 || strcmp(name, "disrupted") == 0;
    bool bound = strcmp(name, "unknown-bound") == 0;
    int want = strncmp(name, "unknown", 7) == 0    ? 0
               : strcmp(name, "synchronized") == 0 ? 1
               : strcmp(name, "free-running") == 0 ? 2
               : strcmp(name, "disrupted") == 0    ? 3
                                                   : -1;
    if (want < 0 || (want == 0 && strcmp(name, "unknown") != 0 && !none && !bound)) {
        fail("unknown status %s", name);
    }
    int fd = client(true);
    struct cbr r;
    if (cbr_open(&r, shm_path) < 0) {
        fail("cannot map %s", shm_path);
    }
    int64_t end = it_clock_ns(CLOCK_MONOTONIC) + 10 * INT64_C(1000000000);
    int shm_status = -1;
    struct v1_now n;
    int64_t t0, t1;
    for (;;) {
        struct cbr_record o;
        shm_status = cbr_read(&r, &o, 100) == 0 ? o.status : -1;
        t0 = it_clock_ns(CLOCK_REALTIME);
        v1_now(fd, &n);
        t1 = it_clock_ns(CLOCK_REALTIME);
        /* Trusted: T = Now (1); synchronised F = 0, free running F = 1. Otherwise T = 0, F = 1. */
        bool sock_ok = want == 1   ? n.type == 1 && n.flag == 0
                       : want == 2 ? n.type == 1 && n.flag == 1
                                   : n.type == 0 && n.flag == 1;
        if (sock_ok && shm_status == want) {
            break;
        }
        if (it_clock_ns(CLOCK_MONOTONIC) > end) {
            fail("%s: after 10 s the segment says %d and the socket type %d, F %d", name,
                 shm_status, n.type, n.flag);
        }
        usleep(2000);
    }
    hex("now response  ", n.raw, n.len);
    cbr_close(&r);
    if (none && (n.earliest != 0 || n.latest != LATEST_MAX)) {
        fail("%s: [%llu, %llu], not 0 to 2^63 - 1", name, (unsigned long long)n.earliest,
             (unsigned long long)n.latest);
    }
    if (bound && !(n.earliest > 0 && n.earliest <= (uint64_t)t1 && n.latest >= (uint64_t)t0 &&
                   n.latest < LATEST_MAX)) {
        fail("%s: [%llu, %llu] is not a bound around this clock's reading [%lld, %lld]", name,
             (unsigned long long)n.earliest, (unsigned long long)n.latest, (long long)t0,
             (long long)t1);
    }
    if (bound || none) {
        printf("              earliest %llu, latest %llu (%s)\n", (unsigned long long)n.earliest,
               (unsigned long long)n.latest,
               none ? "no bound: every time there is" : "the bound, grown since chrony went");
    }
    ok("%s: the segment's status is %d and the socket answers a Now with 20 bytes, T = %d, F = %d",
       name, want, n.type, n.flag);
    if (bound || strcmp(name, "unknown-none") == 0) {
        uint64_t now = (uint64_t)it_clock_ns(CLOCK_REALTIME);
        const uint64_t s = 1000000000;
        /* With the bound (microseconds, growing slowly), 1 s either side of the interval just
         * read is certainly outside the next one too. */
        bool sound;
        if (bound) {
            sound = ask_as(fd, 2, n.earliest - s, 0, 1) == 1 &&
                    ask_as(fd, 2, n.latest + s, 0, 1) == 0 &&
                    ask_as(fd, 3, n.earliest - s, 0, 1) == 0 &&
                    ask_as(fd, 3, n.latest + s, 0, 1) == 1;
        } else {
            sound = ask_as(fd, 2, 0, 0, 1) == 0 && ask_as(fd, 2, now, 0, 1) == 0 &&
                    ask_as(fd, 3, now, 0, 1) == 0 && ask_as(fd, 3, LATEST_MAX, 0, 1) == 0 &&
                    ask_as(fd, 3, LATEST_MAX + 1, 0, 1) == 1;
        }
        if (!sound) {
            fail("%s: Before/After answered unsoundly", name);
        }
        struct v1_now m;
        const uint8_t v2[4] = {2, 1, 0, 0};
        v1_now_bytes(fd, v2, sizeof(v2), &m);
        if (m.type != 0 || m.flag != 1) {
            fail("%s: a malformed Now got type %u, F %u", name, m.type, m.flag);
        }
        if (bound) {
            ok("%s: Before/After 5 bytes, 01 00 01 00, over the bound: Before(earliest - 1 s) and "
               "After(latest + 1 s) true, Before(latest + 1 s) and After(earliest - 1 s) false; a "
               "malformed Now 20 bytes, T = 0, F = 1",
               name);
        } else {
            ok("%s: Before/After 5 bytes, 01 00 01 00, all false but After(2^63): Before(0), "
               "Before(now), After(now), After(2^63 - 1); a malformed Now 20 bytes, T = 0, F = 1",
               name);
        }
    }
    client_close(fd, true);
}

/* Waits for the segment alone to show the status, sending nothing: what a host whose clients
 * only read shared memory sees. Prints how long it took. */
static void wait_segment(const char *name)
{
    int want = strcmp(name, "disrupted") == 0 ? 3 : strcmp(name, "synchronized") == 0 ? 1 : -1;
    if (want < 0) {
        fail("unknown status %s", name);
    }
    struct cbr r;
    if (cbr_open(&r, shm_path) < 0) {
        fail("cannot map %s", shm_path);
    }
    int64_t start = it_clock_ns(CLOCK_MONOTONIC);
    for (;;) {
        struct cbr_record o;
        if (cbr_read(&r, &o, 100) == 0 && o.status == want) {
            break;
        }
        if (it_clock_ns(CLOCK_MONOTONIC) - start > 10 * INT64_C(1000000000)) {
            fail("%s: not in the segment after 10 s", name);
        }
        usleep(200);
    }
    cbr_close(&r);
    ok("%s in the segment %.1f ms after the test started looking, with no request sent", name,
       (double)(it_clock_ns(CLOCK_MONOTONIC) - start) / 1e6);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: it_cbcompat SOCKET SHM ORACLE_ADDR check GRACE_NS | status NAME | "
                        "segment-status NAME | coarse | killed PID GRACE_NS | stopped COARSE_NS\n");
        return 2;
    }
    sock_path = argv[1];
    shm_path = argv[2];
    oracle_addr = argv[3];
    if (strcmp(argv[4], "check") == 0 && argc == 6) {
        check_socket();
        check_segment(strtoll(argv[5], NULL, 10));
    } else if (strcmp(argv[4], "coarse") == 0) {
        printf("%lld\n", (long long)it_clock_ns(CLOCK_MONOTONIC_COARSE));
        return 0;
    } else if (strcmp(argv[4], "killed") == 0 && argc == 7) {
        check_killed((pid_t)strtol(argv[5], NULL, 10), strtoll(argv[6], NULL, 10));
    } else if (strcmp(argv[4], "stopped") == 0 && argc == 6) {
        check_stopped(strtoll(argv[5], NULL, 10));
    } else if (strcmp(argv[4], "status") == 0 && argc == 6) {
        wait_status(argv[5]);
    } else if (strcmp(argv[4], "segment-status") == 0 && argc == 6) {
        wait_segment(argv[5]);
    } else {
        fprintf(stderr, "it_cbcompat: unknown mode\n");
        return 2;
    }
    printf("all %d checks passed\n", checks);
    return 0;
}

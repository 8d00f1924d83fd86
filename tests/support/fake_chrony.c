/* A scriptable fake chronyd (see fake_chrony.h). Written independently of chrony_proto.c so the
 * two check each other. */
#include "fake_chrony.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
    be16(p, (uint16_t)(v >> 16));
    be16(p + 2, (uint16_t)v);
}

/* Fills pseudo-random bytes seeded by sequence. */
static void garbage(uint8_t *buf, size_t len, uint32_t sequence)
{
    uint32_t x = sequence | 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
}

uint32_t fake_chrony_float(double x)
{
    /* As chronyd encodes: exponent trunc(log2 |x|) + 1, the coefficient |x| * 2^(25 - exp)
     * rounded to nearest, then halved (dropping its low bit) while it is too large for 25
     * signed bits. NaN is sent as 0. */
    if (x == 0.0 || isnan(x)) {
        return 0;
    }
    int neg = x < 0;
    double a = fabs(x);
    if (a < 1e-100) {
        return 0;
    }
    int exp = (int)(log(a) / log(2.0)) + 1;
    int64_t coef = (int64_t)(a * pow(2.0, 25 - exp) + 0.5);
    while (coef > (1 << 24) - 1 + neg) {
        coef >>= 1;
        exp++;
    }
    if (exp > 63) {
        exp = 63;
        coef = (1 << 24) - 1 + neg;
    } else if (exp < -64) {
        return 0;
    }
    if (neg) {
        coef = -coef;
    }
    return (uint32_t)(exp & 0x7f) << 25 | ((uint32_t)coef & 0x1ffffff);
}

void fake_chrony_script_default(struct fake_chrony_script *s, int64_t ref_time_ns)
{
    memset(s, 0, sizeof(*s));
    s->mode = FAKE_CHRONY_ANSWER;
    s->ref_id = 0x7F000001;
    s->addr_family = 1;
    s->addr[0] = 127;
    s->addr[3] = 1;
    s->stratum = 2;
    s->leap = 0;
    uint64_t sec = (uint64_t)(ref_time_ns / 1000000000);
    s->ref_sec_high = (uint32_t)(sec >> 32);
    s->ref_sec_low = (uint32_t)sec;
    s->ref_nsec = (uint32_t)(ref_time_ns % 1000000000);
    s->current_correction_s = 0;
    s->last_offset_s = fake_chrony_float(1e-7);
    s->rms_offset_s = fake_chrony_float(2e-7);
    s->freq_ppm = fake_chrony_float(-0.083);
    s->resid_freq_ppm = fake_chrony_float(-0.5);
    s->skew_ppm = fake_chrony_float(2.0);
    s->root_delay_s = fake_chrony_float(6e-6);
    s->root_dispersion_s = fake_chrony_float(5e-7);
    s->last_update_interval_s = fake_chrony_float(0.0625);
    s->version = 6;
    s->pkt_type = 2;
    s->command = 33;
    s->reply_type = 5;
    s->status = 0;
    s->reply_len = 104;
    s->patch_offset = -1;
    s->upstream_ref_id = 0x47505300; /* "GPS" */
    s->upstream_stratum = 1;
    s->upstream_leap = 0;
    s->upstream_mode = 4;
    s->ntpdata_reply_len = 152;
    s->ntpdata_patch_offset = -1;
    s->reset_status = 2;
}

size_t fake_chrony_build_reply(const struct fake_chrony_script *s, uint32_t sequence, uint8_t *buf,
                               size_t cap)
{
    size_t len = s->reply_len < cap ? s->reply_len : cap;
    memset(buf, 0, cap);
    if (s->mode == FAKE_CHRONY_GARBAGE) {
        garbage(buf, len, sequence);
        return len;
    }
    buf[0] = s->version;
    buf[1] = s->pkt_type;
    be16(buf + 4, s->command);
    be16(buf + 6, s->reply_type);
    be16(buf + 8, s->status);
    be32(buf + 16, sequence ^ s->seq_xor);
    be32(buf + 28, s->ref_id);
    memcpy(buf + 32, s->addr, 16);
    be16(buf + 48, s->addr_family);
    be16(buf + 52, s->stratum);
    be16(buf + 54, s->leap);
    be32(buf + 56, s->ref_sec_high);
    be32(buf + 60, s->ref_sec_low);
    be32(buf + 64, s->ref_nsec);
    const uint32_t floats[] = {
        s->current_correction_s,  s->last_offset_s, s->rms_offset_s, s->freq_ppm,
        s->resid_freq_ppm,        s->skew_ppm,      s->root_delay_s, s->root_dispersion_s,
        s->last_update_interval_s};
    for (size_t i = 0; i < sizeof(floats) / sizeof(floats[0]); i++) {
        be32(buf + 68 + 4 * i, floats[i]);
    }
    if (s->patch_offset >= 0 && (size_t)s->patch_offset < cap) {
        buf[s->patch_offset] = s->patch_value;
    }
    return len;
}

size_t fake_chrony_build_ntpdata_reply(const struct fake_chrony_script *s, uint32_t sequence,
                                       uint16_t family, const uint8_t *addr, uint8_t *buf,
                                       size_t cap)
{
    size_t len = s->ntpdata_reply_len < cap ? s->ntpdata_reply_len : cap;
    memset(buf, 0, cap);
    if (s->mode == FAKE_CHRONY_GARBAGE) {
        garbage(buf, len, sequence);
        return len;
    }
    buf[0] = 6;
    buf[1] = 2;
    be16(buf + 4, 57);
    be16(buf + 8, s->ntpdata_status);
    be32(buf + 16, sequence ^ s->ntpdata_seq_xor);
    if (s->ntpdata_status != 0) {
        /* chronyd's refusals are a bare header, reply type 1 (RPY_NULL). */
        be16(buf + 6, 1);
        len = len < 28 ? len : 28;
    } else {
        /* A report like the one chronyd 4.3 gave about the demo pair's server. */
        be16(buf + 6, 16);
        memcpy(buf + 28, addr, family == 1 ? 4 : 16);
        if (s->ntpdata_other_addr) {
            buf[28 + (family == 1 ? 3 : 15)]++;
        }
        be16(buf + 44, family);
        buf[48] = 127; /* local address 127.0.0.1 */
        buf[51] = 1;
        be16(buf + 64, 1);
        be16(buf + 68, 123);
        buf[70] = s->upstream_leap;
        buf[71] = 4;
        buf[72] = s->upstream_mode;
        buf[73] = s->upstream_stratum;
        buf[74] = (uint8_t)-4;                   /* poll */
        buf[75] = (uint8_t)-26;                  /* precision */
        be32(buf + 76, fake_chrony_float(1e-5)); /* root delay */
        be32(buf + 80, fake_chrony_float(2e-5)); /* root dispersion */
        be32(buf + 84, s->upstream_ref_id);
        be32(buf + 92, 1796286495); /* reference time */
        be32(buf + 96, 546410289);
        be32(buf + 100, fake_chrony_float(3.6e-8)); /* offset */
        be32(buf + 104, fake_chrony_float(6.1e-6)); /* peer delay */
        be32(buf + 108, fake_chrony_float(3.5e-8)); /* peer dispersion */
        be32(buf + 112, fake_chrony_float(3.9e-5)); /* response time */
        be32(buf + 116, fake_chrony_float(0.42));   /* jitter asymmetry */
        be16(buf + 120, 0x03ff);                    /* all ten tests passed */
        buf[122] = 'K';
        buf[123] = 'K';
        be32(buf + 124, 2391);
        be32(buf + 128, 2391);
        be32(buf + 132, 2391);
        be32(buf + 136, 2101);
        memset(buf + 140, 0xff, 12);
    }
    if (s->ntpdata_patch_offset >= 0 && (size_t)s->ntpdata_patch_offset < cap) {
        buf[s->ntpdata_patch_offset] = s->ntpdata_patch_value;
    }
    return len;
}

static struct fake_chrony *alloc_fake(void)
{
    struct fake_chrony *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        return NULL;
    }
    f->fd = -1;
    f->stop_pipe[0] = f->stop_pipe[1] = -1;
    pthread_mutex_init(&f->lock, NULL);
    fake_chrony_script_default(&f->script, 0);
    return f;
}

struct fake_chrony *fake_chrony_new_udp(uint16_t port)
{
    struct fake_chrony *f = alloc_fake();
    if (f == NULL) {
        return NULL;
    }
    f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(f->fd, (struct sockaddr *)&sa, &sl) < 0) {
        fake_chrony_free(f);
        return NULL;
    }
    f->port = ntohs(sa.sin_port);
    return f;
}

struct fake_chrony *fake_chrony_new_unix(const char *path)
{
    struct fake_chrony *f = alloc_fake();
    if (f == NULL) {
        return NULL;
    }
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        fake_chrony_free(f);
        return NULL;
    }
    strcpy(sa.sun_path, path);
    f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fake_chrony_free(f);
        return NULL;
    }
    strcpy(f->path, path);
    return f;
}

void fake_chrony_free(struct fake_chrony *f)
{
    if (f == NULL) {
        return;
    }
    if (f->running) {
        (void)write(f->stop_pipe[1], "x", 1);
        pthread_join(f->thread, NULL);
    }
    for (int i = 0; i < 2; i++) {
        if (f->stop_pipe[i] >= 0) {
            close(f->stop_pipe[i]);
        }
    }
    if (f->fd >= 0) {
        close(f->fd);
    }
    if (f->path[0] != '\0') {
        unlink(f->path);
    }
    pthread_mutex_destroy(&f->lock);
    free(f);
}

void fake_chrony_set(struct fake_chrony *f, const struct fake_chrony_script *s)
{
    pthread_mutex_lock(&f->lock);
    f->script = *s;
    pthread_mutex_unlock(&f->lock);
}

void fake_chrony_set_refresh(struct fake_chrony *f, fake_chrony_refresh_fn *fn, void *arg)
{
    pthread_mutex_lock(&f->lock);
    f->refresh = fn;
    f->refresh_arg = arg;
    pthread_mutex_unlock(&f->lock);
}

unsigned fake_chrony_requests(struct fake_chrony *f)
{
    pthread_mutex_lock(&f->lock);
    unsigned n = f->requests;
    pthread_mutex_unlock(&f->lock);
    return n;
}

unsigned fake_chrony_ntpdata_requests(struct fake_chrony *f)
{
    pthread_mutex_lock(&f->lock);
    unsigned n = f->ntpdata_requests;
    pthread_mutex_unlock(&f->lock);
    return n;
}

static bool zeros(const uint8_t *p, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        if (p[i] != 0) {
            return false;
        }
    }
    return true;
}

/* The command of a well-formed request (33 tracking, 57 NTPDATA, 66 RESET_SOURCES, 3 BURST),
 * or 0 for a malformed one. */
static int request_command(const uint8_t *req, ssize_t n)
{
    if (n < 12 || req[0] != 6 || req[1] != 1 || req[2] != 0 || req[3] != 0 || req[4] != 0) {
        return 0;
    }
    if (req[5] == 33 && n == 104 && zeros(req, 12, 104)) {
        return 33;
    }
    /* RESET_SOURCES: the header and zeros, padded to the reply's 28 bytes. BURST: mask and
     * address unspecified (all zero) and two counts, 68 bytes. */
    if (req[5] == 66 && n == 28 && zeros(req, 12, 28)) {
        return 66;
    }
    if (req[5] == 3 && n == 68 && zeros(req, 12, 60)) {
        return 3;
    }
    /* NTPDATA: header, pad1/pad2 zero, the address (16 bytes @20, family @36, padding @38), then
     * zeros up to 152 bytes; an IPv4 address uses 4 bytes, the other 12 are zero. */
    if (req[5] != 57 || n != 152 || !zeros(req, 12, 20) || req[36] != 0 ||
        (req[37] != 1 && req[37] != 2) || !zeros(req, req[37] == 1 ? 24 : 36, 36) ||
        !zeros(req, 38, 152)) {
        return 0;
    }
    return 57;
}

/* A reply from a fresh socket on 127.0.0.1 and an ephemeral port: what a spoofer (or a
 * confused middlebox) would send. A client that checks where its replies come from drops it. */
static void send_from_other_port(struct fake_chrony *f, const uint8_t *reply, size_t len,
                                 const struct sockaddr_storage *to, socklen_t tolen)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        sendto(fd, reply, len, 0, (const struct sockaddr *)to, tolen) == (ssize_t)len) {
        pthread_mutex_lock(&f->lock);
        f->other_port_replies++;
        pthread_mutex_unlock(&f->lock);
    }
    close(fd);
}

/* Answers a checked NTPDATA request (called with f->lock held; releases it). */
static int answer_ntpdata(struct fake_chrony *f, const uint8_t *req, uint32_t seq,
                          const struct sockaddr_storage *from, socklen_t fromlen)
{
    f->ntpdata_requests++;
    f->last_ntpdata_family = req[37];
    f->last_ntpdata_sequence = seq;
    memcpy(f->last_ntpdata_addr, req + 20, 16);
    struct fake_chrony_script s = f->script;
    pthread_mutex_unlock(&f->lock);
    if (s.mode == FAKE_CHRONY_SILENT || s.ntpdata_silent || fromlen <= sizeof(sa_family_t)) {
        return 1;
    }
    uint8_t reply[2048];
    size_t len = fake_chrony_build_ntpdata_reply(&s, seq, req[37], req + 20, reply, sizeof(reply));
    (void)sendto(f->fd, reply, len, 0, (const struct sockaddr *)from, fromlen);
    return 1;
}

static int handle_request(struct fake_chrony *f)
{
    uint8_t req[2048];
    struct sockaddr_storage from;
    socklen_t fromlen = sizeof(from);
    ssize_t n = recvfrom(f->fd, req, sizeof(req), 0, (struct sockaddr *)&from, &fromlen);
    if (n < 0) {
        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
    }
    pthread_mutex_lock(&f->lock);
    int command = request_command(req, n);
    if (command == 0) {
        f->bad_requests++;
        pthread_mutex_unlock(&f->lock);
        return 1;
    }
    uint32_t seq = (uint32_t)req[8] << 24 | (uint32_t)req[9] << 16 | (uint32_t)req[10] << 8 |
                   (uint32_t)req[11];
    if (command == 57) {
        return answer_ntpdata(f, req, seq, &from, fromlen);
    }
    if (command == 66 || command == 3) {
        if (command == 66) {
            f->reset_requests++;
        } else {
            f->burst_requests++;
        }
        uint16_t status = f->script.reset_status;
        bool silent = f->script.mode == FAKE_CHRONY_SILENT;
        pthread_mutex_unlock(&f->lock);
        if (!silent && fromlen > sizeof(sa_family_t)) {
            uint8_t reply[28] = {6, 2, 0, 0, 0, (uint8_t)command, 0, 1};
            be16(reply + 8, status);
            be32(reply + 16, seq);
            (void)sendto(f->fd, reply, sizeof(reply), 0, (const struct sockaddr *)&from, fromlen);
        }
        return 1;
    }
    if (f->requests < sizeof(f->sequences) / sizeof(f->sequences[0])) {
        f->sequences[f->requests] = seq;
    }
    f->requests++;
    f->last_sequence = seq;
    f->last_attempt = (uint16_t)(req[6] << 8 | req[7]);
    struct fake_chrony_script s = f->script;
    if (f->refresh != NULL) {
        f->refresh(f->refresh_arg, f->requests, &s);
    }
    unsigned seen = f->requests;
    bool silent = s.mode == FAKE_CHRONY_SILENT || f->requests <= s.answer_after ||
                  (s.answer_limit != 0 && f->requests > s.answer_after + s.answer_limit);
    pthread_mutex_unlock(&f->lock);
    if (silent) {
        return 1;
    }
    if (seen <= s.garbage_first) {
        s.mode = FAKE_CHRONY_GARBAGE;
    }
    uint8_t reply[2048];
    size_t len = fake_chrony_build_reply(&s, seq, reply, sizeof(reply));
    /* An unbound unix client has no address to answer to: chronyd drops those too. */
    if (fromlen <= sizeof(sa_family_t)) {
        return 1;
    }
    if (s.other_port && from.ss_family == AF_INET) {
        send_from_other_port(f, reply, len, &from, fromlen);
    } else {
        (void)sendto(f->fd, reply, len, 0, (struct sockaddr *)&from, fromlen);
    }
    return 1;
}

int fake_chrony_serve_one(struct fake_chrony *f, int timeout_ms)
{
    struct pollfd pfd = {.fd = f->fd, .events = POLLIN, .revents = 0};
    int ready = poll(&pfd, 1, timeout_ms);
    if (ready < 0) {
        return errno == EINTR ? 0 : -errno;
    }
    if (ready == 0) {
        return 0;
    }
    return handle_request(f);
}

static void *serve_thread(void *arg)
{
    struct fake_chrony *f = arg;
    for (;;) {
        struct pollfd pfd[2] = {{.fd = f->fd, .events = POLLIN, .revents = 0},
                                {.fd = f->stop_pipe[0], .events = POLLIN, .revents = 0}};
        if (poll(pfd, 2, -1) < 0 && errno != EINTR) {
            break;
        }
        if (pfd[1].revents != 0) {
            break;
        }
        if (pfd[0].revents != 0 && handle_request(f) < 0) {
            break;
        }
    }
    return NULL;
}

int fake_chrony_start(struct fake_chrony *f)
{
    if (pipe(f->stop_pipe) < 0) {
        return -errno;
    }
    int rc = pthread_create(&f->thread, NULL, serve_thread, f);
    if (rc != 0) {
        return -rc;
    }
    f->running = true;
    return 0;
}

struct chrony_addr fake_chrony_udp_addr(uint16_t port)
{
    struct chrony_addr a;
    memset(&a, 0, sizeof(a));
    a.transport = CHRONY_TRANSPORT_UDP;
    strcpy(a.host, "127.0.0.1");
    a.port = port;
    return a;
}

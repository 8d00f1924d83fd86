/* The scripted fake oracled (see fake_oracled.h). */
#include "fake_oracled.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "arena.h"
#include "frame.h"

#define FAKE_EARLIEST UINT64_C(1795620000000000000)

static void send_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0) {
            return;
        }
        p += n;
        len -= (size_t)n;
    }
}

static void send_response(int fd, const struct response *r, bool dribble)
{
    uint8_t buf[WIRE_RESPONSE_MAX];
    int n = wire_encode_response(r, buf, sizeof(buf));
    if (n <= 0) {
        return;
    }
    if (!dribble) {
        send_all(fd, buf, (size_t)n);
        return;
    }
    for (int i = 0; i < n; i++) {
        send_all(fd, buf + i, 1);
        usleep(1000);
    }
}

/* r with its id field (1, varint) repeated 5000 times more: the last one counts, so the message
 * means the same while taking protobuf-c many more allocations to unpack. */
static void send_padded(int fd, const struct response *r)
{
    static uint8_t out[FRAME_MAX_TOTAL];
    uint8_t buf[WIRE_RESPONSE_MAX];
    int n = wire_encode_response(r, buf, sizeof(buf));
    const uint8_t *msg;
    size_t msg_len;
    if (n <= 0 || frame_decode(buf, (size_t)n, FRAME_MAX_LEN, &msg, &msg_len) != n) {
        return;
    }
    uint8_t id_field[FRAME_VARINT_MAX_LEN + 1];
    id_field[0] = 0x08;
    size_t id_len = 1 + frame_encode_header(id_field + 1, r->id);
    size_t body = msg_len + 5000 * id_len;
    size_t h = frame_encode_header(out, body);
    memcpy(out + h, msg, msg_len);
    for (size_t i = 0; i < 5000; i++) {
        memcpy(out + h + msg_len + i * id_len, id_field, id_len);
    }
    send_all(fd, out, h + body);
}

/* The correct reply to r. */
static struct response reply_to(struct fake_oracled *f, const struct request *r)
{
    struct response s;
    memset(&s, 0, sizeof(s));
    s.id = r->id;
    s.clock_status = 1;
    switch (r->op) {
    case REQ_OP_GET_TIMESTAMP: {
        uint32_t count = r->count == 0 ? 1 : r->count;
        uint64_t first = f->next_ts > r->min_ts_ns ? f->next_ts : r->min_ts_ns + 1;
        f->next_ts = first + count;
        s.kind = RESP_TIMESTAMPS;
        s.u.ts.first_ns = first;
        s.u.ts.count = count;
        s.u.ts.bound_ns = 1000;
        s.u.ts.earliest_ns = r->commit_wait ? first + count : first - 500;
        s.u.ts.latest_ns = s.u.ts.earliest_ns + 2000;
        s.u.ts.waited_ns = r->commit_wait ? 2000 : 0;
        break;
    }
    case REQ_OP_NOW:
        s.kind = RESP_BOUNDS;
        s.u.bounds.earliest_ns = FAKE_EARLIEST;
        s.u.bounds.latest_ns = FAKE_EARLIEST + 2000;
        break;
    case REQ_OP_BEFORE:
        s.kind = RESP_BEFORE;
        s.u.answer = r->ts_ns < FAKE_EARLIEST;
        break;
    case REQ_OP_AFTER:
        s.kind = RESP_AFTER;
        s.u.answer = r->ts_ns > FAKE_EARLIEST + 2000;
        break;
    case REQ_OP_WAIT_UNTIL:
        s.kind = RESP_WAITED;
        s.u.waited_ns = 1234;
        break;
    case REQ_OP_SERVER_INFO:
        s.kind = RESP_INFO;
        s.u.info.version = "9.9.9";
        s.u.info.instance_id = "00112233445566778899aabbccddeeff";
        s.u.info.time_source = "fake";
        s.u.info.max_drift_ppb = 15000;
        s.u.info.max_wait_ns = 100000000;
        s.u.info.max_count = 65536;
        break;
    case REQ_OP_NONE:
        s.kind = RESP_ERROR;
        s.u.error.code = WIRE_ERROR_UNSUPPORTED;
        s.u.error.message = "unsupported";
        break;
    }
    return s;
}

static struct response error_reply(uint64_t id, enum wire_error code, bool retriable,
                                   const char *message)
{
    struct response s;
    memset(&s, 0, sizeof(s));
    s.id = id;
    s.kind = RESP_ERROR;
    s.u.error.code = code;
    s.u.error.retriable = retriable;
    s.u.error.message = message;
    return s;
}

/* Acts on one request. Returns false when the connection is to be closed. */
static bool act(struct fake_oracled *f, int fd, enum fake_act a, const struct request *r,
                struct response *held, size_t *n_held)
{
    static const uint8_t garbage[] = {3, 0xff, 0xff, 0xff};
    static const uint8_t half[] = {20, 0x08, 0x01, 0x10, 0x01, 0x1a};
    static const uint8_t oversized[] = {0xf0, 0xa2, 0x04}; /* 70000 */
    struct response s = reply_to(f, r);
    switch (a) {
    case FAKE_OK:
        send_response(fd, &s, false);
        return true;
    case FAKE_DRIBBLE:
        send_response(fd, &s, true);
        return true;
    case FAKE_OK_CLOSE:
        send_response(fd, &s, false);
        return false;
    case FAKE_SHUTDOWN:
        s = error_reply(r->id, WIRE_ERROR_SHUTTING_DOWN, true, "shutting down");
        send_response(fd, &s, false);
        return false;
    case FAKE_PADDED:
        send_padded(fd, &s);
        return true;
    case FAKE_SLOW:
        usleep(30000);
        send_response(fd, &s, false);
        return true;
    case FAKE_SLOW_CLOSE:
        usleep(50000);
        return false;
    case FAKE_WAIT_LIMIT:
        usleep(30000);
        if (r->op == REQ_OP_WAIT_UNTIL && r->ts_ns > FAKE_WAIT_LIMIT_NS) {
            s = error_reply(r->id, WIRE_ERROR_WAIT_TOO_LONG, true, "wait too long");
        }
        send_response(fd, &s, false);
        return true;
    case FAKE_GARBAGE:
        send_all(fd, garbage, sizeof(garbage));
        return true;
    case FAKE_WRONG_ID:
        s.id += 1000;
        send_response(fd, &s, false);
        return true;
    case FAKE_CLOSE_MID:
        send_all(fd, half, sizeof(half));
        return false;
    case FAKE_SILENT:
        return true;
    case FAKE_OVERSIZED:
        send_all(fd, oversized, sizeof(oversized));
        return true;
    case FAKE_CLOCK_ERROR:
        s = error_reply(r->id, WIRE_ERROR_CLOCK_UNAVAILABLE, true,
                        "clock unavailable: chrony is not synchronised");
        s.clock_status = 0;
        send_response(fd, &s, false);
        return false;
    case FAKE_ID0_ERROR:
        s = error_reply(0, WIRE_ERROR_BAD_REQUEST, false, "frame length above the maximum");
        send_response(fd, &s, false);
        return false;
    case FAKE_BAD_COUNT:
        s.u.ts.count++;
        send_response(fd, &s, false);
        return true;
    case FAKE_NOT_PAST:
        s.u.ts.earliest_ns = s.u.ts.first_ns;
        send_response(fd, &s, false);
        return true;
    case FAKE_REVERSE3:
        held[(*n_held)++] = s;
        if (*n_held == 3) {
            for (size_t i = 3; i-- > 0;) {
                send_response(fd, &held[i], false);
            }
            *n_held = 0;
        }
        return true;
    }
    return true;
}

static void serve(struct fake_oracled *f, int fd, enum fake_act a)
{
    uint8_t buf[2 * FRAME_MAX_TOTAL];
    size_t len = 0;
    struct arena arena;
    if (arena_init(&arena, 4 * FRAME_MAX_TOTAL) < 0) {
        return;
    }
    struct response held[3];
    size_t n_held = 0;
    bool open = true;
    while (open && !f->stop) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0) {
            continue;
        }
        ssize_t n = recv(fd, buf + len, sizeof(buf) - len, 0);
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
        for (;;) {
            const uint8_t *msg;
            size_t msg_len;
            int fl = frame_decode(buf, len, FRAME_MAX_LEN, &msg, &msg_len);
            if (fl <= 0) {
                open = fl == 0;
                break;
            }
            struct request r;
            arena_reset(&arena);
            if (wire_decode_request(msg, msg_len, &arena, &r) == 0) {
                pthread_mutex_lock(&f->lock);
                if (f->n_requests < FAKE_REQUESTS_MAX) {
                    f->requests[f->n_requests++] = r;
                }
                pthread_mutex_unlock(&f->lock);
                open = act(f, fd, a, &r, held, &n_held);
            }
            memmove(buf, buf + fl, len - (size_t)fl);
            len -= (size_t)fl;
            if (!open) {
                break;
            }
        }
    }
    arena_fini(&arena);
}

static void *run(void *arg)
{
    struct fake_oracled *f = arg;
    while (!f->stop) {
        struct pollfd p = {.fd = f->listen_fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0) {
            continue;
        }
        int fd = accept(f->listen_fd, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        pthread_mutex_lock(&f->lock);
        size_t k = f->connections++;
        pthread_mutex_unlock(&f->lock);
        enum fake_act a = f->script[k < f->script_len ? k : f->script_len - 1];
        serve(f, fd, a);
        close(fd);
    }
    return NULL;
}

int fake_oracled_start(struct fake_oracled *f, const enum fake_act *script, size_t len)
{
    memset(f, 0, sizeof(*f));
    f->listen_fd = -1;
    atomic_init(&f->stop, false);
    f->next_ts = UINT64_C(1000);
    if (len == 0 || len > FAKE_SCRIPT_MAX) {
        return -EINVAL;
    }
    memcpy(f->script, script, len * sizeof(script[0]));
    f->script_len = len;
    f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    if (f->listen_fd < 0 || bind(f->listen_fd, (struct sockaddr *)&sa, sl) < 0 ||
        listen(f->listen_fd, 16) < 0 ||
        getsockname(f->listen_fd, (struct sockaddr *)&sa, &sl) < 0) {
        int rc = -errno;
        if (f->listen_fd >= 0) {
            close(f->listen_fd);
        }
        return rc;
    }
    f->port = ntohs(sa.sin_port);
    pthread_mutex_init(&f->lock, NULL);
    if (pthread_create(&f->thread, NULL, run, f) != 0) {
        close(f->listen_fd);
        pthread_mutex_destroy(&f->lock);
        return -EAGAIN;
    }
    return 0;
}

void fake_oracled_stop(struct fake_oracled *f)
{
    f->stop = true;
    pthread_join(f->thread, NULL);
    close(f->listen_fd);
    pthread_mutex_destroy(&f->lock);
}

void fake_oracled_addr(const struct fake_oracled *f, char *buf, size_t cap)
{
    snprintf(buf, cap, "127.0.0.1:%u", (unsigned)f->port);
}

size_t fake_oracled_connections(struct fake_oracled *f)
{
    pthread_mutex_lock(&f->lock);
    size_t n = f->connections;
    pthread_mutex_unlock(&f->lock);
    return n;
}

bool fake_oracled_request(struct fake_oracled *f, size_t i, struct request *out)
{
    pthread_mutex_lock(&f->lock);
    bool have = i < f->n_requests;
    if (have) {
        *out = f->requests[i];
    }
    pthread_mutex_unlock(&f->lock);
    return have;
}

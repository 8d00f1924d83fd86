/*
 * fake_vmclock: stands in for the hypervisor on a regular file laid out as Linux's struct
 * vmclock_abi (include/uapi/linux/vmclock-abi.h, little-endian). It writes through a MAP_SHARED
 * mapping of the file, so a reader that maps the same file (cb_vmclock_open) sees the writes as
 * it would see a device's: concurrently, a field at a time.
 *
 * The layout is spelt out here from the ABI, not taken from clockbound/vmclock.c, so a layout
 * mistake in either shows. Every write follows the hypervisor's protocol: seq_count made odd,
 * the fields stored (each with release ordering), seq_count made even (release). Every write
 * keeps time_sec = 2 x disruption_marker and time_frac_sec = ~disruption_marker, so a reader can
 * tell one whole write from a mix of two.
 *
 *   fake_vmclock create PATH [--marker N] [--status S] [--magic HEX] [--version V] [--size N]
 *                            [--length N] [--seq N] [--flags HEX] [--counter-id N]
 *                            [--time-type N] [--maxerror-ns N] [--gen N]
 *   fake_vmclock bump PATH [--marker N]      one write: the marker + 1 (or N)
 *   fake_vmclock set-status PATH S           one write: clock_status S (0..255 or a name)
 *   fake_vmclock hold-odd PATH [--marker N] [--timeout S]
 *                                            seq_count odd and the marker already changed,
 *                                            "odd" printed; on SIGTERM/SIGINT the write is
 *                                            finished (time_sec, seq_count even), "even"; after
 *                                            S seconds (default 60) without a signal, the same,
 *                                            then exit status 1 (a test that died)
 *   fake_vmclock churn PATH [--seconds S] [--dawdle N]
 *                                            writes (marker + 1 each) as fast as it can, N
 *                                            spins between the marker and time_sec stores,
 *                                            for S seconds (default 1) or until SIGTERM
 *   fake_vmclock show PATH                   prints the page
 *
 * Commands that write print the page's state after it: "seq S marker M status NAME"; churn
 * prints "writes N" first. Exit status 0, 1 on a failure, 2 for bad usage.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* struct vmclock_abi, version 1, and the vm_generation_counter later kernels append. */
struct abi {
    uint32_t magic;
    uint32_t size;
    uint16_t version;
    uint8_t counter_id;
    uint8_t time_type;
    uint32_t seq_count;
    uint64_t disruption_marker;
    uint64_t flags;
    uint8_t pad[2];
    uint8_t clock_status;
    uint8_t leap_second_smearing_hint;
    uint16_t tai_offset_sec;
    uint8_t leap_indicator;
    uint8_t counter_period_shift;
    uint64_t counter_value;
    uint64_t counter_period_frac_sec;
    uint64_t counter_period_esterror_rate_frac_sec;
    uint64_t counter_period_maxerror_rate_frac_sec;
    uint64_t time_sec;
    uint64_t time_frac_sec;
    uint64_t time_esterror_nanosec;
    uint64_t time_maxerror_nanosec;
    uint64_t vm_generation_counter;
};
_Static_assert(offsetof(struct abi, seq_count) == 12, "seq_count at 12");
_Static_assert(offsetof(struct abi, disruption_marker) == 16, "disruption_marker at 16");
_Static_assert(offsetof(struct abi, flags) == 24, "flags at 24");
_Static_assert(offsetof(struct abi, clock_status) == 34, "clock_status at 34");
_Static_assert(offsetof(struct abi, tai_offset_sec) == 36, "tai_offset_sec at 36");
_Static_assert(offsetof(struct abi, counter_period_shift) == 39, "counter_period_shift at 39");
_Static_assert(offsetof(struct abi, counter_value) == 40, "counter_value at 40");
_Static_assert(offsetof(struct abi, time_sec) == 72, "time_sec at 72");
_Static_assert(offsetof(struct abi, time_frac_sec) == 80, "time_frac_sec at 80");
_Static_assert(offsetof(struct abi, time_maxerror_nanosec) == 96, "time_maxerror at 96");
_Static_assert(offsetof(struct abi, vm_generation_counter) == 104, "vm_generation at 104");

#define MAGIC       0x4b4c4356u
#define ABI_V1_LEN  104
#define DEFAULT_LEN 4096

static const char *const status_names[] = {"unknown", "initializing", "synchronized", "freerunning",
                                           "unreliable"};

static volatile sig_atomic_t stop;
static volatile sig_atomic_t timed_out;

static void on_signal(int sig)
{
    if (sig == SIGALRM) {
        timed_out = 1;
    }
    stop = 1;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: fake_vmclock create PATH [--marker N] [--status S] [--magic HEX]\n"
            "                               [--version V] [--size N] [--length N] [--seq N]\n"
            "                               [--flags HEX] [--counter-id N] [--time-type N]\n"
            "                               [--maxerror-ns N] [--gen N]\n"
            "       fake_vmclock bump PATH [--marker N]\n"
            "       fake_vmclock set-status PATH S\n"
            "       fake_vmclock hold-odd PATH [--marker N] [--timeout S]\n"
            "       fake_vmclock churn PATH [--seconds S] [--dawdle N]\n"
            "       fake_vmclock show PATH\n");
}

static int parse_u64(const char *s, int base, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > max) {
        fprintf(stderr, "fake_vmclock: bad number '%s'\n", s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_status(const char *s, uint8_t *out)
{
    for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++) {
        if (strcasecmp(s, status_names[i]) == 0) {
            *out = (uint8_t)i;
            return 0;
        }
    }
    uint64_t v;
    if (parse_u64(s, 0, 255, &v) != 0) {
        return -1;
    }
    *out = (uint8_t)v;
    return 0;
}

/* The file mapped read-write and shared. At least 104 bytes: vm_generation_counter, the one
 * field beyond, is written only by create. */
struct page {
    int fd;
    struct abi *abi;
    size_t len;
};

static int map_page(const char *path, struct page *p)
{
    p->fd = open(path, O_RDWR | O_CLOEXEC);
    if (p->fd < 0) {
        fprintf(stderr, "fake_vmclock: %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(p->fd, &st) != 0 || st.st_size < ABI_V1_LEN) {
        fprintf(stderr, "fake_vmclock: %s: shorter than %d bytes (make it with create)\n", path,
                ABI_V1_LEN);
        close(p->fd);
        return -1;
    }
    p->len = (size_t)st.st_size;
    void *m = mmap(NULL, p->len, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
    if (m == MAP_FAILED) {
        fprintf(stderr, "fake_vmclock: %s: mmap: %s\n", path, strerror(errno));
        close(p->fd);
        return -1;
    }
    p->abi = m;
    return 0;
}

static void unmap_page(struct page *p)
{
    munmap(p->abi, p->len);
    close(p->fd);
}

static uint32_t seq_now(const struct page *p)
{
    return le32toh(__atomic_load_n(&p->abi->seq_count, __ATOMIC_ACQUIRE));
}

static uint64_t marker_now(const struct page *p)
{
    return le64toh(__atomic_load_n(&p->abi->disruption_marker, __ATOMIC_ACQUIRE));
}

/* Step 1 of a write: seq_count odd (left odd if a write was already under way). */
static uint32_t write_begin(struct page *p)
{
    uint32_t s = seq_now(p);
    uint32_t odd = s | 1u;
    __atomic_store_n(&p->abi->seq_count, htole32(odd), __ATOMIC_RELAXED);
    return odd;
}

/* Step 2: a field, stored with release so a reader that sees it also sees seq_count odd. */
static void store64(uint64_t *field, uint64_t v)
{
    __atomic_store_n(field, htole64(v), __ATOMIC_RELEASE);
}

/* Step 3: seq_count even, released after every field. */
static void write_end(struct page *p, uint32_t odd)
{
    __atomic_store_n(&p->abi->seq_count, htole32(odd + 1u), __ATOMIC_RELEASE);
}

static void store_marker_pair(struct page *p, uint64_t marker)
{
    store64(&p->abi->disruption_marker, marker);
    store64(&p->abi->time_sec, marker * 2u);
    store64(&p->abi->time_frac_sec, ~marker);
}

static void print_state(const struct page *p)
{
    uint8_t st = __atomic_load_n(&p->abi->clock_status, __ATOMIC_ACQUIRE);
    printf("seq %" PRIu32 " marker %" PRIu64 " status %s\n", seq_now(p), marker_now(p),
           st < 5 ? status_names[st] : "invalid");
    fflush(stdout);
}

struct opts {
    uint64_t marker, magic, version, size, length, seq, flags, counter_id, time_type, maxerror_ns,
        gen, dawdle, timeout;
    double seconds;
    uint8_t status;
    int have_marker, have_size, have_gen;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        {"marker", required_argument, NULL, 'm'},      {"status", required_argument, NULL, 's'},
        {"magic", required_argument, NULL, 'M'},       {"version", required_argument, NULL, 'v'},
        {"size", required_argument, NULL, 'z'},        {"length", required_argument, NULL, 'l'},
        {"seq", required_argument, NULL, 'q'},         {"flags", required_argument, NULL, 'f'},
        {"counter-id", required_argument, NULL, 'c'},  {"time-type", required_argument, NULL, 't'},
        {"maxerror-ns", required_argument, NULL, 'e'}, {"gen", required_argument, NULL, 'g'},
        {"seconds", required_argument, NULL, 'S'},     {"dawdle", required_argument, NULL, 'd'},
        {"timeout", required_argument, NULL, 'T'},     {NULL, 0, NULL, 0},
    };
    int c;
    int rc = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            rc = parse_u64(optarg, 0, UINT64_MAX / 2, &o->marker);
            o->have_marker = 1;
            break;
        case 's':
            rc = parse_status(optarg, &o->status);
            break;
        case 'M':
            rc = parse_u64(optarg, 16, UINT32_MAX, &o->magic);
            break;
        case 'v':
            rc = parse_u64(optarg, 0, UINT16_MAX, &o->version);
            break;
        case 'z':
            rc = parse_u64(optarg, 0, UINT32_MAX, &o->size);
            o->have_size = 1;
            break;
        case 'l':
            rc = parse_u64(optarg, 0, 1u << 24, &o->length);
            break;
        case 'q':
            rc = parse_u64(optarg, 0, UINT32_MAX, &o->seq);
            break;
        case 'f':
            rc = parse_u64(optarg, 16, UINT64_MAX, &o->flags);
            break;
        case 'c':
            rc = parse_u64(optarg, 0, 255, &o->counter_id);
            break;
        case 't':
            rc = parse_u64(optarg, 0, 255, &o->time_type);
            break;
        case 'e':
            rc = parse_u64(optarg, 0, UINT64_MAX, &o->maxerror_ns);
            break;
        case 'g':
            rc = parse_u64(optarg, 0, UINT64_MAX, &o->gen);
            o->have_gen = 1;
            break;
        case 'S':
            o->seconds = atof(optarg);
            break;
        case 'd':
            rc = parse_u64(optarg, 0, 1u << 30, &o->dawdle);
            break;
        case 'T':
            rc = parse_u64(optarg, 0, 86400, &o->timeout);
            break;
        default:
            rc = -1;
        }
    }
    return rc;
}

static int cmd_create(const char *path, const struct opts *o)
{
    size_t len = (size_t)o->length;
    size_t cap = len > sizeof(struct abi) ? len : sizeof(struct abi);
    uint8_t *buf = calloc(1, cap);
    if (buf == NULL) {
        return 1;
    }
    struct abi a;
    memset(&a, 0, sizeof(a));
    a.magic = htole32((uint32_t)o->magic);
    a.size = htole32((uint32_t)(o->have_size ? o->size : len));
    a.version = htole16((uint16_t)o->version);
    a.counter_id = (uint8_t)o->counter_id;
    a.time_type = (uint8_t)o->time_type;
    a.seq_count = htole32((uint32_t)o->seq);
    a.disruption_marker = htole64(o->marker);
    a.flags = htole64(o->flags);
    a.clock_status = o->status;
    a.tai_offset_sec = htole16(37);
    a.counter_period_shift = 29;
    a.time_sec = htole64(o->marker * 2u);
    a.time_frac_sec = htole64(~o->marker);
    a.time_esterror_nanosec = htole64(o->maxerror_ns / 2u);
    a.time_maxerror_nanosec = htole64(o->maxerror_ns);
    a.vm_generation_counter = htole64(o->gen);
    memcpy(buf, &a, sizeof(a));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "fake_vmclock: %s: %s\n", path, strerror(errno));
        free(buf);
        return 1;
    }
    ssize_t n = len > 0 ? write(fd, buf, len) : 0;
    int rc = (n < 0 || (size_t)n != len || close(fd) != 0) ? 1 : 0;
    if (rc != 0) {
        fprintf(stderr, "fake_vmclock: %s: write failed\n", path);
    }
    free(buf);
    return rc;
}

static int cmd_bump(struct page *p, const struct opts *o)
{
    uint32_t odd = write_begin(p);
    store_marker_pair(p, o->have_marker ? o->marker : marker_now(p) + 1u);
    write_end(p, odd);
    print_state(p);
    return 0;
}

static int cmd_set_status(struct page *p, uint8_t status)
{
    uint32_t odd = write_begin(p);
    __atomic_store_n(&p->abi->clock_status, status, __ATOMIC_RELEASE);
    write_end(p, odd);
    print_state(p);
    return 0;
}

static int cmd_hold_odd(struct page *p, const struct opts *o)
{
    uint32_t odd = write_begin(p);
    uint64_t marker = o->have_marker ? o->marker : marker_now(p) + 1u;
    /* Half the write: a reader ignoring seq_count sees the new marker with the old time_sec. */
    store64(&p->abi->disruption_marker, marker);
    /* SIGTERM and SIGINT are blocked (main) except inside sigsuspend, so none is missed. */
    printf("odd\n");
    fflush(stdout);
    sigset_t waitmask;
    sigprocmask(SIG_SETMASK, NULL, &waitmask);
    sigdelset(&waitmask, SIGTERM);
    sigdelset(&waitmask, SIGINT);
    alarm((unsigned)o->timeout);
    while (!stop) {
        sigsuspend(&waitmask);
    }
    store64(&p->abi->time_sec, marker * 2u);
    store64(&p->abi->time_frac_sec, ~marker);
    write_end(p, odd);
    printf("even\n");
    print_state(p);
    if (timed_out) {
        fprintf(stderr, "fake_vmclock: hold-odd: no signal in %" PRIu64 " s\n", o->timeout);
        return 1;
    }
    return 0;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmd_churn(struct page *p, const struct opts *o)
{
    double end = now_s() + (o->seconds > 0 ? o->seconds : 1.0);
    uint64_t writes = 0;
    uint64_t marker = marker_now(p);
    while (!stop && (writes % 1024 != 0 || now_s() < end)) {
        uint32_t odd = write_begin(p);
        marker++;
        store64(&p->abi->disruption_marker, marker);
        for (uint64_t i = 0; i < o->dawdle; i++) {
            (void)__atomic_load_n(&p->abi->seq_count, __ATOMIC_RELAXED);
        }
        store64(&p->abi->time_sec, marker * 2u);
        store64(&p->abi->time_frac_sec, ~marker);
        write_end(p, odd);
        writes++;
    }
    printf("writes %" PRIu64 "\n", writes);
    print_state(p);
    return 0;
}

static int cmd_show(const struct page *p)
{
    const struct abi *a = p->abi;
    uint8_t st = __atomic_load_n(&a->clock_status, __ATOMIC_ACQUIRE);
    printf("magic 0x%08" PRIx32 " size %" PRIu32 " version %u counter_id %u time_type %u\n",
           le32toh(a->magic), le32toh(a->size), (unsigned)le16toh(a->version),
           (unsigned)a->counter_id, (unsigned)a->time_type);
    printf("seq %" PRIu32 " marker %" PRIu64 " flags 0x%" PRIx64 " status %u (%s)\n", seq_now(p),
           marker_now(p), le64toh(__atomic_load_n(&a->flags, __ATOMIC_ACQUIRE)), (unsigned)st,
           st < 5 ? status_names[st] : "invalid");
    printf("time_sec %" PRIu64 " time_frac_sec 0x%016" PRIx64 " maxerror_ns %" PRIu64 "\n",
           le64toh(__atomic_load_n(&a->time_sec, __ATOMIC_ACQUIRE)),
           le64toh(__atomic_load_n(&a->time_frac_sec, __ATOMIC_ACQUIRE)),
           le64toh(__atomic_load_n(&a->time_maxerror_nanosec, __ATOMIC_ACQUIRE)));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        usage();
        return 2;
    }
    const char *cmd = argv[1];
    const char *path = argv[2];
    struct opts o = {.magic = MAGIC,
                     .version = 1,
                     .length = DEFAULT_LEN,
                     .counter_id = 1, /* x86 TSC */
                     .time_type = 1,  /* TAI */
                     .status = 2,     /* SYNCHRONIZED */
                     .flags = 0x61,   /* TAI offset, time esterror and maxerror valid */
                     .maxerror_ns = 100000,
                     .timeout = 60};
    const char *status_arg = NULL;
    int first = 3;
    if (strcmp(cmd, "set-status") == 0) {
        if (argc < 4) {
            usage();
            return 2;
        }
        status_arg = argv[3];
        first = 4;
    }
    /* getopt_long on the arguments after the command and path. */
    optind = 1;
    if (parse_opts(argc - first + 1, argv + first - 1, &o) != 0 || optind != argc - first + 1) {
        usage();
        return 2;
    }
    if (strcmp(cmd, "create") == 0) {
        return cmd_create(path, &o);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    if (strcmp(cmd, "hold-odd") == 0) {
        sigset_t block;
        sigemptyset(&block);
        sigaddset(&block, SIGTERM);
        sigaddset(&block, SIGINT);
        sigprocmask(SIG_BLOCK, &block, NULL);
    }
    struct page p;
    int rc = 2;
    if (strcmp(cmd, "bump") != 0 && strcmp(cmd, "set-status") != 0 &&
        strcmp(cmd, "hold-odd") != 0 && strcmp(cmd, "churn") != 0 && strcmp(cmd, "show") != 0) {
        usage();
        return 2;
    }
    if (map_page(path, &p) != 0) {
        return 1;
    }
    if (strcmp(cmd, "bump") == 0) {
        rc = cmd_bump(&p, &o);
    } else if (strcmp(cmd, "set-status") == 0) {
        uint8_t st;
        rc = parse_status(status_arg, &st) != 0 ? 2 : cmd_set_status(&p, st);
    } else if (strcmp(cmd, "hold-odd") == 0) {
        rc = cmd_hold_odd(&p, &o);
    } else if (strcmp(cmd, "churn") == 0) {
        rc = cmd_churn(&p, &o);
    } else {
        rc = cmd_show(&p);
    }
    unmap_page(&p);
    return rc;
}

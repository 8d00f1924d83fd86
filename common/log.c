/* Logging to stderr (see log.h). */
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "errtext.h"

enum log_level log_threshold = LOG_LEVEL_INFO;
static const char *log_ident = "oracled";

int log_parse_level(const char *text, enum log_level *out)
{
    static const char *const names[] = {"err", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

void log_set_ident(const char *ident)
{
    log_ident = ident;
}

int log_journal_stream_is(const char *journal_stream, unsigned long long dev,
                          unsigned long long ino)
{
    if (journal_stream == NULL) {
        return 0;
    }
    unsigned long long d = 0, i = 0;
    char end = 0;
    if (sscanf(journal_stream, "%llu:%llu%c", &d, &i, &end) != 2) {
        return 0;
    }
    return d == dev && i == ino;
}

const char *log_priority_prefix(enum log_level level)
{
    static const char *const prefixes[] = {"<3>", "<4>", "<6>", "<7>"};
    return (unsigned)level < 4 ? prefixes[level] : "<6>";
}

/* Whether stderr is the journal: decided once, at the first line. */
static int to_journal(void)
{
    static int known = -1;
    if (known < 0) {
        struct stat st;
        known = fstat(2, &st) == 0 &&
                log_journal_stream_is(getenv("JOURNAL_STREAM"), (unsigned long long)st.st_dev,
                                      (unsigned long long)st.st_ino);
    }
    return known;
}

void log_emit(enum log_level level, int err, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);

    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *prefix = to_journal() ? log_priority_prefix(level) : "";
    if (err != 0) {
        fprintf(stderr, "%s%s.%06ldZ %s: %s: %s: %s\n", prefix, when, ts.tv_nsec / 1000, log_ident,
                names[level], msg, err_text(err));
    } else {
        fprintf(stderr, "%s%s.%06ldZ %s: %s: %s\n", prefix, when, ts.tv_nsec / 1000, log_ident,
                names[level], msg);
    }
}

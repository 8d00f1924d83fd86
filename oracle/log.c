/* Logging to stderr (see log.h). */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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
    if (err != 0) {
        fprintf(stderr, "%s.%06ldZ %s: %s: %s: %s\n", when, ts.tv_nsec / 1000, log_ident,
                names[level], msg, strerror(err < 0 ? -err : err));
    } else {
        fprintf(stderr, "%s.%06ldZ %s: %s: %s\n", when, ts.tv_nsec / 1000, log_ident, names[level],
                msg);
    }
}

/*
 * Logging to stderr, one line per event: "2026-11-25T16:20:00.123456Z oracled: warn: ...".
 * log_*errno variants append ": " and what err says (errtext.h: errno, positive or negated, or a
 * libuv code), as OpenBSD's warn/warnx split. The level is checked
 * before the arguments are formatted. Single-threaded, like the daemon.
 *
 * When stderr is the systemd journal (JOURNAL_STREAM names its device and inode), each line
 * starts with the syslog priority, "<3>" err, "<4>" warn, "<6>" info, "<7>" debug
 * (sd-daemon(3)), so the journal files it at its level rather than all at info.
 */
#ifndef ORACLE_LOG_H
#define ORACLE_LOG_H

enum log_level {
    LOG_LEVEL_ERR = 0,
    LOG_LEVEL_WARN = 1,
    LOG_LEVEL_INFO = 2,
    LOG_LEVEL_DEBUG = 3,
};

/* The threshold: messages above it are dropped. Default LOG_LEVEL_INFO. */
extern enum log_level log_threshold;

/* Parses "err", "warn", "info" or "debug". Returns 0 or -EINVAL. */
int log_parse_level(const char *text, enum log_level *out);

/* Sets the program name printed in each line (default "oracled"). */
void log_set_ident(const char *ident);

/* Whether a JOURNAL_STREAM value ("DEVICE:INODE", decimal; NULL when unset) names the stream
 * with this device and inode. Pure. */
int log_journal_stream_is(const char *journal_stream, unsigned long long dev,
                          unsigned long long ino);
/* The syslog priority prefix for a level: "<3>" ... "<7>". */
const char *log_priority_prefix(enum log_level level);

void log_emit(enum log_level level, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_at(level, err, ...)                    \
    do {                                           \
        if ((level) <= log_threshold) {            \
            log_emit((level), (err), __VA_ARGS__); \
        }                                          \
    } while (0)

#define log_err(...)            log_at(LOG_LEVEL_ERR, 0, __VA_ARGS__)
#define log_warn(...)           log_at(LOG_LEVEL_WARN, 0, __VA_ARGS__)
#define log_info(...)           log_at(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_debug(...)          log_at(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)
#define log_err_errno(e, ...)   log_at(LOG_LEVEL_ERR, (e), __VA_ARGS__)
#define log_warn_errno(e, ...)  log_at(LOG_LEVEL_WARN, (e), __VA_ARGS__)
#define log_info_errno(e, ...)  log_at(LOG_LEVEL_INFO, (e), __VA_ARGS__)
#define log_debug_errno(e, ...) log_at(LOG_LEVEL_DEBUG, (e), __VA_ARGS__)

#endif

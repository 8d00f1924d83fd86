/* A growable text buffer for HTTP responses and metrics. */
#ifndef ORACLE_STRBUF_H
#define ORACLE_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
    char *data; /* NUL-terminated when len > 0; owned, free with strbuf_fini() */
    size_t len;
    size_t cap;
    bool failed; /* an allocation failed: the contents are incomplete */
};

void strbuf_init(struct strbuf *b);
void strbuf_fini(struct strbuf *b);
/* Appends formatted text; on allocation failure sets failed and appends nothing. */
void strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (quotes included). */
void strbuf_json_string(struct strbuf *b, const char *s);

#endif

/* A growable text buffer (see strbuf.h). */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "jsonout.h"

void strbuf_init(struct strbuf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = false;
}

void strbuf_fini(struct strbuf *b)
{
    free(b->data);
    strbuf_init(b);
}

static bool grow(struct strbuf *b, size_t need)
{
    if (need < b->cap) {
        return true;
    }
    size_t cap = b->cap ? b->cap : 1024;
    while (cap <= need) {
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !grow(b, b->len + (size_t)n + 1)) {
        b->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void strbuf_json_string(struct strbuf *b, const char *s)
{
    char esc[JSONOUT_ESCAPE_LEN];
    strbuf_printf(b, "\"");
    for (; *s != '\0'; s++) {
        strbuf_printf(b, "%s", jsonout_escape((unsigned char)*s, esc));
    }
    strbuf_printf(b, "\"");
}

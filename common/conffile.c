/* "key = value" configuration files (see conffile.h). Pure. */
#include "conffile.h"

#include <errno.h>
#include <string.h>

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

int conffile_parse(const char *text, size_t len, conffile_cb *cb, void *arg, int *err_line,
                   const char **why)
{
    size_t off = 0;
    for (int line = 1; off < len; line++) {
        const char *nl = memchr(text + off, '\n', len - off);
        size_t n = nl != NULL ? (size_t)(nl - (text + off)) : len - off;
        char buf[CONFFILE_MAX_LINE + 1];
        *err_line = line;
        if (n > CONFFILE_MAX_LINE) {
            *why = "line too long";
            return -EINVAL;
        }
        memcpy(buf, text + off, n);
        buf[n] = '\0';
        off += n + (nl != NULL);
        if (memchr(buf, '\0', n) != NULL) {
            *why = "NUL byte in line";
            return -EINVAL;
        }
        /* Strip a comment: a '#' at the start or after whitespace. */
        for (size_t i = 0; i < n; i++) {
            if (buf[i] == '#' && (i == 0 || is_space(buf[i - 1]))) {
                buf[i] = '\0';
                break;
            }
        }
        char *p = buf;
        while (is_space(*p)) {
            p++;
        }
        if (*p == '\0') {
            continue;
        }
        char *eq = strchr(p, '=');
        if (eq == NULL) {
            *why = "expected key = value";
            return -EINVAL;
        }
        char *key_end = eq;
        while (key_end > p && is_space(key_end[-1])) {
            key_end--;
        }
        *key_end = '\0';
        if (*p == '\0') {
            *why = "empty key";
            return -EINVAL;
        }
        for (const char *k = p; *k != '\0'; k++) {
            if (!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '-')) {
                *why = "keys are made of a-z, 0-9 and '-'";
                return -EINVAL;
            }
        }
        char *v = eq + 1;
        while (is_space(*v)) {
            v++;
        }
        char *v_end = v + strlen(v);
        while (v_end > v && is_space(v_end[-1])) {
            v_end--;
        }
        *v_end = '\0';
        if (*v == '\0') {
            *why = "empty value";
            return -EINVAL;
        }
        int rc = cb(p, v, line, arg);
        if (rc < 0) {
            *why = "invalid setting";
            return rc;
        }
    }
    return 0;
}

/*
 * Configuration files of "key = value" lines: keys are the long options' names, values what the
 * option takes. Blank lines and lines starting with '#' are ignored, and so is anything from a
 * '#' that follows whitespace. Pure: the caller reads the file and decides what keys mean.
 */
#ifndef ORACLE_CONFFILE_H
#define ORACLE_CONFFILE_H

#include <stddef.h>

#define CONFFILE_MAX_LINE 1024

/* Called for each setting, in file order; returns 0, or a negative errno to stop. */
typedef int conffile_cb(const char *key, const char *value, int line, void *arg);

/*
 * Parses text[0..len). Returns 0, the callback's error, or -EINVAL for a malformed line (no
 * '=', an empty key or value, a key with other than a-z, 0-9 and '-', a line too long), with
 * *err_line its number (from 1) and *why a sentence.
 */
int conffile_parse(const char *text, size_t len, conffile_cb *cb, void *arg, int *err_line,
                   const char **why);

#endif

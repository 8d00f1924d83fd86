/* JSON strings for the programs' --json output and the daemon's /healthz: one escaping rule. */
#ifndef ORACLE_JSONOUT_H
#define ORACLE_JSONOUT_H

#include <stdio.h>

#define JSONOUT_ESCAPE_LEN 7 /* the longest escape, "\u001f", and its NUL */

/* The JSON text for one byte of a string: itself, or \" \\ \u00XX for a quote, a backslash or
 * a control character. Written into buf; returns buf. */
const char *jsonout_escape(unsigned char ch, char buf[JSONOUT_ESCAPE_LEN]);

/* Writes s to f as a JSON string literal, quotes included. */
void jsonout_string(FILE *f, const char *s);

#endif

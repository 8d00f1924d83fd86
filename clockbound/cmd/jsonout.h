/* JSON output for the command-line programs' --json modes. */
#ifndef ORACLE_JSONOUT_H
#define ORACLE_JSONOUT_H

#include <stdio.h>

/* Writes s to f as a JSON string literal, quotes included. */
void jsonout_string(FILE *f, const char *s);

#endif

/* oracled's command line and configuration file, parsed once into a const struct
 * server_config. */
#ifndef ORACLE_CONFIG_H
#define ORACLE_CONFIG_H

#include <stddef.h>

#include "log.h"
#include "server.h"

struct config {
    struct server_config server;
    enum log_level log_level;
    /* The configuration file's settings as arguments (the config points into them). */
    char **file_argv;
    size_t file_argc;
    int *file_lines;
};

/*
 * Parses --config FILE (if given) and then argv, so command-line options win (a --listen or
 * --http-listen on the command line replaces the file's list). Returns 0 to run, 1 when
 * --help or --version was printed (exit 0), or -EINVAL after printing what is wrong to stderr
 * (exit 2). Call config_free() in every case.
 */
int config_parse(int argc, char **argv, struct config *out);

/* Frees what config_parse() allocated. */
void config_free(struct config *c);

#endif

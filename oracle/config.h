/* oracled's command line and configuration file, parsed once into a const struct
 * server_config, from one table of options (config.c, common/opts.h). */
#ifndef ORACLE_CONFIG_H
#define ORACLE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "opts.h"
#include "server.h"

struct config {
    struct server_config server;
    enum log_level log_level;
    int64_t keepalive_ns; /* --keepalive, as server.keepalive_s (whole seconds, rounded up) */
    /* The parse: it keeps the configuration file's values, which server points into. */
    struct opts_state opts;
};

/*
 * Parses --config FILE (if given; the last one) and then argv, so command-line options win (a
 * --listen or --http-listen on the command line replaces the file's list). Every value and
 * every rule between values is checked here, before anything is opened: addresses, ranges,
 * path lengths, --max-bound against --max-wait, one PHC setting, the same address given twice.
 * Returns 0 to run, 1 when --help or --version was printed on stdout (exit 0), or -EINVAL after
 * printing what is wrong to stderr (exit 2). Call config_free() in every case.
 */
int config_parse(int argc, char **argv, struct config *out);

/* Frees what config_parse() allocated. */
void config_free(struct config *c);

#endif

/* oracled's command line, parsed once into a const struct server_config. */
#ifndef ORACLE_CONFIG_H
#define ORACLE_CONFIG_H

#include "log.h"
#include "server.h"

struct config {
    struct server_config server;
    enum log_level log_level;
};

/*
 * Parses argv. Returns 0 to run, 1 when --help or --version was printed (exit 0), or -EINVAL
 * after printing what is wrong to stderr (exit 2).
 */
int config_parse(int argc, char **argv, struct config *out);

#endif

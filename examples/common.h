/*
 * What the examples share: a client for the server named on the command line (or
 * $ORACLE_SERVER, else 127.0.0.1:7600), and printing a timestamp.
 */
#ifndef ORACLE_EXAMPLES_COMMON_H
#define ORACLE_EXAMPLES_COMMON_H

#include <inttypes.h>
#include <oracle/client.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* A client of one thread (oracle_client_new()), or one that threads share (shared). */
static inline oracle_client *example_client_of(int argc, char **argv, bool shared)
{
    struct oracle_client_options o;
    oracle_client_options_init(&o);
    const char *env = getenv("ORACLE_SERVER");
    if (argc > 1) {
        o.servers = argv[1];
    } else if (env != NULL && env[0] != '\0') {
        o.servers = env;
    }
    struct oracle_error err;
    oracle_client *c = shared ? oracle_shared_new(&o, &err) : oracle_client_new(&o, &err);
    if (c == NULL) {
        fprintf(stderr, "%s\n", err.message);
    }
    return c;
}

static inline oracle_client *example_client(int argc, char **argv)
{
    return example_client_of(argc, argv, false);
}

/* Prints the error and returns the examples' exit status for errors. */
static inline int example_fail(const char *what, const struct oracle_error *err)
{
    fprintf(stderr, "%s failed: %s\n", what, err->message);
    return 2;
}

static inline void example_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

#endif

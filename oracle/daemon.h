/* The daemon's whole life, from the command line to exit, on a given clock: main() passes the
 * system's; a test build passes one it can step (tests/support/oracled_stepped.c). */
#ifndef ORACLE_DAEMON_H
#define ORACLE_DAEMON_H

#include "clock.h"

/* Runs oracled with argv on clock. Returns the process's exit status. */
int oracled_main(int argc, char **argv, struct cb_clock *clock);

#endif

/*
 * A CLOCK_REALTIME step for tests, without touching the system clock: the offset (decimal ns)
 * in the file named by $ORACLE_TEST_STEP_FILE, re-read after SIGUSR1. The stepped oracled
 * (oracled_stepped.c) and fake-chrony both follow it, so a test can step "the clock" they share
 * by writing the file and signalling both. Without the variable the offset is 0.
 */
#ifndef TESTS_STEP_OFFSET_H
#define TESTS_STEP_OFFSET_H

#include <stdint.h>

/* Reads the file and installs the SIGUSR1 handler. */
void step_offset_init(void);
/* The current offset, ns (re-read if a SIGUSR1 came since the last call). */
int64_t step_offset_ns(void);

#endif

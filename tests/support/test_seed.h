/* Seeds for randomised tests: printed, and repeatable with TEST_SEED=N. */
#ifndef TESTS_TEST_SEED_H
#define TESTS_TEST_SEED_H

/* Returns $TEST_SEED if set, else a time-based seed; prints "<test>: seed N" either way and
 * seeds srand() with it. */
unsigned test_seed(const char *test_name);

#endif

#include "test_seed.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

unsigned test_seed(const char *test_name)
{
    unsigned seed = (unsigned)time(NULL);
    const char *env = getenv("TEST_SEED");
    if (env != NULL) {
        seed = (unsigned)strtoul(env, NULL, 10);
    }
    printf("%s: seed %u (set TEST_SEED=%u to repeat)\n", test_name, seed, seed);
    srand(seed);
    return seed;
}

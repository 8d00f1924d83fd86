/* Small helpers shared by the daemon's modules. */
#ifndef ORACLE_UTIL_H
#define ORACLE_UTIL_H

#include <stddef.h>

/* The struct that contains member at ptr (libuv handles and queue nodes are embedded). */
#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif

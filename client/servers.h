/*
 * The client's server list: "host:port,[v6]:port,name" parsed into entries, in order. Pure: no
 * name resolution here (the connection does that at every attempt, so DNS changes are seen).
 */
#ifndef ORACLE_CLIENT_SERVERS_H
#define ORACLE_CLIENT_SERVERS_H

#include <stddef.h>
#include <stdint.h>

#define SERVERS_HOST_MAX 254 /* longest host name (RFC 1035: 253 characters) */
#define SERVERS_MAX      64  /* entries in one list */

struct server_addr {
    char host[SERVERS_HOST_MAX]; /* name or numeric address, without brackets */
    char port[6];                /* decimal, 1 .. 65535 */
};

/*
 * Parses text, a comma-separated list of HOST[:PORT] or [IPV6][:PORT] (an IPv6 address
 * without brackets takes the default port), into out[0 .. *n), at most cap entries. Blanks
 * around entries are ignored. Returns 0, or -EINVAL with *why pointing at a static sentence
 * about the first bad entry, whose position (0-based) is stored in *bad.
 */
int servers_parse(const char *text, uint16_t default_port, struct server_addr *out, size_t cap,
                  size_t *n, size_t *bad, const char **why);

/* Formats e as host:port, [v6]:port for a numeric IPv6 address. */
void servers_format(const struct server_addr *e, char *buf, size_t cap);

#endif

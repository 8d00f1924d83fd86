/*
 * The client's socket edge: connecting to the first server of a list that answers, with a
 * timeout per attempt, and the monotonic clock the deadlines are measured on.
 */
#ifndef ORACLE_CLIENT_SOCK_H
#define ORACLE_CLIENT_SOCK_H

#include <stddef.h>
#include <stdint.h>

#include "servers.h"

/*
 * Resolves each server in turn (getaddrinfo, every address it gives) and connects to the first
 * that accepts within timeout_ms per attempt. On success stores a non-blocking socket with
 * TCP_NODELAY in *fd, the index of the list's entry in *which and its numeric peer address in
 * peer, and returns 0. Otherwise returns
 * -ECONNREFUSED and writes into why what happened at each attempt ("127.0.0.1:7600: connection
 * refused; ...").
 */
int sock_connect(const struct server_addr *list, size_t n, uint32_t timeout_ms, int *fd,
                 size_t *which, char *peer, size_t peer_cap, char *why, size_t why_cap);

/* CLOCK_MONOTONIC in ns. */
int64_t sock_monotonic_ns(void);

#endif

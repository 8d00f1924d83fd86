/* "HOST:PORT" / "[IPV6]:PORT" listening addresses, for the TCP and HTTP listeners. */
#ifndef ORACLE_NETADDR_H
#define ORACLE_NETADDR_H

#include <stddef.h>
#include <sys/socket.h>

#include <uv.h>

/* Parses a numeric address and port. Returns 0 or -EINVAL. */
int netaddr_parse(const char *text, struct sockaddr_storage *out);

/* Formats a bound socket's address as HOST:PORT or [HOST]:PORT. */
void netaddr_format(const struct sockaddr_storage *ss, char *buf, size_t cap);

/* Binds and listens on text; logs and returns a negative errno / UV_E* on failure. The handle
 * is initialised either way and must be closed by the caller. */
int netaddr_listen(uv_loop_t *loop, uv_tcp_t *handle, const char *text, int backlog,
                   uv_connection_cb cb, const char *what);

/* Logs "listening on ADDR (what)" with the address actually bound (port 0 resolved). */
void netaddr_log_listening(uv_tcp_t *handle, const char *what);

#endif

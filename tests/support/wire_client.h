/*
 * A minimal blocking oracled client for tests: one TCP connection, requests encoded with the
 * daemon's own wire module, responses read frame by frame. Not the client library (that one
 * reconnects, pipelines by id and has timeouts per call); just enough to drive the server.
 */
#ifndef TESTS_WIRE_CLIENT_H
#define TESTS_WIRE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "frame.h"
#include "wire.h"

struct wire_client {
    int fd;
    uint8_t buf[2 * FRAME_MAX_TOTAL];
    size_t len;
    struct arena arena;
};

/* A request with the given id and operation, every other field zero. */
struct request wc_request(uint64_t id, enum req_op op);

/* Connects to host:port (numeric IPv4/IPv6). Returns 0 or a negative errno. */
int wc_connect(struct wire_client *c, const char *host, uint16_t port);
/* The same from the local IPv4 address from (127.0.0.2: another peer on loopback). */
int wc_connect_from(struct wire_client *c, const char *host, uint16_t port, const char *from);
/* Parses "HOST:PORT" / "[V6]:PORT" and connects. */
int wc_connect_addr(struct wire_client *c, const char *addr);
void wc_close(struct wire_client *c);

int wc_send(struct wire_client *c, const struct request *r);
int wc_send_raw(struct wire_client *c, const void *bytes, size_t len);
/* Reads one response (strings valid until the next call). Returns 0, -ETIMEDOUT, -EPIPE (the
 * server closed the connection), -EBADMSG or another negative errno. */
int wc_recv(struct wire_client *c, struct response *out, int timeout_ms);
/* Sends and waits for the response with the same id (others are an error: -EPROTO). */
int wc_call(struct wire_client *c, const struct request *r, struct response *out, int timeout_ms);
/* Waits up to timeout_ms for the server to close the connection: 0 if it did, -ETIMEDOUT if not,
 * -EPROTO if data came instead. */
int wc_wait_closed(struct wire_client *c, int timeout_ms);

#endif

/*
 * Whether this kernel offers kernel TLS: a loopback TCP connection made for the purpose is
 * asked for the "tls" upper-layer protocol (TCP_ULP), which is what OpenSSL's SSL_OP_ENABLE_KTLS
 * needs. Asked once at start, for the log, /healthz and /metrics.
 */
#ifndef ORACLE_KTLS_H
#define ORACLE_KTLS_H

#include <stdbool.h>
#include <stddef.h>

/* Returns true when the kernel takes the tls ULP; why says what was found either way. */
bool ktls_probe(char *why, size_t cap);

#endif

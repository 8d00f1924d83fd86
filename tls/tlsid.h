/*
 * Client identities: what an allow-list entry names, and whether a certificate is one of them.
 *
 * An entry is one of:
 *   CN=NAME       the subject's common name is NAME (its only one: a subject with two common
 *                 names matches no CN entry)
 *   DNS:NAME      a subjectAltName DNS name is NAME (compared without case)
 *   URI:URI       a subjectAltName URI is URI (a SPIFFE ID, say)
 *   IP:ADDRESS    a subjectAltName IP address is ADDRESS (as text, IPv4 or IPv6)
 *   email:ADDR    a subjectAltName email address is ADDR
 *   NAME          the common name or a DNS name is NAME
 * Names are compared whole: no wildcards, no prefixes.
 */
#ifndef ORACLE_TLSID_H
#define ORACLE_TLSID_H

#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>

#define TLSID_MAX_LEN 255 /* an entry's longest */

/* Whether entry is well formed (non-empty, not too long, a known prefix with a value, an IP
 * address that parses). */
bool tlsid_entry_ok(const char *entry);

/* Whether cert carries the identity one of entries[0..n) names. */
bool tlsid_allowed(X509 *cert, const char *const *entries, size_t n);

/* For logs: "CN=db-1, DNS:db-1.example" (the common name, then up to three DNS or URI names),
 * cut to fit cap. */
void tlsid_describe(X509 *cert, char *out, size_t cap);

#endif

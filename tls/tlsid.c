/* Client identities in certificates (see tlsid.h). */
#include "tlsid.h"

#include <arpa/inet.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum kind { BY_CN, BY_DNS, BY_URI, BY_IP, BY_EMAIL, BY_CN_OR_DNS };

struct prefix {
    const char *text;
    enum kind kind;
};

static const struct prefix prefixes[] = {
    {"CN=", BY_CN}, {"DNS:", BY_DNS}, {"URI:", BY_URI}, {"IP:", BY_IP}, {"email:", BY_EMAIL},
};

/* The entry's kind, and the value after its prefix. */
static enum kind parse(const char *entry, const char **value)
{
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t n = strlen(prefixes[i].text);
        if (strncmp(entry, prefixes[i].text, n) == 0) {
            *value = entry + n;
            return prefixes[i].kind;
        }
    }
    *value = entry;
    return BY_CN_OR_DNS;
}

/* Parses an IP address as text into out (4 or 16 bytes); returns its length or 0. */
static size_t ip_bytes(const char *text, unsigned char out[16])
{
    if (inet_pton(AF_INET, text, out) == 1) {
        return 4;
    }
    if (inet_pton(AF_INET6, text, out) == 1) {
        return 16;
    }
    return 0;
}

bool tlsid_entry_ok(const char *entry)
{
    size_t len = strlen(entry);
    if (len == 0 || len > TLSID_MAX_LEN) {
        return false;
    }
    const char *value = NULL;
    enum kind k = parse(entry, &value);
    if (value[0] == '\0') {
        return false;
    }
    unsigned char ip[16];
    return k != BY_IP || ip_bytes(value, ip) > 0;
}

/* Whether the subject's common name is value. A subject with more than one common name has
 * none that counts: which one names the client is ambiguous, and a CA that copies a requested
 * subject could be made to add an allowed one beside the requester's own. */
static bool cn_is(X509 *cert, const char *value)
{
    const X509_NAME *subject = X509_get_subject_name(cert);
    int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (i < 0 || X509_NAME_get_index_by_NID(subject, NID_commonName, i) >= 0) {
        return false;
    }
    const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
    size_t len = (size_t)ASN1_STRING_length(s);
    return len == strlen(value) && memcmp(ASN1_STRING_get0_data(s), value, len) == 0;
}

/* Whether a subjectAltName of kind k is value. */
static bool san_is(X509 *cert, enum kind k, const char *value)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (names == NULL) {
        return false;
    }
    unsigned char ip[16];
    size_t ip_len = k == BY_IP ? ip_bytes(value, ip) : 0;
    bool found = false;
    for (int i = 0; i < sk_GENERAL_NAME_num(names) && !found; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        const ASN1_STRING *s = NULL;
        if ((k == BY_DNS || k == BY_CN_OR_DNS) && g->type == GEN_DNS) {
            s = g->d.dNSName;
        } else if (k == BY_URI && g->type == GEN_URI) {
            s = g->d.uniformResourceIdentifier;
        } else if (k == BY_EMAIL && g->type == GEN_EMAIL) {
            s = g->d.rfc822Name;
        } else if (k == BY_IP && g->type == GEN_IPADD) {
            s = g->d.iPAddress;
        }
        if (s == NULL) {
            continue;
        }
        const unsigned char *data = ASN1_STRING_get0_data(s);
        size_t len = (size_t)ASN1_STRING_length(s);
        if (k == BY_IP) {
            found = len == ip_len && memcmp(data, ip, len) == 0;
        } else if (k == BY_DNS || k == BY_CN_OR_DNS) {
            found = len == strlen(value) && strncasecmp((const char *)data, value, len) == 0 &&
                    memchr(data, '\0', len) == NULL;
        } else {
            found = len == strlen(value) && memcmp(data, value, len) == 0;
        }
    }
    GENERAL_NAMES_free(names);
    return found;
}

bool tlsid_allowed(X509 *cert, const char *const *entries, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *value = NULL;
        enum kind k = parse(entries[i], &value);
        bool match = false;
        if (k == BY_CN) {
            match = cn_is(cert, value);
        } else if (k == BY_CN_OR_DNS) {
            match = cn_is(cert, value) || san_is(cert, k, value);
        } else {
            match = san_is(cert, k, value);
        }
        if (match) {
            return true;
        }
    }
    return false;
}

/* Appends "sep" and len bytes of text to out (cut to fit), printable bytes only. */
static void append(char *out, size_t cap, const char *sep, const unsigned char *text, size_t len)
{
    size_t at = strlen(out);
    for (const char *p = sep; *p != '\0' && at + 1 < cap; p++) {
        out[at++] = *p;
    }
    for (size_t i = 0; i < len && at + 1 < cap; i++) {
        out[at++] = text[i] >= 0x20 && text[i] < 0x7f ? (char)text[i] : '?';
    }
    out[at] = '\0';
}

void tlsid_describe(X509 *cert, char *out, size_t cap)
{
    if (cap == 0) {
        return;
    }
    out[0] = '\0';
    const X509_NAME *subject = X509_get_subject_name(cert);
    int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (i >= 0) {
        const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
        append(out, cap, "CN=", ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
    }
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    int shown = 0;
    for (int j = 0; names != NULL && j < sk_GENERAL_NAME_num(names) && shown < 3; j++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, j);
        const char *prefix = g->type == GEN_DNS ? "DNS:" : g->type == GEN_URI ? "URI:" : NULL;
        if (prefix == NULL) {
            continue;
        }
        const ASN1_STRING *s = g->type == GEN_DNS ? g->d.dNSName : g->d.uniformResourceIdentifier;
        append(out, cap, out[0] != '\0' ? ", " : "", (const unsigned char *)prefix, strlen(prefix));
        append(out, cap, "", ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
        shown++;
    }
    GENERAL_NAMES_free(names);
    if (out[0] == '\0') {
        append(out, cap, "", (const unsigned char *)"(no name)", 9);
    }
}

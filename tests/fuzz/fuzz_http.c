/*
 * libFuzzer target: the HTTP request-head parser (oracle/http.c). Besides not crashing: a
 * complete head is never longer than the input, and every shorter prefix of it asks for more.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_request req;
    int n = http_parse_request((const char *)data, size, &req);
    if (n > 0) {
        if ((size_t)n > size || n > HTTP_MAX_HEAD || req.n_headers > HTTP_MAX_HEADERS ||
            memchr(req.target, '\0', sizeof(req.target)) == NULL ||
            memchr(req.method, '\0', sizeof(req.method)) == NULL) {
            abort();
        }
        /* Incremental: the same bytes, cut short, are not yet a request. */
        size_t cuts[] = {(size_t)n - 1, (size_t)n / 2, 1};
        for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
            struct http_request part;
            if (cuts[i] > 0 && http_parse_request((const char *)data, cuts[i], &part) > 0) {
                abort();
            }
        }
    }
    return 0;
}

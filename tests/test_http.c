/* Unit tests: the HTTP request-head parser (oracle/http.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "http.h"
#include "test_seed.h"

static const char *const good[] = {
    "GET /healthz HTTP/1.1\r\nHost: 10.0.0.1:7601\r\nUser-Agent: ELB-HealthChecker/2.0\r\n"
    "Accept-Encoding: gzip, compressed\r\nConnection: close\r\n\r\n",
    "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: text/plain;version=0.0.4;q=1,*/*;q=0.1\r\n"
    "X-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n",
    "HEAD /healthz?probe=1 HTTP/1.0\r\n\r\n",
    "GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
};

/* Feeds every prefix of each request: incomplete until the last byte, then the head. */
static void test_every_split_point(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        size_t len = strlen(good[i]);
        struct http_request req;
        for (size_t k = 0; k < len; k++) {
            int rc = http_parse_request(good[i], k, &req);
            if (rc != 0) {
                fail_msg("request %zu, prefix %zu: %d", i, k, rc);
            }
        }
        assert_int_equal(http_parse_request(good[i], len, &req), (int)len);
    }
    struct http_request req;
    assert_int_equal(http_parse_request(good[0], strlen(good[0]), &req), (int)strlen(good[0]));
    assert_string_equal(req.method, "GET");
    assert_string_equal(req.target, "/healthz");
    assert_int_equal(req.minor_version, 1);
    assert_int_equal(req.n_headers, 4);
    assert_int_equal(req.has_body, 0);
    assert_int_equal(http_parse_request(good[2], strlen(good[2]), &req), (int)strlen(good[2]));
    assert_string_equal(req.method, "HEAD");
    assert_string_equal(req.target, "/healthz?probe=1");
    assert_int_equal(req.minor_version, 0);
}

static void test_pipelined_bytes_after_head(void **state)
{
    (void)state;
    /* Bytes after the blank line are not part of the head. */
    char buf[256];
    snprintf(buf, sizeof(buf), "%sGET /x HTTP/1.1\r\n", good[2]);
    struct http_request req;
    assert_int_equal(http_parse_request(buf, strlen(buf), &req), (int)strlen(good[2]));
}

static void test_malformed(void **state)
{
    (void)state;
    const char *const bad[] = {
        "\r\n",
        "GET\r\n\r\n",
        "GET /x\r\n\r\n",
        "GET x HTTP/1.1\r\n\r\n",
        "GET /x HTTP/2.0\r\n\r\n",
        "GET /x HTTP/1.1 \r\n\r\n",
        "GET  /x HTTP/1.1\r\n\r\n",
        "G\x01T /x HTTP/1.1\r\n\r\n",
        "GET /x HTTP/1.1\n\n",
        "GET /x HTTP/1.1\r\r\n\r\n",
        "GET /x HTTP/1.1\r\nNoColon\r\n\r\n",
        "GET /x HTTP/1.1\r\n: empty name\r\n\r\n",
        "GET /x HTTP/1.1\r\nBad Name: v\r\n\r\n",
        "GET /x HTTP/1.1\r\nName : v\r\n\r\n",
        "GET /x HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
        "GET /x HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
        "GET /\x7f HTTP/1.1\r\n\r\n",
        "GET /x HTTP/1.1\r\nA: \x01\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct http_request req;
        int rc = http_parse_request(bad[i], strlen(bad[i]), &req);
        if (rc != -EBADMSG) {
            fail_msg("case %zu accepted (%d): %s", i, rc, bad[i]);
        }
    }
    /* A body is reported, for the server to refuse. */
    struct http_request req;
    const char *with_body = "POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\n";
    assert_true(http_parse_request(with_body, strlen(with_body), &req) > 0);
    assert_int_equal(req.has_body, 1);
    const char *chunked = "GET /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_true(http_parse_request(chunked, strlen(chunked), &req) > 0);
    assert_int_equal(req.has_body, 1);
}

static void test_oversize(void **state)
{
    (void)state;
    struct http_request req;
    /* A head that never ends within 8 KiB. */
    static char big[HTTP_MAX_HEAD + 100];
    strcpy(big, "GET /x HTTP/1.1\r\n");
    size_t n = strlen(big);
    while (n + 20 < sizeof(big)) {
        memcpy(big + n, "X-Filler: aaaaaaaa\r\n", 20);
        n += 20;
    }
    assert_int_equal(http_parse_request(big, n, &req), -EMSGSIZE);
    /* One endless line. */
    memset(big, 'a', sizeof(big));
    memcpy(big, "GET /", 5);
    assert_int_equal(http_parse_request(big, sizeof(big), &req), -EMSGSIZE);
    assert_int_equal(http_parse_request(big, HTTP_MAX_HEAD - 1, &req), 0);
    /* A long target. */
    char target[HTTP_MAX_TARGET + 64];
    memset(target, 0, sizeof(target));
    strcpy(target, "GET /");
    memset(target + 5, 'b', HTTP_MAX_TARGET);
    strcat(target, " HTTP/1.1\r\n\r\n");
    assert_int_equal(http_parse_request(target, strlen(target), &req), -EMSGSIZE);
    /* Too many headers. */
    char many[4096] = "GET /x HTTP/1.1\r\n";
    for (int i = 0; i <= HTTP_MAX_HEADERS; i++) {
        strcat(many, "A: b\r\n");
    }
    strcat(many, "\r\n");
    assert_int_equal(http_parse_request(many, strlen(many), &req), -EMSGSIZE);
}

/* Inputs ending right before a PROT_NONE page, and random garbage: never a read too far. */
static void test_guard_page_and_garbage(void **state)
{
    (void)state;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t span = 4 * page;
    char *mem = mmap(NULL, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(mem != MAP_FAILED);
    assert_int_equal(mprotect(mem + span, page, PROT_NONE), 0);
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        size_t len = strlen(good[i]);
        for (size_t k = 0; k <= len; k++) {
            memcpy(mem + span - k, good[i], k);
            struct http_request req;
            int rc = http_parse_request(mem + span - k, k, &req);
            assert_int_equal(rc, k == len ? (int)len : 0);
        }
    }
    (void)test_seed("test_guard_page_and_garbage");
    for (int iter = 0; iter < 20000; iter++) {
        size_t k = (size_t)(rand() % (int)span);
        for (size_t j = 0; j < k; j++) {
            mem[span - k + j] = (char)(rand() % 4 == 0 ? "\r\n: /"[rand() % 5] : rand());
        }
        struct http_request req;
        int rc = http_parse_request(mem + span - k, k, &req);
        assert_true(rc == 0 || rc == -EBADMSG || rc == -EMSGSIZE || (rc > 0 && (size_t)rc <= k));
    }
    munmap(mem, span + page);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_split_point),
        cmocka_unit_test(test_pipelined_bytes_after_head),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_oversize),
        cmocka_unit_test(test_guard_page_and_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

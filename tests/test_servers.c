/* Unit tests: the client's server list parser (client/servers.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "servers.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void test_good_lists(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t n;
        const char *formatted[3];
    } cases[] = {
        {"127.0.0.1:7600", 1, {"127.0.0.1:7600"}},
        {"localhost", 1, {"localhost:7600"}},
        {"oracle.az1.example:9", 1, {"oracle.az1.example:9"}},
        {"[::1]:65535", 1, {"[::1]:65535"}},
        {"[fe80::1%lo]", 1, {"[fe80::1%lo]:7600"}},
        {"::1", 1, {"[::1]:7600"}},
        {" a:1 ,\tb:2,[::2]:3 ", 3, {"a:1", "b:2", "[::2]:3"}},
        {"h:007", 1, {"h:7"}},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct server_addr out[4];
        size_t n;
        size_t bad;
        const char *why;
        assert_int_equal(servers_parse(cases[i].text, 7600, out, 4, &n, &bad, &why), 0);
        assert_int_equal(n, cases[i].n);
        for (size_t k = 0; k < n; k++) {
            char buf[300];
            servers_format(&out[k], buf, sizeof(buf));
            assert_string_equal(buf, cases[i].formatted[k]);
        }
    }
}

static void test_bad_lists(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t bad;
        const char *why;
    } cases[] = {
        {"", 0, "an entry is empty"},
        {"a:1,", 1, "an entry is empty"},
        {":7600", 0, "the host is empty"},
        {"h:", 0, "the port is not a number"},
        {"h:0", 0, "the port is not a number"},
        {"h:65536", 0, "the port is not a number"},
        {"h:123456", 0, "the port is not a number"},
        {"h:-1", 0, "the port is not a number"},
        {"a:1,b:x", 1, "the port is not a number"},
        {"[::1", 0, "without a closing"},
        {"[::1]7600", 0, "expected ':PORT'"},
        {"[]:1", 0, "the host is empty"},
        {"a b:1", 0, "no address or name can"},
        {"a/b", 0, "no address or name can"},
        {"a,b,c,d,e", 4, "too many servers"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct server_addr out[4];
        size_t n;
        size_t bad;
        const char *why;
        assert_int_equal(servers_parse(cases[i].text, 7600, out, 4, &n, &bad, &why), -EINVAL);
        assert_int_equal(bad, cases[i].bad);
        assert_non_null(strstr(why, cases[i].why));
    }
    size_t n;
    size_t bad;
    const char *why;
    struct server_addr out[1];
    assert_int_equal(servers_parse(NULL, 7600, out, 1, &n, &bad, &why), -EINVAL);
    char longhost[300];
    memset(longhost, 'a', sizeof(longhost) - 1);
    longhost[sizeof(longhost) - 1] = '\0';
    assert_int_equal(servers_parse(longhost, 7600, out, 1, &n, &bad, &why), -EINVAL);
    assert_non_null(strstr(why, "longer than 253"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_lists),
        cmocka_unit_test(test_bad_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

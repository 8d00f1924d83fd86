/* Unit tests: the journal's priority prefixes and the JOURNAL_STREAM match (log.h); errors as text
 * (errtext.h), and the log_*_errno lines that use it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "errtext.h"
#include "log.h"

static void test_journal_stream(void **state)
{
    (void)state;
    assert_true(log_journal_stream_is("8:12345", 8, 12345));
    assert_false(log_journal_stream_is("8:12345", 8, 12346)); /* another stream: a pipe, a file */
    assert_false(log_journal_stream_is("9:12345", 8, 12345));
    assert_false(log_journal_stream_is(NULL, 8, 12345)); /* not under systemd */
    assert_false(log_journal_stream_is("", 8, 12345));
    assert_false(log_journal_stream_is("8", 8, 12345));
    assert_false(log_journal_stream_is("8:12345x", 8, 12345));
    assert_false(log_journal_stream_is("x:y", 0, 0));
}

static void test_priorities(void **state)
{
    (void)state;
    assert_string_equal(log_priority_prefix(LOG_LEVEL_ERR), "<3>");
    assert_string_equal(log_priority_prefix(LOG_LEVEL_WARN), "<4>");
    assert_string_equal(log_priority_prefix(LOG_LEVEL_INFO), "<6>");
    assert_string_equal(log_priority_prefix(LOG_LEVEL_DEBUG), "<7>");
}

static void test_err_text(void **state)
{
    (void)state;
    assert_string_equal(err_text(-ENOENT), "No such file or directory");
    assert_string_equal(err_text(ENOENT), "No such file or directory");   /* errno as it is */
    assert_string_equal(err_text(UV_ECONNREFUSED), "Connection refused"); /* -errno on Linux */
    assert_string_equal(err_text(UV_EOF), "end of file");                 /* libuv's own */
    assert_string_equal(err_text(UV_EAI_NONAME), "unknown node or service");
}

/* A log_warn_errno line with a libuv code says what libuv says, as a negated errno does. */
static void test_errno_lines(void **state)
{
    (void)state;
    char path[] = "/tmp/test_log.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    log_warn_errno(UV_EOF, "conn %s", "x");
    log_warn_errno(-EPIPE, "write");
    log_info_errno(EAGAIN, "again");
    fflush(stderr);
    assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    char buf[512] = "";
    assert_true(pread(fd, buf, sizeof(buf) - 1, 0) > 0);
    close(fd);
    unlink(path);
    assert_non_null(strstr(buf, "oracled: warn: conn x: end of file\n"));
    assert_non_null(strstr(buf, "oracled: warn: write: Broken pipe\n"));
    assert_non_null(strstr(buf, "oracled: info: again: Resource temporarily unavailable\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_journal_stream),
        cmocka_unit_test(test_priorities),
        cmocka_unit_test(test_err_text),
        cmocka_unit_test(test_errno_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

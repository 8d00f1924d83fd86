/* Unit tests: the journal's priority prefixes and the JOURNAL_STREAM match (log.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_journal_stream),
        cmocka_unit_test(test_priorities),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

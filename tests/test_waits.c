/* Unit tests: a release's lateness completed once its reply is handed to the kernel, whole and
 * in its two parts (oracle/waits.c, waits_complete_marks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conn.h"
#include "waits.h"

struct hists {
    struct histogram lateness, recent, at_release, write;
    struct release_hists h;
};

static void hists_init(struct hists *s)
{
    hist_init(&s->lateness);
    hist_init(&s->recent);
    hist_init(&s->at_release);
    hist_init(&s->write);
    s->h = (struct release_hists){&s->lateness, &s->recent, &s->at_release, &s->write};
}

static void test_parts(void **state)
{
    (void)state;
    struct waits w;
    waits_init(&w, 100, 10);
    struct hists s;
    hists_init(&s);
    static struct conn a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.flushed_mono_ns = 4000; /* a flush before the release: not the one that carries it */
    waits_mark(&w, &a, 1000, 5000);
    waits_mark(&w, &b, 200, 5000);
    waits_complete_marks(&w, &s.h);
    assert_int_equal(s.lateness.total, 0);

    a.flushed_mono_ns = 7500; /* handed to the kernel 2.5 us after the release */
    waits_complete_marks(&w, &s.h);
    assert_int_equal(s.lateness.total, 1);
    assert_int_equal(s.recent.total, 1);
    assert_int_equal(s.lateness.max_ns, 3500);
    assert_int_equal(s.at_release.max_ns, 1000);
    assert_int_equal(s.write.max_ns, 2500);
    assert_true(s.lateness.sum_ns == s.at_release.sum_ns + s.write.sum_ns);

    /* b closes before its flush: its lateness is never completed. */
    b.closing = true;
    b.flushed_mono_ns = 9000;
    waits_complete_marks(&w, &s.h);
    assert_int_equal(s.lateness.total, 1);
    assert_int_equal(w.n_marks, 0);

    /* a's waits are dropped (it closes) with a mark still waiting for its flush: the mark
     * loses its connection and is never completed, whatever a later flush of another says. */
    waits_mark(&w, &a, 300, 8000);
    waits_mark(&w, &a, 400, 8100);
    waits_drop_conn(&w, &a);
    assert_null(w.marks[0].conn);
    assert_null(w.marks[1].conn);
    waits_complete_marks(&w, &s.h);
    assert_int_equal(s.lateness.total, 1);
    assert_int_equal(w.n_marks, 0);
    waits_fini(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

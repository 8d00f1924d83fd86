/* Unit tests: options from one table (common/opts.c): getopt, configuration keys, --help. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "opts.h"
#include "util.h"

/* A program with one option of every kind. */
struct toy {
    const char *name;
    const char *path;
    int64_t count;
    uint8_t small;
    int16_t offset;
    uint32_t big;
    int cpu;
    int64_t wait_ns;
    size_t out_bytes;
    bool json;
    const char *items[3];
    int n_items;
    const char *mode;
    uint32_t guard; /* after every field: no store may reach it */
};

/* A list option: the command line's first replaces what the file gave. */
static int set_item(void *target, const struct opts_entry *e, const char *value,
                    const struct opts_where *w, struct opts_why *why)
{
    (void)e;
    struct toy *t = target;
    if (w->file == NULL && w->nth == 0) {
        t->n_items = 0;
    }
    if (t->n_items == 3) {
        snprintf(why->text, sizeof(why->text), "at most 3 items");
        return -EINVAL;
    }
    t->items[t->n_items++] = value;
    return 0;
}

/* A complaint that is a whole sentence. */
static int set_mode(void *target, const struct opts_entry *e, const char *value,
                    const struct opts_where *w, struct opts_why *why)
{
    (void)e;
    (void)w;
    if (strcmp(value, "fast") != 0 && strcmp(value, "slow") != 0) {
        snprintf(why->text, sizeof(why->text), "--mode is fast or slow, not %s", value);
        why->sentence = true;
        return -EINVAL;
    }
    ((struct toy *)target)->mode = value;
    return 0;
}

static const struct opts_entry toy_entries[] = {
    {.kind = OPTS_SECTION, .name = "Basic:"},
    {.kind = OPTS_STRING,
     .name = "name",
     .short_name = 'n',
     .metavar = "NAME",
     .help = "who is asking",
     .flags = OPTS_CONF,
     OPTS_AT(struct toy, name)},
    {.kind = OPTS_STRING,
     .name = "path",
     .metavar = "PATH",
     .help = "a short path",
     OPTS_AT(struct toy, path),
     .min = 1,
     .max = 8,
     .expect = "a path of 1 to 8 bytes"},
    {.kind = OPTS_INT,
     .name = "count",
     .short_name = 'c',
     .metavar = "N",
     .help = "how many times the thing is done, a number long enough to wrap the line",
     .flags = OPTS_CONF,
     OPTS_AT(struct toy, count),
     .min = 1,
     .max = 100},
    {.kind = OPTS_INT,
     .name = "small",
     .metavar = "N",
     .help = "a byte",
     OPTS_AT(struct toy, small),
     .min = 0,
     .max = 255},
    {.kind = OPTS_INT,
     .name = "offset",
     .metavar = "N",
     .help = "signed, 16 bits",
     OPTS_AT(struct toy, offset),
     .min = -300,
     .max = 300,
     .expect = "from -300 to 300"},
    {.kind = OPTS_INT,
     .name = "big",
     .metavar = "N",
     OPTS_AT(struct toy, big),
     .min = 0,
     .max = UINT32_MAX},
    {.kind = OPTS_INT,
     .name = "cpu",
     .metavar = "N",
     .help = "pin to CPU N",
     .flags = OPTS_NO_DEFAULT,
     OPTS_AT(struct toy, cpu),
     .min = -1,
     .max = 7},
    {.kind = OPTS_SECTION, .name = "More:"},
    {.kind = OPTS_DURATION,
     .name = "wait",
     .metavar = "DURATION",
     .help = "the longest wait",
     .flags = OPTS_CONF,
     OPTS_AT(struct toy, wait_ns),
     .min = 1000000,
     .max = 60000000000,
     .expect = "a duration from 1ms to 1m"},
    {.kind = OPTS_SIZE,
     .name = "max-output-bytes-per-connection",
     .metavar = "SIZE",
     .help = "unread output\nbefore a cut-off",
     .flags = OPTS_CONF,
     OPTS_AT(struct toy, out_bytes),
     .min = 4096,
     .max = INT64_C(1) << 32,
     .expect = "a size from 4K to 4G"},
    {.kind = OPTS_FLAG,
     .name = "json",
     .short_name = 'j',
     .help = "JSON output",
     .flags = OPTS_CONF,
     OPTS_AT(struct toy, json)},
    {.kind = OPTS_CALL,
     .name = "item",
     .metavar = "ITEM",
     .help = "repeat for more",
     .flags = OPTS_CONF,
     .set = set_item},
    {.kind = OPTS_CALL, .name = "mode", .metavar = "MODE", .help = "fast or slow", .set = set_mode},
    {.kind = OPTS_HELP, .name = "help", .short_name = 'h', .help = "this help"},
    {.kind = OPTS_VERSION, .name = "version", .help = "the version"},
};

static const struct opts_program toy = {
    .name = "toy",
    .usage = "Usage: toy [OPTIONS] ARG\n\n",
    .footer = "\nThe end.\n",
    .entries = toy_entries,
    .n_entries = ARRAY_SIZE(toy_entries),
    .style = OPTS_STYLE_VALUE_FOR,
};

/* The same table with the other wording, and "Try" after a bad value. */
static const struct opts_program toy2 = {
    .name = "toy2",
    .usage = "",
    .entries = toy_entries,
    .n_entries = ARRAY_SIZE(toy_entries),
    .style = OPTS_STYLE_NAME_VALUE,
    .try_help = true,
};

static void toy_defaults(struct toy *t)
{
    memset(t, 0, sizeof(*t));
    t->name = "anon";
    t->count = 3;
    t->small = 7;
    t->offset = -5;
    t->big = 9;
    t->cpu = -1;
    t->wait_ns = 100000000;
    t->out_bytes = 2 * 1024 * 1024;
    t->guard = 0xdeadbeef;
}

/* Parses a NULL-terminated list of arguments (after the program's name). */
static int parse_words(const struct opts_program *prog, struct opts_state *st, struct toy *t,
                       const char *const *words)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)(uintptr_t) "toy";
    for (; *words != NULL; words++) {
        argv[argc++] = (char *)(uintptr_t)*words;
    }
    argv[argc] = NULL;
    assert_int_equal(opts_init(st, prog, t), 0);
    return opts_parse_argv(st, argc, argv);
}

#define PARSE(prog, st, t, ...) parse_words(prog, st, t, (const char *const[]){__VA_ARGS__, NULL})

static void test_every_kind(void **state)
{
    (void)state;
    struct toy t;
    toy_defaults(&t);
    struct opts_state st;
    int rc = PARSE(&toy, &st, &t, "first", "-n", "bob", "--path=/tmp", "-jc5", "--small", "255",
                   "--offset", "-300", "--big", "4294967295", "--cpu", "-1", "--wait", "1.5s",
                   "--max-output-bytes-per-connection", "4G", "--item", "a", "second", "--item",
                   "b", "--mode", "slow", "--", "--third");
    assert_int_equal(rc, 0);
    assert_string_equal(t.name, "bob");
    assert_string_equal(t.path, "/tmp");
    assert_true(t.count == 5);
    assert_true(t.json);
    assert_int_equal(t.small, 255);
    assert_int_equal(t.offset, -300);
    assert_true(t.big == UINT32_MAX);
    assert_int_equal(t.cpu, -1);
    assert_true(t.wait_ns == 1500000000);
    assert_true(t.out_bytes == (size_t)1 << 32);
    assert_int_equal(t.n_items, 2);
    assert_string_equal(t.items[0], "a");
    assert_string_equal(t.items[1], "b");
    assert_string_equal(t.mode, "slow");
    assert_true(t.guard == 0xdeadbeef);
    /* getopt_long moved the operands behind the options. */
    assert_int_equal(st.next_arg, 24);
    assert_int_equal(opts_given(&st, "item"), 2);
    assert_int_equal(opts_given(&st, "json"), 1);
    assert_int_equal(opts_given(&st, "version"), 0);
    opts_fini(&st);

    /* The abbreviation of a long name works, as with getopt_long itself. */
    toy_defaults(&t);
    assert_int_equal(PARSE(&toy, &st, &t, "--coun", "9", "--sm=1"), 0);
    assert_true(t.count == 9);
    assert_int_equal(t.small, 1);
    assert_int_equal(st.next_arg, 4);
    opts_fini(&st);
}

static void expect_error(const struct opts_program *prog, const char *const *words, int rc,
                         const char *text)
{
    struct toy t;
    toy_defaults(&t);
    struct opts_state st;
    int got = parse_words(prog, &st, &t, words);
    if (got != rc || strcmp(st.error, text) != 0) {
        fail_msg("%s ...: rc %d '%s', want rc %d '%s'", words[0], got, st.error, rc, text);
    }
    assert_true(t.guard == 0xdeadbeef);
    opts_fini(&st);
}

#define EXPECT_ERROR(prog, rc, text, ...) \
    expect_error(prog, (const char *const[]){__VA_ARGS__, NULL}, rc, text)

static void test_bad_values(void **state)
{
    (void)state;
    EXPECT_ERROR(&toy, -EINVAL, "toy: invalid value '0' for --count: an integer from 1 to 100",
                 "--count", "0");
    EXPECT_ERROR(&toy, -EINVAL, "toy: invalid value '5x' for --count: an integer from 1 to 100",
                 "-c", "5x");
    EXPECT_ERROR(&toy, -EINVAL, "toy: invalid value '256' for --small: an integer from 0 to 255",
                 "--small", "256");
    EXPECT_ERROR(&toy, -EINVAL, "toy: invalid value '301' for --offset: from -300 to 300",
                 "--offset", "301");
    EXPECT_ERROR(&toy, -EINVAL,
                 "toy: invalid value '4294967296' for --big: an integer from 0 to 4294967295",
                 "--big", "4294967296");
    EXPECT_ERROR(&toy, -EINVAL, "toy: invalid value '5' for --wait: a duration from 1ms to 1m",
                 "--wait", "5");
    EXPECT_ERROR(&toy, -EINVAL, "toy: invalid value '2m' for --wait: a duration from 1ms to 1m",
                 "--wait", "2m");
    EXPECT_ERROR(&toy, -EINVAL,
                 "toy: invalid value '1K' for --max-output-bytes-per-connection: a size from 4K "
                 "to 4G",
                 "--max-output-bytes-per-connection", "1K");
    EXPECT_ERROR(&toy, -EINVAL, "toy: invalid value '' for --path: a path of 1 to 8 bytes",
                 "--path=");
    EXPECT_ERROR(&toy, -EINVAL, "toy: invalid value '/tmp/long' for --path: a path of 1 to 8 bytes",
                 "--path", "/tmp/long");
    EXPECT_ERROR(&toy, -EINVAL, "toy: invalid value 'd' for --item: at most 3 items", "--item", "a",
                 "--item", "b", "--item", "c", "--item", "d");
    EXPECT_ERROR(&toy, -EINVAL, "toy: --mode is fast or slow, not medium", "--mode", "medium");
    /* The other wording, followed by where to look. */
    EXPECT_ERROR(&toy2, -EINVAL,
                 "toy2: invalid --count '0': an integer from 1 to 100\nTry 'toy2 --help'.",
                 "--count", "0");
    EXPECT_ERROR(&toy2, -EINVAL, "toy2: --mode is fast or slow, not x\nTry 'toy2 --help'.",
                 "--mode", "x");
}

static void test_getopt_errors(void **state)
{
    (void)state;
    /* getopt_long says what it could not take on stderr; the message says where to look. */
    EXPECT_ERROR(&toy, -EINVAL, "Try 'toy --help'.", "--no-such-option");
    EXPECT_ERROR(&toy, -EINVAL, "Try 'toy --help'.", "-x");
    EXPECT_ERROR(&toy, -EINVAL, "Try 'toy --help'.", "--count");
    EXPECT_ERROR(&toy, -EINVAL, "Try 'toy --help'.", "--json=yes");
    EXPECT_ERROR(&toy, -EINVAL, "Try 'toy --help'.", "--m", "x"); /* --mode or --max-output? */
}

static void test_help_and_version(void **state)
{
    (void)state;
    struct toy t;
    struct opts_state st;
    toy_defaults(&t);
    assert_int_equal(PARSE(&toy, &st, &t, "--help"), OPTS_HELP_ASKED);
    opts_fini(&st);
    toy_defaults(&t);
    assert_int_equal(PARSE(&toy, &st, &t, "-h"), OPTS_HELP_ASKED);
    opts_fini(&st);
    toy_defaults(&t);
    assert_int_equal(PARSE(&toy, &st, &t, "--version"), OPTS_VERSION_ASKED);
    opts_fini(&st);
    /* Options before it are applied (and a bad one stops first); those after it are not
     * looked at. */
    toy_defaults(&t);
    assert_int_equal(PARSE(&toy, &st, &t, "-c", "7", "--version", "--count", "0"),
                     OPTS_VERSION_ASKED);
    assert_true(t.count == 7);
    opts_fini(&st);
    EXPECT_ERROR(&toy, -EINVAL, "toy: invalid value '0' for --count: an integer from 1 to 100",
                 "--count", "0", "--help");
}

static const char good_file[] = "# toy configuration\n"
                                "name = from-file   # a comment\n"
                                "\n"
                                "count = 42\n"
                                "item = f1\n"
                                "item = f2\n"
                                "wait = 250ms\n"
                                "json = true\n"
                                "max-output-bytes-per-connection = 8K\n";

static void test_file(void **state)
{
    (void)state;
    struct toy t;
    toy_defaults(&t);
    struct opts_state st;
    assert_int_equal(opts_init(&st, &toy, &t), 0);
    /* The values outlive the text they were read from. */
    char *text = strdup(good_file);
    assert_non_null(text);
    assert_int_equal(opts_apply_file(&st, "toy.conf", text, strlen(text)), 0);
    memset(text, 'x', strlen(text));
    free(text);
    assert_string_equal(t.name, "from-file");
    assert_true(t.count == 42);
    assert_int_equal(t.n_items, 2);
    assert_string_equal(t.items[0], "f1");
    assert_string_equal(t.items[1], "f2");
    assert_true(t.wait_ns == 250000000);
    assert_true(t.out_bytes == 8192);
    assert_true(t.json);
    assert_int_equal(opts_given(&st, "item"), 2);
    /* A flag is turned off again as it is on: "false". */
    const char off[] = "json = false\n";
    assert_int_equal(opts_apply_file(&st, "toy.conf", off, strlen(off)), 0);
    assert_false(t.json);
    opts_fini(&st);
}

static void expect_file_error(const char *text, int rc, const char *message)
{
    struct toy t;
    toy_defaults(&t);
    struct opts_state st;
    assert_int_equal(opts_init(&st, &toy, &t), 0);
    int got = opts_apply_file(&st, "/etc/toy.conf", text, strlen(text));
    if (got != rc || strcmp(st.error, message) != 0) {
        fail_msg("'%s': rc %d '%s', want rc %d '%s'", text, got, st.error, rc, message);
    }
    opts_fini(&st);
}

static void test_file_errors(void **state)
{
    (void)state;
    expect_file_error("count = 4\nbogus = 1\n", -EINVAL,
                      "toy: /etc/toy.conf:2: unknown key 'bogus' (keys are the long options, as "
                      "in 'toy --help', without '--')");
    /* Options that are not configuration keys are unknown keys too. */
    expect_file_error("path = /tmp\n", -EINVAL,
                      "toy: /etc/toy.conf:1: unknown key 'path' (keys are the long options, as "
                      "in 'toy --help', without '--')");
    expect_file_error("\n\n  count = 0\n", -EINVAL,
                      "toy: /etc/toy.conf:3: invalid value '0' for count: an integer from 1 to "
                      "100");
    expect_file_error("json = yes\n", -EINVAL,
                      "toy: /etc/toy.conf:1: invalid value 'yes' for json: true or false");
    expect_file_error("wait = soon\n", -EINVAL,
                      "toy: /etc/toy.conf:1: invalid value 'soon' for wait: a duration from 1ms "
                      "to 1m");
    expect_file_error("name = x\ncount 4\n", -EINVAL, "toy: /etc/toy.conf:2: expected key = value");
    expect_file_error("Count = 4\n", -EINVAL,
                      "toy: /etc/toy.conf:1: keys are made of a-z, 0-9 and '-'");
    expect_file_error("item = 1\nitem = 2\nitem = 3\nitem = 4\n", -EINVAL,
                      "toy: /etc/toy.conf:4: invalid value '4' for item: at most 3 items");
}

/* File first, then the command line: a scalar on the command line wins, a list given there
 * replaces the file's, and one not given there keeps it. */
static void test_precedence(void **state)
{
    (void)state;
    struct toy t;
    toy_defaults(&t);
    struct opts_state st;
    assert_int_equal(opts_init(&st, &toy, &t), 0);
    assert_int_equal(opts_apply_file(&st, "toy.conf", good_file, strlen(good_file)), 0);
    char *argv[] = {(char *)(uintptr_t) "toy", (char *)(uintptr_t) "--item",
                    (char *)(uintptr_t) "c1",  (char *)(uintptr_t) "-c",
                    (char *)(uintptr_t) "8",   NULL};
    assert_int_equal(opts_parse_argv(&st, 5, argv), 0);
    assert_true(t.count == 8);
    assert_int_equal(t.n_items, 1);
    assert_string_equal(t.items[0], "c1");
    assert_string_equal(t.name, "from-file");
    assert_int_equal(opts_given(&st, "item"), 3);
    opts_fini(&st);

    toy_defaults(&t);
    assert_int_equal(opts_init(&st, &toy, &t), 0);
    assert_int_equal(opts_apply_file(&st, "toy.conf", good_file, strlen(good_file)), 0);
    char *argv2[] = {(char *)(uintptr_t) "toy", (char *)(uintptr_t) "--json", NULL};
    assert_int_equal(opts_parse_argv(&st, 2, argv2), 0);
    assert_int_equal(t.n_items, 2);
    assert_string_equal(t.items[1], "f2");
    opts_fini(&st);
}

static void test_scan(void **state)
{
    (void)state;
    char *argv[] = {
        (char *)(uintptr_t) "toy", (char *)(uintptr_t) "op",       (char *)(uintptr_t) "--nam",
        (char *)(uintptr_t) "a",   (char *)(uintptr_t) "--bogus",  (char *)(uintptr_t) "-jn",
        (char *)(uintptr_t) "b",   (char *)(uintptr_t) "--wait=5", NULL};
    assert_string_equal(opts_scan(&toy, 8, argv, "name"), "b");
    assert_string_equal(opts_scan(&toy, 8, argv, "wait"), "5");
    assert_null(opts_scan(&toy, 8, argv, "count"));
    char *after[] = {(char *)(uintptr_t) "toy", (char *)(uintptr_t) "--",
                     (char *)(uintptr_t) "--name", (char *)(uintptr_t) "c", NULL};
    assert_null(opts_scan(&toy, 4, after, "name"));
    char *missing[] = {(char *)(uintptr_t) "toy", (char *)(uintptr_t) "--name", NULL};
    assert_null(opts_scan(&toy, 2, missing, "name"));
}

static void test_help(void **state)
{
    (void)state;
    struct toy d;
    toy_defaults(&d);
    struct strbuf b;
    strbuf_init(&b);
    opts_help(&toy, &d, &b);
    assert_false(b.failed);
    /* Long-only options line up under the short ones' long names; the help column is the
     * widest option's (up to 30); a longer option is followed by two spaces; "(default X)"
     * comes from the defaults, in each kind's own format; --big has no help, --cpu no
     * default. */
    const char *want =
        "Usage: toy [OPTIONS] ARG\n"
        "\n"
        "Basic:\n"
        "  -n, --name NAME             who is asking (default anon)\n"
        "      --path PATH             a short path\n"
        "  -c, --count N               how many times the thing is done, a number long\n"
        "                              enough to wrap the line (default 3)\n"
        "      --small N               a byte (default 7)\n"
        "      --offset N              signed, 16 bits (default -5)\n"
        "      --cpu N                 pin to CPU N\n"
        "More:\n"
        "      --wait DURATION         the longest wait (default 100ms)\n"
        "      --max-output-bytes-per-connection SIZE  unread output\n"
        "                              before a cut-off (default 2MiB)\n"
        "  -j, --json                  JSON output\n"
        "      --item ITEM             repeat for more\n"
        "      --mode MODE             fast or slow\n"
        "  -h, --help                  this help\n"
        "      --version               the version\n"
        "\n"
        "The end.\n";
    assert_string_equal(b.data, want);
    strbuf_fini(&b);

    /* Without defaults, none is shown. */
    strbuf_init(&b);
    opts_help(&toy2, NULL, &b);
    assert_non_null(strstr(b.data, "  -n, --name NAME             who is asking\n"));
    assert_null(strstr(b.data, "(default"));
    strbuf_fini(&b);
}

/* With only --help short, long options start right after the indent; the column follows the
 * widest option. */
static void test_help_narrow(void **state)
{
    (void)state;
    static const struct opts_entry entries[] = {
        {.kind = OPTS_FLAG, .name = "json", .help = "JSON", OPTS_AT(struct toy, json)},
        {.kind = OPTS_INT,
         .name = "count",
         .metavar = "N",
         .help = "words words words words words words words words words words words words",
         OPTS_AT(struct toy, count),
         .min = 1,
         .max = 100},
        {.kind = OPTS_HELP, .name = "help", .short_name = 'h', .help = "this help"},
    };
    static const struct opts_program prog = {
        .name = "narrow", .usage = "", .entries = entries, .n_entries = ARRAY_SIZE(entries)};
    struct toy d;
    toy_defaults(&d);
    struct strbuf b;
    strbuf_init(&b);
    opts_help(&prog, &d, &b);
    assert_string_equal(b.data, "  --json      JSON\n"
                                "  --count N   words words words words words words words words "
                                "words words words\n"
                                "              words (default 3)\n"
                                "  -h, --help  this help\n");
    strbuf_fini(&b);
}

static void expect_table_error(const struct opts_entry *entries, size_t n, const char *message)
{
    const struct opts_program prog = {.name = "bad", .entries = entries, .n_entries = n};
    struct toy t;
    struct opts_state st;
    assert_int_equal(opts_init(&st, &prog, &t), -EINVAL);
    assert_string_equal(st.error, message);
    opts_fini(&st);
}

static void test_table_errors(void **state)
{
    (void)state;
    const struct opts_entry dup[] = {
        {.kind = OPTS_FLAG, .name = "json", OPTS_AT(struct toy, json)},
        {.kind = OPTS_FLAG, .name = "json", OPTS_AT(struct toy, json)},
    };
    expect_table_error(dup, 2, "bad: option table: entry 1 (json): a second entry with this name");
    const struct opts_entry dup_short[] = {
        {.kind = OPTS_FLAG, .name = "json", .short_name = 'j', OPTS_AT(struct toy, json)},
        {.kind = OPTS_HELP, .name = "help", .short_name = 'j'},
    };
    expect_table_error(dup_short, 2,
                       "bad: option table: entry 1 (help): a second entry with this short name");
    const struct opts_entry no_metavar[] = {
        {.kind = OPTS_INT, .name = "count", OPTS_AT(struct toy, count), .min = 1, .max = 9},
    };
    expect_table_error(no_metavar, 1,
                       "bad: option table: entry 0 (count): a metavar if and only if it takes a "
                       "value");
    const struct opts_entry conf_help[] = {
        {.kind = OPTS_HELP, .name = "help", .flags = OPTS_CONF},
    };
    expect_table_error(conf_help, 1,
                       "bad: option table: entry 0 (help): a configuration key takes a value");
    const struct opts_entry too_wide[] = {
        {.kind = OPTS_INT,
         .name = "small",
         .metavar = "N",
         OPTS_AT(struct toy, small),
         .min = 0,
         .max = 256},
    };
    expect_table_error(too_wide, 1,
                       "bad: option table: entry 0 (small): the range does not fit the field");
    const struct opts_entry signed_too_wide[] = {
        {.kind = OPTS_INT,
         .name = "offset",
         .metavar = "N",
         OPTS_AT(struct toy, offset),
         .min = -32769,
         .max = 0},
    };
    expect_table_error(signed_too_wide, 1,
                       "bad: option table: entry 0 (offset): the range does not fit the field");
    const struct opts_entry short_duration[] = {
        {.kind = OPTS_DURATION,
         .name = "wait",
         .metavar = "D",
         OPTS_AT(struct toy, cpu),
         .max = 1,
         .expect = "x"},
    };
    expect_table_error(short_duration, 1,
                       "bad: option table: entry 0 (wait): a duration needs an int64_t, 0 <= min "
                       "<= max and an expect text");
    const struct opts_entry no_set[] = {
        {.kind = OPTS_CALL, .name = "item", .metavar = "ITEM"},
    };
    expect_table_error(no_set, 1,
                       "bad: option table: entry 0 (item): a callback entry without set()");
    const struct opts_entry bad_name[] = {
        {.kind = OPTS_FLAG, .name = "Json", OPTS_AT(struct toy, json)},
    };
    expect_table_error(bad_name, 1,
                       "bad: option table: entry 0 (Json): a long name is made of a-z, 0-9 and "
                       "'-'");
    const struct opts_entry string_limits[] = {
        {.kind = OPTS_STRING,
         .name = "path",
         .metavar = "P",
         OPTS_AT(struct toy, path),
         .min = 1,
         .max = 8},
    };
    expect_table_error(string_limits, 1,
                       "bad: option table: entry 0 (path): a string's length limits need 0 <= "
                       "min <= max and an expect text");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind),    cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_getopt_errors), cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_file),          cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_precedence),    cmocka_unit_test(test_scan),
        cmocka_unit_test(test_help),          cmocka_unit_test(test_help_narrow),
        cmocka_unit_test(test_table_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

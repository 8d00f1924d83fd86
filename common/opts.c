/* Options from one table per program (see opts.h). */
#include "opts.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "conffile.h"

/* getopt_long's val for entry i; short options return their own character. */
#define VAL_BASE 256

static void errorf(struct opts_state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void errorf(struct opts_state *st, const char *fmt, ...)
{
    size_t n = strlen(st->error);
    if (n + 1 >= sizeof(st->error)) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->error + n, sizeof(st->error) - n, fmt, ap);
    va_end(ap);
}

static bool takes_value(enum opts_kind k)
{
    return k == OPTS_STRING || k == OPTS_INT || k == OPTS_DURATION || k == OPTS_SIZE ||
           k == OPTS_CALL;
}

static bool is_option(const struct opts_entry *e)
{
    return e->kind != OPTS_SECTION;
}

/* Integers of every width go through int64_t; a range that starts at 0 or above is stored
 * unsigned (so a uint32_t field may hold up to UINT32_MAX), one below 0 signed. */
static bool int_range_fits(size_t size, int64_t min, int64_t max)
{
    if (size != 1 && size != 2 && size != 4 && size != 8) {
        return false;
    }
    if (size == 8) {
        return true;
    }
    int bits = (int)size * 8;
    if (min >= 0) {
        return max <= (INT64_C(1) << bits) - 1;
    }
    return min >= -(INT64_C(1) << (bits - 1)) && max <= (INT64_C(1) << (bits - 1)) - 1;
}

static void store_int(void *field, size_t size, bool is_unsigned, int64_t v)
{
    switch (size) {
    case 1: {
        uint8_t u = (uint8_t)v;
        int8_t s = (int8_t)v;
        memcpy(field, is_unsigned ? (const void *)&u : (const void *)&s, 1);
        break;
    }
    case 2: {
        uint16_t u = (uint16_t)v;
        int16_t s = (int16_t)v;
        memcpy(field, is_unsigned ? (const void *)&u : (const void *)&s, 2);
        break;
    }
    case 4: {
        uint32_t u = (uint32_t)v;
        int32_t s = (int32_t)v;
        memcpy(field, is_unsigned ? (const void *)&u : (const void *)&s, 4);
        break;
    }
    default:
        memcpy(field, &v, 8);
        break;
    }
}

static int64_t load_int(const void *field, size_t size, bool is_unsigned)
{
    switch (size) {
    case 1: {
        uint8_t u;
        int8_t s;
        memcpy(is_unsigned ? (void *)&u : (void *)&s, field, 1);
        return is_unsigned ? u : s;
    }
    case 2: {
        uint16_t u;
        int16_t s;
        memcpy(is_unsigned ? (void *)&u : (void *)&s, field, 2);
        return is_unsigned ? u : s;
    }
    case 4: {
        uint32_t u;
        int32_t s;
        memcpy(is_unsigned ? (void *)&u : (void *)&s, field, 4);
        return is_unsigned ? (int64_t)u : s;
    }
    default: {
        int64_t v;
        memcpy(&v, field, 8);
        return v;
    }
    }
}

/* What is wrong with entry e of the table, or NULL. */
static const char *entry_problem(const struct opts_program *prog, size_t i)
{
    const struct opts_entry *e = &prog->entries[i];
    if (e->name == NULL || e->name[0] == '\0') {
        return "no name";
    }
    if (!is_option(e)) {
        return NULL;
    }
    if (e->name[strspn(e->name, "abcdefghijklmnopqrstuvwxyz0123456789-")] != '\0') {
        return "a long name is made of a-z, 0-9 and '-'";
    }
    for (size_t j = 0; j < i; j++) {
        const struct opts_entry *o = &prog->entries[j];
        if (is_option(o) && strcmp(o->name, e->name) == 0) {
            return "a second entry with this name";
        }
        if (is_option(o) && e->short_name != 0 && o->short_name == e->short_name) {
            return "a second entry with this short name";
        }
    }
    if (e->short_name != 0 && strchr("?:W-", e->short_name) != NULL) {
        return "a short name getopt keeps for itself";
    }
    if (takes_value(e->kind) != (e->metavar != NULL)) {
        return "a metavar if and only if it takes a value";
    }
    if ((e->flags & OPTS_CONF) && !takes_value(e->kind) && e->kind != OPTS_FLAG) {
        return "a configuration key takes a value";
    }
    switch (e->kind) {
    case OPTS_FLAG:
        return e->size == sizeof(bool) ? NULL : "a flag is stored in a bool";
    case OPTS_STRING:
        if (e->size != sizeof(const char *)) {
            return "a string is stored in a const char *";
        }
        if (e->max > 0 && (e->min < 0 || e->min > e->max || e->expect == NULL)) {
            return "a string's length limits need 0 <= min <= max and an expect text";
        }
        return NULL;
    case OPTS_INT:
        if (e->min > e->max || !int_range_fits(e->size, e->min, e->max)) {
            return "the range does not fit the field";
        }
        return NULL;
    case OPTS_DURATION:
        if (e->size != sizeof(int64_t) || e->min < 0 || e->min > e->max || e->expect == NULL) {
            return "a duration needs an int64_t, 0 <= min <= max and an expect text";
        }
        return NULL;
    case OPTS_SIZE:
        if ((e->size != 4 && e->size != 8) || e->min < 0 || e->min > e->max ||
            !int_range_fits(e->size, e->min, e->max) || e->expect == NULL) {
            return "a size needs a field that holds [min, max], 0 <= min, and an expect text";
        }
        return NULL;
    case OPTS_CALL:
        return e->set != NULL ? NULL : "a callback entry without set()";
    case OPTS_HELP:
    case OPTS_VERSION:
    case OPTS_SECTION:
        return NULL;
    }
    return "an unknown kind";
}

int opts_init(struct opts_state *st, const struct opts_program *prog, void *target)
{
    memset(st, 0, sizeof(*st));
    st->prog = prog;
    st->target = target;
    if (prog->n_entries > OPTS_MAX_ENTRIES) {
        errorf(st, "%s: option table: more than %d entries", prog->name, OPTS_MAX_ENTRIES);
        return -EINVAL;
    }
    for (size_t i = 0; i < prog->n_entries; i++) {
        const char *problem = entry_problem(prog, i);
        if (problem != NULL) {
            const char *name = prog->entries[i].name;
            errorf(st, "%s: option table: entry %zu (%s): %s", prog->name, i,
                   name != NULL ? name : "?", problem);
            return -EINVAL;
        }
    }
    return 0;
}

void opts_fini(struct opts_state *st)
{
    for (size_t i = 0; i < st->n_kept; i++) {
        free(st->kept[i]);
    }
    free(st->kept);
    st->kept = NULL;
    st->n_kept = 0;
    st->kept_cap = 0;
}

/* "PROG: " or "PROG: FILE:LINE: ", the start of every message about a value. */
static void prefix(struct opts_state *st, const struct opts_where *w)
{
    st->error[0] = '\0';
    errorf(st, "%s: ", st->prog->name);
    if (w->file != NULL) {
        errorf(st, "%s:%d: ", w->file, w->line);
    }
}

static void bad_value(struct opts_state *st, const struct opts_entry *e, const char *value,
                      const struct opts_where *w, const struct opts_why *why)
{
    /* A file's keys have no dashes, the command line's options do. */
    const char *dashes = w->file != NULL ? "" : "--";
    prefix(st, w);
    if (why->sentence) {
        errorf(st, "%s", why->text);
    } else if (st->prog->style == OPTS_STYLE_VALUE_FOR) {
        errorf(st, "invalid value '%s' for %s%s: %s", value, dashes, e->name, why->text);
    } else {
        errorf(st, "invalid %s%s '%s': %s", dashes, e->name, value, why->text);
    }
    if (st->prog->try_help) {
        errorf(st, "\nTry '%s --help'.", st->prog->name);
    }
}

/* Applies entry idx's value. Returns 0, OPTS_HELP_ASKED, OPTS_VERSION_ASKED or -EINVAL. */
static int apply(struct opts_state *st, size_t idx, const char *value, const struct opts_where *w)
{
    const struct opts_entry *e = &st->prog->entries[idx];
    void *field = (char *)st->target + e->offset;
    struct opts_why why = {.sentence = false};
    snprintf(why.text, sizeof(why.text), "%s", e->expect != NULL ? e->expect : "");
    bool ok = true;
    int rc = 0;
    switch (e->kind) {
    case OPTS_FLAG: {
        /* On the command line it takes no value; in a file, "true" or "false". */
        bool yes = value == NULL || strcmp(value, "true") == 0;
        ok = yes || strcmp(value, "false") == 0;
        if (ok) {
            memcpy(field, &yes, sizeof(yes));
        } else {
            snprintf(why.text, sizeof(why.text), "true or false");
        }
        break;
    }
    case OPTS_STRING: {
        size_t len = strlen(value);
        ok = e->max == 0 || (len >= (uint64_t)e->min && len <= (uint64_t)e->max);
        if (ok) {
            memcpy(field, &value, sizeof(value));
        }
        break;
    }
    case OPTS_INT: {
        int64_t v = 0;
        ok = args_parse_i64(value, e->min, e->max, &v) == 0;
        if (ok) {
            store_int(field, e->size, e->min >= 0, v);
        } else if (e->expect == NULL) {
            snprintf(why.text, sizeof(why.text), "an integer from %" PRId64 " to %" PRId64, e->min,
                     e->max);
        }
        break;
    }
    case OPTS_DURATION: {
        int64_t ns = 0;
        ok = args_parse_duration_ns(value, &ns) == 0 && ns >= e->min && ns <= e->max;
        if (ok) {
            memcpy(field, &ns, sizeof(ns));
        }
        break;
    }
    case OPTS_SIZE: {
        uint64_t bytes = 0;
        ok = args_parse_size(value, &bytes) == 0 && bytes >= (uint64_t)e->min &&
             bytes <= (uint64_t)e->max;
        if (ok) {
            store_int(field, e->size, true, (int64_t)bytes);
        }
        break;
    }
    case OPTS_CALL:
        rc = e->set(st->target, e, value, w, &why);
        ok = rc == 0;
        break;
    case OPTS_HELP:
        return OPTS_HELP_ASKED;
    case OPTS_VERSION:
        return OPTS_VERSION_ASKED;
    case OPTS_SECTION:
        break;
    }
    if (!ok) {
        bad_value(st, e, value, w, &why);
        return rc < 0 ? rc : -EINVAL;
    }
    if (w->file != NULL) {
        st->given_file[idx]++;
    } else {
        st->given_cli[idx]++;
    }
    return 0;
}

/* The getopt_long arrays for the table: longopts has n_entries + 1 rows, shorts room for
 * 2 * n_entries + 1 characters. */
static void build_getopt(const struct opts_program *prog, struct option *longopts, char *shorts)
{
    size_t n = 0;
    size_t s = 0;
    for (size_t i = 0; i < prog->n_entries; i++) {
        const struct opts_entry *e = &prog->entries[i];
        if (!is_option(e)) {
            continue;
        }
        bool arg = takes_value(e->kind);
        longopts[n++] = (struct option){e->name, arg ? required_argument : no_argument, NULL,
                                        VAL_BASE + (int)i};
        if (e->short_name != 0) {
            shorts[s++] = e->short_name;
            if (arg) {
                shorts[s++] = ':';
            }
        }
    }
    longopts[n] = (struct option){NULL, 0, NULL, 0};
    shorts[s] = '\0';
}

/* The entry getopt_long's return value c stands for, or -1 (an error it reported). */
static int entry_of(const struct opts_program *prog, int c)
{
    if (c >= VAL_BASE) {
        return c - VAL_BASE;
    }
    for (size_t i = 0; i < prog->n_entries; i++) {
        if (is_option(&prog->entries[i]) && c != 0 && prog->entries[i].short_name == c) {
            return (int)i;
        }
    }
    return -1;
}

const char *opts_scan(const struct opts_program *prog, int argc, char **argv, const char *name)
{
    struct option longopts[OPTS_MAX_ENTRIES + 1];
    char shorts[2 * OPTS_MAX_ENTRIES + 1];
    if (prog->n_entries > OPTS_MAX_ENTRIES) {
        return NULL;
    }
    build_getopt(prog, longopts, shorts);
    const char *found = NULL;
    optind = 0; /* glibc: start afresh */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, shorts, longopts, NULL)) != -1) {
        int i = entry_of(prog, c);
        if (i >= 0 && strcmp(prog->entries[i].name, name) == 0 && optarg != NULL) {
            found = optarg;
        }
    }
    opterr = 1;
    optind = 0;
    return found;
}

int opts_parse_argv(struct opts_state *st, int argc, char **argv)
{
    const struct opts_program *prog = st->prog;
    struct option longopts[OPTS_MAX_ENTRIES + 1];
    char shorts[2 * OPTS_MAX_ENTRIES + 1];
    build_getopt(prog, longopts, shorts);
    optind = 0;
    opterr = 1; /* getopt_long says what is wrong with an option it cannot take */
    int c;
    while ((c = getopt_long(argc, argv, shorts, longopts, NULL)) != -1) {
        int i = entry_of(prog, c);
        if (i < 0) {
            st->error[0] = '\0';
            errorf(st, "Try '%s --help'.", prog->name);
            return -EINVAL;
        }
        struct opts_where w = {NULL, 0, st->given_cli[i]};
        int rc = apply(st, (size_t)i, optarg, &w);
        if (rc != 0) {
            return rc;
        }
    }
    st->next_arg = optind;
    return 0;
}

/* ---- Configuration files ---- */

struct file_ctx {
    struct opts_state *st;
    const char *file;
    bool reported;
};

static char *keep(struct opts_state *st, const char *value)
{
    if (st->n_kept == st->kept_cap) {
        size_t cap = st->kept_cap == 0 ? 16 : 2 * st->kept_cap;
        char **kept = realloc(st->kept, cap * sizeof(*kept));
        if (kept == NULL) {
            return NULL;
        }
        st->kept = kept;
        st->kept_cap = cap;
    }
    char *copy = strdup(value);
    if (copy != NULL) {
        st->kept[st->n_kept++] = copy;
    }
    return copy;
}

static int on_setting(const char *key, const char *value, int line, void *arg)
{
    struct file_ctx *fc = arg;
    struct opts_state *st = fc->st;
    struct opts_where w = {fc->file, line, 0};
    fc->reported = true;
    int idx = -1;
    for (size_t i = 0; i < st->prog->n_entries; i++) {
        const struct opts_entry *e = &st->prog->entries[i];
        if (is_option(e) && (e->flags & OPTS_CONF) && strcmp(e->name, key) == 0) {
            idx = (int)i;
        }
    }
    if (idx < 0) {
        prefix(st, &w);
        errorf(st, "unknown key '%s' (keys are the long options, as in '%s --help', without '--')",
               key, st->prog->name);
        return -EINVAL;
    }
    const char *copy = keep(st, value);
    if (copy == NULL) {
        prefix(st, &w);
        errorf(st, "out of memory");
        return -ENOMEM;
    }
    w.nth = st->given_file[idx];
    int rc = apply(st, (size_t)idx, copy, &w);
    fc->reported = rc != 0;
    return rc;
}

int opts_apply_file(struct opts_state *st, const char *file, const char *text, size_t len)
{
    struct file_ctx fc = {st, file, false};
    int line = 0;
    const char *why = NULL;
    int rc = conffile_parse(text, len, on_setting, &fc, &line, &why);
    if (rc < 0 && !fc.reported) {
        struct opts_where w = {file, line, 0};
        prefix(st, &w);
        errorf(st, "%s", why != NULL ? why : strerror(-rc));
    }
    return rc < 0 ? rc : 0;
}

unsigned opts_given(const struct opts_state *st, const char *name)
{
    for (size_t i = 0; i < st->prog->n_entries; i++) {
        const struct opts_entry *e = &st->prog->entries[i];
        if (is_option(e) && strcmp(e->name, name) == 0) {
            return st->given_file[i] + st->given_cli[i];
        }
    }
    fprintf(stderr, "%s: opts_given: no option '%s' in the table\n", st->prog->name, name);
    abort();
}

/* ---- --help ---- */

/* "  -s, --server LIST", with "    " for long-only options when others have short forms. */
static void lead_of(const struct opts_entry *e, bool short_column, char *buf, size_t cap)
{
    char shrt[8] = "";
    if (e->short_name != 0) {
        snprintf(shrt, sizeof(shrt), "-%c, ", e->short_name);
    } else if (short_column) {
        snprintf(shrt, sizeof(shrt), "    ");
    }
    snprintf(buf, cap, "  %s--%s%s%s", shrt, e->name, e->metavar != NULL ? " " : "",
             e->metavar != NULL ? e->metavar : "");
}

/* The default of e held in defaults, as --help shows it; "" when there is none to show. */
static void default_of(const struct opts_entry *e, const void *defaults, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (defaults == NULL || (e->flags & OPTS_NO_DEFAULT)) {
        return;
    }
    const void *field = (const char *)defaults + e->offset;
    switch (e->kind) {
    case OPTS_INT:
        snprintf(buf, cap, "%" PRId64, load_int(field, e->size, e->min >= 0));
        break;
    case OPTS_DURATION:
        args_format_duration(load_int(field, 8, false), buf, cap);
        break;
    case OPTS_SIZE:
        args_format_size((uint64_t)load_int(field, e->size, true), buf, cap);
        break;
    case OPTS_STRING: {
        const char *s = NULL;
        memcpy(&s, field, sizeof(s));
        if (s != NULL) {
            snprintf(buf, cap, "%s", s);
        }
        break;
    }
    default:
        break;
    }
}

/* Appends lead, then text from column col on, wrapped at OPTS_HELP_WIDTH; '\n' in text breaks
 * the line, "(default" and the word after it are not parted. A lead too long for the column is
 * followed by two spaces. */
static void wrap(struct strbuf *out, const char *lead, size_t col, const char *text)
{
    size_t pos = strlen(lead);
    strbuf_printf(out, "%s", lead);
    size_t pad = pos + 2 <= col ? col - pos : 2;
    strbuf_printf(out, "%*s", (int)pad, "");
    pos += pad;
    bool line_empty = true;
    for (const char *p = text; *p != '\0';) {
        if (*p == ' ') {
            p++;
            continue;
        }
        if (*p == '\n') {
            strbuf_printf(out, "\n%*s", (int)col, "");
            pos = col;
            line_empty = true;
            p++;
            continue;
        }
        size_t len = strcspn(p, " \n");
        /* "(default X)" stays on one line. */
        if ((strncmp(p, "(default ", 9) == 0 || strncmp(p, "(default: ", 10) == 0)) {
            len += 1 + strcspn(p + len + 1, " \n");
        }
        if (!line_empty && pos + 1 + len > OPTS_HELP_WIDTH) {
            strbuf_printf(out, "\n%*s", (int)col, "");
            pos = col;
            line_empty = true;
        }
        if (!line_empty) {
            strbuf_printf(out, " ");
            pos++;
        }
        strbuf_printf(out, "%.*s", (int)len, p);
        pos += len;
        line_empty = false;
        p += len;
    }
    strbuf_printf(out, "\n");
}

void opts_help(const struct opts_program *prog, const void *defaults, struct strbuf *out)
{
    strbuf_printf(out, "%s", prog->usage);
    bool short_column = false;
    for (size_t i = 0; i < prog->n_entries; i++) {
        const struct opts_entry *e = &prog->entries[i];
        short_column |= is_option(e) && e->short_name != 0 && e->kind != OPTS_HELP;
    }
    size_t widest = 0;
    char lead[160];
    for (size_t i = 0; i < prog->n_entries; i++) {
        const struct opts_entry *e = &prog->entries[i];
        if (is_option(e) && e->help != NULL) {
            lead_of(e, short_column, lead, sizeof(lead));
            widest = strlen(lead) > widest ? strlen(lead) : widest;
        }
    }
    size_t col = (widest < OPTS_HELP_COLUMN - 2 ? widest : OPTS_HELP_COLUMN - 2) + 2;
    for (size_t i = 0; i < prog->n_entries; i++) {
        const struct opts_entry *e = &prog->entries[i];
        if (!is_option(e)) {
            strbuf_printf(out, "%s\n", e->name);
            continue;
        }
        if (e->help == NULL) {
            continue;
        }
        lead_of(e, short_column, lead, sizeof(lead));
        char def[OPTS_WHY_MAX];
        default_of(e, defaults, def, sizeof(def));
        char text[2048];
        snprintf(text, sizeof(text), "%s%s%s%s", e->help, def[0] != '\0' ? " (default " : "", def,
                 def[0] != '\0' ? ")" : "");
        wrap(out, lead, col, text);
    }
    if (prog->footer != NULL) {
        strbuf_printf(out, "%s", prog->footer);
    }
}

int opts_command_line(struct opts_state *st, const struct opts_program *prog, void *target,
                      int argc, char **argv)
{
    int rc = opts_init(st, prog, target);
    if (rc == 0) {
        rc = opts_parse_argv(st, argc, argv);
    }
    if (rc < 0) {
        fprintf(stderr, "%s\n", st->error);
    }
    return rc;
}

/*
 * Options from one table per program. A program lists its options once, as struct opts_entry
 * rows: the long name, a short one if any, the argument's name, the help text, whether it is
 * also a configuration file key, and how its value is parsed and stored (a typed setter built
 * on args.h, or a callback). From that table come the getopt_long array, the configuration
 * file's keys (conffile.h) and the --help text, so the three cannot disagree.
 *
 * Pure but for getopt_long: it keeps its state in globals (optind, optarg) and prints its own
 * complaint about an unknown option or a missing argument on stderr; nothing else here prints.
 * Errors come back as text in struct opts_state for the program to print.
 */
#ifndef ORACLE_OPTS_H
#define ORACLE_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#define OPTS_MAX_ENTRIES 96   /* rows in one table, sections included */
#define OPTS_ERROR_MAX   1024 /* an error message, NUL included */
#define OPTS_WHY_MAX     384  /* a callback's complaint, NUL included */
#define OPTS_HELP_WIDTH  80   /* --help lines are wrapped to this many columns */
#define OPTS_HELP_COLUMN 30   /* ... the help text starts at most this far in */

enum opts_kind {
    OPTS_SECTION,  /* not an option: a heading in --help (name is the heading) */
    OPTS_FLAG,     /* no argument; sets a bool to true */
    OPTS_STRING,   /* const char *: the value itself; max > 0: its length in [min, max] bytes */
    OPTS_INT,      /* a decimal integer in [min, max], into an integer of 1, 2, 4 or 8 bytes */
    OPTS_DURATION, /* args_parse_duration_ns, in [min, max] ns, into an int64_t */
    OPTS_SIZE,     /* args_parse_size, in [min, max] bytes, into an integer of 4 or 8 bytes */
    OPTS_CALL,     /* the entry's set() parses and stores */
    OPTS_HELP,     /* no argument: parsing stops and returns OPTS_HELP */
    OPTS_VERSION,  /* no argument: parsing stops and returns OPTS_VERSION */
};

/* Entry flags. OPTS_CONF: also a configuration file key (for options that take a value, and
 * flags: "key = true" or "key = false" in the file).
 * OPTS_NO_DEFAULT: --help shows no "(default ...)" for it (its text says what 0 means). */
#define OPTS_CONF       1u
#define OPTS_NO_DEFAULT 2u

/* Where a value comes from, for callbacks. */
struct opts_where {
    const char *file; /* the configuration file, NULL for the command line */
    int line;         /* its line, from 1 */
    unsigned nth;     /* how many times this option came before, in the same place (file or
                       * command line): a list option's first on the command line is nth 0 */
};

/* A callback's complaint: by default what the value should have been ("an integer from 1 to
 * 8"), which the error message frames; with sentence set, the whole complaint. */
struct opts_why {
    char text[OPTS_WHY_MAX];
    bool sentence;
};

struct opts_entry;

/* Parses value and stores it in target. Returns 0, or a negative errno with *why filled.
 * value stays valid as long as the opts_state it was parsed with (file values are copied). */
typedef int opts_set_fn(void *target, const struct opts_entry *e, const char *value,
                        const struct opts_where *where, struct opts_why *why);

struct opts_entry {
    enum opts_kind kind;
    const char *name;    /* long name without "--"; OPTS_SECTION: the heading */
    char short_name;     /* 0: none */
    const char *metavar; /* the value's name in --help, for kinds that take one */
    const char *help;    /* NULL: not listed in --help */
    unsigned flags;      /* OPTS_CONF, OPTS_NO_DEFAULT */
    size_t offset;       /* where the value goes in the target: OPTS_AT() */
    size_t size;
    int64_t min;
    int64_t max;
    const char *expect; /* what a bad value should have been (derived for OPTS_INT if NULL) */
    opts_set_fn *set;   /* OPTS_CALL */
};

/* The .offset and .size of a member of the target struct (nested members allowed). */
#define OPTS_AT(type, member) .offset = offsetof(type, member), .size = sizeof(((type *)0)->member)

/* How a bad value is reported; each program keeps the wording its users and tests know. */
enum opts_style {
    OPTS_STYLE_VALUE_FOR,  /* PROG: invalid value 'V' for --NAME: EXPECT */
    OPTS_STYLE_NAME_VALUE, /* PROG: invalid --NAME 'V': EXPECT */
};

struct opts_program {
    const char *name;   /* "oracled": error messages, "Try 'oracled --help'." */
    const char *usage;  /* --help before the options, ending with a newline */
    const char *footer; /* ... after them (NULL: nothing) */
    const struct opts_entry *entries;
    size_t n_entries;
    enum opts_style style;
    bool try_help; /* a bad value's message is followed by "Try 'PROG --help'." */
};

enum { OPTS_HELP_ASKED = 1, OPTS_VERSION_ASKED = 2 };

/* One parse: the target being filled, what was given where, the file values kept. */
struct opts_state {
    const struct opts_program *prog;
    void *target;
    unsigned given_file[OPTS_MAX_ENTRIES]; /* by entry index */
    unsigned given_cli[OPTS_MAX_ENTRIES];
    char **kept; /* copies of the configuration file's values; freed by opts_fini() */
    size_t n_kept;
    size_t kept_cap;
    int next_arg;               /* after opts_parse_argv(): argv index of the first operand */
    char error[OPTS_ERROR_MAX]; /* after a failure: the message, without a final newline */
};

/*
 * Checks the table (names unique, each kind's argument, storage size and range consistent)
 * and starts a parse into target, which the caller has filled with the defaults. Returns 0 or
 * -EINVAL with st->error naming the bad entry. Call opts_fini() in every case.
 */
int opts_init(struct opts_state *st, const struct opts_program *prog, void *target);

/* Frees the kept file values (the target's strings from the file die with them). */
void opts_fini(struct opts_state *st);

/*
 * The value of the last NAME option on the command line, or NULL, applying nothing and
 * reporting nothing (opts_parse_argv() reports the errors): for --config, whose file is applied
 * before the command line. Borrowed from argv.
 */
const char *opts_scan(const struct opts_program *prog, int argc, char **argv, const char *name);

/*
 * Applies a configuration file's text (conffile.h syntax): each key must be an OPTS_CONF
 * entry's name. Returns 0, or -EINVAL / -ENOMEM with st->error saying "PROG: FILE:LINE: ...".
 */
int opts_apply_file(struct opts_state *st, const char *file, const char *text, size_t len);

/*
 * Applies the command line (GNU getopt_long: options and operands may mix, "--" ends the
 * options). Returns 0 with st->next_arg the first operand's index, OPTS_HELP_ASKED or
 * OPTS_VERSION_ASKED when that option came (the options after it are not looked at), or a
 * negative errno with st->error set.
 */
int opts_parse_argv(struct opts_state *st, int argc, char **argv);

/* A program without a configuration file: opts_init() then opts_parse_argv(), with the error
 * (if any) printed to stderr. Returns as opts_parse_argv() does; call opts_fini() in every
 * case. */
int opts_command_line(struct opts_state *st, const struct opts_program *prog, void *target,
                      int argc, char **argv);

/* How many times the option NAME was applied, file and command line together. NAME must be
 * in the table (else abort(): a programming error). */
unsigned opts_given(const struct opts_state *st, const char *name);

/*
 * Appends the --help text: the usage, each listed option with its help wrapped to
 * OPTS_HELP_WIDTH and its default (read from defaults, a target holding the defaults; NULL:
 * none) as "(default X)", then the footer. Options' lines start with two spaces and the
 * option, as help2man expects.
 */
void opts_help(const struct opts_program *prog, const void *defaults, struct strbuf *out);

#endif

/* Errors as text: the one place an error code becomes words. */
#ifndef ORACLE_ERRTEXT_H
#define ORACLE_ERRTEXT_H

/* What err says: an errno value, positive or negated (the project's functions return -errno),
 * or one of libuv's own codes (UV_E*: those with no errno, such as UV_EOF or UV_EAI_*, lie below
 * -1000; the others are negated errno values on Linux). Never NULL. */
const char *err_text(int err);

#endif

/* JSON strings (see jsonout.h). */
#include "jsonout.h"

const char *jsonout_escape(unsigned char ch, char buf[JSONOUT_ESCAPE_LEN])
{
    if (ch == '"' || ch == '\\') {
        snprintf(buf, JSONOUT_ESCAPE_LEN, "\\%c", ch);
    } else if (ch < 0x20) {
        snprintf(buf, JSONOUT_ESCAPE_LEN, "\\u%04x", ch);
    } else {
        buf[0] = (char)ch;
        buf[1] = '\0';
    }
    return buf;
}

void jsonout_string(FILE *f, const char *s)
{
    char esc[JSONOUT_ESCAPE_LEN];
    fputc('"', f);
    for (; *s != '\0'; s++) {
        fputs(jsonout_escape((unsigned char)*s, esc), f);
    }
    fputc('"', f);
}

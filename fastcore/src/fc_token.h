/* fc_token.h - the one Connection-token matcher of the C side, with Apache 2.4's
 * ap_find_token semantics (server/util.c), measured on Apache 2.4.71:
 *  - a token is a run of RFC 9110 tchar bytes; every other byte (space, tab, ',', ';',
 *    '=', '"', obs-text such as 0xA0, ...) separates tokens, so "keep-alive;",
 *    "x-foo keep-alive" and "keep-alive\xa0" all hold the token keep-alive;
 *  - the comparison is case-insensitive and stops at the token's length, so a token that
 *    is a prefix of the word matches it: "keep" and "k" find keep-alive, "c" finds close
 *    (a token longer than the word never matches: "keep-alivex" does not).
 * Used by the engine's parser (fc_fastparse.h) and exposed by fastcore._request as
 * find_token() for the Python path; fastcore/_pure/request.py has the twin.
 */
#ifndef FC_TOKEN_H
#define FC_TOKEN_H
#include <stddef.h>

static inline int fc_token_char(unsigned char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        return 1;
    default:
        return 0;
    }
}

/* 1 when v[0..n) holds a token that is a non-empty, case-insensitive prefix of the
 * lower-case word tok[0..toklen); a NUL ends the value as it ends Apache's string. */
static int fc_find_token(const unsigned char *v, size_t n, const char *tok, size_t toklen) {
    size_t i = 0;
    while (i < n && v[i]) {
        size_t s, k;
        while (i < n && v[i] && !fc_token_char(v[i])) i++;
        if (i >= n || !v[i]) return 0;
        s = i;
        while (i < n && fc_token_char(v[i])) i++;
        if (i - s > toklen) continue;
        for (k = 0; k < i - s; k++) {
            unsigned char c = v[s + k];
            if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
            if (c != (unsigned char)tok[k]) break;
        }
        if (k == i - s) return 1;
    }
    return 0;
}
#endif

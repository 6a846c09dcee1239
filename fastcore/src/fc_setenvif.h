/* fc_setenvif.h - SetEnvIf / BrowserMatch rules on a cache hit (issue 13).  An entry under
 * such rules may be answered by the engine only when no rule matches the request (then
 * the rules set no variable and the full path would send the entry's bytes); when one
 * matches, the request goes to the Python path, which runs the rules and answers as
 * Apache (nokeepalive, force-response-1.0, ...).  mod_setenvif.engine_checks gives the
 * rules the engine can evaluate (the others keep the entry out of the engine); the twin
 * is fastcore/_pure/setenvif.py.  Subjects: a request header (repeats joined with ", ",
 * "" when absent: no earlier rule matched, so no variable stands in for it), the client
 * address, the method, the protocol, the raw path (a server rule's Request_URI).  A
 * pattern is a substring (caseless: ASCII letters; a subject with other bytes goes to
 * Python) or a PCRE2 regex compiled with Apache's options; a regex runs with one match
 * data per thread.  Part of fc_fast.h; not a stand-alone header.
 */
#ifndef FC_SETENVIF_H
#define FC_SETENVIF_H
#include <stdlib.h>
#include <string.h>
#include "fc_pcre.h"

pcre2_match_data_8 *pcre2_match_data_create_8(uint32_t ovecsize, void *gcontext);

enum { FC_ENV_HEADER = 1, FC_ENV_REMOTE_ADDR, FC_ENV_METHOD, FC_ENV_PROTOCOL, FC_ENV_RAW_PATH };
#define FC_ENV_MAX 64         /* rules per entry */
#define FC_ENV_SUBJECT 8192   /* a merged header longer than this goes to Python */

typedef struct fc_envcheck_s {
    int kind;
    char *name; size_t nl;            /* header name, lower case (FC_ENV_HEADER) */
    char *pat; size_t pl;             /* the literal, or the regex's source */
    int icase;
    pcre2_code_8 *re;                 /* NULL: a substring search */
} fc_envcheck;

static void fc_envchecks_free(struct fc_envcheck_s *c, int n) {
    if (!c) return;
    for (int i = 0; i < n; i++) {
        free(c[i].name); free(c[i].pat);
        if (c[i].re) pcre2_code_free_8(c[i].re);
    }
    free(c);
}

/* Compile check i's regex with these PCRE2 options; 0, or -1 when PCRE2 refuses it. */
static int fc_envcheck_compile(fc_envcheck *c, uint32_t options) {
    int err; size_t off;
    c->re = pcre2_compile_8((const uint8_t *)c->pat, c->pl, options, &err, &off, NULL);
    return c->re ? 0 : -1;
}

static int fc_env_substr(const char *s, size_t n, const char *p, size_t pl, int icase) {
    if (pl == 0) return 1;
    if (pl > n) return 0;
    for (size_t i = 0; i + pl <= n; i++) {
        size_t k = 0;
        if (icase) {
            while (k < pl && fc_lower((unsigned char)s[i + k]) == fc_lower((unsigned char)p[k])) k++;
        } else {
            while (k < pl && s[i + k] == p[k]) k++;
        }
        if (k == pl) return 1;
    }
    return 0;
}

/* 1 when the check matches the subject (or cannot be decided here), 0 when not. */
static int fc_env_test(const fc_envcheck *c, const char *s, size_t n) {
    if (!c->re) {
        if (c->icase)
            for (size_t i = 0; i < n; i++) if ((unsigned char)s[i] >= 0x80) return 1;
        return fc_env_substr(s, n, c->pat, c->pl, c->icase);
    }
    static __thread pcre2_match_data_8 *md;
    if (!md && !(md = pcre2_match_data_create_8(1, NULL))) return 1;
    int rc = pcre2_match_8(c->re, (const uint8_t *)s, n, 0, 0, md, NULL);
    return rc >= 0 || rc < -1;  /* matched, or an error (PCRE2_ERROR_NOMATCH is -1): Python */
}

/* Whether any check matches the request: then the Python path answers it. */
static int fc_env_any(const fc_envcheck *cs, int n, const fc_req *r, const char *client,
                      size_t clientlen) {
    char buf[FC_ENV_SUBJECT];
    for (int i = 0; i < n; i++) {
        const fc_envcheck *c = &cs[i];
        const char *s = ""; size_t sl = 0;
        switch (c->kind) {
        case FC_ENV_HEADER: {
            const char *p = r->fields, *end = r->fields + r->fieldslen;
            int found = 0;
            while (p < end) {
                const char *eol = memchr(p, '\r', (size_t)(end - p));
                if (!eol || eol == p) break;
                const char *colon = memchr(p, ':', (size_t)(eol - p));
                if (colon && fc_ieq(p, (size_t)(colon - p), c->name, c->nl)) {
                    const char *v = colon + 1, *ve = eol;
                    while (v < ve && (*v == ' ' || *v == '\t')) v++;
                    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
                    size_t vl = (size_t)(ve - v);
                    if (sl + vl + 2 > sizeof buf) return 1;
                    if (found) { memcpy(buf + sl, ", ", 2); sl += 2; }
                    memcpy(buf + sl, v, vl); sl += vl;
                    found = 1;
                }
                p = eol + 2;
            }
            s = buf;
            break;
        }
        case FC_ENV_REMOTE_ADDR: s = client; sl = clientlen; break;
        case FC_ENV_METHOD: s = r->method; sl = r->mlen; break;
        case FC_ENV_PROTOCOL: s = r->proto; sl = r->plen; break;
        case FC_ENV_RAW_PATH: {
            const char *q = memchr(r->target, '?', r->tlen);
            s = r->target; sl = q ? (size_t)(q - r->target) : r->tlen;
            break;
        }
        default: return 1;
        }
        if (fc_env_test(c, s, sl)) return 1;
    }
    return 0;
}

#endif /* FC_SETENVIF_H */

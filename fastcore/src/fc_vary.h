/* fc_vary.h - answers that vary on Accept-Encoding (issue 13): an engine entry may hold,
 * besides its identity answer, one answer per content-coding (mod_deflate's gzip of the
 * file, computed once by the Python path), and each hit picks one from the request's
 * Accept-Encoding exactly as mod_deflate's filter reads it.
 *
 * The reading (fastcore/_pure/vary.py is the twin; mod_deflate's filter uses the twin):
 * ap_get_token over the value, the first token spelled as the coding (any case; x-gzip
 * is not gzip), and a refusal only when its first parameter is a prefix of "q=0.000" at
 * least three characters long ("q=0", "q=0.0"; "q=0.5" and "Q=0" accept).  Blanks are
 * those of ap_get_token; a value with a byte outside printable ASCII and tab is left to
 * the Python path (its idea of a blank is Python's str.isspace), as is a request with
 * more than one Accept-Encoding field (Python reads them merged with ", ").
 * Part of fc_fast.h; not a stand-alone header.
 */
#ifndef FC_VARY_H
#define FC_VARY_H
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define FC_VAR_MAX 4          /* codings per entry (gzip, br, zstd, ...) */
#define FC_VAR_UNDECIDED (-2) /* the Python path decides */
#define FC_VAR_IDENTITY (-1)

typedef struct {
    char coding[16]; size_t clen;      /* the Accept-Encoding token, lower case */
    char *mid; size_t midlen;          /* the answer's fields between Server and Connection */
    char *body; size_t blen;           /* the encoded bytes */
} fc_variant;

static void fc_variants_free(fc_variant *v, int n) {
    if (!v) return;
    for (int i = 0; i < n; i++) { free(v[i].mid); free(v[i].body); }
    free(v);
}

static inline int fc_vary_blank(unsigned char c) { return c == ' ' || c == '\t'; }

/* ap_get_token from pos: skip blanks, a token up to ';' or ',' (or a blank unless
 * accept_white), quoted strings kept whole; then skip blanks.  [*ts, *te) is the token;
 * returns the position after it. */
static size_t fc_vary_token(const unsigned char *v, size_t n, size_t pos, int accept_white,
                            size_t *ts, size_t *te) {
    while (pos < n && fc_vary_blank(v[pos])) pos++;
    *ts = pos;
    while (pos < n && (accept_white || !fc_vary_blank(v[pos])) && v[pos] != ';' && v[pos] != ',') {
        unsigned char ch = v[pos++];
        if (ch == '"') {
            while (pos < n) { if (v[pos++] == '"') break; }
        }
    }
    *te = pos;
    while (pos < n && fc_vary_blank(v[pos])) pos++;
    return pos;
}

/* 1 when the value names the coding (lower case) and does not refuse it, 0 when not,
 * FC_VAR_UNDECIDED for a byte the twin would read otherwise. */
static int fc_accepts_coding(const char *value, size_t n, const char *coding, size_t cl) {
    const unsigned char *v = (const unsigned char *)value;
    for (size_t i = 0; i < n; i++)
        if ((v[i] < 0x20 && v[i] != '\t') || v[i] >= 0x7f) return FC_VAR_UNDECIDED;
    size_t ts, te, pos = fc_vary_token(v, n, 0, 0, &ts, &te);
    for (;;) {
        if (te == ts) return 0;
        if (te - ts == cl) {
            size_t k = 0;
            while (k < cl) {
                unsigned char c = v[ts + k];
                if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
                if (c != (unsigned char)coding[k]) break;
                k++;
            }
            if (k == cl) break;
        }
        while (pos < n && v[pos] == ';') {
            size_t a, b;
            pos = fc_vary_token(v, n, pos + 1, 1, &a, &b);
        }
        if (pos < n && v[pos] == ',') pos++;
        if (pos >= n) return 0;
        pos = fc_vary_token(v, n, pos, 0, &ts, &te);
    }
    if (pos < n) {
        while (pos < n && v[pos] == ';') pos++;
        size_t qs, qe;
        fc_vary_token(v, n, pos, 1, &qs, &qe);
        size_t ql = qe - qs;
        if (ql >= 3 && ql <= 7 && memcmp(v + qs, "q=0.000", ql) == 0) return 0;
    }
    return 1;
}

/* Which of an entry's variants answers a request: the first coding (in the entry's
 * order: the order its filters run) the client accepts, FC_VAR_IDENTITY for none (or no
 * Accept-Encoding field), FC_VAR_UNDECIDED for the Python path.  nfields: how many
 * Accept-Encoding fields the head had. */
static int fc_vary_pick(const fc_variant *vars, int nvar, const char *ae, size_t aelen,
                        int nfields) {
    if (nfields == 0) return FC_VAR_IDENTITY;
    if (nfields > 1) return FC_VAR_UNDECIDED;
    for (int i = 0; i < nvar; i++) {
        int ok = fc_accepts_coding(ae, aelen, vars[i].coding, vars[i].clen);
        if (ok == FC_VAR_UNDECIDED) return ok;
        if (ok) return i;
    }
    return FC_VAR_IDENTITY;
}

#endif /* FC_VARY_H */

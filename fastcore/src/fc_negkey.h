/* fc_negkey.h - answers chosen by content negotiation (issue 12, MultiViews): an entry
 * that mod_negotiation picked among a name's variants holds the values of the request
 * fields the choice was made from (Accept, Accept-Charset, Accept-Encoding,
 * Accept-Language), and answers only a request that sends exactly those values.  So one
 * target may have several entries, one per set of values (at most FC_NEG_MAX, the oldest
 * going first); the choice is never remade in C, only recalled.
 *
 * A request with one of those fields twice (Python reads them merged) or with a Negotiate
 * field (transparent negotiation: Alternates, TCN) matches no such entry.  The values are
 * compared as the parser trimmed them (spaces and tabs); the Python side stored the values
 * it negotiated with, so equal bytes mean an equal choice.  What else the choice rests on
 * is the entry's to check at each hit: the directory's names (a dirwatch dependency), the
 * other variants' sizes (identity probes), the chosen file's stat.
 * Part of fc_fast.h; not a stand-alone header.
 */
#ifndef FC_NEGKEY_H
#define FC_NEGKEY_H
#include <stdlib.h>
#include <string.h>

#define FC_NEG_FIELDS 4   /* accept, accept-charset, accept-encoding, accept-language */
#define FC_NEG_MAX 16     /* entries per target (browsers send a few dozen Accept* sets) */

/* The values of the four fields: n[i] is how many times field i came (an entry: 0 or 1). */
typedef struct {
    const char *v[FC_NEG_FIELDS]; size_t l[FC_NEG_FIELDS]; int n[FC_NEG_FIELDS];
    int negotiate;                     /* Negotiate fields in the request */
    int proto;                         /* a request: 1 HTTP/1.1, 2 HTTP/1.0; an entry: the
                                        * one it answers, 0 both (a type map's HTTP/1.0
                                        * answer has Expires, its HTTP/1.1 one has not) */
} fc_negview;

static inline int fc_neg_ieq(const char *a, const char *lower, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int ch = (unsigned char)a[i];
        if ((ch >= 'A' && ch <= 'Z' ? ch + 32 : ch) != lower[i]) return 0;
    }
    return 1;
}

/* Which of the four a field name (of length nl) is, or -1; "negotiate" gives -2. */
static inline int fc_neg_field(const char *nm, size_t nl) {
    static const char *const names[FC_NEG_FIELDS] = {
        "accept", "accept-charset", "accept-encoding", "accept-language" };
    static const size_t lens[FC_NEG_FIELDS] = { 6, 14, 15, 15 };
    if (nl == 9 && fc_neg_ieq(nm, "negotiate", 9)) return -2;
    if (nl < 6 || (nm[0] | 0x20) != 'a') return -1;
    for (int i = 0; i < FC_NEG_FIELDS; i++)
        if (nl == lens[i] && fc_neg_ieq(nm, names[i], lens[i])) return i;
    return -1;
}

/* Whether the request's values (want) are the entry's (have).  A stored view never has a
 * field twice nor a Negotiate field, so a request with either matches none. */
static int fc_neg_match(const fc_negview *have, const fc_negview *want) {
    if (want->negotiate || (have->proto && have->proto != want->proto)) return 0;
    for (int i = 0; i < FC_NEG_FIELDS; i++) {
        if (have->n[i] != want->n[i]) return 0;
        if (have->n[i] && (have->l[i] != want->l[i]
                           || memcmp(have->v[i], want->v[i], have->l[i]) != 0)) return 0;
    }
    return 1;
}

/* An entry's own copy (its strings on the heap); NULL when out of memory. */
static fc_negview *fc_neg_copy(const char *const v[FC_NEG_FIELDS],
                               const size_t l[FC_NEG_FIELDS], const int present[FC_NEG_FIELDS],
                               int proto) {
    fc_negview *k = (fc_negview *)calloc(1, sizeof *k);
    if (!k) return NULL;
    k->proto = proto;
    for (int i = 0; i < FC_NEG_FIELDS; i++) {
        if (!present[i]) continue;
        char *d = (char *)malloc(l[i] + 1);
        if (!d) {
            for (int j = 0; j < i; j++) free((char *)k->v[j]);
            free(k);
            return NULL;
        }
        if (l[i]) memcpy(d, v[i], l[i]);
        d[l[i]] = 0;
        k->v[i] = d; k->l[i] = l[i]; k->n[i] = 1;
    }
    return k;
}

static void fc_neg_free(fc_negview *k) {
    if (!k) return;
    for (int i = 0; i < FC_NEG_FIELDS; i++) free((char *)k->v[i]);
    free(k);
}

#endif /* FC_NEGKEY_H */

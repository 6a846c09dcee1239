/* fc_fastparse.h - the fast path's request-head parser: the request line and the few
 * fields the engine acts on (Host, Connection, and any field that sends a request to
 * Python: fc_forces_full_path's, values that merged could pass LimitRequestFieldSize),
 * with httpd's limits (LimitRequestLine,
 * LimitRequestFields, LimitRequestFieldSize) taken from the cache's configuration.
 * Anything it does not accept is left to the Python parser, which answers as Apache.
 * Part of fc_fast.h (included there after the cache and request types); not a
 * stand-alone header.
 */
#ifndef FC_FASTPARSE_H
#define FC_FASTPARSE_H
#include "fc_token.h"

/* ------------------------------------------------------------------ request head */
static const unsigned char fc_tchar[256] = {
    /* RFC 9110 token characters */
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

/* Connection tokens close / keep-alive, matched as Apache's ap_find_token (fc_token.h) */
static void fc_conn_tokens(const char *v, size_t n, int *close_, int *ka) {
    const unsigned char *u = (const unsigned char *)v;
    if (fc_find_token(u, n, "close", 5)) *close_ = 1;
    if (fc_find_token(u, n, "keep-alive", 10)) *ka = 1;
}

/* The request fields a cached 200 cannot answer, as core/cacheable.py's forces_full_path
 * (tests/core/test_cacheable_parity.py holds the two equal): a body (Content-Length,
 * Transfer-Encoding, Expect), Range, and every conditional (If-*). */
/* Nonzero (the fc_stats.h reason: body, range, conditional) when it does. */
static inline int fc_forces_full_path(const char *nm, size_t nl) {
    switch (fc_lower((unsigned char)nm[0])) {
    case 'c': return fc_ieq(nm, nl, "content-length", 14) ? FC_FR_BODY : 0;
    case 't': return fc_ieq(nm, nl, "transfer-encoding", 17) ? FC_FR_BODY : 0;
    case 'e': return fc_ieq(nm, nl, "expect", 6) ? FC_FR_BODY : 0;
    case 'r': return fc_ieq(nm, nl, "range", 5) ? FC_FR_RANGE : 0;
    case 'i': return nl > 3 && fc_lower((unsigned char)nm[1]) == 'f' && nm[2] == '-'
                     ? FC_FR_CONDITIONAL : 0;
    default: return 0;
    }
}

/* Parse one head at p[0..n).  Returns its length (> 0), 0 when incomplete, -1 when the
 * request is not for the fast path (anything unusual: the Python parser decides). */
/* Could the complete request line p[0..len) be the fast path's?  Checked as soon as it
 * has arrived: an HTTP/0.9 line ("GET /x") has no header section to wait for, so the
 * engine must not wait for a blank line that never comes (the Python path serves it). */
static int fc_line_shape_ok(const char *p, size_t len) {
    if (len < 14 || memcmp(p + len - 9, " HTTP/1.", 8) != 0) return 0;
    return memcmp(p, "GET ", 4) == 0 || memcmp(p, "HEAD ", 5) == 0;
}

static __thread int fc_parse_why;  /* FC_FR_*: why fc_parse returned -1 */
static long fc_parse(const fc_fcache *c, const char *p, size_t n, fc_req *r) {
    fc_parse_why = FC_FR_REQUEST_SHAPE;
    const char *end = NULL;
    size_t i = 0;
    int first_line = 1;
    while (i < n && !end) {
        char ch = p[i];
        if (ch == '\n') return -1;           /* a bare LF: the Python parser answers 400 */
        if (ch != '\r') { i++; continue; }
        if (i + 1 >= n) return 0;
        if (p[i + 1] != '\n') return -1;     /* a bare CR */
        if (first_line) {
            if (!fc_line_shape_ok(p, i)) {
                if (memcmp(p, "GET ", i < 4 ? i : 4) != 0 && memcmp(p, "HEAD ", i < 5 ? i : 5) != 0)
                    fc_parse_why = FC_FR_METHOD;
                return -1;
            }
            first_line = 0;
        }
        if (i + 2 < n && p[i + 2] == '\r') {
            if (i + 3 >= n) return 0;
            if (p[i + 3] != '\n') return -1;
            end = p + i + 4;
        }
        i += 2;
    }
    if (!end) return 0;
    memset(r, 0, sizeof *r);
    r->head = p; r->headlen = (size_t)(end - p);
    const char *q = p;
    const char *eol = memchr(p, '\r', r->headlen);
    r->line = p; r->linelen = (size_t)(eol - p);
    if (r->linelen > c->limit_line) return -1;
    /* may_use_cache's method and target form: GET or HEAD of an origin-form target */
    if (r->linelen > 4 && memcmp(q, "GET ", 4) == 0) { r->method = q; r->mlen = 3; q += 4; }
    else if (r->linelen > 5 && memcmp(q, "HEAD ", 5) == 0) { r->method = q; r->mlen = 4; q += 5; }
    else return -1;
    if (*q != '/') return -1;
    r->target = q;
    while (q < eol && *q != ' ') {
        unsigned char ch = (unsigned char)*q;
        if (ch <= 0x20 || ch == 0x7f || ch == '#') return -1;
        q++;
    }
    r->tlen = (size_t)(q - r->target);
    if (eol - q != 9 || memcmp(q, " HTTP/1.", 8) != 0 || (q[8] != '0' && q[8] != '1'))
        return -1;
    r->proto = q + 1; r->plen = 8;
    int v11 = q[8] == '1';
    int conn_close = 0, conn_ka = 0, nf;
    size_t nfields = 0, vtotal = 0;
    const char *f = eol + 2;
    r->fields = f;
    r->fieldslen = (size_t)(end - f);
    while (f < end - 2) {
        const char *fe = memchr(f, '\r', (size_t)(end - f));
        size_t fl = (size_t)(fe - f);
        if (fl > c->limit_field_size || ++nfields > c->limit_fields) return -1;
        const char *nm = f;
        while (f < fe && fc_tchar[(unsigned char)*f]) f++;
        if (f == nm || f == fe || *f != ':') return -1;  /* obs-fold, bad name, space before ':' */
        size_t nl = (size_t)(f - nm);
        const char *v = f + 1;
        for (const char *x = v; x < fe; x++) {
            unsigned char ch = (unsigned char)*x;
            if ((ch < 0x20 && ch != '\t') || ch == 0x7f) return -1;
        }
        while (v < fe && (*v == ' ' || *v == '\t')) v++;
        const char *ve = fe;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        /* repeated names are merged with ", " and the merged value must stay within
         * LimitRequestFieldSize; when all values together could exceed it, Python checks */
        vtotal += (size_t)(ve - v) + 2;
        if (vtotal > c->limit_field_size + 2) return -1;
        int why = fc_forces_full_path(nm, nl);
        if (why) { fc_parse_why = why; return -1; }
        if (fc_ieq(nm, nl, "host", 4)) {
            if (r->has_host) return -1;
            r->has_host = 1; r->host = v; r->hostlen = (size_t)(ve - v);
        } else if (fc_ieq(nm, nl, "connection", 10)) {
            fc_conn_tokens(v, (size_t)(ve - v), &conn_close, &conn_ka);
        } else if (nl == 15 && fc_ieq(nm, nl, "accept-encoding", 15)) {
            r->ae = v; r->aelen = (size_t)(ve - v); r->nae++;  /* fc_vary.h picks with it */
            r->nv.v[2] = v; r->nv.l[2] = (size_t)(ve - v); r->nv.n[2]++;
        } else if ((nf = fc_neg_field(nm, nl)) != -1) {  /* fc_negkey.h */
            if (nf == -2) r->nv.negotiate++;
            else { r->nv.v[nf] = v; r->nv.l[nf] = (size_t)(ve - v); r->nv.n[nf]++; }
        } else if (nl == 7 && fc_ieq(nm, nl, "upgrade", 7)) {
            r->nupg++; if (ve > v) r->upg_set = 1;  /* no announcement (fc_upgrade.h) */
        }
        f = fe + 2;
    }
    if (v11 && !r->has_host) return -1;
    if (!r->has_host) { r->host = ""; r->hostlen = 0; }
    r->http11 = v11;  /* keep or close: fc_keepalive (fc_keepalive.h) */
    r->nv.proto = v11 ? 1 : 2;
    r->close_token = conn_close;
    r->ka_sent = conn_ka;
    return (long)r->headlen;
}

/* Whether the engine would answer the complete head p[0..n) from its cache (given an
 * entry): the C side of the parity test with core/cacheable.py's may_use_cache. */
static int fc_head_may_use_cache(const fc_fcache *c, const char *p, size_t n) {
    fc_req r;
    long hl = fc_parse(c, p, n, &r);
    return hl > 0 && (size_t)hl == n;
}

#endif /* FC_FASTPARSE_H */

/* fc_request.h - HTTP/1.x request-head scanner with Apache 2.4's rules
 * (HttpProtocolOptions Strict LenientMethods Allow0.9, the 2.4 defaults; Unsafe through
 * fc_parse_head_ex, see fc_parse_request_line_unsafe), no GIL, no
 * allocation: it records spans into the caller's buffer.  Verified against real Apache by
 * tests/integration/test_parser_vs_apache.py.
 *
 * Rules (measured on Apache 2.4.71):
 *  - every line ends in CRLF (bare LF: 400); up to 10 empty lines before the request line;
 *  - request line longer than LimitRequestLine + 1 bytes (without CRLF): 414;
 *  - request line = method SP target [SP protocol], single SPs, method a token, target and
 *    protocol VCHAR/obs-text; protocol "HTTP/d.d" with d != 0 (uppercase only) or absent
 *    (HTTP/0.9, GET only); target "/...", "?...", "*" for OPTIONS, or absolute "scheme:..."
 *    whose path part is empty or starts with "/", never with a "#fragment"; for CONNECT
 *    only the authority form "host:port" / "[v6]:port" (port: optional sign, digits),
 *    which no other method takes; else 400;
 *  - header line longer than LimitRequestFieldSize + 1: 400; more than LimitRequestFields
 *    fields (continuation lines not counted): 400; name a token immediately followed by ':';
 *    value HT / VCHAR / SP / obs-text only; obs-fold joins with one space, a fold line
 *    that is empty or comes first is 400, a folded field must stay under the field limit;
 *  - order of the verdicts: each line is read (size, CRLF) before the field before it is
 *    checked (count, name, value), because a fold line may still extend that field.
 */
#ifndef FC_REQUEST_H
#define FC_REQUEST_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FC_MAX_BLANK_LINES 10

typedef struct { uint32_t off, len; } fc_span;
typedef struct { fc_span name, value; int folded; } fc_field;
typedef struct {
    fc_span method, target, version;
    int proto_num;
    size_t head_len;
    int nfields;
    int status;          /* 0, or the HTTP status of the error */
    const char *reason;  /* static text */
} fc_head;

/* character classes: 1 tchar, 2 vchar/obs-text, 4 field-content (HT, SP, VCHAR, obs-text) */
static unsigned char fc_cls[256];
static int fc_cls_ready = 0;

static void fc_request_init(void) {
    int c;
    const char *t = "!#$%&'*+-.^_`|~";
    if (fc_cls_ready) return;
    for (c = 0; c < 256; c++) {
        unsigned char v = 0;
        if ((c >= 0x21 && c <= 0x7e) || c >= 0x80) v |= 2 | 4;
        if (c == ' ' || c == '\t') v |= 4;
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c && strchr(t, c)))
            v |= 1;
        fc_cls[c] = v;
    }
    fc_cls_ready = 1;
}

#define FC_ERR(st, why) do { h->status = (st); h->reason = (why); return -1; } while (0)

static int fc_is_alnum(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* CONNECT's authority-form "host:port" as apr_uri_parse_hostinfo takes it: "[v6]:port" or
 * text up to the first ':', then a port strtol reads whole (optional sign, digits).  The
 * host name itself is checked later (http/request.py), after the header section, as
 * Apache's fix_hostname is. */
static int fc_authority_ok(const unsigned char *t, size_t n) {
    size_t i = 0, d;
    if (n && t[0] == '[') {
        const unsigned char *rb = (const unsigned char *)memchr(t, ']', n);
        if (!rb) return 0;
        i = (size_t)(rb - t) + 1;
        if (i >= n || t[i] != ':') return 0;
    } else {
        const unsigned char *c = (const unsigned char *)memchr(t, ':', n);
        if (!c) return 0;
        i = (size_t)(c - t);
    }
    i++;
    if (i < n && (t[i] == '+' || t[i] == '-')) i++;
    d = i;
    while (i < n && t[i] >= '0' && t[i] <= '9') i++;
    return i > d && i == n;
}

/* Is the request-target acceptable to Apache's ap_parse_uri + path check?  CONNECT takes
 * only the authority form (no proxy: the request then gets 405); others never take it. */
static int fc_target_ok(const unsigned char *t, size_t n, const unsigned char *m, size_t mlen) {
    size_t i = 0;
    if (memchr(t, '#', n)) return 0; /* Apache 2.4 answers 400 to any fragment */
    if (mlen == 7 && memcmp(m, "CONNECT", 7) == 0) return fc_authority_ok(t, n);
    if (n && (t[0] == '/' || t[0] == '?')) return 1; /* path, or an empty path */
    if (n == 1 && t[0] == '*') return mlen == 7 && memcmp(m, "OPTIONS", 7) == 0;
    /* absolute-form: scheme ":" ... */
    if (!n || !((t[0] >= 'a' && t[0] <= 'z') || (t[0] >= 'A' && t[0] <= 'Z'))) return 0;
    while (i < n && (fc_is_alnum(t[i]) || t[i] == '+' || t[i] == '-' || t[i] == '.')) i++;
    if (i >= n || t[i] != ':') return 0;
    i++;
    if (i + 1 < n && t[i] == '/' && t[i + 1] == '/') {
        i += 2;
        return 1; /* path is empty or starts with '/' */
    }
    return i >= n || t[i] == '/' || t[i] == '?';
}

/* HttpProtocolOptions Unsafe (Apache's lenient reading, measured on 2.4.71): any VCHAR
 * method (an unknown one is 501 later), runs of SP between the parts and after the
 * protocol, "http/" in any case; a tab is still 400, as is text after the protocol. */
static int fc_parse_request_line_unsafe(const unsigned char *b, size_t s, size_t e,
                                        fc_head *h) {
    size_t i = s, m0 = s, t0, p0, p1;
    while (i < e && (fc_cls[b[i]] & 2)) i++;
    if (i == m0) FC_ERR(400, "Invalid method in request line");
    if (i == e) FC_ERR(400, "Missing URI in request line");
    if (b[i] != ' ') FC_ERR(400, "Invalid method or whitespace in request line");
    h->method.off = (uint32_t)m0; h->method.len = (uint32_t)(i - m0);
    while (i < e && b[i] == ' ') i++;
    t0 = i;
    while (i < e && (fc_cls[b[i]] & 2)) i++;
    if (i == t0) FC_ERR(400, "Missing URI in request line");
    if (i < e && b[i] != ' ') FC_ERR(400, "Invalid URI or whitespace in request line");
    h->target.off = (uint32_t)t0; h->target.len = (uint32_t)(i - t0);
    while (i < e && b[i] == ' ') i++;
    p0 = i;
    while (i < e && (fc_cls[b[i]] & 2)) i++;
    p1 = i;
    while (i < e && b[i] == ' ') i++;
    if (i < e) FC_ERR(400, "Invalid protocol, whitespace or trailing text in request line");
    h->version.off = (uint32_t)p0; h->version.len = (uint32_t)(p1 - p0);
    if (p0 == p1) {
        h->proto_num = 9;
        if (!(h->method.len == 3 && memcmp(b + m0, "GET", 3) == 0))
            FC_ERR(400, "HTTP/0.9 request with a method other than GET");
    } else {
        const unsigned char *p = b + p0;
        if (p1 - p0 != 8 || (p[0] | 0x20) != 'h' || (p[1] | 0x20) != 't' ||
            (p[2] | 0x20) != 't' || (p[3] | 0x20) != 'p' || p[4] != '/' || p[5] < '1' ||
            p[5] > '9' || p[6] != '.' || p[7] < '0' || p[7] > '9')
            FC_ERR(400, "Invalid protocol in request line");
        h->proto_num = (p[5] - '0') * 1000 + (p[7] - '0');
    }
    if (!fc_target_ok(b + t0, h->target.len, b + m0, h->method.len))
        FC_ERR(400, "Invalid request-target");
    return 0;
}

static int fc_parse_request_line(const unsigned char *b, size_t s, size_t e, fc_head *h) {
    size_t i = s, m0, t0, p0;
    m0 = i;
    while (i < e && (fc_cls[b[i]] & 1)) i++;
    if (i == m0) FC_ERR(400, "Invalid method in request line");
    if (i == e) FC_ERR(400, "Missing URI in request line");
    if (b[i] != ' ') FC_ERR(400, "Invalid method or whitespace in request line");
    h->method.off = (uint32_t)m0; h->method.len = (uint32_t)(i - m0);
    i++;
    t0 = i;
    while (i < e && (fc_cls[b[i]] & 2)) i++;
    if (i == t0) FC_ERR(400, "Missing URI or excess whitespace in request line");
    if (i < e && b[i] != ' ') FC_ERR(400, "Invalid URI or whitespace in request line");
    h->target.off = (uint32_t)t0; h->target.len = (uint32_t)(i - t0);
    if (i < e) i++;
    p0 = i;
    while (i < e && (fc_cls[b[i]] & 2)) i++;
    if (i < e) FC_ERR(400, "Invalid protocol, whitespace or trailing text in request line");
    h->version.off = (uint32_t)p0; h->version.len = (uint32_t)(i - p0);
    if (p0 == e) {
        h->proto_num = 9;
        if (!(h->method.len == 3 && memcmp(b + m0, "GET", 3) == 0))
            FC_ERR(400, "HTTP/0.9 request with a method other than GET");
    } else {
        const unsigned char *p = b + p0;
        if (e - p0 != 8 || memcmp(p, "HTTP/", 5) != 0 || p[5] < '1' || p[5] > '9' || p[6] != '.' ||
            p[7] < '0' || p[7] > '9')
            FC_ERR(400, "Invalid protocol in request line");
        h->proto_num = (p[5] - '0') * 1000 + (p[7] - '0');
    }
    if (!fc_target_ok(b + t0, h->target.len, b + m0, h->method.len))
        FC_ERR(400, "Invalid request-target");
    return 0;
}

/* Check one header field once the line after it has been read, as Apache does (it reads
 * the next line first: a fold may follow), so a read error of that line answers first.
 * [s, e) is the field line and its folds (trailing blanks cut).  Returns 0 and fills
 * fields[nf]; -1 with h->status; -1 with h->status == 0 when fields[] is full. */
static int fc_field_done(const unsigned char *b, size_t s, size_t e, int folded,
                         long limit_fields, int nf, fc_head *h, fc_field *fields, int cap,
                         int strict) {
    size_t i = s, k;
    fc_field *f;
    if (limit_fields > 0 && nf >= limit_fields)
        FC_ERR(400, "The number of request header fields exceeds this server's limit");
    if (strict)
        while (i < e && (fc_cls[b[i]] & 1)) i++;
    else  /* Unsafe: any VCHAR up to the ':' (still no whitespace in the name) */
        while (i < e && b[i] != ':' && (fc_cls[b[i]] & 2)) i++;
    if (i == s || i == e || b[i] != ':') FC_ERR(400, "Request header field name is malformed");
    if (nf >= cap) return -1; /* h->status still 0: grow the array and scan again */
    f = &fields[nf];
    f->name.off = (uint32_t)s; f->name.len = (uint32_t)(i - s);
    f->folded = folded;
    i++;
    for (;;) { /* leading blanks, and the line breaks of folds onto an empty value */
        if (i < e && (b[i] == ' ' || b[i] == '\t')) i++;
        else if (i + 1 < e && b[i] == '\r' && b[i + 1] == '\n') i += 2;
        else if (!strict && i < e && b[i] == '\n') i++;  /* Unsafe: an LF fold */
        else break;
    }
    for (k = i; k < e; k++) {
        if (fc_cls[b[k]] & 4) continue;
        if (b[k] == '\r' && k + 1 < e && b[k + 1] == '\n') { k++; continue; } /* a fold */
        if (!strict && b[k] != 0) continue;  /* Unsafe: control characters but NUL, LF folds */
        FC_ERR(400, "Request header value is malformed");
    }
    f->value.off = (uint32_t)i; f->value.len = (uint32_t)(e - i);
    return 0;
}

/* Returns 1 complete (h filled, fields[0..nfields)), 0 incomplete, -1 error (h->status),
 * -2 the fields array is too small (call again with a larger one). */
static int fc_parse_head_ex(const unsigned char *b, size_t n, long limit_line,
                            long limit_fields, long limit_field_size, fc_head *h,
                            fc_field *fields, int cap, int strict) {
    size_t pos = 0, last_len = 0, ps = 0, pe = 0;
    int blanks = 0, nf = 0, pend = 0, pfold = 0;
    const unsigned char *lf;
    memset(h, 0, sizeof *h);
    /* request line, after at most FC_MAX_BLANK_LINES empty lines */
    for (;;) {
        size_t e, ce;
        lf = (const unsigned char *)memchr(b + pos, '\n', n - pos);
        if (!lf) {
            if (limit_line > 0 && n - pos > (size_t)limit_line + 2)
                FC_ERR(414, "Request-URI Too Long");
            return 0;
        }
        e = (size_t)(lf - b);
        if (limit_line > 0 && e - pos > (size_t)limit_line + 2) FC_ERR(414, "Request-URI Too Long");
        if (e > pos && b[e - 1] == '\r') ce = e - 1;
        else if (!strict) ce = e;  /* Unsafe: a bare LF ends the line too */
        else FC_ERR(400, "Request line not terminated by CRLF");
        if (limit_line > 0 && ce - pos > (size_t)limit_line + 1)
            FC_ERR(414, "Request-URI Too Long");
        if (ce == pos) {
            if (++blanks > FC_MAX_BLANK_LINES) FC_ERR(400, "Too many empty lines before the request");
            pos = e + 1;
            continue;
        }
        if ((strict ? fc_parse_request_line(b, pos, ce, h)
                    : fc_parse_request_line_unsafe(b, pos, ce, h)) < 0)
            return -1;
        pos = e + 1;
        break;
    }
    if (h->proto_num == 9) { /* no header section */
        h->head_len = pos;
        h->nfields = 0;
        return 1;
    }
    for (;;) {
        size_t e, s, ce;
        lf = (const unsigned char *)memchr(b + pos, '\n', n - pos);
        if (!lf) {
            if (limit_field_size > 0 && n - pos > (size_t)limit_field_size + 2)
                FC_ERR(400, "Size of a request header field exceeds server limit");
            return 0; /* a line that may still fail to read: nothing more is certain */
        }
        e = (size_t)(lf - b);
        s = pos;
        if (limit_field_size > 0 && e - s > (size_t)limit_field_size + 2)
            FC_ERR(400, "Size of a request header field exceeds server limit");
        if (e > s && b[e - 1] == '\r') ce = e - 1;
        else if (!strict) ce = e;  /* Unsafe: a bare LF ends the line too */
        else FC_ERR(400, "Header line not terminated by CRLF");
        if (limit_field_size > 0 && ce - s > (size_t)limit_field_size + 1)
            FC_ERR(400, "Size of a request header field exceeds server limit");
        pos = e + 1;
        if (ce > s && (b[s] == ' ' || b[s] == '\t')) { /* obs-fold continuation */
            size_t r0 = s, r1 = ce;
            if (!pend) FC_ERR(400, "Line folding encountered before first header line");
            while (r0 < r1 && (b[r0] == ' ' || b[r0] == '\t')) r0++;
            while (r1 > r0 && (b[r1 - 1] == ' ' || b[r1 - 1] == '\t')) r1--;
            if (r0 == r1) FC_ERR(400, "Empty folded line encountered");
            if (limit_field_size > 0 && last_len + (r1 - r0) + 2 >= (size_t)limit_field_size)
                FC_ERR(400, "Size of a request header field exceeds server limit");
            last_len += 1 + (r1 - r0);
            pe = r1;
            pfold = 1;
            continue;
        }
        if (pend) { /* the previous field, folds joined, is checked only now */
            if (fc_field_done(b, ps, pe, pfold, limit_fields, nf, h, fields, cap, strict) < 0)
                return h->status ? -1 : -2;
            nf++;
        }
        if (ce == s) break; /* the blank line: end of head */
        pend = 1;
        ps = s;
        pe = ce;
        while (pe > s && (b[pe - 1] == ' ' || b[pe - 1] == '\t')) pe--;
        pfold = 0;
        last_len = pe - s;
    }
    h->head_len = pos;
    h->nfields = nf;
    return 1;
}

/* HttpProtocolOptions Strict (the default) */
static int fc_parse_head(const unsigned char *b, size_t n, long limit_line, long limit_fields,
                         long limit_field_size, fc_head *h, fc_field *fields, int cap) {
    return fc_parse_head_ex(b, n, limit_line, limit_fields, limit_field_size, h, fields, cap, 1);
}
#endif

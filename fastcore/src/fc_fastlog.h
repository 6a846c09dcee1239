/* fc_fastlog.h - the fast path's access log: mod_log_config formats compiled to a small
 * op program (fastcore._pure.fastpath.compile_log_format), rendered in C, written with one
 * write() per line or buffered per log file (BufferedLogs) and flushed when full, on
 * flush_logs() and at exit, so no line is lost.  Part of fc_fast.h (included there after
 * the cache and connection types); not a stand-alone header.
 */
#ifndef FC_FASTLOG_H
#define FC_FASTLOG_H

/* ------------------------------------------------------------------ logs */
static int fc_write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) { if (errno == EINTR) continue; return -errno; }
        p += w; n -= (size_t)w;
    }
    return 0;
}
/* Find or make the buffer of fd (under logmu); -1 when out of slots. */
static int fc_logbuf_for(fc_fcache *c, int fd) {
    for (int i = 0; i < c->nbufs; i++) if (c->bufs[i]->fd == fd) return i;
    if (c->nbufs >= FC_MAX_LOGFDS) return -1;
    fc_logbuf *b = (fc_logbuf *)malloc(sizeof *b);
    if (!b) return -1;
    b->fd = fd; b->len = 0;
    c->bufs[c->nbufs] = b;
    return c->nbufs++;
}
static void fc_log_flush_locked(fc_logbuf *b) {
    if (b->len) { fc_write_all(b->fd, b->data, b->len); b->len = 0; }
}
/* One line to one log: a write() now, or appended to the fd's buffer (BufferedLogs). */
static void fc_log_emit(fc_fcache *c, int fd, int buffered, const char *line, size_t n) {
    if (!buffered) { fc_write_all(fd, line, n); return; }
    pthread_mutex_lock(&c->logmu);
    int i = fc_logbuf_for(c, fd);
    if (i < 0) { pthread_mutex_unlock(&c->logmu); fc_write_all(fd, line, n); return; }
    fc_logbuf *b = c->bufs[i];
    if (b->len + n > FC_LOG_BUFSIZE) fc_log_flush_locked(b);
    if (n > FC_LOG_BUFSIZE) fc_write_all(fd, line, n);
    else { memcpy(b->data + b->len, line, n); b->len += n; }
    pthread_mutex_unlock(&c->logmu);
}
static void fc_log_flush(fc_fcache *c) {
    pthread_mutex_lock(&c->logmu);
    for (int i = 0; i < c->nbufs; i++) fc_log_flush_locked(c->bufs[i]);
    pthread_mutex_unlock(&c->logmu);
}

/* %t: [26/Nov/2026:11:16:35 +0000], local time, rebuilt once per second per thread */
static __thread int64_t fc_clf_sec = -1;
static __thread char fc_clf_buf[40];
static __thread size_t fc_clf_len;
static const char *fc_clf(int64_t sec, size_t *n) {
    if (sec != fc_clf_sec) {
        struct tm tm;
        time_t t = (time_t)sec;
        localtime_r(&t, &tm);
        long off = tm.tm_gmtoff / 60;
        char sign = off >= 0 ? '+' : '-';
        if (off < 0) off = -off;
        int len = snprintf(fc_clf_buf, sizeof fc_clf_buf, "[%02d/%s/%d:%02d:%02d:%02d %c%02ld%02ld]",
                           tm.tm_mday, fc_mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
                           tm.tm_min, tm.tm_sec, sign, off / 60, off % 60);
        fc_clf_len = len > 0 ? (size_t)len : 0;
        fc_clf_sec = sec;
    }
    *n = fc_clf_len;
    return fc_clf_buf;
}

typedef struct { char *p; size_t len, cap; int oom; } fc_sbuf;
static void fc_put(fc_sbuf *s, const char *p, size_t n) {
    if (s->oom) return;
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 512;
        while (cap < s->len + n) cap *= 2;
        char *q = (char *)realloc(s->p, cap);
        if (!q) { s->oom = 1; return; }
        s->p = q; s->cap = cap;
    }
    memcpy(s->p + s->len, p, n);
    s->len += n;
}
static void fc_putnum(fc_sbuf *s, long long v) {
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", v);
    fc_put(s, tmp, (size_t)n);
}
/* ap_escape_logitem, byte for byte as fastcore.modules.mod_log_config.escape */
static void fc_put_escaped(fc_sbuf *s, const char *p, size_t n) {
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        char e[4];
        if (ch == '"' || ch == '\\') { e[0] = '\\'; e[1] = (char)ch; fc_put(s, e, 2); }
        else if (ch < 32 || ch >= 127) {
            e[0] = '\\';
            switch (ch) {
            case '\n': e[1] = 'n'; fc_put(s, e, 2); break;
            case '\t': e[1] = 't'; fc_put(s, e, 2); break;
            case '\r': e[1] = 'r'; fc_put(s, e, 2); break;
            case '\b': e[1] = 'b'; fc_put(s, e, 2); break;
            case '\v': e[1] = 'v'; fc_put(s, e, 2); break;
            default: e[1] = 'x'; e[2] = hex[ch >> 4]; e[3] = hex[ch & 15]; fc_put(s, e, 4);
            }
        } else fc_put(s, (const char *)&p[i], 1);
    }
}

/* The parsed request the log needs. */
typedef struct {
    const char *head; size_t headlen;
    const char *line; size_t linelen;
    const char *method; size_t mlen;
    const char *proto; size_t plen;
    const char *target; size_t tlen;
    const char *fields; size_t fieldslen;   /* from the first field line to the end */
    const char *host; size_t hostlen; int has_host;
    int http11;                             /* HTTP/1.1 or later */
    int close_token;                        /* Connection lists close */
    int ka_sent;                            /* Connection lists keep-alive */
    const char *ae; size_t aelen; int nae;  /* Accept-Encoding and how many fields (fc_vary.h) */
    int nupg, upg_set;                      /* Upgrade fields, and a non-empty one (fc_upgrade.h) */
    fc_negview nv;                          /* the fields negotiation reads (fc_negkey.h) */
} fc_req;

/* %{name}i: the field's value (repeats joined with ", "), escaped; "-" when absent/empty */
static void fc_put_header(fc_sbuf *s, const fc_req *r, const char *name, size_t nl) {
    const char *p = r->fields, *end = r->fields + r->fieldslen;
    size_t before = s->len;
    int found = 0;
    while (p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        if (!eol || eol == p) break;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon && fc_ieq(p, (size_t)(colon - p), name, nl)) {
            const char *v = colon + 1, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t')) v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
            if (found) fc_put(s, ", ", 2);
            fc_put_escaped(s, v, (size_t)(ve - v));
            found = 1;
        }
        p = eol + 2;
    }
    if (s->len == before) fc_put(s, "-", 1);
}

typedef struct {
    double start; long long dur_us;
    long long bytes_sent, bytes_out, bytes_in;
    int keep; long keepalive_count;
} fc_logctx;

static void fc_render(fc_sbuf *s, const char *prog, size_t plen, const fc_fconn *k,
                      const fc_fentry *e, const fc_req *r, const fc_logctx *x) {
    size_t i = 0;
    while (i + 3 <= plen) {
        int op = (unsigned char)prog[i];
        size_t al = (unsigned char)prog[i + 1] | ((size_t)(unsigned char)prog[i + 2] << 8);
        const char *arg = prog + i + 3;
        i += 3 + al;
        if (i > plen) break;
        switch (op) {
        case OP_LIT: fc_put(s, arg, al); break;
        case OP_H:
            if (k->rhostlen) fc_put(s, k->rhost, k->rhostlen);
            else fc_put(s, k->client, k->clientlen);
            break;
        case OP_A: fc_put(s, k->client, k->clientlen); break;
        case OP_T_CLF: { size_t n; const char *t = fc_clf((int64_t)x->start, &n); fc_put(s, t, n); break; }
        case OP_T_SEC: fc_putnum(s, (long long)x->start); break;
        case OP_T_MSEC: fc_putnum(s, (long long)(x->start * 1000)); break;
        case OP_T_USEC: fc_putnum(s, (long long)(x->start * 1000000)); break;
        case OP_T_MSFRAC: { char t[8]; snprintf(t, sizeof t, "%03lld", (long long)(x->start * 1000) % 1000); fc_put(s, t, 3); break; }
        case OP_T_USFRAC: { char t[12]; snprintf(t, sizeof t, "%06lld", (long long)(x->start * 1000000) % 1000000); fc_put(s, t, 6); break; }
        case OP_R: fc_put_escaped(s, r->line, r->linelen); break;
        case OP_STATUS: fc_putnum(s, e->fixed ? e->fixed : 200); break;  /* fc_rwprobe.h */
        case OP_b: if (x->bytes_sent) fc_putnum(s, x->bytes_sent); else fc_put(s, "-", 1); break;
        case OP_B: fc_putnum(s, x->bytes_sent); break;
        case OP_D: fc_putnum(s, x->dur_us); break;
        case OP_T_DIV: { long long d = atoll(arg); fc_putnum(s, x->dur_us / (d > 0 ? d : 1)); break; }
        case OP_HDR_IN: fc_put_header(s, r, arg, al); break;
        case OP_VHOST: case OP_HOSTV: case OP_PORT: case OP_URI: case OP_QUERY:
        case OP_FILENAME: case OP_CTYPE_O: {
            int j = op - OP_VHOST;
            fc_put(s, e->lv[j], e->lvlen[j]);
            break;
        }
        case OP_METHOD: fc_put_escaped(s, r->method, r->mlen); break;
        case OP_PROTO: fc_put(s, r->proto, r->plen); break;
        case OP_K: fc_putnum(s, x->keepalive_count); break;
        case OP_X: fc_put(s, x->keep ? "+" : "-", 1); break;
        case OP_PID: fc_putnum(s, (long long)getpid()); break;
        case OP_TID: fc_putnum(s, (long long)syscall(SYS_gettid)); break;
        case OP_HEXTID: { char t[24]; int n = snprintf(t, sizeof t, "%llx", (long long)syscall(SYS_gettid)); fc_put(s, t, (size_t)n); break; }
        case OP_RPORT: fc_putnum(s, k->remote_port); break;
        case OP_I: fc_putnum(s, x->bytes_in); break;
        case OP_O: fc_putnum(s, x->bytes_out); break;
        case OP_S: fc_putnum(s, x->bytes_in + x->bytes_out); break;
        case OP_DASH: fc_put(s, "-", 1); break;
        default: break;
        }
    }
}

#endif /* FC_FASTLOG_H */

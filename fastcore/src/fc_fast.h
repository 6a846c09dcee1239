/* fc_fast.h - the GIL-free request fast path: a bounded cache of static-file responses and
 * a per-connection loop read -> parse -> lookup -> stat -> send -> log -> next request.
 *
 * Python fills the cache (fc_cache_put) only for responses that depend on nothing but the
 * file; this code serves exactly what it was given and answers FC_FALLBACK for anything
 * else, leaving the unparsed bytes in the connection buffer for the Python path.
 * Thread safety: the cache (one mutex) and the log buffers (another) are shared by the
 * threads of a process; a connection is driven by one thread at a time.  Entries are
 * reference counted, so an eviction never frees content or closes a descriptor in use.
 */
#ifndef FC_FAST_H
#define FC_FAST_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/epoll.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include "fc_send.h"
#include "fc_scoreboard.h"
#include "fc_expires.h"
#include "fc_rwprobe.h"   /* probes and fixed answers behind mod_rewrite (issue 14) */
#include "fc_symlink.h"
#include "fc_ipmatch.h"
#include "fc_vary.h"         /* Accept-Encoding variants (issue 13) */
#include "fc_negkey.h"       /* answers chosen by negotiation (issue 12) */
#include "fc_upgrade.h"      /* Protocols' Upgrade announcement (issue 13) */
struct fc_envcheck_s;           /* SetEnvIf rules (fc_setenvif.h, included below) */
static void fc_envchecks_free(struct fc_envcheck_s *c, int n);
#include "fc_dirwatch.h"  /* issue 12: entries that rest on directories (deps) */

#define FC_WANT_READ 1
#define FC_WANT_WRITE 2
#define FC_CLOSED 3
#define FC_FALLBACK 4
#define FC_TIMEOUT 5              /* blocking keep-alive wait ran out (serve_blocking) */
#define FC_EXPIRED 5

#define FC_CONN_BUF 16384
#define FC_HDR_MAX 2048
#define FC_LOG_BUFSIZE 4096      /* as fastcore.modules.mod_log_config.LOG_BUFSIZE */
#define FC_MAX_LOGS 8            /* CustomLogs per vhost served by the engine */
#define FC_MAX_LOGFDS 32
#define FC_NLV 7                 /* per-entry log values */

/* log program opcodes: [op:1][len:2 little endian][arg] */
enum { OP_LIT = 1, OP_H, OP_A, OP_T_CLF, OP_T_SEC, OP_T_MSEC, OP_T_USEC, OP_T_MSFRAC,
       OP_T_USFRAC, OP_R, OP_STATUS, OP_b, OP_B, OP_D, OP_T_DIV, OP_HDR_IN, OP_VHOST,
       OP_HOSTV, OP_PORT, OP_URI, OP_QUERY, OP_FILENAME, OP_CTYPE_O, OP_METHOD, OP_PROTO,
       OP_K, OP_X, OP_PID, OP_TID, OP_HEXTID, OP_RPORT, OP_I, OP_O, OP_S, OP_DASH, OP_MAX };

typedef struct fc_fentry {
    struct fc_fentry *next;
    uint64_t hash;
    int refs;                 /* table reference + one per sender; under the cache mutex */
    int dead;                 /* removed from the table */
    int64_t addr_key;
    int has_host;
    char *host; size_t hostlen;
    char *target; size_t tlen;
    char *path;
    dev_t dev; ino_t ino; off_t size; int64_t mtime_ns;
    int64_t ctime_ns;                  /* seen at insert: a rewrite that puts mtime back */
    char *mid; size_t midlen;          /* Last-Modified .. Content-Length lines */
    int exp_kind; int64_t exp_val;     /* mod_expires' rule, formatted per hit (fc_expires.h) */
    char *ctype; size_t ctlen;         /* "Content-Type: ...\r\n" or empty */
    char *content;                     /* whole body in memory, or NULL */
    int ffd;                           /* open descriptor when content is NULL */
    int strategy;                      /* fc_send strategy for the descriptor */
    int keep_alive, max_ka, ka_int;
    double ka_timeout, timeout;
    int log_set;
    char *lv[FC_NLV]; size_t lvlen[FC_NLV];
    char *vhost; size_t vhostlen;      /* scoreboard vhost */
    /* fc_rwprobe.h: tests each hit repeats; a fixed answer (fixed = its status, 0 for a
     * file: then sline is unused) with its status line, body in content */
    fc_probe *probes; int nprobes;
    int fixed; char *sline; size_t slen;
    char *links; size_t linkslen;      /* symlink checks per hit (fc_symlink.h), or NULL */
    unsigned char *peer; size_t peerlen; /* Require ip program per hit (fc_ipmatch.h), or NULL */
    fc_variant *var; int nvar;         /* encoded answers picked by Accept-Encoding (fc_vary.h);
                                        * then ctime_ns is the one they were made from */
    char *upg; size_t upglen;          /* Protocols' names a first answer announces (fc_upgrade.h) */
    struct fc_envcheck_s *env; int nenv;  /* SetEnvIf rules: any match -> Python (fc_setenvif.h) */
    fc_dw_dep *deps; int ndeps;        /* directories the answer rests on (fc_dirwatch.h) */
    int host_need;                     /* HostnameLookups On: the connection's name must be
                                        * looked up already (k->dns_level), for %h */
    int vhost_idx;                     /* fc_stats.h's index of vhost + 1 (0: not looked up) */
    fc_negview *neg;                   /* negotiated: the request values it answers (fc_negkey.h) */
} fc_fentry;

typedef struct { int fd; int buffered; int bufidx; char *prog; size_t proglen; } fc_flog;
typedef struct { int n; fc_flog logs[FC_MAX_LOGS]; } fc_logset;
typedef struct { int fd; size_t len; char data[FC_LOG_BUFSIZE]; } fc_logbuf;

typedef struct {
    pthread_mutex_t mu;
    fc_fentry **buckets; size_t nbuckets;
    size_t count, max_entries;
    size_t content_bytes, budget;
    char server_line[256]; size_t server_len;
    size_t limit_line, limit_fields, limit_field_size;
    pthread_mutex_t logmu;
    fc_logset *sets; int nsets;
    fc_logbuf *bufs[FC_MAX_LOGFDS]; int nbufs;
    uint64_t hits, fallbacks, evictions;
    uint64_t ev_seen;  /* evictions already counted into the shared stats (fc_st_catch_up) */
    int draining;  /* graceful stop: every answer is the last on its connection */
} fc_fcache;

/* An idle connection is mostly this record (10,000 of them are 10,000 of it), so its
 * states are bytes and its fields are ordered without padding: 248 bytes. */
typedef struct {
    int fd;
    int slot;                          /* scoreboard slot (-1: none) */
    int proc;                          /* process stats record when slot < 0 (-1: none) */
    int owned;                         /* event loop: a C-only connection */
    uint8_t blocking, has_out, hdr_heap, closing, eof, timed_out, lingering, writing;
    uint8_t dns_level;                 /* 1: the reverse lookup was made (rhost is its name,
                                        * empty when none): Python's ReqCtx says so */
    uint8_t dns_confirmed;             /* 1: rhost is a name the forward lookup confirmed
                                        * (Require host's host leaf, fc_ipmatch.h) */
    uint8_t ostrat;                    /* FC_S_*: how the pending body is sent */
    uint8_t reason;                    /* FC_FR_*: why the last FC_FALLBACK left the engine */
    uint8_t clientlen;                 /* client: at most 63 bytes */
    uint8_t rhostlen;                  /* rhost: at most 255 bytes (fc_conn_set_host) */
    uint16_t remote_port;
    char *buf; size_t start, len;
    /* pending output */
    char *hdr; size_t hlen, hoff;      /* the pending head: the thread's scratch while
                                        * it is being sent, a heap copy once it waits */
    fc_fentry *oe; off_t ooff; size_t ocnt; const char *obody; size_t oblen;
    long requests;
    char client[64];
    char *rhost;                       /* heap, NULL until a lookup names the client */
    int64_t addr_key;
    fc_sb_t *sb;
    double timeout, ka_timeout;
    char *line; size_t linecap;        /* log line scratch */
} fc_fconn;
_Static_assert(sizeof(fc_fconn) <= 248, "an idle connection's record grew");

/* ------------------------------------------------------------------ small helpers */
static inline uint64_t fc_fnv(uint64_t h, const char *p, size_t n) {
    for (size_t i = 0; i < n; i++) { h ^= (unsigned char)p[i]; h *= 1099511628211ULL; }
    return h;
}
static uint64_t fc_key_hash(int64_t addr_key, int has_host, const char *host, size_t hl,
                            const char *t, size_t tl) {
    uint64_t h = 1469598103934665603ULL;
    h = fc_fnv(h, (const char *)&addr_key, sizeof addr_key);
    h = fc_fnv(h, has_host ? "H" : "N", 1);
    h = fc_fnv(h, host, hl);
    h = fc_fnv(h, "\n", 1);
    return fc_fnv(h, t, tl);
}
static inline double fc_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
static inline int fc_lower(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }
static int fc_ieq(const char *a, size_t al, const char *b, size_t bl) {
    if (al != bl) return 0;
    for (size_t i = 0; i < al; i++) if (fc_lower((unsigned char)a[i]) != b[i]) return 0;
    return 1;
}
static char *fc_dup(const char *p, size_t n) {
    char *d = (char *)malloc(n + 1);
    if (d) { if (n) memcpy(d, p, n); d[n] = 0; }
    return d;
}

/* ------------------------------------------------------------------ cache */
static int fc_cache_init(fc_fcache *c, size_t max_entries, size_t budget) {
    memset(c, 0, sizeof *c);
    size_t nb = 64;
    while (nb < max_entries * 2) nb <<= 1;
    c->buckets = (fc_fentry **)calloc(nb, sizeof(fc_fentry *));
    if (!c->buckets) return -ENOMEM;
    c->nbuckets = nb;
    c->max_entries = max_entries ? max_entries : 1;
    c->budget = budget;
    c->limit_line = 8190; c->limit_fields = 100; c->limit_field_size = 8190;
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->logmu, NULL);
    return 0;
}

static void fc_entry_free(fc_fcache *c, fc_fentry *e) {
    if (e->content) c->content_bytes -= (size_t)e->size;
    if (e->ffd >= 0) close(e->ffd);
    free(e->host); free(e->target); free(e->path); free(e->mid); free(e->ctype);
    free(e->content); free(e->vhost); free(e->links); free(e->peer);
    fc_variants_free(e->var, e->nvar);
    free(e->upg);
    fc_envchecks_free(e->env, e->nenv);
    free(e->deps);
    for (int i = 0; i < FC_NLV; i++) free(e->lv[i]);
    fc_probes_free(e->probes, e->nprobes); free(e->sline);
    fc_neg_free(e->neg);
    free(e);
}

/* under c->mu */
static void fc_unref_locked(fc_fcache *c, fc_fentry *e) {
    if (--e->refs == 0) fc_entry_free(c, e);
}
static void fc_unlink_locked(fc_fcache *c, fc_fentry *e) {
    if (e->dead) return;
    fc_fentry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];
    while (*pp && *pp != e) pp = &(*pp)->next;
    if (*pp) *pp = e->next;
    e->dead = 1;
    e->next = NULL;
    c->count--;
    fc_unref_locked(c, e);
}
static void fc_cache_clear(fc_fcache *c) {
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->nbuckets; i++)
        while (c->buckets[i]) fc_unlink_locked(c, c->buckets[i]);
    pthread_mutex_unlock(&c->mu);
}

static inline int fc_same_key(const fc_fentry *e, uint64_t h, int64_t ak, int has_host,
                               const char *host, size_t hl, const char *t, size_t tl) {
    return e->hash == h && e->addr_key == ak && e->has_host == has_host && e->hostlen == hl
           && e->tlen == tl && memcmp(e->target, t, tl) == 0 && memcmp(e->host, host, hl) == 0;
}

/* The key's entry that may answer a request with these negotiation values (NULL: any
 * entry of the key). */
static fc_fentry *fc_find_locked(fc_fcache *c, uint64_t h, int64_t ak, int has_host,
                                 const char *host, size_t hl, const char *t, size_t tl,
                                 const fc_negview *nv) {
    for (fc_fentry *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->next)
        if (fc_same_key(e, h, ak, has_host, host, hl, t, tl)
            && (!e->neg || !nv || fc_neg_match(e->neg, nv)))
            return e;
    return NULL;
}

/* Returns a referenced entry or NULL; nv: the request's negotiation values, or NULL. */
static fc_fentry *fc_cache_get(fc_fcache *c, int64_t ak, int has_host, const char *host,
                               size_t hl, const char *t, size_t tl, const fc_negview *nv) {
    uint64_t h = fc_key_hash(ak, has_host, host, hl, t, tl);
    pthread_mutex_lock(&c->mu);
    fc_fentry *e = fc_find_locked(c, h, ak, has_host, host, hl, t, tl, nv);
    if (e) e->refs++;
    pthread_mutex_unlock(&c->mu);
    return e;
}
static void fc_cache_release(fc_fcache *c, fc_fentry *e, int evict) {
    pthread_mutex_lock(&c->mu);
    if (evict) { fc_unlink_locked(c, e); c->evictions++; }
    fc_unref_locked(c, e);
    pthread_mutex_unlock(&c->mu);
}
static int fc_cache_remove(fc_fcache *c, int64_t ak, int has_host, const char *host, size_t hl,
                           const char *t, size_t tl) {
    uint64_t h = fc_key_hash(ak, has_host, host, hl, t, tl);
    int n = 0;
    pthread_mutex_lock(&c->mu);
    for (fc_fentry *e; (e = fc_find_locked(c, h, ak, has_host, host, hl, t, tl, NULL)); n++)
        fc_unlink_locked(c, e);  /* every negotiated answer of the target too */
    pthread_mutex_unlock(&c->mu);
    return n != 0;
}

/* Read a whole small file (fd at offset 0) into memory. */
static char *fc_slurp(int fd, size_t size) {
    char *p = (char *)malloc(size ? size : 1);
    size_t got = 0;
    if (!p) return NULL;
    while (got < size) {
        ssize_t r = pread(fd, p + got, size - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) { free(p); return NULL; }
        got += (size_t)r;
    }
    return p;
}

/* Insert an entry built by the caller (key/response fields set, ffd = -1, content NULL).
 * Opens the file, checks it is still the stat()ed one, reads it into memory when small and
 * want_content, else keeps the descriptor.  Returns 1 inserted, 0 refused, -errno. */
static void fc_cache_link(fc_fcache *c, fc_fentry *e);
static int fc_cache_insert(fc_fcache *c, fc_fentry *e, int want_content, size_t small_max) {
    struct stat st;
    int fd = open(e->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return -errno;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_ino != e->ino
        || st.st_size != e->size
        || (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec != e->mtime_ns) {
        close(fd);
        return 0;
    }
    if (e->ndeps && !fc_dw_valid(&fc_dw_global, e->deps, e->ndeps)) {
        close(fd);  /* a directory it rests on changed since the walk read it */
        return 0;
    }
    e->dev = st.st_dev;
    int64_t ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
    if (e->nvar && ctime_ns != e->ctime_ns) {  /* the variants were encoded from another file */
        close(fd);
        return 0;
    }
    e->ctime_ns = ctime_ns;
    int keep_content = 0;
    pthread_mutex_lock(&c->mu);
    keep_content = want_content && (size_t)e->size <= small_max
                   && c->content_bytes + (size_t)e->size <= c->budget;
    if (keep_content) c->content_bytes += (size_t)e->size;  /* reserve */
    pthread_mutex_unlock(&c->mu);
    if (keep_content) {
        e->content = fc_slurp(fd, (size_t)e->size);
        close(fd);
        if (!e->content) {
            pthread_mutex_lock(&c->mu);
            c->content_bytes -= (size_t)e->size;
            pthread_mutex_unlock(&c->mu);
            return 0;
        }
        e->ffd = -1;
    } else {
        e->ffd = fd;
    }
    fc_cache_link(c, e);
    return 1;
}

/* Put a complete entry in the table (replacing the key's old one); takes its reference. */
static void fc_cache_link(fc_fcache *c, fc_fentry *e) {
    e->hash = fc_key_hash(e->addr_key, e->has_host, e->host, e->hostlen, e->target, e->tlen);
    e->refs = 1;
    pthread_mutex_lock(&c->mu);
    /* the key's old answer goes; of negotiated answers, only the one for the same values
     * (the others stay, FC_NEG_MAX at most: the oldest, last in the chain, goes first) */
    fc_fentry *oldest = NULL;
    int kept = 0;
    for (fc_fentry *old = c->buckets[e->hash & (c->nbuckets - 1)], *nx; old; old = nx) {
        nx = old->next;
        if (!fc_same_key(old, e->hash, e->addr_key, e->has_host, e->host, e->hostlen,
                         e->target, e->tlen))
            continue;
        if (e->neg && old->neg && !fc_neg_match(old->neg, e->neg)) { kept++; oldest = old; }
        else fc_unlink_locked(c, old);
    }
    if (kept >= FC_NEG_MAX) fc_unlink_locked(c, oldest);
    if (c->count >= c->max_entries) {  /* bounded: drop everything (entries in use survive
                                        * until their senders release them) */
        for (size_t i = 0; i < c->nbuckets; i++)
            while (c->buckets[i]) { fc_unlink_locked(c, c->buckets[i]); c->evictions++; }
    }
    fc_fentry **b = &c->buckets[e->hash & (c->nbuckets - 1)];
    e->next = *b;
    *b = e;
    c->count++;
    pthread_mutex_unlock(&c->mu);
}

#include "fc_rwfixed.h"   /* fixed answers (issue 14) */
#include "fc_fastlog.h"

#include "fc_fastparse.h"
#include "fc_keepalive.h"
#include "fc_setenvif.h"

/* ------------------------------------------------------------------ connection */
/* The read buffer and the log-line scratch exist only while a connection has bytes to
 * parse; an idle keep-alive connection holds neither (nginx's rule: its memory is the
 * struct alone), so 10,000 idle connections cost 10,000 small structs. */
static int fc_conn_init(fc_fconn *k, int fd, int blocking) {
    memset(k, 0, sizeof *k);
    k->fd = fd;
    k->blocking = blocking;
    k->slot = -1;
    k->proc = -1;
    return 0;
}
static void fc_conn_idle(fc_fconn *k) {
    free(k->buf); k->buf = NULL; k->start = 0;
    free(k->line); k->line = NULL; k->linecap = 0;
}
static __thread char fc_hdr_scratch[FC_HDR_MAX];
static void fc_conn_drop_output(fc_fcache *c, fc_fconn *k) {
    if (k->oe) { fc_cache_release(c, k->oe, 0); k->oe = NULL; }
    if (k->hdr_heap) free(k->hdr);
    k->hdr = NULL; k->hdr_heap = 0;
    k->has_out = 0;
}
/* The answer waits for the socket: what is left of its head leaves the thread's scratch
 * (another connection's answer is built there next).  -ENOMEM: no room for it. */
static int fc_conn_keep_hdr(fc_fconn *k) {
    if (k->hdr_heap) return 0;
    size_t left = k->hlen - k->hoff;
    char *p = (char *)malloc(left ? left : 1);
    if (!p) return -ENOMEM;
    memcpy(p, k->hdr + k->hoff, left);
    k->hdr = p; k->hlen = left; k->hoff = 0; k->hdr_heap = 1;
    return 0;
}
static void fc_conn_free(fc_fcache *c, fc_fconn *k) {
    fc_conn_drop_output(c, k);
    fc_conn_idle(k);
}
/* The client's looked-up name (remote_host), kept past fc_conn_free for whoever still
 * reads it; released with the connection record itself. */
static void fc_conn_forget_host(fc_fconn *k) {
    free(k->rhost); k->rhost = NULL; k->rhostlen = 0;
}
/* Set remote_host (n <= 255 bytes, 0: none).  -ENOMEM leaves it unset. */
static int fc_conn_set_host(fc_fconn *k, const char *p, size_t n) {
    fc_conn_forget_host(k);
    if (!n) return 0;
    if (!(k->rhost = fc_dup(p, n))) return -ENOMEM;
    k->rhostlen = n;
    return 0;
}

/* Send the pending response; FC_WANT_WRITE (non-blocking, partial), FC_CLOSED on error,
 * 0 when all is out. */
static int fc_conn_flush(fc_fcache *c, fc_fconn *k) {
    while (k->has_out) {
        size_t hl = k->hlen - k->hoff;
        size_t want = hl + (k->obody ? k->oblen : k->ocnt);
        ssize_t n = fc_send_response(k->fd, k->hdr + k->hoff, hl,
                                     k->obody ? -1 : (k->oe ? k->oe->ffd : -1), k->ooff,
                                     k->obody ? 0 : k->ocnt, k->obody ? FC_S_WRITEV : k->ostrat,
                                     k->obody, k->obody ? k->oblen : 0);
        if (n == -EAGAIN && !k->blocking) {
            if (fc_conn_keep_hdr(k) == 0) return FC_WANT_WRITE;
            n = -ENOMEM;
        }
        if (n < 0 || (n == 0 && want)) { fc_conn_drop_output(c, k); k->closing = 1; return FC_CLOSED; }
        if ((size_t)n >= want) { fc_conn_drop_output(c, k); return 0; }
        size_t m = (size_t)n;
        if (m <= hl) k->hoff += m;
        else {
            k->hoff = k->hlen;
            m -= hl;
            if (k->obody) { k->obody += m; k->oblen -= m; }
            else { k->ooff += (off_t)m; k->ocnt -= m; }
        }
        if (!k->blocking) {
            if (fc_conn_keep_hdr(k) == 0) return FC_WANT_WRITE;
            fc_conn_drop_output(c, k); k->closing = 1; return FC_CLOSED;
        }
    }
    return 0;
}


/* fc_stats.h records of a connection: the slot's (or, without one, the process's), and
 * the process's (for the cache's figures).  NULL without a scoreboard. */
static inline fc_strec_t *fc_k_prec(fc_fconn *k) {
    if (!k->sb) return NULL;
    int tl = k->sb->global.thread_limit, n = k->sb->global.server_limit * tl;
    int p = k->slot >= 0 ? k->slot / tl : k->proc;
    return p >= 0 ? fc_sb_strec(k->sb, n + p) : NULL;
}
static inline fc_strec_t *fc_k_rec(fc_fconn *k) {
    return k->sb && k->slot >= 0 ? fc_sb_strec(k->sb, k->slot) : fc_k_prec(k);
}
/* The cache's size and evictions, as this process last saw them (plain reads of its
 * counts: a gauge a scrape may see one request late). */
static inline void fc_st_cache(fc_fcache *c, fc_fconn *k) {
    fc_strec_t *p = fc_k_prec(k);
    if (!p) return;
    __atomic_store_n(&p->cache_entries, (int64_t)c->count, __ATOMIC_RELAXED);
    __atomic_store_n(&p->cache_bytes, (int64_t)c->content_bytes, __ATOMIC_RELAXED);
    fc_st_catch_up(&c->ev_seen, __atomic_load_n(&c->evictions, __ATOMIC_RELAXED),
                   &p->cache_evictions);
}
/* A request the engine hands to Python: counted in the cache's fallbacks, its reason kept
 * for the Python path, which counts it when it has answered (fastcore_fullpath_...). */
static inline int fc_fall(fc_fcache *c, fc_fconn *k, int reason) {
    __atomic_add_fetch(&c->fallbacks, 1, __ATOMIC_RELAXED);
    k->reason = reason;
    fc_st_cache(c, k);
    return FC_FALLBACK;
}

/* A hit's own series: requests and bytes by vhost and class, the duration histogram, the
 * fast-path and cache-hit counts, the cache's size. */
static inline void fc_st_hit(fc_fcache *c, fc_fconn *k, fc_fentry *e, fc_strec_t *rec,
                             long long body, double dur) {
    if (!rec) return;
    int vi = __atomic_load_n(&e->vhost_idx, __ATOMIC_RELAXED);
    if (!vi) {  /* once per entry: the name's place in the parent's table */
        vi = fc_st_vhost_index(fc_sb_st_head(k->sb), e->vhost ? e->vhost : "",
                               e->vhost ? e->vhostlen : 0) + 1;
        __atomic_store_n(&e->vhost_idx, vi, __ATOMIC_RELAXED);
    }
    fc_st_request(rec, vi - 1, e->fixed ? e->fixed : 200, (uint64_t)body, dur);
    FC_ST_ADD(&rec->fast, 1);
    FC_ST_ADD(&rec->cache_hits, 1);
    fc_st_cache(c, k);
}

/* Serve the head parsed into r (length hl) when it is a valid cache hit.  Returns
 * FC_FALLBACK (nothing done), 0 (served; maybe closing), FC_WANT_WRITE or FC_CLOSED. */
static int fc_serve_one(fc_fcache *c, fc_fconn *k, fc_req *r, size_t hl) {
    fc_strec_t *rec = fc_k_rec(k);
    fc_st_cur = rec;  /* the fs calls below count here (fc_st_fs) */
    if (!fc_tls_host_ok(k->fd, r->has_host, r->host, r->hostlen)) {
        /* mod_ssl's checks (SNI against Host: 421; plain HTTP on a TLS port: 400) */
        return fc_fall(c, k, FC_FR_TLS_HOST);
    }
    fc_fentry *e = fc_cache_get(c, k->addr_key, r->has_host, r->host, r->hostlen, r->target,
                                r->tlen, &r->nv);
    if (!e) return fc_fall(c, k, FC_FR_NOT_CACHED);
    struct stat st;
    if (e->fixed && r->mlen != 3) {  /* a fixed answer (redirect) is GET's only */
        fc_cache_release(c, e, 0);
        return fc_fall(c, k, FC_FR_METHOD);
    }
    if (e->ndeps && !fc_dw_valid(&fc_dw_global, e->deps, e->ndeps)) {
        fc_cache_release(c, e, 1);  /* a .htaccess or a DirectoryIndex name changed there */
        return fc_fall(c, k, FC_FR_DIR_CHANGED);
    }
    if (!e->fixed) fc_st_fs(FC_FS_STAT);
    if ((!e->fixed && (stat(e->path, &st) < 0 || st.st_ino != e->ino || st.st_dev != e->dev
        || st.st_size != e->size
        || (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec != e->mtime_ns
        || (int64_t)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec != e->ctime_ns))
        || (e->nprobes && !fc_probes_hold(e->probes, e->nprobes))) {
        /* replaced, truncated, touched, rewritten or gone; or a tested file came or went */
        fc_cache_release(c, e, 1);
        return fc_fall(c, k, FC_FR_STALE);
    }
    if (e->links && !fc_links_ok(e->links, e->linkslen)) {
        /* a refused symlink (or a vanished component): the Python path answers 403 and
         * logs it; the entry stays, valid again once the link is gone */
        fc_cache_release(c, e, 0);
        return fc_fall(c, k, FC_FR_SYMLINK);
    }
    if (e->host_need > k->dns_level) {
        /* HostnameLookups On and no lookup yet on this connection: Python makes it (a
         * worker thread waits for the resolver; the engine never does) */
        fc_cache_release(c, e, 0);
        return fc_fall(c, k, FC_FR_HOSTNAME_LOOKUP);
    }
    /* a host leaf reads the confirmed name; without one it sends the hit to Python */
    const fc_host kh = { k->dns_confirmed ? 1 : FC_HOST_UNKNOWN, k->rhost ? k->rhost : "",
                         k->rhostlen };
    if (e->peer && !fc_peer_granted_host(e->peer, e->peerlen, k->client, k->clientlen, &kh)) {
        /* Require ip does not grant this client: the Python path's 403 (AH01630) */
        fc_cache_release(c, e, 0);
        return fc_fall(c, k, FC_FR_REQUIRE_IP);
    }
    /* an entry with encoded variants: the one the request's Accept-Encoding picks */
    const char *mid = e->mid; size_t midlen = e->midlen;
    const fc_variant *var = NULL;
    if (e->nvar) {
        int pick = fc_vary_pick(e->var, e->nvar, r->ae, r->aelen, r->nae);
        if (pick == FC_VAR_UNDECIDED) {
            fc_cache_release(c, e, 0);
            return fc_fall(c, k, FC_FR_ACCEPT_ENCODING);
        }
        if (pick >= 0) { var = &e->var[pick]; mid = var->mid; midlen = var->midlen; }
    }
    /* SetEnvIf: a request some rule matches gets its variables on the Python path */
    if (e->nenv && fc_env_any(e->env, e->nenv, r, k->client, k->clientlen)) {
        fc_cache_release(c, e, 0);
        return fc_fall(c, k, FC_FR_SETENVIF);
    }
    /* Protocols: the connection's first answer announces, unless the request has Upgrade */
    int announce = 0;
    if (e->upglen && k->requests == 0) {
        if (r->nupg > 1) {  /* Python reads them merged */
            fc_cache_release(c, e, 0);
            return fc_fall(c, k, FC_FR_UPGRADE);
        }
        announce = !r->upg_set;
    }
    double start = fc_now();
    int head_only = r->mlen == 4;
    fc_ka_in ka = {0};  /* a cache hit: 200, delimited, no Expect (fc_parse_head refuses it) */
    ka.http11 = r->http11; ka.close_token = r->close_token; ka.ka_token = r->ka_sent;
    ka.status = e->fixed ? e->fixed : 200; ka.delimited = 1; ka.framing_reusable = 1;
    ka.keep_alive = e->keep_alive; ka.max_requests = e->max_ka; ka.requests = (long)k->requests;
    ka.timeout = e->ka_int; ka.draining = __atomic_load_n(&c->draining, __ATOMIC_RELAXED);
    /* header: status, Date, Server, mid, keep-alive part, Content-Type, blank line */
    k->hdr = fc_hdr_scratch; k->hdr_heap = 0;
    char *o = k->hdr;
    size_t dl;
    const char *date = fc_date_header(&dl);
    if (e->fixed) { memcpy(o, e->sline, e->slen); o += e->slen; }
    else { memcpy(o, "HTTP/1.1 200 OK\r\n", 17); o += 17; }
    memcpy(o, date, dl); o += dl;
    memcpy(o, c->server_line, c->server_len); o += c->server_len;
    char kab[FC_KA_HDR_MAX];
    size_t kl;
    int keep = fc_keepalive(&ka, kab, &kl);  /* the one rule (fc_keepalive.h) */
    if (announce) o += fc_upgrade_fields(o, e->upg, e->upglen, kab, &kl);
    memcpy(o, mid, midlen); o += midlen;
    if (e->exp_kind) {  /* put() left FC_EXP_MAX bytes of room for these */
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int64_t now_us = (int64_t)now.tv_sec * 1000000LL + now.tv_nsec / 1000;
        if (now.tv_sec > fc_date_sec)  /* the Date line's second ended meanwhile: stay in it */
            now_us = fc_date_sec * 1000000LL + 999999;
        o += fc_expiry_fields(e->exp_kind, e->exp_val, now_us, o);
    }
    memcpy(o, kab, kl); o += kl;
    memcpy(o, e->ctype, e->ctlen); o += e->ctlen;
    memcpy(o, "\r\n", 2); o += 2;
    k->hlen = (size_t)(o - k->hdr); k->hoff = 0;
    long long full = var ? (long long)var->blen : (long long)e->size;
    long long body = (head_only || full == 0) ? 0 : full;
    k->obody = NULL; k->oblen = 0; k->ocnt = 0; k->ooff = 0; k->oe = NULL;
    if (body) {
        if (var) { k->obody = var->body; k->oblen = var->blen; }
        else if (e->content) { k->obody = e->content; k->oblen = (size_t)e->size; }
        else { k->ocnt = (size_t)e->size; k->ostrat = e->strategy; }
        k->oe = e;  /* the reference travels with the output */
    } else {
        k->obody = "";
    }
    k->has_out = 1;
    k->timeout = e->timeout;
    k->ka_timeout = e->ka_timeout;
    if (k->sb && k->slot >= 0) {
        fc_sb_request_start(k->sb, k->slot, r->line, r->linelen < 64 ? r->linelen : 64,
                            k->client, k->clientlen, e->vhost, e->vhostlen);
    }
    fc_logctx x;
    x.dur_us = 0;
    x.start = start; x.bytes_sent = body; x.bytes_out = (long long)k->hlen + body;
    x.bytes_in = (long long)hl; x.keep = keep;
    /* %k: httpd's keepalives - 1, counting only answers that keep the connection (a
     * closing answer logs the previous one's count) -- twin: _pure/fastpath.py */
    x.keepalive_count = keep || k->requests == 0 ? k->requests : k->requests - 1;
    int rc = fc_conn_flush(c, k);
    k->requests++;
    /* access log (never lost: the line is written or buffered whatever the send did) */
    int logged = e->log_set >= 0 && e->log_set < c->nsets;
    if (logged) {
        fc_logset *ls = &c->sets[e->log_set];
        x.dur_us = (long long)((fc_now() - start) * 1e6);
        fc_sbuf s = { k->line, 0, k->linecap, 0 };
        for (int i = 0; i < ls->n; i++) {
            s.len = 0;
            fc_render(&s, ls->logs[i].prog, ls->logs[i].proglen, k, e, r, &x);
            fc_put(&s, "\n", 1);
            if (!s.oom) fc_log_emit(c, ls->logs[i].fd, ls->logs[i].buffered, s.p, s.len);
        }
        k->line = s.p; k->linecap = s.cap;
    }
    if (k->sb) {  /* one clock reading: the access log's %D when it took one */
        double dur = logged ? x.dur_us / 1e6 : fc_now() - start;
        if (k->slot >= 0) {
            fc_sb_request_end_timed(k->sb, k->slot, body, dur);
            fc_sb_set_status(k->sb, k->slot, keep ? 'K' : 'W');
        } else {  /* served by a thread without a slot (the event listener) */
            fc_sb_add(k->sb, FC_SB_ACCESSES, 1);
            fc_sb_add(k->sb, FC_SB_BYTES, body);
        }
        fc_st_hit(c, k, e, rec, body, dur);
    }
    if (!body) fc_cache_release(c, e, 0);
    __atomic_add_fetch(&c->hits, 1, __ATOMIC_RELAXED);
    if (!keep) k->closing = 1;
    return rc;
}

/* Drive a connection: finish pending output, serve every complete cached request in the
 * buffer, read at most once (the caller polled for readability).  FC_FALLBACK leaves the
 * first unserved head at k->buf + k->start for the Python path. */
static int fc_serve_turn(fc_fcache *c, fc_fconn *k) {
    int did_read = 0;
    if (k->has_out) {
        int rc = fc_conn_flush(c, k);
        if (rc) return rc;
    }
    for (;;) {
        if (k->closing) return FC_CLOSED;
        if (k->len) {
            fc_req r;
            long hl = fc_parse(c, k->buf + k->start, k->len, &r);
            if (hl < 0) { k->reason = fc_parse_why; return FC_FALLBACK; }
            if (hl > 0) {
                int rc = fc_serve_one(c, k, &r, (size_t)hl);
                fc_st_cur = NULL;  /* fs calls outside a request count nowhere */
                if (rc == FC_FALLBACK) return FC_FALLBACK;
                k->start += (size_t)hl; k->len -= (size_t)hl;
                if (!k->len) k->start = 0;
                if (rc) return rc;
                continue;
            }
            if (k->start + k->len >= FC_CONN_BUF) {
                if (k->start == 0) {  /* a head this long: Python's limits */
                    k->reason = FC_FR_INCOMPLETE;
                    return FC_FALLBACK;
                }
                memmove(k->buf, k->buf + k->start, k->len);
                k->start = 0;
            }
        }
        if (did_read && !fc_io_pending(k->fd)) {  /* TLS plaintext left: read it now */
            if (!k->len && !k->blocking) fc_conn_idle(k);  /* all served: hold no buffer */
            return FC_WANT_READ;
        }
        if (!k->buf && !(k->buf = (char *)malloc(FC_CONN_BUF))) { k->closing = 1; return FC_CLOSED; }
        ssize_t n = fc_io_read(k->fd, k->buf + k->start + k->len,
                               FC_CONN_BUF - k->start - k->len);  /* TLS: SSL_read */
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                k->timed_out = k->blocking;
                if (!k->len && !k->blocking) fc_conn_idle(k);  /* idle: hold no buffer */
                return FC_WANT_READ;
            }
            k->closing = 1;
            return FC_CLOSED;
        }
        if (n == 0) {
            k->eof = 1;
            if (!k->len) { k->closing = 1; return FC_CLOSED; }
            k->reason = FC_FR_INCOMPLETE;
            return FC_FALLBACK;  /* a cut-off request: the Python path answers it */
        }
        k->len += (size_t)n;
        did_read = 1;
        if (k->sb && k->slot >= 0) fc_sb_set_status(k->sb, k->slot, 'R');
    }
}

/* One turn of the engine on a connection.  A TLS handshake finished in it may have corked
 * the socket (fc_tls.h): what it wrote leaves now, except for a connection the event loop
 * closes itself, whose close_notify joins it and whose FIN sends it all (fc_ev_finish). */
static int fc_serve(fc_fcache *c, fc_fconn *k) {
    fc_tls_turn = 1;
    int rc = fc_serve_turn(c, k);
    fc_tls_turn = 0;
    if (!(rc == FC_CLOSED && k->owned)) fc_tls_uncork(k->fd, 1);
    return rc;
}

#include "fc_fastblock.h"  /* prefork/worker: the blocking keep-alive loop */

#endif /* FC_FAST_H */

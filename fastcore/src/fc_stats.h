/* fc_stats.h - fastcore's own Prometheus counters, in the scoreboard's shared mapping.
 *
 * The scoreboard mapping (fc_scoreboard.h) continues after its slots with:
 *   [fc_st_head_t: the virtual-host name table the parent registers at config time]
 *   [records: one per slot, then one per process (threads without a slot: the event
 *    listener), each fc_strec_t on whole cache lines]
 * The parent creates it before fork, so the counts outlive the children that made them and
 * every process sums the same records at scrape time.  Writers use relaxed atomic adds on
 * their own record (a slot has one writer; a parked event connection may be served by the
 * listener on its last worker's slot, which the relaxed add keeps exact): no lock, no
 * syscall, no string in the hot path (a vhost is an index).
 */
#ifndef FC_STATS_H
#define FC_STATS_H

#include <stdint.h>
#include <string.h>

enum { FC_ST_VHOSTS = 64, FC_ST_OTHER = 63, FC_ST_NAME_LEN = 64, FC_ST_CLASSES = 5,
       FC_ST_BOUNDS = 16, FC_ST_FS = 3 };
enum { FC_FS_STAT = 0, FC_FS_LSTAT = 1, FC_FS_HTACCESS = 2 };

/* Why a request left the fast path (fastcore_fullpath_requests_total{reason}); the names
 * are FALLBACK_REASONS in _scoreboard.pyx and _pure/scoreboard.py, in this order. */
enum {
    FC_FR_NONE = 0,        /* the Python path served it without asking the engine */
    FC_FR_TLS_HOST,        /* mod_ssl's SNI / plain-HTTP-on-TLS checks */
    FC_FR_NOT_CACHED,      /* no entry for (address, host, target) */
    FC_FR_METHOD,          /* not GET/HEAD, or a fixed answer asked by HEAD */
    FC_FR_DIR_CHANGED,     /* a directory the answer rests on changed (.htaccess, index) */
    FC_FR_STALE,           /* the file was replaced, touched or gone, or a probe changed */
    FC_FR_SYMLINK,         /* a symlink check refused */
    FC_FR_HOSTNAME_LOOKUP, /* HostnameLookups wants a name not looked up yet */
    FC_FR_REQUIRE_IP,      /* Require ip/host does not grant this client here */
    FC_FR_ACCEPT_ENCODING, /* the engine cannot pick the encoded variant */
    FC_FR_SETENVIF,        /* a SetEnvIf rule matches */
    FC_FR_UPGRADE,         /* several Upgrade fields to merge */
    FC_FR_BODY,            /* Content-Length, Transfer-Encoding or Expect */
    FC_FR_RANGE,           /* Range */
    FC_FR_CONDITIONAL,     /* If-* */
    FC_FR_REQUEST_SHAPE,   /* a head the engine does not parse (target, version, limits) */
    FC_FR_INCOMPLETE,      /* cut off, or longer than the engine's buffer */
    FC_FR_N
};

typedef struct {
    int32_t nvhosts;  /* names registered (<= FC_ST_OTHER) */
    int32_t pad;
    char names[FC_ST_VHOSTS][FC_ST_NAME_LEN];
} __attribute__((aligned(64))) fc_st_head_t;

typedef struct {
    uint64_t requests[FC_ST_VHOSTS][FC_ST_CLASSES];
    uint64_t bytes[FC_ST_VHOSTS][FC_ST_CLASSES];
    uint64_t buckets[FC_ST_BOUNDS + 1];  /* per bucket (not cumulative); the last is +Inf */
    uint64_t dur_ns;                     /* _sum, in nanoseconds (integer adds) */
    uint64_t fast;                       /* served by the C engine */
    uint64_t full[FC_FR_N];              /* by the Python path, by reason */
    uint64_t fs[FC_ST_FS];               /* stat, lstat, .htaccess opens */
    uint64_t cache_hits, cache_evictions;
    int64_t cache_entries, cache_bytes;  /* process records: the cache's last seen size */
} __attribute__((aligned(64))) fc_strec_t;

/* seconds; the histogram's upper bounds (le), fast hits are micro- to milliseconds */
static const double fc_st_bounds[FC_ST_BOUNDS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0};

#define FC_ST_ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_RELAXED)

static inline int fc_st_class(int status) {
    int k = status / 100 - 1;
    return k < 0 ? 0 : k > 4 ? 4 : k;
}

static inline int fc_st_bucket(double seconds) {
    int i = 0;
    while (i < FC_ST_BOUNDS && seconds > fc_st_bounds[i]) i++;
    return i;
}

/* One finished request: its vhost index, status, body bytes, duration (already measured). */
static inline void fc_st_request(fc_strec_t *r, int vhost, int status, uint64_t nbytes,
                                 double seconds) {
    int v = (vhost < 0 || vhost >= FC_ST_VHOSTS) ? FC_ST_OTHER : vhost;
    int k = fc_st_class(status);
    if (seconds < 0.0) seconds = 0.0;
    FC_ST_ADD(&r->requests[v][k], 1);
    FC_ST_ADD(&r->bytes[v][k], nbytes);
    FC_ST_ADD(&r->buckets[fc_st_bucket(seconds)], 1);
    FC_ST_ADD(&r->dur_ns, (uint64_t)(seconds * 1e9));
}

static inline int fc_st_find(const fc_st_head_t *h, const char *name, size_t n) {
    if (n >= FC_ST_NAME_LEN) n = FC_ST_NAME_LEN - 1;
    int nv = h->nvhosts;
    for (int i = 0; i < nv && i < FC_ST_OTHER; i++)
        if (strncmp(h->names[i], name, n) == 0 && h->names[i][n] == '\0') return i;
    return FC_ST_OTHER;
}
/* The index of a registered vhost name (or of the scoreboard's "name:port"), FC_ST_OTHER
 * when it is not in the table. */
static inline int fc_st_vhost_index(const fc_st_head_t *h, const char *name, size_t n) {
    int i = fc_st_find(h, name, n);
    if (i != FC_ST_OTHER) return i;
    const char *colon = n ? memrchr(name, ':', n) : NULL;
    return colon ? fc_st_find(h, name, (size_t)(colon - name)) : FC_ST_OTHER;
}

/* Raise *seen to now (a monotone maximum) and count what it grew by into *total: the
 * process's cache counters, which several threads may report, each growth counted once. */
static inline void fc_st_catch_up(uint64_t *seen, uint64_t now, uint64_t *total) {
    uint64_t last = __atomic_load_n(seen, __ATOMIC_RELAXED);
    while (now > last) {
        if (__atomic_compare_exchange_n(seen, &last, now, 0, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED)) {
            FC_ST_ADD(total, now - last);
            return;
        }
    }
}

/* fs calls the engine makes on the current request's behalf: the thread's record. */
static __thread fc_strec_t *fc_st_cur;
static inline void fc_st_fs(int kind) {
    fc_strec_t *r = fc_st_cur;
    if (r) FC_ST_ADD(&r->fs[kind], 1);
}

#endif /* FC_STATS_H */

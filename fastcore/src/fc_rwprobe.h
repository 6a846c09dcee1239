/* fc_rwprobe.h - what lets the engine answer behind mod_rewrite's rules (issue 14's Speed):
 *
 *  - probes: the file-system tests a cached outcome rests on (a RewriteCond -f/-d/-s/-x/-l,
 *    a txt map's file).  Each hit repeats them after the served file's own stat and misses
 *    (evicting the entry) when one comes out otherwise, so a file created or removed
 *    between two requests is never answered with the old outcome.  Twin: the probe part of
 *    fastcore/_pure/fastpath.py; Python's own check: core/cacheable.py probes_hold.
 *  - fixed answers: an entry with no file (a redirect): its status line, fields and body
 *    are bytes given at put; only GET uses it (HEAD and the rest go to Python).
 *
 * Included by fc_fast.h after the entry type; no function here takes a lock or the GIL.
 */
#ifndef FC_RWPROBE_H
#define FC_RWPROBE_H
#include "fc_stats.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

#define FC_PROBE_STAT 0      /* as core/cacheable.py PROBE_STAT: st_mode and non-emptiness */
#define FC_PROBE_LSTAT 1     /* the same through lstat (-l) */
#define FC_PROBE_IDENTITY 2  /* inode, size, mtime, ctime (a txt map) */
#define FC_PROBE_ABSENT (-1) /* mode of a path that was not there */
#define FC_PROBES_MAX 64     /* more than this: the entry stays with Python */

typedef struct {
    char *path;
    int kind;
    int64_t mode, size, mtime_ns, ctime_ns, ino;
} fc_probe;

static inline int64_t fc_ts_ns(const struct timespec *t) {
    return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}

/* 1 when the test comes out as recorded.  A failing stat (ENOENT, ENOTDIR, EACCES...) is
 * "absent", as Python's os.stat raising is; EINTR cannot happen on stat. */
static int fc_probe_holds(const fc_probe *p) {
    struct stat st;
    fc_st_fs(p->kind == FC_PROBE_LSTAT ? FC_FS_LSTAT : FC_FS_STAT);
    int rc = p->kind == FC_PROBE_LSTAT ? lstat(p->path, &st) : stat(p->path, &st);
    if (rc < 0) return p->mode == FC_PROBE_ABSENT;
    if (p->mode != (int64_t)st.st_mode) return 0;
    if (p->kind == FC_PROBE_IDENTITY)
        return p->size == (int64_t)st.st_size && p->mtime_ns == fc_ts_ns(&st.st_mtim)
               && p->ctime_ns == fc_ts_ns(&st.st_ctim) && p->ino == (int64_t)st.st_ino;
    return p->size == (st.st_size > 0 ? 1 : 0);
}

static int fc_probes_hold(const fc_probe *p, int n) {
    for (int i = 0; i < n; i++)
        if (!fc_probe_holds(&p[i])) return 0;
    return 1;
}

static void fc_probes_free(fc_probe *p, int n) {
    if (!p) return;
    for (int i = 0; i < n; i++) free(p[i].path);
    free(p);
}

#endif /* FC_RWPROBE_H */

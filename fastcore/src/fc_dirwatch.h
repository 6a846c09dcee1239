/* fc_dirwatch.h - directory change notification (inotify) that validates cached answers
 * whose bytes rest on more than the served file's stat (issue 12): the .htaccess files of
 * an AllowOverride walk, the absence of earlier DirectoryIndex names.
 *
 * One table per process (fc_dw_global; a forked child reopens its own inotify descriptor:
 * a shared one would let the parent eat the child's events).  Each watched directory is a
 * slot with a generation drawn from one process-wide counter; any event on the directory
 * (a name created, deleted, renamed, written, closed after writing, its attributes; the
 * directory itself deleted or moved) gives the slot a new generation, and a queue overflow
 * gives every slot one.  A cached entry keeps the (slot, generation) pairs of the
 * directories it rests on, taken BEFORE the walk read them (fc_dw_watch), and is used only
 * while every pair is current after the queue is drained (fc_dw_valid: one non-blocking
 * read, EAGAIN when nothing changed).  A kernel write queues its event before write()
 * returns, so a change made before a request is seen by that request.  A write to a
 * file that is not an access file (AccessFileName: fc_dw_set_names) changes no name in
 * the directory and is not counted: an access log in a watched directory would otherwise
 * renew it on every request (the served file's own changes are its stat's business).
 *
 * When a watch cannot be had (the kernel's max_user_watches: ENOSPC; the table's own
 * limit, FASTCORE_DIRWATCH_MAX, the test hook; no inotify at all) fc_dw_watch fails and
 * the caller keeps that answer out of the caches: the Python path then reads the files on
 * every request, as Apache does.  Stale data is never trusted.
 */
#ifndef FC_DIRWATCH_H
#define FC_DIRWATCH_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define FC_DW_MASK (IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM \
                    | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define FC_DW_DEFAULT_LIMIT 65536
#define FC_DW_NAMES 8
#define FC_DW_NAMELEN 256

typedef struct { int wd; int alive; uint64_t gen; } fc_dw_slot;
typedef struct { int slot; uint64_t gen; } fc_dw_dep;

typedef struct {
    pthread_mutex_t mu;
    int fd;                      /* inotify descriptor of this process, -1: not open */
    int atfork_done;
    fc_dw_slot *slots; int nslots, nalloc;
    int limit;                   /* most watches this table takes (test hook) */
    uint64_t counter;            /* generations; never reset, so no old pair matches */
    uint64_t events, overflows, refused;
    int nnames;                  /* the access file names; 0: the default ".htaccess" */
    char names[FC_DW_NAMES][FC_DW_NAMELEN];
} fc_dirwatch;

static fc_dirwatch fc_dw_global = { PTHREAD_MUTEX_INITIALIZER, -1, 0, NULL, 0, 0,
                                    FC_DW_DEFAULT_LIMIT, 0, 0, 0, 0, 0, {{0}} };

/* Whether an event can change an answer: anything but a write to a file whose name is
 * not an access file name. */
static int fc_dw_significant(const fc_dirwatch *dw, const struct inotify_event *ev) {
    if (!(ev->mask & (IN_MODIFY | IN_CLOSE_WRITE)) || ev->len == 0) return 1;
    if (dw->nnames == 0) return strcmp(ev->name, ".htaccess") == 0;
    for (int i = 0; i < dw->nnames; i++)
        if (strcmp(ev->name, dw->names[i]) == 0) return 1;
    return 0;
}

/* The access file names whose writes count (AccessFileName of every vhost); -EINVAL
 * for too many or too long: then every write counts. */
static int fc_dw_set_names(fc_dirwatch *dw, const char *const *names, int n) {
    int rc = 0;
    pthread_mutex_lock(&dw->mu);
    dw->nnames = 0;
    if (n > FC_DW_NAMES) rc = -EINVAL;
    for (int i = 0; i < n && !rc; i++)
        if (strlen(names[i]) >= FC_DW_NAMELEN || strchr(names[i], '/')) rc = -EINVAL;
    if (!rc) {
        for (int i = 0; i < n; i++) strcpy(dw->names[i], names[i]);
        dw->nnames = n;
    } else {
        dw->nnames = -1;  /* fc_dw_drain_locked then counts every write */
    }
    pthread_mutex_unlock(&dw->mu);
    return rc;
}

/* In a forked child: the inherited descriptor's queue is the parent's.  Forget it (and
 * the slots; the generation counter goes on) and reinitialise the mutex, which another
 * thread of the parent may have held at fork. */
static void fc_dw_atfork_child(void) {
    fc_dirwatch *dw = &fc_dw_global;
    pthread_mutex_init(&dw->mu, NULL);
    if (dw->fd >= 0) close(dw->fd);
    dw->fd = -1;
    dw->nslots = 0;
    dw->counter += 1;
}

static void fc_dw_bump_all_locked(fc_dirwatch *dw) {
    for (int i = 0; i < dw->nslots; i++) dw->slots[i].gen = ++dw->counter;
}

static int fc_dw_open_locked(fc_dirwatch *dw) {
    if (dw->fd >= 0) return 0;
    if (!dw->atfork_done) {
        if (pthread_atfork(NULL, NULL, fc_dw_atfork_child) != 0) return -ENOMEM;
        dw->atfork_done = 1;
        const char *lim = getenv("FASTCORE_DIRWATCH_MAX");
        if (lim && *lim) dw->limit = atoi(lim);
    }
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return -errno;
    dw->fd = fd;
    dw->nslots = 0;
    return 0;
}

static int fc_dw_find_locked(fc_dirwatch *dw, int wd) {
    for (int i = 0; i < dw->nslots; i++)
        if (dw->slots[i].wd == wd && dw->slots[i].alive) return i;
    return -1;
}

/* Read every queued event; each one renews its directory's generation. */
static void fc_dw_drain_locked(fc_dirwatch *dw) {
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    if (dw->fd < 0) return;
    for (int round = 0;; round++) {
        if (round == 64) {  /* a flood (a file in a watched directory written without
                             * pause): stop reading, as if the queue had overflowed */
            dw->overflows++;
            fc_dw_bump_all_locked(dw);
            return;
        }
        ssize_t n = read(dw->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) {  /* cannot tell what changed */
                dw->overflows++;
                fc_dw_bump_all_locked(dw);
            }
            return;
        }
        if (n == 0) return;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            dw->events++;
            if (ev->mask & IN_Q_OVERFLOW) {
                dw->overflows++;
                fc_dw_bump_all_locked(dw);
            } else if (dw->nnames >= 0 && !fc_dw_significant(dw, ev)) {
                /* a write to some other file: no name there changed */
            } else {
                int s = fc_dw_find_locked(dw, ev->wd);
                if (s >= 0) {
                    dw->slots[s].gen = ++dw->counter;
                    if (ev->mask & IN_IGNORED) dw->slots[s].alive = 0;  /* watch gone */
                }
            }
            p += sizeof(struct inotify_event) + ev->len;
        }
    }
}

/* Watch a directory (before reading what the answer takes from it).  0 and *out set, or
 * -errno: -ENOSPC at the kernel's or the table's limit, -ENOENT/-ENOTDIR, ... */
static int fc_dw_watch(fc_dirwatch *dw, const char *path, fc_dw_dep *out) {
    int rc = 0;
    pthread_mutex_lock(&dw->mu);
    if ((rc = fc_dw_open_locked(dw)) < 0) goto done;
    fc_dw_drain_locked(dw);
    int wd = inotify_add_watch(dw->fd, path, FC_DW_MASK);
    if (wd < 0) { rc = -errno; if (rc == -ENOSPC) dw->refused++; goto done; }
    int s = fc_dw_find_locked(dw, wd);
    if (s < 0) {
        int live = 0;
        for (int i = 0; i < dw->nslots; i++) live += dw->slots[i].alive;
        if (live >= dw->limit) {
            inotify_rm_watch(dw->fd, wd);  /* its IN_IGNORED finds no slot */
            dw->refused++;
            rc = -ENOSPC;
            goto done;
        }
        for (int i = 0; i < dw->nslots; i++)
            if (!dw->slots[i].alive) { s = i; break; }
        if (s < 0) {
            if (dw->nslots == dw->nalloc) {
                int na = dw->nalloc ? dw->nalloc * 2 : 64;
                fc_dw_slot *ns = (fc_dw_slot *)realloc(dw->slots, (size_t)na * sizeof *ns);
                if (!ns) { inotify_rm_watch(dw->fd, wd); rc = -ENOMEM; goto done; }
                dw->slots = ns; dw->nalloc = na;
            }
            s = dw->nslots++;
        }
        dw->slots[s].wd = wd;
        dw->slots[s].alive = 1;
        dw->slots[s].gen = ++dw->counter;
    }
    out->slot = s;
    out->gen = dw->slots[s].gen;
done:
    pthread_mutex_unlock(&dw->mu);
    return rc;
}

/* Whether no directory of deps changed since its pair was taken (drains the queue). */
static int fc_dw_valid(fc_dirwatch *dw, const fc_dw_dep *deps, int n) {
    int ok = 1;
    pthread_mutex_lock(&dw->mu);
    if (dw->fd < 0) ok = 0;
    else {
        fc_dw_drain_locked(dw);
        for (int i = 0; i < n && ok; i++) {
            int s = deps[i].slot;
            ok = s >= 0 && s < dw->nslots && dw->slots[s].alive && dw->slots[s].gen == deps[i].gen;
        }
    }
    pthread_mutex_unlock(&dw->mu);
    return ok;
}

/* Forget every watch (tests; a reload): every pair handed out stops matching. */
static void fc_dw_reset(fc_dirwatch *dw) {
    pthread_mutex_lock(&dw->mu);
    if (dw->fd >= 0) close(dw->fd);
    dw->fd = -1;
    dw->nslots = 0;
    dw->counter++;
    pthread_mutex_unlock(&dw->mu);
}

static int fc_dw_live(fc_dirwatch *dw) {
    int live = 0;
    pthread_mutex_lock(&dw->mu);
    for (int i = 0; i < dw->nslots; i++) live += dw->slots[i].alive;
    pthread_mutex_unlock(&dw->mu);
    return live;
}

#endif /* FC_DIRWATCH_H */

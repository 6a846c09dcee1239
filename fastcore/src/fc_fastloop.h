/* fc_fastloop.h - the event MPM listener's epoll loop with fast-path hits served inline.
 *
 * Connections "attached" to the loop are idle keep-alive connections whose state is all
 * in C (fc_fconn); they stay registered level-triggered (EPOLLIN, no ONESHOT), so a
 * keep-alive request costs epoll_wait + read + stat + send and no epoll_ctl.  Every other
 * ready descriptor (listeners, the wake-up eventfd, connections parked by Python) and
 * every attached connection that needs Python (fallback, partial head, pending output,
 * close, expiry) is reported to the caller, which runs the Python logic for it.
 * Attach may be called from any thread; detach and wait only from the listener thread.
 */
#ifndef FC_FASTLOOP_H
#define FC_FASTLOOP_H
#include "fc_fast.h"

#include <arpa/inet.h>
#include <sched.h>

#define FC_EV_RAW 0
#define FC_EV_BATCH 128
#define FC_EV_OWNED 0x100        /* out code flag: a connection the loop accepted itself */
#define FC_LINGER_MS 2000        /* httpd's SECONDS_TO_LINGER */
#define FC_EV_YIELD_EVERY 32     /* events handled between two sched_yield()s */

typedef struct {
    int epfd;
    int cap;
    fc_fconn **conns;            /* by fd: attached connections */
    int64_t *deadline;           /* by fd: monotonic ms */
    int maxfd;
    int64_t next_scan;
    fc_fcache *cache;
    uint64_t served;
    unsigned char *listener;     /* by fd: accept here */
    fc_sb_t *sb;                 /* for the connections the loop accepts */
    int proc;                    /* their stats record (fc_stats.h): the process's, or -1 */
    double timeout, ka_timeout;
    double first_timeout;        /* > 0: the wait for a new connection's first request
                                  * (RequestReadTimeout's header stage), if shorter */
    long accept_budget;          /* -1 unlimited (MaxConnectionsPerChild) */
    uint64_t accepted;
    int owned;                   /* live connections without a Python object */
    fc_fconn **adopt;            /* by fd: loop-accepted connections handed to Python */
    unsigned streak;             /* events handled since the last sched_yield() */
} fc_evloop;

static inline int64_t fc_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fc_ev_init(fc_evloop *L, int epfd, int cap, fc_fcache *cache) {
    memset(L, 0, sizeof *L);
    L->conns = (fc_fconn **)calloc((size_t)cap, sizeof(fc_fconn *));
    L->deadline = (int64_t *)calloc((size_t)cap, sizeof(int64_t));
    L->listener = (unsigned char *)calloc((size_t)cap, 1);
    L->adopt = (fc_fconn **)calloc((size_t)cap, sizeof(fc_fconn *));
    if (!L->conns || !L->deadline || !L->listener || !L->adopt) {
        free(L->conns); free(L->deadline); free(L->listener); free(L->adopt);
        return -ENOMEM;
    }
    L->epfd = epfd; L->cap = cap; L->cache = cache; L->maxfd = -1;
    L->timeout = 60.0; L->ka_timeout = 5.0; L->accept_budget = -1;
    return 0;
}

/* A connection the loop owns ends: close (auto-removed from epoll) and free. */
static void fc_ev_drop(fc_evloop *L, fc_fconn *k) {
    int fd = k->fd;
    if (fd >= 0 && fd < L->cap) __atomic_store_n(&L->conns[fd], NULL, __ATOMIC_RELEASE);
    fc_conn_free(L->cache, k);
    fc_conn_forget_host(k);
    fc_tls_forget(fd);
    close(fd);
    free(k);
    L->owned--;
}

static void fc_ev_free(fc_evloop *L) {
    if (L->conns) {
        for (int fd = 0; fd <= L->maxfd; fd++) {
            fc_fconn *k = L->conns[fd];
            if (k && k->owned) fc_ev_drop(L, k);
            k = L->adopt[fd];
            if (k) {
                L->adopt[fd] = NULL; fc_conn_free(L->cache, k); fc_conn_forget_host(k); fc_tls_forget(fd); close(fd); free(k);
            }
        }
    }
    free(L->conns); free(L->deadline); free(L->listener); free(L->adopt);
    L->conns = NULL; L->deadline = NULL; L->listener = NULL; L->adopt = NULL;
}

static int fc_ev_mod(fc_evloop *L, int fd, uint32_t events) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.fd = fd;
    return epoll_ctl(L->epfd, EPOLL_CTL_MOD, fd, &ev);
}

/* Close the write side and drain what the client still sends, up to FC_LINGER_MS
 * (Apache's lingering close), without a thread; connections that saw EOF or never
 * answered anything are closed at once. */
static void fc_ev_finish(fc_evloop *L, fc_fconn *k, int64_t now) {
    /* close_notify, as mod_ssl: also in answer to the client's own */
    if (k->requests && (!k->eof || fc_tls_peer_shut(k->fd))) fc_tls_shutdown(k->fd);
    if (k->eof || !k->requests || shutdown(k->fd, SHUT_WR) < 0) {
        fc_tls_uncork(k->fd, 0);  /* close() sends what is queued: its FIN overrides the cork */
        fc_ev_drop(L, k);
        return;
    }
    fc_tls_uncork(k->fd, 0);  /* the FIN took the corked bytes with it */
    k->lingering = 1;
    if (k->writing) { fc_ev_mod(L, k->fd, EPOLLIN); k->writing = 0; }
    L->deadline[k->fd] = now + FC_LINGER_MS;
}

static void fc_ev_drain(fc_evloop *L, fc_fconn *k) {
    char junk[4096];
    for (;;) {
        ssize_t n = read(k->fd, junk, sizeof junk);
        if (n > 0) continue;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        fc_ev_drop(L, k);
        return;
    }
}

/* A TLS connection whose listener has RequestReadTimeout's handshake stage: that stage
 * while the handshake runs, then the header stage from the handshake's end. */
static inline void fc_ev_tls_deadline(fc_evloop *L, fc_fconn *k, int64_t now) {
    int64_t at;
    double hdr = L->first_timeout > 0 && L->first_timeout < k->timeout ? L->first_timeout
                 : L->first_timeout > 0 ? k->timeout : 0;
    if (fc_tls_first_deadline(k->fd, now, (int64_t)(k->timeout * 1000), (int64_t)(hdr * 1000),
                              &at))
        L->deadline[k->fd] = at;
}

/* Accept one connection on a listener the loop owns.  0 accepted or nothing pending,
 * -errno when Python should look (EMFILE, ENFILE, ...). */
static int fc_ev_accept(fc_evloop *L, int lfd, int64_t now, fc_fconn **out) {
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    int fd;
    do { fd = accept4(lfd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC); }
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED) return 0;
        return -errno;
    }
    fc_fconn *k = (fc_fconn *)malloc(sizeof *k);
    if (!k || fd >= L->cap || fc_conn_init(k, fd, 0) < 0 || fc_tls_accepted(lfd, fd) < 0) {
        free(k); fc_tls_forget(fd); close(fd); return 0;
    }
    if (sa.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&sa;
        inet_ntop(AF_INET, &a->sin_addr, k->client, sizeof k->client);
        k->remote_port = ntohs(a->sin_port);
    } else if (sa.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&sa;
        inet_ntop(AF_INET6, &a->sin6_addr, k->client, sizeof k->client);
        k->remote_port = ntohs(a->sin6_port);
    }
    k->clientlen = strlen(k->client);
    k->owned = 1;
    k->sb = L->sb;
    k->slot = -1;
    k->proc = L->proc;
    k->timeout = L->timeout;
    k->ka_timeout = L->ka_timeout;
    L->owned++;
    L->accepted++;
    if (L->accept_budget > 0) L->accept_budget--;
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    double first = L->first_timeout > 0 && L->first_timeout < L->timeout ? L->first_timeout : L->timeout;
    L->deadline[fd] = now + (int64_t)(first * 1000);
    fc_ev_tls_deadline(L, k, now);
    __atomic_store_n(&L->conns[fd], k, __ATOMIC_RELEASE);
    if (fd > L->maxfd) __atomic_store_n(&L->maxfd, fd, __ATOMIC_RELAXED);
    if (epoll_ctl(L->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) fc_ev_drop(L, k);
    else *out = k;
    return 0;
}

/* Hand an idle connection to the loop; wait_s from now until it expires. */
static int fc_ev_attach(fc_evloop *L, fc_fconn *k, double wait_s) {
    int fd = k->fd;
    struct epoll_event ev;
    if (fd < 0 || fd >= L->cap) return -EMFILE;
    __atomic_store_n(&L->deadline[fd], fc_mono_ms() + (int64_t)(wait_s * 1000), __ATOMIC_RELAXED);
    __atomic_store_n(&L->conns[fd], k, __ATOMIC_RELEASE);
    if (fd > __atomic_load_n(&L->maxfd, __ATOMIC_RELAXED)) __atomic_store_n(&L->maxfd, fd, __ATOMIC_RELAXED);
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(L->epfd, EPOLL_CTL_MOD, fd, &ev) < 0) {
        if (errno != ENOENT || epoll_ctl(L->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            int e = errno;
            __atomic_store_n(&L->conns[fd], NULL, __ATOMIC_RELEASE);
            return -e;
        }
    }
    return 0;
}

/* Take a connection back (listener thread).  unregister: remove it from epoll, so it
 * cannot be reported while a worker thread owns it. */
static void fc_ev_detach(fc_evloop *L, int fd, int unregister) {
    if (fd < 0 || fd >= L->cap) return;
    fc_fconn *k = L->conns[fd];
    if (k && k->owned) L->adopt[fd] = k;  /* Python takes it with fc_ev_adopt() */
    __atomic_store_n(&L->conns[fd], NULL, __ATOMIC_RELEASE);
    if (unregister) epoll_ctl(L->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* Serve one ready connection.  -1 when the loop keeps it (waiting for the next request,
 * for EPOLLOUT, lingering or closed), else the code to report (it is detached). */
static int fc_ev_serve(fc_evloop *L, fc_fconn *k, int64_t now) {
    int fd = k->fd;
    int rc = fc_serve(L->cache, k);
    L->served++;
    if (rc == FC_WANT_READ && !k->len) {
        if (k->writing) { fc_ev_mod(L, fd, EPOLLIN); k->writing = 0; }
        /* before the first request with RequestReadTimeout, the header deadline set at
         * accept or attach stands: it runs from the start of the connection */
        if (k->requests || L->first_timeout <= 0) {
            double w = k->requests ? k->ka_timeout : k->timeout;
            L->deadline[fd] = now + (int64_t)(w * 1000);
        }
        if (!k->requests) fc_ev_tls_deadline(L, k, now);
        if (L->deadline[fd] < L->next_scan) L->next_scan = L->deadline[fd];
        return -1;
    }
    if (rc == FC_WANT_WRITE) {  /* a blocked send resumes here on EPOLLOUT */
        if (!k->writing) { fc_ev_mod(L, fd, EPOLLOUT); k->writing = 1; }
        L->deadline[fd] = now + (int64_t)(k->timeout * 1000);
        return -1;
    }
    if (rc == FC_CLOSED && k->owned) { fc_ev_finish(L, k, now); return -1; }
    if (k->writing) { fc_ev_mod(L, fd, EPOLLIN); k->writing = 0; }
    /* Python takes over: workers get fallbacks and partial heads (unregistered so the
     * level-triggered registration cannot report it meanwhile); the caller handles closes
     * itself before it waits again */
    int owned = k->owned;
    fc_ev_detach(L, fd, rc == FC_FALLBACK || rc == FC_WANT_READ);
    return rc | (owned ? FC_EV_OWNED : 0);
}

/* The connections the loop holds, by state, for mod_status's event table (listener
 * thread): out[0] all, out[1] waiting for a next request (keep-alive), out[2] blocked
 * sending, out[3] in lingering close. */
static void fc_ev_census(fc_evloop *L, int out[4]) {
    out[0] = out[1] = out[2] = out[3] = 0;
    int top = __atomic_load_n(&L->maxfd, __ATOMIC_RELAXED);
    for (int fd = 0; fd <= top; fd++) {
        fc_fconn *k = __atomic_load_n(&L->conns[fd], __ATOMIC_ACQUIRE);
        if (!k) continue;
        out[0]++;
        if (k->lingering) out[3]++;
        else if (k->writing) out[2]++;
        else if (k->requests && !k->len) out[1]++;
    }
}

/* The loop-accepted connection detached at fd, now Python's (NULL if none). */
static fc_fconn *fc_ev_adopt(fc_evloop *L, int fd) {
    if (fd < 0 || fd >= L->cap || !L->adopt[fd]) return NULL;
    fc_fconn *k = L->adopt[fd];
    L->adopt[fd] = NULL;
    k->owned = 0;
    L->owned--;
    return k;
}

/* Wait up to timeout_ms (-1: forever) for something Python must handle; serve attached
 * connections meanwhile.  Fills out_fd/out_code (FC_EV_RAW with out_ev = epoll events, or
 * an fc_serve result, or FC_EXPIRED); returns how many, or -errno. */
static int fc_ev_wait(fc_evloop *L, int timeout_ms, int *out_fd, int *out_code,
                      uint32_t *out_ev, int max_out) {
    struct epoll_event ev[FC_EV_BATCH];
    int64_t start = fc_mono_ms(), end = timeout_ms < 0 ? INT64_MAX : start + timeout_ms;
    int nout = 0;
    if (max_out > FC_EV_BATCH) max_out = FC_EV_BATCH;
    for (;;) {
        int64_t now = fc_mono_ms();
        if (!L->next_scan) L->next_scan = now + 1000;  /* attaches from other threads */
        int64_t until = end;
        if (L->next_scan < until) until = L->next_scan;
        int wait = until == INT64_MAX ? -1 : (until > now ? (int)(until - now) : 0);
        int n = epoll_wait(L->epfd, ev, max_out - nout, wait);
        if (n < 0) {
            if (errno == EINTR) continue;
            return nout ? nout : -errno;
        }
        now = fc_mono_ms();
        for (int i = 0; i < n; i++) {
            int fd = ev[i].data.fd;
            if (fd >= 0 && fd < L->cap && L->listener[fd] && L->accept_budget != 0) {
                fc_fconn *nk = NULL;
                int r = fc_ev_accept(L, fd, now, &nk);
                if (r < 0) { out_fd[nout] = fd; out_code[nout] = FC_EV_RAW; out_ev[nout] = ev[i].events; nout++; }
                else if (nk) {
                    /* the request usually arrived with the connection: serve it now, as
                     * httpd's event MPM does, instead of one more epoll_wait */
                    int cfd = nk->fd;
                    int rc = fc_ev_serve(L, nk, now);
                    if (rc >= 0) { out_fd[nout] = cfd; out_code[nout] = rc; out_ev[nout] = EPOLLIN; nout++; }
                }
                continue;
            }
            fc_fconn *k = (fd >= 0 && fd < L->cap) ? __atomic_load_n(&L->conns[fd], __ATOMIC_ACQUIRE) : NULL;
            if (!k) {
                out_fd[nout] = fd; out_code[nout] = FC_EV_RAW; out_ev[nout] = ev[i].events; nout++;
                continue;
            }
            if (k->lingering) { fc_ev_drain(L, k); continue; }
            int rc = fc_ev_serve(L, k, now);
            if (rc < 0) continue;
            out_fd[nout] = fd; out_code[nout] = rc; out_ev[nout] = ev[i].events; nout++;
        }
        /* A loaded loop rarely blocks in epoll_wait: its clients answer before it has
         * gone round.  Children sharing a CPU would then run a whole scheduler slice each
         * while the others' clients wait (p99 8-9 ms at 64 connections over 3 children on
         * one CPU, 0.9 ms when one child held them all).  Yielding every few dozen events
         * interleaves them at that grain; with nobody else runnable the call returns at
         * once, and with one client at a time it costs 1/32 syscall per request. */
        L->streak += (unsigned)n;
        if (L->streak >= FC_EV_YIELD_EVERY) { L->streak = 0; sched_yield(); }
        if (now >= L->next_scan && nout < max_out) {
            int64_t next = 0;
            int top = __atomic_load_n(&L->maxfd, __ATOMIC_RELAXED);
            for (int fd = 0; fd <= top && nout < max_out; fd++) {
                if (!__atomic_load_n(&L->conns[fd], __ATOMIC_ACQUIRE)) continue;
                int64_t d = __atomic_load_n(&L->deadline[fd], __ATOMIC_RELAXED);
                if (d <= now) {
                    fc_fconn *k = L->conns[fd];
                    if (k->owned && !k->len && !k->has_out) { fc_ev_drop(L, k); continue; }
                    int owned = k->owned;
                    if (k->writing) { fc_ev_mod(L, fd, EPOLLIN); k->writing = 0; }
                    fc_ev_detach(L, fd, 0);
                    out_fd[nout] = fd; out_code[nout] = FC_EXPIRED | (owned ? FC_EV_OWNED : 0);
                    out_ev[nout] = 0; nout++;
                } else if (!next || d < next) next = d;
            }
            L->next_scan = (next && next < now + 1000) ? next : now + 1000;
        }
        if (nout || now >= end) return nout;
    }
}

#endif /* FC_FASTLOOP_H */

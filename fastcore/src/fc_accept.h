/* fc_accept.h - the accept loop for fastcore: poll every listener under the accept mutex
 * (fc_accept_mutex.h), accept4, back off on descriptor shortage; or wait with EPOLLEXCLUSIVE.
 * Same conventions as fc_accept_mutex.h: 0 / small positive status, -errno on failure.
 */
#ifndef FC_ACCEPT_H
#define FC_ACCEPT_H

#include "fc_accept_mutex.h"
#include "fc_tls.h"   /* a connection on a TLS listener gets its session here */

/* ---- the acceptor ----------------------------------------------------------------- */

typedef struct {
    int nfds;
    int fds[FC_MAX_LISTENERS];
    int wake_r, wake_w;               /* wake-up pipe (non-blocking, close-on-exec) */
    int epfd;                         /* epollexclusive: this process's own epoll instance */
    int epoll;                        /* 1: wait with EPOLLEXCLUSIVE instead of poll */
    fc_mutex_t *mutex;                /* NULL: unserialized */
    int flags;                        /* accept4 flags */
    int next;                         /* round-robin start, so no listener starves */
    int intr;                         /* 1: return FC_INTR on EINTR (Python callers) */
    unsigned gen;
    uint64_t backoffs;                /* EMFILE/ENFILE/ENOBUFS/ENOMEM back-offs */
    int64_t backoff_ns;               /* current back-off interval */
} fc_acceptor_t;

static int fc_acceptor_epoll_setup(fc_acceptor_t *a) {
    if (a->epfd >= 0) close(a->epfd);
    a->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (a->epfd < 0) return -errno;
    for (int i = 0; i < a->nfds; i++) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.u32 = (uint32_t)i};
        if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->fds[i], &ev) < 0) return -errno;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 0xffffffffu};
    if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->wake_r, &ev) < 0) return -errno;
    return 0;
}

/* Listeners are made non-blocking: a child that loses the race gets EAGAIN and waits again
 * instead of sleeping inside accept() on one socket while another has connections. */
static int fc_acceptor_init(fc_acceptor_t *a, const int *fds, int n, fc_mutex_t *mutex, int epoll,
                            int nonblock) {
    int p[2];
    memset(a, 0, sizeof *a);
    a->epfd = a->wake_r = a->wake_w = -1;
    if (n < 1 || n > FC_MAX_LISTENERS) return -EINVAL;
    for (int i = 0; i < n; i++) {
        int fl = fcntl(fds[i], F_GETFL);
        if (fl < 0) return -errno;
        if (!(fl & O_NONBLOCK) && fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) < 0) return -errno;
        a->fds[i] = fds[i];
    }
    a->nfds = n;
    a->mutex = mutex;
    a->epoll = epoll;
    a->flags = SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0);
    pthread_once(&fc_atfork_once, fc_atfork_register);
    a->gen = fc_fork_gen;
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) return -errno;
    a->wake_r = p[0];
    a->wake_w = p[1];
    if (epoll) return fc_acceptor_epoll_setup(a);
    return 0;
}

static void fc_acceptor_close(fc_acceptor_t *a) {
    if (a->epfd >= 0) close(a->epfd);
    if (a->wake_r >= 0) close(a->wake_r);
    if (a->wake_w >= 0) close(a->wake_w);
    a->epfd = a->wake_r = a->wake_w = -1;
    a->nfds = 0;
}

static inline int fc_resource_shortage(int e) {
    return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

/* accept4 on listener i. >=0: the new fd; -EAGAIN: nothing there (lost race, aborted
 * connection); other -errno: real error. */
static int fc_accept_one(fc_acceptor_t *a, int i, struct sockaddr_storage *peer, socklen_t *plen) {
    for (;;) {
        *plen = sizeof *peer;
        int fd = accept4(a->fds[i], (struct sockaddr *)peer, plen, a->flags);
        if (fd >= 0 && fc_tls_accepted(a->fds[i], fd) < 0) {  /* mod_ssl: no session */
            fc_tls_forget(fd);
            close(fd);
            return -EAGAIN;
        }
        if (fd >= 0) {
            a->next = (i + 1) % a->nfds;
            a->backoff_ns = 0;
            return fd;
        }
        int e = errno;
        if (e == EINTR) continue;
        /* The connection was reset before we took it, or another child took it. */
        if (e == EAGAIN || e == EWOULDBLOCK || e == ECONNABORTED || e == EPROTO) return -EAGAIN;
        return -e;
    }
}

/* One wait + accept, while the caller holds the mutex (if any). Returns the new fd, or -1
 * with *status FC_TIMEDOUT / FC_WOKEN / FC_AGAIN (lost the race) / FC_ERROR (*err = errno). */
static int fc_wait_and_accept(fc_acceptor_t *a, int64_t deadline, struct sockaddr_storage *peer,
                              socklen_t *plen, int *status, int *err) {
    int ready[FC_MAX_LISTENERS];
    int nready = 0, r;
    *status = FC_OK;
    *err = 0;
    if (a->epoll) {
        struct epoll_event evs[FC_MAX_LISTENERS + 1];
        for (;;) {
            r = epoll_wait(a->epfd, evs, a->nfds + 1, fc_poll_ms(deadline));
            if (r >= 0 || errno != EINTR) break;
            /* EINTR: the signal's handler may have written the wake-up pipe, which is in
             * the epoll set: the next round reports it. */
            if (a->intr) { *status = FC_INTR; return -1; }
        }
        if (r < 0) { *err = errno; *status = FC_ERROR; return -1; }
        for (int k = 0; k < r; k++) {
            if (evs[k].data.u32 == 0xffffffffu) { fc_drain(a->wake_r); *status = FC_WOKEN; return -1; }
            ready[nready++] = (int)evs[k].data.u32;
        }
    } else {
        struct pollfd pfd[FC_MAX_LISTENERS + 1];
        for (int i = 0; i < a->nfds; i++) {
            pfd[i].fd = a->fds[i];
            pfd[i].events = POLLIN;
            pfd[i].revents = 0;
        }
        pfd[a->nfds].fd = a->wake_r;
        pfd[a->nfds].events = POLLIN;
        pfd[a->nfds].revents = 0;
        for (;;) {
            r = poll(pfd, (nfds_t)a->nfds + 1, fc_poll_ms(deadline));
            if (r >= 0 || errno != EINTR) break;
            if (a->intr) { *status = FC_INTR; return -1; }
        }
        if (r < 0) { *err = errno; *status = FC_ERROR; return -1; }
        if (pfd[a->nfds].revents) { fc_drain(a->wake_r); *status = FC_WOKEN; return -1; }
        for (int i = 0; i < a->nfds; i++)
            if (pfd[i].revents & POLLNVAL) { *err = EBADF; *status = FC_ERROR; return -1; }
        /* Start at the listener after the last one served (round robin). */
        for (int k = 0; k < a->nfds; k++) {
            int i = (a->next + k) % a->nfds;
            if (pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) ready[nready++] = i;
        }
    }
    if (r == 0) { *status = FC_TIMEDOUT; return -1; }
    int shortage = 0;
    for (int k = 0; k < nready; k++) {
        int fd = fc_accept_one(a, ready[k], peer, plen);
        if (fd >= 0) return fd;
        if (fd == -EAGAIN) continue;
        if (fc_resource_shortage(-fd)) { shortage = -fd; continue; }
        *err = -fd;
        *status = FC_ERROR;
        return -1;
    }
    if (shortage) { *err = shortage; *status = FC_ERROR; return -1; }
    *status = FC_AGAIN;
    return -1;
}

/* Back off after EMFILE/ENFILE: sleep 1, 2, 4 ... 128 ms (not holding the mutex, so other
 * children keep accepting), waking early for the wake-up pipe. Never a busy spin. */
static int fc_backoff(fc_acceptor_t *a, int64_t deadline) {
    a->backoffs++;
    a->backoff_ns = a->backoff_ns ? a->backoff_ns * 2 : 1000000LL;
    if (a->backoff_ns > 128000000LL) a->backoff_ns = 128000000LL;
    int64_t until = fc_now_ns() + a->backoff_ns;
    if (deadline >= 0 && deadline < until) until = deadline;
    struct pollfd p = {.fd = a->wake_r, .events = POLLIN, .revents = 0};
    int r;
    while ((r = poll(&p, 1, fc_poll_ms(until))) < 0 && errno == EINTR) {
        if (a->intr) return FC_INTR;
    }
    if (r > 0) { fc_drain(a->wake_r); return FC_WOKEN; }
    return FC_OK;
}

/* The accept loop. timeout_ns < 0 waits for ever. Returns the new fd (>= 0) with peer/plen
 * filled, or -1 with *status FC_TIMEDOUT / FC_WOKEN, or FC_ERROR and *err = errno. */
static int fc_acceptor_accept(fc_acceptor_t *a, int64_t timeout_ns, struct sockaddr_storage *peer,
                              socklen_t *plen, int *status, int *err) {
    int64_t deadline = timeout_ns < 0 ? -1 : fc_now_ns() + timeout_ns;
    int r;
    *status = FC_OK;
    *err = 0;
    if (a->nfds == 0) { *status = FC_ERROR; *err = EBADF; return -1; }
    if (a->gen != fc_fork_gen) {
        /* Used in a forked child: an inherited epoll instance would be shared with the
         * parent, which defeats EPOLLEXCLUSIVE; make our own. */
        a->gen = fc_fork_gen;
        if (a->epoll && (r = fc_acceptor_epoll_setup(a)) < 0) {
            *status = FC_ERROR; *err = -r; return -1;
        }
    }
    for (;;) {
        if (a->mutex) {
            r = fc_mutex_lock2(a->mutex, deadline, a->wake_r, a->intr);
            if (r < 0) { *status = FC_ERROR; *err = -r; return -1; }
            if (r == FC_WOKEN) fc_drain(a->wake_r);
            if (r != FC_OK) { *status = r; return -1; }
        }
        int st, e;
        int fd = fc_wait_and_accept(a, deadline, peer, plen, &st, &e);
        if (a->mutex) {
            r = fc_mutex_unlock(a->mutex);
            if (r < 0) {
                if (fd >= 0) close(fd);
                *status = FC_ERROR; *err = -r; return -1;
            }
        }
        if (fd >= 0) return fd;
        if (st == FC_ERROR) {
            if (!fc_resource_shortage(e)) { *status = FC_ERROR; *err = e; return -1; }
            r = fc_backoff(a, deadline);
            if (r != FC_OK) { *status = r; return -1; }
        } else if (st != FC_AGAIN) {
            *status = st;
            return -1;
        }
        if (deadline >= 0 && fc_now_ns() >= deadline) { *status = FC_TIMEDOUT; return -1; }
    }
}

#endif /* FC_ACCEPT_H */

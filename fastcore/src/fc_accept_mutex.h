/* fc_accept_mutex.h - the accept mutex: Apache's Mutex mpm-accept mechanisms, crash recovery.
 *
 * Plain C so the accept loop runs without the GIL and other .pyx files can call it from
 * their own nogil loops (declared in fastcore/_accept.pxd). Every function returns 0 or a
 * small positive status (FC_TIMEDOUT, FC_WOKEN, FC_AGAIN) and -errno on failure; the
 * Python boundary (_accept.pyx) maps negative values to OSError.
 */
#ifndef FC_ACCEPT_MUTEX_H
#define FC_ACCEPT_MUTEX_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

enum {
    FC_M_NONE = 0, FC_M_FCNTL, FC_M_FLOCK, FC_M_SYSVSEM, FC_M_POSIXSEM, FC_M_PTHREAD,
    FC_M_REUSEPORT, FC_M_EPOLLEXCL
};
enum { FC_OK = 0, FC_TIMEDOUT = 1, FC_WOKEN = 2, FC_AGAIN = 3, FC_ERROR = 4, FC_INTR = 5 };
/* wake_fd value for fc_mutex_lock: return FC_WOKEN on any EINTR (and, for pthread, every
 * 100 ms), so a Python caller can run its signal handlers (PEP 475) and call again. */
#define FC_WAKE_EINTR (-2)

#define FC_MAX_LISTENERS 64
#define FC_PATH_MAX 512

/* Shared page (MAP_SHARED|MAP_ANONYMOUS, created before fork). */
typedef struct {
    /* The holder word shares the mutex's cache line: the locker owns that line already,
     * so recording itself costs no extra cache miss under contention. */
    pthread_mutex_t mtx __attribute__((aligned(64)));  /* pthread mechanism */
    volatile int32_t holder;          /* pid of the current holder, 0 when free */
    volatile uint64_t owner_dead __attribute__((aligned(64)));  /* recoveries */
} fc_shared_t;

typedef struct {
    int mech;
    int fd;                           /* fcntl/flock: this process's own open file description */
    int semid;                        /* sysvsem */
    sem_t *sem;                       /* posixsem (named, unlinked at once) */
    fc_shared_t *shm;
    int32_t pid;                      /* getpid() of the process using this copy */
    int32_t creator;                  /* pid that created it (destroy removes files there) */
    unsigned gen;                     /* fork generation this copy was (re)initialised in */
    char path[FC_PATH_MAX];           /* lock file (fcntl/flock) */
} fc_mutex_t;

/* Incremented in every child by a pthread_atfork handler: a mutex or acceptor used in a
 * forked child without child_init() re-initialises itself instead of sharing the parent's
 * open file description (which would make flock() exclude nothing). */
static volatile unsigned fc_fork_gen = 0;
static void fc_atfork_child(void) { fc_fork_gen++; }
static pthread_once_t fc_atfork_once = PTHREAD_ONCE_INIT;
static void fc_atfork_register(void) { pthread_atfork(NULL, NULL, fc_atfork_child); }

/* ---- time helpers ---------------------------------------------------------------- */

static inline int64_t fc_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline struct timespec fc_ts(int64_t ns) {
    struct timespec ts;
    if (ns < 0) ns = 0;
    ts.tv_sec = ns / 1000000000LL;
    ts.tv_nsec = ns % 1000000000LL;
    return ts;
}

/* poll() timeout in ms for an absolute deadline (<0: infinite), rounded up. */
static inline int fc_poll_ms(int64_t deadline) {
    if (deadline < 0) return -1;
    int64_t left = deadline - fc_now_ns();
    if (left <= 0) return 0;
    int64_t ms = (left + 999999) / 1000000;
    return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

/* Has the wake-up pipe data? (no syscall when there is no pipe) */
static inline int fc_woken(int wake_fd) {
    if (wake_fd < 0) return 0;
    struct pollfd p = {.fd = wake_fd, .events = POLLIN, .revents = 0};
    return poll(&p, 1, 0) > 0;
}

static inline void fc_drain(int wake_fd) {
    char buf[256];
    while (read(wake_fd, buf, sizeof buf) > 0) {
    }
}

/* ---- a per-thread timer that interrupts a blocking fcntl/flock wait ------------------ */

static pthread_once_t fc_sig_once = PTHREAD_ONCE_INIT;
static int fc_sig_ok = 0;
static void fc_sig_noop(int s) { (void)s; }
static inline int fc_timer_signo(void) { return SIGRTMIN + 6; }
static void fc_sig_install(void) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fc_sig_noop;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: the blocked fcntl/flock must return EINTR */
    if (sigaction(fc_timer_signo(), NULL, &old) == 0 && old.sa_handler == SIG_DFL)
        fc_sig_ok = sigaction(fc_timer_signo(), &sa, NULL) == 0;
    else
        fc_sig_ok = old.sa_handler == fc_sig_noop;
}

/* Arm a timer that signals this thread at the deadline and then every 5 ms (so a signal
 * that lands just before the blocking call is never the last one). */
static int fc_timer_arm(timer_t *t, int64_t deadline) {
    sigset_t cur;
    pthread_once(&fc_sig_once, fc_sig_install);
    if (!fc_sig_ok) return -ENOTSUP;
    /* a thread that blocks our signal would never be interrupted: use the fallback */
    if (pthread_sigmask(SIG_BLOCK, NULL, &cur) != 0 || sigismember(&cur, fc_timer_signo()))
        return -ENOTSUP;
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = fc_timer_signo();
    sev.sigev_notify_thread_id = gettid();
    if (timer_create(CLOCK_MONOTONIC, &sev, t) < 0) return -errno;
    struct itimerspec its;
    its.it_value = fc_ts(deadline);
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
    its.it_interval = fc_ts(5000000);
    if (timer_settime(*t, TIMER_ABSTIME, &its, NULL) < 0) {
        int e = errno;
        timer_delete(*t);
        return -e;
    }
    return 0;
}

/* ---- the mutex ------------------------------------------------------------------- */

static int fc_file_trylock(fc_mutex_t *m) {
    int r;
    if (m->mech == FC_M_FCNTL) {
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
        r = fcntl(m->fd, F_SETLK, &fl);
    } else {
        r = flock(m->fd, LOCK_EX | LOCK_NB);
    }
    if (r == 0) return FC_OK;
    if (errno == EAGAIN || errno == EACCES || errno == EWOULDBLOCK) return FC_AGAIN;
    return -errno;
}

static int fc_file_lockw(fc_mutex_t *m) {
    int r;
    if (m->mech == FC_M_FCNTL) {
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
        r = fcntl(m->fd, F_SETLKW, &fl);
    } else {
        r = flock(m->fd, LOCK_EX);
    }
    return r == 0 ? 0 : -errno;
}

static int fc_mutex_child_init(fc_mutex_t *m) {
    pthread_once(&fc_atfork_once, fc_atfork_register);
    m->gen = fc_fork_gen;
    m->pid = (int32_t)getpid();
    if (m->mech == FC_M_FCNTL || m->mech == FC_M_FLOCK) {
        /* A per-child open file description: flock() locks belong to it, and a child that
         * dies closes it, which releases the lock. */
        int fd = open(m->path, O_RDWR | O_CLOEXEC);
        if (fd < 0) return -errno;
        if (m->fd >= 0) close(m->fd);
        m->fd = fd;
    }
    return 0;
}

static inline int fc_mutex_check_fork(fc_mutex_t *m) {
    if (m->gen != fc_fork_gen) return fc_mutex_child_init(m);
    return 0;
}

static inline int fc_is_lock_mech(int mech) {
    return mech >= FC_M_FCNTL && mech <= FC_M_PTHREAD;
}

/* One acquisition attempt that may wait until `deadline` (absolute CLOCK_MONOTONIC ns, <0:
 * for ever). On EINTR: intr -> FC_INTR (the Python caller runs its signal handlers and
 * calls again); else FC_WOKEN if the wake-up pipe has data, else wait on. Returns FC_OK,
 * FC_TIMEDOUT, FC_WOKEN, FC_INTR or -errno. Every wait sleeps in the kernel. */
static int fc_mutex_lock_until(fc_mutex_t *m, int64_t deadline, int wake_fd, int intr) {
    int r;
    switch (m->mech) {
    case FC_M_FCNTL:
    case FC_M_FLOCK: {
        if (deadline < 0) {
            while ((r = fc_file_lockw(m)) == -EINTR) {
                if (intr) return FC_INTR;
                if (fc_woken(wake_fd)) return FC_WOKEN;
            }
            if (r < 0) return r;
            break;
        }
        r = fc_file_trylock(m);
        if (r < 0) return r;
        if (r == FC_AGAIN) {
            timer_t t;
            if (fc_now_ns() >= deadline) return FC_TIMEDOUT;
            if ((r = fc_timer_arm(&t, deadline)) == -ENOTSUP) {
                /* Another library owns our timer signal: retry the lock after short sleeps
                 * (1 .. 16 ms) on the wake-up pipe instead. */
                int64_t slice = 1000000LL;
                for (;;) {
                    int64_t until = fc_now_ns() + slice;
                    if (until > deadline) until = deadline;
                    if (wake_fd >= 0) {
                        struct pollfd p = {.fd = wake_fd, .events = POLLIN, .revents = 0};
                        if (poll(&p, 1, fc_poll_ms(until)) > 0) return FC_WOKEN;
                    } else {
                        struct timespec ts = fc_ts(until - fc_now_ns());
                        if (nanosleep(&ts, NULL) < 0 && errno == EINTR && intr) return FC_INTR;
                    }
                    if ((r = fc_file_trylock(m)) < 0) return r;
                    if (r == FC_OK) break;
                    if (fc_now_ns() >= deadline) return FC_TIMEDOUT;
                    if (slice < 16000000LL) slice *= 2;
                }
                break;
            }
            if (r < 0) return r;
            for (;;) {
                r = fc_file_lockw(m);
                if (r != -EINTR) break;
                if (fc_now_ns() >= deadline) { r = FC_TIMEDOUT; break; }
                if (intr) { r = FC_INTR; break; }   /* could be ours: the caller re-checks */
                if (fc_woken(wake_fd)) { r = FC_WOKEN; break; }
            }
            timer_delete(t);
            if (r != 0) return r;
        }
        break;
    }
    case FC_M_SYSVSEM: {
        struct sembuf op = {.sem_num = 0, .sem_op = -1, .sem_flg = SEM_UNDO};
        for (;;) {
            if (deadline < 0) {
                r = semop(m->semid, &op, 1);
            } else {
                struct timespec ts = fc_ts(deadline - fc_now_ns());
                r = semtimedop(m->semid, &op, 1, &ts);
            }
            if (r == 0) break;
            if (errno == EAGAIN) return FC_TIMEDOUT;
            if (errno != EINTR) return -errno;
            if (intr) return FC_INTR;
            if (fc_woken(wake_fd)) return FC_WOKEN;
        }
        break;
    }
    case FC_M_POSIXSEM:
        for (;;) {
            if (deadline < 0) {
                r = sem_wait(m->sem);
            } else {
                struct timespec ts = fc_ts(deadline);
                r = sem_clockwait(m->sem, CLOCK_MONOTONIC, &ts);
            }
            if (r == 0) break;
            if (errno == ETIMEDOUT) return FC_TIMEDOUT;
            if (errno != EINTR) return -errno;
            if (intr) return FC_INTR;
            if (fc_woken(wake_fd)) return FC_WOKEN;
        }
        break;
    case FC_M_PTHREAD:
        for (;;) {
            if (deadline < 0 && !intr) {
                r = pthread_mutex_lock(&m->shm->mtx);
            } else if ((r = pthread_mutex_trylock(&m->shm->mtx)) != EBUSY) {
                /* got it (or EOWNERDEAD) without touching the clock */
            } else {
                /* A signal does not interrupt a futex-based mutex wait: a Python caller
                 * waits in slices of at most 100 ms and runs its handlers in between. */
                int64_t until = fc_now_ns() + 100000000LL;
                if (deadline >= 0 && deadline < until) until = deadline;
                struct timespec ts = fc_ts(until);
                r = pthread_mutex_clocklock(&m->shm->mtx, CLOCK_MONOTONIC, &ts);
                if (r == ETIMEDOUT) {
                    if (deadline >= 0 && fc_now_ns() >= deadline) return FC_TIMEDOUT;
                    if (intr) return FC_INTR;
                    continue;
                }
            }
            if (r == 0) break;
            if (r == EOWNERDEAD) {
                /* The holder died inside the critical section; the accept loop keeps no
                 * state under the lock, so the mutex can simply be made consistent. */
                __atomic_add_fetch(&m->shm->owner_dead, 1, __ATOMIC_RELAXED);
                r = pthread_mutex_consistent(&m->shm->mtx);
                if (r != 0) return -r;
                break;
            }
            if (r != EINTR) return -r;
        }
        break;
    }
    __atomic_store_n(&m->shm->holder, m->pid, __ATOMIC_RELEASE);
    return FC_OK;
}

/* How long a waiter with a wake-up pipe may sleep before it looks at the pipe: the MPMs
 * block signals in their accepting threads, so no EINTR would ever tell it. */
#define FC_WAKE_SLICE_NS 100000000LL

/* Acquire, waiting until deadline (<0: for ever). wake_fd >= 0: a pipe whose data ends the
 * wait with FC_WOKEN (looked at on EINTR and at least every 100 ms). intr: return FC_INTR
 * on EINTR (Python callers). Returns FC_OK, FC_TIMEDOUT, FC_WOKEN, FC_INTR or -errno. */
static int fc_mutex_lock2(fc_mutex_t *m, int64_t deadline, int wake_fd, int intr) {
    int r;
    if (!fc_is_lock_mech(m->mech)) return FC_OK;
    if ((r = fc_mutex_check_fork(m)) < 0) return r;
    if (wake_fd < 0) return fc_mutex_lock_until(m, deadline, -1, intr);
    for (;;) {
        int64_t until = fc_now_ns() + FC_WAKE_SLICE_NS;
        if (deadline >= 0 && deadline < until) until = deadline;
        r = fc_mutex_lock_until(m, until, wake_fd, intr);
        if (r != FC_TIMEDOUT) return r;
        if (deadline >= 0 && fc_now_ns() >= deadline) return FC_TIMEDOUT;
        if (fc_woken(wake_fd)) return FC_WOKEN;
    }
}

/* The C API's form: wake_fd -1 (none), a pipe, or FC_WAKE_EINTR (return FC_WOKEN on EINTR). */
static int fc_mutex_lock(fc_mutex_t *m, int64_t deadline, int wake_fd) {
    int r;
    if (wake_fd == FC_WAKE_EINTR) {
        r = fc_mutex_lock2(m, deadline, -1, 1);
        return r == FC_INTR ? FC_WOKEN : r;
    }
    return fc_mutex_lock2(m, deadline, wake_fd, 0);
}

static int fc_mutex_unlock(fc_mutex_t *m) {
    int r = 0;
    if (!fc_is_lock_mech(m->mech)) return 0;
    /* Clear the holder word first: a holder killed after this point has not released yet,
     * one killed before it still shows as holder (see fc_mutex_recover). */
    __atomic_store_n(&m->shm->holder, 0, __ATOMIC_RELEASE);
    switch (m->mech) {
    case FC_M_FCNTL: {
        struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
        while ((r = fcntl(m->fd, F_SETLK, &fl)) < 0 && errno == EINTR) {
        }
        return r < 0 ? -errno : 0;
    }
    case FC_M_FLOCK:
        while ((r = flock(m->fd, LOCK_UN)) < 0 && errno == EINTR) {
        }
        return r < 0 ? -errno : 0;
    case FC_M_SYSVSEM: {
        struct sembuf op = {.sem_num = 0, .sem_op = 1, .sem_flg = SEM_UNDO};
        while ((r = semop(m->semid, &op, 1)) < 0 && errno == EINTR) {
        }
        return r < 0 ? -errno : 0;
    }
    case FC_M_POSIXSEM:
        return sem_post(m->sem) < 0 ? -errno : 0;
    case FC_M_PTHREAD:
        r = pthread_mutex_unlock(&m->shm->mtx);
        return -r;
    }
    return 0;
}

/* The parent calls this after reaping a child. Returns 1 when dead_pid held the mutex.
 * fcntl/flock (kernel drops the lock with the descriptor), sysvsem (SEM_UNDO) and pthread
 * (robust: the next locker gets EOWNERDEAD) recover by themselves; a POSIX semaphore has no
 * owner, so it is re-posted here, once, guarded by the holder word. */
static int fc_mutex_recover(fc_mutex_t *m, int32_t dead_pid) {
    int32_t expected = dead_pid;
    if (dead_pid <= 0 || !fc_is_lock_mech(m->mech)) return 0;
    if (!__atomic_compare_exchange_n(&m->shm->holder, &expected, 0, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return 0;
    if (m->mech == FC_M_POSIXSEM) {
        if (sem_post(m->sem) < 0) return -errno;
        __atomic_add_fetch(&m->shm->owner_dead, 1, __ATOMIC_RELAXED);
    }
    return 1;
}

/* Create in the parent. lock_dir is used by fcntl/flock only. */
static int fc_mutex_create(fc_mutex_t *m, int mech, const char *lock_dir, unsigned serial) {
    memset(m, 0, sizeof *m);
    m->fd = -1;
    m->semid = -1;
    m->mech = mech;
    pthread_once(&fc_atfork_once, fc_atfork_register);
    m->gen = fc_fork_gen;
    m->pid = m->creator = (int32_t)getpid();
    void *p = mmap(NULL, sizeof(fc_shared_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED) return -errno;
    m->shm = (fc_shared_t *)p;
    switch (mech) {
    case FC_M_FCNTL:
    case FC_M_FLOCK: {
        int n = snprintf(m->path, sizeof m->path, "%s/fastcore-accept.%d.%u.%s", lock_dir,
                         (int)m->creator, serial, mech == FC_M_FCNTL ? "fcntl" : "flock");
        if (n < 0 || n >= (int)sizeof m->path) return -ENAMETOOLONG;
        m->fd = open(m->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (m->fd < 0) { m->path[0] = 0; return -errno; }
        break;
    }
    case FC_M_SYSVSEM: {
        m->semid = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
        if (m->semid < 0) return -errno;
        union { int val; struct semid_ds *buf; unsigned short *array; } arg;
        arg.val = 1;
        if (semctl(m->semid, 0, SETVAL, arg) < 0) return -errno;
        break;
    }
    case FC_M_POSIXSEM: {
        char name[64];
        snprintf(name, sizeof name, "/fastcore-accept.%d.%u", (int)m->creator, serial);
        m->sem = sem_open(name, O_CREAT | O_EXCL, 0600, 1);
        if (m->sem == SEM_FAILED) { m->sem = NULL; return -errno; }
        sem_unlink(name); /* nothing to leak if the server is killed: children share the mapping */
        break;
    }
    case FC_M_PTHREAD: {
        pthread_mutexattr_t a;
        int r;
        if ((r = pthread_mutexattr_init(&a)) != 0) return -r;
        if ((r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED)) == 0)
            r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
        if (r == 0) r = pthread_mutex_init(&m->shm->mtx, &a);
        pthread_mutexattr_destroy(&a);
        if (r != 0) return -r;
        break;
    }
    default:
        break;
    }
    return 0;
}

/* Release every resource; files and semaphores are removed only by the creating process. */
static void fc_mutex_destroy(fc_mutex_t *m) {
    int owner = (int32_t)getpid() == m->creator;
    if (m->fd >= 0) { close(m->fd); m->fd = -1; }
    if (m->path[0] && owner) unlink(m->path);
    m->path[0] = 0;
    if (m->semid >= 0 && owner) semctl(m->semid, 0, IPC_RMID);
    m->semid = -1;
    if (m->sem) { sem_close(m->sem); m->sem = NULL; }
    if (m->shm) {
        if (m->mech == FC_M_PTHREAD && owner) pthread_mutex_destroy(&m->shm->mtx);
        munmap(m->shm, sizeof(fc_shared_t));
        m->shm = NULL;
    }
    m->mech = FC_M_NONE;
}

/* lock+unlock n times without the GIL; ns per pair. */
static double fc_mutex_bench(fc_mutex_t *m, long n, int *err) {
    int64_t t0 = fc_now_ns();
    *err = 0;
    for (long i = 0; i < n; i++) {
        int r = fc_mutex_lock(m, -1, -1);
        if (r != FC_OK) { *err = r < 0 ? r : -EIO; return -1.0; }
        if ((r = fc_mutex_unlock(m)) < 0) { *err = r; return -1.0; }
    }
    return (double)(fc_now_ns() - t0) / (double)(n > 0 ? n : 1);
}

#endif /* FC_ACCEPT_MUTEX_H */

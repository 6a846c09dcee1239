/* fc_scoreboard_bench.h - measure counter increments inside the extension, without the GIL.
 *
 * The loop is pure C (no Python call per iteration), so the figure is the cost of the counter
 * operation itself and can be compared with ../shared/limits/counters.c. The contended run
 * forks C-only children that start together (they block on one pipe that the parent closes),
 * each pinned to one CPU of the parent's affinity set, and timestamps with CLOCK_MONOTONIC.
 */
#ifndef FC_SCOREBOARD_BENCH_H
#define FC_SCOREBOARD_BENCH_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* CPU_SET, sched_setaffinity (Python.h normally defines it first) */
#endif
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fc_atomic.h"

static inline int64_t fc_mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* n increments of one counter; stores the monotonic start/end. 0, or errno if broken. */
static int fc_bench_loop(fc_counter_t *c, long n, int64_t *t0, int64_t *t1) {
    int64_t start = fc_mono_ns();
#if FC_ATOMICS_CAS
    /* lock-free: cannot fail; the result is unused, as in a request_end() */
    for (long i = 0; i < n; i++) (void)fc_counter_add(c, 1);
#else
    for (long i = 0; i < n; i++) {
        if (__builtin_expect(fc_counter_add(c, 1) == FC_COUNTER_ERR, 0) && errno) return errno;
    }
#endif
    *t1 = fc_mono_ns();
    *t0 = start;
    return 0;
}

static int fc_read_full(int fd, char *buf, size_t len) {
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return r < 0 ? errno : EPIPE;
        got += (size_t)r;
    }
    return 0;
}

/* nproc forked processes x n increments each, started together. On success returns 0 and
 * sets *agg_ns (wall time from the first start to the last end / all operations) and
 * *proc_ns (mean per-process time / own operations); errno otherwise. */
static int fc_bench_contended(fc_counter_t *c, int nproc, long n, int pin, double *agg_ns,
                              double *proc_ns) {
    int cpus[CPU_SETSIZE], ncpu = 0, rc = 0, started = 0;
    cpu_set_t set;
    if (nproc < 1 || nproc > 256) return EINVAL;
    if (sched_getaffinity(0, sizeof set, &set) < 0) return errno;
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &set)) cpus[ncpu++] = i;
    size_t maplen = sizeof(int64_t) * 2 * (size_t)nproc + sizeof(int) * (size_t)nproc;
    int64_t *ts = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ts == MAP_FAILED) return errno;
    int *errs = (int *)(ts + 2 * nproc);
    int ready[2] = {-1, -1}, go[2] = {-1, -1};
    pid_t pids[256];
    if (pipe(ready) < 0 || pipe(go) < 0) {
        rc = errno;
        goto out;
    }
    for (; started < nproc; started++) {
        pid_t pid = fork();
        if (pid < 0) {
            rc = errno;
            break;
        }
        if (pid == 0) {
            char b = 'r';
            close(ready[0]);
            close(go[1]);
            if (pin && ncpu > 0) {
                cpu_set_t one;
                CPU_ZERO(&one);
                CPU_SET(cpus[started % ncpu], &one);
                sched_setaffinity(0, sizeof one, &one);
            }
            while (write(ready[1], &b, 1) < 0 && errno == EINTR) {
            }
            while (read(go[0], &b, 1) < 0 && errno == EINTR) { /* EOF = go */
            }
            errs[started] = fc_bench_loop(c, n, &ts[2 * started], &ts[2 * started + 1]);
            _exit(errs[started] ? 1 : 0);
        }
        pids[started] = pid;
    }
    close(ready[1]);
    ready[1] = -1;
    close(go[0]);
    go[0] = -1;
    if (!rc) {
        char tmp[256];
        rc = fc_read_full(ready[0], tmp, (size_t)nproc);
    }
    close(go[1]); /* every child's read() returns 0 at once: start */
    go[1] = -1;
    for (int i = 0; i < started; i++) {
        int st = 0;
        while (waitpid(pids[i], &st, 0) < 0) {
            if (errno != EINTR) {
                if (!rc) rc = errno;
                break;
            }
        }
        if (!rc && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) rc = errs[i] ? errs[i] : ECHILD;
    }
    if (!rc) {
        int64_t mn = ts[0], mx = ts[1];
        double sum = 0;
        for (int i = 0; i < nproc; i++) {
            if (ts[2 * i] < mn) mn = ts[2 * i];
            if (ts[2 * i + 1] > mx) mx = ts[2 * i + 1];
            sum += (double)(ts[2 * i + 1] - ts[2 * i]);
        }
        *agg_ns = (double)(mx - mn) / ((double)nproc * (double)n);
        *proc_ns = sum / nproc / (double)n;
    }
out:
    for (int i = 0; i < 2; i++) {
        if (ready[i] >= 0) close(ready[i]);
        if (go[i] >= 0) close(go[i]);
    }
    munmap(ts, maplen);
    return rc;
}

#endif /* FC_SCOREBOARD_BENCH_H */

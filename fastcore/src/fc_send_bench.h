/* fc_send_bench.h - time fc_send_response in a C loop over a loopback TCP pair.
 * The sender is the calling thread (pinned to cpu_send when >= 0), a reader thread drains
 * (pinned to cpu_read).  Mirrors /work/shared/limits/sendstrat.c "stream NODELAY". */
#ifndef FC_SEND_BENCH_H
#define FC_SEND_BENCH_H
#include <pthread.h>
#include <sched.h>
#include <arpa/inet.h>
#include "fc_send.h"

struct fc_bench_reader { int fd; int cpu; long long total; };

static void *fc_bench_drain(void *arg) {
    struct fc_bench_reader *r = (struct fc_bench_reader *)arg;
    static char buf[1 << 16]; /* one reader at a time: the bench holds the GIL-free loop */
    ssize_t n;
    if (r->cpu >= 0) {
        cpu_set_t s; CPU_ZERO(&s); CPU_SET(r->cpu, &s);
        pthread_setaffinity_np(pthread_self(), sizeof s, &s);
    }
    while ((n = read(r->fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0) r->total += n;
    return NULL;
}

/* Returns ns per response (>0), or -errno.  *ok = 1 when the reader got every byte. */
static double fc_bench_send(int strategy, const char *hdr, size_t hlen, int file_fd, size_t count,
                            const char *body, long n, int cpu_send, int cpu_read, int *ok) {
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int ls, c, s, one = 1, err = 0;
    struct fc_bench_reader rd;
    pthread_t th;
    cpu_set_t old, s0;
    struct timespec t0, t1;
    long i;
    *ok = 0;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x7f000001);
    ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ls < 0) return -errno;
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 4) < 0 ||
        getsockname(ls, (struct sockaddr *)&a, &al) < 0) { err = errno; close(ls); return -err; }
    c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c < 0) { err = errno; close(ls); return -err; }
    {   /* EAGAIN/EADDRNOTAVAIL: ephemeral ports exhausted by TIME_WAIT (load tests): wait */
        int tries = 0, rc;
        while ((rc = connect(c, (struct sockaddr *)&a, sizeof a)) < 0 &&
               (errno == EAGAIN || errno == EADDRNOTAVAIL || errno == EINTR) && ++tries < 300)
            usleep(10000);
        if (rc < 0) { err = errno; close(c); close(ls); return -err; }
    }
    s = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
    err = s < 0 ? errno : 0;
    close(ls);
    if (s < 0) { close(c); return -err; }
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    rd.fd = c; rd.cpu = cpu_read; rd.total = 0;
    {
        int tries = 0, prc;
        while ((prc = pthread_create(&th, NULL, fc_bench_drain, &rd)) == EAGAIN && ++tries < 50)
            usleep(10000);
        if (prc != 0) { close(s); close(c); return -prc; }
    }
    sched_getaffinity(0, sizeof old, &old);
    if (cpu_send >= 0) { CPU_ZERO(&s0); CPU_SET(cpu_send, &s0); sched_setaffinity(0, sizeof s0, &s0); }
    size_t per = hlen + count;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < n && !err; i++) {
        size_t sent = 0;
        while (sent < per) {   /* blocking socket: one call normally sends everything */
            size_t hs = sent < hlen ? sent : hlen, bs = sent - hs;
            ssize_t w = fc_send_response(s, hdr + hs, hlen - hs, file_fd, (off_t)bs, count - bs,
                                         strategy, body ? body + bs : NULL, count - bs);
            if (w <= 0) { err = w < 0 ? (int)-w : EIO; break; }
            sent += (size_t)w;
        }
    }
    shutdown(s, SHUT_WR);
    pthread_join(th, NULL);   /* like sendstrat.c: the clock stops when the reader has all */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    close(s);
    close(c);
    sched_setaffinity(0, sizeof old, &old);
    if (err) return -err;
    *ok = rd.total == (long long)n * (long long)per;
    return ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / (double)n;
}
#endif

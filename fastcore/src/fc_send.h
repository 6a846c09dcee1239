/* fc_send.h - send an HTTP response head + body with few syscalls, no GIL, no Python.
 *
 * Every function returns >= 0 (bytes written) or -errno.  Non-blocking sockets: a call
 * writes what it can; -EAGAIN only when nothing at all was written.  EINTR is retried.
 * A file that ends before offset+count is reported as -FC_ETRUNC (once nothing more can be
 * written), so a truncated file ends the response instead of looping.
 */
#ifndef FC_SEND_H
#define FC_SEND_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "fc_tls.h"   /* a descriptor with a TLS session sends through OpenSSL */

#define FC_S_WRITEV 0
#define FC_S_SENDFILE 1
#define FC_S_CORK 2
#define FC_S_READWRITE 3
#define FC_S_AUTO 4
/* private errno value for "the file is shorter than the range" (ENODATA is not used by
 * send/sendfile/pread on sockets and regular files, so it cannot be confused) */
#define FC_ETRUNC ENODATA
/* auto: bodies up to this size go by one writev from memory / pread; above it by sendfile.
 * Measured on this machine, see docs/bench/send.md. */
#ifndef FC_AUTO_SENDFILE_MIN
#define FC_AUTO_SENDFILE_MIN 16384
#endif
#define FC_RW_BUF 65536

/* sendmsg with MSG_NOSIGNAL (a vectored write that cannot raise SIGPIPE); writev for
 * non-sockets.  One syscall unless EINTR. */
static ssize_t fc_sendv(int fd, struct iovec *iov, int cnt, int more) {
    struct msghdr m;
    ssize_t w;
    memset(&m, 0, sizeof m);
    m.msg_iov = iov;
    m.msg_iovlen = cnt;
    fc_tls_conn *t = fc_tls_of(fd);
    if (t && t->ssl) return fc_tls_sendv(t, iov, cnt);
    for (;;) {
        w = sendmsg(fd, &m, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
        if (w >= 0) return w;
        if (errno == EINTR) continue;
        if (errno == ENOTSOCK) {
            do { w = writev(fd, iov, cnt); } while (w < 0 && errno == EINTR);
            return w < 0 ? -errno : w;
        }
        return -errno;
    }
}

/* Write iov[0..cnt) completely or until EAGAIN/error.  Returns bytes written or -errno
 * when nothing was written. */
static ssize_t fc_sendv_all(int fd, struct iovec *iov, int cnt, int more) {
    size_t done = 0;
    while (cnt > 0) {
        if (iov->iov_len == 0) { iov++; cnt--; continue; }
        ssize_t w = fc_sendv(fd, iov, cnt, more);
        if (w < 0) return done ? (ssize_t)done : w;
        if (w == 0) return done ? (ssize_t)done : -EAGAIN;
        done += (size_t)w;
        while (cnt > 0 && (size_t)w >= iov->iov_len) { w -= (ssize_t)iov->iov_len; iov++; cnt--; }
        if (cnt > 0) { iov->iov_base = (char *)iov->iov_base + w; iov->iov_len -= (size_t)w; }
    }
    return (ssize_t)done;
}

/* sendfile [offset, offset+count) completely or until EAGAIN/error/EOF. */
static ssize_t fc_sendfile_all(int fd, int file_fd, off_t offset, size_t count) {
    size_t done = 0;
    off_t off = offset;
    fc_tls_conn *t = fc_tls_of(fd);
    if (t && t->ssl) return fc_tls_sendfile(t, file_fd, offset, count);
    while (done < count) {
        size_t chunk = count - done;
        if (chunk > 0x7ffff000UL) chunk = 0x7ffff000UL;
        ssize_t w = sendfile(fd, file_fd, &off, chunk);
        if (w < 0) {
            if (errno == EINTR) continue;
            return done ? (ssize_t)done : -errno;
        }
        if (w == 0) return done ? (ssize_t)done : -FC_ETRUNC; /* file ends early */
        done += (size_t)w;
    }
    return (ssize_t)done;
}

static int fc_cork(int fd, int on) {
    /* TCP_CORK; sockets that are not TCP (AF_UNIX) simply go uncorked */
    if (setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on) < 0) return -errno;
    return 0;
}

static ssize_t fc_send_head(int fd, const char *hdr, size_t hlen, int more) {
    struct iovec iov;
    iov.iov_base = (void *)hdr;
    iov.iov_len = hlen;
    return fc_sendv_all(fd, &iov, 1, more);
}

/* header by send(MSG_MORE), then sendfile.  Partial header: return what was sent. */
static ssize_t fc_send_sendfile(int fd, const char *hdr, size_t hlen, int file_fd, off_t offset,
                                size_t count) {
    ssize_t h = 0, b;
    if (hlen) {
        h = fc_send_head(fd, hdr, hlen, count > 0);
        if (h < 0 || (size_t)h < hlen) return h;
    }
    if (!count) return h;
    b = fc_sendfile_all(fd, file_fd, offset, count);
    if (b < 0) return h ? h : b;
    return h + b;
}

static ssize_t fc_send_cork(int fd, const char *hdr, size_t hlen, int file_fd, off_t offset,
                            size_t count) {
    int corked = fc_cork(fd, 1) == 0;
    ssize_t h = 0, b = 0;
    if (hlen) h = fc_send_head(fd, hdr, hlen, 0);
    if (h >= 0 && (size_t)h == hlen && count) {
        b = fc_sendfile_all(fd, file_fd, offset, count);
        if (b < 0) {
            if (h == 0) h = b;
            b = 0;
        }
    }
    if (corked) fc_cork(fd, 0); /* always uncork: queued bytes must leave even on EAGAIN */
    return h < 0 ? h : h + b;
}

/* mmap the file range and send header + mapping in one vectored write.  A file truncated
 * meanwhile makes the kernel's copy fault: the write is short or fails with EFAULT, which is
 * reported as truncation; user space never touches the mapping, so no SIGBUS. */
static ssize_t fc_send_mmap(int fd, const char *hdr, size_t hlen, int file_fd, off_t offset,
                            size_t count) {
    struct iovec iov[2];
    long page = sysconf(_SC_PAGESIZE);
    off_t base = offset - (offset % page);
    size_t delta = (size_t)(offset - base);
    void *m;
    ssize_t w;
    if (!count) return fc_send_head(fd, hdr, hlen, 0);
    m = mmap(NULL, count + delta, PROT_READ, MAP_SHARED, file_fd, base);
    if (m == MAP_FAILED) return -errno;
    iov[0].iov_base = (void *)hdr;
    iov[0].iov_len = hlen;
    iov[1].iov_base = (char *)m + delta;
    iov[1].iov_len = count;
    w = fc_sendv_all(fd, iov, 2, 0);
    munmap(m, count + delta);
    if (w == -EFAULT) w = -FC_ETRUNC;
    return w;
}

/* pread into a buffer, then header + buffer in one vectored write; repeat for big ranges. */
static ssize_t fc_send_readwrite(int fd, const char *hdr, size_t hlen, int file_fd, off_t offset,
                                 size_t count) {
    char buf[FC_RW_BUF];
    struct iovec iov[2];
    size_t done = 0, body = 0;
    int first = 1;
    if (!count) return fc_send_head(fd, hdr, hlen, 0);
    while (body < count) {
        size_t want = count - body;
        ssize_t r, w, expect;
        if (want > sizeof buf) want = sizeof buf;
        do { r = pread(file_fd, buf, want, offset + (off_t)body); } while (r < 0 && errno == EINTR);
        if (r < 0) return done ? (ssize_t)done : -errno;
        if (r == 0) {
            if (first && hlen) { /* send the header anyway, then report truncation next call */
                w = fc_send_head(fd, hdr, hlen, 0);
                return w;
            }
            return done ? (ssize_t)done : -FC_ETRUNC;
        }
        iov[0].iov_base = (void *)hdr;
        iov[0].iov_len = first ? hlen : 0;
        iov[1].iov_base = buf;
        iov[1].iov_len = (size_t)r;
        expect = (ssize_t)(iov[0].iov_len + (size_t)r);
        w = fc_sendv_all(fd, iov, 2, 0);
        if (w < 0) return done ? (ssize_t)done : w;
        done += (size_t)w;
        if (w < expect) return (ssize_t)done;
        body += (size_t)r;
        first = 0;
    }
    return (ssize_t)done;
}

/* The entry point.  body != NULL: the body is in memory (count ignored, blen used) and one
 * vectored write carries header + body whatever the strategy (one syscall is the minimum).
 * Otherwise the file range [offset, offset+count) is sent by the strategy. */
static ssize_t fc_send_response(int fd, const char *hdr, size_t hlen, int file_fd, off_t offset,
                                size_t count, int strategy, const char *body, size_t blen) {
    if (body) {
        struct iovec iov[2];
        iov[0].iov_base = (void *)hdr;
        iov[0].iov_len = hlen;
        iov[1].iov_base = (void *)body;
        iov[1].iov_len = blen;
        return fc_sendv_all(fd, iov, 2, 0);
    }
    if (strategy == FC_S_AUTO)
        strategy = count >= FC_AUTO_SENDFILE_MIN ? FC_S_SENDFILE : FC_S_READWRITE;
    switch (strategy) {
    case FC_S_WRITEV: return fc_send_mmap(fd, hdr, hlen, file_fd, offset, count);
    case FC_S_SENDFILE: return fc_send_sendfile(fd, hdr, hlen, file_fd, offset, count);
    case FC_S_CORK: return fc_send_cork(fd, hdr, hlen, file_fd, offset, count);
    case FC_S_READWRITE: return fc_send_readwrite(fd, hdr, hlen, file_fd, offset, count);
    default: return -EINVAL;
    }
}

/* Apache 2.4's lingering close: shutdown(SHUT_WR), then read and discard while the client
 * keeps sending, each wait at most `wait_ms` (SECONDS_TO_LINGER = 2 s), the whole drain at
 * most `max_ms` (MAX_SECS_TO_LINGER = 30 s) from the first data read; then close.
 * Returns 0 or -errno of close(). */
static long long fc_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fc_lingering_close(int fd, int wait_ms, int max_ms) {
    char buf[2048];
    long long deadline = 0;
    fc_tls_shutdown(fd);  /* close_notify first, as mod_ssl */
    fc_tls_forget(fd);
    if (shutdown(fd, SHUT_WR) == 0) {
        for (;;) {
            struct pollfd p;
            int left = wait_ms, rc;
            ssize_t r;
            if (deadline) {
                long long rem = deadline - fc_now_ms();
                if (rem <= 0) break;
                if (rem < left) left = (int)rem;
            }
            p.fd = fd;
            p.events = POLLIN;
            p.revents = 0;
            rc = poll(&p, 1, left);
            if (rc < 0) { if (errno == EINTR) continue; break; }
            if (rc == 0) break; /* quiet for wait_ms: give up */
            r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (r < 0) {
                if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
                break; /* ECONNRESET etc. */
            }
            if (r == 0) break; /* EOF: the client closed too */
            if (!deadline) deadline = fc_now_ms() + max_ms;
        }
    }
    /* shutdown failing (ENOTCONN: the peer is gone) still ends with close */
    if (close(fd) < 0 && errno != EINTR) return -errno;
    return 0;
}

/* RFC 7231 IMF-fixdate, 29 bytes + NUL. */
static const char fc_wday[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char fc_mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int fc_http_date(int64_t t, char *out) {
    struct tm tm;
    time_t tt = (time_t)t;
    if (!gmtime_r(&tt, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) return -EOVERFLOW;
    out[0] = fc_wday[tm.tm_wday][0]; out[1] = fc_wday[tm.tm_wday][1]; out[2] = fc_wday[tm.tm_wday][2];
    out[3] = ','; out[4] = ' ';
    out[5] = (char)('0' + tm.tm_mday / 10); out[6] = (char)('0' + tm.tm_mday % 10); out[7] = ' ';
    memcpy(out + 8, fc_mon[tm.tm_mon], 3); out[11] = ' ';
    int y = tm.tm_year + 1900;
    out[12] = (char)('0' + y / 1000); out[13] = (char)('0' + y / 100 % 10);
    out[14] = (char)('0' + y / 10 % 10); out[15] = (char)('0' + y % 10); out[16] = ' ';
    out[17] = (char)('0' + tm.tm_hour / 10); out[18] = (char)('0' + tm.tm_hour % 10); out[19] = ':';
    out[20] = (char)('0' + tm.tm_min / 10); out[21] = (char)('0' + tm.tm_min % 10); out[22] = ':';
    out[23] = (char)('0' + tm.tm_sec / 10); out[24] = (char)('0' + tm.tm_sec % 10);
    memcpy(out + 25, " GMT", 5);
    return 29;
}

/* "Date: <IMF-fixdate>\r\n" (37 bytes), rebuilt at most once per second per thread.
 * time() is a vDSO call (no syscall). */
static __thread int64_t fc_date_sec = -1;
static __thread char fc_date_buf[40];

static const char *fc_date_header(size_t *len) {
    int64_t now = (int64_t)time(NULL);
    if (now != fc_date_sec) {
        memcpy(fc_date_buf, "Date: ", 6);
        fc_http_date(now, fc_date_buf + 6);
        fc_date_buf[35] = '\r';
        fc_date_buf[36] = '\n';
        fc_date_buf[37] = 0;
        fc_date_sec = now;
    }
    *len = 37;
    return fc_date_buf;
}
#endif

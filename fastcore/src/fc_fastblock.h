/* fc_fastblock.h - the engine's keep-alive loop for a blocking connection (prefork and
 * worker children): socket timeouts instead of poll(), the same fc_serve underneath.
 * Included by fc_fast.h, after the connection functions it drives. */
#ifndef FC_FASTBLOCK_H
#define FC_FASTBLOCK_H

static int fc_set_timeo(int fd, int opt, double sec) {
    struct timeval tv;
    if (sec < 0) sec = 0;
    tv.tv_sec = (time_t)sec;
    tv.tv_usec = (suseconds_t)((sec - (double)tv.tv_sec) * 1e6);
    if (tv.tv_sec == 0 && tv.tv_usec == 0) tv.tv_usec = 1000;  /* 0 would mean "forever" */
    return setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv) < 0 ? -errno : 0;
}
static int fc_set_rcvtimeo(int fd, double sec) { return fc_set_timeo(fd, SO_RCVTIMEO, sec); }
static int fc_set_sndtimeo(int fd, double sec) { return fc_set_timeo(fd, SO_SNDTIMEO, sec); }

/* prefork/worker: the keep-alive loop of a blocking connection without poll(): each read
 * waits at most Timeout (first request) or KeepAliveTimeout (SO_RCVTIMEO).  Returns
 * FC_TIMEOUT when the wait ran out, FC_WANT_READ when a partial head is buffered (the
 * Python path takes it with its own limits), or what fc_serve returned. */
static int fc_serve_blocking(fc_fcache *c, fc_fconn *k, double first_wait) {
    double cur = -1.0, want = first_wait;
    for (;;) {
        if (want != cur) {
            if (fc_set_rcvtimeo(k->fd, want) < 0) return FC_FALLBACK;
            cur = want;
        }
        k->timed_out = 0;
        int rc = fc_serve(c, k);
        if (rc != FC_WANT_READ) return rc;
        if (k->len) return FC_WANT_READ;
        if (k->timed_out) return FC_TIMEOUT;
        want = k->requests ? k->ka_timeout : k->timeout;
    }
}

#endif /* FC_FASTBLOCK_H */

/* fc_tlsstage.h - RequestReadTimeout's handshake stage for the TLS layer (fc_tls.h).
 *
 * mod_reqtimeout's input filter sits below mod_ssl's, so in Apache every read of the
 * handshake is timed by the handshake= stage: a deadline from the start of the
 * handshake, moved on by MinRate per byte up to the stage's maximum.  Here the stage is
 * a callback on the session's socket BIO (every read, whichever loop drives it: the event
 * loop, a blocking prefork/worker read, the Python path) plus the waits of the loops,
 * which ask fc_tls_first_deadline / fc_tls_hs_left.  Included by fc_tls.h only.
 */
#ifndef FC_TLSSTAGE_H
#define FC_TLSSTAGE_H

static inline int64_t fc_tls_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The socket BIO's callback while a handshake stage runs: every read of the handshake is
 * refused once the deadline has passed (ETIMEDOUT: SSL_read fails, the connection
 * closes without an answer, as Apache's APR_TIMEUP), a blocking read waits no longer
 * than what is left, and the bytes read move the deadline on by MinRate. */
static long fc_tls_hs_cb(BIO *b, int oper, const char *argp, size_t len, int argi,
                         long argl, int ret, size_t *processed) {
    (void)argp; (void)len; (void)argi; (void)argl;
    fc_tls_conn *c = (fc_tls_conn *)BIO_get_callback_arg(b);
    if (!c || !c->hs_at) return ret;
    if (oper == BIO_CB_READ) {
        int64_t left = c->hs_at - fc_tls_now_ms();
        if (left <= 0) { BIO_clear_retry_flags(b); errno = ETIMEDOUT; return -1; }
        int fd = -1;
        if (c->hs_block < 0) {
            fd = (int)BIO_get_fd(b, NULL);
            int fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
            c->hs_block = fl >= 0 && !(fl & O_NONBLOCK);
        }
        if (c->hs_block) {  /* prefork/worker: bound the blocking recv by what is left */
            if (fd < 0) fd = (int)BIO_get_fd(b, NULL);
            socklen_t sl = sizeof c->hs_saved;
            if (!c->hs_timeo) {
                if (getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &c->hs_saved, &sl) < 0) return ret;
                c->hs_timeo = 1;
            }
            /* the lesser of what is left and the socket's own timeout (MinRate may have
             * moved the deadline past a value an earlier read set) */
            int64_t saved = (int64_t)c->hs_saved.tv_sec * 1000 + c->hs_saved.tv_usec / 1000;
            struct timeval tv = { (time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000 };
            if (saved && saved <= left) tv = c->hs_saved;
            /* a refusal leaves the socket's own timeout: the deadline is still checked
             * before every read */
            (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        }
    } else if (oper == (BIO_CB_READ | BIO_CB_RETURN) && ret > 0 && c->hs_rate && processed) {
        int64_t t = c->hs_at + (int64_t)(*processed * 1000 / (size_t)c->hs_rate);
        c->hs_at = c->hs_cap && t > c->hs_cap ? c->hs_cap : t;
    }
    return ret;
}

/* The handshake completed: its stage ends (the socket's own timeout back).  Only a
 * connection that had a stage restarts the header stage from here (hs_end). */
static void fc_tls_hs_end(fc_tls_conn *c) {
    if (!c->hs_at) return;
    c->hs_end = fc_tls_now_ms();
    c->hs_at = 0;
    BIO *b = SSL_get_rbio(c->ssl);
    if (!b) return;
    BIO_set_callback_ex(b, NULL);
    if (c->hs_timeo) {
        int fd = (int)BIO_get_fd(b, NULL);
        /* cannot fail on a live socket; if it did, a read timing out early goes to the
         * holder, which waits with the connection's own limits */
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &c->hs_saved, sizeof c->hs_saved);
        c->hs_timeo = 0;
    }
}

/* Where a loop's wait for a new connection's first request ends, when the listener has a
 * handshake stage: while the handshake runs, its deadline (and Timeout per read), after
 * it the header stage counted from the handshake's end (mod_reqtimeout's
 * reqtimeout_before_header).  1 and *at set, or 0: no stage, the loop's own rule holds. */
static int fc_tls_first_deadline(int fd, int64_t now, int64_t timeout_ms, int64_t header_ms,
                                 int64_t *at) {
    fc_tls_conn *c = fc_tls_of(fd);
    if (!c || !c->ssl) return 0;
    if (!(c->flags & FC_TLS_DONE)) {
        if (!c->hs_at) return 0;
        *at = c->hs_at < now + timeout_ms ? c->hs_at : now + timeout_ms;
        return 1;
    }
    if (!c->hs_end || header_ms <= 0) return 0;
    *at = c->hs_end + header_ms;
    return 1;
}

/* Seconds left of fd's handshake stage (the Python path's waits), or -1: none runs. */
static double fc_tls_hs_left(int fd) {
    fc_tls_conn *c = fc_tls_of(fd);
    if (!c || !c->ssl || (c->flags & FC_TLS_DONE) || !c->hs_at) return -1.0;
    int64_t left = c->hs_at - fc_tls_now_ms();
    return left > 0 ? (double)left / 1000.0 : 0.0;
}

#endif /* FC_TLSSTAGE_H */

/* fc_tls.h - mod_ssl's TLS layer: OpenSSL driven by the C engine, without the GIL.
 *
 * One process-wide table, indexed by file descriptor, says which connections speak TLS
 * (fc_tls_tab: allocated once by fastcore._tls, its address handed to every extension
 * that does connection I/O, since each .so has its own copy of these statics).  The I/O
 * primitives of the engine and of the Python path go through the shims below: a
 * descriptor without a TLS session costs one table load and does plain read/sendmsg/
 * sendfile; with one, SSL_read/SSL_write on the non-blocking (or SO_RCVTIMEO-blocking)
 * socket, the handshake driven by the first read.  A listener bound to a context makes
 * every connection accepted on it a TLS connection (fc_tls_accepted), whoever accepts.
 *
 * SNI: the listener's candidate names (ServerName/ServerAlias of the vhosts on that
 * address, in order, each with its vhost's context) are matched case-insensitively,
 * wildcards by fnmatch, as mod_ssl's ssl_find_vhost; no match keeps the default (the
 * first vhost on the address).
 *
 * Plain HTTP on a TLS port: OpenSSL reports SSL_R_HTTP_REQUEST; like mod_ssl the
 * connection drops TLS and reads as the request line "GET / HTTP/1.0" (FC_TLS_PLAIN
 * flag), which the request path answers 400 in clear text.
 *
 * kTLS (a context built with SSL_OP_ENABLE_KTLS: the kernel's tls module was loaded when
 * the parent built it, or SSLOpenSSLConfCmd Options KTLS): once the handshake hands the
 * sending keys to the kernel, a file body leaves by SSL_sendfile (sendfile(2), encrypted
 * in the kernel) and SSL_write passes plaintext to the kernel.  Receiving stays in OpenSSL
 * (fc_tls_ktls_msg).
 */
#ifndef FC_TLS_H
#define FC_TLS_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fnmatch.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define FC_TLS_PLAIN 1        /* the client spoke plain HTTP: answer 400 in clear */
#define FC_TLS_DONE 2         /* handshake completed */
#define FC_TLS_FLIGHT 4       /* the handshake has waited for the client once (our flight sent) */
#define FC_TLS_CORK 8         /* TCP_CORK set for this engine turn (fc_tls_cork_turn) */
#define FC_TLS_SNI_MAX 256
#define FC_TLS_RECORD 16384
#define FC_TLS_FAKE_REQ "GET / HTTP/1.0\r\n\r\n"

typedef struct {
    char *name;               /* lower-case; may hold * and ? */
    int wild;
    SSL_CTX *ctx;
    int vhost;                /* index of the vhost the name selects (for the request path) */
} fc_tls_name;

typedef struct {
    SSL_CTX *ctx;             /* the address's default (first vhost's) context */
    int vhost;
    int hs_ms, hs_max_ms, hs_rate;  /* RequestReadTimeout handshake= of that vhost (0: none) */
    int n;
    fc_tls_name names[FC_TLS_SNI_MAX];
} fc_tls_listen;

typedef struct {
    SSL *ssl;
    int flags;
    int vhost;                /* the vhost SNI selected (or the default's), -1: none */
    const unsigned char *fake; size_t fakelen;  /* FC_TLS_PLAIN: the request line left */
    /* RequestReadTimeout's handshake stage (mod_reqtimeout's reqtimeout_filter sits below
     * mod_ssl, so it times every read of the handshake): monotonic ms */
    int64_t hs_at;            /* the deadline; 0: no stage */
    int64_t hs_cap;           /* MinRate's extensions stop here (0: no maximum) */
    int64_t hs_end;           /* when the handshake completed (the header stage starts) */
    int hs_rate;              /* MinRate, bytes/s (0: no extension) */
    int hs_block;             /* -1 not known yet, 1 a blocking socket (SO_RCVTIMEO) */
    int hs_timeo;             /* SO_RCVTIMEO lowered: hs_saved is what to restore */
    struct timeval hs_saved;
    unsigned char *kbuf;      /* kTLS: the record SSL_write is sending (fc_tls_write) */
} fc_tls_conn;

typedef struct {
    int cap;
    fc_tls_conn *conns;       /* by connection fd */
    fc_tls_listen **listen;   /* by listener fd */
    int ex_idx;               /* SSL ex_data index of the fc_tls_listen */
    int nlisten;              /* bound listeners (0: no TLS in this configuration) */
} fc_tls_tab;

static fc_tls_tab *fc_tls_g = NULL;

static inline fc_tls_conn *fc_tls_of(int fd) {
    fc_tls_tab *t = fc_tls_g;
    if (!t || fd < 0 || fd >= t->cap) return NULL;
    fc_tls_conn *c = &t->conns[fd];
    return (c->ssl || c->flags) ? c : NULL;
}

/* The engine turn that finishes a handshake writes the session tickets, then usually the
 * answer to the request that came with the client's Finished, then maybe close_notify:
 * three or four small writes, each its own packet under TCP_NODELAY and each a wake-up of
 * the client.  While fc_tls_turn is set (the engine's fc_serve, never the Python path), a
 * read that may finish the handshake corks the socket first; fc_tls_uncork at the end of
 * the turn (or the FIN of a close) sends it all as one packet. */
static __thread int fc_tls_turn = 0;

static inline void fc_tls_cork_turn(fc_tls_conn *c, int fd) {
    if (!fc_tls_turn || (c->flags & (FC_TLS_DONE | FC_TLS_CORK)) != 0 || !(c->flags & FC_TLS_FLIGHT))
        return;
    int on = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on) == 0) c->flags |= FC_TLS_CORK;
}

/* push: send what the cork holds (0 when a shutdown's FIN or a close has sent it). */
static inline void fc_tls_uncork(int fd, int push) {
    fc_tls_conn *c = fc_tls_of(fd);
    if (!c || !(c->flags & FC_TLS_CORK)) return;
    c->flags &= ~FC_TLS_CORK;
    int off = 0;
    if (push) (void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &off, sizeof off);  /* best effort:
        a socket the peer reset has nothing left to send */
}

/* The error queue of this thread as one line (the startup errors, the error log). */
static void fc_tls_errtext(char *out, size_t cap) {
    unsigned long e;
    size_t len = 0;
    out[0] = 0;
    while ((e = ERR_get_error()) != 0) {
        char one[256];
        ERR_error_string_n(e, one, sizeof one);
        size_t l = strlen(one);
        if (len && len + 2 < cap) { out[len++] = ';'; out[len++] = ' '; }
        if (len + l >= cap) l = cap - len - 1;
        memcpy(out + len, one, l);
        len += l;
        out[len] = 0;
        if (len + 1 >= cap) break;
    }
}

/* ---------------------------------------------------------------- kTLS */
/* Was this libssl built with kTLS (else SSL_OP_ENABLE_KTLS changes nothing)? */
static int fc_tls_ktls_built(void) {
#ifdef OPENSSL_NO_KTLS
    return 0;
#else
    return 1;
#endif
}

/* kTLS for sending only.  OpenSSL offloads a direction when that direction's keys change
 * with SSL_OP_ENABLE_KTLS set on the session: 3.0 does the sending side of TLS 1.2 and 1.3
 * and the receiving side of TLS 1.2 (later versions TLS 1.3's too).  Receiving is left to
 * OpenSSL: read-ahead, fc_io_pending and the plain-HTTP detection are what the engine was
 * built and tested with, and a static server's requests are small.  The message callback
 * runs as each handshake message is read (before OpenSSL processes it) or written (after
 * it is queued, before the state that follows it), so the option is
 *  - cleared when the client's ClientKeyExchange arrives: a full TLS 1.2 handshake changes
 *    the read keys at the client's ChangeCipherSpec, which follows it;
 *  - set when our ChangeCipherSpec is written: TLS 1.2's write keys change right after;
 *  - cleared when our TLS 1.2 Finished is written: an abbreviated (resumed) handshake
 *    changes the read keys after it;
 *  - cleared when the client's Finished arrives: TLS 1.3 changes the read keys after
 *    processing it (its write keys changed after our Finished, before the client's
 *    second flight is read, so that one is left alone).
 * Checked by strace in tests/integration/test_ktls.py: one TLS_TX attempt a connection
 * and no TLS_RX, TLS 1.2 and 1.3. */
static void fc_tls_ktls_msg(int write_p, int version, int content_type, const void *buf,
                            size_t len, SSL *ssl, void *arg) {
    (void)version; (void)arg;
    if (content_type == SSL3_RT_CHANGE_CIPHER_SPEC) {
        if (write_p && (SSL_CTX_get_options(SSL_get_SSL_CTX(ssl)) & SSL_OP_ENABLE_KTLS))
            SSL_set_options(ssl, SSL_OP_ENABLE_KTLS);
        return;
    }
    if (content_type != SSL3_RT_HANDSHAKE || len < 1) return;
    int mt = ((const unsigned char *)buf)[0];
    if (write_p ? (mt == SSL3_MT_FINISHED && SSL_version(ssl) != TLS1_3_VERSION)
                : (mt == SSL3_MT_CLIENT_KEY_EXCHANGE || mt == SSL3_MT_FINISHED))
        SSL_clear_options(ssl, SSL_OP_ENABLE_KTLS);
}

/* The session's kTLS as ctx has it: the option and the callback that keeps receiving in
 * OpenSSL.  At context build (after SSLOpenSSLConfCmd, which may have set or cleared the
 * option) and when SNI moves a session to another vhost's context (SSL_set_options only
 * adds options, and SSL_set_SSL_CTX keeps the first context's callback). */
static void fc_tls_ktls_ctx(SSL_CTX *ctx) {
    SSL_CTX_set_msg_callback(ctx, (SSL_CTX_get_options(ctx) & SSL_OP_ENABLE_KTLS)
                             ? fc_tls_ktls_msg : NULL);
}

static void fc_tls_ktls_follow(SSL *ssl, SSL_CTX *ctx) {
    if (SSL_CTX_get_options(ctx) & SSL_OP_ENABLE_KTLS) {
        SSL_set_options(ssl, SSL_OP_ENABLE_KTLS);
        SSL_set_msg_callback(ssl, fc_tls_ktls_msg);
    } else {
        SSL_clear_options(ssl, SSL_OP_ENABLE_KTLS);
        SSL_set_msg_callback(ssl, NULL);
    }
}

/* Certificate chains.  With no chain configured, OpenSSL builds one from the context's
 * trust stores at every handshake (X509_verify_cert on the leaf: a store context, locks,
 * lookups).  When those stores are empty it can only ever find the leaf itself, which is
 * what is sent without the search, so the search is turned off for that context alone: the
 * Certificate message stays what Apache sends (whose OpenSSL searches the same empty
 * store), and a context with SSLCACertificateFile/Path or an SSLOpenSSLConfCmd chain store
 * keeps OpenSSL's auto-chain, CA certificates appended, as with Apache. */
static void fc_tls_chain_ctx(SSL_CTX *ctx) {
    X509_STORE *chain = NULL, *trust = SSL_CTX_get_cert_store(ctx);
    SSL_CTX_get0_chain_cert_store(ctx, &chain);
    int empty = (!trust || sk_X509_OBJECT_num(X509_STORE_get0_objects(trust)) <= 0)
                && (!chain || sk_X509_OBJECT_num(X509_STORE_get0_objects(chain)) <= 0);
    if (empty) SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
    else SSL_CTX_clear_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
}

/* A session moved to another vhost's context by SNI: SSL_new copied the first context's
 * mode, SSL_set_SSL_CTX does not, and auto-chain reads the session's. */
static void fc_tls_chain_follow(SSL *ssl, SSL_CTX *ctx) {
    if (SSL_CTX_get_mode(ctx) & SSL_MODE_NO_AUTO_CHAIN) SSL_set_mode(ssl, SSL_MODE_NO_AUTO_CHAIN);
    else SSL_clear_mode(ssl, SSL_MODE_NO_AUTO_CHAIN);
}

/* ---------------------------------------------------------------- SNI */
/* The vhost for a SNI name on the connection's address: the context switch is made in
 * the ClientHello callback, before the protocol version is chosen, so a vhost's own
 * SSLProtocol, ciphers and verification apply (mod_ssl's ssl_callback_ClientHello). */
static void fc_tls_pick(SSL *ssl, fc_tls_listen *L, const char *sn, size_t n) {
    char low[256];
    if (n == 0 || n >= sizeof low) return;
    for (size_t i = 0; i < n; i++) low[i] = (char)((sn[i] >= 'A' && sn[i] <= 'Z') ? sn[i] + 32 : sn[i]);
    low[n] = 0;
    for (int i = 0; i < L->n; i++) {
        fc_tls_name *nm = &L->names[i];
        int hit = nm->wild ? fnmatch(nm->name, low, 0) == 0 : strcmp(nm->name, low) == 0;
        if (!hit) continue;
        if (nm->ctx != SSL_get_SSL_CTX(ssl)) {
            SSL_set_SSL_CTX(ssl, nm->ctx);
            /* what SSL_set_SSL_CTX does not carry over (as ssl_find_vhost) */
            SSL_set_options(ssl, SSL_CTX_get_options(nm->ctx));
            SSL_set_min_proto_version(ssl, SSL_CTX_get_min_proto_version(nm->ctx));
            SSL_set_max_proto_version(ssl, SSL_CTX_get_max_proto_version(nm->ctx));
            SSL_set_verify(ssl, SSL_CTX_get_verify_mode(nm->ctx),
                           SSL_CTX_get_verify_callback(nm->ctx));
            SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(nm->ctx));
            fc_tls_ktls_follow(ssl, nm->ctx);
            fc_tls_chain_follow(ssl, nm->ctx);
        }
        fc_tls_tab *t = fc_tls_g;
        int fd = SSL_get_fd(ssl);
        if (t && fd >= 0 && fd < t->cap) t->conns[fd].vhost = nm->vhost;
        return;
    }
}

/* The host name of a server_name extension's body (RFC 6066 ServerNameList: its length,
 * then type host_name, a length and the name), bounds-checked against len: 1 and
 * the name and its length set, or 0 (no usable name; the default vhost answers).  Client bytes:
 * fuzz/tls_hello.c. */
static int fc_tls_sni_host(const unsigned char *p, size_t len, const char **name,
                           size_t *n) {
    if (len < 5) return 0;
    size_t list = ((size_t)p[0] << 8) | p[1];
    if (list + 2 > len || list < 3 || p[2] != TLSEXT_NAMETYPE_host_name) return 0;
    size_t k = ((size_t)p[3] << 8) | p[4];
    if (k == 0 || k + 3 > list) return 0;
    *name = (const char *)p + 5;
    *n = k;
    return 1;
}

static int fc_tls_hello_cb(SSL *ssl, int *alert, void *arg) {
    (void)alert; (void)arg;
    fc_tls_tab *t = fc_tls_g;
    const unsigned char *p;
    size_t len, n;
    const char *name;
    if (!t) return SSL_CLIENT_HELLO_SUCCESS;
    fc_tls_listen *L = (fc_tls_listen *)SSL_get_ex_data(ssl, t->ex_idx);
    if (L && SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) &&
            fc_tls_sni_host(p, len, &name, &n))
        fc_tls_pick(ssl, L, name, n);
    return SSL_CLIENT_HELLO_SUCCESS;
}

/* ALPN, as mod_ssl's ssl_callback_alpn_select with only HTTP/1.1 spoken: http/1.1 is
 * selected when the client offers it, and also when it does not (Apache answers with the
 * connection's current protocol then, and such a client aborts the handshake).  HTTP/2
 * would be chosen here once the engine speaks it. */
static const unsigned char fc_tls_h11[] = "http/1.1";
static int fc_tls_alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                          const unsigned char *in, unsigned int inlen, void *arg) {
    (void)ssl; (void)arg;
    for (unsigned int i = 0; i < inlen;) {
        unsigned int n = in[i];
        if (i + 1 + n > inlen) break;
        if (n == 8 && memcmp(in + i + 1, fc_tls_h11, 8) == 0) {
            *out = in + i + 1; *outlen = 8;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + n;
    }
    *out = fc_tls_h11; *outlen = 8;
    return SSL_TLSEXT_ERR_OK;
}

#include "fc_tlsstage.h"

/* ---------------------------------------------------------------- accept / close */
/* A connection accepted on listener lfd: a TLS session when the listener is bound.
 * Always resets the descriptor's entry (a number reused after a close elsewhere).
 * 0, or -1 when the connection must be closed (no memory, fd beyond the table). */
static int fc_tls_accepted(int lfd, int fd) {
    fc_tls_tab *t = fc_tls_g;
    if (!t || !t->nlisten) return 0;
    fc_tls_listen *L = (lfd >= 0 && lfd < t->cap) ? t->listen[lfd] : NULL;
    if (fd < 0 || fd >= t->cap) return L ? -1 : 0;
    fc_tls_conn *c = &t->conns[fd];
    if (c->ssl) { SSL_free(c->ssl); }
    free(c->kbuf);
    memset(c, 0, sizeof *c);
    c->vhost = -1;
    if (!L) return 0;
    SSL *ssl = SSL_new(L->ctx);
    if (!ssl) { ERR_clear_error(); return -1; }
    if (!SSL_set_fd(ssl, fd)) { SSL_free(ssl); ERR_clear_error(); return -1; }
    SSL_set_ex_data(ssl, t->ex_idx, L);
    SSL_set_accept_state(ssl);
    /* Nagle off, as Apache's core for every connection: the handshake's last flight and
     * the session tickets are small writes, and a response after them would wait for the
     * client's delayed ACK (40 ms) */
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->ssl = ssl;
    c->vhost = L->vhost;
    c->hs_block = -1;
    if (L->hs_ms > 0) {
        int64_t now = fc_tls_now_ms();
        c->hs_at = now + L->hs_ms;
        c->hs_cap = L->hs_max_ms > 0 ? now + L->hs_max_ms : 0;
        c->hs_rate = L->hs_rate;
        BIO *b = SSL_get_rbio(ssl);
        BIO_set_callback_arg(b, (char *)c);
        BIO_set_callback_ex(b, fc_tls_hs_cb);
    }
    return 0;
}

/* Forget fd's session before the descriptor is closed (a number closed first could be
 * reused by another thread's accept before the entry is cleared). */
static void fc_tls_forget(int fd) {
    fc_tls_tab *t = fc_tls_g;
    if (!t || fd < 0 || fd >= t->cap) return;
    fc_tls_conn *c = &t->conns[fd];
    if (c->ssl) {
        /* a completed session stays resumable however the connection ended (OpenSSL
         * drops the session of a connection freed without a shutdown; mod_ssl marks it
         * shut down too when it does not wait for the client's close_notify) */
        if (c->flags & FC_TLS_DONE)
            SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        SSL_free(c->ssl);
    }
    free(c->kbuf);  /* after SSL_free: nothing of OpenSSL's points at it any more */
    memset(c, 0, sizeof *c);
}

/* close_notify before a close, as mod_ssl's ssl_filter_io_shutdown (no wait for the
 * client's: SSL_shutdown once, non-blocking). */
static void fc_tls_shutdown(int fd) {
    fc_tls_conn *c = fc_tls_of(fd);
    if (!c || !c->ssl || !(c->flags & FC_TLS_DONE)) return;
    SSL_set_quiet_shutdown(c->ssl, 0);
    if (SSL_shutdown(c->ssl) < 0) ERR_clear_error();
}

/* The client ended the session (close_notify, or an EOF OpenSSL reads as one). */
static inline int fc_tls_peer_shut(int fd) {
    fc_tls_conn *c = fc_tls_of(fd);
    return c && c->ssl && (SSL_get_shutdown(c->ssl) & SSL_RECEIVED_SHUTDOWN);
}

/* May a cache hit answer this request on this connection?  A plain connection, or a TLS
 * one whose SNI name (if any) is the Host's name (port aside, any case); a client that
 * spoke plain HTTP to the TLS port, a missing Host or another name goes to the Python
 * path, which makes mod_ssl's decision (400, 421 or the other vhost's answer). */
static int fc_tls_host_ok(int fd, int has_host, const char *host, size_t hl) {
    fc_tls_conn *c = fc_tls_of(fd);
    if (!c) return 1;
    if (!c->ssl) return 0;
    const char *sn = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
    if (!sn) return 1;
    if (!has_host) return 0;
    size_t n = hl;
    if (n && host[0] != '[') {
        for (size_t i = 0; i < hl; i++) if (host[i] == ':') { n = i; break; }
    } else {
        return 0;  /* an IPv6 literal is never an SNI name */
    }
    return strlen(sn) == n && strncasecmp(sn, host, n) == 0;
}

/* ---------------------------------------------------------------- I/O shims */
/* read(): >0 bytes, 0 EOF, -1 with errno (EAGAIN: nothing yet, handshake included). */
static ssize_t fc_io_read(int fd, void *buf, size_t n) {
    fc_tls_conn *c = fc_tls_of(fd);
    ssize_t r;
    if (!c) {
        do { r = read(fd, buf, n); } while (r < 0 && errno == EINTR);
        return r;
    }
    if (c->flags & FC_TLS_PLAIN) {
        if (c->fakelen) {  /* the request line mod_ssl substitutes */
            size_t m = n < c->fakelen ? n : c->fakelen;
            memcpy(buf, c->fake, m);
            c->fake += m; c->fakelen -= m;
            return (ssize_t)m;
        }
        do { r = read(fd, buf, n); } while (r < 0 && errno == EINTR);
        return r;
    }
    if (n > INT32_MAX) n = INT32_MAX;
    fc_tls_cork_turn(c, fd);
    for (int spins = 0;; spins++) {
        ERR_clear_error();
        errno = 0;
        int got = SSL_read(c->ssl, buf, (int)n);
        if (!(c->flags & FC_TLS_DONE) && (got > 0 || SSL_is_init_finished(c->ssl))) {
            c->flags |= FC_TLS_DONE;
            fc_tls_hs_end(c);
        }
        if (got > 0) return got;
        int err = SSL_get_error(c->ssl, got);
        switch (err) {
        case SSL_ERROR_WANT_READ:
            /* a signal (or strace attaching) cut a blocking read short: SO_RCVTIMEO makes
             * it EINTR instead of a restart; read again, as the plain path does */
            if (errno == EINTR) continue;
            if (!(c->flags & FC_TLS_DONE)) c->flags |= FC_TLS_FLIGHT;
            errno = EAGAIN;
            return -1;
        case SSL_ERROR_WANT_WRITE: {
            /* handshake bytes wait for room: rare (an empty send buffer takes a whole
             * flight); wait for it briefly rather than sleep on a readable event */
            struct pollfd p = { fd, POLLOUT, 0 };
            if (spins > 50 || poll(&p, 1, 100) <= 0) { errno = EAGAIN; return -1; }
            continue;
        }
        case SSL_ERROR_ZERO_RETURN:
            return 0;  /* close_notify */
        case SSL_ERROR_SYSCALL:
            if (errno == EINTR) continue;
            if (errno == 0 || errno == EAGAIN) { errno = ECONNRESET; }
            ERR_clear_error();
            return got == 0 ? 0 : -1;
        default: {
            unsigned long e = ERR_peek_error();
            ERR_clear_error();
            if (!(c->flags & FC_TLS_DONE) && ERR_GET_LIB(e) == ERR_LIB_SSL &&
                ERR_GET_REASON(e) == SSL_R_HTTP_REQUEST) {
                SSL_free(c->ssl);
                c->ssl = NULL;
                c->flags = FC_TLS_PLAIN;
                c->fake = (const unsigned char *)FC_TLS_FAKE_REQ;
                c->fakelen = sizeof FC_TLS_FAKE_REQ - 1;
                size_t m = n < c->fakelen ? n : c->fakelen;
                memcpy(buf, c->fake, m);
                c->fake += m; c->fakelen -= m;
                return (ssize_t)m;
            }
            errno = EPROTO;
            return -1;
        }
        }
    }
}

/* Plaintext still held by OpenSSL (the next read needs no readiness). */
static inline int fc_io_pending(int fd) {
    fc_tls_conn *c = fc_tls_of(fd);
    if (!c) return 0;
    if (c->flags & FC_TLS_PLAIN) return c->fakelen > 0;
    return c->ssl && SSL_has_pending(c->ssl);  /* read ahead: records not yet decrypted */
}

/* One SSL_write of up to a record.  Bytes written, or -errno (-EAGAIN: retry later with
 * the same bytes first, which the callers' resume offsets guarantee).
 *
 * With kTLS sending, OpenSSL gives the kernel the caller's buffer itself, and when the
 * socket is full it keeps that address and resends from it on the retry
 * (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER does not make it read the retry's buffer).  The
 * callers' buffers are thread-local (fc_tls_gather, reused by the next connection this
 * thread serves) or may be rebuilt before the retry, so on a kTLS session the record is
 * first copied into the connection's own buffer, kept until the record has left (as
 * SSL_MODE_RELEASE_BUFFERS does with OpenSSL's buffers); the retry copies the same bytes
 * over it again. */
static ssize_t fc_tls_write(fc_tls_conn *c, const void *p, size_t n) {
    SSL *ssl = c->ssl;
    int ktls = BIO_get_ktls_send(SSL_get_wbio(ssl));
    if (n > FC_TLS_RECORD) n = FC_TLS_RECORD;
    if (ktls) {
        if (!c->kbuf && !(c->kbuf = (unsigned char *)malloc(FC_TLS_RECORD))) return -ENOMEM;
        memcpy(c->kbuf, p, n);
        p = c->kbuf;
    }
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int w = SSL_write(ssl, p, (int)n);
        if (w > 0) {
            if (ktls) { free(c->kbuf); c->kbuf = NULL; }
            return w;
        }
        int err = SSL_get_error(ssl, w);
        if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) return -EAGAIN;
        if (err == SSL_ERROR_SYSCALL && errno == EINTR) continue;
        int e = err == SSL_ERROR_SYSCALL && errno ? errno : EPIPE;
        ERR_clear_error();
        return -e;
    }
}

/* The record buffer of a gathered write: a head and a small body leave as one record. */
static __thread unsigned char fc_tls_gather[FC_TLS_RECORD];

/* sendmsg() over TLS: the iovecs gathered record by record.  Bytes or -errno (-EAGAIN only
 * when nothing was written), as fc_sendv. */
static ssize_t fc_tls_sendv(fc_tls_conn *c, struct iovec *iov, int cnt) {
    size_t done = 0;
    int i = 0;
    size_t off = 0;  /* into iov[i] */
    if (!c->ssl) return -EPIPE;
    while (i < cnt) {
        size_t fill = 0;
        const void *src;
        size_t len;
        if (iov[i].iov_len - off >= FC_TLS_RECORD || (i == cnt - 1 && off == 0)) {
            src = (const char *)iov[i].iov_base + off;  /* no copy for a record's worth */
            len = iov[i].iov_len - off;
        } else {
            int j = i;
            size_t o = off;
            while (j < cnt && fill < FC_TLS_RECORD) {
                size_t take = iov[j].iov_len - o;
                if (take > FC_TLS_RECORD - fill) take = FC_TLS_RECORD - fill;
                memcpy(fc_tls_gather + fill, (const char *)iov[j].iov_base + o, take);
                fill += take; o += take;
                if (o == iov[j].iov_len) { j++; o = 0; }
            }
            src = fc_tls_gather;
            len = fill;
        }
        if (!len) { i++; off = 0; continue; }
        ssize_t w = fc_tls_write(c, src, len);
        if (w < 0) return done ? (ssize_t)done : w;
        done += (size_t)w;
        size_t adv = (size_t)w;
        while (i < cnt && adv >= iov[i].iov_len - off) { adv -= iov[i].iov_len - off; i++; off = 0; }
        off += adv;
    }
    return (ssize_t)done;
}

/* sendfile() over kTLS: SSL_sendfile is sendfile(2) on the socket (the kernel reads the
 * file's pages and encrypts them into records) once OpenSSL has nothing of its own left to
 * flush.  Bytes, or -errno when nothing was sent: -EAGAIN (the socket is full),
 * -ENODATA (FC_ETRUNC: the file ends before the range), as the plain sendfile loop. */
static ssize_t fc_tls_ksendfile(SSL *ssl, int file_fd, off_t offset, size_t count) {
    size_t done = 0;
    while (done < count) {
        size_t want = count - done;
        if (want > 0x7ffff000UL) want = 0x7ffff000UL;  /* the most one sendfile(2) moves */
        ERR_clear_error();
        errno = 0;
        ossl_ssize_t w = SSL_sendfile(ssl, file_fd, offset + (off_t)done, want, 0);
        int e = errno;  /* before SSL_get_error and ERR_* touch anything */
        if (w > 0) { done += (size_t)w; continue; }
        if (w == 0) {  /* sendfile(2) at the file's end */
            ERR_clear_error();
            return done ? (ssize_t)done : -ENODATA;
        }
        int err = SSL_get_error(ssl, (int)w);
        ERR_clear_error();
        if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
            /* OpenSSL marks EAGAIN, EINTR and EBUSY (the kernel's crypto still busy with
             * earlier records) as a retry: a signal is retried here, the others wait for
             * room like a full socket */
            if (e == EINTR) continue;
            return done ? (ssize_t)done : -EAGAIN;
        }
        if (done) return (ssize_t)done;  /* the error comes back on the next call */
        /* EPIPE, ECONNRESET, ... from sendfile(2); a TLS-level refusal (a session already
         * shut down) has no errno and reads as a closed connection */
        return -(e && e != EAGAIN ? e : EPIPE);
    }
    return (ssize_t)done;
}

/* sendfile() over TLS.  With kTLS sending, by the kernel (fc_tls_ksendfile); without it
 * the kernel cannot encrypt, so the body passes through user space: pread a record's
 * worth, SSL_write it (as nginx without kTLS). */
static ssize_t fc_tls_sendfile(fc_tls_conn *c, int file_fd, off_t offset, size_t count) {
    size_t done = 0;
    if (!c->ssl) return -EPIPE;
    if (BIO_get_ktls_send(SSL_get_wbio(c->ssl)))
        return fc_tls_ksendfile(c->ssl, file_fd, offset, count);
    while (done < count) {
        size_t want = count - done;
        if (want > FC_TLS_RECORD) want = FC_TLS_RECORD;
        ssize_t r;
        do { r = pread(file_fd, fc_tls_gather, want, offset + (off_t)done); } while (r < 0 && errno == EINTR);
        if (r < 0) return done ? (ssize_t)done : -errno;
        if (r == 0) return done ? (ssize_t)done : -ENODATA;  /* FC_ETRUNC */
        ssize_t w = fc_tls_write(c, fc_tls_gather, (size_t)r);
        if (w < 0) return done ? (ssize_t)done : w;
        done += (size_t)w;
        if (w < r) break;
    }
    return (ssize_t)done;
}

#endif /* FC_TLS_H */

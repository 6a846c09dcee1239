/* fc_tlscache.h - mod_ssl's session cache shared by every child (SSLSessionCache shmcb).
 *
 * Apache's shmcb keeps serialized sessions in shared memory so that a client resumes on
 * whichever child accepts its next connection.  Here: an anonymous MAP_SHARED mapping
 * made in the parent before fork, of fixed slots (one DER-encoded session each, found by
 * its session id with a short linear probe), under one process-shared robust mutex (a
 * child killed while holding it leaves it recoverable, never held).  OpenSSL reaches it
 * through the context's new/get/remove session callbacks; with TLS 1.3 and tickets off
 * (SSLSessionTickets off, Debian's ssl.conf) every resumption goes through it.
 */
#ifndef FC_TLSCACHE_H
#define FC_TLSCACHE_H
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <openssl/ssl.h>

#define FC_TC_SLOT 2048
#define FC_TC_PROBE 8

typedef struct {
    uint32_t used, idlen, derlen, pad;
    int64_t expires;                          /* epoch seconds */
    unsigned char id[SSL_MAX_SSL_SESSION_ID_LENGTH];
    unsigned char der[FC_TC_SLOT - 24 - SSL_MAX_SSL_SESSION_ID_LENGTH];
} fc_tc_slot;

typedef struct {
    pthread_mutex_t mu;
    uint32_t nslots;
    size_t bytes;                             /* what SSLSessionCache asked for */
    uint64_t stores, replaces, expires, too_big, hits, misses, remove_hits, remove_misses;
    fc_tc_slot slots[];
} fc_tc;

static fc_tc *fc_tc_g = NULL;

/* The cache for `bytes` of sessions (shmcb's size), made once per process tree. */
static int fc_tc_create(size_t bytes) {
    if (fc_tc_g) return 0;
    size_t n = bytes / sizeof(fc_tc_slot);
    if (n < 8) n = 8;
    size_t len = sizeof(fc_tc) + n * sizeof(fc_tc_slot);
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return -errno;
    fc_tc *c = (fc_tc *)m;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    int rc = pthread_mutex_init(&c->mu, &a);
    pthread_mutexattr_destroy(&a);
    if (rc) { munmap(m, len); return -rc; }
    c->nslots = (uint32_t)n;
    c->bytes = bytes;
    fc_tc_g = c;
    return 0;
}

static int fc_tc_lock(fc_tc *c) {
    int rc = pthread_mutex_lock(&c->mu);
    if (rc == EOWNERDEAD) { pthread_mutex_consistent(&c->mu); rc = 0; }
    return rc;
}

static uint32_t fc_tc_hash(const unsigned char *id, unsigned n) {
    uint32_t h = 2166136261u;
    for (unsigned i = 0; i < n; i++) h = (h ^ id[i]) * 16777619u;
    return h;
}

static fc_tc_slot *fc_tc_find(fc_tc *c, const unsigned char *id, unsigned n) {
    uint32_t h = fc_tc_hash(id, n);
    for (uint32_t i = 0; i < FC_TC_PROBE; i++) {
        fc_tc_slot *s = &c->slots[(h + i) % c->nslots];
        if (s->used && s->idlen == n && memcmp(s->id, id, n) == 0) return s;
    }
    return NULL;
}

static int fc_tc_new_cb(SSL *ssl, SSL_SESSION *sess) {
    (void)ssl;
    fc_tc *c = fc_tc_g;
    unsigned n = 0;
    const unsigned char *id = SSL_SESSION_get_id(sess, &n);
    int len = i2d_SSL_SESSION(sess, NULL);
    if (!c || !n || n > SSL_MAX_SSL_SESSION_ID_LENGTH || len <= 0) return 0;
    if ((size_t)len > sizeof c->slots[0].der) {
        __atomic_add_fetch(&c->too_big, 1, __ATOMIC_RELAXED);
        return 0;
    }
    int64_t now = (int64_t)time(NULL);
    if (fc_tc_lock(c)) return 0;
    uint32_t h = fc_tc_hash(id, n);
    fc_tc_slot *pick = NULL;
    for (uint32_t i = 0; i < FC_TC_PROBE; i++) {  /* the same id, a free or stale slot, or
                                                   * the one that expires first */
        fc_tc_slot *s = &c->slots[(h + i) % c->nslots];
        if (s->used && s->idlen == n && memcmp(s->id, id, n) == 0) { pick = s; break; }
        if (!s->used || s->expires <= now) { if (!pick || pick->used) pick = s; continue; }
        if (!pick || (pick->used && s->expires < pick->expires)) pick = s;
    }
    if (pick->used && !(pick->idlen == n && memcmp(pick->id, id, n) == 0)) {
        if (pick->expires <= now) c->expires++;
        else c->replaces++;
    }
    unsigned char *p = pick->der;
    i2d_SSL_SESSION(sess, &p);
    pick->derlen = (uint32_t)len;
    memcpy(pick->id, id, n);
    pick->idlen = n;
    pick->expires = now + (int64_t)SSL_SESSION_get_timeout(sess);
    pick->used = 1;
    c->stores++;
    pthread_mutex_unlock(&c->mu);
    return 0;  /* no reference kept: the cache holds bytes */
}

static SSL_SESSION *fc_tc_get_cb(SSL *ssl, const unsigned char *id, int n, int *copy) {
    (void)ssl;
    fc_tc *c = fc_tc_g;
    unsigned char der[sizeof c->slots[0].der];
    uint32_t len = 0;
    *copy = 0;
    if (!c || n <= 0 || n > SSL_MAX_SSL_SESSION_ID_LENGTH || fc_tc_lock(c)) return NULL;
    fc_tc_slot *s = fc_tc_find(c, id, (unsigned)n);
    if (s && s->expires > (int64_t)time(NULL)) {
        len = s->derlen;
        memcpy(der, s->der, len);
        c->hits++;
    } else {
        c->misses++;
    }
    pthread_mutex_unlock(&c->mu);
    if (!len) return NULL;
    const unsigned char *p = der;
    return d2i_SSL_SESSION(NULL, &p, (long)len);
}

static void fc_tc_remove_cb(SSL_CTX *ctx, SSL_SESSION *sess) {
    (void)ctx;
    fc_tc *c = fc_tc_g;
    unsigned n = 0;
    const unsigned char *id = SSL_SESSION_get_id(sess, &n);
    if (!c || !n || n > SSL_MAX_SSL_SESSION_ID_LENGTH || fc_tc_lock(c)) return;
    fc_tc_slot *s = fc_tc_find(c, id, n);
    if (s) { s->used = 0; c->remove_hits++; }
    else c->remove_misses++;
    pthread_mutex_unlock(&c->mu);
}

/* mod_status's figures: live entries, the bytes they hold, and the seconds left of the
 * oldest one's (min/avg/max over the live entries, as shmcb reports per subcache). */
typedef struct { uint32_t entries; uint64_t used_bytes; int64_t left_min, left_max, left_sum; } fc_tc_usage;
static void fc_tc_usage_of(fc_tc *c, fc_tc_usage *u) {
    memset(u, 0, sizeof *u);
    if (!c || fc_tc_lock(c)) return;
    int64_t now = (int64_t)time(NULL);
    for (uint32_t i = 0; i < c->nslots; i++) {
        fc_tc_slot *s = &c->slots[i];
        if (!s->used || s->expires <= now) continue;
        int64_t left = s->expires - now;
        if (!u->entries || left < u->left_min) u->left_min = left;
        if (left > u->left_max) u->left_max = left;
        u->left_sum += left;
        u->entries++;
        u->used_bytes += s->derlen + s->idlen;
    }
    pthread_mutex_unlock(&c->mu);
}

/* A context's sessions go to the shared cache (and only there, as Apache's external
 * caches: SSL_SESS_CACHE_NO_INTERNAL). */
static void fc_tc_attach(SSL_CTX *ctx) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx, fc_tc_new_cb);
    SSL_CTX_sess_set_get_cb(ctx, fc_tc_get_cb);
    SSL_CTX_sess_set_remove_cb(ctx, fc_tc_remove_cb);
}

#endif /* FC_TLSCACHE_H */

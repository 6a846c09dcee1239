/* fc_tlskeys.h - mod_ssl's session ticket keys, shared by every child and rotated.
 *
 * OpenSSL's own ticket keys are random per SSL_CTX and never change: built in the parent,
 * every child inherits the same ones at fork and keeps them until the next restart.
 * Here each SSL_CTX with tickets on gets a small ring in an anonymous MAP_SHARED mapping
 * made in the parent before fork, so the children see one set of keys, and the keys
 * follow the clock: the period is the context's session timeout (SSLSessionCacheTimeout),
 * period index = time(NULL) / length.  New tickets are encrypted with the key of the
 * current period; a ticket whose key name is the current period's resumes, the previous
 * period's resumes and is renewed, any other name gets a full handshake.  The key of a
 * period is drawn (RAND_bytes) by whichever process first issues a ticket in it, under a
 * process-shared robust mutex; keys older than the previous period are wiped (by the
 * next ticket issued or read), so a key stolen later opens no ticket older than two
 * periods (forward secrecy).
 *
 * The ring lives as long as its SSL_CTX (freed through the ex_data free callback, so a
 * session still open on a context that a restart dropped never reads unmapped memory).
 */
#ifndef FC_TLSKEYS_H
#define FC_TLSKEYS_H
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#define FC_TK_NONE INT64_MIN   /* a slot that holds no key (or one a dead writer left) */

typedef struct {
    int64_t period;
    unsigned char name[16];
    unsigned char aes[32];                  /* AES-256-CBC */
    unsigned char hmac[32];                 /* HMAC-SHA256 */
} fc_tk_key;

typedef struct {
    pthread_mutex_t mu;
    int64_t length;                         /* seconds per period */
    fc_tk_key keys[2];                      /* keys[p & 1]: period p's, or stale, or none */
} fc_tk_ring;

static int fc_tk_idx = -1;                  /* SSL_CTX ex_data slot of the ring */
static uint64_t fc_tk_unmap_failed = 0;     /* a free callback has no caller to tell */

static void fc_tk_wipe(fc_tk_key *k) {
    OPENSSL_cleanse(k, sizeof *k);
    k->period = FC_TK_NONE;
}

/* SSL_CTX_free's ex_data callback: the parent's copy goes with its context; the other
 * processes that mapped the ring keep theirs until their contexts go or they exit. */
static void fc_tk_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                          void *argp) {
    (void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
    if (ptr && munmap(ptr, sizeof(fc_tk_ring)) != 0) fc_tk_unmap_failed++;
}

static int fc_tk_lock(fc_tk_ring *r) {
    int rc = pthread_mutex_lock(&r->mu);
    if (rc == EOWNERDEAD) {
        /* its holder died; a key it was drawing still says FC_TK_NONE, so is redrawn */
        rc = pthread_mutex_consistent(&r->mu);
        if (rc) pthread_mutex_unlock(&r->mu);
    }
    return rc;
}

/* Under the lock: wipe what is neither period p's key nor p-1's. */
static void fc_tk_sweep(fc_tk_ring *r, int64_t p) {
    for (int i = 0; i < 2; i++) {
        int64_t kp = r->keys[i].period;
        if (kp != FC_TK_NONE && kp != p && kp != p - 1) fc_tk_wipe(&r->keys[i]);
    }
}

/* A copy of period p's key, drawn now if no process has yet; 0, or -1 (no key). */
static int fc_tk_current(fc_tk_ring *r, int64_t p, fc_tk_key *out) {
    if (fc_tk_lock(r)) return -1;
    fc_tk_sweep(r, p);
    fc_tk_key *k = &r->keys[p & 1];
    int rc = 0;
    if (k->period != p) {
        k->period = FC_TK_NONE;             /* stays so if this process dies mid-draw */
        if (RAND_bytes(k->name, sizeof k->name) == 1 && RAND_bytes(k->aes, sizeof k->aes) == 1
                && RAND_bytes(k->hmac, sizeof k->hmac) == 1) {
            k->period = p;
        } else {
            fc_tk_wipe(k);
            rc = -1;
        }
    }
    if (!rc) memcpy(out, k, sizeof *out);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* The key named `name` if it is period p's (1) or p-1's (2); 0: none of ours. */
static int fc_tk_find(fc_tk_ring *r, int64_t p, const unsigned char *name, fc_tk_key *out) {
    int which = 0;
    if (fc_tk_lock(r)) return 0;
    fc_tk_sweep(r, p);
    for (int i = 0; i < 2 && !which; i++) {
        fc_tk_key *k = &r->keys[i];
        if (k->period != FC_TK_NONE && CRYPTO_memcmp(k->name, name, sizeof k->name) == 0) {
            which = k->period == p ? 1 : 2;
            memcpy(out, k, sizeof *out);
        }
    }
    pthread_mutex_unlock(&r->mu);
    return which;
}

static int fc_tk_mac_key(EVP_MAC_CTX *hctx, unsigned char *key) {
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key, 32);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[2] = OSSL_PARAM_construct_end();
    return EVP_MAC_CTX_set_params(hctx, params);
}

/* SSL_CTX_set_tlsext_ticket_key_evp_cb: the ring is that of the context the handshake
 * ended on (after SNI), which is the one it issued and will read its tickets with. */
static int fc_tk_cb(SSL *s, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *cctx,
                    EVP_MAC_CTX *hctx, int enc) {
    fc_tk_ring *r = (fc_tk_ring *)SSL_CTX_get_ex_data(SSL_get_SSL_CTX(s), fc_tk_idx);
    fc_tk_key k;
    int rc = 0;
    if (!r) return 0;                       /* no ticket / full handshake, never a failure */
    int64_t p = (int64_t)time(NULL) / r->length;
    if (enc) {
        if (fc_tk_current(r, p, &k)) return 0;  /* the handshake goes on without a ticket */
        memcpy(name, k.name, sizeof k.name);
        if (RAND_bytes(iv, 16) == 1 &&
                EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) == 1 &&
                fc_tk_mac_key(hctx, k.hmac) == 1)
            rc = 1;
    } else {
        int which = fc_tk_find(r, p, name, &k);
        if (which && EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) == 1 &&
                fc_tk_mac_key(hctx, k.hmac) == 1)
            rc = which;                     /* 2: the previous period's, issue a new one */
    }
    OPENSSL_cleanse(&k, sizeof k);
    return rc;
}

/* Give ctx its ring (period `length` seconds) and the callback; 0 or -errno. */
static int fc_tk_attach(SSL_CTX *ctx, long length) {
    if (fc_tk_idx < 0) {
        fc_tk_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, fc_tk_ex_free);
        if (fc_tk_idx < 0) return -ENOMEM;
    }
    void *m = mmap(NULL, sizeof(fc_tk_ring), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return -errno;
    fc_tk_ring *r = (fc_tk_ring *)m;        /* zero-filled by the kernel */
    pthread_mutexattr_t a;
    int rc = pthread_mutexattr_init(&a);
    if (!rc) rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (!rc) rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (!rc) rc = pthread_mutex_init(&r->mu, &a);
    pthread_mutexattr_destroy(&a);
    if (rc) {
        if (munmap(m, sizeof(fc_tk_ring)) != 0) fc_tk_unmap_failed++;
        return -rc;
    }
    r->length = length > 0 ? length : 1;    /* SSLSessionCacheTimeout 0: 1 s periods */
    r->keys[0].period = r->keys[1].period = FC_TK_NONE;
    if (!SSL_CTX_set_ex_data(ctx, fc_tk_idx, r)) {
        if (munmap(m, sizeof(fc_tk_ring)) != 0) fc_tk_unmap_failed++;
        return -ENOMEM;
    }
    /* from here the ring is the context's: SSL_CTX_free unmaps it */
    if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, fc_tk_cb) != 1) return -EINVAL;
    return 0;
}

#endif /* FC_TLSKEYS_H */

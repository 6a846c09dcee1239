/* fc_atomic.h - shared-memory counters for fastcore, in two builds (the `atomics` option).
 *
 * FC_ATOMICS_CAS=1 (nonportable): each counter is a 64-bit word updated with the GCC/Clang
 *   __atomic builtins (lock xadd / lock cmpxchg on x86-64), as APR with
 *   --enable-nonportable-atomics.
 * FC_ATOMICS_CAS=0 (portable): each counter carries its own process-shared ROBUST pthread
 *   mutex; no __atomic builtin and no CAS is compiled in this case (the #if below removes them),
 *   as APR's mutex-based atomics.
 *
 * The robust mutex primitive (fc_pmutex_*) is compiled in both builds: the portable counters
 * use it, and the ProcessMutex class exposes it so its crash recovery is tested in every build.
 * A process SIGKILLed while holding it never deadlocks the others: the next locker gets
 * EOWNERDEAD and makes the mutex consistent again.
 *
 * Every counter sits alone on its own 64-byte cache line (false sharing between unrelated
 * counters would otherwise cost as much as contention on one).
 */
#ifndef FC_ATOMIC_H
#define FC_ATOMIC_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#ifndef FC_ATOMICS_CAS
#error "FC_ATOMICS_CAS must be defined (0 or 1) by setup.py"
#endif
#ifndef FC_ATOMICS_MODE
#define FC_ATOMICS_MODE (FC_ATOMICS_CAS ? "nonportable" : "portable")
#endif

#ifndef FC_ATOMICS_REQUESTED
#define FC_ATOMICS_REQUESTED FC_ATOMICS_MODE
#endif
#ifndef FC_CC_VERSION
#define FC_CC_VERSION "unknown"
#endif
#ifndef FC_CYTHON_VERSION
#define FC_CYTHON_VERSION "unknown"
#endif

#define FC_CACHELINE 64

/* ---- robust process-shared mutex (both builds) ---------------------------------------- */

/* Initialise a robust, process-shared mutex that lives in MAP_SHARED memory. 0 or errno. */
static int fc_pmutex_init(pthread_mutex_t *m) {
    pthread_mutexattr_t a;
    int rc = pthread_mutexattr_init(&a);
    if (rc) return rc;
    rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (!rc) rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (!rc) rc = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    return rc;
}

/* Lock; returns 0, or 1 when the previous owner died holding it (state recovered),
 * or a positive errno (> 1 never collides: EPERM == 1 is not returned by lock). */
static inline int fc_pmutex_lock(pthread_mutex_t *m) {
    int rc = pthread_mutex_lock(m);
    if (__builtin_expect(rc == 0, 1)) return 0;
    if (rc == EOWNERDEAD) {
        rc = pthread_mutex_consistent(m);
        return rc ? rc : 1;
    }
    return rc;
}

/* Lock with an absolute CLOCK_REALTIME deadline; 0, 1 (recovered), ETIMEDOUT or errno. */
static int fc_pmutex_timedlock(pthread_mutex_t *m, const struct timespec *deadline) {
    int rc;
    do {
        rc = pthread_mutex_timedlock(m, deadline);
    } while (rc == EINTR);
    if (rc == EOWNERDEAD) {
        rc = pthread_mutex_consistent(m);
        return rc ? rc : 1;
    }
    return rc;
}

static inline int fc_pmutex_unlock(pthread_mutex_t *m) { return pthread_mutex_unlock(m); }

/* ---- the counter ----------------------------------------------------------------------- */

typedef struct {
#if FC_ATOMICS_CAS
    int64_t value;
#else
    pthread_mutex_t mtx;
    int64_t value;
#endif
} __attribute__((aligned(FC_CACHELINE))) fc_counter_t;

_Static_assert(sizeof(fc_counter_t) % FC_CACHELINE == 0, "counter must fill whole cache lines");

#define FC_COUNTER_ERR INT64_MIN /* returned (with errno set) only if the mutex is broken */

static int fc_counter_init(fc_counter_t *c, int64_t value) {
    c->value = value;
#if FC_ATOMICS_CAS
    return 0;
#else
    return fc_pmutex_init(&c->mtx);
#endif
}

static inline int64_t fc_counter_add(fc_counter_t *c, int64_t delta) {
#if FC_ATOMICS_CAS
    return __atomic_add_fetch(&c->value, delta, __ATOMIC_SEQ_CST);
#else
    int rc = fc_pmutex_lock(&c->mtx);
    if (__builtin_expect(rc > 1, 0)) {
        errno = rc;
        return FC_COUNTER_ERR;
    }
    int64_t v = (int64_t)((uint64_t)c->value + (uint64_t)delta); /* wraps, as __atomic */
    c->value = v;
    fc_pmutex_unlock(&c->mtx);
    return v;
#endif
}

/* Store `desired` if the value is `expected`; 1 if stored, 0 if not, -1 (errno) if broken. */
static inline int fc_counter_cas(fc_counter_t *c, int64_t expected, int64_t desired) {
#if FC_ATOMICS_CAS
    return __atomic_compare_exchange_n(&c->value, &expected, desired, 0, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
#else
    int rc = fc_pmutex_lock(&c->mtx);
    if (__builtin_expect(rc > 1, 0)) {
        errno = rc;
        return -1;
    }
    int ok = c->value == expected;
    if (ok) c->value = desired;
    fc_pmutex_unlock(&c->mtx);
    return ok;
#endif
}

static inline int64_t fc_counter_get(fc_counter_t *c) {
#if FC_ATOMICS_CAS
    return __atomic_load_n(&c->value, __ATOMIC_SEQ_CST);
#else
    /* under the mutex: a 64-bit read is not single-copy atomic on every portable target */
    int rc = fc_pmutex_lock(&c->mtx);
    if (__builtin_expect(rc > 1, 0)) {
        errno = rc;
        return FC_COUNTER_ERR;
    }
    int64_t v = c->value;
    fc_pmutex_unlock(&c->mtx);
    return v;
#endif
}

#if !FC_ATOMICS_CAS
/* Test hook: take a counter's mutex and keep it (the caller is then SIGKILLed). */
static int fc_counter_debug_lock(fc_counter_t *c) {
    int rc = fc_pmutex_lock(&c->mtx);
    return rc > 1 ? rc : 0;
}
#endif

#endif /* FC_ATOMIC_H */

/* libFuzzer target: the engine's serve loop (fastcore/src/fc_fast.h fc_serve, and through
 * the epoll loop of fc_fastloop.h) fed an arbitrary byte stream over a socketpair, in
 * chunks of a fuzzed size, with the client draining the answers.  Checks: no sanitizer
 * report, the loop ends (no livelock), the buffer bookkeeping stays in bounds, and every
 * cache reference taken for a send is given back. */
#include "fuzz_engine.h"
#include "fc_fastloop.h"
#include <sys/socket.h>

static int fz_epfd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    fz_setup();
    fz_epfd = epoll_create1(EPOLL_CLOEXEC);
    return 0;
}

static void drain(int fd) {
    char junk[65536];
    while (read(fd, junk, sizeof junk) > 0) {}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    if (n < 2) return 0;
    int use_loop = d[0] & 1;
    fz_cache.draining = (d[0] >> 1) & 1;
    size_t chunk = d[1] ? (size_t)d[1] * ((d[0] & 4) ? 64 : 1) : n;
    const char *p = (const char *)d + 2;
    size_t len = n - 2, sent = 0;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) abort();
    fc_fconn k;
    if (fc_conn_init(&k, sv[0], 0) < 0) abort();
    memcpy(k.client, "127.0.0.1", 9); k.clientlen = 9;
    k.remote_port = 40000; k.timeout = 60; k.ka_timeout = 5;
    fc_evloop L;
    if (use_loop) {
        if (fc_ev_init(&L, fz_epfd, 1024, &fz_cache) < 0) abort();
        if (fc_ev_attach(&L, &k, 5.0) < 0) abort();
    }
    int shut = 0, attached = use_loop;
    size_t bound = len + 64;
    for (size_t iter = 0;; iter++) {
        if (iter > bound) abort();  /* the loop made no progress: a hang */
        if (sent < len) {
            size_t want = len - sent < chunk ? len - sent : chunk;
            ssize_t w = write(sv[1], p + sent, want);
            if (w > 0) sent += (size_t)w;
        }
        if (sent == len && !shut) { shutdown(sv[1], SHUT_WR); shut = 1; }
        int rc;
        if (use_loop) {
            int ofd[8], code[8];
            uint32_t oev[8];
            int got = fc_ev_wait(&L, 0, ofd, code, oev, 8);
            rc = FC_WANT_READ;
            for (int i = 0; i < got; i++)
                if (ofd[i] == sv[0]) { rc = code[i] & ~FC_EV_OWNED; attached = 0; }
        } else {
            rc = fc_serve(&fz_cache, &k);
        }
        if (k.start + k.len > FC_CONN_BUF) abort();
        drain(sv[1]);
        if (rc == FC_FALLBACK || rc == FC_CLOSED) break;
        if (use_loop && !attached) break;  /* a partial head handed to Python */
    }
    if (use_loop) {
        if (attached) fc_ev_detach(&L, sv[0], 1);
        else epoll_ctl(fz_epfd, EPOLL_CTL_DEL, sv[0], NULL);
        fc_ev_free(&L);
    }
    fc_conn_free(&fz_cache, &k);
    close(sv[0]);
    close(sv[1]);
    fz_check_refs();
    return 0;
}

/* FZ_STATS=1: how much of the campaign reached cache hits (for docs/fuzzing.md) */
__attribute__((destructor)) static void fz_stats(void) {
    if (getenv("FZ_STATS"))
        fprintf(stderr, "serve_loop: hits=%llu fallbacks=%llu evictions=%llu\n",
                (unsigned long long)fz_cache.hits, (unsigned long long)fz_cache.fallbacks,
                (unsigned long long)fz_cache.evictions);
}

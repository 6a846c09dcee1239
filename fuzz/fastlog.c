/* libFuzzer target: the engine's access-log formatter (fastcore/src/fc_fastlog.h
 * fc_render) with arbitrary request fields (the head goes through fc_parse as on a hit)
 * and an arbitrary program (NUL-terminated as _fastpath stores it), plus arbitrary client
 * and per-entry values.  Checks: no sanitizer report; the full program never prints a raw
 * control byte or an unescaped quote from the request (ap_escape_logitem). */
#include "fuzz_engine.h"

static char *fz_prog;
static size_t fz_proglen;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    fz_setup();
    fz_prog = fz_full_program(&fz_proglen);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    if (n < 3) return 0;
    size_t plen = (size_t)d[0] | ((size_t)d[1] << 8);
    int custom = d[2] & 1;
    d += 3; n -= 3;
    if (plen > n) plen = n;
    const char *head = (const char *)d + plen;
    size_t hlen = n - plen;
    fc_req r;
    if (fc_parse(&fz_cache, head, hlen, &r) <= 0) return 0;
    fc_fconn k;
    memset(&k, 0, sizeof k);
    size_t cl = plen < sizeof k.client ? plen : sizeof k.client;
    memcpy(k.client, d, cl); k.clientlen = cl;            /* arbitrary bytes */
    k.remote_port = (int)plen;
    fc_fentry *e = fz_cache.buckets[0] ? fz_cache.buckets[0] : NULL;
    for (size_t i = 0; !e && i < fz_cache.nbuckets; i++) e = fz_cache.buckets[i];
    fc_logctx x = { 1.7e9 + plen, (long long)plen * 977, (long long)hlen, 300, (long long)hlen,
                    (int)(plen & 1), (long)plen };
    fc_sbuf s = { NULL, 0, 0, 0 };
    char *prog = custom ? fc_dup((const char *)d, plen) : fz_prog;
    fc_render(&s, prog, custom ? plen : fz_proglen, &k, e, &r, &x);
    if (!custom) {
        /* request-derived text is escaped: no byte < 0x20 but from the client field */
        for (size_t i = 0; i < s.len; i++) {
            unsigned char ch = (unsigned char)s.p[i];
            if ((ch < 0x20 || ch >= 0x7f) && !memchr(k.client, ch, k.clientlen)) abort();
        }
    } else {
        free(prog);
    }
    free(s.p);
    return 0;
}

/* libFuzzer target: fastcore/src/fc_fastparse.h, the engine's own head parser (part of
 * fc_fast.h).  Differential inside the target: whatever the fast parser accepts, the full
 * parser (fc_request.h, Strict, same limits) must accept too, with the same length,
 * method and target; the engine must never serve a head Python would answer 400. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fc_request.h"
#include "fc_fast.h"

static fc_fcache cache;
static int ready;

static void inside(const char *p, size_t n, const char *s, size_t l) {
    if (l && (s < p || s + l > p + n)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    if (!ready) { fc_cache_init(&cache, 4, 1 << 16); fc_request_init(); ready = 1; }
    if (n < 1) return 0;
    cache.limit_line = (d[0] & 1) ? 8190 : 16 + (d[0] >> 1);
    cache.limit_fields = (d[0] & 2) ? 100 : (d[0] >> 4);
    cache.limit_field_size = (d[0] & 4) ? 8190 : 16 + (d[0] >> 2);
    const char *p = (const char *)d + 1;
    size_t len = n - 1;
    fc_req r;
    long hl = fc_parse(&cache, p, len, &r);
    if (hl > 0) {
        if ((size_t)hl > len) abort();
        inside(p, (size_t)hl, r.line, r.linelen);
        inside(p, (size_t)hl, r.method, r.mlen);
        inside(p, (size_t)hl, r.target, r.tlen);
        inside(p, (size_t)hl, r.proto, r.plen);
        inside(p, (size_t)hl, r.fields, r.fieldslen);
        if (r.has_host) inside(p, (size_t)hl, r.host, r.hostlen);
        fc_field f[128];
        fc_head h;
        int rc = fc_parse_head(d + 1, len, (long)cache.limit_line, (long)cache.limit_fields,
                               (long)cache.limit_field_size, &h, f, 128);
        if (rc != 1 || h.head_len != (size_t)hl) abort();
        if (h.method.len != r.mlen || memcmp(p + h.method.off, r.method, r.mlen)) abort();
        if (h.target.len != r.tlen || memcmp(p + h.target.off, r.target, r.tlen)) abort();
        if (!fc_head_may_use_cache(&cache, p, (size_t)hl)) abort();
    }
    return 0;
}

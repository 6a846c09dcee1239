/* libFuzzer target: the client bytes fastcore/src/fc_tls.h reads itself during a TLS
 * handshake (OpenSSL parses the rest): the server_name extension's body (fc_tls_sni_host)
 * and the ALPN protocol list (fc_tls_alpn_cb).  A name must lie inside the input; the
 * selected protocol is http/1.1, inside the input or the server's own constant; the SNI
 * match against a listener's names (fc_tls_pick's loop) runs on what was found. */
#include <fnmatch.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fc_tls.h"

static void inside(const unsigned char *p, size_t n, const void *s, size_t l) {
    const unsigned char *q = (const unsigned char *)s;
    if (l && (q < p || q + l > p + n)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    if (n < 1) return 0;
    const unsigned char *p = d + 1;
    size_t len = n - 1;
    if (d[0] & 1) {
        const char *name = NULL;
        size_t k = 0;
        if (fc_tls_sni_host(p, len, &name, &k)) {
            inside(p, len, name, k);
            if (k == 0) abort();
            char low[256];
            if (k < sizeof low) {  /* as fc_tls_pick: lower-case copy, then the patterns */
                for (size_t i = 0; i < k; i++)
                    low[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
                low[k] = 0;
                (void)fnmatch("*.a.test", low, 0);
                (void)strcmp("a.test", low);
            }
        }
    } else {
        const unsigned char *out = NULL;
        unsigned char outlen = 0;
        if (len > 0xffff) len = 0xffff;
        if (fc_tls_alpn_cb(NULL, &out, &outlen, p, (unsigned int)len, NULL) != SSL_TLSEXT_ERR_OK)
            abort();
        if (outlen != 8 || memcmp(out, "http/1.1", 8) != 0) abort();
        if (out != fc_tls_h11) inside(p, len, out, outlen);
    }
    return 0;
}

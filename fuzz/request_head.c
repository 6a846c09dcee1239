/* libFuzzer target: fastcore/src/fc_request.h, the full request-head scanner (Strict and
 * Unsafe), with arbitrary limits and a fields array that may be too small (the -2 retry).
 * Beyond the sanitizers it checks the parser's contract: every span lies in the head, a
 * complete head parses the same without the bytes after it, an error has a status. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fc_request.h"

static void check_span(fc_span s, size_t head_len) {
    if ((size_t)s.off + s.len > head_len) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    if (n < 2) return 0;
    fc_request_init();
    int strict = !(d[0] & 1);
    long limit_line = (d[0] & 2) ? 8190 : (long)d[1] + 1;
    long limit_fields = (d[0] & 4) ? 100 : (long)(d[1] & 15);
    long limit_fsize = (d[0] & 8) ? 8190 : (long)d[1] + 8;
    int cap = 1 + (d[0] >> 4);
    const unsigned char *b = d + 2;
    size_t len = n - 2;
    fc_field *f = (fc_field *)malloc((size_t)cap * sizeof *f);
    fc_head h;
    int rc;
    for (;;) {
        rc = fc_parse_head_ex(b, len, limit_line, limit_fields, limit_fsize, &h, f, cap, strict);
        if (rc != -2) break;
        cap *= 4;
        f = (fc_field *)realloc(f, (size_t)cap * sizeof *f);
    }
    if (rc == -1 && (h.status < 400 || h.status > 499 || !h.reason)) abort();
    if (rc == 1) {
        if (h.head_len > len || h.nfields > cap || h.nfields < 0) abort();
        check_span(h.method, h.head_len);
        check_span(h.target, h.head_len);
        check_span(h.version, h.head_len);
        for (int i = 0; i < h.nfields; i++) {
            check_span(f[i].name, h.head_len);
            check_span(f[i].value, h.head_len);
        }
        /* the bytes after a complete head never change its verdict */
        fc_head h2;
        int rc2 = fc_parse_head_ex(b, h.head_len, limit_line, limit_fields, limit_fsize, &h2,
                                   f, cap, strict);
        if (rc2 != 1 || h2.head_len != h.head_len || h2.nfields != h.nfields) abort();
    }
    free(f);
    return 0;
}

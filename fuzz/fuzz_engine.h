/* Shared set-up of the engine targets (serve_loop.c, fastlog.c): a small cache of real
 * files (in memory, by descriptor with each send strategy, empty, with mod_expires, with
 * KeepAlive Off) and a log set whose program uses every opcode, as the Python side
 * (fastcore/_fastpath.pyx put / set_log_set) would fill them. */
#ifndef FUZZ_ENGINE_H
#define FUZZ_ENGINE_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fc_fast.h"

static fc_fcache fz_cache;
static char fz_dir[64];

static void fz_op(char *prog, size_t *n, int op, const char *arg) {
    size_t al = arg ? strlen(arg) : 0;
    prog[(*n)++] = (char)op;
    prog[(*n)++] = (char)(al & 255);
    prog[(*n)++] = (char)(al >> 8);
    if (al) memcpy(prog + *n, arg, al);
    *n += al;
}

/* every opcode once, with the arguments compile_log_format gives them */
static char *fz_full_program(size_t *len) {
    char *p = (char *)malloc(1024);
    size_t n = 0;
    for (int op = OP_LIT; op < OP_MAX; op++) {
        const char *arg = NULL;
        if (op == OP_LIT) arg = " \"lit\" ";
        else if (op == OP_T_DIV) arg = "1000";
        else if (op == OP_HDR_IN) arg = "user-agent";
        fz_op(p, &n, op, arg);
        fz_op(p, &n, OP_LIT, " ");
    }
    fz_op(p, &n, OP_HDR_IN, "host");
    fz_op(p, &n, OP_HDR_IN, "x-repeat");
    *len = n;
    char *d = fc_dup(p, n);  /* NUL-terminated, as _fastpath's _dupb */
    free(p);
    return d;
}

static void fz_entry(const char *name, const char *target, const char *host, size_t size,
                     int want_content, int strategy, int keep_alive, int exp_kind) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", fz_dir, name);
    FILE *f = fopen(path, "wb");
    for (size_t i = 0; i < size; i++) fputc('a' + (int)(i % 26), f);
    fclose(f);
    struct stat st;
    stat(path, &st);
    fc_fentry *e = (fc_fentry *)calloc(1, sizeof *e);
    e->ffd = -1;
    e->has_host = host != NULL;
    e->host = fc_dup(host ? host : "", host ? strlen(host) : 0);
    e->hostlen = host ? strlen(host) : 0;
    e->target = fc_dup(target, strlen(target)); e->tlen = strlen(target);
    e->path = fc_dup(path, strlen(path));
    e->ino = st.st_ino; e->size = st.st_size;
    e->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    char mid[256];
    int ml = snprintf(mid, sizeof mid, "Last-Modified: Mon, 02 Nov 2026 10:00:00 GMT\r\n"
                      "ETag: \"%zx-1\"\r\nAccept-Ranges: bytes\r\nContent-Length: %zu\r\n",
                      size, size);
    e->mid = fc_dup(mid, (size_t)ml); e->midlen = (size_t)ml;
    e->exp_kind = exp_kind; e->exp_val = 3600 * 1000000LL;
    e->ctype = fc_dup("Content-Type: text/plain\r\n", 26); e->ctlen = 26;
    e->strategy = strategy;
    e->keep_alive = keep_alive; e->max_ka = 5; e->ka_int = 5;
    e->ka_timeout = 5.0; e->timeout = 60.0;
    e->log_set = 0;
    for (int i = 0; i < FC_NLV; i++) { e->lv[i] = fc_dup("v\\x01", 5); e->lvlen[i] = 5; }
    e->vhost = fc_dup("fuzz", 4); e->vhostlen = 4;
    if (fc_cache_insert(&fz_cache, e, want_content, 4096) != 1) abort();
}

static void fz_setup(void) {
    strcpy(fz_dir, "/tmp/fcfuzzXXXXXX");
    if (!mkdtemp(fz_dir)) abort();
    fc_cache_init(&fz_cache, 64, 1 << 20);
    const char *server = "Server: Apache/2.4.71 (Unix)\r\n";
    memcpy(fz_cache.server_line, server, strlen(server));
    fz_cache.server_len = strlen(server);
    fz_cache.sets = (fc_logset *)calloc(1, sizeof(fc_logset));
    fz_cache.nsets = 1;
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    for (int i = 0; i < 2; i++) {
        fz_cache.sets[0].logs[i].fd = devnull;
        fz_cache.sets[0].logs[i].buffered = i;
        fz_cache.sets[0].logs[i].prog = fz_full_program(&fz_cache.sets[0].logs[i].proglen);
    }
    fz_cache.sets[0].n = 2;
    fz_entry("a", "/a", "x", 100, 1, FC_S_SENDFILE, 1, 0);
    fz_entry("b", "/b", "x", 70000, 0, FC_S_SENDFILE, 1, FC_EXP_ACCESS);
    fz_entry("c", "/c", "x", 9000, 0, FC_S_WRITEV, 1, FC_EXP_AT);
    fz_entry("d", "/d", "x", 9000, 0, FC_S_READWRITE, 1, 0);
    fz_entry("e", "/e", "x", 0, 1, FC_S_SENDFILE, 1, 0);
    fz_entry("f", "/f?q=1", "x", 30, 1, FC_S_CORK, 0, 0);
    fz_entry("g", "/a", NULL, 100, 1, FC_S_AUTO, 1, 0);   /* HTTP/1.0 without Host */
}

/* every entry's only reference is the table's once a connection is done */
static void fz_check_refs(void) {
    for (size_t i = 0; i < fz_cache.nbuckets; i++)
        for (fc_fentry *e = fz_cache.buckets[i]; e; e = e->next)
            if (e->refs != 1) abort();
    if (fz_cache.count != 7) abort();
}
#endif

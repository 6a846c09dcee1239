/* fc_dirsig.h - revalidate a cached directory listing: one lstat per recorded entry,
 * without the GIL (mod_autoindex/cache.py, issue 12).
 *
 * A cached listing stays valid while every entry it stat'd still has the same inode,
 * mode, size, mtime and ctime (or still fails to stat).  The spec (made by
 * fastcore/_pure/dirsig.py's encode) is, per entry: the name, NUL, one byte (1: the
 * lstat succeeded, 0: it failed), then five little-endian 64-bit fields (inode, mode,
 * size, mtime ns, ctime ns; zero when it failed).  Names are relative to the directory,
 * which is opened once: fstatat(AT_SYMLINK_NOFOLLOW) per entry, as Apache's readdir +
 * lstat costs.  Any difference, an unreadable directory or a malformed spec answers 0.
 * Twin: fastcore/_pure/dirsig.py.
 */
#ifndef FC_DIRSIG_H
#define FC_DIRSIG_H
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FC_DIRSIG_FIELDS 41  /* flag + 5 x 8 bytes */

static uint64_t fc_dirsig_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--) v = (v << 8) | p[k];
    return v;
}

static int fc_dirsig_entry_ok(int dfd, const char *name, const unsigned char *f) {
    struct stat st;
    int r;
    do { r = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW); } while (r < 0 && errno == EINTR);
    if (r < 0) return f[0] == 0;
    if (f[0] != 1) return 0;
    int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    int64_t ctime = (int64_t)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
    return fc_dirsig_u64(f + 1) == (uint64_t)st.st_ino
        && fc_dirsig_u64(f + 9) == (uint64_t)st.st_mode
        && fc_dirsig_u64(f + 17) == (uint64_t)(int64_t)st.st_size
        && fc_dirsig_u64(f + 25) == (uint64_t)mtime
        && fc_dirsig_u64(f + 33) == (uint64_t)ctime;
}

/* 1 when every entry of `spec` still stats as recorded in directory `dir`, else 0. */
static int fc_dirsig_ok(const char *dir, const unsigned char *spec, size_t len) {
    int dfd;
    do { dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC); } while (dfd < 0 && errno == EINTR);
    if (dfd < 0) return 0;
    size_t i = 0;
    int ok = 1;
    while (ok && i < len) {
        const unsigned char *nul = (const unsigned char *)memchr(spec + i, 0, len - i);
        if (!nul || nul == spec + i || (size_t)(spec + len - (nul + 1)) < FC_DIRSIG_FIELDS) {
            ok = 0;
            break;
        }
        const char *name = (const char *)(spec + i);
        if (memchr(name, '/', (size_t)(nul - (spec + i)))) { ok = 0; break; }
        ok = fc_dirsig_entry_ok(dfd, name, nul + 1);
        i = (size_t)(nul + 1 - spec) + FC_DIRSIG_FIELDS;
    }
    close(dfd);  /* a read-only directory descriptor: nothing to flush, EINTR is harmless */
    return ok;
}
#endif

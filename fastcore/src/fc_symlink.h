/* fc_symlink.h - the symlink checks of Options -FollowSymLinks / SymLinksIfOwnerMatch,
 * repeated by the engine on every cache hit (issue 12), without the GIL.
 *
 * Apache's directory walk lstat()s each path component whose directory's Options lack
 * FollowSymLinks or carry SymLinksIfOwnerMatch, on every request.  Python records those
 * components at fill time (core/linkcheck.py encodes them: mode byte, path, NUL, each);
 * fc_links_ok redoes exactly those lstat()s, plus the target's stat() for a symlink under
 * SymLinksIfOwnerMatch (resolve_symlink's owner comparison).  Any failure answers 0: the
 * hit falls back to the Python path, which builds Apache's 403 and its error-log line.
 * Twin: fastcore/_pure/symlink.py.
 */
#ifndef FC_SYMLINK_H
#define FC_SYMLINK_H
#include "fc_stats.h"
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define FC_LINK_OWNER 'O'   /* follow when the target has the link's owner */
#define FC_LINK_REFUSE 'N'  /* refuse any symlink */

static int fc_lstat_retry(const char *path, struct stat *st, int follow) {
    int r;
    fc_st_fs(follow ? FC_FS_STAT : FC_FS_LSTAT);  /* fastcore_fs_calls_total (fc_stats.h) */
    do { r = follow ? stat(path, st) : lstat(path, st); } while (r < 0 && errno == EINTR);
    return r;
}

/* 1 when every recorded component passes its check, 0 otherwise (or malformed). */
static int fc_links_ok(const char *spec, size_t len) {
    size_t i = 0;
    while (i < len) {
        char mode = spec[i];
        const char *path = spec + i + 1;
        const char *nul = (const char *)memchr(path, 0, len - i - 1);
        if (!nul || nul == path || (mode != FC_LINK_OWNER && mode != FC_LINK_REFUSE))
            return 0;
        i = (size_t)(nul - spec) + 1;
        struct stat lst, tst;
        if (fc_lstat_retry(path, &lst, 0) < 0) return 0;
        if (!S_ISLNK(lst.st_mode)) continue;
        if (mode != FC_LINK_OWNER) return 0;
        if (fc_lstat_retry(path, &tst, 1) < 0) return 0;
        if (tst.st_uid != lst.st_uid) return 0;
    }
    return 1;
}

#endif /* FC_SYMLINK_H */

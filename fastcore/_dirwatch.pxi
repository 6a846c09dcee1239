# Included by _fastpath.pyx (issue 12): the Python face of fastcore/src/fc_dirwatch.h, the
# process's one inotify table.  Twin: fastcore/_pure/dirwatch.py (same API, ctypes).
from libc.stdint cimport uint64_t

from fastcore._pure.dirwatch import DirDep

cdef extern from "fc_dirwatch.h" nogil:
    ctypedef struct fc_dirwatch:
        int fd
        int limit
        int nslots
        uint64_t events
        uint64_t overflows
        uint64_t refused
    fc_dirwatch fc_dw_global
    int fc_dw_watch(fc_dirwatch *dw, const char *path, fc_dw_dep *out)
    int fc_dw_valid(fc_dirwatch *dw, const fc_dw_dep *deps, int n)
    void fc_dw_reset(fc_dirwatch *dw)
    int fc_dw_live(fc_dirwatch *dw)
    int fc_dw_set_names(fc_dirwatch *dw, const char *const *names, int n)

cdef int _set_deps(fc_fentry *e, tuple deps) except -1:
    """Copy DirDep pairs into an entry (freed with it)."""
    cdef int i
    if not deps:
        return 0
    e.deps = <fc_dw_dep *>calloc(len(deps), sizeof(fc_dw_dep))
    if e.deps == NULL:
        raise MemoryError()
    for i in range(len(deps)):
        e.deps[i].slot = deps[i].slot
        e.deps[i].gen = deps[i].gen
    e.ndeps = len(deps)
    return 0


cdef class DirWatch:
    """The process's directory watches (one per process: use dirwatch())."""

    def watch(self, bytes path) -> DirDep | None:
        """Watch a directory before reading from it; None when no watch can be had (the
        kernel's or the table's limit, a vanished directory, no inotify): the caller
        then keeps the answer out of the caches."""
        cdef fc_dw_dep d
        cdef const char *p = path
        cdef int rc
        d.slot = -1
        d.gen = 0
        with nogil:
            rc = fc_dw_watch(&fc_dw_global, p, &d)
        if rc < 0:
            return None
        return DirDep(d.slot, d.gen)

    def valid(self, tuple deps) -> bool:
        """Whether none of deps' directories changed since the pair was taken."""
        cdef fc_dw_dep *arr
        cdef int i, n = len(deps), ok
        if n == 0:
            return True
        arr = <fc_dw_dep *>calloc(n, sizeof(fc_dw_dep))
        if arr == NULL:
            raise MemoryError()
        for i in range(n):
            arr[i].slot = deps[i].slot
            arr[i].gen = deps[i].gen
        with nogil:
            ok = fc_dw_valid(&fc_dw_global, arr, n)
        free(arr)
        return bool(ok)

    def set_names(self, list names) -> bool:
        """The access file names (AccessFileName) whose writes count; a write to any
        other file changes no name in its directory.  False (every write then counts)
        for more than 8 names or a name of 256 bytes or more."""
        cdef const char *arr[8]
        cdef int i, rc
        if len(names) > 8:
            return fc_dw_set_names(&fc_dw_global, NULL, 9) == 0
        keep = [bytes(n) for n in names]
        for i in range(len(keep)):
            arr[i] = keep[i]
        rc = fc_dw_set_names(&fc_dw_global, arr, len(keep))
        return rc == 0

    def set_limit(self, int limit) -> None:
        """Test hook: the most watches the table takes (max_user_watches in small)."""
        fc_dw_global.limit = limit

    def reset(self) -> None:
        """Forget every watch: every pair handed out stops matching."""
        fc_dw_reset(&fc_dw_global)

    def stats(self) -> dict:
        return {"watches": fc_dw_live(&fc_dw_global), "events": fc_dw_global.events,
                "overflows": fc_dw_global.overflows, "refused": fc_dw_global.refused,
                "limit": fc_dw_global.limit}


_DIRWATCH = DirWatch()


def dirwatch() -> DirWatch:
    """The process's DirWatch (the engine's hits check the same table)."""
    return _DIRWATCH

# C API of fastcore._tls (fastcore/src/fc_tls.h): the process-wide table of TLS sessions
# by descriptor.  An extension doing connection I/O binds its copy of the table pointer
# at import, so its shims see the sessions mod_ssl created:
#
#     from fastcore._tls cimport fc_tls_g, shared_table
#     fc_tls_g = shared_table()


cdef extern from "fc_tls.h" nogil:
    ctypedef struct fc_tls_tab:
        int cap
        int nlisten
    fc_tls_tab *fc_tls_g
    ssize_t fc_io_read(int fd, void *buf, size_t n)
    int fc_io_pending(int fd)
    void fc_tls_forget(int fd)
    void fc_tls_shutdown(int fd)
    int fc_tls_accepted(int lfd, int fd)


cdef fc_tls_tab *shared_table() noexcept nogil

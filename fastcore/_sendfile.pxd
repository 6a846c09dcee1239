# C API of fastcore._sendfile for other .pyx files (all nogil; results >= 0 or -errno).
from libc.stdint cimport int64_t
from posix.types cimport off_t


cdef extern from "fc_send.h" nogil:
    int FC_S_WRITEV
    int FC_S_SENDFILE
    int FC_S_CORK
    int FC_S_READWRITE
    int FC_S_AUTO
    int FC_ETRUNC
    int FC_AUTO_SENDFILE_MIN
    ssize_t fc_send_response(int fd, const char *hdr, size_t hlen, int file_fd, off_t offset,
                             size_t count, int strategy, const char *body, size_t blen)
    int fc_lingering_close(int fd, int wait_ms, int max_ms)
    int fc_http_date(int64_t t, char *out)
    const char *fc_date_header(size_t *length)


cdef extern from "fc_send_bench.h" nogil:
    double fc_bench_send(int strategy, const char *hdr, size_t hlen, int file_fd, size_t count,
                         const char *body, long n, int cpu_send, int cpu_read, int *ok)


# Thin nogil aliases with the names promised in docs/internals.md.
cdef ssize_t send_response_c(int fd, const char *hdr, size_t hlen, int file_fd, off_t offset,
                             size_t count, int strategy, const char *body,
                             size_t blen) noexcept nogil
cdef int lingering_close_c(int fd, int wait_ms, int max_ms) noexcept nogil
cdef const char *date_header_c(size_t *length) noexcept nogil

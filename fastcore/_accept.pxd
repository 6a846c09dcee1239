# C declarations of the accept-serialization module, for nogil use by other .pyx files
# (the MPMs' Cython loops): `from fastcore._accept cimport Acceptor, acceptor_accept_c`.
from libc.stdint cimport int32_t, int64_t, uint64_t


cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    cdef struct sockaddr:
        unsigned short sa_family
    cdef struct sockaddr_storage:
        unsigned short ss_family


cdef extern from "fc_accept.h" nogil:
    enum:
        FC_M_NONE
        FC_M_FCNTL
        FC_M_FLOCK
        FC_M_SYSVSEM
        FC_M_POSIXSEM
        FC_M_PTHREAD
        FC_M_REUSEPORT
        FC_M_EPOLLEXCL
        FC_OK
        FC_TIMEDOUT
        FC_WOKEN
        FC_AGAIN
        FC_ERROR
        FC_INTR
        FC_WAKE_EINTR
        FC_MAX_LISTENERS

    ctypedef struct fc_shared_t:
        int32_t holder
        uint64_t owner_dead

    ctypedef struct fc_mutex_t:
        int mech
        int fd
        int semid
        fc_shared_t *shm
        int32_t pid
        int32_t creator
        char path[512]

    ctypedef struct fc_acceptor_t:
        int nfds
        int fds[64]
        int wake_r
        int wake_w
        int epfd
        int epoll
        fc_mutex_t *mutex
        int flags
        int intr
        uint64_t backoffs


cdef class AcceptMutex:
    cdef fc_mutex_t m
    cdef bint alive
    cdef readonly str mechanism     # resolved mechanism
    cdef readonly str requested     # as given ("default" stays visible here)
    cdef readonly str lock_dir
    cdef _check(self)


cdef class Acceptor:
    cdef fc_acceptor_t a
    cdef bint alive
    cdef readonly AcceptMutex mutex
    cdef readonly bint serialized   # True when accept() takes the mutex
    cdef readonly bint nonblock
    cdef readonly str mode          # "serialized", "unserialized" or "epollexclusive"


# The nogil C API (one copy, in this module, so the fork generation counter is shared).
# Return values: FC_OK / FC_TIMEDOUT / FC_WOKEN, or -errno. deadline_ns is absolute
# CLOCK_MONOTONIC (<0: wait for ever); wake_fd is a pipe checked when a signal interrupts.
cdef int mutex_lock_c(fc_mutex_t *m, int64_t deadline_ns, int wake_fd) noexcept nogil
cdef int mutex_unlock_c(fc_mutex_t *m) noexcept nogil
# Returns the accepted fd (SOCK_CLOEXEC, +SOCK_NONBLOCK when asked) with peer/plen filled,
# or -1 with status FC_TIMEDOUT / FC_WOKEN, or FC_ERROR and err = errno.
cdef int acceptor_accept_c(fc_acceptor_t *a, int64_t timeout_ns, sockaddr_storage *peer,
                           socklen_t *plen, int *status, int *err) noexcept nogil
cdef int64_t monotonic_ns_c() noexcept nogil

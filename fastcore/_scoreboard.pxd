# C declarations of the shared-memory scoreboard, for nogil use by other .pyx files:
#
#     from fastcore._scoreboard cimport Scoreboard, sb_add, sb_request_end, FC_SB_ACCESSES
#     cdef fc_sb_t *p = (<Scoreboard>board).sb
#     with nogil:
#         sb_request_end(p, slot, nbytes)
#
# The sb_* functions are static inline C (fastcore/src/fc_scoreboard.h), compiled into the
# caller with the same FC_ATOMICS_CAS as this module (setup.py defines it for every extension).
# They do no bounds checks: pass a counter in [0, FC_SB_NCOUNTERS) and a slot < nslots.
from libc.stdint cimport int32_t, int64_t, uint64_t
from posix.time cimport timespec


cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_mutex_t:
        pass


cdef extern from "fc_atomic.h" nogil:
    ctypedef struct fc_counter_t:
        int64_t value
    int64_t FC_COUNTER_ERR
    int fc_pmutex_init(pthread_mutex_t *m)
    int fc_pmutex_lock(pthread_mutex_t *m)
    int fc_pmutex_timedlock(pthread_mutex_t *m, const timespec *deadline)
    int fc_pmutex_unlock(pthread_mutex_t *m)


cdef extern from "fc_stats.h" nogil:
    enum:
        FC_ST_VHOSTS
        FC_ST_OTHER
        FC_ST_NAME_LEN
        FC_ST_CLASSES
        FC_ST_BOUNDS
        FC_ST_FS
        FC_FR_N
    ctypedef struct fc_st_head_t:
        int32_t nvhosts
        char names[64][64]
    ctypedef struct fc_strec_t:
        uint64_t requests[64][5]
        uint64_t bytes[64][5]
        uint64_t buckets[17]
        uint64_t dur_ns
        uint64_t fast
        uint64_t full[17]
        uint64_t fs[3]
        uint64_t cache_hits
        uint64_t cache_evictions
        int64_t cache_entries
        int64_t cache_bytes
    double fc_st_bounds[16]
    void fc_st_request(fc_strec_t *r, int vhost, int status, uint64_t nbytes, double seconds)
    int fc_st_vhost_index(const fc_st_head_t *h, const char *name, size_t n)


cdef extern from "fc_scoreboard.h" nogil:
    enum:
        FC_SB_ACCESSES
        FC_SB_BYTES
        FC_SB_BUSY
        FC_SB_IDLE
        FC_SB_NCOUNTERS
        FC_SB_REQ_LEN
        FC_SB_CLIENT_LEN
        FC_SB_VHOST_LEN
    ctypedef struct fc_slot_t:
        int32_t pid
        int32_t tid
        int64_t generation
        uint64_t accesses
        uint64_t bytes
        double start
        double end
        char status
        char request[64]
        char client[48]
        char vhost[32]
        double duration
    ctypedef struct fc_sb_global_t:
        uint64_t magic
        double start_time
        int64_t generation
        int32_t server_limit
        int32_t thread_limit
    ctypedef struct fc_sb_t:
        fc_counter_t counters[4]
        fc_sb_global_t glob "global"
        fc_slot_t slots[1]
    size_t fc_sb_size(int nslots)
    size_t fc_sb_map_size(int server_limit, int thread_limit)
    fc_st_head_t *fc_sb_st_head(fc_sb_t *sb)
    fc_strec_t *fc_sb_strec(fc_sb_t *sb, int i)
    int fc_sb_nrecords(fc_sb_t *sb)
    int fc_sb_init(fc_sb_t *sb, int server_limit, int thread_limit)
    double fc_sb_now()
    int fc_sb_valid_status(char s)

    # the nogil API for other .pyx files
    int64_t sb_add "fc_sb_add"(fc_sb_t *sb, int counter, int64_t delta)
    int sb_cas "fc_sb_cas"(fc_sb_t *sb, int counter, int64_t expected, int64_t desired)
    int64_t sb_get "fc_sb_get"(fc_sb_t *sb, int counter)
    void sb_set_status "fc_sb_set_status"(fc_sb_t *sb, int slot, char status)
    char sb_get_status "fc_sb_get_status"(fc_sb_t *sb, int slot)
    void sb_slot_init "fc_sb_slot_init"(fc_sb_t *sb, int slot, int32_t pid, int32_t tid,
                                        int64_t generation)
    void sb_request_start "fc_sb_request_start"(fc_sb_t *sb, int slot, const char *req,
                                                size_t reqlen, const char *client,
                                                size_t clientlen, const char *vhost,
                                                size_t vhostlen)
    void sb_request_end "fc_sb_request_end"(fc_sb_t *sb, int slot, int64_t nbytes)


cdef class Scoreboard:
    cdef fc_sb_t *sb
    cdef size_t maplen
    cdef readonly int server_limit
    cdef readonly int thread_limit
    cdef readonly int nslots
    cdef fc_sb_t *_ptr(self) except NULL
    cdef int _slot_index(self, long slot) except -1
    cdef int _counter_index(self, long counter) except -1


cdef class ProcessMutex:
    cdef pthread_mutex_t *mtx
    cdef size_t maplen

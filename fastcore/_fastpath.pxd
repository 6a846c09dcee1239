# C API of fastcore._fastpath (fastcore/src/fc_fast.h) for other .pyx files, e.g. an MPM
# loop that serves cache hits without the GIL:
#
#     from fastcore._fastpath cimport FastConn, fc_serve, FC_FALLBACK
#     with nogil:
#         rc = fc_serve(conn.cache.c_ptr(), &conn.k)
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint64_t
from fastcore._scoreboard cimport fc_sb_t


cdef extern from "fc_rwprobe.h" nogil:
    int FC_PROBES_MAX
    ctypedef struct fc_probe:
        char *path
        int kind
        int64_t mode
        int64_t size
        int64_t mtime_ns
        int64_t ctime_ns
        int64_t ino
    void fc_probes_free(fc_probe *p, int n)
cdef extern from "fc_vary.h" nogil:
    # Accept-Encoding variants of an entry (issue 13)
    int FC_VAR_MAX
    int FC_VAR_UNDECIDED
    ctypedef struct fc_variant:
        char coding[16]
        size_t clen
        char *mid
        size_t midlen
        char *body
        size_t blen
    void fc_variants_free(fc_variant *v, int n)
    int fc_accepts_coding(const char *value, size_t n, const char *coding, size_t cl)
    int fc_vary_pick(const fc_variant *vars, int nvar, const char *ae, size_t aelen, int nfields)


cdef extern from "fc_upgrade.h" nogil:
    int FC_UPG_ROOM


cdef extern from "fc_fast.h" nogil:
    # SetEnvIf rules of an entry (fc_setenvif.h, included by fc_fast.h; issue 13)
    int FC_ENV_MAX
    ctypedef struct fc_envcheck:
        int kind
        char *name
        size_t nl
        char *pat
        size_t pl
        int icase
        void *re
    void fc_envchecks_free(fc_envcheck *c, int n)
    int fc_envcheck_compile(fc_envcheck *c, unsigned int options)
cdef extern from "fc_dirwatch.h" nogil:
    ctypedef struct fc_dw_dep:  # issue 12: a directory an entry rests on (_dirwatch.pxi)
        int slot
        uint64_t gen


cdef extern from "fc_fast.h" nogil:
    int FC_WANT_READ
    int FC_WANT_WRITE
    int FC_CLOSED
    int FC_FALLBACK
    int FC_CONN_BUF
    int FC_HDR_MAX
    int FC_NLV
    int FC_MAX_LOGS
    int FC_NEG_FIELDS
    ctypedef struct fc_negview:  # fc_negkey.h
        const char *v[4]
        size_t l[4]
        int n[4]
        int negotiate
        int proto
    fc_negview *fc_neg_copy(const char **v, const size_t *l, const int *present, int proto)
    void fc_neg_free(fc_negview *k)
    ctypedef struct fc_fentry:
        int64_t addr_key
        int has_host
        char *host
        size_t hostlen
        char *target
        size_t tlen
        char *path
        long ino
        long size
        int64_t mtime_ns
        char *mid
        size_t midlen
        int exp_kind
        int64_t exp_val
        char *ctype
        size_t ctlen
        char *content
        int ffd
        int strategy
        int keep_alive
        int max_ka
        int ka_int
        double ka_timeout
        double timeout
        int log_set
        char *lv[7]
        size_t lvlen[7]
        char *vhost
        size_t vhostlen
        fc_probe *probes  # fc_rwprobe.h (mod_rewrite's outcomes, issue 14)
        int nprobes
        int fixed
        char *sline
        size_t slen
        char *links
        size_t linkslen
        unsigned char *peer
        size_t peerlen
        int64_t ctime_ns
        fc_variant *var
        int nvar
        char *upg
        size_t upglen
        fc_envcheck *env
        int nenv
        fc_dw_dep *deps
        int ndeps
        int host_need
        fc_negview *neg
    ctypedef struct fc_flog:
        int fd
        int buffered
        char *prog
        size_t proglen
    ctypedef struct fc_logset:
        int n
        fc_flog logs[8]
    ctypedef struct fc_fcache:
        size_t count
        size_t max_entries
        size_t content_bytes
        size_t budget
        char server_line[256]
        size_t server_len
        size_t limit_line
        size_t limit_fields
        size_t limit_field_size
        fc_logset *sets
        int nsets
        uint64_t hits
        uint64_t fallbacks
        uint64_t evictions
        int draining
    ctypedef struct fc_fconn:
        int fd
        uint8_t blocking
        char *buf
        size_t start
        size_t len
        uint8_t has_out
        long requests
        uint8_t closing
        uint8_t eof
        char client[64]
        uint8_t clientlen
        char *rhost
        uint8_t rhostlen
        uint8_t dns_level
        uint8_t dns_confirmed
        uint16_t remote_port
        int64_t addr_key
        fc_sb_t *sb
        int slot
        int proc
        uint8_t reason
        double timeout
        double ka_timeout

    int fc_cache_init(fc_fcache *c, size_t max_entries, size_t budget)
    void fc_cache_clear(fc_fcache *c)
    int fc_cache_insert(fc_fcache *c, fc_fentry *e, int want_content, size_t small_max)
    void fc_cache_link(fc_fcache *c, fc_fentry *e)
    int fc_cache_link_fixed(fc_fcache *c, fc_fentry *e)
    fc_fentry *fc_cache_get(fc_fcache *c, int64_t ak, int has_host, const char *host, size_t hl,
                            const char *t, size_t tl, const fc_negview *nv)
    void fc_cache_release(fc_fcache *c, fc_fentry *e, int evict)
    int fc_cache_remove(fc_fcache *c, int64_t ak, int has_host, const char *host, size_t hl,
                        const char *t, size_t tl)
    void fc_log_emit(fc_fcache *c, int fd, int buffered, const char *line, size_t n)
    void fc_log_flush(fc_fcache *c)
    int fc_head_may_use_cache(const fc_fcache *c, const char *p, size_t n)
    char *fc_dup(const char *p, size_t n)
    int fc_conn_init(fc_fconn *k, int fd, int blocking)
    void fc_conn_forget_host(fc_fconn *k)
    int fc_conn_set_host(fc_fconn *k, const char *p, size_t n)
    void fc_conn_free(fc_fcache *c, fc_fconn *k)
    void fc_conn_drop_output(fc_fcache *c, fc_fconn *k)
    int fc_serve(fc_fcache *c, fc_fconn *k)


cdef class FastCache:
    cdef fc_fcache c
    cdef size_t small_max
    cdef bint ready
    cdef fc_fcache *c_ptr(self) noexcept


cdef class FastConn:
    cdef fc_fconn k
    cdef readonly FastCache cache
    cdef object sbref
    cdef bint live


cdef extern from "fc_fast.h" nogil:
    int FC_TIMEOUT
    int fc_serve_blocking(fc_fcache *c, fc_fconn *k, double first_wait)
    int fc_set_sndtimeo(int fd, double sec)


cdef extern from "fc_fastloop.h" nogil:
    int FC_EXPIRED
    int FC_EV_RAW
    int FC_EV_BATCH
    ctypedef struct fc_evloop:
        int epfd
        uint64_t served
        unsigned char *listener
        fc_sb_t *sb
        int proc
        double timeout
        double ka_timeout
        double first_timeout
        long accept_budget
        uint64_t accepted
        int owned
        int cap
    int fc_ev_init(fc_evloop *L, int epfd, int cap, fc_fcache *cache)
    void fc_ev_free(fc_evloop *L)
    int fc_ev_attach(fc_evloop *L, fc_fconn *k, double wait_s)
    void fc_ev_detach(fc_evloop *L, int fd, int unregister)
    int fc_ev_wait(fc_evloop *L, int timeout_ms, int *out_fd, int *out_code, unsigned int *out_ev,
                   int max_out)
    int FC_EV_OWNED
    fc_fconn *fc_ev_adopt(fc_evloop *L, int fd)
    void fc_ev_census(fc_evloop *L, int *out)


cdef class EventLoop:
    cdef fc_evloop L
    cdef readonly FastCache cache
    cdef dict refs
    cdef bint live
    cdef object sbref


cdef extern from "fc_expires.h" nogil:
    int FC_EXP_MAX
    size_t fc_expiry_fields(int kind, int64_t value, int64_t now_us, char *out)


cdef extern from "fc_keepalive.h" nogil:
    int FC_KA_HDR_MAX
    ctypedef struct fc_ka_in:
        int http11
        int close_token
        int ka_token
        int status
        int delimited
        int forced_close
        int framing_reusable
        int unanswered_continue
        int keep_alive
        long max_requests
        long requests
        int timeout
        int draining
    int fc_keepalive(const fc_ka_in *inp, char *out, size_t *len)


cdef extern from "fc_symlink.h" nogil:
    int fc_links_ok(const char *spec, size_t len)


cdef extern from "fc_ipmatch.h" nogil:
    int fc_peer_granted(const unsigned char *prog, size_t len, const char *client,
                        size_t clientlen)
    ctypedef struct fc_host:
        int state
        const char *name
        size_t len
    int fc_peer_granted_host(const unsigned char *prog, size_t len, const char *client,
                             size_t clientlen, const fc_host *host)

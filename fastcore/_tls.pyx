# cython: language_level=3
"""mod_ssl's OpenSSL layer: contexts built from the directives, listeners bound to them,
and what the request path reads of a connection's TLS state (the SSL_* variables).

The sessions themselves live in C (src/fc_tls.h): every extension that reads or writes a
connection goes through its shims, so the engine serves HTTPS cache hits without the GIL
and the Python path reads and writes TLS connections through the same calls.
"""
from libc.stdlib cimport calloc, free
from libc.string cimport memset, strlen
from libc.errno cimport EAGAIN, errno
from cpython.bytes cimport PyBytes_FromStringAndSize
from posix.resource cimport rlimit, getrlimit, RLIMIT_NOFILE

import os as _os


cdef extern from "<openssl/ssl.h>" nogil:
    ctypedef struct SSL_CTX
    ctypedef struct SSL
    ctypedef struct SSL_METHOD
    ctypedef struct SSL_CIPHER
    ctypedef struct SSL_SESSION
    ctypedef struct SSL_CONF_CTX
    ctypedef struct X509
    ctypedef struct X509_NAME
    ctypedef struct X509_STORE_CTX
    ctypedef struct BIO
    ctypedef struct ASN1_INTEGER
    ctypedef struct ASN1_TIME
    ctypedef struct EVP_PKEY
    ctypedef struct stack_st_X509_NAME
    const SSL_METHOD *TLS_server_method()
    SSL_CTX *SSL_CTX_new(const SSL_METHOD *m)
    void SSL_CTX_free(SSL_CTX *c)
    unsigned long SSL_CTX_set_options(SSL_CTX *c, unsigned long op)
    unsigned long SSL_CTX_clear_options(SSL_CTX *c, unsigned long op)
    long SSL_CTX_set_mode(SSL_CTX *c, long mode)
    void SSL_CTX_set_read_ahead(SSL_CTX *c, int yes)
    int SSL_CTX_set_min_proto_version(SSL_CTX *c, int v)
    int SSL_CTX_set_max_proto_version(SSL_CTX *c, int v)
    int SSL_CTX_set_cipher_list(SSL_CTX *c, const char *s)
    int SSL_CTX_set_ciphersuites(SSL_CTX *c, const char *s)
    int SSL_CTX_use_certificate_chain_file(SSL_CTX *c, const char *f)
    int SSL_CTX_use_PrivateKey_file(SSL_CTX *c, const char *f, int t)
    int SSL_CTX_check_private_key(const SSL_CTX *c)
    int SSL_CTX_add_extra_chain_cert(SSL_CTX *c, X509 *x)
    int SSL_CTX_load_verify_locations(SSL_CTX *c, const char *f, const char *p)
    stack_st_X509_NAME *SSL_load_client_CA_file(const char *f)
    void SSL_CTX_set_client_CA_list(SSL_CTX *c, stack_st_X509_NAME *l)
    void SSL_CTX_set_verify(SSL_CTX *c, int mode, int (*cb)(int, X509_STORE_CTX *))
    void SSL_CTX_set_verify_depth(SSL_CTX *c, int d)
    long SSL_CTX_set_session_cache_mode(SSL_CTX *c, long m)
    long SSL_CTX_sess_set_cache_size(SSL_CTX *c, long t)
    long SSL_CTX_set_timeout(SSL_CTX *c, long t)
    int SSL_CTX_set_session_id_context(SSL_CTX *c, const unsigned char *p, unsigned int n)
    long SSL_CTX_set_tlsext_servername_callback(SSL_CTX *c, int (*cb)(SSL *, int *, void *))
    SSL_CONF_CTX *SSL_CONF_CTX_new()
    unsigned int SSL_CONF_CTX_set_flags(SSL_CONF_CTX *c, unsigned int f)
    void SSL_CONF_CTX_set_ssl_ctx(SSL_CONF_CTX *c, SSL_CTX *x)
    int SSL_CONF_cmd(SSL_CONF_CTX *c, const char *cmd, const char *value)
    int SSL_CONF_CTX_finish(SSL_CONF_CTX *c)
    void SSL_CONF_CTX_free(SSL_CONF_CTX *c)
    int SSL_get_ex_new_index(long argl, void *argp, void *a, void *b, void *c)
    const char *SSL_get_version(const SSL *s)
    const SSL_CIPHER *SSL_get_current_cipher(const SSL *s)
    const char *SSL_CIPHER_get_name(const SSL_CIPHER *c)
    int SSL_CIPHER_get_bits(const SSL_CIPHER *c, int *alg)
    int SSL_session_reused(const SSL *s)
    SSL_SESSION *SSL_get_session(const SSL *s)
    const unsigned char *SSL_SESSION_get_id(const SSL_SESSION *s, unsigned int *n)
    const char *SSL_get_servername(const SSL *s, int t)
    X509 *SSL_get_certificate(const SSL *s)
    X509 *SSL_get1_peer_certificate(const SSL *s)
    long SSL_get_verify_result(const SSL *s)
    int SSL_get_secure_renegotiation_support(SSL *s)
    int SSL_is_init_finished(const SSL *s)
    const char *OpenSSL_version(int t)
    unsigned long OpenSSL_version_num()
    int SSL_FILETYPE_PEM
    int TLSEXT_NAMETYPE_host_name
    int SSL_VERIFY_NONE
    int SSL_VERIFY_PEER
    int SSL_VERIFY_FAIL_IF_NO_PEER_CERT
    long SSL_SESS_CACHE_SERVER
    long SSL_SESS_CACHE_OFF
    unsigned int SSL_CONF_FLAG_SERVER
    unsigned int SSL_CONF_FLAG_FILE
    unsigned int SSL_CONF_FLAG_CERTIFICATE
    unsigned int SSL_CONF_FLAG_SHOW_ERRORS
    unsigned long SSL_OP_NO_COMPRESSION
    unsigned long SSL_OP_CIPHER_SERVER_PREFERENCE
    unsigned long SSL_OP_NO_TICKET
    unsigned long SSL_OP_NO_RENEGOTIATION
    unsigned long SSL_OP_ENABLE_KTLS
    unsigned long SSL_OP_IGNORE_UNEXPECTED_EOF
    long SSL_MODE_ENABLE_PARTIAL_WRITE
    long SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
    long SSL_MODE_RELEASE_BUFFERS
    int OPENSSL_VERSION

cdef extern from "<openssl/x509.h>" nogil:
    X509_NAME *X509_get_subject_name(const X509 *x)
    X509_NAME *X509_get_issuer_name(const X509 *x)
    int X509_NAME_print_ex(BIO *out, const X509_NAME *nm, int indent, unsigned long flags)
    void X509_free(X509 *x)
    long X509_get_version(const X509 *x)
    ASN1_INTEGER *X509_get_serialNumber(X509 *x)
    const ASN1_TIME *X509_get0_notBefore(const X509 *x)
    const ASN1_TIME *X509_get0_notAfter(const X509 *x)
    int X509_STORE_CTX_get_error(X509_STORE_CTX *c)
    const char *X509_verify_cert_error_string(long n)
    int PEM_write_bio_X509(BIO *b, X509 *x)
    X509 *PEM_read_bio_X509(BIO *b, X509 **x, void *cb, void *u)
    int i2a_ASN1_INTEGER(BIO *b, const ASN1_INTEGER *a)
    int ASN1_TIME_print(BIO *b, const ASN1_TIME *t)
    unsigned long XN_FLAG_RFC2253
    long X509_V_OK
    int X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
    int X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
    int X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    int X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
    int X509_V_ERR_CERT_UNTRUSTED
    int X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT

cdef extern from "<openssl/bio.h>" nogil:
    ctypedef struct BIO_METHOD
    const BIO_METHOD *BIO_s_mem()
    BIO *BIO_new(const BIO_METHOD *m)
    BIO *BIO_new_file(const char *f, const char *mode)
    long BIO_get_mem_data(BIO *b, char **pp)
    int BIO_free(BIO *b)

cdef extern from "<openssl/err.h>" nogil:
    void ERR_clear_error()

cdef extern from "fc_tls.h" nogil:
    int FC_TLS_PLAIN
    int FC_TLS_DONE
    int FC_TLS_SNI_MAX
    ctypedef struct fc_tls_name:
        char *name
        int wild
        SSL_CTX *ctx
        int vhost
    ctypedef struct fc_tls_listen:
        SSL_CTX *ctx
        int vhost
        int hs_ms, hs_max_ms, hs_rate
        int n
        fc_tls_name names[256]
    ctypedef struct fc_tls_conn:
        SSL *ssl
        int flags
        int vhost
    ctypedef struct fc_tls_tab_full "fc_tls_tab":
        int cap
        fc_tls_conn *conns
        fc_tls_listen **listen
        int ex_idx
        int nlisten
    void fc_tls_errtext(char *out, size_t cap)
    double fc_tls_hs_left(int fd)
    int fc_tls_hello_cb(SSL *ssl, int *alert, void *arg)
    int fc_tls_ktls_built()
    void fc_tls_ktls_ctx(SSL_CTX *c)
    void fc_tls_chain_ctx(SSL_CTX *c)


cdef extern from "fc_tlscache.h" nogil:
    ctypedef struct fc_tc:
        unsigned int nslots
        size_t bytes
        unsigned long long stores, replaces, expires, too_big, hits, misses
        unsigned long long remove_hits, remove_misses
    ctypedef struct fc_tc_usage:
        unsigned int entries
        unsigned long long used_bytes
        long long left_min, left_max, left_sum
    fc_tc *fc_tc_g
    void fc_tc_usage_of(fc_tc *c, fc_tc_usage *u)
    int fc_tc_create(size_t nbytes)
    void fc_tc_attach(SSL_CTX *ctx)


cdef extern from "fc_tlskeys.h" nogil:
    int fc_tk_attach(SSL_CTX *ctx, long length)


cdef extern from *:
    """
    /* SSLVerifyClient optional_no_ca: mod_ssl's ssl_verify_error_is_optional errors
     * pass (the request sees SSL_CLIENT_VERIFY GENEROUS) */
    static int fc_tls_verify_no_ca(int ok, X509_STORE_CTX *x) {
        if (ok) return 1;
        switch (X509_STORE_CTX_get_error(x)) {
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        case X509_V_ERR_CERT_UNTRUSTED:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
            return 1;
        }
        return 0;
    }
    static int fc_tls_has_compression(void) {
        STACK_OF(SSL_COMP) *m = SSL_COMP_get_compression_methods();
        return m != NULL && sk_SSL_COMP_num(m) > 0;
    }
    static int fc_tls_set_sni(SSL_CTX *c) {
        SSL_CTX_set_client_hello_cb(c, fc_tls_hello_cb, NULL);
        SSL_CTX_set_alpn_select_cb(c, fc_tls_alpn_cb, NULL);
        return 1;
    }
    """
    int fc_tls_verify_no_ca(int ok, X509_STORE_CTX *x) noexcept nogil
    int fc_tls_set_sni(SSL_CTX *c)
    int fc_tls_has_compression()


# ------------------------------------------------------------------ the shared table
cdef fc_tls_tab_full _table


cdef fc_tls_tab *shared_table() noexcept nogil:
    return <fc_tls_tab *>&_table


cdef int _init_table() except -1:
    cdef rlimit rl
    cdef long cap = 65536
    if getrlimit(RLIMIT_NOFILE, &rl) == 0 and rl.rlim_max > <unsigned long>cap:
        cap = <long>rl.rlim_max if rl.rlim_max < (1 << 20) else (1 << 20)
    memset(&_table, 0, sizeof(_table))
    # untouched pages of these are never resident: a process pays for the fds it uses
    _table.conns = <fc_tls_conn *>calloc(cap, sizeof(fc_tls_conn))
    _table.listen = <fc_tls_listen **>calloc(cap, sizeof(fc_tls_listen *))
    if not _table.conns or not _table.listen:
        raise MemoryError("fastcore._tls: no room for the descriptor table")
    _table.cap = <int>cap
    _table.ex_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL)
    return 0


_init_table()
fc_tls_g = shared_table()

VERSION_LIBRARY = OpenSSL_version(OPENSSL_VERSION).decode()


class TLSError(Exception):
    """A context could not be built: `item` names the directive at fault."""

    def __init__(self, item: str, message: str) -> None:
        super().__init__(message)
        self.item = item


cdef str _errtext():
    cdef char buf[1024]
    fc_tls_errtext(buf, sizeof(buf))
    return buf.decode("utf-8", "replace")


def compression_available() -> bool:
    """This OpenSSL has a TLS compression method (SSLCompression on needs one)."""
    return fc_tls_has_compression() != 0


def ktls_available() -> bool:
    """The kernel's tls module is loaded (kTLS could carry SSL_sendfile)."""
    return _os.path.isdir("/sys/module/tls")


def ktls_built() -> bool:
    """This libssl was built with kTLS (OPENSSL_NO_KTLS unset in the headers fastcore was
    compiled against, which are the library's: libssl-dev)."""
    return fc_tls_ktls_built() != 0


cdef class Context:
    """One SSL_CTX: a virtual host's certificates and TLS settings."""
    cdef SSL_CTX *ctx
    cdef public str label

    def __dealloc__(self):
        if self.ctx:
            SSL_CTX_free(self.ctx)

    def release(self) -> None:
        """The parent's reference, once a restart replaced its generation (the frozen heap
        may never collect it); the last one unmaps the ticket key ring too."""
        if self.ctx:
            SSL_CTX_free(self.ctx)
            self.ctx = NULL

    def build(self, params) -> None:
        """Apply a mod_ssl server record (fastcore.modules.mod_ssl.config.TLSParams)."""
        cdef SSL_CTX *c = SSL_CTX_new(TLS_server_method())
        cdef SSL_CONF_CTX *cc
        cdef BIO *bio
        cdef X509 *x
        cdef bytes b1, b2
        cdef long mode
        cdef int rc
        if not c:
            raise TLSError("SSLEngine", "SSL_CTX_new failed: " + _errtext())
        self.ctx = c
        ERR_clear_error()
        SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                         | SSL_MODE_RELEASE_BUFFERS)
        SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION)  # mod_ssl refuses client-initiated
        # a client that closes without close_notify keeps its session resumable, as with
        # Apache (whose BIO never reports EOF to OpenSSL, so OpenSSL 3 does not call it a
        # fatal truncation and drop the session from the shared cache)
        SSL_CTX_set_options(c, SSL_OP_IGNORE_UNEXPECTED_EOF)
        # one read() takes what the socket holds, not a record header then its body (as
        # nginx); every wait for readability first asks fc_io_pending
        SSL_CTX_set_read_ahead(c, 1)
        if not params.compression:
            SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION)
        if params.honor_cipher_order:
            SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE)
        if not params.session_tickets:
            SSL_CTX_set_options(c, SSL_OP_NO_TICKET)
        else:  # keys shared by the children, one per SSLSessionCacheTimeout period
            rc = fc_tk_attach(c, params.session_timeout)
            if rc < 0:
                raise TLSError("SSLSessionTickets", "could not map the session ticket keys: "
                               + _os.strerror(-rc))
        # kTLS where the kernel has it, decided here in the parent (every child inherits the
        # context): the handshake then gives the sending keys to the kernel and file bodies
        # leave by SSL_sendfile.  Set before SSLOpenSSLConfCmd, so `Options -KTLS` turns it
        # off and `Options KTLS` asks for it even without the module (OpenSSL then tries,
        # fails to attach the tls ULP and encrypts itself).  Apache has no directive for it.
        if fc_tls_ktls_built() and ktls_available():
            SSL_CTX_set_options(c, SSL_OP_ENABLE_KTLS)
        if params.proto_min and not SSL_CTX_set_min_proto_version(c, params.proto_min):
            raise TLSError("SSLProtocol", _errtext())
        if params.proto_max and not SSL_CTX_set_max_proto_version(c, params.proto_max):
            raise TLSError("SSLProtocol", _errtext())
        if params.ciphers:
            b1 = params.ciphers.encode()
            if not SSL_CTX_set_cipher_list(c, b1):
                raise TLSError("SSLCipherSuite", "AH01898: Unable to configure permitted SSL "
                               f"ciphers (SSL Library Error: {_errtext()})")
        if params.ciphers13:
            b1 = params.ciphers13.encode()
            if not SSL_CTX_set_ciphersuites(c, b1):
                raise TLSError("SSLCipherSuite", "AH10127: Unable to configure permitted "
                               f"TLSv1.3 ciphers (SSL Library Error: {_errtext()})")
        vid = params.session_id_context
        for cert, key in params.pairs:
            b1 = cert.encode()
            if SSL_CTX_use_certificate_chain_file(c, b1) != 1:
                raise TLSError("SSLCertificateFile",
                               f"AH02561: Failed to configure certificate {vid}:0, check "
                               f"{cert} (SSL Library Error: {_errtext()})")
            b2 = (key or cert).encode()
            if SSL_CTX_use_PrivateKey_file(c, b2, SSL_FILETYPE_PEM) != 1:
                raise TLSError("SSLCertificateKeyFile",
                               f"AH02564: Failed to configure encrypted (?) private key "
                               f"{vid}:0, check {key or cert} (SSL Library Error: "
                               f"{_errtext()})")
            if SSL_CTX_check_private_key(c) != 1:
                ERR_clear_error()
                raise TLSError("SSLCertificateKeyFile",
                               f"AH02565: Certificate and private key {vid}:0 from {cert} "
                               f"and {key or cert} do not match")
        if params.chain_file:
            b1 = params.chain_file.encode()
            bio = BIO_new_file(b1, "r")
            if not bio:
                raise TLSError("SSLCertificateChainFile", f"Unable to read {params.chain_file}")
            while True:
                x = PEM_read_bio_X509(bio, NULL, NULL, NULL)
                if not x:
                    break
                SSL_CTX_add_extra_chain_cert(c, x)
            BIO_free(bio)
            ERR_clear_error()
        if params.ca_file or params.ca_path:
            b1 = (params.ca_file or "").encode()
            b2 = (params.ca_path or "").encode()
            if SSL_CTX_load_verify_locations(c, <const char *>b1 if params.ca_file else NULL,
                                             <const char *>b2 if params.ca_path else NULL) != 1:
                raise TLSError("SSLCACertificateFile",
                               f"Unable to configure verify locations for client "
                               f"authentication ({_errtext()})")
            if params.ca_file:
                SSL_CTX_set_client_CA_list(c, SSL_load_client_CA_file(b1))
        if params.verify:
            mode = SSL_VERIFY_PEER
            if params.verify == "require":
                mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT
            if params.verify == "optional_no_ca":
                SSL_CTX_set_verify(c, <int>mode, fc_tls_verify_no_ca)
            else:
                SSL_CTX_set_verify(c, <int>mode, NULL)
        else:
            SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL)
        SSL_CTX_set_verify_depth(c, params.verify_depth)
        if params.shared_cache:  # shmcb: one cache for every child (fc_tlscache.h)
            rc = fc_tc_create(params.shared_cache)
            if rc < 0:
                raise TLSError("SSLSessionCache", "could not map the shared session cache: "
                               + _os.strerror(-rc))
            fc_tc_attach(c)
        elif params.session_cache:
            SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER)
        else:
            SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF)
        SSL_CTX_set_timeout(c, params.session_timeout)
        b1 = params.session_id_context.encode()[:32]
        SSL_CTX_set_session_id_context(c, b1, <unsigned int>len(b1))
        if params.conf_cmds:
            cc = SSL_CONF_CTX_new()
            SSL_CONF_CTX_set_flags(cc, SSL_CONF_FLAG_SERVER | SSL_CONF_FLAG_FILE |
                                   SSL_CONF_FLAG_CERTIFICATE | SSL_CONF_FLAG_SHOW_ERRORS)
            SSL_CONF_CTX_set_ssl_ctx(cc, c)
            for name, value in params.conf_cmds:
                b1, b2 = name.encode(), value.encode()
                if SSL_CONF_cmd(cc, b1, b2) <= 0:
                    SSL_CONF_CTX_free(cc)
                    raise TLSError("SSLOpenSSLConfCmd",
                                   f"\"SSLOpenSSLConfCmd {name} {value}\" failed "
                                   f"({_errtext()})")
            SSL_CONF_CTX_finish(cc)
            SSL_CONF_CTX_free(cc)
        fc_tls_ktls_ctx(c)  # sending only, whatever the configuration left on (fc_tls.h)
        fc_tls_chain_ctx(c)  # no per-handshake chain search where it can find nothing
        fc_tls_set_sni(c)
        ERR_clear_error()


def bind(int lfd, Context default, int vhost, names, handshake=None) -> None:
    """Make listener lfd a TLS port: default is its first vhost's context; names is
    [(name, Context, vhost index)] in vhost order, for SNI; handshake is that vhost's
    RequestReadTimeout handshake stage (a fastcore.core.readclock.Stage), or None."""
    if lfd < 0 or lfd >= _table.cap:
        raise ValueError(f"listener descriptor {lfd} beyond the TLS table")
    if default.ctx == NULL:
        raise ValueError("a released context cannot be bound")
    cdef fc_tls_listen *L = _table.listen[lfd]
    if L == NULL:
        L = <fc_tls_listen *>calloc(1, sizeof(fc_tls_listen))
        if L == NULL:
            raise MemoryError()
        _table.listen[lfd] = L
        _table.nlisten += 1
    else:
        _free_names(L)
    L.ctx = default.ctx
    L.vhost = vhost
    L.hs_ms = L.hs_max_ms = L.hs_rate = 0
    if handshake is not None and handshake.timeout > 0:
        L.hs_ms = <int>min(handshake.timeout, 2147483) * 1000
        L.hs_max_ms = <int>min(handshake.max_timeout, 2147483) * 1000
        L.hs_rate = <int>handshake.min_rate
    cdef Context cx
    cdef bytes nb
    cdef int i = 0
    for name, cx, vh in names[:FC_TLS_SNI_MAX]:
        if cx.ctx == NULL:
            raise ValueError("a released context cannot be bound")
        nb = name.lower().encode()
        L.names[i].name = <char *>calloc(len(nb) + 1, 1)
        if L.names[i].name == NULL:
            raise MemoryError()
        for j in range(len(nb)):
            L.names[i].name[j] = nb[j]
        L.names[i].wild = 1 if (b"*" in nb or b"?" in nb) else 0
        L.names[i].ctx = cx.ctx
        L.names[i].vhost = vh
        i += 1
        L.n = i


cdef void _free_names(fc_tls_listen *L) noexcept:
    for i in range(L.n):
        free(L.names[i].name)
        L.names[i].name = NULL
    L.n = 0


def handshake_left(int fd) -> float:
    """Seconds left of fd's RequestReadTimeout handshake stage while its handshake runs
    (0.0: expired), or -1.0 when no stage runs."""
    return fc_tls_hs_left(fd)


def unbind_all() -> None:
    """A new generation binds its own listeners (the contexts of the old one may go:
    live sessions hold their own reference to their SSL_CTX)."""
    for fd in range(_table.cap if _table.nlisten else 0):
        if _table.listen[fd] != NULL:
            _free_names(_table.listen[fd])
            free(_table.listen[fd])
            _table.listen[fd] = NULL
    _table.nlisten = 0


def read(int fd, size_t n) -> bytes:
    """read() through the connection's session; b'' at EOF; BlockingIOError when nothing
    is there yet (a handshake in progress included)."""
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    cdef char *p = out
    cdef ssize_t r
    cdef int e = 0
    with nogil:
        r = fc_io_read(fd, p, n)
        if r < 0:
            e = errno
    if r < 0:
        if e == EAGAIN:
            raise BlockingIOError(e, "Resource temporarily unavailable")
        raise OSError(e, _os.strerror(e))
    return out[:r] if <size_t>r != n else out


def pending(int fd) -> bool:
    return fc_io_pending(fd) != 0


def forget(int fd) -> None:
    fc_tls_forget(fd)


def shutdown(int fd) -> None:
    fc_tls_shutdown(fd)


cdef fc_tls_conn *_conn(int fd) noexcept:
    if fd < 0 or fd >= _table.cap:
        return NULL
    return &_table.conns[fd]


def state(int fd) -> tuple:
    """(kind, vhost): kind 0 plain connection, 1 TLS, 2 plain HTTP on a TLS port."""
    cdef fc_tls_conn *c = _conn(fd)
    if c == NULL or (c.ssl == NULL and not c.flags):
        return 0, -1
    if c.flags & FC_TLS_PLAIN:
        return 2, c.vhost
    return 1, c.vhost


cdef str _bio_text(BIO *b):
    cdef char *p
    cdef long n = BIO_get_mem_data(b, &p)
    s = p[:n].decode("utf-8", "replace") if n > 0 else ""
    BIO_free(b)
    return s


cdef str _dn(X509_NAME *nm):
    cdef BIO *b = BIO_new(BIO_s_mem())
    X509_NAME_print_ex(b, nm, 0, XN_FLAG_RFC2253)
    return _bio_text(b)


cdef str _serial(X509 *x):
    cdef BIO *b = BIO_new(BIO_s_mem())
    i2a_ASN1_INTEGER(b, X509_get_serialNumber(x))
    return _bio_text(b)


cdef str _time(const ASN1_TIME *t):
    cdef BIO *b = BIO_new(BIO_s_mem())
    ASN1_TIME_print(b, t)
    return _bio_text(b)


cdef str _pem(X509 *x):
    cdef BIO *b = BIO_new(BIO_s_mem())
    PEM_write_bio_X509(b, x)
    return _bio_text(b)


cdef void _cert_vars(dict out, str prefix, X509 *x, bint export):
    out[prefix + "M_VERSION"] = str(X509_get_version(x) + 1)
    out[prefix + "M_SERIAL"] = _serial(x)
    out[prefix + "V_START"] = _time(X509_get0_notBefore(x))
    out[prefix + "V_END"] = _time(X509_get0_notAfter(x))
    out[prefix + "S_DN"] = _dn(X509_get_subject_name(x))
    out[prefix + "I_DN"] = _dn(X509_get_issuer_name(x))
    for part in out[prefix + "S_DN"].split(","):
        k, _, v = part.partition("=")
        out.setdefault(prefix + "S_DN_" + k.strip(), v)
    for part in out[prefix + "I_DN"].split(","):
        k, _, v = part.partition("=")
        out.setdefault(prefix + "I_DN_" + k.strip(), v)
    if export:
        out[prefix + "CERT"] = _pem(x)


def variables(int fd, bint export_certs=False) -> dict:
    """The SSL_* variables of a connection (empty for a plain one), as mod_ssl's
    ssl_var_lookup names them."""
    cdef fc_tls_conn *c = _conn(fd)
    cdef dict out = {}
    cdef const SSL_CIPHER *ci
    cdef int alg = 0, use
    cdef SSL_SESSION *sess
    cdef const unsigned char *sid
    cdef unsigned int sidlen = 0
    cdef const char *sn
    cdef X509 *x
    cdef long vr
    if c == NULL or c.ssl == NULL:
        return out
    out["HTTPS"] = "on"
    out["SSL_VERSION_INTERFACE"] = "mod_ssl/fastcore"
    out["SSL_VERSION_LIBRARY"] = VERSION_LIBRARY.split(" ")[0] + "/" + VERSION_LIBRARY.split(" ")[1]
    out["SSL_PROTOCOL"] = SSL_get_version(c.ssl).decode()
    ci = SSL_get_current_cipher(c.ssl)
    if ci != NULL:
        out["SSL_CIPHER"] = SSL_CIPHER_get_name(ci).decode()
        use = SSL_CIPHER_get_bits(ci, &alg)
        out["SSL_CIPHER_USEKEYSIZE"] = str(use)
        out["SSL_CIPHER_ALGKEYSIZE"] = str(alg)
        out["SSL_CIPHER_EXPORT"] = "true" if use < 56 else "false"
    out["SSL_COMPRESS_METHOD"] = "NULL"
    out["SSL_SECURE_RENEG"] = "true" if SSL_get_secure_renegotiation_support(c.ssl) else "false"
    sess = SSL_get_session(c.ssl)
    if sess != NULL:
        sid = SSL_SESSION_get_id(sess, &sidlen)
        out["SSL_SESSION_ID"] = bytes(sid[:sidlen]).hex().upper() if sidlen else ""
    out["SSL_SESSION_RESUMED"] = "Resumed" if SSL_session_reused(c.ssl) else "Initial"
    sn = SSL_get_servername(c.ssl, TLSEXT_NAMETYPE_host_name)
    if sn != NULL:
        out["SSL_TLS_SNI"] = sn.decode("ascii", "replace")
    x = SSL_get_certificate(c.ssl)
    if x != NULL:
        _cert_vars(out, "SSL_SERVER_", x, export_certs)
    x = SSL_get1_peer_certificate(c.ssl)
    if x == NULL:
        out["SSL_CLIENT_VERIFY"] = "NONE"
    else:
        vr = SSL_get_verify_result(c.ssl)
        if vr == X509_V_OK:
            out["SSL_CLIENT_VERIFY"] = "SUCCESS"
        else:  # optional_no_ca let it through; the result keeps the error (as mod_ssl)
            out["SSL_CLIENT_VERIFY"] = "FAILED:" + X509_verify_cert_error_string(vr).decode()
        _cert_vars(out, "SSL_CLIENT_", x, export_certs)
        X509_free(x)
    return out


def cache_stats() -> dict:
    """The shared session cache's slots and counters (empty without one)."""
    cdef fc_tc_usage u
    if fc_tc_g == NULL:
        return {}
    fc_tc_usage_of(fc_tc_g, &u)
    return {"bytes": fc_tc_g.bytes, "slots": fc_tc_g.nslots, "entries": u.entries,
            "used_bytes": u.used_bytes, "left_min": u.left_min, "left_max": u.left_max,
            "left_avg": u.left_sum // u.entries if u.entries else 0,
            "stores": fc_tc_g.stores, "replaces": fc_tc_g.replaces,
            "expires": fc_tc_g.expires, "discards": fc_tc_g.too_big,
            "hits": fc_tc_g.hits, "misses": fc_tc_g.misses,
            "remove_hits": fc_tc_g.remove_hits, "remove_misses": fc_tc_g.remove_misses}

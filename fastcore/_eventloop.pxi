# EventLoop: the event MPM's GIL-free epoll loop over FastConn connections
# (src/fc_fastloop.h); included by _fastpath.pyx.

cdef class EventLoop:
    """The event MPM listener's wait: epoll on `epfd` (shared with Python's epoll object),
    serving attached idle keep-alive connections inline without the GIL."""

    def __cinit__(self, FastCache cache, int epfd, int capacity=65536):
        if fc_ev_init(&self.L, epfd, capacity, &cache.c) < 0:
            raise MemoryError()
        self.cache = cache
        self.refs = {}
        self.live = True

    def attach(self, FastConn conn, double wait) -> None:
        """Give an idle connection (nothing buffered, no output) to the loop until it needs
        Python again or `wait` seconds pass without a request.  Any thread."""
        cdef int rc
        if not self.live:
            raise ValueError("closed event loop")
        if conn.cache is not self.cache:
            raise ValueError("connection of another cache")
        self.refs[conn.k.fd] = conn
        conn.k.slot = -1  # the listener has no scoreboard slot: global counters only
        rc = fc_ev_attach(&self.L, &conn.k, wait)
        if rc < 0:
            self.refs.pop(conn.k.fd, None)
            raise OSError(-rc, "epoll attach failed")

    def add_listener(self, int fd) -> None:
        """The loop accepts on this (non-blocking) listener itself, when the caller has it
        registered in the epoll set; new connections live in C until they need Python."""
        if not 0 <= fd < self.L.cap:
            raise ValueError("descriptor out of range")
        self.L.listener[fd] = 1

    def configure_conns(self, scoreboard, double timeout, double keep_alive_timeout,
                        double first_timeout=0, int proc=-1) -> None:
        """Scoreboard (global counters) and Timeout/KeepAliveTimeout of accepted connections;
        first_timeout > 0 bounds the wait for a new connection's first request (mod_reqtimeout)."""
        if scoreboard is not None:
            if not isinstance(scoreboard, Scoreboard):
                raise TypeError("the fast path needs the compiled scoreboard")
            self.sbref = scoreboard
            self.L.sb = (<Scoreboard>scoreboard).sb
        self.L.timeout = timeout
        self.L.ka_timeout = keep_alive_timeout
        self.L.first_timeout = first_timeout
        self.L.proc = proc  # the child's index: its process stats record

    property accept_budget:
        """Connections the loop may still accept (-1: no limit; MaxConnectionsPerChild)."""
        def __get__(self): return self.L.accept_budget
        def __set__(self, long v): self.L.accept_budget = v

    @property
    def accepted(self) -> int:
        return self.L.accepted

    @property
    def owned(self) -> int:
        return self.L.owned

    def census(self) -> tuple:
        """(held, keep-alive, writing, lingering): the connections the loop holds, by state."""
        cdef int out[4]
        fc_ev_census(&self.L, out)
        return out[0], out[1], out[2], out[3]

    def adopt(self, int fd):
        """(FastConn, peer) of a connection the loop accepted and now gives to Python."""
        cdef fc_fconn *k = fc_ev_adopt(&self.L, fd)
        cdef FastConn conn
        if k == NULL:
            return None
        conn = FastConn.__new__(FastConn, self.cache, fd, False, b"")
        fc_conn_free(&self.cache.c, &conn.k)
        memcpy(&conn.k, k, sizeof(fc_fconn))
        free(k)
        conn.sbref = self.sbref
        peer = (conn.k.client[:conn.k.clientlen].decode("latin-1"), conn.k.remote_port)
        return conn, peer

    def detach(self, int fd, bint unregister=True):
        """Take a connection back (listener thread); returns its FastConn or None."""
        fc_ev_detach(&self.L, fd, unregister)
        return self.refs.pop(fd, None)

    def wait(self, double timeout) -> list:
        """[(fd, code, epoll events)]: RAW for descriptors the loop does not own, else the
        result of serving an attached connection (it is detached) or EXPIRED."""
        cdef int fds[128]
        cdef int codes[128]
        cdef unsigned int evs[128]
        cdef int n, i
        cdef int ms = -1 if timeout < 0 else <int>(timeout * 1000)
        if not self.live:
            raise ValueError("closed event loop")
        with nogil:
            n = fc_ev_wait(&self.L, ms, fds, codes, evs, 128)
        if n < 0:
            raise OSError(-n, "epoll_wait failed")
        out = []
        for i in range(n):
            if codes[i] != FC_EV_RAW and not codes[i] & FC_EV_OWNED:
                self.refs.pop(fds[i], None)
            out.append((fds[i], codes[i], evs[i]))
        return out

    @property
    def served(self) -> int:
        return self.L.served

    @property
    def attached(self) -> int:
        return len(self.refs)

    def close(self) -> None:
        """Forget attached connections (their descriptors are the caller's)."""
        if self.live:
            self.refs.clear()
            fc_ev_free(&self.L)
            self.live = False

    def __dealloc__(self):
        if self.live:
            fc_ev_free(&self.L)

"""Session tickets under prefork: one set of keys for every child, rotated on a timer.

What a client sees: a ticket issued by one child resumes on the others; the ticket's key
name (its first 16 bytes, RFC 5077) is one per period of SSLSessionCacheTimeout seconds,
changes when the period does, and a ticket of the previous period still resumes (and is
replaced by one under the current key) while one two periods old does not.  With
SSLSessionTickets off no ticket is issued and resumption goes through the shared cache.

Children are told apart without looking inside the server: a prefork child holds one
connection at a time, so connections kept open together are served by as many children.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import time

import pytest
from support.apache_oracle import ApacheOracle
from support.ports import free_port
from support.tlscerts import Certs, make

MODULES = ("mpm_prefork", "authz_core", "mime", "headers", "socache_shmcb", "ssl")
CHILDREN = 4
PERIOD = 2  # SSLSessionCacheTimeout of the rotation test: the ticket key period

SITE = """
StartServers {children}
MinSpareServers {children}
MaxSpareServers {children}
MaxRequestWorkers 8
KeepAlive On
DocumentRoot "{www}"
Listen 127.0.0.1:{tport} https
{extra}
Header always set X-TLS "%{{SSL_SESSION_RESUMED}}s"
<VirtualHost 127.0.0.1:{tport}>
  ServerName a.test
  SSLEngine on
  SSLCertificateFile "{crt}"
  SSLCertificateKeyFile "{key}"
</VirtualHost>
"""
REQUEST = b"GET /index.html HTTP/1.1\r\nHost: a.test\r\n\r\n"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make(str(tmp_path_factory.mktemp("certs")))


def _server(tmp_path, certs: Certs, extra: str) -> tuple[ApacheOracle, int]:
    www = tmp_path / "www"
    www.mkdir(exist_ok=True)
    (www / "index.html").write_text("x\n")
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    tport = free_port()
    site = SITE.format(children=CHILDREN, www=www, tport=tport, extra=extra,
                       crt=certs.ec.cert, key=certs.ec.key)
    return ApacheOracle(str(run), site, modules=MODULES, fastcore=True), tport


def _children(srv: ApacheOracle) -> list[int]:
    assert srv.proc is not None
    out = subprocess.run(["pgrep", "-P", str(srv.proc.pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _wait_children(srv: ApacheOracle) -> None:
    deadline = time.monotonic() + 10
    while len(_children(srv)) < CHILDREN:
        assert time.monotonic() < deadline, "the prefork children did not start"
        time.sleep(0.05)


def _client(certs: Certs, tls: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(certs.ca.cert)
    version = ssl.TLSVersion.TLSv1_2 if tls == "1.2" else ssl.TLSVersion.TLSv1_3
    ctx.minimum_version = ctx.maximum_version = version
    return ctx


def _answer(s: ssl.SSLSocket) -> str:
    """One keep-alive answer read whole; its X-TLS header (SSL_SESSION_RESUMED)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, "connection closed before the answer"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    mark = re.search(rb"(?im)^x-tls:\s*(\S+)", head)
    assert head.startswith(b"HTTP/1.1 200") and length and mark, head
    size = int(length.group(1))
    while len(body) < size:
        chunk = s.recv(65536)
        assert chunk, "connection closed inside the body"
        body += chunk
    return mark.group(1).decode()


def _held(port: int, ctx: ssl.SSLContext, session: ssl.SSLSession | None, n: int
          ) -> list[tuple[bool, str, ssl.SSLSession]]:
    """n connections open at once (so on n prefork children), each offering `session`:
    (resumed as the client saw it, as the server reported it, the session it ends with)."""
    socks: list[ssl.SSLSocket] = []
    out = []
    try:
        for _ in range(n):
            raw = socket.create_connection(("127.0.0.1", port), timeout=10)
            s = ctx.wrap_socket(raw, server_hostname="a.test", session=session)
            socks.append(s)
            s.sendall(REQUEST)
            mark = _answer(s)  # read: TLS 1.3 tickets arrive after the handshake
            out.append((s.session_reused, mark, s.session))
    finally:
        for s in socks:
            try:  # close_notify: a session whose connection ends unclean may be dropped
                s.unwrap()
            except (OSError, ValueError):
                pass
            s.close()
    return out


@pytest.mark.parametrize("tls", ["1.2", "1.3"])
def test_a_ticket_from_one_child_resumes_on_every_other(tmp_path, certs: Certs,
                                                        tls: str) -> None:
    """Twelve connections, four at a time (four children), offer the ticket of a first
    one: all resume from the ticket alone (no session cache is configured)."""
    srv, port = _server(tmp_path, certs, "")
    with srv:
        _wait_children(srv)
        ctx = _client(certs, tls)
        [(reused, mark, sess)] = _held(port, ctx, None, 1)
        assert (reused, mark, sess.has_ticket) == (False, "Initial", True)
        seen = []
        for _ in range(3):
            seen += [(r, m) for r, m, _ in _held(port, ctx, sess, CHILDREN)]
    assert seen == [(True, "Resumed")] * 12


# ------------------------------------------------------------------ rotation (openssl)
HEXLINE = re.compile(r"^\s*[0-9a-f]{4} - ((?:[0-9a-f]{2}[ -]){0,15}[0-9a-f]{2})")


def _last_ticket(text: str) -> bytes:
    """The last session ticket s_client printed (SSL_SESSION_print's hex dump): the one
    the client holds at the end; b'' when it printed none."""
    lines = text.splitlines()
    starts = [i for i, ln in enumerate(lines) if ln.strip() == "TLS session ticket:"]
    if not starts:
        return b""
    out = b""
    for ln in lines[starts[-1] + 1:]:
        m = HEXLINE.match(ln)
        if not m:
            break
        out += bytes.fromhex(m.group(1).replace("-", " "))
    return out


class SClient:
    """openssl s_client: it prints the session it ends with, ticket included, and keeps
    the session of a full handshake in a file to offer again."""

    def __init__(self, folder: str, port: int, ca: str) -> None:
        self.folder, self.port, self.ca, self.n = folder, port, ca, 0

    def connect(self, tls: str, sess_in: str | None = None) -> tuple[bool, bytes, str]:
        """(resumed, the ticket it ends with, the file of a new session)."""
        self.n += 1
        out = os.path.join(self.folder, f"sess{self.n}.pem")
        argv = ["openssl", "s_client", "-connect", f"127.0.0.1:{self.port}", "-servername",
                "a.test", "-CAfile", self.ca, "-tls1_2" if tls == "1.2" else "-tls1_3",
                "-sess_out", out, "-ign_eof"]
        if sess_in:
            argv += ["-sess_in", sess_in]
        start = int(time.time()) // PERIOD
        res = subprocess.run(argv, input=REQUEST.replace(b"\r\n\r\n", b"\r\nConnection: "
                                                         b"close\r\n\r\n"),
                             capture_output=True, timeout=10)
        assert int(time.time()) // PERIOD == start, "one exchange spanned two key periods"
        text = res.stdout.decode("latin-1")
        assert "HTTP/1.1 200" in text, text[-500:]
        assert ("Reused, TLS" in text) != ("New, TLS" in text)
        return "Reused, TLS" in text, _last_ticket(text), out


def _at(phase: float) -> int:
    """Sleep until `phase` seconds into a period (the next time it comes); its index."""
    now = time.time()
    time.sleep((phase - now % PERIOD) % PERIOD)
    return int(time.time()) // PERIOD


def test_ticket_keys_rotate_each_period_and_two_periods_old_is_refused(tmp_path,
                                                                       certs: Certs) -> None:
    """SSLSessionCacheTimeout 2: the key period is 2 s.  Within a period every ticket,
    whichever child issued it, names one key; the next period's tickets name another;
    a ticket of the previous period resumes and comes back under the current key; one two
    periods old is refused (a full handshake).  TLS 1.2 and 1.3 side by side."""
    srv, port = _server(tmp_path, certs, f"SSLSessionCacheTimeout {PERIOD}")
    c = SClient(str(tmp_path), port, certs.ca.cert)
    both = ("1.2", "1.3")
    with srv:
        _wait_children(srv)
        p = _at(0.9)  # late in the period: what it issues is still young in the next
        first, name = {}, {}
        for tls in both:
            reused, ticket, first[tls] = c.connect(tls)
            assert not reused and len(ticket) > 16
            name[tls] = ticket[:16]
            reused, other, _ = c.connect(tls)  # whichever child: the same key
            assert not reused and other[:16] == name[tls] and other != ticket
            reused, kept, _ = c.connect(tls, first[tls])
            # the current key's ticket is not renewed: TLS 1.3 gets no new ticket, and
            # the TLS 1.2 session keeps its own
            assert reused and kept in (b"", ticket)
        assert _at(0.1) == p + 1
        for tls in both:
            reused, renewed, _ = c.connect(tls, first[tls])
            assert reused and renewed[:16] != name[tls]  # renewed under the new key
            name[tls] = renewed[:16]
        assert _at(0.9) == p + 1
        previous = {}
        for tls in both:
            reused, ticket, previous[tls] = c.connect(tls)
            assert not reused and ticket[:16] == name[tls]  # one key for the period
        assert _at(0.1) == p + 2
        for tls in both:
            assert c.connect(tls, first[tls])[0] is False  # two periods old: refused
            reused, renewed, _ = c.connect(tls, previous[tls])
            assert reused and renewed[:16] != name[tls]  # the previous period's: renewed


# ------------------------------------------------------------------ tickets off
def test_tickets_off_issues_none_and_resumes_through_the_shared_cache(tmp_path,
                                                                      certs: Certs) -> None:
    """SSLSessionTickets off with shmcb: no encrypted ticket is issued (TLS 1.2: no
    ticket at all; TLS 1.3: a 32-byte session id as the PSK identity, where a ticket of
    ours holds name, IV, sealed session and MAC), and the other children resume the
    session from the cache they share."""
    srv, port = _server(tmp_path, certs, f'SSLSessionTickets off\nSSLSessionCache '
                        f'"shmcb:{tmp_path}/run/scache(512000)"')
    c = SClient(str(tmp_path), port, certs.ca.cert)
    with srv:
        _wait_children(srv)
        for tls in ("1.2", "1.3"):
            ctx = _client(certs, tls)
            [(reused, mark, sess)] = _held(port, ctx, None, 1)
            assert (reused, mark) == (False, "Initial")
            assert sess.has_ticket is (tls == "1.3")
            seen = _held(port, ctx, sess, CHILDREN)
            assert [(r, m) for r, m, _ in seen] == [(True, "Resumed")] * CHILDREN
            reused, ticket, _ = c.connect(tls)
            assert not reused and len(ticket) == (0 if tls == "1.2" else 32)


# ------------------------------------------------------------------ restarts
def _shared_maps(pid: int) -> int:
    """Anonymous shared mappings of a process (/dev/zero in its maps)."""
    with open(f"/proc/{pid}/maps") as fh:
        return sum(1 for ln in fh if "/dev/zero" in ln and ln.split()[1].endswith("s"))


def test_graceful_restarts_keep_the_parents_mappings_level(tmp_path, certs: Certs) -> None:
    """Each generation's contexts get their own key rings; a graceful restart leaves the
    parent with as many shared mappings as before, and the new children issue tickets."""
    srv, port = _server(tmp_path, certs, "")
    with srv:
        assert srv.proc is not None
        _wait_children(srv)
        before = _shared_maps(srv.proc.pid)
        for _ in range(3):
            old = set(_children(srv))
            os.kill(srv.proc.pid, signal.SIGUSR1)
            deadline = time.monotonic() + 10
            while set(_children(srv)) & old or len(_children(srv)) < CHILDREN:
                assert time.monotonic() < deadline, "the restart did not renew the children"
                time.sleep(0.05)
        assert _shared_maps(srv.proc.pid) == before
        ctx = _client(certs, "1.3")
        [(reused, mark, sess)] = _held(port, ctx, None, 1)
        assert sess.has_ticket
        assert [r for r, _, _ in _held(port, ctx, sess, 2)] == [True, True]

"""kTLS (issue 15): file bodies over TLS leave by SSL_sendfile when the kernel encrypts.

mod_ssl's contexts get SSL_OP_ENABLE_KTLS when the parent builds them on a kernel with the
tls module (/sys/module/tls); `SSLOpenSSLConfCmd Options -KTLS` turns it off and
`Options KTLS` asks OpenSSL for it regardless.  What the server did is read from strace
attached to its processes (-f -e trace=...): with kTLS a 1 MiB body leaves by sendfile(2)
on the socket; without it, by pread64 of the file and writes of records OpenSSL
encrypted.  The site has EnableSendfile On: with Apache's default (Off) a body is mapped
and written with SSL_write, which kTLS also hands to the kernel to encrypt.  Attaching strace to the TCP_ULP attempts also shows that only the sending side
is offloaded: one `setsockopt(..., TCP_ULP, "tls")` per connection, for TLS 1.2 as for
TLS 1.3 (OpenSSL 3.0 would offload TLS 1.2's receiving side too, fc_tls.h).

test_ktls_sends_a_file_by_sendfile is the one test of the suite that may skip: it needs
the kernel's tls module, and says so when it is missing.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import pytest
from harness import strace
from support.apache_oracle import ApacheOracle
from support.ports import free_port
from support.tlscerts import Certs, make
from support.tlsclient import Client, context, exchange, req

KTLS_LOADED = os.path.isdir("/sys/module/tls")
NO_MODULE = "kernel has no tls module (/sys/module/tls missing): kTLS cannot engage"
SIZE = 1 << 20

SITE = """
StartServers 1
ServerLimit 1
ThreadsPerChild 4
MinSpareThreads 1
MaxSpareThreads 4
MaxRequestWorkers 4
DocumentRoot "{www}"
EnableSendfile On
Listen 127.0.0.1:{tport} https
SSLEngine on
SSLCertificateFile "{crt}"
SSLCertificateKeyFile "{key}"
{extra}
"""
MODULES = ("mpm_event", "authz_core", "mime", "ssl")
CLIENTS = (Client(tls="1.3"), Client(tls="1.2"))


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make(str(tmp_path_factory.mktemp("certs")))


def _server(tmp_path, certs: Certs, extra: str = "", modules: tuple[str, ...] = MODULES
            ) -> tuple[ApacheOracle, int, bytes]:
    www = tmp_path / "www"
    www.mkdir()
    body = os.urandom(SIZE)
    (www / "big.bin").write_bytes(body)
    (www / "small.txt").write_bytes(b"ready\n")
    run = str(tmp_path / "run")
    os.makedirs(run)
    tport = free_port()
    site = SITE.format(www=www, tport=tport, crt=certs.ec.cert, key=certs.ec.key,
                       extra=extra)
    return ApacheOracle(run, site, modules=modules, fastcore=True), tport, body


def _pids(srv: ApacheOracle, tport: int, certs: Certs) -> list[int]:
    """The server's processes once its child serves the TLS port (the parent answers the
    plain port's probe before it has forked the child)."""
    assert srv.proc is not None
    deadline = time.monotonic() + 20
    while True:
        got, _ = exchange(tport, certs, Client(), req("a.test", "/small.txt"))
        kids = [int(p) for p in os.popen(f"pgrep -P {srv.proc.pid}").read().split()]
        if got.outcome == "answer" and got.status == 200 and kids:
            return [srv.proc.pid, *kids]
        assert time.monotonic() < deadline, f"no child serving the TLS port: {got}"
        time.sleep(0.1)


def _traced(pids: list[int], calls: str, action: Callable[[], None]) -> str:
    """The strace -f lines of `calls` made by every thread of pids while action() runs."""
    tids = strace.threads_of(pids)
    with tempfile.TemporaryDirectory(prefix="fc-ktls-") as td:
        out, err = os.path.join(td, "trace"), os.path.join(td, "stderr")
        cmd = [strace.STRACE, "-f", "-e", f"trace={calls}", "-o", out]
        for pid in pids:
            cmd += ["-p", str(pid)]
        with open(err, "wb") as ef:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=ef)
        try:
            deadline = time.monotonic() + 10
            while True:
                with open(err, "rb") as f:
                    attached = strace.count_attached(f.read().decode("utf-8", "replace"))
                if attached >= len(tids):
                    break
                assert proc.poll() is None and time.monotonic() < deadline, \
                    f"strace attached to {attached}/{len(tids)} threads"
                time.sleep(0.02)
            action()
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        with open(out) as f:
            return f.read()


def _fetch_all(tport: int, certs: Certs, body: bytes) -> list[str]:
    """GET /big.bin with a TLS 1.3 then a TLS 1.2 client; the protocols they spoke."""
    seen = []
    for client in CLIENTS:
        got, _ = exchange(tport, certs, client, req("a.test", "/big.bin"))
        assert got.outcome == "answer" and got.status == 200, (client, got.outcome, got.body[:80])
        assert len(got.body) == SIZE and got.body == body, (client, len(got.body))
        seen.append(got.version)
    return seen


def _sendfile_bytes(trace: str) -> int:
    """Bytes that sendfile(2) calls of the trace moved (only mod_ssl's SSL_sendfile sends
    files on a TLS port)."""
    return sum(int(m.group(1)) for m in re.finditer(r"sendfile\(.*\) = (\d+)", trace))


def _version_lines() -> dict[str, str]:
    """-V's kTLS lines: {"FC_KTLS": state, "FC_KTLS_OPENSSL": how libssl was built}."""
    out = subprocess.run([sys.executable, "-m", "fastcore", "-V"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return dict(ln.strip().removeprefix("-D ").split("=", 1) for ln in out.stdout.splitlines()
                if ln.startswith((" -D FC_KTLS=", " -D FC_KTLS_OPENSSL=")))


def test_ktls_sends_a_file_by_sendfile(tmp_path, certs: Certs) -> None:
    if not KTLS_LOADED:
        pytest.skip(NO_MODULE)
    assert _version_lines()["FC_KTLS"] == "used (kernel tls module loaded)"
    srv, tport, body = _server(tmp_path, certs)
    with srv:
        versions: list[str] = []
        trace = _traced(_pids(srv, tport, certs), "sendfile,pread64",
                        lambda: versions.extend(_fetch_all(tport, certs, body)))
    assert versions == ["TLSv1.3", "TLSv1.2"]
    # both bodies went by sendfile (the kernel encrypted them), none was pread
    assert _sendfile_bytes(trace) >= 2 * SIZE, trace[-2000:]
    assert "pread64(" not in trace, trace[-2000:]


def test_without_ktls_a_file_is_read_and_encrypted_by_openssl(tmp_path, certs: Certs) -> None:
    """Runs on every kernel: Options -KTLS keeps OpenSSL encrypting (what this machine
    always does), the 1 MiB body is whole on TLS 1.3 and 1.2, and -V says whether the
    kernel could do it."""
    from fastcore._ext import load

    built = load("tls").ktls_built()  # Debian's libssl3 is
    expected = ("not available (OpenSSL built without kTLS)" if not built else
                "used (kernel tls module loaded)" if KTLS_LOADED else
                "not available (kernel has no tls module)")
    assert _version_lines() == {"FC_KTLS": expected, "FC_KTLS_OPENSSL": "built with"
                                + ("" if built else "out") + " kTLS support"}
    srv, tport, body = _server(tmp_path, certs, "SSLOpenSSLConfCmd Options -KTLS")
    with srv:
        versions: list[str] = []
        trace = _traced(_pids(srv, tport, certs), "sendfile,pread64,setsockopt",
                        lambda: versions.extend(_fetch_all(tport, certs, body)))
    assert versions == ["TLSv1.3", "TLSv1.2"]
    assert _sendfile_bytes(trace) == 0, trace[-2000:]
    assert trace.count("pread64(") >= 2 * SIZE // 16384, trace[-2000:]  # a record each
    assert "TCP_ULP" not in trace, trace[-2000:]  # OpenSSL did not even try


@pytest.mark.parametrize("groups", ["", "SSLOpenSSLConfCmd Groups P-256"],
                         ids=["plain", "hello-retry"])
def test_options_ktls_offloads_the_sending_side_only(tmp_path, certs: Certs,
                                                     groups: str) -> None:
    """`SSLOpenSSLConfCmd Options KTLS` asks for kTLS even without the module: OpenSSL then
    attaches the tls ULP once per connection, for its sending keys only, and when the
    kernel refuses (no module) encrypts itself: the bodies are whole either way.  Covers a
    full and a resumed TLS 1.2 handshake (the read keys change before, then after, the
    write keys) and, with Groups P-256 (the client's first key share is X25519), a TLS 1.3
    HelloRetryRequest."""
    extra = "SSLOpenSSLConfCmd Options KTLS\n" + groups + \
        '\nHeader set X-TLS "%{SSL_PROTOCOL}s %{SSL_SESSION_RESUMED}s"'
    srv, tport, body = _server(tmp_path, certs, extra, modules=(*MODULES, "headers"))
    with srv:
        seen: list[str] = []

        def fetch() -> None:
            seen.extend(_fetch_all(tport, certs, body))
            ctx = context(certs, CLIENTS[1])
            first, sess = exchange(tport, certs, CLIENTS[1], req("a.test", "/big.bin"), ctx=ctx)
            again, _ = exchange(tport, certs, CLIENTS[1], req("a.test", "/big.bin"), ctx=ctx,
                                session=sess)
            assert again.body == body
            seen.extend([first.tls_header, again.tls_header])
        trace = _traced(_pids(srv, tport, certs), "sendfile,pread64,setsockopt", fetch)
    assert seen == ["TLSv1.3", "TLSv1.2", "TLSv1.2 Initial", "TLSv1.2 Resumed"]
    conns = len(CLIENTS) + 2
    ulp = [ln for ln in trace.splitlines() if "TCP_ULP" in ln]
    assert len(ulp) == conns, trace[-3000:]  # one attempt a connection: for sending
    assert trace.count("TLS_TX") == conns and "TLS_RX" not in trace, trace[-3000:]
    if KTLS_LOADED:
        assert _sendfile_bytes(trace) >= conns * SIZE, trace[-3000:]
    else:
        assert all("ENOENT" in ln for ln in ulp), ulp
        assert _sendfile_bytes(trace) == 0 and "pread64(" in trace, trace[-2000:]

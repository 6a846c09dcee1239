"""mod_ssl against real Apache 2.4: one httpd.conf, the same certificates, served by
apache2 and by fastcore.

Covered: protocol and cipher negotiation (TLS 1.2 and 1.3, an ECDSA and an RSA
certificate on one vhost), SNI selection and the default vhost, a Host that differs
from the SNI name (same vhost, a compatible vhost, an incompatible one: 421), no Host
with SNI (400), client certificates (required, optional, optional_no_ca; good, unknown,
none), session resumption, the SSL_* variables in mod_headers (%{VAR}s) and in the access
log (%{VAR}x), SSLRequireSSL, plain HTTP on the TLS port (400 with mod_ssl's reason),
and the startup errors `apache2 -t` and a start report.  Each request is sent twice, so
a second answer a cache could serve is compared too.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

import pytest
from support.apache_oracle import APACHE, REPO, ApacheOracle
from support.ports import free_port
from support.tlscerts import Certs, make
from support.tlsclient import Client, context, exchange, read_all, req

MODULES = ("mpm_event", "authz_core", "mime", "headers", "socache_shmcb", "ssl")

SITE = """
StartServers 1
ServerLimit 2
ThreadsPerChild 8
MaxRequestWorkers 16
DocumentRoot "{www}"
<Directory "{www}/secure">
  SSLRequireSSL
</Directory>
Listen 127.0.0.1:{tport} https
SSLSessionCache "shmcb:{run}/scache(512000)"
LogFormat "%v|%>s|%{{SSL_PROTOCOL}}x|%{{SSL_CIPHER}}x|%{{SSL_TLS_SNI}}x|%{{HTTPS}}x|%r" tlsfmt
CustomLog "{run}/tls_log" tlsfmt
Header always set X-TLS "%{{SSL_PROTOCOL}}s|%{{SSL_CIPHER}}s|%{{SSL_TLS_SNI}}s|%{{HTTPS}}e|\
%{{SSL_CLIENT_VERIFY}}s|%{{SSL_CLIENT_S_DN}}s|%{{SSL_CLIENT_I_DN}}s|%{{SSL_SESSION_RESUMED}}s"
<VirtualHost 127.0.0.1:{tport}>
  ServerName a.test
  ServerAlias www.a.test
  SSLEngine on
  SSLCertificateFile "{ec_crt}"
  SSLCertificateKeyFile "{ec_key}"
  SSLCertificateFile "{rsa_crt}"
  SSLCertificateKeyFile "{rsa_key}"
  Header always set X-Vhost a
</VirtualHost>
<VirtualHost 127.0.0.1:{tport}>
  ServerName b.test
  SSLEngine on
  SSLProtocol -all +TLSv1.2
  SSLCertificateFile "{b_crt}"
  SSLCertificateKeyFile "{b_key}"
  Header always set X-Vhost b
</VirtualHost>
<VirtualHost 127.0.0.1:{tport}>
  ServerName c.test
  SSLEngine on
  SSLCertificateFile "{ec_crt}"
  SSLCertificateKeyFile "{ec_key}"
  SSLCertificateFile "{rsa_crt}"
  SSLCertificateKeyFile "{rsa_key}"
  Header always set X-Vhost c
</VirtualHost>
<VirtualHost 127.0.0.1:{tport}>
  ServerName d.test
  SSLEngine on
  SSLCertificateFile "{ec_crt}"
  SSLCertificateKeyFile "{ec_key}"
  SSLVerifyClient require
  SSLVerifyDepth 2
  SSLCACertificateFile "{ca_crt}"
  Header always set X-Vhost d
</VirtualHost>
<VirtualHost 127.0.0.1:{tport}>
  ServerName e.test
  SSLEngine on
  SSLCertificateFile "{ec_crt}"
  SSLCertificateKeyFile "{ec_key}"
  SSLVerifyClient optional
  SSLCACertificateFile "{ca_crt}"
  Header always set X-Vhost e
</VirtualHost>
<VirtualHost 127.0.0.1:{tport}>
  ServerName f.test
  SSLEngine on
  SSLCertificateFile "{ec_crt}"
  SSLCertificateKeyFile "{ec_key}"
  SSLVerifyClient optional_no_ca
  SSLCACertificateFile "{ca_crt}"
  Header always set X-Vhost f
</VirtualHost>
"""


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make(str(tmp_path_factory.mktemp("certs")))


def _site(root: str, run: str, tport: int, c: Certs) -> str:
    www = os.path.join(root, "www")
    os.makedirs(os.path.join(www, "secure"), exist_ok=True)
    for rel in ("index.html", "secure/s.txt"):
        with open(os.path.join(www, rel), "w") as fh:
            fh.write(f"{rel}\n")
    return SITE.format(www=www, run=run, tport=tport, ec_crt=c.ec.cert, ec_key=c.ec.key,
                       rsa_crt=c.rsa.cert, rsa_key=c.rsa.key, b_crt=c.other.cert,
                       b_key=c.other.key, ca_crt=c.ca.cert)


CASES: tuple[tuple[Client, bytes], ...] = (
    (Client(), req("a.test")),
    (Client(tls="1.2"), req("a.test")),
    (Client(tls="1.3"), req("a.test")),
    (Client(tls="1.2", ciphers="ECDHE-RSA-AES128-GCM-SHA256"), req("a.test")),
    (Client(tls="1.2", ciphers="ECDHE-ECDSA-AES256-GCM-SHA384"), req("a.test")),
    (Client(sni="www.a.test"), req("www.a.test")),
    (Client(sni="b.test"), req("b.test")),          # its own cert, TLS 1.2 only
    (Client(sni="b.test", tls="1.3"), req("b.test")),
    (Client(sni="c.test"), req("c.test")),
    (Client(sni="nobody.test"), req("nobody.test")),  # the default vhost (a)
    (Client(sni=None), req("a.test")),
    (Client(sni=None), req("c.test")),
    (Client(sni="a.test"), req("A.TEST:443")),      # the same name: no check fails
    (Client(sni="a.test"), req("c.test")),          # a compatible vhost: served by c
    (Client(sni="a.test"), req("b.test")),          # incompatible: 421
    (Client(sni="a.test"), req("d.test")),          # client verification differs: 421
    (Client(sni="a.test"), req(None, version="1.0")),  # SNI and no Host: 400
    (Client(sni="a.test"), req("a.test", "/secure/s.txt")),
    (Client(sni="d.test"), req("d.test")),          # required, none given: refused
    (Client(sni="d.test", cert="client"), req("d.test")),
    (Client(sni="d.test", cert="stranger"), req("d.test")),
    (Client(sni="e.test"), req("e.test")),          # optional, none: NONE
    (Client(sni="e.test", cert="client"), req("e.test")),
    (Client(sni="e.test", cert="stranger"), req("e.test")),  # optional: unknown CA refused
    (Client(sni="f.test", cert="stranger"), req("f.test")),  # optional_no_ca: GENEROUS
    (Client(sni="f.test", cert="client"), req("f.test")),
    (Client(alpn=("http/1.1",)), req("a.test")),
    (Client(alpn=("h2", "http/1.1")), req("a.test")),
    (Client(alpn=("h2",)), req("a.test")),  # Apache answers http/1.1 anyway: refused
)


def _norm_log(lines: list[str]) -> list[str]:
    return sorted(lines)


def _run_server(root: str, certs: Certs, fastcore: bool) -> tuple[list, list[str], bytes]:
    run = os.path.join(root, "fc" if fastcore else "ap")
    os.makedirs(run)
    tport = free_port()
    site = _site(root, run, tport, certs)
    with ApacheOracle(run, site, modules=MODULES, fastcore=fastcore) as srv:
        seen = [exchange(tport, certs, cl, raw)[0] for cl, raw in CASES + CASES]
        # session resumption: the second connection offers the first one's session
        ctx = context(certs, Client())
        first, sess = exchange(tport, certs, Client(), req("a.test"), ctx)
        again, _ = exchange(tport, certs, Client(), req("a.test"), ctx, sess)
        seen += [first, again]
        # plain HTTP on the TLS port; SSLRequireSSL on the plain port
        with socket.create_connection(("127.0.0.1", tport), timeout=10) as s:
            s.sendall(req("a.test"))
            plain = read_all(s)
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.sendall(req("localhost", "/secure/s.txt"))
            plain += b"\n--\n" + read_all(s)
    with open(os.path.join(run, "tls_log")) as fh:
        log = fh.read().splitlines()
    return seen, log, plain


def _strip(answer: bytes) -> bytes:
    answer = re.sub(rb"Date: [^\r]*\r\n", b"", answer)
    return re.sub(rb"Server: [^\r]*\r\n", b"", answer)


@pytest.fixture(scope="module")
def both(certs: Certs, tmp_path_factory: pytest.TempPathFactory) -> dict[bool, tuple]:
    root = str(tmp_path_factory.mktemp("sslsite"))
    return {fc: _run_server(root, certs, fc) for fc in (False, True)}


def test_every_exchange_is_seen_as_apache_answers_it(both: dict[bool, tuple]) -> None:
    apache, fastcore = both[False][0], both[True][0]
    cases = [*CASES, *CASES, (Client(), b"first"), (Client(), b"resumed")]
    for (client, raw), a, f in zip(cases, apache, fastcore, strict=True):
        assert (f.outcome, f.status, f.vhost, f.tls_header, f.peer_cn, f.version, f.cipher,
                f.alpn) == (a.outcome, a.status, a.vhost, a.tls_header, a.peer_cn,
                            a.version, a.cipher, a.alpn), (client, raw)
        if a.outcome == "answer" and a.status == 200:
            assert f.body == a.body


def test_the_resumed_session_is_reported_resumed_by_both(both: dict[bool, tuple]) -> None:
    for fc in (False, True):
        first, again = both[fc][0][-2:]
        assert (first.outcome, again.outcome) == ("answer", "answer")
        assert first.tls_header.endswith("|Initial") and again.tls_header.endswith("|Resumed")


def test_the_access_log_has_the_same_tls_fields(both: dict[bool, tuple]) -> None:
    assert _norm_log(both[True][1]) == _norm_log(both[False][1])


def test_plain_http_on_the_tls_port_gets_apaches_400(both: dict[bool, tuple]) -> None:
    assert b"speaking plain HTTP" in both[False][2]
    assert _strip(both[True][2]) == _strip(both[False][2])


def _conf(root: str, certs: Certs, vhost_lines: str) -> str:
    os.makedirs(root, exist_ok=True)
    port = free_port()
    path = os.path.join(root, "httpd.conf")
    mods = "\n".join(f"LoadModule {m}_module /usr/lib/apache2/modules/mod_{m}.so"
                     for m in MODULES)
    with open(path, "w") as fh:
        fh.write(f"{mods}\nServerRoot {root}\nPidFile {root}/pid\nErrorLog {root}/error_log\n"
                 "ServerName localhost\nTypesConfig /etc/mime.types\n"
                 f"DocumentRoot {root}\nListen 127.0.0.1:{port} https\n"
                 f"<VirtualHost 127.0.0.1:{port}>\nSSLEngine on\n{vhost_lines}</VirtualHost>\n")
    return path


def _check(path: str, fastcore: bool) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "fastcore"] if fastcore else [APACHE]
    return subprocess.run([*argv, "-t", "-f", path], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, PYTHONPATH=REPO))


@pytest.mark.parametrize("lines", [
    "SSLCertificateFile {root}/none.crt\n",
    "SSLCertificateFile {ec_crt}\nSSLCertificateKeyFile {root}/none.key\n",
    "SSLProtocol all -TLSv9\n",
    "SSLVerifyClient sometimes\n",
    "SSLOptions +NoSuchOption\n",
])
def test_a_bad_directive_is_refused_with_apaches_message(certs: Certs, tmp_path,
                                                         lines: str) -> None:
    text = lines.format(root=tmp_path, ec_crt=certs.ec.cert)
    path = _conf(str(tmp_path), certs, text)
    ap, fc = _check(path, False), _check(path, True)
    assert ap.returncode != 0 and fc.returncode != 0
    assert fc.stderr.strip().splitlines()[-2:] == ap.stderr.strip().splitlines()[-2:]


@pytest.mark.parametrize("lines,apache_says", [
    ("SSLCertificateFile {ec_crt}\nSSLCertificateKeyFile {rsa_key}\n", "AH02565"),
    ("SSLCipherSuite NO-SUCH-CIPHER\nSSLCertificateFile {ec_crt}\n"
     "SSLCertificateKeyFile {ec_key}\n", "AH01898"),
    ("SSLCipherSuite TLSv1.3 NO_SUCH_SUITE\nSSLCertificateFile {ec_crt}\n"
     "SSLCertificateKeyFile {ec_key}\n", "AH10127"),
])
def test_what_openssl_refuses_stops_the_start_naming_file_and_line(
        certs: Certs, tmp_path, lines: str, apache_says: str) -> None:
    text = lines.format(ec_crt=certs.ec.cert, ec_key=certs.ec.key, rsa_key=certs.rsa.key)
    path = _conf(str(tmp_path), certs, text)
    ap = subprocess.run([APACHE, "-f", path, "-DFOREGROUND"], capture_output=True, text=True,
                        timeout=60)
    assert ap.returncode != 0
    with open(os.path.join(tmp_path, "error_log")) as fh:
        assert apache_says in fh.read()
    fc = _check(path, True)  # fastcore reports it at -t already, and at start
    assert fc.returncode == 1
    assert apache_says in fc.stderr and f"of {path}" in fc.stderr
    start = subprocess.run([sys.executable, "-m", "fastcore", "-f", path, "-DFOREGROUND"],
                           capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, PYTHONPATH=REPO))
    assert start.returncode == 1 and apache_says in start.stderr


SHARED = """
StartServers 3
MinSpareServers 3
MaxSpareServers 3
DocumentRoot "{www}"
Listen 127.0.0.1:{tport} https
SSLSessionCache "shmcb:{run}/scache(512000)"
SSLSessionTickets off
Header always set X-TLS "%{{SSL_SESSION_RESUMED}}s"
<VirtualHost 127.0.0.1:{tport}>
  ServerName a.test
  SSLEngine on
  SSLCertificateFile "{ec_crt}"
  SSLCertificateKeyFile "{ec_key}"
</VirtualHost>
"""


def test_sessions_resume_on_any_prefork_child_through_the_shared_cache(
        certs: Certs, tmp_path) -> None:
    """SSLSessionTickets off (Debian's ssl.conf): TLS 1.3 resumption is stateful, so a
    client whose next connection lands on another child resumes only through a cache the
    children share (shmcb).  Each connection offers the session of the one before."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("x\n")
    got = {}
    for fastcore in (False, True):
        run = str(tmp_path / ("fc" if fastcore else "ap"))
        os.makedirs(run)
        tport = free_port()
        site = SHARED.format(www=www, run=run, tport=tport, ec_crt=certs.ec.cert,
                             ec_key=certs.ec.key)
        mods = ("mpm_prefork", *MODULES[1:])
        with ApacheOracle(run, site, modules=mods, fastcore=fastcore):
            ctx = context(certs, Client())
            seen, sess = exchange(tport, certs, Client(), req("a.test"), ctx)
            marks = [seen.tls_header]
            for _ in range(12):
                seen, new = exchange(tport, certs, Client(), req("a.test"), ctx, sess)
                marks.append(seen.tls_header)
                sess = new or sess
        got[fastcore] = marks
    assert got[False] == ["Initial"] + ["Resumed"] * 12
    assert got[True] == got[False]


STATUS = """
DocumentRoot "{www}"
Listen 127.0.0.1:{tport} https
SSLSessionCache "shmcb:{run}/scache(512000)"
<Location /server-status>
  SetHandler server-status
</Location>
<VirtualHost 127.0.0.1:{tport}>
  ServerName a.test
  SSLEngine on
  SSLCertificateFile "{ec_crt}"
  SSLCertificateKeyFile "{ec_key}"
</VirtualHost>
"""


def test_server_status_has_the_session_cache_section(certs: Certs, tmp_path) -> None:
    """mod_ssl's status_hook: ?auto's TLSSessionCacheStatus lines (the keys apache_exporter
    and dashboards read) and the HTML page's "SSL/TLS Session Cache Status" table."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("x\n")
    got = {}
    for fastcore in (False, True):
        run = str(tmp_path / ("fc" if fastcore else "ap"))
        os.makedirs(run)
        tport = free_port()
        site = STATUS.format(www=www, run=run, tport=tport, ec_crt=certs.ec.cert,
                             ec_key=certs.ec.key)
        with ApacheOracle(run, site, modules=(*MODULES, "status"), fastcore=fastcore) as srv:
            for _ in range(2):
                assert exchange(tport, certs, Client(), req("a.test"))[0].status == 200
            auto, page = (_plain(srv.port, "/server-status" + q) for q in ("?auto", ""))
        lines = auto.split("TLSSessionCacheStatus\n", 1)[1].splitlines()
        got[fastcore] = (dict(ln.split(": ", 1) for ln in lines), page)
    (ap, ap_page), (fc, fc_page) = got[False], got[True]
    assert list(fc) == list(ap)
    for key in ("CacheType", "CacheSharedMemory"):
        assert fc[key] == ap[key]
    assert int(fc["CacheCurrentEntries"]) >= 1 and int(ap["CacheCurrentEntries"]) >= 1
    assert "SSL/TLS Session Cache Status:" in ap_page and "SSL/TLS Session Cache Status:" \
        in fc_page


def _plain(port: int, path: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                  .encode())
        return read_all(s).decode("latin-1").partition("\r\n\r\n")[2]

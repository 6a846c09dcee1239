"""testssl.sh (Debian package) against fastcore's default TLS configuration and against
Apache with Debian's stock mod_ssl configuration (/etc/apache2/mods-available/ssl.conf),
the same certificate (issue 15's done-when): fastcore offers no protocol and no cipher
that stock Apache does not, and has no vulnerability finding that stock Apache does not
also have."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
from support.apache_oracle import ApacheOracle
from support.ports import free_port
from support.tlscerts import Certs, make

TESTSSL = shutil.which("testssl") or shutil.which("testssl.sh")
STOCK_SSL_CONF = "/etc/apache2/mods-available/ssl.conf"
MODULES = ("mpm_event", "authz_core", "mime", "socache_shmcb", "setenvif", "ssl")


def _site(www: str, cert: str, key: str, stock: bool) -> str:
    include = f"Include {STOCK_SSL_CONF}\n" if stock else ""
    return (f'DocumentRoot "{www}"\n{include}Listen 127.0.0.1:{{tport}} https\n'
            f"<VirtualHost 127.0.0.1:{{tport}}>\n  SSLEngine on\n"
            f'  SSLCertificateFile "{cert}"\n  SSLCertificateKeyFile "{key}"\n'
            "</VirtualHost>\n")


def _testssl(port: int, *checks: str) -> str:
    assert TESTSSL is not None, "testssl.sh is missing: .ci/run installs the Debian package"
    p = subprocess.run([TESTSSL, "--quiet", "--color", "0", "--warnings", "batch", *checks,
                        f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=600)
    return p.stdout


def offered(text: str) -> set[tuple[str, str]]:
    """(protocol, cipher) pairs of testssl's -E listing, and (protocol, "") for each
    protocol -p says is offered."""
    out: set[tuple[str, str]] = set()
    proto = ""
    for line in text.splitlines():
        m = re.match(r"^ (SSLv\d|TLS 1(?:\.\d)?)\s+offered", line)
        if m:
            out.add((m.group(1), ""))
        m = re.match(r"^(SSLv\d|TLS 1(?:\.\d)?)\s*$", line)
        if m:
            proto = m.group(1)
        m = re.match(r"^ x[0-9a-f]+\s+(\S+)", line)
        if m:
            out.add((proto, m.group(1)))
    return out


def findings(text: str) -> set[str]:
    """The checks testssl -U flags (VULNERABLE, potentially VULNERABLE, NOT ok)."""
    return {line.split("(")[0].strip() for line in text.splitlines()
            if re.search(r"VULNERABLE|NOT ok", line) and "not vulnerable" not in line}


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make(str(tmp_path_factory.mktemp("certs")))


@pytest.mark.timeout(900)
def test_fastcore_default_offers_nothing_stock_apache_does_not(tmp_path, certs: Certs,
                                                               monkeypatch) -> None:
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("x\n")
    runs = {}
    for name in ("apache", "fastcore"):
        run = str(tmp_path / name)
        os.makedirs(run)
        runs[name] = run
    monkeypatch.setenv("APACHE_RUN_DIR", runs["apache"])  # ssl.conf's SSLSessionCache
    servers = []
    for name, stock in (("apache", True), ("fastcore", False)):
        tport = free_port()
        body = _site(str(www), certs.ec.cert, certs.ec.key, stock).replace("{tport}",
                                                                          str(tport))
        srv = ApacheOracle(runs[name], body, modules=MODULES, fastcore=name == "fastcore")
        srv.start()
        servers.append((srv, tport))
    try:
        with ThreadPoolExecutor(4) as pool:
            jobs = {(name, kind): pool.submit(_testssl, tport, *args)
                    for name, (srv, tport) in zip(("apache", "fastcore"), servers, strict=True)
                    for kind, args in (("ciphers", ("-p", "-E")), ("vulns", ("-U",)))}
            got = {k: j.result() for k, j in jobs.items()}
    finally:
        for srv, _ in servers:
            srv.stop()
    apache, fastcore = offered(got["apache", "ciphers"]), offered(got["fastcore", "ciphers"])
    assert ("TLS 1.3", "") in apache and ("TLS 1.3", "") in fastcore, got
    assert len(apache) > 5 and len(fastcore) > 5
    assert fastcore <= apache, sorted(fastcore - apache)
    assert findings(got["fastcore", "vulns"]) <= findings(got["apache", "vulns"]), \
        got["fastcore", "vulns"]

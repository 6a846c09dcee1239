"""mod_ssl's remaining directives, each against real Apache 2.4 with the same httpd.conf:
SSLHonorCipherOrder, SSLCACertificatePath, SSLCertificateChainFile, SSLCompression,
SSLOpenSSLConfCmd, SSLSessionCacheTimeout and SSLStrictSNIVHostCheck, each by what a
client observes (the cipher chosen, a client certificate accepted, the chain sent, the
compression reported, a session no longer resumed, the 403)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest
from support.apache_oracle import REPO, ApacheOracle
from support.ports import free_port
from support.tlscerts import Certs, make
from support.tlsclient import Client, context, exchange, req

MODULES = ("mpm_event", "authz_core", "mime", "headers", "socache_shmcb", "ssl")

BASE = """
DocumentRoot "{www}"
Listen 127.0.0.1:{tport} https
SSLSessionCache "shmcb:{run}/scache(512000)"
Header always set X-TLS "%{{SSL_CIPHER}}s|%{{SSL_COMPRESS_METHOD}}s|%{{SSL_CLIENT_VERIFY}}s|\
%{{SSL_SESSION_RESUMED}}s"
<VirtualHost 127.0.0.1:{tport}>
  ServerName a.test
  SSLEngine on
  SSLCertificateFile "{ec_crt}"
  SSLCertificateKeyFile "{ec_key}"
{lines}
</VirtualHost>
<VirtualHost 127.0.0.1:{tport}>
  ServerName c.test
  SSLEngine on
  SSLCertificateFile "{ec_crt}"
  SSLCertificateKeyFile "{ec_key}"
{c_lines}
</VirtualHost>
"""


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    c = make(str(tmp_path_factory.mktemp("certs")))
    capath = os.path.join(c.folder, "capath")
    os.makedirs(capath)
    shutil.copy(c.ca.cert, capath)
    subprocess.run(["openssl", "rehash", capath], check=True, capture_output=True)
    return c


def both(tmp_path, certs: Certs, lines: str, probe, c_lines: str = "") -> dict[bool, object]:
    """probe(port) under Apache (False) and fastcore (True), the vhost given `lines` (and
    the second vhost, c.test, `c_lines`)."""
    www = tmp_path / "www"
    www.mkdir(exist_ok=True)
    (www / "index.html").write_text("x\n")
    out = {}
    for fastcore in (False, True):
        run = str(tmp_path / ("fc" if fastcore else "ap"))
        os.makedirs(run)
        tport = free_port()
        site = BASE.format(www=www, run=run, tport=tport, ec_crt=certs.ec.cert,
                           ec_key=certs.ec.key,
                           lines=lines.format(folder=certs.folder, ca=certs.ca.cert),
                           c_lines=c_lines.format(folder=certs.folder, ca=certs.ca.cert))
        with ApacheOracle(run, site, modules=MODULES, fastcore=fastcore):
            out[fastcore] = probe(certs, tport)
    return out


def _tls_header(certs: Certs, port: int, client: Client) -> tuple[str, int, str]:
    seen = exchange(port, certs, client, req(client.sni or "a.test"))[0]
    return seen.outcome, seen.status, seen.tls_header


TLS12_BOTH = Client(tls="1.2", ciphers="ECDHE-ECDSA-AES256-GCM-SHA384:"
                    "ECDHE-ECDSA-AES128-GCM-SHA256")


@pytest.mark.parametrize("honor", ["on", "off"])
def test_honor_cipher_order(tmp_path, certs: Certs, honor: str) -> None:
    lines = ("  SSLCipherSuite ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384\n"
             f"  SSLHonorCipherOrder {honor}\n")
    got = both(tmp_path, certs, lines, lambda c, p: _tls_header(c, p, TLS12_BOTH))
    cipher = "ECDHE-ECDSA-AES128-GCM-SHA256" if honor == "on" else \
        "ECDHE-ECDSA-AES256-GCM-SHA384"
    assert got[False][2].startswith(cipher + "|")
    assert got[True] == got[False]


def test_ca_certificate_path_verifies_a_client(tmp_path, certs: Certs) -> None:
    lines = "  SSLVerifyClient require\n  SSLCACertificatePath \"{folder}/capath\"\n"

    def probe(c: Certs, p: int) -> tuple:
        return (_tls_header(c, p, Client(cert="client")),
                _tls_header(c, p, Client(cert="stranger"))[0])
    got = both(tmp_path, certs, lines, probe)
    assert got[False][0][:2] == ("answer", 200) and "SUCCESS" in got[False][0][2]
    assert got[False][1] == "refused"
    assert got[True] == got[False]


def _chain_length(port: int, name: str = "a.test") -> int:
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                        "-servername", name, "-showcerts"], input="", text=True,
                       capture_output=True, timeout=30)
    return p.stdout.count("BEGIN CERTIFICATE")


def test_certificate_chain_file_is_sent_after_the_certificate(tmp_path, certs: Certs) -> None:
    got = both(tmp_path, certs, "  SSLCertificateChainFile \"{ca}\"\n",
               lambda c, p: _chain_length(p))
    assert got[False] == 2 and got[True] == got[False]


CA = "  SSLCACertificateFile \"{ca}\"\n"


@pytest.mark.parametrize("lines,c_lines,name,sent", [
    ("", "", "a.test", 1),  # no trust store: the leaf alone
    (CA, "", "a.test", 2),  # OpenSSL's auto-chain adds the CA from the store
    (CA, "", "c.test", 1),  # SNI moves the session to a vhost without a store
    ("", CA, "c.test", 2),  # ... or from the default vhost without one to a vhost with one
])
def test_the_certificates_sent_follow_the_vhosts_trust_store(tmp_path, certs: Certs, lines: str,
                                                            c_lines: str, name: str,
                                                            sent: int) -> None:
    got = both(tmp_path, certs, lines, lambda c, p: _chain_length(p, name), c_lines)
    assert got[False] == sent and got[True] == got[False]


def test_compression_off_is_reported_and_on_refused_as_openssl_allows(tmp_path,
                                                                     certs: Certs) -> None:
    got = both(tmp_path, certs, "  SSLCompression off\n",
               lambda c, p: _tls_header(c, p, Client()))
    assert got[False][2].split("|")[1] == "NULL"
    assert got[True] == got[False]
    # this OpenSSL has no compression method: `on` is a syntax error for both
    conf = tmp_path / "on.conf"
    mods = "\n".join(f"LoadModule {m}_module /usr/lib/apache2/modules/mod_{m}.so"
                     for m in MODULES)
    conf.write_text(f"{mods}\nServerRoot {tmp_path}\nErrorLog {tmp_path}/e.log\n"
                    "ServerName localhost\nSSLCompression on\n")
    out = {}
    for fastcore in (False, True):
        argv = [sys.executable, "-m", "fastcore"] if fastcore else ["/usr/sbin/apache2"]
        p = subprocess.run([*argv, "-t", "-f", str(conf)], capture_output=True, text=True,
                           timeout=60, env=dict(os.environ, PYTHONPATH=REPO))
        out[fastcore] = (p.returncode != 0, p.stderr.strip().splitlines()[-2:])
    assert out[False][0] and out[True] == out[False]


def test_openssl_conf_cmd_sets_the_tls13_suites(tmp_path, certs: Certs) -> None:
    got = both(tmp_path, certs, "  SSLOpenSSLConfCmd Ciphersuites TLS_CHACHA20_POLY1305_SHA256\n",
               lambda c, p: _tls_header(c, p, Client(tls="1.3")))
    assert got[False][2].startswith("TLS_CHACHA20_POLY1305_SHA256|")
    assert got[True] == got[False]


def test_session_cache_timeout_ends_resumption(tmp_path, certs: Certs) -> None:
    def probe(c: Certs, p: int) -> list[str]:
        ctx = context(c, Client())
        marks = []
        seen, sess = exchange(p, c, Client(), req("a.test"), ctx)
        marks.append(seen.tls_header.rsplit("|", 1)[1])
        seen, sess2 = exchange(p, c, Client(), req("a.test"), ctx, sess)
        marks.append(seen.tls_header.rsplit("|", 1)[1])
        time.sleep(3.5)
        seen, _ = exchange(p, c, Client(), req("a.test"), ctx, sess2 or sess)
        marks.append(seen.tls_header.rsplit("|", 1)[1])
        return marks
    got = both(tmp_path, certs, "  SSLSessionCacheTimeout 2\n", probe)
    assert got[False] == ["Initial", "Resumed", "Initial"]
    assert got[True] == got[False]


def test_strict_sni_refuses_a_client_without_sni(tmp_path, certs: Certs) -> None:
    def probe(c: Certs, p: int) -> tuple:
        return (_tls_header(c, p, Client(sni=None))[:2], _tls_header(c, p, Client())[:2])
    got = both(tmp_path, certs, "  SSLStrictSNIVHostCheck on\n", probe)
    assert got[False] == (("answer", 403), ("answer", 200))
    assert got[True] == got[False]

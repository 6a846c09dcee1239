"""Test certificates made with the openssl command line: a CA, server certificates (ECDSA
P-256 and RSA 2048) for given names, client certificates signed by the CA, and one
self-signed client certificate the CA does not know."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass


def _run(*args: str, cwd: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@dataclass(frozen=True)
class Pair:
    cert: str
    key: str


@dataclass(frozen=True)
class Certs:
    folder: str
    ca: Pair
    ec: Pair          # CN=a.test, SAN a.test, c.test, localhost
    rsa: Pair         # CN=a.test, the RSA twin of ec
    other: Pair       # CN=b.test (ECDSA)
    client: Pair      # CN=client.test, signed by the CA
    stranger: Pair    # CN=stranger.test, self-signed


def _key(cwd: str, name: str, kind: str) -> str:
    path = f"{name}.key"
    if kind == "rsa":
        _run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path,
             cwd=cwd)
    else:
        _run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
             path, cwd=cwd)
    return path


def _signed(cwd: str, name: str, subject: str, kind: str, sans: str, usage: str) -> Pair:
    key = _key(cwd, name, kind)
    ext = os.path.join(cwd, f"{name}.ext")
    with open(ext, "w") as fh:
        fh.write(f"subjectAltName={sans}\nextendedKeyUsage={usage}\n" if sans else
                 f"extendedKeyUsage={usage}\n")
    _run("req", "-new", "-key", key, "-subj", subject, "-out", f"{name}.csr", cwd=cwd)
    _run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
         "-CAcreateserial", "-days", "3650", "-extfile", ext, "-out", f"{name}.crt", cwd=cwd)
    return Pair(os.path.join(cwd, f"{name}.crt"), os.path.join(cwd, key))


def make(folder: str) -> Certs:
    os.makedirs(folder, exist_ok=True)
    _key(folder, "ca", "ec")
    _run("req", "-x509", "-new", "-key", "ca.key", "-subj", "/O=fastcore tests/CN=Test CA",
         "-days", "3650", "-out", "ca.crt", cwd=folder)
    ca = Pair(os.path.join(folder, "ca.crt"), os.path.join(folder, "ca.key"))
    sans = "DNS:a.test,DNS:c.test,DNS:localhost"
    ec = _signed(folder, "ec", "/O=fastcore tests/CN=a.test", "ec", sans, "serverAuth")
    rsa = _signed(folder, "rsa", "/O=fastcore tests/CN=a.test", "rsa", sans, "serverAuth")
    other = _signed(folder, "b", "/O=fastcore tests/CN=b.test", "ec", "DNS:b.test",
                    "serverAuth")
    client = _signed(folder, "client", "/C=US/O=fastcore tests/CN=client.test", "ec", "",
                     "clientAuth")
    _key(folder, "stranger", "ec")
    _run("req", "-x509", "-new", "-key", "stranger.key", "-subj", "/CN=stranger.test",
         "-days", "3650", "-out", "stranger.crt", cwd=folder)
    stranger = Pair(os.path.join(folder, "stranger.crt"), os.path.join(folder, "stranger.key"))
    return Certs(folder, ca, ec, rsa, other, client, stranger)

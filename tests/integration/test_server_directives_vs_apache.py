"""Server-level directives have the effect Apache gives them: each case is a name-based
<VirtualHost> holding the directive(s), next to a control <VirtualHost> without them, on
the same port and document root; Apache must answer the two differently and fastcore
(C engine, then the pure twins) exactly as Apache does.
"""
from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass

import pytest
from support.apache_oracle import MODDIR
from support.servers import ApacheServer, FastcoreServer, Server
from support.wire import parse_responses

OLD = 1_600_000_000


@dataclass(frozen=True)
class VCase:
    """One server-level directive's demonstration (Host: NAME.test, or alias-NAME.test)."""

    name: str
    config: str  # lines inside the case's <VirtualHost>
    request: str  # the request line's target
    headers: tuple[str, ...] = ()
    method: str = "GET"
    send: str = ""
    close: bool = True  # send Connection: close
    alias: bool = False  # ask with the ServerAlias name (and the port) in Host
    http10: bool = False
    no_effect: bool = False


FILES = {"page.html": "<p>page</p>\n", "file.unknownext": "?\n", "dir/index.html": "<p>dir</p>\n",
         "enc/b.html": "<p>b</p>\n", ".acl": "Bogus\n",
         "doc.var": "URI: doc.html\nContent-Type: text/html\n", "doc.html": "<p>doc</p>\n"}

CASES = [
    VCase("ucn-on", "UseCanonicalName On", "/dir", ("location",), alias=True),
    VCase("ucn-on-port", "UseCanonicalName On\nServerName ucn-on-port.test:8081", "/dir",
          ("location",), alias=True),
    VCase("ucn-dns", "UseCanonicalName DNS", "/dir", ("location",), alias=True),
    VCase("ucn-dir", "<Directory DOCROOT/dir>\nUseCanonicalName On\n</Directory>", "/dir",
          ("location",), alias=True),
    VCase("ucn-signature", "UseCanonicalName On\nServerSignature On", "/missing",
          alias=True),
    VCase("signature-email", "ServerSignature EMail\nServerAdmin boss@example.com",
          "/missing"),
    VCase("traceenable", "TraceEnable Off", "/page.html", ("allow",), method="TRACE"),
    VCase("protocols", "Protocols http/1.1", "/page.html", no_effect=True),  # h2 would add Upgrade
    VCase("keepalive-off", "KeepAlive Off", "/page.html", ("connection", "keep-alive"),
          send="Connection: keep-alive\r\n", close=False),
    VCase("keepalive-timeout", "KeepAliveTimeout 7\nMaxKeepAliveRequests 3", "/page.html",
          ("connection", "keep-alive"), send="Connection: keep-alive\r\n", close=False),
    VCase("errordocument", 'ErrorDocument 404 "not here"', "/missing"),
    VCase("allowencodedslashes", "AllowEncodedSlashes On", "/enc%2Fb.html"),
    VCase("accessfilename", "AccessFileName .acl", "/page.html"),
    VCase("alias", "Alias /elsewhere DOCROOT/dir", "/elsewhere/index.html"),
    VCase("redirect", "Redirect /page.html http://example.com/new", "/page.html",
          ("location",)),
    VCase("redirectmatch", "RedirectMatch 301 ^/p(.*)$ http://example.com/q$1", "/page.html",
          ("location",)),
    VCase("redirectpermanent", "RedirectPermanent /page.html http://example.com/p",
          "/page.html", ("location",)),
    VCase("redirecttemp", "RedirectTemp /page.html http://example.com/t", "/page.html",
          ("location",)),
    VCase("aliasmatch", "AliasMatch ^/x/(.*)$ DOCROOT/dir/$1", "/x/index.html"),
    VCase("documentroot", "DocumentRoot DOCROOT/dir", "/index.html"),
    VCase("define", "Define MOVED\n<IfDefine MOVED>\nRedirect /page.html http://example.com/d\n"
          "</IfDefine>", "/page.html", ("location",)),
    VCase("undefine", "Define GONE\nUnDefine GONE\n<IfDefine !GONE>\n"
          "Redirect /page.html http://example.com/u\n</IfDefine>", "/page.html", ("location",)),
    # DefaultType is ignored by 2.4 itself (AH00117): no Content-Type for an unknown type
    VCase("defaulttype", "DefaultType text/plain", "/file.unknownext", ("content-type",),
          no_effect=True),
    # request limits are the default server's, read before the vhost is known: a
    # name-based <VirtualHost> cannot change them (Apache too)
    VCase("limitrequestline", "LimitRequestLine 40", "/page.html?" + "q" * 60,
          no_effect=True),
    VCase("limitrequestfieldsize", "LimitRequestFieldSize 40", "/page.html",
          send="X-Long: " + "v" * 60 + "\r\n", no_effect=True),
    VCase("limitrequestfields", "LimitRequestFields 2", "/page.html",
          send="X-A: 1\r\nX-B: 2\r\nX-C: 3\r\n", no_effect=True),
    VCase("directoryindex-server", "DirectoryIndex page.html", "/", ("content-type",)),
    VCase("cachenegotiateddocs", "CacheNegotiatedDocs On", "/doc.var", ("expires",),
          http10=True),
    VCase("adc-server", "AddDefaultCharset utf-8", "/page.html", ("content-type",)),
    VCase("fileetag-server", "FileETag INode", "/page.html", ("etag",)),
]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: tuple[tuple[str, str | None], ...]
    body: bytes


def site(docroot: str, port: int) -> str:
    for name, text in FILES.items():
        path = os.path.join(docroot, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(text)
        os.utime(path, (OLD, OLD))
    lines = [f"LoadModule {m}_module {MODDIR}/mod_{m}.so" for m in ("negotiation", "alias")]
    lines += ["AddHandler type-map .var", f"<VirtualHost 127.0.0.1:{port}>",
              "ServerName default.test", "</VirtualHost>"]
    for case in CASES:
        for prefix, conf in (("", case.config), ("ctl-", "")):
            lines += [f"<VirtualHost 127.0.0.1:{port}>", f"ServerName {prefix}{case.name}.test",
                      f"ServerAlias alias-{prefix}{case.name}.test",
                      f'DocumentRoot "{docroot}"', conf.replace("DOCROOT", docroot),
                      "</VirtualHost>"]
    return "\n".join(lines) + "\n"


def ask(port: int, case: VCase, prefix: str) -> Answer:
    host = (f"alias-{prefix}{case.name}.test:{port}" if case.alias
            else f"{prefix}{case.name}.test")
    proto = "HTTP/1.0" if case.http10 else "HTTP/1.1"
    raw = (f"{case.method} {case.request} {proto}\r\nHost: {host}\r\n{case.send}"
           + ("Connection: close\r\n" if case.close else "") + "\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw)
        if not case.close:
            s.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status, headers, body = parse_responses(data, head_request=case.method == "HEAD")[0]
    picked = tuple((h, _mask(headers.get(h), port)) for h in case.headers)
    body = re.sub(rb"(Apache|fastcore)/[\w.]+ \([^)]*\)", b"SERVER", body)
    body = body.replace(str(port).encode(), b"PORT").replace(prefix.encode() + case.name.encode(),
                                                                b"NAME")
    return Answer(status, picked, body)


def _mask(value: str | None, port: int) -> str | None:
    if value is None:
        return None
    value = re.sub(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", "DATE", value)
    return value.replace(str(port), "PORT")


def observe(srv: Server) -> dict[str, Answer]:
    srv.start()
    try:
        return {f"{p}{c.name}": ask(srv.port, c, p) for c in CASES for p in ("", "ctl-")}
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def apache(www_dir: str) -> tuple[dict[str, Answer], str, int]:
    tmp = www_dir
    docroot = os.path.join(tmp, "htdocs")
    run = os.path.join(tmp, "apache")
    os.makedirs(run)
    srv = ApacheServer(run, "prefork", docroot=docroot)
    srv.extra = site(docroot, srv.port)
    return observe(srv), docroot, srv.port


@pytest.fixture(scope="module")
def fastcore(process_mode: str, www_dir: str, apache: tuple) -> dict[str, Answer]:
    docroot = apache[1]
    run = os.path.join(www_dir, f"fastcore-{process_mode}")
    os.makedirs(run)
    srv = FastcoreServer(run, "prefork", docroot=docroot, pure=process_mode == "pure")
    srv.extra = site(docroot, srv.port)
    return observe(srv)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_server_directive_has_apaches_effect(case: VCase, apache: tuple, fastcore: dict) -> None:
    answers = apache[0]
    with_it, without = answers[case.name], answers[f"ctl-{case.name}"]
    if case.no_effect:
        assert with_it == without
    else:
        assert with_it != without, "the case shows no effect of the directive in Apache"
    assert fastcore[case.name] == with_it
    assert fastcore[f"ctl-{case.name}"] == without

"""HEAD of the pages a handler generates, against real Apache 2.4: mod_autoindex stops
before writing a header-only listing (no body reaches DEFLATE, so no Vary, and no
length), while mod_status writes its page and the content-length filter states it.
The framing fields (Content-Length, Transfer-Encoding, Vary, Content-Encoding) must
be the ones Apache sends, with and without Accept-Encoding: gzip."""
from __future__ import annotations

import os

from support.apache_oracle import ApacheOracle
from support.wire import parse_responses, raw_request

MODULES = ("mpm_event", "authz_core", "mime", "autoindex", "filter", "deflate", "status")
SITE = """
DocumentRoot "{www}"
<Directory "{www}">
  Require all granted
  Options Indexes
</Directory>
AddOutputFilterByType DEFLATE text/html text/plain
<Location /server-status>
  SetHandler server-status
</Location>
"""
# (the HTML status page is left out: its worker table grows with the children a busy
# machine has spawned, and past 8000 bytes it rightly goes without a length)
TARGETS = ("/few/", "/many/", "/few/?F=0", "/server-status?auto")
FRAMING = ("content-length", "transfer-encoding", "vary", "content-encoding")


def _site(root: str) -> str:
    www = os.path.join(root, "www")
    os.makedirs(os.path.join(www, "few"))
    os.makedirs(os.path.join(www, "many"))
    open(os.path.join(www, "few", "a.txt"), "w").close()
    for i in range(300):  # a listing past httpd's 8000-byte buffer
        open(os.path.join(www, "many", f"a-file-with-a-long-name-{i}.txt"), "w").close()
    return www


def _framing(tmp: str, www: str, fastcore: bool) -> list[tuple[str, str, dict[str, str]]]:
    run = os.path.join(tmp, "fastcore" if fastcore else "apache")
    os.makedirs(run)
    out = []
    with ApacheOracle(run, SITE.replace("{www}", www), modules=MODULES,
                      fastcore=fastcore) as ap:
        for target in TARGETS:
            for accept in ("", "Accept-Encoding: gzip\r\n"):
                raw = raw_request(ap.port, f"HEAD {target} HTTP/1.1\r\nHost: localhost\r\n"
                                  f"{accept}Connection: close\r\n\r\n".encode())
                status, headers, body = parse_responses(raw, head_request=True)[0]
                assert status == 200 and body == b""
                fields = {k: v for k, v in headers.items() if k in FRAMING}
                if target.startswith("/server-status") and "content-length" in fields:
                    fields["content-length"] = "N"  # the counters differ, the framing not
                out.append((target, accept, fields))
    return out


def test_head_framing_of_generated_pages_is_apaches(tmp_path) -> None:
    www = _site(str(tmp_path))
    apache = _framing(str(tmp_path), www, fastcore=False)
    assert _framing(str(tmp_path), www, fastcore=True) == apache
    # not vacuous: a listing says nothing, the status page states its length
    by_target = {(t, a): f for t, a, f in apache}
    assert by_target[("/many/", "Accept-Encoding: gzip\r\n")] == {}
    assert by_target[("/server-status?auto", "")] == {"content-length": "N",
                                                      "vary": "Accept-Encoding"}

"""SetEnvIf rules on engine hits (src/fc_setenvif.h and its twin _pure/setenvif.py): for a
corpus of requests, the engine serves exactly those no rule matches by mod_setenvif's own
reading (Rule.matches on the attribute's value), and hands the others to Python."""
from __future__ import annotations

import os
import random
import socket
from types import ModuleType

import pytest
from support.twins import Implementation
from support.wire import SERVER, recv_response

from fastcore.config.regex import regex_options
from fastcore.modules import mod_setenvif as M

# (attribute, pattern, caseless) as SetEnvIf / BrowserMatch lines write them
RULES = [("User-Agent", "Mozilla/2", False), ("User-Agent", r"MSIE 4\.0b2;", False),
         ("User-Agent", "^gvfs/1", False), ("User-Agent", " konqueror/4", True),
         ("Referer", r"^https?://evil\.", True), ("X-Thing", "a, b", False),
         ("Remote_Addr", r"^10\.", False), ("Request_Method", "^head$", True),
         ("Request_Protocol", "1.0", False), ("Request_URI", r"\.gif$", False)]
AGENTS = ["Mozilla/2.02", "mozilla/2", "Mozilla/5.0", "MSIE 4.0b2;", "MSIE 4x0b2;",
          "gvfs/1.2", " gvfs/1", "KDE Konqueror/4.1", "KONQUEROR/4", ""]


def _checks() -> tuple[tuple, ...]:
    out = []
    for attr, pattern, icase in RULES:
        low = attr.lower()
        special = low if low in M.SPECIALS else None
        literal = M.simple_pattern(pattern)
        kind = {"remote_addr": 2, "request_method": 3, "request_protocol": 4,
                "request_uri": 5}.get(low, 1)
        name = b"" if special else low.encode()
        if literal is not None:
            out.append((kind, name, literal.encode(), -1, icase))
        else:
            out.append((kind, name, pattern.encode(), regex_options(icase), icase))
    return tuple(out)


def _any_rule(ua: str | None, referer: str | None, thing: list[str], method: str,
              proto: str, target: str) -> bool:
    """mod_setenvif's reading of the same rules (the Python path; field values arrive
    without their surrounding blanks)."""
    values = {"user-agent": (ua or "").strip(" \t"), "referer": referer or "", "x-thing": ", ".join(thing),
              "remote_addr": "127.0.0.1", "request_method": method,
              "request_protocol": proto, "request_uri": target.split("?")[0]}
    for attr, pattern, icase in RULES:
        literal = M.simple_pattern(pattern)
        regex = None if literal is not None else M.compile_regex(pattern, icase)
        rule = M.Rule(attr, None, None, literal, regex, icase, ())
        if rule.matches(values[attr.lower()]):
            return True
    return False


@pytest.fixture
def fp(impl: Implementation) -> ModuleType:
    return impl.load("fastpath")


def test_engine_serves_what_no_rule_matches(fp: ModuleType, tmp_path) -> None:  # noqa: ANN001
    rnd = random.Random(5)
    cache = fp.FastCache()
    cache.configure(SERVER)
    for name in ("a.txt", "b.gif"):
        p = tmp_path / name
        p.write_bytes(b"hello")
        st = os.stat(p)
        assert cache.put(0, b"h", b"/" + name.encode(), str(p).encode(), st.st_ino, st.st_size,
                         st.st_mtime_ns, b"Content-Length: 5\r\n", b"", env_checks=_checks(),
                         max_keep_alive=0)
    assert cache.lookup(0, b"h", b"/a.txt")["env_checks"] == len(RULES)
    a, b = socket.socketpair()
    conn = fp.FastConn(cache, a.fileno(), False, b"127.0.0.1", 1)
    served = passed = 0
    try:
        for _ in range(400):
            ua = rnd.choice(AGENTS + [None])
            ref = rnd.choice([None, "https://evil.example/", "HTTP://EVIL.x", "https://good/"])
            thing = rnd.choice([[], ["a"], ["a", "b"], ["a, b"], ["b", "a"]])
            method = rnd.choice(["GET", "HEAD"])
            proto = rnd.choice(["HTTP/1.1", "HTTP/1.0"])
            target = rnd.choice(["/a.txt", "/b.gif", "/a.txt?x.gif"])
            if target.startswith("/a.txt?"):
                target = "/a.txt"  # (the entry is keyed by the raw target)
            head = f"{method} {target} {proto}\r\nHost: h\r\nConnection: keep-alive\r\n"
            if ua is not None:
                head += f"User-Agent: {ua}\r\n"
            if ref is not None:
                head += f"Referer: {ref}\r\n"
            head += "".join(f"X-Thing: {t}\r\n" for t in thing) + "\r\n"
            raw = head.encode("latin-1")
            b.sendall(raw)
            rc = conn.serve()
            if _any_rule(ua, ref, thing, method, proto, target):
                assert rc == fp.FALLBACK and conn.take() == raw, head
                passed += 1
            else:
                assert rc == fp.WANT_READ, head
                recv_response(b, 0 if method == "HEAD" else 5)
                served += 1
        # a caseless substring over bytes past ASCII: Python's str.lower decides there
        raw = b"GET /a.txt HTTP/1.1\r\nHost: h\r\nUser-Agent: caf\xe9 KONQUEROR/3\r\n\r\n"
        b.sendall(raw)
        assert conn.serve() == fp.FALLBACK and conn.take() == raw
    finally:
        conn.close()
        cache.clear()
        a.close()
        b.close()
    assert served >= 10 and passed >= 100  # both outcomes exercised

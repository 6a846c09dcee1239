"""Require containers and providers: fastcore.modules.mod_authz_core against real Apache 2.4.

Each case is one <Location> holding a Require block; Apache answers 404 where access is
granted (nothing is there) and 403 where it is denied.  fastcore evaluates the same block,
built by hand from the same text, for the same client (127.0.0.1) and must agree.
"""
from __future__ import annotations

import pytest
from support.apache_oracle import ApacheOracle
from support.wire import parse_responses, raw_request

from fastcore.core.dns import Resolver  # noqa: E402
from fastcore.modules.mod_authz_core import ReqCtx, Require, RequireGroup, authorize  # noqa: E402  # noqa: E402

CASES = [
    "Require ip 127.0.0.1",
    "Require ip 10.0.0.0/8",
    "Require ip 127",
    "Require ip 127.0.0.0/255.0.0.0",
    "Require ip 10.1 192.168 127.0.0.1",
    "Require ip ::1",
    "Require local",
    "Require all denied",
    "Require all granted",
    "Require host localhost",
    "Require host example.com",
    "Require host calhost",
    "Require method GET",
    "Require method POST PUT",
    "Require forward-dns localhost",
    "Require env NOPE",
    "Require ip 10\nRequire local",
    "<RequireAll>\nRequire all granted\nRequire not ip 127\n</RequireAll>",
    "<RequireAll>\nRequire all granted\nRequire not ip 10\n</RequireAll>",
    "<RequireAll>\nRequire local\nRequire ip 10\n</RequireAll>",
    "<RequireAny>\nRequire ip 10\nRequire local\n</RequireAny>",
    "<RequireAll>\nRequire all granted\n<RequireNone>\nRequire ip 10\nRequire ip 127\n"
    "</RequireNone>\n</RequireAll>",
    "<RequireAll>\nRequire all granted\n<RequireNone>\nRequire ip 10\nRequire ip 11\n"
    "</RequireNone>\n</RequireAll>",
    "<RequireAny>\n<RequireAll>\nRequire ip 127\nRequire not local\n</RequireAll>\n"
    "Require ip 10\n</RequireAny>",
    "<RequireAny>\n<RequireAll>\nRequire ip 127\nRequire not ip 10\n</RequireAll>\n"
    "Require all denied\n</RequireAny>",
    "<RequireAll>\nRequire local\n<RequireAny>\nRequire ip 10\nRequire host localhost\n"
    "</RequireAny>\n</RequireAll>",
]


def build(text: str) -> RequireGroup:
    """The RequireGroup the config layer builds for this block (implicit RequireAny)."""
    stack: list[tuple[str, list]] = [("any", [])]
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("</"):
            kind, items = stack.pop()
            stack[-1][1].append(RequireGroup(kind, tuple(items)))
        elif line.startswith("<"):
            stack.append((line[len("<Require"):-1].lower(), []))
        else:
            words = line.split()[1:]
            neg = words[0].lower() == "not"
            if neg:
                words = words[1:]
            stack[-1][1].append(Require(words[0].lower(), tuple(words[1:]), neg))
    return RequireGroup("any", tuple(stack[0][1]))


@pytest.fixture(scope="module")
def apache(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("azroot")
    body = [f'DocumentRoot "{root}"', f'<Directory "{root}">', "Require all granted",
            "</Directory>"]
    for i, case in enumerate(CASES):
        body += [f"<Location /c{i}>", case, "</Location>"]
    run = tmp_path_factory.mktemp("azrun")
    with ApacheOracle(str(run), "\n".join(body)) as ap:
        yield ap


@pytest.mark.parametrize("i", range(len(CASES)), ids=[c.replace("\n", "; ") for c in CASES])
def test_same_decision_as_apache(apache: ApacheOracle, i: int) -> None:
    raw = raw_request(apache.port, f"GET /c{i} HTTP/1.1\r\nHost: localhost\r\n"
                                   "Connection: close\r\n\r\n".encode())
    status = parse_responses(raw)[0][0]
    assert status in (403, 404)
    resolver = Resolver(timeout=5)
    try:
        ctx = ReqCtx("127.0.0.1", "127.0.0.1", "GET", resolver)
        granted = authorize(ctx, build(CASES[i]))
    finally:
        resolver.close()
    assert (status == 404) == bool(granted)

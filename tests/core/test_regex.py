"""The configuration's regular expressions are PCRE2's, as in Apache: the syntax Python's
`re` lacks compiles, matches mean what they mean in PCRE2 with Apache's default options
(DOTALL, DOLLAR_ENDONLY), and the Cython binding and its ctypes twin agree."""
from __future__ import annotations

import pytest
from support.twins import IMPLEMENTATIONS

from fastcore.config.regex import CompileError, Regex, compile_regex

BINDINGS = [side.load("pcre") for side in IMPLEMENTATIONS]
OPTS = 0x40 | 0x20 | 0x10  # DUPNAMES | DOTALL | DOLLAR_ENDONLY


def test_pcre2_only_syntax_compiles_and_captures() -> None:
    rx = compile_regex(r"^/(?<area>[a-z]++)/(\d+)\K(?:x)?")
    m = rx.search("/docs/42y")
    assert m is not None
    assert m.group("area") == "docs" and m.group(2) == "42" and m.groups() == ("docs", "42")
    assert m.span() == (8, 8)  # \K moved the start of the match
    assert rx.groupindex == {"area": 1} and rx.groups == 2


def test_apache_default_options() -> None:
    assert compile_regex("^/a$").search("/a\n") is None  # DOLLAR_ENDONLY
    assert compile_regex("a.b").search("a\nb") is not None  # DOTALL
    assert compile_regex("B").search("abc") is None
    assert compile_regex("B", caseless=True).search("abc").group() == "b"


def test_match_is_anchored_search_is_not() -> None:
    assert compile_regex("b").match("ab") is None
    assert compile_regex("b").search("ab").start() == 1
    assert compile_regex("(x)?y").search("y").group(1) is None


@pytest.mark.parametrize("pattern", ["(", "[z-a]", r"\u0041", "a{2,1}", "(?<n>a)(?<n>b"])
def test_refused_patterns_raise_with_pcre2_message(pattern: str) -> None:
    with pytest.raises(CompileError) as info:
        compile_regex(pattern)
    assert info.value.message and info.value.offset >= 0


def test_wide_and_byte_subjects() -> None:
    rx = compile_regex("é")  # UTF-8 in the configuration
    assert rx.search("/\u00c3\u00a9x").span() == (1, 3)  # the same bytes, read as Latin-1
    # wider text is matched as its UTF-8 bytes (Apache matches bytes): '.' takes one
    assert compile_regex("x(.)").search("x\u20ac").group(1) == "\udce2"


@pytest.mark.parametrize("pattern,subject", [
    (r"^/(?<a>\w+)/(?P<b>\d*)", "/abc/123"), (r"(a|ab)(c|bcd)(d*)", "abcd"),
    (r"x*+x", "xxx"), (r"(?i)AbC", "xabcx"), (r"\d{2,}?", "12345"), (r"(?=b)", "abc"),
    (r"^$", ""), (r"(a)|(b)", "b"), (r"[[:alpha:]]+", "12ab3"),
])
def test_cython_binding_and_ctypes_twin_agree(pattern: str, subject: str) -> None:
    got = []
    for mod in BINDINGS:
        code = mod.Code(pattern.encode(), OPTS)
        got.append((code.capture_count, code.names, code.exec(subject.encode()),
                    code.exec(subject.encode(), True)))
    assert got[0] == got[1]


def test_twin_errors_match_the_extension() -> None:
    msgs = []
    for mod in BINDINGS:
        with pytest.raises(mod.CompileError) as info:
            mod.Code(b"a(b", OPTS)
        msgs.append((info.value.message, info.value.offset))
    assert msgs[0] == msgs[1] == ("missing closing parenthesis", 3)


def test_regex_repr_and_type() -> None:
    assert isinstance(compile_regex("a"), Regex) and "a" in repr(compile_regex("a"))


def test_threads_share_a_compiled_pattern() -> None:
    """Worker/event threads match the same <LocationMatch> at once (the match runs
    without the GIL): each gets its own captures."""
    import threading

    rx = compile_regex(r"^/u/(\d+)/(?<tail>.*)$")
    bad: list[str] = []

    def run(k: int) -> None:
        for i in range(2000):
            m = rx.search(f"/u/{k}{i}/x{k}")
            if m is None or m.group(1) != f"{k}{i}" or m.group("tail") != f"x{k}":
                bad.append(f"{k}/{i}")

    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not bad

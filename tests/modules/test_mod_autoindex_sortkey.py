"""The listing's sort keys (sort._sorted_by_keys) give dsortf's order exactly: compared
against the comparison function on names made to stress apr_strnatcmp."""
from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from fastcore.modules.mod_autoindex.sort import natural_key, sort_by_cmp, sort_entries


@dataclass
class Ent:
    raw: bytes
    size: int
    lm: int
    isdir: bool
    desc: bytes | None


# no piece starts with 0 (so every name has a key); runs like 9, 10, 100, 1010 meet
TOKENS = [b"a", b"b", b"Z", b"1", b"2", b"9", b"10", b"100", b"20", b".", b"-", b"_", b"~",
          b"\xc3\xa9", b"\xff"]


def names(seed: int, n: int) -> list[bytes]:
    rnd = random.Random(seed)
    out: set[bytes] = set()
    while len(out) < n:
        out.add(b"".join(rnd.choice(TOKENS) for _ in range(rnd.randint(1, 6))))
    return sorted(out)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("keyid", ["N", "M", "S", "D"])
@pytest.mark.parametrize("direction", ["A", "D"])
@pytest.mark.parametrize("version", [True, False])
def test_keys_order_as_cmp(seed: int, keyid: str, direction: str, version: bool) -> None:
    rnd = random.Random(seed)
    ents = [Ent(r, rnd.randint(0, 3), rnd.randint(0, 3), rnd.random() < 0.2,
                rnd.choice([None, b"x1", b"x12", b"y"])) for r in names(seed, 300)]
    assert all(natural_key(e.raw) is not None for e in ents)  # the key path is taken
    by_keys, by_cmp = list(ents), list(ents)
    sort_entries(by_keys, keyid, direction, version, False)
    sort_by_cmp(by_cmp, keyid, direction, version, False)
    assert [e.raw for e in by_keys] == [e.raw for e in by_cmp]


def test_no_key_for_what_strnatcmp_treats_apart() -> None:
    """White space and digit runs with a leading zero fall back to the comparison."""
    assert natural_key(b"a b") is None
    assert natural_key(b"file01") is None
    assert natural_key(b"file10.txt") is not None
    ents = [Ent(r, 0, 0, False, None) for r in (b"f 2", b"f10", b"f01", b"f1", b"f001")]
    expect = list(ents)
    sort_by_cmp(expect, "N", "A", True, False)
    sort_entries(ents, "N", "A", True, False)
    assert [e.raw for e in ents] == [e.raw for e in expect]


@pytest.mark.parametrize("pattern", ["*.txt", "*README", "*^^DIRECTORY^^", "*.t?t", "*[ab]",
                                     "text/*", "*", "*a*b", "*.tar.gz", "*[x"])
def test_icon_tests_match_as_strcmp_match(pattern: str) -> None:
    """The per-pattern test icons.py builds once agrees with ap_strcmp_match."""
    from fastcore.modules.mod_autoindex.icons import match_test, strcmp_match
    for s in ["/d/a.txt", "/d/a.txt.gz", "/d/README", "/d/xREADME", "^^DIRECTORY^^",
              "/d/a.tst", "/d/[ab]", "/d/b", "text/plain", "/d/ab", "/d/a.tar.gz", "/d/[x",
              "", "/d/.txt/"]:
        assert match_test(pattern)(s) == strcmp_match(s, pattern), s


def test_ignore_set_matches_as_strcmp_match() -> None:
    """IndexIgnore's combined test holds exactly where one of its patterns would."""
    from fastcore.modules.mod_autoindex.icons import any_match, strcmp_match
    pats = [".??*", "*~", "*#", "HEADER*", "README*", "RCS", "CVS", "*,v", "*,t", "[x]*"]
    names = [".ab", ".a", "a~", "b#", "HEADER.html", "README", "RCS", "RCSx", "CVS", "f,v",
             "f,t", "[x]y", "xy", "..", ".", "plain.txt", "~a"]
    for k in range(len(pats) + 1):
        test = any_match(pats[:k])
        for n in names:
            assert test(n) == any(strcmp_match(n, p) for p in pats[:k]), (k, n)

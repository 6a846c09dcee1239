"""Every regular expression of the configuration, compiled by PCRE2 as Apache does.

Apache's ap_regcomp: PCRE2 in byte mode with DUPNAMES and its default options DOTALL and
DOLLAR_ENDONLY (RegexDefaultOptions' default), caseless only where a directive asks.  So
`(?<name>...)`, possessive quantifiers, `\\K` and the rest mean here what they mean there,
and a pattern Apache refuses is refused here.  Strings are matched as the bytes they came
from: Latin-1 for request data, UTF-8 (surrogateescape) for anything wider.
"""
from __future__ import annotations

from fastcore._ext import load

_pcre = load("pcre")
CompileError = _pcre.CompileError
DEFAULT_OPTIONS = _pcre.DUPNAMES | _pcre.DOTALL | _pcre.DOLLAR_ENDONLY


def regex_options(caseless: bool) -> int:
    """The PCRE2 compile options of a Regex (the engine compiles the same in C)."""
    return DEFAULT_OPTIONS | (_pcre.CASELESS if caseless else 0)


def _to_bytes(s: str) -> tuple[bytes, str]:
    try:
        return s.encode("latin-1"), "latin-1"
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogateescape"), "utf-8"


class Match:
    """A successful match: groups by number or name, offsets in the subject string."""

    __slots__ = ("re", "string", "_raw", "_codec", "_ov")

    def __init__(self, rx: Regex, string: str, raw: bytes, codec: str, ov: list[int]) -> None:
        self.re = rx
        self.string = string
        self._raw = raw
        self._codec = codec
        self._ov = ov

    def _index(self, g: int | str) -> int:
        i = self.re.groupindex[g] if isinstance(g, str) else g
        if not 0 <= i <= self.re.groups:
            raise IndexError("no such group")
        return i

    def group(self, g: int | str = 0) -> str | None:
        i = self._index(g)
        a, b = self._ov[2 * i], self._ov[2 * i + 1]
        if a < 0:
            return None
        return self._raw[a:b].decode(self._codec, "surrogateescape")

    def groups(self) -> tuple[str | None, ...]:
        return tuple(self.group(i) for i in range(1, self.re.groups + 1))

    def _char_offset(self, byte_offset: int) -> int:
        if byte_offset < 0 or self._codec == "latin-1":
            return byte_offset
        return len(self._raw[:byte_offset].decode(self._codec, "surrogateescape"))

    def start(self, g: int | str = 0) -> int:
        return self._char_offset(self._ov[2 * self._index(g)])

    def end(self, g: int | str = 0) -> int:
        return self._char_offset(self._ov[2 * self._index(g) + 1])

    def span(self, g: int | str = 0) -> tuple[int, int]:
        return self.start(g), self.end(g)


class Regex:
    """A compiled configuration regex with the subset of re.Pattern the server uses."""

    __slots__ = ("pattern", "caseless", "_code", "groups", "groupindex")

    def __init__(self, pattern: str, caseless: bool = False) -> None:
        self.pattern = pattern
        self.caseless = caseless
        opts = regex_options(caseless)
        self._code = _pcre.Code(pattern.encode("utf-8", "surrogateescape"), opts)
        self.groups: int = self._code.capture_count
        self.groupindex: dict[str, int] = dict(self._code.names)

    def __repr__(self) -> str:
        return f"Regex({self.pattern!r})"

    def _run(self, string: str, anchored: bool) -> Match | None:
        raw, codec = _to_bytes(string)
        ov = self._code.exec(raw, anchored)
        return None if ov is None else Match(self, string, raw, codec, ov)

    def search(self, string: str) -> Match | None:
        """First match anywhere (ap_regexec)."""
        return self._run(string, False)

    def match(self, string: str) -> Match | None:
        """A match that starts at the beginning of `string`."""
        return self._run(string, True)


def compile_regex(pattern: str, caseless: bool = False) -> Regex:
    """Compile with Apache's options; raises CompileError (PCRE2's message) if refused."""
    return Regex(pattern, caseless)


def implementation() -> str:
    """Which binding runs PCRE2: the Cython extension or the ctypes twin."""
    return str(_pcre.IMPLEMENTATION)

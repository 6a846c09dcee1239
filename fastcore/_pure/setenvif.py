"""Twin of src/fc_setenvif.h: whether any of an engine entry's SetEnvIf rules matches a
request (then the Python path answers it, with the rules' variables)."""
from __future__ import annotations

from dataclasses import dataclass

from fastcore._ext import load
from fastcore._pure.fastparse import Req

# the subjects a rule reads (FC_ENV_* in C; mod_setenvif.engine_checks makes them)
HEADER, REMOTE_ADDR, METHOD, PROTOCOL, RAW_PATH = 1, 2, 3, 4, 5
SUBJECT_MAX = 8192  # FC_ENV_SUBJECT
ENV_MAX = 64        # FC_ENV_MAX


@dataclass(frozen=True, slots=True)
class Check:
    """One rule as the engine holds it; `code` is None for a substring search."""

    kind: int
    name: bytes
    pattern: bytes
    icase: bool
    code: object | None  # fastcore._pcre.Code (compiled or its twin)


def compile_check(kind: int, name: bytes, pattern: bytes, options: int, icase: bool) -> Check:
    """ValueError when PCRE2 refuses the regex (put() then fails, as in C)."""
    code = None
    if options >= 0:
        try:
            code = load("pcre").Code(pattern, options)
        except Exception as err:  # noqa: BLE001 - the binding's CompileError
            raise ValueError("the regex does not compile") from err
    return Check(kind, bytes(name).lower(), bytes(pattern), bool(icase), code)


def _header(fields: bytes, name: bytes) -> bytes | None:
    """The named field's values joined with ", " (b"" when absent); None past the room."""
    out = b""
    found = False
    for line in fields.split(b"\r\n"):
        if not line:
            break
        nm, colon, value = line.partition(b":")
        if colon and nm.lower() == name:
            v = value.strip(b" \t")
            if len(out) + len(v) + 2 > SUBJECT_MAX:  # as C checks its buffer
                return None
            out += (b", " if found else b"") + v
            found = True
    return out


def _test(c: Check, subject: bytes) -> bool:
    if c.code is None:
        if c.icase:
            if any(b >= 0x80 for b in subject):
                return True
            return c.pattern.lower() in subject.lower()
        return c.pattern in subject
    try:
        return c.code.exec(subject, False) is not None  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a match error: the Python path decides
        return True


def any_match(checks: tuple[Check, ...], r: Req, client: bytes) -> bool:
    """fc_env_any."""
    for c in checks:
        if c.kind == HEADER:
            subject = _header(r.fields, c.name)
            if subject is None:
                return True
        elif c.kind == REMOTE_ADDR:
            subject = client
        elif c.kind == METHOD:
            subject = r.method
        elif c.kind == PROTOCOL:
            subject = r.proto
        elif c.kind == RAW_PATH:
            subject = r.target.split(b"?", 1)[0]
        else:
            return True
        if _test(c, subject):
            return True
    return False

"""The fast path's access-log formats (shared by fastcore._fastpath and its twin):
`compile_log_format` turns a LogFormat into the op program fastcore/src/fc_fastlog.h runs,
or None when a directive needs per-request Python; `log_values` renders the per-entry
fields.  Config-time code; re-exported by fastcore._pure.fastpath."""
from __future__ import annotations

from fastcore.modules.mod_log_config import (
    _DIRECTIVE,
    _ESCAPES,
    directive_groups,
    escape,
    escape_path,
)

(OP_LIT, OP_H, OP_A, OP_T_CLF, OP_T_SEC, OP_T_MSEC, OP_T_USEC, OP_T_MSFRAC, OP_T_USFRAC, OP_R,
 OP_STATUS, OP_b, OP_B, OP_D, OP_T_DIV, OP_HDR_IN, OP_VHOST, OP_HOSTV, OP_PORT, OP_URI,
 OP_QUERY, OP_FILENAME, OP_CTYPE_O, OP_METHOD, OP_PROTO, OP_K, OP_X, OP_PID, OP_TID,
 OP_HEXTID, OP_RPORT, OP_I, OP_O, OP_S, OP_DASH) = range(1, 36)
_SIMPLE = {"h": OP_H, "a": OP_A, "l": OP_DASH, "u": OP_DASH, "r": OP_R, "s": OP_STATUS,
           ">s": OP_STATUS, "b": OP_b, "B": OP_B, "D": OP_D, "v": OP_VHOST, "V": OP_HOSTV,
           "k": OP_K, "X": OP_X, "U": OP_URI, "q": OP_QUERY, "m": OP_METHOD, "H": OP_PROTO,
           "f": OP_FILENAME, "I": OP_I, "O": OP_O, "S": OP_S, "R": OP_DASH, "e": OP_DASH,
           "n": OP_DASH, "L": OP_DASH}
_TIMES = {"sec": OP_T_SEC, "msec": OP_T_MSEC, "usec": OP_T_USEC, "msec_frac": OP_T_MSFRAC,
          "usec_frac": OP_T_USFRAC}


def _op(out: bytearray, op: int, arg: bytes = b"") -> None:
    for i in range(0, max(len(arg), 1), 65535):
        part = arg[i:i + 65535]
        out += bytes((op, len(part) & 255, len(part) >> 8)) + part


def compile_log_format(fmt: str) -> bytes | None:
    """LogFormat -> op program for the engine's formatter, or None when some directive
    needs Python (conditions, %A, %C, strftime %{...}t, ...): such a vhost's responses are
    then never served by the engine."""
    out = bytearray()
    pos = 0

    def lit(text: str) -> None:
        for k, v in _ESCAPES.items():
            text = text.replace(k, v)
        if text:
            _op(out, OP_LIT, text.encode("latin-1", "replace"))

    for m in _DIRECTIVE.finditer(fmt):
        if m.start() > pos:
            lit(fmt[pos:m.start()])
        pos = m.end()
        cond, mod1, arg, mod2, code = directive_groups(m)
        if cond:
            return None
        if code == "s" and (mod1 == ">" or mod2 == ">"):
            code = ">s"
        if code == "%":
            _op(out, OP_LIT, b"%")
        elif code in _SIMPLE:
            if arg == "c" and code in "ah":
                return None  # the TCP peer, not the useragent (mod_remoteip): Python's
            if code == "e" and arg and (arg.upper() == "HTTPS" or arg.upper()[:4] == "SSL_"):
                return None  # mod_ssl's variables: set per TLS connection, by Python
            _op(out, _SIMPLE[code])
        elif code == "t":
            if arg is None:
                _op(out, OP_T_CLF)
                continue
            a = arg
            for pre in ("begin:", "end:"):
                if a.startswith(pre):
                    a = a[len(pre):]
            if a not in _TIMES:
                return None
            _op(out, _TIMES[a])
        elif code == "T":
            div = {"ms": 1000, "us": 1, "s": 1000000}.get((arg or "s").lower(), 1000000)
            _op(out, OP_T_DIV, str(div).encode())
        elif code == "i":
            _op(out, OP_HDR_IN, (arg or "").lower().encode("latin-1", "replace"))
        elif code == "o":
            _op(out, OP_CTYPE_O if (arg or "").lower() == "content-type" else OP_DASH)
        elif code == "p":
            if arg == "local":
                return None
            _op(out, OP_RPORT if arg == "remote" else OP_PORT)
        elif code == "P":
            _op(out, {"tid": OP_TID, "hextid": OP_HEXTID}.get(arg or "", OP_PID))
        else:
            return None
    if pos < len(fmt):
        lit(fmt[pos:])
    return bytes(out)


def log_values(vhost_name: str, host_name: str | None, port: int, uri: str, query: str,
               filename: str | None, ctype: str | None) -> tuple[bytes, ...]:
    """The per-entry log fields (%v %V %p %U %q %f %{Content-Type}o) rendered as the
    Python formatter renders them."""
    def enc(s: str) -> bytes:
        return s.encode("latin-1", "replace")
    return (enc(vhost_name), enc(host_name or vhost_name), enc(str(port)), enc(escape_path(uri)),
            enc("?" + escape(query)) if query else b"",
            enc(escape_path(filename)) if filename else b"-",
            enc(escape(ctype.split(";")[0].strip())) if ctype else b"-")



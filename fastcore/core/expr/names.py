"""The variables, functions and operators util_expr_eval.c's core_expr_lookup knows,
each with whether its value is fixed for one file's cached answer (request_independent).

Values are byte text (scanner.py).  A function that Apache answers NULL for gives "".
"""
from __future__ import annotations

import fnmatch
import grp
import ipaddress
import os
import pwd
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastcore.core import digests, errors
from fastcore.core.expr import values as V
from fastcore.core.expr.context import ExprContext, ExprError
from fastcore.core.tokens import is_digits

API_VERSION = "20120211"  # MODULE_MAGIC_NUMBER_MAJOR of httpd 2.4
MAX_FILE_SIZE = 10 * 1024 * 1024
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Variable:
    fn: Callable[[ExprContext], str | None]
    independent: bool


@dataclass(frozen=True)
class Function:
    fn: Callable[[ExprContext, str], str | None]
    independent: bool


@dataclass(frozen=True)
class Unary:
    """A -X test; `subnet` when it takes a constant subnet argument (-R)."""

    fn: Callable[[ExprContext, str, Network | None], bool]
    independent: bool
    file_test: bool = False
    subnet: bool = False


@dataclass(frozen=True)
class Binary:
    fn: Callable[[ExprContext, str, str, Network | None], bool]
    subnet: bool = False


def _header(ctx: ExprContext, name: str) -> str | None:
    return ctx.txn.headers_in.get(name.lower())


def _req_header(name: str) -> Variable:
    def fn(ctx: ExprContext) -> str | None:
        ctx.add_vary(name)
        return _header(ctx, name)
    return Variable(fn, False)


def _local(t: float) -> time.struct_time:
    return time.localtime(t)


def _stamp(tm: time.struct_time) -> str:
    return time.strftime("%Y%m%d%H%M%S", tm)


def _walk_st(ctx: ExprContext) -> os.stat_result | None:
    walk = ctx.txn.walk
    return walk.st if walk is not None else None


def _owner(ctx: ExprContext, group: bool) -> str:
    st = _walk_st(ctx)
    if st is None:
        return ""
    try:
        return grp.getgrgid(st.st_gid).gr_name if group else pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        return ""


def _last_modified(ctx: ExprContext) -> str:
    """r->mtime: set by the handler, so 0 (the epoch) before the answer exists."""
    st = _walk_st(ctx)
    mtime = int(st.st_mtime) if st is not None and ctx.resp is not None else 0
    return _stamp(_local(mtime))


def _server_name_port(ctx: ExprContext) -> tuple[str, int]:
    return ctx.txn.conn.srv.server_name_port(ctx.txn)


def _ipv6(ctx: ExprContext) -> str:
    try:
        a = ipaddress.ip_address(ctx.txn.conn.client_ip.split("%", 1)[0])
    except ValueError:
        return "off"
    v6 = isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is None
    return "on" if v6 else "off"


def _status(ctx: ExprContext) -> str:
    s = ctx.resp.status if ctx.resp is not None else ctx.txn.status
    return str(s) if s else ""


def _ctype(ctx: ExprContext) -> str | None:
    return ctx.resp.ctype if ctx.resp is not None and ctx.resp.ctype else ctx.txn.ctype


def _banner(ctx: ExprContext) -> str:
    return errors.server_banner(ctx.txn.conn.srv.cfg.server_tokens)


def _method(ctx: ExprContext) -> str:
    return ctx.txn.method


def _uri(ctx: ExprContext) -> str:
    """r->uri (path text as bytes)."""
    return V.from_path(ctx.txn.r_uri or ctx.txn.uri_path)


def _protocol(ctx: ExprContext) -> str:
    return ctx.txn.protocol


def _path_info(ctx: ExprContext) -> str | None:
    walk = ctx.txn.walk
    return V.from_path(walk.path_info) if walk is not None else None


def _query(ctx: ExprContext) -> str:
    return ctx.txn.query


def _document_uri(ctx: ExprContext) -> str:
    return ctx.txn.env.get("document_uri") or _uri(ctx)


def _time(fmt: str) -> Variable:
    return Variable(lambda ctx: time.strftime(fmt, _local(time.time())), False)


T = True
F = False
VARIABLES: dict[str, Variable] = {
    "TIME_YEAR": _time("%Y"), "TIME_MON": _time("%m"), "TIME_DAY": _time("%d"),
    "TIME_HOUR": _time("%H"), "TIME_MIN": _time("%M"), "TIME_SEC": _time("%S"),
    "TIME_WDAY": Variable(lambda ctx: str((_local(time.time()).tm_wday + 1) % 7), F),
    "TIME": Variable(lambda ctx: _stamp(_local(time.time())), F),
    "SERVER_SOFTWARE": Variable(_banner, T),
    "API_VERSION": Variable(lambda ctx: API_VERSION, T),
    "HTTP_USER_AGENT": _req_header("User-Agent"),
    "HTTP_PROXY_CONNECTION": _req_header("Proxy-Connection"),
    "HTTP_REFERER": _req_header("Referer"), "HTTP_COOKIE": _req_header("Cookie"),
    "HTTP_FORWARDED": _req_header("Forwarded"), "HTTP_HOST": _req_header("Host"),
    "HTTP_ACCEPT": _req_header("Accept"),
    "REQUEST_METHOD": Variable(_method, F),
    "REQUEST_SCHEME": Variable(lambda ctx: "https" if ctx.txn.conn.https() else "http", F),
    "REQUEST_URI": Variable(_uri, F),
    "REQUEST_FILENAME": Variable(lambda ctx: V.from_path(ctx.txn.filename), T),
    "REMOTE_HOST": Variable(lambda ctx: ctx.txn.remote_host or ctx.txn.client_ip, F),
    "REMOTE_IDENT": Variable(lambda ctx: None, F),
    "REMOTE_USER": Variable(lambda ctx: ctx.txn.user, F),
    "SERVER_ADMIN": Variable(lambda ctx: ctx.txn.vhost.server_admin, T),
    "SERVER_NAME": Variable(lambda ctx: _server_name_port(ctx)[0], F),
    "SERVER_PORT": Variable(lambda ctx: str(_server_name_port(ctx)[1]), F),
    "SERVER_PROTOCOL": Variable(_protocol, F),
    "SCRIPT_FILENAME": Variable(lambda ctx: V.from_path(ctx.txn.filename), T),
    "PATH_INFO": Variable(_path_info, F),
    "QUERY_STRING": Variable(_query, F),
    "IS_SUBREQ": Variable(lambda ctx: "false", T),
    "DOCUMENT_ROOT": Variable(lambda ctx: V.from_path(ctx.txn.vhost.document_root), T),
    "AUTH_TYPE": Variable(lambda ctx: None, F),
    "THE_REQUEST": Variable(lambda ctx: ctx.txn.request_line, F),
    "CONTENT_TYPE": Variable(_ctype, T),
    "HANDLER": Variable(lambda ctx: ctx.txn.handler_name, T),
    "REQUEST_LOG_ID": Variable(lambda ctx: None, F),
    "SCRIPT_USER": Variable(lambda ctx: _owner(ctx, False), T),
    "SCRIPT_GROUP": Variable(lambda ctx: _owner(ctx, True), T),
    "DOCUMENT_URI": Variable(_document_uri, F),
    "LAST_MODIFIED": Variable(_last_modified, T),
    "CONTEXT_PREFIX": Variable(lambda ctx: "", F),
    "CONTEXT_DOCUMENT_ROOT": Variable(lambda ctx: V.from_path(ctx.txn.vhost.document_root), T),
    "REQUEST_STATUS": Variable(_status, F),
    "REMOTE_ADDR": Variable(lambda ctx: ctx.txn.client_ip, F),
    "REMOTE_PORT": Variable(lambda ctx: str(ctx.txn.remote_port), F),
    "HTTPS": Variable(lambda ctx: "on" if ctx.txn.conn.https() else "off", F),
    "IPV6": Variable(_ipv6, F),
    "CONN_LOG_ID": Variable(lambda ctx: None, F),
    "CONN_REMOTE_ADDR": Variable(lambda ctx: ctx.txn.conn.client_ip, F),
    "HTTP2": Variable(lambda ctx: "off", T),
}


def ssl_variable(name: str) -> Variable:
    """%{SSL_*}: mod_ssl's variables of the request's connection (empty without TLS)."""
    key = name.upper()
    return Variable(lambda ctx: ctx.txn.conn.ssl_var(key) or "", F)


def _req(ctx: ExprContext, name: str) -> str | None:
    ctx.add_vary(name)
    return _header(ctx, name)


def _resp(ctx: ExprContext, name: str) -> str | None:
    if ctx.resp is None:
        return None
    low = name.lower()
    return next((v for k, v in ctx.resp.headers if k.lower() == low), None)


def _env(ctx: ExprContext, name: str) -> str | None:
    """notes (none in fastcore), then the request's environment, then the process's."""
    v = ctx.txn.env.get(name.lower())
    return v if v is not None else os.environ.get(name)


def _read_file(ctx: ExprContext, name: str) -> str:
    """file_func: at most 10 MiB; a directory opens but cannot be read, as with APR."""
    try:
        fd = os.open(V.to_path(name), os.O_RDONLY)
    except (OSError, ValueError):
        raise ExprError(f"Cannot open file {name}") from None
    try:
        size = os.fstat(fd).st_size
        if size > MAX_FILE_SIZE:
            raise ExprError(f"File {name} too large")
        chunks = []
        left = size
        while left > 0:
            b = os.read(fd, left)
            if not b:
                break
            chunks.append(b)
            left -= len(b)
    except OSError:
        raise ExprError(f"Cannot read from file {name}") from None
    finally:
        os.close(fd)
    return V.text(b"".join(chunks))


def _filesize(ctx: ExprContext, name: str) -> str:
    try:
        st = os.stat(V.to_path(name))
    except (OSError, ValueError):
        return "0"
    return str(st.st_size) if stat.S_ISREG(st.st_mode) and st.st_size > 0 else "0"


def _hexdigest(new: Callable[..., digests.Hash]) -> Callable[[ExprContext, str], str]:
    return lambda ctx, s: new(V.raw(s)).hexdigest()


FUNCTIONS: dict[str, Function] = {
    "osenv": Function(lambda ctx, s: os.environ.get(s), T),
    "env": Function(_env, F),
    "resp": Function(_resp, F),
    "req": Function(_req, F),
    "http": Function(_req, F),
    "note": Function(lambda ctx, s: None, F),
    "reqenv": Function(lambda ctx, s: ctx.txn.env.get(s.lower()), F),
    "req_novary": Function(lambda ctx, s: _header(ctx, s), F),
    "tolower": Function(lambda ctx, s: "".join(c.lower() if c.isascii() else c for c in s), T),
    "toupper": Function(lambda ctx, s: "".join(c.upper() if c.isascii() else c for c in s), T),
    "escape": Function(lambda ctx, s: V.escape(s), T),
    "unescape": Function(lambda ctx, s: V.unescape(s), T),
    "file": Function(_read_file, F),
    "filesize": Function(_filesize, F),
    "base64": Function(lambda ctx, s: V.b64encode(s), T),
    "unbase64": Function(lambda ctx, s: V.b64decode(s), T),
    "sha1": Function(_hexdigest(digests.sha1), T),
    "md5": Function(_hexdigest(digests.md5), T),
}


def _stat(name: str, follow: bool = True) -> os.stat_result | None:
    try:
        return os.stat(V.to_path(name)) if follow else os.lstat(V.to_path(name))
    except (OSError, ValueError):
        return None


def _file_min(kind: str) -> Callable[[ExprContext, str, Network | None], bool]:
    def fn(ctx: ExprContext, arg: str, _net: Network | None) -> bool:
        st = _stat(arg)
        if st is None:
            return False
        if kind == "d":
            return stat.S_ISDIR(st.st_mode)
        if kind == "f":
            return stat.S_ISREG(st.st_mode)
        if kind == "s":
            return stat.S_ISREG(st.st_mode) and st.st_size > 0
        return True
    return fn


def _link(ctx: ExprContext, arg: str, _net: Network | None) -> bool:
    st = _stat(arg, follow=False)
    return st is not None and stat.S_ISLNK(st.st_mode)


def _xbit(ctx: ExprContext, arg: str, _net: Network | None) -> bool:
    """APR_FINFO_LINK: the link itself when `arg` is a symlink (its mode is 0777)."""
    st = _stat(arg, follow=False)
    return st is not None and bool(st.st_mode & 0o111)


def _truth(ctx: ExprContext, arg: str, _net: Network | None) -> bool:
    """op_T: false for "", "0", and (any case) off, no, false."""
    if arg == "" or arg == "0":
        return False
    return arg.lower() not in ("off", "no", "false") if arg[0] in "oOnNfF" else True


def in_subnet(net: Network | None, addr: str) -> bool:
    """apr_ipsubnet_test: an IPv4 subnet also matches the IPv4-mapped IPv6 form."""
    if net is None:
        return False
    try:
        a = ipaddress.ip_address(addr.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is not None \
            and isinstance(net, ipaddress.IPv4Network):
        a = a.ipv4_mapped
    return a.version == net.version and a in net


UNARY: dict[str, Unary] = {
    "n": Unary(lambda ctx, a, _n: a != "", T),
    "z": Unary(lambda ctx, a, _n: a == "", T),
    "R": Unary(lambda ctx, a, net: in_subnet(net, ctx.txn.client_ip), F, subnet=True),
    "T": Unary(_truth, T),
    "d": Unary(_file_min("d"), T, file_test=True),
    "e": Unary(_file_min("e"), T, file_test=True),
    "f": Unary(_file_min("f"), T, file_test=True),
    "s": Unary(_file_min("s"), T, file_test=True),
    "L": Unary(_link, T, file_test=True),
    "h": Unary(_link, T, file_test=True),
    "x": Unary(_xbit, T, file_test=True),
}


def _fnmatch(pattern: str, s: str, pathname: bool, casefold: bool) -> bool:
    """apr_fnmatch: *, ?, [...] (with !/^ negation); `pathname`: wildcards do not
    cross '/'."""
    if casefold:
        pattern, s = pattern.lower(), s.lower()
    if not pathname:
        return fnmatch.fnmatchcase(s, pattern.replace("[^", "[!"))
    pparts, sparts = pattern.split("/"), s.split("/")
    return len(pparts) == len(sparts) and all(
        fnmatch.fnmatchcase(a, p.replace("[^", "[!")) for p, a in zip(pparts, sparts, strict=True))


BINARY: dict[str, Binary] = {
    "ipmatch": Binary(lambda ctx, a, b, net: in_subnet(net, a), subnet=True),
    "fnmatch": Binary(lambda ctx, a, b, _n: _fnmatch(b, a, True, False)),
    "strmatch": Binary(lambda ctx, a, b, _n: _fnmatch(b, a, False, False)),
    "strcmatch": Binary(lambda ctx, a, b, _n: _fnmatch(b, a, False, True)),
}


def parse_subnet(name: str, arg: str | None) -> tuple[Network | None, str | None]:
    """subnet_parse_arg: (the network, None) or (None, Apache's error message)."""
    if arg is None:
        return None, f"-{name} requires subnet/netmask as constant argument"
    addr, slash, mask = arg.partition("/")
    try:
        if slash:
            if is_digits(mask):
                return ipaddress.ip_network(f"{addr}/{mask}", strict=False), None
            return ipaddress.ip_network(f"{addr}/{ipaddress.IPv4Address(mask)}",
                                        strict=False), None
        if ":" in addr:
            return ipaddress.ip_network(f"{addr}/128"), None
        parts = addr.rstrip(".").split(".") if addr.endswith(".") or addr.count(".") < 3 \
            else addr.split(".")
        if 1 <= len(parts) <= 4 and all(is_digits(p) and int(p) < 256 for p in parts):
            full = parts + ["0"] * (4 - len(parts))
            return ipaddress.ip_network(f"{'.'.join(full)}/{8 * len(parts)}"), None
    except ValueError:
        pass
    return None, "parsing of subnet/netmask failed"


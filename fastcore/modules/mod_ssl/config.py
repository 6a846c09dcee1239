"""mod_ssl's directives and records: a per-server record (certificates, protocols,
ciphers, sessions, client verification) merged main -> <VirtualHost> as
ssl_config_server_merge, and a per-directory record (SSLRequireSSL, SSLOptions).

Checks made while reading, with mod_ssl's messages (ssl_engine_config.c): a certificate
or key file that does not exist or is empty, an unknown protocol, option or verify level.
What needs OpenSSL (a key that does not match its certificate, a cipher string that
matches nothing) is checked when the contexts are built (contexts.py), at startup and by
`-t`, naming the directive's file and line.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace

from fastcore._ext import load
from fastcore.config.engine import (
    GLOBAL_ONLY,
    NOT_IN_DIR_LOC_FILE,
    OR_AUTHCFG,
    OR_OPTIONS,
    RSRC,
    Ctx,
    Directive,
    DirectiveError,
    Engine,
)
from fastcore.config.model import module_record, scope_record
from fastcore.config.tree import Node
from fastcore.core.tokens import is_digits

NAME = "ssl_module"

# SSLProtocol names -> protocol versions (TLS1_VERSION ...); "all" as Apache 2.4 with
# OpenSSL 3: TLSv1 to TLSv1.3 (SSLv3 is not in OpenSSL's default build)
PROTOCOLS = {"sslv3": 0x300, "tlsv1": 0x301, "tlsv1.1": 0x302, "tlsv1.2": 0x303,
             "tlsv1.3": 0x304}
ALL = frozenset({"tlsv1", "tlsv1.1", "tlsv1.2", "tlsv1.3"})
VERIFY = ("none", "optional", "require", "optional_no_ca")
OPTIONS = ("stdenvvars", "exportcertdata", "fakebasicauth", "strictrequire",
           "optrenegotiate", "legacydnstringformat")


@dataclass(frozen=True)
class Where:
    """The directive a setting came from: startup errors name it."""

    directive: str
    filename: str
    line: int


@dataclass(frozen=True)
class SSLServer:
    """A server's (or <VirtualHost>'s) mod_ssl settings; None: not set here."""

    engine: bool | None = None
    certs: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    chain_file: str | None = None
    ca_file: str | None = None
    ca_path: str | None = None
    protocols: frozenset[str] | None = None
    ciphers: str | None = None
    ciphers13: str | None = None
    honor_cipher_order: bool | None = None
    compression: bool | None = None
    session_tickets: bool | None = None
    session_timeout: int | None = None
    conf_cmds: tuple[tuple[str, str], ...] = ()
    strict_sni: bool | None = None
    verify: str | None = None
    verify_depth: int | None = None
    # SSLSessionCache (main server only, inherited): none | nonenotnull | shmcb
    session_cache: str | None = None
    cache_path: str | None = None
    cache_size: int | None = None
    where: tuple[Where, ...] = ()

    def merge(self, add: SSLServer) -> SSLServer:
        """ssl_config_server_merge: what the vhost set wins, the rest is inherited;
        certificates are not merged one by one (a vhost with its own replaces them)."""
        kw = {}
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(add, f.name)
            if f.name == "where":
                kw[f.name] = theirs + mine
            elif f.name in ("certs", "keys", "conf_cmds"):
                kw[f.name] = theirs or mine
            else:
                kw[f.name] = mine if theirs is None else theirs
        return SSLServer(**kw)

    def located(self, directive: str) -> Where | None:
        for w in self.where:
            if w.directive.lower() == directive.lower():
                return w
        return None


@dataclass
class SSLDir:
    """Per-directory: SSLRequireSSL and SSLOptions (+/- merged as mod_ssl)."""

    require_ssl: bool | None = None
    options: frozenset[str] = frozenset()
    add: frozenset[str] = frozenset()
    remove: frozenset[str] = frozenset()
    absolute: bool = False

    def merge(self, add: SSLDir) -> SSLDir:
        if add.absolute:
            opts = add.options
        else:
            opts = (self.effective() | add.add) - add.remove
        return SSLDir(add.require_ssl if add.require_ssl is not None else self.require_ssl,
                      frozenset(opts), absolute=True)

    def effective(self) -> frozenset[str]:
        return self.options if self.absolute else frozenset(self.add - self.remove)


@dataclass
class TLSParams:
    """What fastcore._tls.Context.build applies (one vhost's effective settings)."""

    pairs: list[tuple[str, str | None]]
    chain_file: str | None
    ca_file: str | None
    ca_path: str | None
    proto_min: int
    proto_max: int
    ciphers: str | None
    ciphers13: str | None
    honor_cipher_order: bool
    compression: bool
    session_tickets: bool
    session_cache: bool
    session_timeout: int
    shared_cache: int  # bytes of the cache shared by the children (shmcb), 0: none
    session_id_context: str
    conf_cmds: list[tuple[str, str]] = field(default_factory=list)
    verify: str = ""
    verify_depth: int = 1


def server_record(ctx: Ctx) -> SSLServer:
    return module_record(ctx.vhost.module_config, NAME, SSLServer)


def _set(ctx: Ctx, n: Node, directive: str, **kw: object) -> None:
    rec = server_record(ctx)
    where = (Where(directive, n.filename, n.line),) + rec.where
    ctx.vhost.module_config[NAME] = replace(rec, where=where, **kw)  # type: ignore[arg-type]


def _file(e: Engine, directive: str, path: str) -> str:
    """ssl_cmd_check_file: an existing, non-empty file (relative to ServerRoot)."""
    full = e.resolve_path(path)
    try:
        ok = os.path.isfile(full) and os.path.getsize(full) > 0
    except OSError:
        ok = False
    if not ok:
        raise DirectiveError(f"{directive}: file '{full}' does not exist or is empty")
    return full


def ssl_engine(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    word = a[0].lower()
    if word not in ("on", "off", "optional", "addr"):
        raise DirectiveError("Argument must be On, Off, Optional or addr[:port]")
    if word == "optional":
        raise DirectiveError("SSLEngine optional (TLS upgrade, RFC 2817) is not supported "
                             "by fastcore")
    _set(ctx, n, "SSLEngine", engine=word == "on")


def cert_file(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    path = _file(e, "SSLCertificateFile", a[0])
    _set(ctx, n, "SSLCertificateFile", certs=server_record(ctx).certs + (path,))


def key_file(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    path = _file(e, "SSLCertificateKeyFile", a[0])
    _set(ctx, n, "SSLCertificateKeyFile", keys=server_record(ctx).keys + (path,))


def chain_file(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    _set(ctx, n, "SSLCertificateChainFile",
         chain_file=_file(e, "SSLCertificateChainFile", a[0]))


def ca_file(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    _set(ctx, n, "SSLCACertificateFile", ca_file=_file(e, "SSLCACertificateFile", a[0]))


def ca_path(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    full = e.resolve_path(a[0])
    if not os.path.isdir(full):
        raise DirectiveError(f"SSLCACertificatePath: directory '{full}' does not exist")
    _set(ctx, n, "SSLCACertificatePath", ca_path=full)


def protocol(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """ssl_cmd_protocol_parse: words +X / -X / X ('X' alone resets to just X)."""
    got: set[str] = set()
    for w in a:
        op = ""
        if w[:1] in "+-":
            op, w = w[0], w[1:]
        name = w.lower()
        if name == "all":
            these = set(ALL)
        elif name in PROTOCOLS:
            these = {name}
        else:
            raise DirectiveError(f"SSLProtocol: Illegal protocol '{w}'")
        if op == "-":
            got -= these
        elif op == "+":
            got |= these
        else:
            got = set(these)
    _set(ctx, n, "SSLProtocol", protocols=frozenset(got))


def cipher_suite(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """SSLCipherSuite [protocol] spec: 'SSL' (the default) for TLS <= 1.2, TLSv1.3 for
    its suites."""
    if len(a) == 1:
        _set(ctx, n, "SSLCipherSuite", ciphers=a[0])
        return
    proto = a[0].lower()
    if proto == "ssl":
        _set(ctx, n, "SSLCipherSuite", ciphers=a[1])
    elif proto == "tlsv1.3":
        _set(ctx, n, "SSLCipherSuite", ciphers13=a[1])
    else:
        raise DirectiveError(f"protocol '{a[0]}' not supported")


def honor_order(e: Engine, ctx: Ctx, a: bool, n: Node) -> None:
    _set(ctx, n, "SSLHonorCipherOrder", honor_cipher_order=a)


def compression(e: Engine, ctx: Ctx, a: bool, n: Node) -> None:
    if a and not load("tls").compression_available():  # ssl_cmd_SSLCompression
        raise DirectiveError("This version of OpenSSL does not have any compression methods "
                             "available, cannot enable SSLCompression.")
    _set(ctx, n, "SSLCompression", compression=a)


def tickets(e: Engine, ctx: Ctx, a: bool, n: Node) -> None:
    _set(ctx, n, "SSLSessionTickets", session_tickets=a)


def strict_sni(e: Engine, ctx: Ctx, a: bool, n: Node) -> None:
    _set(ctx, n, "SSLStrictSNIVHostCheck", strict_sni=a)


def session_timeout(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    if not is_digits(a[0]):
        raise DirectiveError("SSLSessionCacheTimeout: Invalid argument")
    _set(ctx, n, "SSLSessionCacheTimeout", session_timeout=int(a[0]))


def conf_cmd(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    rec = server_record(ctx)
    _set(ctx, n, "SSLOpenSSLConfCmd", conf_cmds=rec.conf_cmds + ((a[0], a[1]),))


def verify_client(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    level = a[0].lower()
    if level not in VERIFY:
        raise DirectiveError(f"SSLVerifyClient: Invalid argument '{a[0]}'")
    if ctx.kinds or ctx.htaccess:
        raise DirectiveError("SSLVerifyClient in a per-directory context needs a TLS "
                             "renegotiation, which fastcore does not do; set it on the "
                             "<VirtualHost>")
    _set(ctx, n, "SSLVerifyClient", verify="" if level == "none" else level)


def verify_depth(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    if not is_digits(a[0]):
        raise DirectiveError("SSLVerifyDepth: Invalid argument")
    if ctx.kinds or ctx.htaccess:
        raise DirectiveError("SSLVerifyDepth in a per-directory context needs a TLS "
                             "renegotiation, which fastcore does not do")
    _set(ctx, n, "SSLVerifyDepth", verify_depth=int(a[0]))


def session_cache(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """SSLSessionCache none | nonenotnull | shmcb:/path[(size)] (mod_socache_shmcb)."""
    spec = a[0]
    low = spec.lower()
    if low in ("none", "nonenotnull"):
        _set(ctx, n, "SSLSessionCache", session_cache=low)
        return
    kind, _, rest = spec.partition(":")
    if kind.lower() != "shmcb":
        raise DirectiveError(f"'{kind}' session cache not supported by fastcore (known "
                             "names: shmcb)")
    if not e.module_loaded("socache_shmcb_module"):
        raise DirectiveError(f"'{kind}' session cache not supported (known names: ). "
                             "Maybe you need to load the appropriate socache module "
                             "(mod_socache_shmcb?)")
    path, size = rest, 512000
    if rest.endswith(")") and "(" in rest:
        path, _, num = rest[:-1].partition("(")
        if not is_digits(num):
            raise DirectiveError("Invalid argument: size has to be numerical")
        size = int(num)
        if size < 8192:
            raise DirectiveError("Invalid argument: size has to be >= 8192 bytes")
    _set(ctx, n, "SSLSessionCache", session_cache="shmcb", cache_path=e.resolve_path(path),
         cache_size=size)


def require_ssl(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    scope_record(ctx.dirconf.modules, NAME, SSLDir).require_ssl = True


def ssl_options(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    rec = scope_record(ctx.dirconf.modules, NAME, SSLDir)
    for w in a:
        op = ""
        if w[:1] in "+-":
            op, w = w[0], w[1:]
        name = w.lower()
        if name not in OPTIONS:
            raise DirectiveError(f"SSLOptions: Illegal option '{w}'")
        if op == "+":
            rec.add, rec.remove = rec.add | {name}, rec.remove - {name}
        elif op == "-":
            rec.remove, rec.add = rec.remove | {name}, rec.add - {name}
        else:
            rec.options, rec.absolute = rec.options | {name}, True


def accepted_only(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """SSLRandomSeed, SSLPassPhraseDialog: OpenSSL 3 seeds itself and fastcore reads only
    unencrypted keys, so the directives are read (and checked) but change nothing."""
    if n.name.lower() == "sslrandomseed":
        if a[0].lower() not in ("startup", "connect"):
            raise DirectiveError("SSLRandomSeed: invalid context: `" + a[0] + "'")
    elif n.name.lower() == "sslpassphrasedialog":
        if not (a[0].lower() == "builtin" or a[0].startswith(("exec:", "|"))):
            raise DirectiveError("SSLPassPhraseDialog: Invalid argument")


def directives() -> list[Directive]:
    srv = frozenset({RSRC})
    return [
        Directive("SSLEngine", NAME, srv, "TAKE1", ssl_engine,
                  "SSL switch for the protocol engine ('on', 'off')", NOT_IN_DIR_LOC_FILE),
        Directive("SSLCertificateFile", NAME, srv, "TAKE1", cert_file,
                  "SSL Server Certificate file ('/path/to/file' - PEM or DER encoded)"),
        Directive("SSLCertificateKeyFile", NAME, srv, "TAKE1", key_file,
                  "SSL Server Private Key file ('/path/to/file' - PEM or DER encoded)"),
        Directive("SSLCertificateChainFile", NAME, srv, "TAKE1", chain_file,
                  "SSL Server CA Certificate Chain file ('/path/to/file' - PEM encoded)"),
        Directive("SSLCACertificateFile", NAME, srv, "TAKE1", ca_file,
                  "SSL CA Certificate file ('/path/to/file' - PEM encoded)"),
        Directive("SSLCACertificatePath", NAME, srv, "TAKE1", ca_path,
                  "SSL CA Certificate path ('/path/to/dir' - contains PEM encoded files)"),
        Directive("SSLProtocol", NAME, srv, "ITERATE", protocol,
                  "Enable or disable various SSL protocols ('[+-]["
                  "SSLv3|TLSv1|TLSv1.1|TLSv1.2|TLSv1.3] ...' - see manual)"),
        Directive("SSLCipherSuite", NAME, srv, "TAKE12", cipher_suite,
                  "Colon-delimited list of permitted SSL Ciphers ('XXX:...:XXX' - see "
                  "manual)"),
        Directive("SSLHonorCipherOrder", NAME, srv, "FLAG", honor_order,
                  "Use the server's cipher ordering preference"),
        Directive("SSLCompression", NAME, srv, "FLAG", compression,
                  "Enable SSL level compression (`on', `off')"),
        Directive("SSLSessionTickets", NAME, srv, "FLAG", tickets,
                  "Enable or disable TLS session tickets"),
        Directive("SSLSessionCacheTimeout", NAME, srv, "TAKE1", session_timeout,
                  "SSL Session Cache object lifetime ('N' - number of seconds)"),
        Directive("SSLOpenSSLConfCmd", NAME, srv, "TAKE2", conf_cmd,
                  "OpenSSL configuration command"),
        Directive("SSLStrictSNIVHostCheck", NAME, srv, "FLAG", strict_sni,
                  "Strict SNI virtual host checking"),
        Directive("SSLVerifyClient", NAME, srv | {OR_AUTHCFG}, "TAKE1", verify_client,
                  "SSL Client verify type ('none', 'optional', 'require', "
                  "'optional_no_ca')"),
        Directive("SSLVerifyDepth", NAME, srv | {OR_AUTHCFG}, "TAKE1", verify_depth,
                  "SSL Client verify depth ('N' - number of intermediate certificates)"),
        Directive("SSLSessionCache", NAME, srv, "TAKE1", session_cache,
                  "SSL Session Cache storage ('none', 'nonenotnull', 'shmcb:/path/to/file')",
                  GLOBAL_ONLY),
        Directive("SSLRequireSSL", NAME, frozenset({OR_AUTHCFG}), "NO_ARGS", require_ssl,
                  "Require the SSL protocol for the per-directory context (no arguments)"),
        Directive("SSLOptions", NAME, srv | {OR_OPTIONS}, "ITERATE", ssl_options,
                  "Set one or more options to configure the SSL engine('[+-]option[=value] "
                  "...' - see manual)"),
        Directive("SSLRandomSeed", NAME, srv, "TAKE23", accepted_only,
                  "SSL Pseudo Random Number Generator (PRNG) seeding source ('startup|"
                  "connect builtin|file:/path|exec:/path [bytes]')", GLOBAL_ONLY),
        Directive("SSLPassPhraseDialog", NAME, srv, "TAKE1", accepted_only,
                  "SSL dialog mechanism for the pass phrase query ('builtin', '|/path/to/"
                  "pipe_program', or 'exec:/path/to/cgi_program')", GLOBAL_ONLY),
    ]

"""The httpd-style command line: `python -m fastcore [options]`.

Apache's options (-f -d -D -C -c -t -S -M -V -X -e -k -h -v -l -L) plus those of
`python -m http.server` (-p/--port, -b/--bind, a folder argument) for the embedded
default configuration. Configuration errors are printed as Apache prints them and give
exit status 1 before any socket is opened; there is no traceback for any input.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence

import fastcore
from fastcore import _ext, envvars
from fastcore.config import ConfigError, default_variables, load, render_default_config
from fastcore.config.model import ServerConfig

SIGNALS = {"stop": signal.SIGTERM, "restart": signal.SIGHUP, "graceful": signal.SIGUSR1,
           "graceful-stop": signal.SIGWINCH, "upgrade": signal.SIGUSR2}
IGNORED_DEFINES = {"FOREGROUND", "NO_DETACH"}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fastcore", add_help=False,
        description="fastcore: an Apache-httpd-2.4-compatible static web server. Without -f "
                    "it serves FOLDER (default: the current folder) on 127.0.0.1:8080.")
    a = p.add_argument
    a("folder", nargs="?", help="folder to serve with the embedded default configuration")
    a("-f", dest="config", metavar="FILE", help="specify an alternate ServerConfigFile")
    a("-d", dest="server_root", metavar="DIR", help="specify an alternate initial ServerRoot")
    a("-D", dest="defines", action="append", default=[], metavar="NAME",
      help="define a name for use in <IfDefine name> directives")
    a("-C", dest="pre", action="append", default=[], metavar="DIRECTIVE",
      help="process directive before reading config files")
    a("-c", dest="post", action="append", default=[], metavar="DIRECTIVE",
      help="process directive after reading config files")
    a("-e", dest="log_level", metavar="LEVEL", help="show startup errors of level "
      "(see LogLevel)")
    a("-E", dest="startup_log", metavar="FILE", help="log startup errors to file")
    a("-k", dest="signal", choices=["start", "stop", "restart", "graceful", "graceful-stop",
                                    "upgrade"],
      help="control a running server through its PidFile, as apachectl (upgrade: exec the "
      "installed code on the same sockets, a fastcore extension)")
    a("-t", dest="test", action="store_true", help="run syntax check for config files")
    a("-T", dest="no_docroot_check", action="store_true", help="start without DocumentRoot(s) "
      "check")
    a("-S", dest="dump_vhosts", action="store_true", help="show parsed vhost settings")
    a("-M", dest="dump_modules", action="store_true", help="show all loaded modules")
    a("-l", dest="list_compiled", action="store_true", help="list compiled in modules")
    a("-L", dest="list_directives", action="store_true", help="list available configuration "
      "directives")
    a("-V", dest="show_settings", action="store_true", help="show compile settings")
    a("-v", dest="show_version", action="store_true", help="show version number")
    a("-X", dest="debug", action="store_true", help="debug mode (one process, one worker, "
      "foreground)")
    a("-h", "--help", dest="help", action="store_true", help="list available command line "
      "options (this page)")
    a("-p", "--port", type=int, default=8080, help="port of the embedded default (8080)")
    a("-b", "--bind", default="127.0.0.1", help="address of the embedded default (127.0.0.1)")
    a("--print-default-config", action="store_true", help="print the embedded default "
      "configuration (httpd.conf syntax) and exit")
    return p


# what -d DIR reads without -f: the compiled-in SERVER_CONFIG_FILE of Debian's apache2,
# then upstream httpd's
DEFAULT_CONFIG_FILES = ("apache2.conf", "conf/httpd.conf")


def _load(args: argparse.Namespace) -> ServerConfig:
    defines = [d for d in args.defines if d]
    if args.config is None and args.server_root and args.folder is None:
        for name in DEFAULT_CONFIG_FILES:
            if os.path.isfile(os.path.join(args.server_root, name)):
                args.config = name
                break
    if args.config is None:
        vars_ = default_variables(args.folder, args.bind, args.port)
        if args.folder and not os.path.isdir(args.folder):
            raise ConfigError(f"fastcore: {args.folder}: not a folder")
        return load(None, server_root=args.server_root, defines=defines,
                    pre_directives=args.pre, post_directives=args.post, variables=vars_,
                    check_document_root=not args.no_docroot_check)
    path = args.config
    if not os.path.isabs(path) and args.server_root:
        path = os.path.join(args.server_root, path)
    return load(path, server_root=args.server_root, defines=defines,
                pre_directives=args.pre, post_directives=args.post,
                check_document_root=not args.no_docroot_check)


def _startup_error(args: argparse.Namespace, text: str) -> None:
    """-E FILE: startup errors go to FILE (appended) instead of stderr, as httpd -E."""
    if args.startup_log:
        try:
            with open(args.startup_log, "a", encoding="utf-8") as fh:
                fh.write(text)
            return
        except OSError as exc:
            sys.stderr.write(f"fastcore: cannot open -E {args.startup_log}: {exc.strerror}\n")
    sys.stderr.write(text)


def _warn(cfg: ServerConfig) -> None:
    for w in cfg.warnings:
        sys.stderr.write(w + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["advise"]:  # the tuning advisor, a subcommand beside httpd's options
        from fastcore.advise import main as advise

        return advise(argv[1:])
    p = _parser()
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if exc.code in (0, None) else 1
    if args.help:
        p.print_help()
        return 0
    if args.show_version:
        print(f"Server version: {fastcore.SERVER_SOFTWARE}/{fastcore.__version__} "
              "(Apache/2.4 compatible)")
        return 0
    if args.print_default_config:
        sys.stdout.write(render_default_config(default_variables(args.folder, args.bind,
                                                                 args.port)))
        return 0
    if args.list_compiled:
        from fastcore.config.modules import STATIC
        print("Compiled in modules:")
        for m in STATIC:
            print(f"  {m}")
        return 0
    if args.list_directives:
        from fastcore.modules import REGISTRY

        table = REGISTRY.full_table()
        for key in sorted(table):
            d = table[key][0]
            name = d.name + (">" if d.name.startswith("<") else "")
            print(f"{name}\n\t{d.usage}\n\t({d.module})" if d.usage else
                  f"{name}\n\t({d.module})")
        return 0
    try:
        # Debian: -d DIR with DIR/envvars is sourced as apache2ctl does (fastcore.envvars)
        envvars.apply(args.server_root)
    except envvars.EnvvarsError as exc:
        _startup_error(args, f"{exc}\n")
        return 1
    try:
        cfg = _load(args)
    except ConfigError as exc:
        _startup_error(args, "".join(w + "\n" for w in exc.warnings) + f"{exc}\n")
        return 1
    except OSError as exc:
        _startup_error(args, f"fastcore: {exc.strerror or exc}: {exc.filename or ''}\n")
        return 1
    if args.log_level:
        from fastcore.config.directives_core import LOG_LEVELS
        if args.log_level.lower() not in LOG_LEVELS:
            sys.stderr.write(f"fastcore: -e {args.log_level}: unknown LogLevel\n")
            return 1
        cfg.log_level = args.log_level.lower()
    # httpd's spellings: -S is -t -DDUMP_VHOSTS -DDUMP_RUN_CFG, -M is -t -DDUMP_MODULES
    if args.test and "DUMP_VHOSTS" in args.defines:
        args.dump_vhosts = True
    if args.test and "DUMP_MODULES" in args.defines:
        args.dump_modules = True
    if args.test or args.dump_vhosts or args.dump_modules or args.show_settings:
        if args.show_settings:
            sys.stdout.write(settings_text(cfg))
            return 0
        _warn(cfg)
        if args.test:
            from fastcore.modules import REGISTRY
            try:  # what needs the libraries (mod_ssl: a key that does not match)
                REGISTRY.post_config(cfg)
            except ConfigError as exc:
                _startup_error(args, f"{exc}\n")
                return 1
        if args.dump_vhosts:
            sys.stdout.write(vhosts_text(cfg))
        if args.dump_modules:
            sys.stdout.write(modules_text(cfg))
        if args.test:
            if args.dump_vhosts or args.dump_modules:
                sys.stderr.write("Syntax OK\n")
            else:
                print("Syntax OK")
        return 0
    if args.signal and args.signal != "start":
        return send_signal(cfg, args.signal)
    return serve(cfg, args)


def serve(cfg: ServerConfig, args: argparse.Namespace) -> int:
    """Start the server (the MPM is imported only here)."""
    if not cfg.listeners:
        sys.stderr.write("no listening sockets available, shutting down\n"
                         "AH00015: Unable to open logs\n")
        return 1
    if args.signal == "start":
        pid = running_pid(cfg)
        if pid:
            sys.stderr.write(f"httpd (pid {pid}) already running\n")
            return 0
    _warn(cfg)
    foreground = args.signal != "start" or bool({"FOREGROUND", "NO_DETACH"} &
                                                set(args.defines))
    try:
        from fastcore.mpm import run
    except ImportError as exc:
        sys.stderr.write(f"fastcore: cannot start the server: {exc}\n")
        return 1
    if args.config is None and foreground:
        for la in cfg.listeners:
            host = f"[{la.host}]" if ":" in la.host else (la.host or "0.0.0.0")
            sys.stderr.write(f"Serving {cfg.main.document_root} on http://{host}:{la.port}/ "
                             f"(fastcore {cfg.mpm.name} MPM, {_ext.implementation()}) "
                             "- press Ctrl+C to stop\n")
    sys.stderr.flush()

    def reload() -> ServerConfig:
        return _load(args)

    try:
        return int(run(cfg, foreground=foreground, single_process=args.debug, reload=reload)
                   or 0)
    except KeyboardInterrupt:
        return 0
    except (ConfigError, OSError) as exc:
        sys.stderr.write(f"{exc}\n")
        return 1


def running_pid(cfg: ServerConfig) -> int | None:
    try:
        with open(cfg.pid_file, encoding="ascii") as fh:
            pid = int(fh.read().strip() or 0)
    except (OSError, ValueError):
        return None
    if pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def send_signal(cfg: ServerConfig, action: str) -> int:
    """-k stop|restart|graceful|graceful-stop: signal the pid in PidFile (as apachectl)."""
    pid = running_pid(cfg)
    if pid is None:
        exists = os.path.exists(cfg.pid_file)
        if action in ("stop", "graceful-stop"):
            sys.stderr.write(f"httpd ({'pid file stale' if exists else 'no pid file'}) "
                             "not running\n")
            return 0 if not exists else 1
        sys.stderr.write("httpd not running, trying to start\n")
        return 1
    try:
        os.kill(pid, SIGNALS[action])
    except OSError as exc:
        sys.stderr.write(f"fastcore: cannot signal pid {pid}: {exc.strerror}\n")
        return 1
    return 0


# -- -S / -M / -V --------------------------------------------------------------------
def _addr(host: str, port: int) -> str:
    h = f"[{host}]" if ":" in host else host
    return f"{h}:{port if port else '*'}"


def vhosts_text(cfg: ServerConfig) -> str:
    out = ["VirtualHost configuration:"]
    groups: dict[tuple[str, int], list] = {}
    for vh in cfg.vhosts:
        for a in vh.addrs:
            groups.setdefault(a, []).append(vh)
    for (host, port), vhs in groups.items():
        label = _addr(host, port)
        if len(vhs) == 1:
            vh = vhs[0]
            out.append(f"{label:<22} {vh.server_name} ({vh.filename}:{vh.line})")
            continue
        out.append(f"{label:<22} is a NameVirtualHost")
        first = vhs[0]
        out.append(f"{'':9}default server {first.server_name} ({first.filename}:{first.line})")
        for vh in vhs:
            out.append(f"{'':9}port {port if port else '*'} namevhost {vh.server_name} "
                       f"({vh.filename}:{vh.line})")
            for alias in vh.server_aliases:
                out.append(f"{'':17}alias {alias}")
    out.append(f'ServerRoot: "{cfg.server_root}"')
    out.append(f'Main DocumentRoot: "{cfg.main.document_root}"')
    out.append(f'Main ErrorLog: "{cfg.error_log}"')
    mdir = cfg.mutex_dir or cfg.runtime_dir
    mdir = mdir if mdir.endswith("/") else mdir + "/"
    default = cfg.mutexes.get("default", "default")
    out.append(f'Mutex default: dir="{mdir}" mechanism={default.split(":")[0]} ')
    accept = cfg.mutexes.get("mpm-accept")
    out.append("Mutex mpm-accept: " + (f'dir="{mdir}" mechanism={cfg.accept_mutex} '
                                        if accept else "using_defaults"))
    for name, spec in sorted(cfg.mutexes.items()):
        if name not in ("default", "mpm-accept"):
            out.append(f"Mutex {name}: mechanism={spec}")
    out.append(f'PidFile: "{cfg.pid_file}"')
    for d in sorted(cfg.defines):
        out.append(f"Define: {d}")
    for la in cfg.listeners:
        out.append(f"Listen: {_addr(la.host or '*', la.port)}" +
                   (f" {la.proto}" if la.proto != "http" else ""))
    out.append(f"MPM: {cfg.mpm.name}")
    out.append(_id_line("User", cfg.user, True))
    out.append(_id_line("Group", cfg.group, False))
    return "\n".join(out) + "\n"


def _id_line(label: str, name: str | None, user: bool) -> str:
    import grp
    import pwd

    if name is None:
        ident = os.getuid() if user else os.getgid()
        try:
            name = pwd.getpwuid(ident).pw_name if user else grp.getgrgid(ident).gr_name
        except KeyError:
            name = f"#{ident}"
        return f'{label}: name="{name}" id={ident} not_used'
    try:
        if name.startswith("#"):
            ident = int(name[1:])
        else:
            ident = pwd.getpwnam(name).pw_uid if user else grp.getgrnam(name).gr_gid
    except (KeyError, ValueError):
        return f'{label}: name="{name}" id=unknown'
    return f'{label}: name="{name}" id={ident}'


def modules_text(cfg: ServerConfig) -> str:
    lines = ["Loaded Modules:"]
    for m in cfg.modules:
        lines.append(f" {m} ({'shared' if m in cfg.shared_modules else 'static'})")
    return "\n".join(lines) + "\n"


def _atomics_line(load_ext) -> str:
    """The scoreboard counters' build mode, as `pip install . -C atomics=...` chose it."""
    try:
        sb = load_ext("scoreboard")
    except ImportError as exc:
        return f"unavailable ({exc})"
    mode = sb.ATOMICS_MODE
    impl = getattr(sb, "ATOMICS_IMPL", "")
    return f"{mode} ({'cas' if impl == 'cas' else impl or mode})"


def settings_text(cfg: ServerConfig) -> str:
    """-V: version, MPM, and the build settings of the hot-path extensions."""
    import platform

    from fastcore._ext import implementation
    from fastcore._ext import load as load_ext

    out = [f"Server version: {fastcore.SERVER_SOFTWARE}/{fastcore.__version__} "
           "(Apache/2.4 compatible)",
           f"Python:         {platform.python_implementation()} {platform.python_version()}",
           f"Implementation: {implementation()}",
           f"Atomics:        {_atomics_line(load_ext)}",
           f"Architecture:   {platform.architecture()[0]}",
           f"Server MPM:     {cfg.mpm.name}"]
    threaded = cfg.mpm.name != "prefork"
    out.append(f"  threaded:     {'yes (fixed thread count)' if threaded else 'no'}")
    out.append("    forked:     yes (variable process count)")
    out.append("Server compiled with....")
    try:
        sb = load_ext("scoreboard")
        mode = sb.ATOMICS_MODE
        out.append(f" -D FC_ATOMICS_MODE=\"{mode}{' (cas)' if mode == 'nonportable' else ''}\"")
        for attr in ("CYTHON_VERSION", "CC_VERSION"):
            val = getattr(sb, attr, None)
            out.append(f' -D FC_{attr}="{val}"' if val else
                       f" -D FC_{attr}=unknown (not exposed by fastcore._scoreboard)")
    except ImportError as exc:
        out.append(f" -D FC_ATOMICS_MODE=unavailable ({exc})")
    try:
        acc = load_ext("accept")
        out.append(f' -D FC_DEFAULT_ACCEPT_MUTEX="{acc.DEFAULT_MECHANISM}" '
                   f"({acc.DEFAULT_REASON})")
    except ImportError as exc:
        out.append(f" -D FC_DEFAULT_ACCEPT_MUTEX=unavailable ({exc})")
    if hasattr(os, "sendfile"):
        out.append(" -D HAS_SENDFILE")
    try:
        import mmap  # noqa: F401
        out.append(" -D HAS_MMAP")
    except ImportError:
        pass
    if _has_ipv6():
        out.append(" -D HAVE_IPV6")
    try:  # mod_ssl: the OpenSSL the engine links, and whether the kernel offers kTLS
        tls = load_ext("tls")
        out.append(f' -D FC_TLS_LIBRARY="{tls.VERSION_LIBRARY}"')
        out.append(" -D FC_KTLS=" + ktls_state(tls.ktls_built(), tls.ktls_available()))
        out.append(" -D FC_KTLS_OPENSSL=" + ("built with kTLS support" if tls.ktls_built()
                                             else "built without kTLS support"))
    except ImportError as exc:
        out.append(f" -D FC_TLS_LIBRARY=unavailable ({exc})")
    out.append(f' -D SERVER_CONFIG_FILE="{cfg.config_file}"')
    out.append(f' -D SERVER_ROOT="{cfg.server_root}"')
    out.append(memory_line(cfg))
    return "\n".join(out) + "\n"


def ktls_state(built: bool, loaded: bool) -> str:
    """-V's kTLS line: mod_ssl's contexts enable it when both hold (SSLOpenSSLConfCmd
    Options -KTLS turns it off, Options KTLS asks for it regardless)."""
    if not built:
        return "not available (OpenSSL built without kTLS)"
    if not loaded:
        return "not available (kernel has no tls module)"
    return "used (kernel tls module loaded)"


def memory_line(cfg: ServerConfig) -> str:
    """The tuning guide sizes MaxRequestWorkers as memory available / average process
    size: give that size (PSS) of the server running with this PidFile, if any."""
    from fastcore.mpm import pss

    pid = running_pid(cfg)
    if pid is None:
        return f'average child PSS: unknown (no server running with PidFile "{cfg.pid_file}")'
    try:
        values = pss.children_pss(pid)
        parent = pss.parent_pss(pid)
    except (OSError, ValueError) as exc:
        return f"average child PSS: unreadable for pid {pid} ({exc})"
    if not values:
        return f"average child PSS: unknown (pid {pid} has no children); parent PSS: {parent} kB"
    avg = round(sum(values) / len(values))
    return (f"average child PSS: {avg} kB ({len(values)} children); parent PSS: {parent} kB; "
            f"total: {parent + sum(values)} kB")


def _has_ipv6() -> bool:
    import socket

    return socket.has_ipv6

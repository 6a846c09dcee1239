"""Per-directory configuration in Apache's merge order, computed once and cached.

    r = DirResolver(cfg)
    r.vhost_for(local_addr, host_header) -> VirtualHost
    r.dir_config(vhost, fs_path) -> DirConfig      # <Directory>, <DirectoryMatch>, <Files*>
    r.htaccess(vhost, fs_dir) -> DirConfig | None  # HtaccessError -> 500
    r.location_config(vhost, uri_path, base) -> DirConfig
    r.merge(base, delta) -> DirConfig              # Apache's merge (Options +/-, AuthMerging)
    r.walk_level(vhost, base, fs_dir) -> DirConfig # one step of the directory walk
    r.walk_end(vhost, base, fs_dir) -> DirConfig   # <DirectoryMatch> after the walk
    r.merge_cached(base, delta) -> DirConfig       # merge() memoized on both objects

Order (as ap_directory_walk/ap_file_walk/ap_location_walk): the server/vhost defaults,
non-regex <Directory> sections by increasing number of path components (file order among
equals, the main server's before a vhost's), then <DirectoryMatch>/<Directory ~> in file
order, then <Files>/<FilesMatch> on the file name, and <Location>/<LocationMatch> last, in
file order. The directory walk (fastcore.core.mapping) interleaves the access files as
Apache does: at each level the <Directory> sections of that depth, then that directory's
.htaccess, so a deeper <Directory> wins over a parent's .htaccess (one open() per directory
where AllowOverride is not None, as the performance-tuning document explains).
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, replace

from fastcore.config.engine import NoModules
from fastcore.config.errors import ConfigError, HtaccessError, invalid_command
from fastcore.config.lexer import logical_lines
from fastcore.config.model import DirConfig, Section, ServerConfig, VirtualHost, reads_htaccess
from fastcore.config.state import State, merge_dir
from fastcore.core import fscount

_CACHE_MAX = 20000
_NO_MODULES = NoModules()
# A file changed less than this long ago may change again within the same timestamp
# tick (coarse kernel clocks: a few ms; FAT: 2 s) without its stamp changing.
RACY_NS = 2_000_000_000


@dataclass(frozen=True)
class HtaccessParse:
    """A parsed access file and what identifies the bytes it was parsed from."""

    stamp: tuple[int, int, int, int]  # inode, size, mtime_ns, ctime_ns
    data: bytes
    parsed: DirConfig


def merge(base: DirConfig, delta: DirConfig) -> DirConfig:
    """Apache's per-dir merge of `delta` (more specific) over `base`."""
    return merge_dir(base, delta)


def _components(path: str) -> int:
    return len([c for c in path.split("/") if c])


def _dir_matches(sec: Section, dirpath: str) -> bool:
    """Non-regex <Directory>: the section path is a prefix of the directory (component-
    wise); a wildcard path matches as many leading components as it has."""
    if sec.regex is None:
        return dirpath.startswith(sec.pattern) or dirpath == sec.pattern.rstrip("/") + "/"
    n = _components(sec.pattern)
    parts = [c for c in dirpath.split("/") if c]
    if len(parts) < n:
        return False
    return sec.regex.match("/" + "/".join(parts[:n]) + "/") is not None


def _location_matches(sec: Section, uri: str) -> bool:
    if sec.kind == "locationmatch":
        return sec.regex is not None and sec.regex.search(uri) is not None
    pat = sec.pattern
    if "//" in uri:  # MergeSlashes Off: only <LocationMatch> sees the doubled slashes
        uri = re.sub("/{2,}", "/", uri)
    if any(c in pat for c in "*?["):
        rx = _location_fnmatch(pat)
        return rx.match(uri) is not None
    if pat == "/":
        return True
    if not uri.startswith(pat):
        return False
    # /private matches /private, /private/ and /private/x, but not /privateother
    return pat.endswith("/") or len(uri) == len(pat) or uri[len(pat)] == "/"


_FN_CACHE: dict[str, re.Pattern[str]] = {}


def _location_fnmatch(pat: str) -> re.Pattern[str]:
    rx = _FN_CACHE.get(pat)
    if rx is None:
        from fastcore.config.sections import _fn_regex

        rx = re.compile(_fn_regex(pat).pattern[:-2] + r"(?:/|\Z)")
        _FN_CACHE[pat] = rx
    return rx


class DirResolver:
    """Built once per (re)start; every result is cached per (vhost, path)."""

    def __init__(self, cfg: ServerConfig):
        self.cfg = cfg
        self._dirs: dict[tuple[int, str], DirConfig] = {}
        self._files: dict[tuple[int, str], DirConfig] = {}
        self._locs: dict[tuple[int, str, int], tuple[DirConfig, DirConfig]] = {}
        self._ht: dict[tuple[str, int], HtaccessParse] = {}
        self._plan: dict[int, tuple[list[Section], list[Section], list[Section],
                                    list[Section]]] = {}
        self._depth: dict[int, dict[int, list[Section]]] = {}
        self._levels: dict[tuple[int, str, int], tuple[DirConfig, DirConfig]] = {}
        self._merged: dict[tuple[int, int], tuple[DirConfig, DirConfig, DirConfig]] = {}
        for vh in (cfg.main, *cfg.vhosts):
            self._plan[id(vh)] = self._sort(vh.sections)
        self._isdir: dict[str, bool] = {}
        self._fast: dict[tuple[int, str], DirConfig] = {}  # keyed by the caller's spelling
        self.needs_local_addr = self._needs_local_addr()
        self._names = [(vh, self._name_patterns(vh)) for vh in cfg.vhosts]
        self.if_possible = self._if_possible()

    def _if_possible(self) -> bool:
        """Whether any request can meet an <If>: one in the configuration, or an access
        file that could hold one (a scope that turns AllowOverride on, or a root whose
        AllowOverride is unset).  False: the request path skips the If machinery."""
        for vh in (self.cfg.main, *self.cfg.vhosts):
            scopes = [vh.dir_defaults, *(s.config for s in vh.sections)]
            for dc in scopes:
                if dc.if_sections or any(f.config.if_sections for f in dc.files_sections):
                    return True
                if dc.allow_override or dc.allow_override_list:
                    return True
            if reads_htaccess(self._directory(vh, "/")):
                return True
        return False

    # -- sections ------------------------------------------------------------------
    @staticmethod
    def _sort(sections: tuple[Section, ...]):
        plain = [s for s in sections if s.kind == "directory"]
        plain.sort(key=lambda s: _components(s.pattern))  # stable: file order among equals
        regex = [s for s in sections if s.kind == "directorymatch"]
        files = [s for s in sections if s.kind in ("files", "filesmatch")]
        locs = [s for s in sections if s.kind in ("location", "locationmatch")]
        return plain, regex, files, locs

    def _vplan(self, vhost: VirtualHost):
        plan = self._plan.get(id(vhost))
        if plan is None:
            plan = self._plan[id(vhost)] = self._sort(vhost.sections)
        return plan

    def _by_depth(self, vhost: VirtualHost) -> dict[int, list[Section]]:
        hit = self._depth.get(id(vhost))
        if hit is None:
            hit = {}
            for sec in self._vplan(vhost)[0]:
                hit.setdefault(_components(sec.pattern), []).append(sec)
            self._depth[id(vhost)] = hit
        return hit

    def walk_level(self, vhost: VirtualHost, base: DirConfig, fs_dir: str) -> DirConfig:
        """One step of Apache's directory walk: the non-regex <Directory> sections with
        as many components as `fs_dir` that match it, merged over `base` (the parent
        level's result, its .htaccess included).  Cached per (level, base object)."""
        key = (id(vhost), fs_dir, id(base))
        hit = self._levels.get(key)
        if hit is not None and hit[0] is base:
            return hit[1]
        d = fs_dir.rstrip("/") + "/"
        dc = base
        for sec in self._by_depth(vhost).get(_components(d), ()):
            if _dir_matches(sec, d):
                dc = merge_dir(dc, sec.config)
        self._store(self._levels, key, (base, dc))
        return dc

    def walk_end(self, vhost: VirtualHost, base: DirConfig, fs_dir: str) -> DirConfig:
        """<DirectoryMatch>/<Directory ~> in file order, after the whole walk (and
        after every .htaccess), as Apache applies its regex sections."""
        regex = self._vplan(vhost)[1]
        if not regex:
            return base
        key = (id(vhost), "~" + fs_dir, id(base))
        hit = self._levels.get(key)
        if hit is not None and hit[0] is base:
            return hit[1]
        d = fs_dir.rstrip("/") + "/"
        dc = base
        for sec in regex:
            if sec.regex is not None and (sec.regex.search(d) or sec.regex.search(d[:-1] or "/")):
                dc = merge_dir(dc, sec.config)
        self._store(self._levels, key, (base, dc))
        return dc

    def merge_cached(self, base: DirConfig, delta: DirConfig) -> DirConfig:
        """merge() memoized on the identity of both inputs, so a walk through unchanged
        .htaccess files yields the same objects (and cache hits further on)."""
        key = (id(base), id(delta))
        hit = self._merged.get(key)
        if hit is not None and hit[0] is base and hit[1] is delta:
            return hit[2]
        dc = merge_dir(base, delta)
        self._store(self._merged, key, (base, delta, dc))
        return dc

    def _is_dir(self, path: str) -> bool:
        hit = self._isdir.get(path)
        if hit is None:
            hit = self._isdir[path] = path.endswith("/") or os.path.isdir(path)
        return hit

    def _directory(self, vhost: VirtualHost, dirpath: str) -> DirConfig:
        key = (id(vhost), dirpath)
        hit = self._dirs.get(key)
        if hit is not None:
            return hit
        plain, regex, _files, _locs = self._vplan(vhost)
        d = dirpath.rstrip("/") + "/"
        dc = vhost.dir_defaults
        for sec in plain:
            if _dir_matches(sec, d):
                dc = merge_dir(dc, sec.config)
        for sec in regex:
            if sec.regex is not None and (sec.regex.search(d) or sec.regex.search(d[:-1] or "/")):
                dc = merge_dir(dc, sec.config)
        self._store(self._dirs, key, dc)
        return dc

    def files_config(self, vhost: VirtualHost, base: DirConfig, name: str) -> DirConfig:
        """<Files>/<FilesMatch> of the server/vhost, then those nested in the merged
        directory sections (and in .htaccess, via `base`), on the file's base name."""
        _plain, _regex, files, _locs = self._vplan(vhost)
        dc = base
        for sec in (*files, *base.files_sections):
            if _files_match(sec, name):
                dc = merge_dir(dc, sec.config)
        return dc

    def dir_config(self, vhost: VirtualHost, fs_path: str) -> DirConfig:
        """Merged config for a directory, or for a file (its directory + <Files*>)."""
        hit = self._fast.get((id(vhost), fs_path))
        if hit is not None:
            return hit
        raw = fs_path
        fs_path = os.path.normpath(fs_path) if fs_path not in ("/", "") else "/"
        dc = self._dir_config(vhost, fs_path)
        self._store(self._fast, (id(vhost), raw), dc)
        return dc

    def _dir_config(self, vhost: VirtualHost, fs_path: str) -> DirConfig:
        if self._is_dir(fs_path):
            return self._directory(vhost, fs_path)
        key = (id(vhost), fs_path)
        hit = self._files.get(key)
        if hit is not None:
            return hit
        parent, name = os.path.split(fs_path)
        dc = self.files_config(vhost, self._directory(vhost, parent or "/"), name)
        self._store(self._files, key, dc)
        return dc

    def location_config(self, vhost: VirtualHost, uri_path: str, base: DirConfig
                        ) -> DirConfig:
        """<Location>/<LocationMatch> in file order, over `base` (cached per base)."""
        key = (id(vhost), uri_path, id(base))
        hit = self._locs.get(key)
        if hit is not None and hit[0] is base:
            return hit[1]
        _plain, _regex, _files, locs = self._vplan(vhost)
        dc = base
        for sec in locs:
            if _location_matches(sec, uri_path):
                dc = merge_dir(dc, sec.config)
        self._store(self._locs, key, (base, dc))
        return dc

    @staticmethod
    def merge(base: DirConfig, delta: DirConfig) -> DirConfig:
        return merge_dir(base, delta)

    @staticmethod
    def _store(cache: dict, key, value) -> None:
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[key] = value

    # -- .htaccess -----------------------------------------------------------------
    def htaccess(self, vhost: VirtualHost, fs_dir: str) -> DirConfig | None:
        """Parse fs_dir's access file if AllowOverride allows any: one open() attempt
        per access file name.  The parse is reused while (inode, size, mtime, ctime) stay
        the same; a file whose ctime is within RACY_NS of now is read again and
        compared, since a same-size rewrite within one timestamp tick keeps the stamp
        (ctime also catches a rewrite whose mtime was put back, as cp -p does)."""
        dc = self._directory(vhost, fs_dir)
        if not reads_htaccess(dc):
            return None
        result: DirConfig | None = None
        for name in vhost.access_file_name:
            path = os.path.join(fs_dir, name)
            fscount.note(fscount.HTACCESS_OPEN)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError as exc:
                raise HtaccessError(path, 0, f"{exc.strerror}: {path} pcfg_openfile: unable "
                                    "to check htaccess file, ensure it is readable and that "
                                    f"'{fs_dir}' is executable") from None
            try:
                st = os.fstat(fd)
                stamp = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
                hit = self._ht.get((path, id(dc)))
                if hit is not None and hit.stamp == stamp and (
                        time.time_ns() - st.st_ctime_ns > RACY_NS):
                    parsed = hit.parsed
                else:
                    data = _read_all(fd)
                    if hit is not None and hit.stamp == stamp and hit.data == data:
                        parsed = hit.parsed
                    else:
                        parsed = self._parse_htaccess(
                            path, data.decode("utf-8", "surrogateescape"), dc)
                        self._store(self._ht, (path, id(dc)), HtaccessParse(stamp, data, parsed))
            finally:
                os.close(fd)
            result = parsed if result is None else merge_dir(result, parsed)
        return result

    def _parse_htaccess(self, path: str, text: str, allowed: DirConfig) -> DirConfig:
        from fastcore.config.engine import Ctx, DirectiveError, Engine  # noqa: F401
        from fastcore.config.readtime import install

        cfg = self.cfg
        state = State(cfg.config_file, cfg.server_root)
        eng = Engine(cfg.directives, state, cfg.server_root, {d: "" for d in cfg.defines},
                     (), _NO_MODULES)
        eng.loaded = list(cfg.modules)
        install(eng)
        out = DirConfig()
        nonfatal = allowed.allow_override_nonfatal
        override = frozenset(allowed.allow_override or ())
        ctx = Ctx(vhost=replace(cfg.main), dirconf=out, override=override, htaccess=True,
                  htaccess_dir=os.path.dirname(path).rstrip("/") + "/",
                  override_opts=allowed.allow_override_options or 0,
                  override_list=allowed.allow_override_list or frozenset(), authz=[])
        try:
            nodes = eng.read_lines(list(logical_lines(text, path)))
            for node in nodes:
                try:
                    eng.exec_node(node, ctx)
                except ConfigError as exc:
                    unknown = exc.message.startswith("Invalid command")
                    if (unknown and nonfatal & {"unknown", "all"}) or (
                            not unknown and "not allowed" in exc.message
                            and nonfatal & {"override", "all"}):
                        continue
                    raise
        except HtaccessError:
            raise
        except ConfigError as exc:
            raise HtaccessError(exc.filename or path, exc.line, exc.message,
                                exc.directive) from None
        return out

    # -- virtual hosts -------------------------------------------------------------
    def _needs_local_addr(self) -> bool:
        """getsockname() is needed only when vhosts are told apart by address or port."""
        cfg = self.cfg
        addrs = {a for vh in cfg.vhosts for a in vh.addrs}
        if not addrs:
            return False
        if any(h != "*" for h, _ in addrs):
            return True
        ports = {p for _, p in addrs}
        if ports == {0}:
            return False
        listen_ports = {la.port for la in cfg.listeners}
        return len(ports | listen_ports) > 1 or 0 in ports

    @staticmethod
    def _name_patterns(vh: VirtualHost) -> list[tuple[str, re.Pattern[str] | None]]:
        out: list[tuple[str, re.Pattern[str] | None]] = []
        names = [vh.server_name, *vh.server_aliases]
        for i, n in enumerate(names):
            n = n.lower()
            if "://" in n:
                n = n.split("://", 1)[1]
            if i == 0 or not any(c in n for c in "*?"):
                out.append((_strip_port(n), None))
            else:
                rx = re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c)
                                        for c in n) + r"\Z")
                out.append((n, rx))
        return out

    def _candidates(self, local_addr: tuple | None
                    ) -> list[tuple[VirtualHost, list[tuple[str, re.Pattern[str] | None]]]]:
        """The name-based set for the connection's address (first: its default); empty
        when the main server answers."""
        cfg = self.cfg
        if not cfg.vhosts:
            return []
        if local_addr is None or not self.needs_local_addr:
            if local_addr is not None and not self._names_on_port(local_addr[1]):
                return []
            return list(self._names)
        ip, port = _norm_ip(str(local_addr[0])), int(local_addr[1])
        exact = [(vh, p) for vh, p in self._names
                 if any(_norm_ip(h) == ip and pt in (0, port) for h, pt in vh.addrs)]
        return exact or [(vh, p) for vh, p in self._names
                         if any(h == "*" and pt in (0, port) for h, pt in vh.addrs)]

    def address_set(self, local_addr: tuple) -> list[VirtualHost]:
        """The vhosts answering on a listening address, its default first (empty: the
        main server) -- what mod_ssl's SNI chooses among."""
        return [vh for vh, _ in self._candidates(local_addr)]

    @staticmethod
    def _named(candidates: list, host_header: str) -> VirtualHost | None:
        host = _strip_port(host_header.strip().lower()).rstrip(".")
        for vh, pats in candidates:
            for name, rx in pats:
                if (rx.match(host) if rx is not None else name == host):
                    return vh
        return None

    def vhost_for(self, local_addr: tuple | None, host_header: str | None) -> VirtualHost:
        """Apache's name-based selection: the vhosts whose address matches (exact IP
        before wildcard) form a set whose first member is the default; Host picks by
        ServerName/ServerAlias (case-insensitive, wildcards in aliases)."""
        candidates = self._candidates(local_addr)
        if not candidates:
            return self.cfg.main
        if host_header:
            vh = self._named(candidates, host_header)
            if vh is not None:
                return vh
        return candidates[0][0]

    def unknown_host(self, local_addr: tuple | None, host_header: str | None
                     ) -> VirtualHost | None:
        """StrictHostCheck: the connection's default server when it is On there and a
        Host was given that no ServerName/ServerAlias of the address's set names."""
        if not host_header:
            return None
        candidates = self._candidates(local_addr)
        default = candidates[0][0] if candidates else self.cfg.main
        if not default.strict_host_check:
            return None
        if not candidates:
            candidates = [(self.cfg.main, self._name_patterns(self.cfg.main))]
        return default if self._named(candidates, host_header) is None else None

    def _names_on_port(self, port: int) -> bool:
        return any(pt in (0, port) for vh in self.cfg.vhosts for _h, pt in vh.addrs)


def _strip_port(host: str) -> str:
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def _norm_ip(host: str) -> str:
    h = host.lower()
    if h.startswith("::ffff:") and "." in h:
        h = h[7:]
    return h


def _files_match(sec: Section, name: str) -> bool:
    if sec.kind == "filesmatch":
        return sec.regex is not None and sec.regex.search(name) is not None
    if sec.regex is not None:
        return sec.regex.match(name) is not None
    return sec.pattern == name


__all__ = ["DirResolver", "merge", "HtaccessError", "invalid_command"]


def _read_all(fd: int) -> bytes:
    """The whole file from its current offset (EINTR is retried by os.read)."""
    data = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return data
        data += chunk

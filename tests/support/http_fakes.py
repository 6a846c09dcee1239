"""A small stand-in for fastcore.config.merge.DirResolver used by the fastcore.core tests
(so they test mapping/serving on hand-built model objects, independent of the parser).

It implements the documented API: vhost_for, dir_config (<Directory> prefix sections in
length order, then <Files> by basename), location_config (<Location> prefixes) and
htaccess (one open attempt per AccessFileName; a file whose first word is not `Require`
or `Options` raises, which the server turns into 500)."""
from __future__ import annotations

import dataclasses
import fnmatch
import os
from typing import TYPE_CHECKING

from fastcore.config.model import (
    OPT_INDEXES,
    OPT_SYM_LINKS,
    DirConfig,
    ServerConfig,
    VirtualHost,
    merge_records,
)
from fastcore.modules.mod_authz_core import NAME as AUTHZ
from fastcore.modules.mod_authz_core import AuthzDir, Require, RequireGroup

if TYPE_CHECKING:
    pass


def _overlay(base: DirConfig, delta: DirConfig) -> DirConfig:
    """Apply a .htaccess DirConfig on top of a merged one: set fields win, dicts merge."""
    out = dataclasses.replace(base)
    for f in dataclasses.fields(DirConfig):
        v = getattr(delta, f.name)
        if f.name == "modules":
            out.modules = merge_records(base.modules, v)
        elif isinstance(v, dict):
            if v:
                merged = dict(getattr(base, f.name))
                merged.update(v)
                setattr(out, f.name, merged)
        elif v is not None:
            setattr(out, f.name, v)
    return out


def overlay(base: DirConfig, sec: DirConfig) -> DirConfig:
    """Section merge incl. relative Options (+X/-X stored as options_add/options_remove)."""
    out = _overlay(base, sec)
    add = getattr(sec, "options_add", 0) or 0
    rem = getattr(sec, "options_remove", 0) or 0
    if sec.options is None and (add or rem):
        out.options = ((base.options or 0) | add) & ~rem
    return out


class HtaccessError(Exception):
    pass


def effective_defaults(**kw: object) -> DirConfig:
    base = DirConfig(options=OPT_SYM_LINKS, allow_override=frozenset(),
                     file_etag=frozenset(("mtime", "size")), enable_sendfile=False,
                     enable_mmap=True, hostname_lookups="off", limit_request_body=0,
                     server_signature="off")
    for k, v in kw.items():
        setattr(base, k, v)
    return base


class FakeResolver:
    def __init__(self, cfg: ServerConfig) -> None:
        self.cfg = cfg
        self.htaccess_opens = 0

    def vhost_for(self, local_addr: tuple | None, host: str | None) -> VirtualHost:
        for v in self.cfg.vhosts:
            if host and (host == v.server_name or host in v.server_aliases):
                return v
        return self.cfg.vhosts[0] if self.cfg.vhosts else self.cfg.main

    def dir_config(self, vhost: VirtualHost, fs_path: str) -> DirConfig:
        dc = vhost.dir_defaults
        dirs = [s for s in vhost.sections if s.kind == "directory"]
        dirs.sort(key=lambda s: len(s.pattern))
        for s in dirs:
            pat = s.pattern.rstrip("/")
            if fs_path == pat or fs_path.startswith(pat + "/") or pat == "":
                dc = overlay(dc, s.config)
        return self.files_config(vhost, dc, os.path.basename(fs_path))

    def walk_level(self, vhost: VirtualHost, base: DirConfig, fs_dir: str) -> DirConfig:
        """One level of the directory walk: the <Directory> sections naming fs_dir."""
        dc = base
        want = fs_dir.rstrip("/")
        for s in vhost.sections:
            if s.kind == "directory" and s.pattern.rstrip("/") == want:
                dc = overlay(dc, s.config)
        return dc

    def walk_end(self, vhost: VirtualHost, base: DirConfig, fs_dir: str) -> DirConfig:
        return base

    def merge_cached(self, base: DirConfig, delta: DirConfig) -> DirConfig:
        return overlay(base, delta)

    def files_config(self, vhost: VirtualHost, base: DirConfig, name: str) -> DirConfig:
        dc = base
        for s in vhost.sections:
            if s.kind == "files" and fnmatch.fnmatchcase(name, s.pattern):
                dc = overlay(dc, s.config)
            if s.kind == "filesmatch" and s.regex is not None and s.regex.search(name):
                dc = overlay(dc, s.config)
        return dc

    def location_config(self, vhost: VirtualHost, uri_path: str, base: DirConfig) -> DirConfig:
        dc = base
        for s in vhost.sections:
            if s.kind == "location" and (uri_path == s.pattern or uri_path.startswith(s.pattern.rstrip("/") + "/")):
                dc = overlay(dc, s.config)
        return dc

    def htaccess(self, vhost: VirtualHost, fs_dir: str) -> DirConfig | None:
        for name in vhost.access_file_name:
            self.htaccess_opens += 1
            try:
                with open(os.path.join(fs_dir, name)) as f:
                    text = f.read()
            except OSError:
                continue
            dc = DirConfig()
            for line in text.splitlines():
                words = line.split()
                if not words or words[0].startswith("#"):
                    continue
                if words[0] == "Require" and words[1:] == ["all", "denied"]:
                    dc.modules[AUTHZ] = AuthzDir(
                        RequireGroup("any", (Require("all", ("denied",)),)))
                elif words[0] == "Options" and words[1:] == ["+Indexes"]:
                    dc.options = OPT_SYM_LINKS | OPT_INDEXES
                else:
                    raise HtaccessError(f"{fs_dir}/{name}: Invalid command '{words[0]}'")
            return dc
        return None


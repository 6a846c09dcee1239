"""Per-entry checks of one listing without a full sub-request walk per entry.

Apache's ap_sub_req_lookup_dirent walks each entry, but its directory walk reuses the
parent request's walk for the levels they share, so a listing costs about one stat per
entry.  EntryProbe does the same: the listed directory is walked once per listing (its
.htaccess files read once, afresh for every request: nothing outlives the listing), and
an entry that is a regular file, not a symlink, gets the walk result that walk() would
give it: the directory's configuration plus the <Files>/<FilesMatch> sections of its
name.  Everything else (directories, which have <Directory> sections and .htaccess files
of their own; symlinks, with their FollowSymLinks checks; entries whose URI does not map
back to the entry) goes through the full per-entry sub-request as before.  <Location>,
<If> still run for every entry, and Require too, except that a grant is shared by
the entries whose configuration is the very same object when nothing in it reads the
entry's file or URI (EntryProbe._path_free); a refusal is always decided (and logged)
per entry.

For the listing cache (cache.py) the probe also records what the listing read (the
names, each stat'd entry's lstat) and sets `volatile` when any answer may depend on more
than that and the request's configuration: a directory or symlink entry (walked in full),
a decision other than "the main request's own configuration", an <If> section, a
HeaderName/ReadmeName that was found or is not a plain name in this directory.
"""
from __future__ import annotations

import os
import stat as _stat
from typing import TYPE_CHECKING

from fastcore.core import subrequest
from fastcore.core.mapping import normalize
from fastcore.modules.mod_alias import alias_server
from fastcore.modules.mod_authn_core import auth_type
from fastcore.modules.mod_authz_core.config import authz_config
from fastcore.modules.mod_authz_core.evaluate import Require, RequireGroup

# Require providers whose answer is the same for every entry of one request
_PATH_FREE = frozenset({"all", "ip", "local", "method", "env"})


def _path_free_tree(node: Require | RequireGroup) -> bool:
    if isinstance(node, Require):
        return node.kind.lower() in _PATH_FREE
    return all(_path_free_tree(child) for child in node.items)

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastcore.config.model import DirConfig
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction
    from fastcore.modules.mod_autoindex.handler import InsertLookup


class EntryProbe:
    """stat, access veto and type lookup of the entries of one listed directory."""

    def __init__(self, core: Handler, txn: Transaction, dir_path: str, dir_uri: str,
                 allowed: Callable[[str], bool], lookup: InsertLookup) -> None:
        self.core, self.txn, self.dir_uri = core, txn, dir_uri
        self.slow_allowed, self.slow_lookup = allowed, lookup
        self.dir_slash = os.path.join(dir_path, "")
        self.base_uri = txn.uri_path[:txn.uri_path.rfind("/") + 1]
        self.entries: dict[str, DirConfig] = {}  # full path -> its walk's DirConfig
        self.decided: dict[str, bool] = {}  # full path -> allowed()'s Require decision
        self.granted: dict[int, DirConfig] = {}  # entry DirConfigs whose grant is shared
        self.base: DirConfig | None
        self.volatile = False  # some answer may change with more than names and stats
        self.names: list[str] | None = None  # the directory's names, as listed
        self.stats: dict[str, os.stat_result | None] = {}  # full path -> lstat (None: failed)
        self.absent: list[str] = []  # insert names looked up and not found
        try:
            walk = core.mapper.walk(txn.vhost, dir_path)
            ok = walk.st is not None and _stat.S_ISDIR(walk.st.st_mode) \
                and not walk.path_info and os.path.join(walk.filename, "") == self.dir_slash
            self.base = walk.dirconf if ok else None
        except Exception:  # HttpError, HtaccessError: every entry takes the full walk
            self.base = None
        self.direct_uri = self._direct_uri(dir_uri)

    def _direct_uri(self, dir_uri: str) -> str | None:
        """The normalized directory URI when every entry's URI (it plus a name without
        '/') is translated to the entry itself: no Alias or Redirect line in the server
        (translate would try each), and the DocumentRoot join gives this directory."""
        vhost = self.txn.vhost
        conf = alias_server(vhost)
        if conf.redirects or conf.aliases:
            return None
        try:
            uri = normalize(dir_uri, decode_unreserved=False)
        except Exception:  # HttpError: the per-entry lookups answer for themselves
            return None
        target = vhost.document_root.rstrip("/") + uri
        ok = uri.endswith("/") and "//" not in target and target == self.dir_slash
        return uri if ok else None

    def stat(self, full: str) -> os.stat_result:
        """os.stat of an entry (OSError as os.stat); a regular file that is not a
        symlink gets its walk result from the directory's (one lstat, no second stat)."""
        try:
            st = os.lstat(full)
        except OSError:
            self.stats[full] = None
            raise
        self.stats[full] = st
        if _stat.S_ISLNK(st.st_mode):
            self.volatile = True
            return os.stat(full)
        if self.base is not None and _stat.S_ISREG(st.st_mode) \
                and full.startswith(self.dir_slash) and "/" not in full[len(self.dir_slash):]:
            name = full[len(self.dir_slash):]
            self.entries[full] = self.core.resolver.files_config(self.txn.vhost, self.base,
                                                                 name)
        elif _stat.S_ISDIR(st.st_mode) or _stat.S_ISREG(st.st_mode):
            self.volatile = True  # listed after a full walk of its own
        return st

    def listdir(self, path: str) -> list[str]:
        """os.listdir, remembered for the listing cache."""
        self.names = os.listdir(path)
        return self.names

    def allowed(self, full: str) -> bool:
        dc = self.entries.get(full)
        if dc is None:
            self.volatile = True
            return self.slow_allowed(full)
        core = self.core
        uri = self.base_uri + os.path.basename(full)  # Handler.entry_dc, with its <If> seen
        dc = core.resolver.location_config(self.txn.vhost, uri, dc)
        if dc.if_sections:
            self.volatile = True
        dc = core.sub_if(self.txn, uri, full, dc)
        key = id(dc)
        if dc is self.txn.dirconf:  # see Handler.entry_dc_allowed
            ok = True
        elif key in self.granted:  # shared within this request only (client, env)
            ok = self.volatile = True
        else:
            self.volatile = True
            ok = subrequest.allowed(core, self.txn, dc, full)
            if ok and self._path_free(dc):
                self.granted[key] = dc  # kept: the id stays this object's
        self.decided[full] = ok
        return ok

    def _path_free(self, dc: DirConfig) -> bool:
        """Whether a grant under `dc` holds for every entry that has the same `dc`:
        no AuthType, only Require lines that read neither the entry's file nor its
        URI (all, ip, local, method, env: what Order/Allow/Deny reads is the client and
        the environment too), and no authz_core debug lines (written per entry)."""
        tree = authz_config(dc).authz
        if auth_type(dc) is not None or (tree is not None and not _path_free_tree(tree)):
            return False
        return not self.core.srv.errlog(self.txn.vhost).enabled("debug", "authz_core", dc)

    def lookup(self, name: str, header: bool = False) -> tuple[str, str | None] | None:
        """hooks.subrequest_lookup's answer, from the known walk result when the
        entry's URI maps back to the entry itself (no Alias, nothing decoded)."""
        full = self.dir_slash + name
        dc = None if header or "/" in name else self.entries.get(full)
        if dc is None:
            found = self.slow_lookup(name, header)
            if found is None and "/" not in name and name not in ("", ".", ".."):
                self.absent.append(name)  # cache.py: valid while no such name is listed
            else:
                self.volatile = True
            return found
        core, vhost = self.core, self.txn.vhost
        try:
            if self.direct_uri is not None and name not in (".", ".."):
                uri = self.direct_uri + name  # what normalize and translate would give
            else:
                uri = normalize(self.dir_uri + name, decode_unreserved=False)
                path, red = core.mapper.translate(vhost, uri, "")
                if red is not None or path != full:
                    self.volatile = True
                    return self.slow_lookup(name, header)
            dc = core.resolver.location_config(vhost, uri, dc)
            # allowed() asked Require already for this entry under the same sections
            # unless an <If> could change them (Handler.sub_if merges those)
            known = self.decided.get(full) if not dc.if_sections \
                and uri == self.base_uri + name else None
            if known is not True:
                self.volatile = True
            if known is False or (known is None
                                  and not subrequest.allowed(core, self.txn, dc, full)):
                return None
            return full, core.mime.content_type_header(full, dc)
        except Exception:  # as the full sub-request: nothing found
            return None

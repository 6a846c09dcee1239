"""Walk the section tree and run each directive's handler in its context.

Like Apache, conditionals (<IfModule>, <IfDefine>, <IfDirective>), Define, LoadModule
and Include take effect in file order, so a LoadModule enables the directives and
<IfModule> tests that follow it. A directive is found in the table only when its module
is loaded; otherwise it is Apache's "Invalid command" error.
"""
from __future__ import annotations

import glob
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from fastcore.config.errors import ConfigError, invalid_command
from fastcore.config.lexer import read_lines, split_words
from fastcore.config.model import DirConfig, VirtualHost
from fastcore.config.tree import Node, Reader

if TYPE_CHECKING:  # state imports the module registry, which imports this table's types
    from fastcore.config.state import State

# req_override bits (Apache's RSRC_CONF, ACCESS_CONF, OR_*).
RSRC = "RSRC"
ACCESS = "ACCESS"
OR_AUTHCFG, OR_LIMIT, OR_OPTIONS, OR_FILEINFO, OR_INDEXES = (
    "AuthConfig", "Limit", "Options", "FileInfo", "Indexes")
OR_ALL = frozenset({OR_AUTHCFG, OR_LIMIT, OR_OPTIONS, OR_FILEINFO, OR_INDEXES})
SERVER_OVERRIDE = frozenset({RSRC, OR_OPTIONS, OR_FILEINFO, OR_INDEXES})
SECTION_OVERRIDE = OR_ALL | {ACCESS}

# Context checks (ap_check_cmd_context).
NOT_IN_VHOST, NOT_IN_DIR, NOT_IN_LOCATION, NOT_IN_FILES, NOT_IN_HTACCESS = 1, 2, 4, 8, 16
NOT_IN_DIR_LOC_FILE = NOT_IN_DIR | NOT_IN_LOCATION | NOT_IN_FILES
GLOBAL_ONLY = NOT_IN_VHOST | NOT_IN_DIR_LOC_FILE

SYNTAX_COUNTS = {
    "NO_ARGS": (0, 0, "takes no arguments"),
    "TAKE1": (1, 1, "takes one argument"),
    "TAKE2": (2, 2, "takes two arguments"),
    "TAKE12": (1, 2, "takes 1-2 arguments"),
    "TAKE3": (3, 3, "takes three arguments"),
    "TAKE23": (2, 3, "takes two or three arguments"),
    "TAKE123": (1, 3, "takes one, two or three arguments"),
    "TAKE13": (1, 3, "takes one or three arguments"),
    "ITERATE": (1, None, "requires at least one argument"),
    "ITERATE2": (2, None, "requires at least two arguments"),
    "FLAG": (1, 1, "must be On or Off"),
    "TAKE_ARGV": (0, None, ""),
    "RAW_ARGS": (0, None, ""),
}


# Modules whose source file is not mod_<base>.c (the MPMs are event.c, worker.c, ...).
SOURCE_NAMES = {"core": "core.c", "http": "http_core.c", "mpm_event": "event.c",
                "mpm_worker": "worker.c", "mpm_prefork": "prefork.c"}


class DirectiveError(Exception):
    """Raised by handlers with Apache's message; the engine adds file/line/directive."""


@dataclass
class Ctx:
    """Where a directive is being applied."""

    vhost: VirtualHost
    dirconf: DirConfig
    override: frozenset[str]
    in_vhost: bool = False
    section: str | None = None  # innermost per-dir section name ("Directory", ...)
    kinds: tuple[str, ...] = ()  # enclosing per-dir section kinds, lower-case
    htaccess: bool = False
    override_opts: int = 0xFF  # AllowOverride Options=... in .htaccess
    override_list: frozenset[str] = frozenset()
    authz: list = field(default_factory=list)  # Require items of the current group
    authz_kind: str = "any"  # the group they go into (a section's bare Requires: any)
    authz_group: bool = False  # inside <RequireAll/Any/None> (not the section's own list)
    path: str | None = None  # the section argument (for <Directory> etc.)
    htaccess_dir: str | None = None  # a .htaccess file's directory, "/"-terminated

    def child(self, **kw: Any) -> Ctx:
        return replace(self, **kw)


# the argument is what the syntax makes of the text: list[str], bool (FLAG) or str (RAW_ARGS)
DirectiveArgs = list[str] | bool | str
# Each handler declares the one kind its syntax gives (a: list[str], a: bool ...), so the
# table's type leaves the argument open (a Callable over DirectiveArgs would refuse them).
Handler = Callable[["Engine", Ctx, Any, Node], None]


@dataclass(frozen=True)
class Directive:
    name: str
    module: str
    req: frozenset[str]
    syntax: str
    handler: Handler
    usage: str = ""
    check: int = 0


class ModuleRegistry(Protocol):
    """What the engine needs of the module registry it is given (fastcore.modules)."""

    def loadable(self) -> frozenset[str]:
        """The module names LoadModule accepts."""
        ...

    def directives(self, name: str) -> list[Directive]:
        """The directive table of module `name` (importing it); [] if it has none."""
        ...


class NoModules:
    """A registry with nothing to load: a .htaccess engine gets the complete table of its
    configuration (LoadModule is not allowed there)."""

    def loadable(self) -> frozenset[str]:
        return frozenset()

    def directives(self, name: str) -> list[Directive]:
        return []


class Engine:
    """Runs the directive table over the config files; subclasses nothing, handlers
    store results on `self.state` (a builder the handlers know).  The table holds core's
    directives and those of the modules loaded so far: `load_module` adds a module's."""

    def __init__(self, table: dict[str, list[Directive]], state: State, server_root: str,
                 defines: dict[str, str], static_modules: tuple[str, ...],
                 registry: ModuleRegistry):
        self.table = table
        self.registry = registry
        self.state = state
        self.server_root = server_root
        self.defines = defines
        self.loaded: list[str] = list(static_modules)
        self.shared: list[str] = []
        self.static = frozenset(static_modules)
        self.warnings: list[str] = []
        self.check_document_root = True  # -T turns it off
        self.listen_seen: set[tuple[str | None, int]] = set()  # Listen (address text, port)
        self._include_depth = 0
        for name in static_modules:
            self._add_rows(name)

    def _add_rows(self, name: str) -> None:
        for d in self.registry.directives(name):
            rows = self.table.setdefault(d.name.lower(), [])
            if d not in rows:
                rows.append(d)

    def load_module(self, name: str, shared: bool = True) -> None:
        """LoadModule: the module's directives and <IfModule> name are known from here on."""
        self.loaded.append(name)
        if shared:
            self.shared.append(name)
        self._add_rows(name)

    # -- helpers used by handlers ---------------------------------------------------
    def resolve_path(self, path: str) -> str:
        """Relative paths are relative to ServerRoot, as ap_server_root_relative."""
        return path if os.path.isabs(path) or path.startswith("|") else os.path.join(
            self.server_root, path)

    def module_loaded(self, name: str) -> bool:
        """Is the module with this identifier (`mime_module`) loaded or compiled in?"""
        return name in self.loaded

    def module_present(self, name: str) -> bool:
        """<IfModule NAME> as find_module: a loaded module's source file name
        (`mod_mime.c`, `event.c`) or identifier (`mime_module`), compared case-sensitively."""
        return name in self.loaded or name in {self.module_source(m) for m in self.loaded}

    @staticmethod
    def module_source(mod: str) -> str:
        """The module's `name` field (its source file), as `apache2 -l` prints it."""
        base = mod[:-len("_module")] if mod.endswith("_module") else mod
        return SOURCE_NAMES.get(base, f"mod_{base}.c")

    def lookup(self, name: str) -> Directive | None:
        for d in self.table.get(name.lower(), ()):
            if d.module in self.loaded:
                return d
        return None

    # -- reading ------------------------------------------------------------------
    read_hooks: dict = {}
    conditions: dict = {}

    def read_lines(self, lines: list) -> list[Node]:
        return Reader(lines, self.defines, self.warnings, self.read_hooks_bound(),
                      self.eval_condition).read()

    def read_file(self, path: str) -> list[Node]:
        return self.read_lines(read_lines(path))

    def read_hooks_bound(self) -> dict:
        return {k: (lambda node, reader, f=f: f(self, node)) for k, f in self.read_hooks.items()}

    def eval_condition(self, node: Node) -> bool:
        fn = self.conditions["<" + node.name.lower()]
        try:
            return fn(self, node)
        except DirectiveError as exc:
            raise ConfigError(str(exc), node.filename, node.line, f"<{node.name}>",
                              reading=True) from None
        except (OSError, ArithmeticError, LookupError, ValueError, TypeError) as exc:
            raise ConfigError(f"<{node.name}>: invalid argument ({exc})", node.filename,
                              node.line, f"<{node.name}>", reading=True) from None

    def read_directive(self, node: Node, fn) -> list[Node] | None:
        """Run a read-time directive now (with its argument checks)."""
        d = self.lookup(node.name)
        if d is None:
            return None
        try:
            args = self._parse_args(d, node.args, node)
            result = fn(self, args, node)
        except ConfigError as exc:
            if not exc.reading or not exc.filename:
                raise
            # an included file that cannot be read: Apache names the Include line and
            # nests the included file's own "Syntax error on line ..." in the message
            raise ConfigError(f"Syntax error on line {exc.line} of {exc.filename}: "
                              f"{exc.message}", node.filename, node.line, node.name,
                              reading=True) from None
        except DirectiveError as exc:
            raise ConfigError(str(exc), node.filename, node.line, node.name,
                              reading=True) from None
        except OSError as exc:
            raise ConfigError(f"{d.name}: {exc.strerror or exc}", node.filename, node.line,
                              node.name, reading=True) from None
        except (ArithmeticError, LookupError, ValueError, TypeError) as exc:
            raise ConfigError(f"{d.name}: invalid argument ({exc})", node.filename,
                              node.line, node.name, reading=True) from None
        node.read_done = True
        return result

    def walk(self, nodes: list[Node], ctx: Ctx) -> None:
        for node in nodes:
            self.exec_node(node, ctx)

    def exec_node(self, node: Node, ctx: Ctx) -> None:
        key = ("<" + node.name) if node.is_section else node.name
        shown = key + (">" if node.is_section else "")
        d = self.lookup(key)
        if d is None:
            from fastcore.config.modules import UNIMPLEMENTED

            known = UNIMPLEMENTED.get(key.lower())
            if known is not None:
                raise ConfigError(f"Invalid command '{key}': an Apache {known[1]} directive "
                                  "that fastcore does not implement", node.filename,
                                  node.line, shown)
            raise ConfigError(invalid_command(key), node.filename, node.line, shown)
        if node.read_done:
            return  # acted upon while reading, without context checks (as EXEC_ON_READ)
        try:
            self._check_context(d, ctx)
            args = self._parse_args(d, node.args, node)
            d.handler(self, ctx, args, node)
        except DirectiveError as exc:
            raise ConfigError(str(exc), node.filename, node.line, shown) from None
        except ConfigError:
            raise
        except OSError as exc:
            raise ConfigError(f"{d.name}: {exc.strerror or exc}", node.filename, node.line,
                              shown) from None
        except (ArithmeticError, LookupError, ValueError, TypeError) as exc:
            # a safety net: bad input is a config error, never a traceback
            raise ConfigError(f"{d.name}: invalid argument ({exc})", node.filename,
                              node.line, shown) from None

    def _check_context(self, d: Directive, ctx: Ctx) -> None:
        if ctx.htaccess and d.name.lower() in ctx.override_list and d.req & OR_ALL:
            return
        if not (d.req & ctx.override):
            if ctx.section:  # in .htaccess too (invoke_cmd names the parent section)
                raise DirectiveError(f"{d.name} not allowed in <{ctx.section}> context")
            raise DirectiveError(f"{d.name} not allowed here")
        c = d.check
        if c & NOT_IN_HTACCESS and ctx.htaccess:
            raise DirectiveError(f"{d.name} cannot occur within htaccess files")
        if ctx.kinds:
            inner = ctx.kinds[-1]
            if ((c & NOT_IN_DIR and inner in ("directory", "directorymatch"))
                    or (c & NOT_IN_LOCATION and inner in ("location", "locationmatch"))
                    or (c & NOT_IN_FILES and inner in ("files", "filesmatch", "if"))):
                raise DirectiveError(
                    f"{d.name} cannot occur within <Directory/Location/Files> section")
        if c & NOT_IN_VHOST and ctx.in_vhost:
            raise DirectiveError(f"{d.name} cannot occur within <VirtualHost> section")

    def _parse_args(self, d: Directive, text: str, node: Node) -> object:
        syn = d.syntax
        if syn in ("RAW_ARGS", "SECTION"):
            return text
        words = split_words(text)
        lo, hi, msg = SYNTAX_COUNTS[syn]
        n = len(words)
        bad = n < lo or (hi is not None and n > hi) or (syn == "TAKE13" and n == 2)
        if "" in words and syn != "TAKE_ARGV":
            # as ap_getword_conf: an empty word ends the arguments; words after it are extra
            cut = words.index("")
            bad = bad or cut < lo or cut < n - 1
            words = words[:cut]
        if syn == "FLAG":
            # invoke_cmd reads one word; anything after it is ignored (`On Off` is On)
            flag = words[0].lower() if words else ""
            if flag not in ("on", "off"):
                raise DirectiveError(f"{d.name} must be On or Off")
            return flag == "on"
        if bad:
            raise DirectiveError(f"{d.name} {msg}" + (f", {d.usage}" if d.usage else ""))
        return words

    def include(self, pattern: str, optional: bool) -> list[Node]:
        """Include/IncludeOptional: a file, a directory (all files, sorted) or a wildcard
        in the last components, relative to ServerRoot; returns the included nodes."""
        path = self.resolve_path(pattern)
        out: list[Node] = []
        self._include_depth += 1
        try:
            if self._include_depth > 128:
                raise DirectiveError("Exceeded the maximum include directory nesting level "
                                     "of 128. You have probably a recursion somewhere.")
            if not glob.has_magic(path):
                if os.path.isdir(path):
                    for name in sorted(os.listdir(path)):
                        full = os.path.join(path, name)
                        out += (self.include(full, optional) if os.path.isdir(full)
                                else self._include_file(full))
                    return out
                if optional and not os.path.exists(path):
                    return out
                return self._include_file(path)
            parent = os.path.dirname(path)
            if glob.has_magic(parent):
                dirs = sorted(p for p in glob.glob(parent) if os.path.isdir(p))
                if not dirs and not optional:
                    raise DirectiveError(f"No matches for the wildcard "
                                         f"'{os.path.basename(parent)}' in "
                                         f"'{os.path.dirname(parent)}', failing")
                for dirpath in dirs:
                    out += self.include(os.path.join(dirpath, os.path.basename(path)),
                                        optional)
                return out
            if not os.path.isdir(parent):
                if optional:
                    return out
                raise DirectiveError(f"Include/IncludeOptional: Could not open directory "
                                     f"{parent}: No such file or directory")
            matches = sorted(m for m in glob.glob(path) if not os.path.isdir(m))
            if not matches and not optional:
                raise DirectiveError(f"No matches for the wildcard '{os.path.basename(path)}' "
                                     f"in '{parent}', failing")
            for m in matches:
                out += self._include_file(m)
            return out
        finally:
            self._include_depth -= 1

    def _include_file(self, path: str) -> list[Node]:
        try:
            lines = read_lines(path)
        except OSError as exc:
            raise DirectiveError(f"Could not open configuration file {path}: "
                                 f"{exc.strerror}") from None
        except ValueError as exc:
            raise DirectiveError(f"Could not open configuration file {path!r}: {exc}") from None
        return self.read_lines(lines)

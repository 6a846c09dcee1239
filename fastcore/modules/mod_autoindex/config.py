"""mod_autoindex's configuration: IndexOptions, IndexIgnore, HeaderName, ReadmeName,
AddIcon*, AddAlt*, AddDescription, DefaultIcon, IndexOrderDefault, IndexStyleSheet,
IndexHeadInsert; its per-dir record and the merge of IndexOptions as
merge_autoindex_configs does it."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from fastcore.config.engine import OR_INDEXES, Ctx, Directive, DirectiveError, Engine
from fastcore.config.lexer import split_words
from fastcore.config.model import DirConfig, module_record, scope_record
from fastcore.config.tree import Node

NAME = "autoindex_module"

Lines = tuple[tuple[str, ...], ...]  # one tuple of arguments per directive line


def _words(lines: Iterable[str | tuple[str, ...]]) -> list[str]:
    return [w for line in (lines or ()) for w in ((line,) if isinstance(line, str) else line)]


# IndexOptions keywords without a flag of their own (values, sizes): a plain one still
# resets the increments/decrements collected so far in its scope, as add_opts does.
_AI_VALUE_WORDS = ("namewidth", "descriptionwidth", "iconwidth", "iconheight", "charset",
                   "type")

AiOpts = tuple[frozenset, frozenset, frozenset]  # (opts, incremented, decremented)


def ai_scope_options(lines: Iterable[str | tuple[str, ...]]) -> AiOpts:
    """One scope's IndexOptions as mod_autoindex's add_opts keeps them: a plain keyword
    sets its flag and drops the +/- collected so far, +X/-X only increment/decrement,
    None clears everything ("none" stands for NO_OPTIONS)."""
    opts: set[str] = set()
    inc: set[str] = set()
    dec: set[str] = set()
    for w in _words(lines):
        action = w[0] if w[:1] in ("+", "-") else ""
        key = w.lstrip("+-").split("=", 1)[0].lower()
        flag = None if ("=" in w or key in _AI_VALUE_WORDS) else key
        if key == "none":
            opts, inc, dec = {"none"}, set(), set()
            continue
        if action == "":
            if flag:
                opts.add(flag)
            inc, dec = set(), set()
        elif action == "+":
            if flag:
                inc.add(flag)
                dec.discard(flag)
        elif flag:
            dec.add(flag)
            inc.discard(flag)
    return frozenset(opts), frozenset(inc), frozenset(dec)


def ai_merge_options(base: AiOpts, add: AiOpts) -> AiOpts:
    """merge_autoindex_configs for the options: an explicit None wins; a scope with
    only +/- builds on the inherited flags (and passes its +/- further down); any plain
    keyword replaces what is inherited (the +/- are then not passed on)."""
    b_opts, b_inc, b_dec = base
    a_opts, a_inc, a_dec = add
    if a_opts == frozenset(("none",)):
        return a_opts, frozenset(), frozenset()
    if not a_opts:
        inc = (b_inc | a_inc) - a_dec
        dec = b_dec | a_dec
        opts = b_opts - {"none"}
    else:
        inc = dec = frozenset()
        opts = a_opts
    return frozenset((opts | inc) - dec), frozenset(inc), frozenset(dec)


_NO_OPTS: AiOpts = (frozenset(), frozenset(), frozenset())
# lists a deeper scope adds to (its own entries first, they match first)
_LISTS = ("index_ignore", "add_description", "icon_items", "alt_items")
_SINGLE = ("index_ignore_reset", "index_order_default", "index_style_sheet",
           "index_head_insert", "header_name", "readme_name", "default_icon")


@dataclass
class AutoindexDir:
    """mod_autoindex's per-dir record (autoindex_config_rec).

    icon_items/alt_items keep every AddIcon*/AddAlt* line in directive order as
    (kind, first argument, targets...), kind being path, type or encoding.  `section`
    marks a record configured in a section or .htaccess: Apache merges those among
    themselves first (`chain`) and the result onto the server's defaults (`server`);
    `opts` is the merged (flags, increments, decrements) of IndexOptions."""

    index_options: Lines = ()
    index_ignore: Lines = ()
    index_ignore_reset: bool | None = None
    index_order_default: tuple[str, str] | None = None  # (ascending|descending, key)
    index_style_sheet: str | None = None
    index_head_insert: str | None = None
    header_name: str | None = None
    readme_name: str | None = None
    default_icon: str | None = None
    add_description: Lines = ()
    icon_items: Lines = ()
    alt_items: Lines = ()
    section: bool = False
    chain: AiOpts | None = None
    server: AiOpts | None = None
    opts: AiOpts | None = None

    def triple(self) -> AiOpts:
        return self.opts if self.opts is not None else ai_scope_options(self.index_options)

    def merge(self, add: AutoindexDir) -> AutoindexDir:
        """Single values from the deeper scope win; icon, alt, description and
        IndexIgnore lists accumulate (IndexIgnoreReset On drops the inherited ignores);
        the IndexOptions flags merge on Apache's grouping: IndexOptions merging is not
        associative, so a section with any autoindex directive turns a deeper
        section's +X into a plain setting.  The option words are kept for the
        key=value settings (widths, Charset=, Type=)."""
        out = replace(self, section=False)
        for name in _SINGLE:
            v = getattr(add, name)
            if v is not None:
                setattr(out, name, v)
        for name in _LISTS:
            setattr(out, name, getattr(add, name) + getattr(self, name))
        if add.index_ignore_reset is True:
            out.index_ignore = add.index_ignore
        out.index_options = self.index_options + add.index_options
        t_add = add.triple()
        if add.section:
            if self.chain is not None and self.server is not None:
                out.chain, out.server = ai_merge_options(self.chain, t_add), self.server
            else:
                out.chain, out.server = t_add, self.triple()
            out.opts = ai_merge_options(out.server, out.chain)
        else:
            out.chain = out.server = None
            out.opts = ai_merge_options(self.triple(), t_add)
        return out

    def effective_options(self) -> frozenset[str]:
        """The IndexOptions flags in force."""
        t = self.opts
        if t is None:
            t = ai_merge_options(_NO_OPTS, ai_scope_options(self.index_options))
        return frozenset(t[0]) - {"none"}


def autoindex_config(dc: DirConfig | None) -> AutoindexDir:
    """This module's record of a merged DirConfig (ap_get_module_config)."""
    return module_record(dc.modules, NAME, AutoindexDir) if dc is not None else _EMPTY


_EMPTY = AutoindexDir()


# -- the directives ----------------------------------------------------------------------
# mod_autoindex settings fastcore accepts (Apache-valid configs keep starting) but does
# not render: a listing that would need them is answered 500 with an error-log line
# instead of a listing Apache would not send.  Each use is reported at startup, naming
# the file and line.  Icons, alt texts, descriptions, DefaultIcon, IndexStyleSheet and
# IndexHeadInsert are rendered (fastcore/modules/mod_autoindex/icons.py).
UNRENDERED_KEYS: frozenset[str] = frozenset()
UNRENDERED_OPTIONS = frozenset(("showforbidden",))


def _unrendered(e: Engine, n: Node, what: str) -> None:
    e.warnings.append(f"fastcore: {n.filename}:{n.line}: {what} is accepted but not rendered "
                      "in directory listings; a listing that needs it answers 500")


def _store(ctx: Ctx) -> AutoindexDir:
    """The scope's record; a section's or .htaccess's is marked `section`: Apache
    merges those among themselves before merging them onto the server's defaults,
    which matters for IndexOptions (see AutoindexDir.merge)."""
    rec = scope_record(ctx.dirconf.modules, NAME, AutoindexDir)
    if ctx.section or ctx.htaccess:
        rec.section = True
    return rec


Handler = Callable[[Engine, Ctx, list[str], Node], None]


def _lines(key: str) -> Handler:
    """A directive whose lines accumulate in the scope (IndexIgnore, AddDescription)."""
    def h(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
        rec = _store(ctx)
        setattr(rec, key, getattr(rec, key) + (tuple(a),))
    return h


def _value(key: str) -> Handler:
    """A TAKE1 setting: the last one of the scope is kept."""
    def h(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
        if key in UNRENDERED_KEYS and not ctx.htaccess:
            _unrendered(e, n, n.name)
        setattr(_store(ctx), key, a[0])
    return h


def index_ignore_reset(e: Engine, ctx: Ctx, a: bool, n: Node) -> None:
    _store(ctx).index_ignore_reset = a


def _item(kind: str, icon: bool) -> Handler:
    """AddIcon*/AddAlt*: append (kind, first, targets...) to mod_autoindex's single
    ordered icon or alt list; an "(ALT,/url)" icon also adds its alt text to the alt
    list at this point, as add_icon does."""
    def h(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
        first, tos = a[0], tuple(a[1:])
        rec = _store(ctx)
        if icon and first.startswith("("):
            cl = first.find(")")
            if cl < 0:
                raise DirectiveError("missing closing paren")
            comma = first.find(",")
            alt = first[1:comma] if 0 <= comma < cl else first[1:cl]
            rec.alt_items += ((kind, alt) + tos,)
        if icon:
            rec.icon_items += ((kind, first) + tos,)
        else:
            rec.alt_items += ((kind, first) + tos,)
    return h


INDEX_OPTIONS = ("addaltclass", "charset", "descriptionwidth", "fancyindexing", "foldersfirst",
                 "htmltable", "iconsarelinks", "iconheight", "iconwidth", "ignorecase",
                 "ignoreclient", "namewidth", "scanhtmltitles", "showforbidden",
                 "suppresscolumnsorting", "suppressdescription", "suppresshtmlpreamble",
                 "suppressicon", "suppresslastmodified", "suppressrules", "suppresssize",
                 "trackmodified", "type", "useoldDateformat".lower(), "versionsort",
                 "xhtml", "none")


def index_options(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    for w in a:
        key = w.lstrip("+-").split("=", 1)[0].lower()
        if key not in INDEX_OPTIONS:
            raise DirectiveError("Invalid directory indexing option")
        if key in UNRENDERED_OPTIONS and not w.startswith("-") and not ctx.htaccess:
            _unrendered(e, n, f"IndexOptions {w}")
    rec = _store(ctx)
    rec.index_options += (tuple(a),)


def index_order_default(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    if a[0].lower() not in ("ascending", "descending"):
        raise DirectiveError("First keyword must be 'Ascending' or 'Descending'")
    if a[1].lower() not in ("name", "date", "size", "description"):
        raise DirectiveError("Second keyword must be 'Name', 'Date', 'Size', or "
                             "'Description'")
    _store(ctx).index_order_default = (a[0].lower(), a[1].lower())


def directives() -> list[Directive]:
    ix = frozenset({OR_INDEXES})

    def d(name: str, syntax: str, handler: Callable[..., None], usage: str) -> Directive:
        return Directive(name, NAME, ix, syntax, handler, usage)

    return [
        d("IndexOptions", "RAW_ARGS", lambda e, c, a, n: index_options(e, c, split_words(a), n),
          "one or more index options [+|-][]"),
        d("IndexIgnore", "ITERATE", _lines("index_ignore"), "one or more file extensions"),
        d("IndexIgnoreReset", "FLAG", index_ignore_reset, "Reset the inherited list of "
          "IndexIgnore filenames"),
        d("IndexOrderDefault", "TAKE2", index_order_default, "{Ascending,Descending} "
          "{Name,Size,Description,Date}"),
        d("IndexStyleSheet", "TAKE1", _value("index_style_sheet"), "URL to style sheet"),
        d("IndexHeadInsert", "TAKE1", _value("index_head_insert"), "String to insert in "
          "HTML HEAD section"),
        d("HeaderName", "TAKE1", _value("header_name"), "a filename"),
        d("ReadmeName", "TAKE1", _value("readme_name"), "a filename"),
        d("AddDescription", "ITERATE2", _lines("add_description"), "Descriptive text "
          "followed by one or more filenames"),
        d("AddIcon", "ITERATE2", _item("path", True), "an icon URL followed by one or more "
          "filenames"),
        d("AddIconByType", "ITERATE2", _item("type", True), "an icon URL followed by one or "
          "more MIME types"),
        d("AddIconByEncoding", "ITERATE2", _item("encoding", True), "an icon URL followed "
          "by one or more content encodings"),
        d("AddAlt", "ITERATE2", _item("path", False), "alternate descriptive text followed "
          "by one or more filenames"),
        d("AddAltByType", "ITERATE2", _item("type", False), "alternate descriptive text "
          "followed by one or more MIME types"),
        d("AddAltByEncoding", "ITERATE2", _item("encoding", False), "alternate descriptive "
          "text followed by one or more content encodings"),
        d("DefaultIcon", "TAKE1", _value("default_icon"), "an icon URL"),
    ]


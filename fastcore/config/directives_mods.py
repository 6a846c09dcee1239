"""Directives of the loadable modules fastcore implements: mod_mime, mod_dir,
mod_log_config, mod_alias, mod_authz_core, mod_authz_host, mod_negotiation, mod_autoindex."""
from __future__ import annotations

import ipaddress

from fastcore.config.apexpr import check_expr
from fastcore.config.engine import (
    ACCESS,
    NOT_IN_DIR_LOC_FILE,
    OR_AUTHCFG,
    OR_FILEINFO,
    OR_INDEXES,
    RSRC,
    Ctx,
    Directive,
    DirectiveError,
    Engine,
)
from fastcore.config.lexer import get_word, split_words
from fastcore.config.logformat import check_log_format
from fastcore.config.model import Alias, LogSpec, Redirect, Require
from fastcore.config.regex import CompileError, Regex, compile_regex
from fastcore.config.tree import Node

MIME, DIR, LOG, ALIAS = "mime_module", "dir_module", "log_config_module", "alias_module"
AUTHZ, HOST, NEG, AUTOINDEX = ("authz_core_module", "authz_host_module",
                               "negotiation_module", "autoindex_module")


def _ext(e: str) -> str:
    return e.lower().lstrip(".")


def _map(field_name: str, lower_value: bool = False):
    """AddType/AddHandler/...: first argument is the value, the rest extensions."""
    def h(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
        value = a[0].lower() if lower_value else a[0]
        target = getattr(ctx.dirconf, field_name)
        for ext in a[1:]:
            target[_ext(ext)] = value
    return h


def types_config(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    e.state.types_config = e.resolve_path(a[0])


def remove_type(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    ctx.dirconf.remove_type = ctx.dirconf.remove_type | {_ext(x) for x in a}
    for x in a:
        ctx.dirconf.add_type.pop(_ext(x), None)


def default_language(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    ctx.dirconf.default_language = a[0]


def directory_index(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    names = ctx.dirconf.directory_index or ()
    for w in a:
        # as mod_dir: "disabled" drops the names given so far in this scope
        names = () if w.lower() == "disabled" else names + (w,)
    ctx.dirconf.directory_index = names


def directory_slash(e: Engine, ctx: Ctx, a: bool, n: Node) -> None:
    ctx.dirconf.directory_slash = a


def log_format(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    check_log_format(a[0])
    if len(a) == 1:
        e.state.log_formats["CLF"] = a[0]
        return
    e.state.log_formats[a[1]] = a[0]


def custom_log(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    path = a[0] if a[0].startswith("|") else e.resolve_path(a[0])
    cond = None
    if len(a) == 3:
        c = a[2]
        if not c.lower().startswith(("env=", "expr=")):
            raise DirectiveError("error in condition clause")
        if c.lower().startswith("env=") and c[4:].lstrip("!") == "":
            raise DirectiveError("missing environment variable name")
        if c.lower().startswith("expr=") and not c[5:]:
            raise DirectiveError("missing condition")
        if c.lower().startswith("expr="):
            check_expr(c[5:])
        cond = c
    check_log_format(a[1])  # add_custom_log parses the format (or nickname) as given
    if not path.startswith("|"):
        e.state.log_paths.append((path, "custom", n.filename, n.line))
    spec = LogSpec(path, a[1], cond)
    e.state.set_vhost(ctx.vhost, "custom_logs", ctx.vhost.custom_logs + (spec,))


def transfer_log(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    path = a[0] if a[0].startswith("|") else e.resolve_path(a[0])
    spec = LogSpec(path, e.state.log_formats.get("CLF", '%h %l %u %t "%r" %>s %b'))
    e.state.set_vhost(ctx.vhost, "custom_logs", ctx.vhost.custom_logs + (spec,))


def buffered_logs(e: Engine, ctx: Ctx, a: bool, n: Node) -> None:
    e.state.buffered_logs = a


def _alias(e: Engine, ctx: Ctx, a: list[str], n: Node, match: bool, script: bool) -> None:
    """Alias, ScriptAlias and their *Match forms (ScriptAlias* also set the cgi-script
    handler for what they map, whether or not a CGI module is loaded)."""
    name = n.name
    if len(a) == 1 and not match:
        # 2.4.39+: inside <Location> the one-argument form aliases the section's path
        if ctx.kinds and ctx.kinds[-1] in ("directory", "directorymatch", "files",
                                           "filesmatch"):
            label = "<Files>" if ctx.kinds[-1].startswith("files") else "<Directory>"
            raise DirectiveError(f"{name} cannot occur within {label} section")
        if not ctx.kinds:
            raise DirectiveError("Alias must have two arguments when used globally")
        prefix = ctx.path or "/"
        rx = _alias_regex(prefix) if ctx.kinds[-1] == "locationmatch" else None
        al = Alias(prefix, a[0], rx, script)
        e.state.set_vhost(ctx.vhost, "aliases", ctx.vhost.aliases + (al,))
        return
    if ctx.kinds or ctx.htaccess:
        raise DirectiveError(f"{name} cannot occur within directory context")
    rx = _alias_regex(a[0]) if match else None
    al = Alias(a[0], a[1], rx, script)
    if rx is None:
        _warn_overlap(e, ctx.vhost.aliases, al, n)
    e.state.set_vhost(ctx.vhost, "aliases", ctx.vhost.aliases + (al,))


def _warn_overlap(e: Engine, earlier: tuple[Alias, ...], al: Alias, n: Node) -> None:
    """mod_alias's AH00671: a plain (Script)Alias that an earlier one already covers."""
    from fastcore.core.mapping import alias_match

    for old in earlier:
        if (old.regex.search(al.url_prefix) is not None if old.regex is not None
                else alias_match(al.url_prefix, old.url_prefix) > 0):
            kind = ("Script" if old.script else "") + "Alias" + ("Match" if old.regex else "")
            e.warnings.append(error_log_line(
                "alias", "warn", f"AH00671: The {n.name} directive in {n.filename} at line "
                f"{n.line} will probably never match because it overlaps an earlier {kind}."))
            return


def error_log_line(module: str, level: str, msg: str) -> str:
    """A line as Apache's error log writes it to stderr while it reads the configuration."""
    import os
    import threading
    import time

    now = time.time()
    lt = time.localtime(now)
    stamp = time.strftime("%a %b %d %H:%M:%S", lt) + f".{int(now * 1e6) % 1000000:06d} {lt.tm_year}"
    return (f"[{stamp}] [{module}:{level}] [pid {os.getpid()}:tid "
            f"{threading.get_native_id()}] {msg}")


STATUS_WORDS = {"permanent": 301, "temp": 302, "seeother": 303, "gone": 410}


def _grok_status(word: str, status: int) -> tuple[int, int]:
    """mod_alias's reading of a first argument: (status, grok) where grok is 1 for a
    redirect status (3xx), -1 for a status that takes no URL (gone, 403...), 0 for none."""
    w = word.lower()
    if w in STATUS_WORDS:
        st = STATUS_WORDS[w]
        return st, -1 if st == 410 else 1
    if word[:1].isdigit():
        digits = len(word) - len(word.lstrip("0123456789"))
        st = int(word[:digits])  # atoi: "301x" is 301
        return st, 1 if 300 <= st <= 399 else -1
    return status, 0


def _redirect(e: Engine, ctx: Ctx, a: list[str], n: Node, match: bool, fixed: int) -> None:
    arg1, arg2, arg3 = (list(a) + [None, None])[:3]
    status, grok = _grok_status(arg1, fixed or 302)
    if arg3 is not None and not grok:
        raise DirectiveError("Redirect: invalid first argument (of three)")
    in_sec = bool(ctx.kinds) or ctx.htaccess  # Apache's cmd->path is set
    if in_sec and ((grok > 0 and arg2 is not None and arg3 is None)
                   or (not grok and arg2 is None)):
        target = arg2 if grok else arg1
        _add_redirect(e, ctx, Redirect(status, ctx.path or "/", target, None, True))
        return
    if in_sec and grok < 0 and arg2 is None:
        _add_redirect(e, ctx, Redirect(status, ctx.path or "/", None, None, True))
        return
    prefix, target = arg2, arg3
    if arg3 is None and not grok:
        prefix, target = arg1, arg2
    if prefix is None:  # "Redirect gone" outside a section: accepted, never matches
        prefix = ""
    rx = _alias_regex(prefix) if match else None
    if 300 <= status <= 399:
        if target is None:
            raise DirectiveError("URL to redirect to is missing")
        if not match and not _is_url(target) and not target.startswith("/"):
            raise DirectiveError("Redirect to non-URL")
    elif target is not None:
        raise DirectiveError("Redirect URL not valid for this status")
    _add_redirect(e, ctx, Redirect(status, prefix, target, rx))


def _is_url(u: str) -> bool:
    """ap_is_url: a scheme of letters, digits, '+', '-', '.' followed by ':'."""
    head, sep, _ = u.partition(":")
    return bool(sep and head) and all(c.isalnum() or c in "+-." for c in head)


def _add_redirect(e: Engine, ctx: Ctx, r: Redirect) -> None:
    if ctx.kinds or ctx.htaccess:
        ctx.dirconf.redirects = ctx.dirconf.redirects + (r,)
    else:
        e.state.set_vhost(ctx.vhost, "redirects", ctx.vhost.redirects + (r,))


def _alias_regex(pattern: str) -> Regex:
    """mod_alias's patterns, by PCRE2 as in Apache."""
    try:
        return compile_regex(pattern)
    except CompileError:
        raise DirectiveError("Regular expression could not be compiled.") from None


METHODS = frozenset((
    "GET HEAD PUT POST DELETE CONNECT OPTIONS TRACE PATCH PROPFIND PROPPATCH MKCOL COPY "
    "MOVE LOCK UNLOCK VERSION-CONTROL CHECKOUT UNCHECKOUT CHECKIN UPDATE LABEL REPORT "
    "MKWORKSPACE MKACTIVITY BASELINE-CONTROL MERGE").split())
HOST_PROVIDERS = ("ip", "host", "local", "forward-dns")
CORE_PROVIDERS = ("all", "env", "method", "expr")


def _words_until_empty(text: str) -> list[str]:
    """ap_getword_conf in a loop that stops at the first empty word (`""` ends the list)."""
    out: list[str] = []
    pos = 0
    while pos < len(text):
        w, pos = get_word(text, pos)
        if not w:
            break
        out.append(w)
    return out


def require(e: Engine, ctx: Ctx, a: str, n: Node) -> None:
    """add_authz_provider: the provider name is one word (`not` before it, in any case,
    negates); provider names are case-sensitive; each provider parses the raw rest."""
    name, pos = get_word(a)
    neg = name.lower() == "not"
    if neg:
        name, pos = get_word(a, pos)
    rest = a[pos:].strip()
    if not (name in CORE_PROVIDERS or (name in HOST_PROVIDERS and e.module_loaded(HOST))):
        raise DirectiveError(f"Unknown Authz provider: {name}")
    args = tuple(split_words(rest))
    if name == "all":
        # all_parse_config compares the whole raw rest: `all "granted"` is refused
        if rest.lower() not in ("granted", "denied"):
            raise DirectiveError("Argument for 'Require all' must be 'granted' or 'denied'")
        args = (rest.lower(),)
    elif name == "ip":
        args = tuple(_words_until_empty(rest))
        if not args:
            raise DirectiveError("'require ip' requires an argument")
        for ip in args:
            _check_ip(ip)
    elif name == "method":
        args = tuple(_words_until_empty(rest))
        for m in args:
            if m not in METHODS:  # ap_method_number_of is case-sensitive
                raise DirectiveError(f"Invalid Method '{m}'")
    elif name == "expr":
        raise DirectiveError("Require expr is not supported by fastcore")
    if neg and ctx.authz_kind in ("any", "none"):
        group = "RequireAny" if ctx.authz_kind == "any" else "RequireNone"
        raise DirectiveError(f"negative Require directive has no effect in <{group}> "
                             "directive")
    ctx.authz.append(Require(name, args, neg, n.filename, n.line))


def _check_ip(spec: str) -> None:
    """mod_authz_host: full addresses, CIDR, netmask or partial dotted prefixes."""
    addr, slash, mask = spec.partition("/")
    try:
        if slash:
            ipaddress.ip_address(addr)
            if mask.isdigit():
                ipaddress.ip_network(f"{addr}/{mask}", strict=False)
            else:
                ipaddress.IPv4Address(mask)  # any dotted netmask, as APR
            return
        ipaddress.ip_address(addr)
        return
    except ValueError:
        pass
    parts = addr.rstrip(".").split(".")
    if not slash and 1 <= len(parts) <= 3 and all(p.isdigit() and int(p) < 256 for p in parts):
        return
    # apr_ipsubnet_create: text that looks like an address (digits and dots, or a ':')
    # but does not parse is APR_EBADIP, reported with its text; anything else is EINVAL
    looks_like_ip = ":" in addr or all(c.isdigit() or c == "." for c in addr)
    detail = ": The specified IP address is invalid." if looks_like_ip else ""
    raise DirectiveError(f"ip address '{spec}' appears to be invalid{detail}")


def auth_merging(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    v = a[0].lower()
    if v not in ("off", "and", "or"):
        raise DirectiveError("AuthMerging must be one of: Off | And | Or")
    ctx.dirconf.authz_merging = v


def language_priority(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    ctx.dirconf.language_priority = (ctx.dirconf.language_priority or ()) + tuple(a)


def force_language_priority(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    vals = set()
    for w in a:
        lw = w.lower()
        if lw not in ("none", "prefer", "fallback"):
            raise DirectiveError("Invalid ForceLanguagePriority option " + w)
        vals.add(lw)
    if "none" in vals and len(vals) > 1:
        raise DirectiveError("Cannot combine ForceLanguagePriority options with None")
    ctx.dirconf.force_language_priority = " ".join(sorted(vals))


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


def _ai_store(ctx: Ctx) -> dict:
    """The scope's autoindex settings; a section's or .htaccess's are marked "_sect":
    Apache merges those among themselves before merging them onto the server's
    defaults, which matters for IndexOptions (see state.merge_autoindex)."""
    store = ctx.dirconf.autoindex
    if ctx.section or ctx.htaccess:
        store["_sect"] = True
    return store


def _ai(key: str, append: bool = True, words: bool = True):
    def h(e: Engine, ctx: Ctx, a: object, n: Node) -> None:
        if key in UNRENDERED_KEYS and not ctx.htaccess:
            _unrendered(e, n, n.name)
        store = _ai_store(ctx)
        val = tuple(a) if isinstance(a, list) else a
        if append:
            store[key] = tuple(store.get(key, ())) + (val,)
        else:
            store[key] = val
    return h


def _ai_item(key: str, kind: str, icon: bool):
    """AddIcon*/AddAlt*: besides the per-directive key, append (kind, first, targets...)
    to mod_autoindex's single ordered icon or alt list; an "(ALT,/url)" icon also adds
    its alt text to the alt list at this point, as add_icon does."""
    plain = _ai(key)

    def h(e: Engine, ctx: Ctx, a: object, n: Node) -> None:
        args = [str(x) for x in (a if isinstance(a, (list, tuple)) else [a])]
        first, tos = args[0], tuple(args[1:])
        store = _ai_store(ctx)
        if icon and first.startswith("("):
            cl = first.find(")")
            if cl < 0:
                raise DirectiveError("missing closing paren")
            comma = first.find(",")
            alt = first[1:comma] if 0 <= comma < cl else first[1:cl]
            store["alt_items"] = tuple(store.get("alt_items", ())) + ((kind, alt) + tos,)
        list_key = "icon_items" if icon else "alt_items"
        store[list_key] = tuple(store.get(list_key, ())) + ((kind, first) + tos,)
        plain(e, ctx, a, n)
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
    _ai("index_options")(e, ctx, a, n)


def index_order_default(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    if a[0].lower() not in ("ascending", "descending"):
        raise DirectiveError("First keyword must be 'Ascending' or 'Descending'")
    if a[1].lower() not in ("name", "date", "size", "description"):
        raise DirectiveError("Second keyword must be 'Name', 'Date', 'Size', or "
                             "'Description'")
    _ai_store(ctx)["index_order_default"] = (a[0].lower(), a[1].lower())


def _d(name: str, module: str, req, syntax: str, handler, usage: str = "",
       check: int = 0) -> Directive:
    return Directive(name, module, frozenset(req), syntax, handler, usage, check)


def cache_negotiated_docs(e: Engine, ctx: Ctx, a: bool, n: Node) -> None:
    """mod_negotiation keeps only "on" in the server config: Off in a <VirtualHost> leaves
    the main server's setting in force there, as in Apache."""
    ctx.vhost.cache_negotiated_docs = True if a else None


def module_directives() -> list[Directive]:
    FI, S = {OR_FILEINFO}, {RSRC}
    IX = {OR_INDEXES}
    return [
        _d("TypesConfig", MIME, S, "TAKE1", types_config, "the MIME types config file"),
        _d("AddType", MIME, FI, "ITERATE2", _map("add_type", True), "a mime type followed by "
           "one or more file extensions"),
        _d("AddHandler", MIME, FI, "ITERATE2", _map("add_handler", True), "a handler name "
           "followed by one or more file extensions"),
        _d("AddCharset", MIME, FI, "ITERATE2", _map("add_charset", True), "a charset (e.g., "
           "iso-2022-jp), followed by one or more file extensions"),
        _d("AddLanguage", MIME, FI, "ITERATE2", _map("add_language", True), "a language "
           "(e.g., fr), followed by one or more file extensions"),
        _d("AddEncoding", MIME, FI, "ITERATE2", _map("add_encoding", True), "an encoding "
           "(e.g., gzip), followed by one or more file extensions"),
        _d("AddOutputFilter", MIME, FI, "ITERATE2", lambda e, c, a, n: None, "output filter "
           "name followed by one or more file extensions"),
        _d("RemoveType", MIME, {OR_FILEINFO}, "ITERATE", remove_type, "one or more file "
           "extensions"),
        _d("RemoveHandler", MIME, FI, "ITERATE",
           lambda e, c, a, n: [c.dirconf.add_handler.pop(_ext(x), None) for x in a] and None,
           "one or more file extensions"),
        _d("DefaultLanguage", MIME, FI, "TAKE1", default_language, "language to use for "
           "documents with no other language file extension"),
        _d("DirectoryIndex", DIR, {OR_INDEXES}, "RAW_ARGS",
           lambda e, c, a, n: directory_index(e, c, split_words(a), n), "a list of file "
           "names"),
        _d("DirectorySlash", DIR, {OR_INDEXES}, "FLAG", directory_slash, "On or Off"),
        _d("LogFormat", LOG, S, "TAKE12", log_format, "a log format string (see docs) and "
           "an optional format name"),
        _d("CustomLog", LOG, S, "TAKE23", custom_log, "a file name, a custom log format "
           "string or format name, and an optional \"env=\" or \"expr=\" clause (see docs)"),
        _d("TransferLog", LOG, S, "TAKE1", transfer_log, "the filename of the access log"),
        _d("BufferedLogs", LOG, S, "FLAG", buffered_logs, "Enable Buffered Logging "
           "(experimental)", NOT_IN_DIR_LOC_FILE),
        _d("Alias", ALIAS, {RSRC, ACCESS}, "TAKE12",
           lambda e, c, a, n: _alias(e, c, a, n, False, False), "a fakename and a realname, or a "
           "realname in a Location"),
        _d("AliasMatch", ALIAS, S, "TAKE2", lambda e, c, a, n: _alias(e, c, a, n, True, False),
           "a regular expression and a filename"),
        _d("ScriptAlias", ALIAS, {RSRC, ACCESS}, "TAKE12",
           lambda e, c, a, n: _alias(e, c, a, n, False, True), "a fakename and a realname, "
           "or a realname in a Location"),
        _d("ScriptAliasMatch", ALIAS, S, "TAKE2",
           lambda e, c, a, n: _alias(e, c, a, n, True, True),
           "a regular expression and a filename"),
        _d("Redirect", ALIAS, {OR_FILEINFO}, "TAKE123",
           lambda e, c, a, n: _redirect(e, c, a, n, False, 0), "an optional status, then "
           "document to be redirected and destination URL"),
        _d("RedirectMatch", ALIAS, {OR_FILEINFO}, "TAKE23",
           lambda e, c, a, n: _redirect(e, c, a, n, True, 0), "an optional status, then a "
           "regular expression and destination URL"),
        _d("RedirectPermanent", ALIAS, {OR_FILEINFO}, "TAKE12",
           lambda e, c, a, n: _redirect(e, c, a, n, False, 301), "a document to be "
           "redirected, then the destination URL"),
        _d("RedirectTemp", ALIAS, {OR_FILEINFO}, "TAKE12",
           lambda e, c, a, n: _redirect(e, c, a, n, False, 302), "a document to be "
           "redirected, then the destination URL"),
        _d("Require", AUTHZ, {OR_AUTHCFG}, "RAW_ARGS", require, "specifies authorization "
           "directives which one must pass (or not) for a request to suceeed"),
        _d("AuthMerging", AUTHZ, {OR_AUTHCFG}, "TAKE1", auth_merging, "controls how a "
           "<Directory>, <Location>, or similar directive's authorization directives are "
           "combined with those of its predecessor"),
        _d("LanguagePriority", NEG, FI, "ITERATE", language_priority, "space-delimited list "
           "of MIME language abbreviations"),
        _d("ForceLanguagePriority", NEG, FI, "ITERATE", force_language_priority, "Force "
           "LanguagePriority elections, either None, or Fallback and/or Prefer"),
        _d("CacheNegotiatedDocs", NEG, S, "FLAG", cache_negotiated_docs, "Either on or "
           "off (default)"),
        _d("IndexOptions", AUTOINDEX, IX, "RAW_ARGS",
           lambda e, c, a, n: index_options(e, c, split_words(a), n), "one or more index "
           "options [+|-][]"),
        _d("IndexIgnore", AUTOINDEX, IX, "ITERATE", _ai("index_ignore"), "one or more file "
           "extensions"),
        _d("IndexIgnoreReset", AUTOINDEX, IX, "FLAG", _ai("index_ignore_reset", False),
           "Reset the inherited list of IndexIgnore filenames"),
        _d("IndexOrderDefault", AUTOINDEX, IX, "TAKE2", index_order_default, "{Ascending,"
           "Descending} {Name,Size,Description,Date}"),
        _d("IndexStyleSheet", AUTOINDEX, IX, "TAKE1", _ai("index_style_sheet", False),
           "URL to style sheet"),
        _d("IndexHeadInsert", AUTOINDEX, IX, "TAKE1", _ai("index_head_insert", False),
           "String to insert in HTML HEAD section"),
        _d("HeaderName", AUTOINDEX, IX, "TAKE1", _ai("header_name", False), "a filename"),
        _d("ReadmeName", AUTOINDEX, IX, "TAKE1", _ai("readme_name", False), "a filename"),
        _d("AddDescription", AUTOINDEX, IX, "ITERATE2", _ai("add_description"), "Descriptive "
           "text followed by one or more filenames"),
        _d("AddIcon", AUTOINDEX, IX, "ITERATE2", _ai_item("add_icon", "path", True),
           "an icon URL followed by "
           "one or more filenames"),
        _d("AddIconByType", AUTOINDEX, IX, "ITERATE2", _ai_item("add_icon_by_type", "type", True),
           "an icon URL "
           "followed by one or more MIME types"),
        _d("AddIconByEncoding", AUTOINDEX, IX, "ITERATE2",
           _ai_item("add_icon_by_encoding", "encoding", True),
           "an icon URL followed by one or more content encodings"),
        _d("AddAlt", AUTOINDEX, IX, "ITERATE2", _ai_item("add_alt", "path", False),
           "alternate descriptive text "
           "followed by one or more filenames"),
        _d("AddAltByType", AUTOINDEX, IX, "ITERATE2", _ai_item("add_alt_by_type", "type", False),
           "alternate "
           "descriptive text followed by one or more MIME types"),
        _d("AddAltByEncoding", AUTOINDEX, IX, "ITERATE2",
           _ai_item("add_alt_by_encoding", "encoding", False),
           "alternate descriptive text followed by one or more content encodings"),
        _d("DefaultIcon", AUTOINDEX, IX, "TAKE1", _ai("default_icon", False), "an icon URL"),
    ]

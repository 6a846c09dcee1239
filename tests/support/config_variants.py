"""Generated configuration variants for the families where fastcore's `-t` verdict used
to differ from `apache2 -t` (test_config_variants.py runs both on each one).

Deterministic: every family is a fixed product of small lists, so a failure names the
same variant on every run. No verdict is stored here; real Apache decides at test time.
`@@TMP@@` is replaced by the variant's folder; `files` are written next to httpd.conf.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Variant:
    """One configuration body (put after the common header) and its extra files."""

    name: str
    text: str
    files: dict[str, str] = field(default_factory=dict)


def _dir(body: str) -> str:
    return f"<Directory /tmp>\n{body}\n</Directory>\n"


# -- a flag directive given twice, or with words after the flag ------------------------
FLAG_DIRECTIVES = (("BufferedLogs", False), ("ExtendedStatus", False),
                   ("CacheNegotiatedDocs", False), ("DirectorySlash", True),
                   ("IndexIgnoreReset", True))
FLAG_VALUES = ("On", "off", "On On", "On Off", "Off garbage", '"On"', "'off' x", '"" On',
               "", "yes", "1", "On # comment")


def flags() -> Iterator[Variant]:
    for (name, in_dir), value in itertools.product(FLAG_DIRECTIVES, FLAG_VALUES):
        line = f"{name} {value}".rstrip()
        for twice in (False, True):
            body = f"{line}\n{name} Off" if twice else line
            text = _dir(body) if in_dir else body + "\n"
            yield Variant(f"flag-{name}-{value}-{'twice' if twice else 'once'}", text)


# -- Options None/All combined with +/- options ------------------------------------------
OPTION_WORDS = ("None", "All", "Indexes", "+Indexes", "-Indexes", "+FollowSymLinks",
                "-MultiViews", "none", "+None", "-All", '"+ExecCGI"')


def options() -> Iterator[Variant]:
    seqs = [(w,) for w in OPTION_WORDS]
    seqs += list(itertools.product(OPTION_WORDS, repeat=2))
    seqs += [(a, b, c) for a in ("None", "All", "Indexes") for b in ("+Indexes", "-Indexes")
             for c in ("+MultiViews", "FollowSymLinks", "None")]
    for seq in seqs:
        words = " ".join(seq)
        yield Variant(f"options-{words}", _dir(f"Options {words}"))


# -- <IfModule>/<IfDefine>/... left unclosed at the end of a file ------------------------
CONDITIONALS = ("IfModule mod_mime.c", "IfModule !mod_mime.c", "IfModule mime_module",
                "IfDefine FC_UNDEFINED", "IfDefine !FC_UNDEFINED", "IfDirective AddType",
                "IfDirective !AddType", "IfSection Directory", "IfFile /",
                "IfVersion >= 2.4", "IfVersion < 2.0")
OPEN_BODIES = ("", "AddType text/x-a a", "Bogus", "<Directory /tmp>",
               "<Directory /tmp>\n</Directory>", "</Directory>",
               "<IfDefine FC_UNDEFINED>", "<IfDefine !FC_UNDEFINED>\nAddType text/x-b b")
WRAPPERS = ("top", "directory", "include")


def unclosed() -> Iterator[Variant]:
    for cond, body, wrap in itertools.product(CONDITIONALS, OPEN_BODIES, WRAPPERS):
        inner = f"<{cond}>\n{body}\n" if body else f"<{cond}>\n"
        name = f"unclosed-{wrap}-{cond}-{body.splitlines()[0] if body else 'empty'}"
        if wrap == "top":
            yield Variant(name, inner)
        elif wrap == "directory":
            yield Variant(name, "<Directory /tmp>\n" + inner)
        else:  # the file ends inside the included file; the main file goes on
            yield Variant(name, "Include @@TMP@@/part.conf\nAddType text/x-c c\n",
                          {"part.conf": inner})


# -- Define names with a colon --------------------------------------------------------------
DEFINE_NAMES = ("A:B", "A:", ":A", "A::B", "AB", "A-B", "A.B", "A_B", '"A:B"', "a:b:c")
DEFINE_FORMS = ("Define {n}", "Define {n} value", "UnDefine {n}", "Define {n} x:y",
                "<Directory /tmp>\nDefine {n}\n</Directory>",
                "<IfDefine !FC_UNDEFINED>\nDefine {n}\n</IfDefine>",
                "<IfDefine FC_UNDEFINED>\nDefine {n}\n</IfDefine>")


def defines() -> Iterator[Variant]:
    for n, form in itertools.product(DEFINE_NAMES, DEFINE_FORMS):
        yield Variant(f"define-{form.split()[0]}-{n}-{DEFINE_FORMS.index(form)}",
                      form.format(n=n) + "\n")


# -- <IfModule> names: identifier or source file, in another case -----------------------
MODULE_NAMES = ("mod_mime.c", "MOD_MIME.C", "Mod_Mime.c", "mime_module", "MIME_MODULE",
                "Mime_module", "event.c", "EVENT.C", "mod_mpm_event.c", "mpm_event_module",
                "MPM_EVENT_MODULE", "core.c", "CORE.C", "core_module", "http_core.c",
                "http_module", "mod_so.c", "so_module", "mod_unixd.c", "unixd.c",
                "unixd_module", "mod_version.c", "mod_log_config.c", "log_config_module",
                "mod_logio.c", "mod_watchdog.c", "mod_authz_core.c", "authz_core_module",
                "Authz_Core_Module", "mod_authz_host.c", "mod_status.c", "mod_dir.c",
                "DIR_MODULE", "mod_ssl.c", "ssl_module", "mod_mime", "mime",
                '"mod_mime.c"', "mod_mime.c ", " mod_mime.c")


def ifmodule() -> Iterator[Variant]:
    # `Bogus` is an error only where the section is read: the verdict tells the match
    for name, neg in itertools.product(MODULE_NAMES, ("", "!")):
        yield Variant(f"ifmodule-{neg}{name}", f"<IfModule {neg}{name}>\nBogus\n</IfModule>\n")


# -- Require: quoted keywords, provider-name case, the accepted forms -------------------
PROVIDER_ARGS = {
    "all": ("granted", "denied", "GRANTED", '"granted"', "'denied'", "granted denied",
            "granted # c", ""),
    "ip": ("127.0.0.1", "10.0.0.0/8 192.168", '"127.0.0.1"', '127.0.0.1 "" bogus',
           '"" 127.0.0.1', "", "300.1.1.1", "::1"),
    "local": ("", "extra"),
    "host": ("example.com", ""),
    "forward-dns": ("example.com", ""),
    "env": ("FOO", '"FOO"', ""),
    "method": ("GET", "get", "GET POST", '"GET" ""', "FOO", "HEAD", ""),
    "bogus": ("x",),
    "valid-user": ("",),
}


def _spellings(name: str) -> tuple[str, ...]:
    return (name, name.upper(), name.capitalize(), f'"{name}"', f"'{name}'")


def requires() -> Iterator[Variant]:
    for prov, args in PROVIDER_ARGS.items():
        for spelled, arg in itertools.product(_spellings(prov), args):
            line = f"Require {spelled} {arg}".rstrip()
            yield Variant(f"require-{line}", _dir(line))
    for neg, prov in itertools.product(("not", "NOT", '"not"', "Not"),
                                       ("ip 10.1.2.3", "IP 10.1.2.3", "all denied",
                                        "not ip 1.2.3.4", "bogus", "")):
        line = f"Require {neg} {prov}".rstrip()
        yield Variant(f"require-all-{line}",
                      _dir(f"<RequireAll>\nRequire all granted\n{line}\n</RequireAll>"))
        yield Variant(f"require-any-{line}", _dir(line))
        yield Variant(f"require-none-{line}",
                      _dir(f"<RequireNone>\n{line}\n</RequireNone>"))


# -- LogFormat: unknown % escapes, an unterminated %{, ... --------------------------------
LOG_ITEMS = ("%h", "%Z", "%c", "%j", "%{Foo}i", "%{Foo", "%{", "%", "x %", "%>s", "%<s",
             "%!200s", "%200", "%200,404s", "%^ti", "%^to", "%^tx", "%^FB", "%^", "%%",
             "%{a}{b}i", "%,s", "%{%Y-%m}t", "%!%", "%{x}", "\\%", "%{Foo}", "%I %O %S",
             "%{c}a", "%>")
LOG_FORMS = ('LogFormat "{f}" nick', 'LogFormat "{f}"',
             'CustomLog @@TMP@@/logs/a.log "{f}"',
             'CustomLog @@TMP@@/logs/a.log "{f}" env=FOO',
             'CustomLog @@TMP@@/logs/a.log "{f}" bogus=FOO')


# ... and a bad expression in the condition (ap_expr syntax; names are not varied)
LOG_EXPRS = ("true", "1 == 1", "1 =", "1", "'a'", "%{REQUEST_URI} =~ /foo/",
             "%{REQUEST_URI} =~ /foo", "%{REQUEST_URI} =~ m#foo#i", "%{REQUEST_URI} =~ /a(/",
             "foo(", "(", "%{", "%{}", "%{HTTP:}", "'abc", "x", "-X foo", "(true", "true)",
             "true false", "|| true", "'a' == 'b' == 'c'", "tolower('a', 'b') == 'a'",
             "tolower('A') == 'a'", "'a' -in {}", "'a' -in {'a','b'}", "'x' -foo 'y'",
             "-foo 'y'", "'x' -ipmatch '1.2.3.4'", "! -z 'x'", "true || (false && !true)",
             "%{TIME_HOUR} -gt 10 && -n %{QUERY_STRING}", "'a' . 'b' == 'ab'", "$1 == 'x'")


def logformats() -> Iterator[Variant]:
    for item, form in itertools.product(LOG_ITEMS, LOG_FORMS):
        yield Variant(f"log-{LOG_FORMS.index(form)}-{item}",
                      form.format(f=f"a {item} b") + "\n")
    for expr in LOG_EXPRS:
        yield Variant(f"log-expr-{expr}",
                      f'CustomLog @@TMP@@/logs/a.log common "expr={expr}"\n')


# -- the same Listen address twice ------------------------------------------------------
LISTEN_WORDS = ("18081", "*:18081", "0.0.0.0:18081", "127.0.0.1:18081", "localhost:18081",
                "LOCALHOST:18081", "[::1]:18081", "[::]:18081", "127.0.0.1:18081 https",
                "127.0.0.1:18080", "18080")


def listens() -> Iterator[Variant]:
    for a, b in itertools.combinations_with_replacement(LISTEN_WORDS, 2):
        yield Variant(f"listen-{a}-{b}", f"Listen {a}\nListen {b}\n")


# -- a comment (or more text) after a section tag ---------------------------------------
SECTIONS = (("Directory /tmp", "Options None"), ("DirectoryMatch ^/tmp", "Options None"),
            ("Files x.html", "Options None"), ("FilesMatch x", "Options None"),
            ("Location /x", "Options None"), ("VirtualHost *:18080", "ServerName v"),
            ("IfModule mod_mime.c", "AddType text/x-d d"), ("IfModule !mod_mime.c", ""),
            ("IfDefine FC_UNDEFINED", ""), ("IfDefine !FC_UNDEFINED", ""),
            ("IfDirective AddType", ""), ("IfVersion >= 2.4", ""))
TAG_SUFFIXES = ("", " # comment", "#comment", " junk", " # a>b", " > x", " \\\n# comment",
                " \\\n# comment>", ">")
CLOSE_SUFFIXES = ("", " # comment", "#")


def comments() -> Iterator[Variant]:
    for (sect, body), tag, close in itertools.product(SECTIONS, TAG_SUFFIXES, CLOSE_SUFFIXES):
        name = sect.split()[0]
        text = f"<{sect}>{tag}\n{body}\n</{name}>{close}\n".replace("\n\n", "\n")
        yield Variant(f"comment-{sect}-{tag!r}-{close!r}", text)
    for tag in TAG_SUFFIXES:
        yield Variant(f"comment-requireall-{tag!r}",
                      _dir(f"<RequireAll>{tag}\nRequire all granted\n</RequireAll>"))
        yield Variant(f"comment-comment-line-{tag!r}",
                      f"<Directory /tmp>{tag}\n# a comment line\n</Directory>\n")


# -- malformed addresses, and digits that are not ASCII (str.isdigit takes "²" and "٣") --
BAD_LISTENS = ("[::1]:80x", "[::1]:", "[::1]", "[::1]x", "[::1", "127.0.0.1:", "127.0.0.1:80x",
               "localhost:80a", "80x", "127.0.0.1:99999", "127.0.0.1:0", "127.0.0.1:8\u00b3",
               "127.0.0.1:\u0668\u0660", "\u0668\u0660")
DIGIT_LINES = ("Timeout \u0663", "KeepAliveTimeout 5\u00b3", "MaxKeepAliveRequests \u00b2",
               "LimitRequestFields \u0663", "ErrorDocument \u0664\u0660\u0664 /x.html",
               'LogFormat "%\u00b3{c}C" x', 'LogFormat "%\u0663s" x', 'LogFormat "%2\u00b3s" x')


def digits() -> Iterator[Variant]:
    for i, word in enumerate(BAD_LISTENS):
        yield Variant(f"digits-listen-{i}", f"Listen {word}\n")
    for i, line in enumerate(DIGIT_LINES):
        yield Variant(f"digits-line-{i}", line + "\n")


FAMILIES = {
    "flag": flags, "options": options, "unclosed": unclosed, "define": defines,
    "ifmodule": ifmodule, "require": requires, "logformat": logformats, "listen": listens,
    "comment": comments, "digits": digits,
}


def all_variants() -> list[tuple[str, Variant]]:
    """(test id, variant) for every family; the id numbers the variant in its family."""
    return [(f"{fam}-{i:03d}", v) for fam, gen in FAMILIES.items()
            for i, v in enumerate(gen())]

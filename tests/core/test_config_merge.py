"""Per-directory merging in Apache's order, cached; Options +/-; <Files>; <Location>."""
from __future__ import annotations

from support.configs import cfg

from fastcore.config.merge import DirResolver
from fastcore.config.model import OPT_INDEXES, OPT_MULTI, OPT_SYM_LINKS
from fastcore.modules.mod_authz_core import authz_config
from fastcore.modules.mod_dir import dir_config
from fastcore.modules.mod_mime import mime_config


def _tree(tmp_path):
    for d in ("www/a/b", "www/c"):
        (tmp_path / d).mkdir(parents=True)
    (tmp_path / "www/a/b/page.html").write_text("x")
    return tmp_path / "www"


def test_shortest_directory_first_then_regex_then_files(tmp_path):
    www = _tree(tmp_path)
    c = cfg(tmp_path, f"""
<DirectoryMatch "^{www}/a">
  DirectoryIndex from-regex.html
</DirectoryMatch>
<Directory {www}/a/b>
  DirectoryIndex from-ab.html
  ForceType text/x-ab
</Directory>
<Directory {www}/a>
  DirectoryIndex from-a.html
  ForceType text/x-a
  DefaultLanguage de
</Directory>
<Files page.html>
  ForceType text/x-files
</Files>
""")
    r = DirResolver(c)
    d = r.dir_config(c.main, f"{www}/a/b")
    # /a (1 fewer component) before /a/b even though it comes later in the file; regex last
    assert d.force_type == "text/x-ab" and mime_config(d).default_language == "de"
    assert dir_config(d).names == ("from-regex.html",)
    f = r.dir_config(c.main, f"{www}/a/b/page.html")
    assert f.force_type == "text/x-files"
    assert dir_config(r.dir_config(c.main, f"{www}/c")).names == ("index.html",)


def test_options_merge_semantics(tmp_path):
    www = _tree(tmp_path)
    c = cfg(tmp_path, f"""
<Directory {www}>
  Options Indexes FollowSymLinks
</Directory>
<Directory {www}/a>
  Options -Indexes +MultiViews
</Directory>
<Directory {www}/a/b>
  Options +Indexes
</Directory>
<Directory {www}/c>
  Options MultiViews
</Directory>
""")
    r = DirResolver(c)
    assert r.dir_config(c.main, str(www)).options == OPT_INDEXES | OPT_SYM_LINKS
    assert r.dir_config(c.main, f"{www}/a").options == OPT_SYM_LINKS | OPT_MULTI
    assert r.dir_config(c.main, f"{www}/a/b").options == (OPT_SYM_LINKS | OPT_MULTI
                                                          | OPT_INDEXES)
    assert r.dir_config(c.main, f"{www}/c").options == OPT_MULTI  # plain Options replaces


def test_wildcard_directory_matches_one_component(tmp_path):
    www = _tree(tmp_path)
    c = cfg(tmp_path, f"<Directory {www}/*>\n  DefaultLanguage fr\n</Directory>\n")
    r = DirResolver(c)
    assert mime_config(r.dir_config(c.main, f"{www}/a")).default_language == "fr"
    assert mime_config(r.dir_config(c.main, f"{www}/a/b")).default_language == "fr"
    assert mime_config(r.dir_config(c.main, str(www))).default_language is None


def test_results_are_cached(tmp_path):
    www = _tree(tmp_path)
    c = cfg(tmp_path, f"<Directory {www}>\n  Options None\n</Directory>\n")
    r = DirResolver(c)
    first = r.dir_config(c.main, f"{www}/a")
    assert r.dir_config(c.main, f"{www}/a") is first


def test_location_after_directory_and_prefix_rules(tmp_path):
    www = _tree(tmp_path)
    c = cfg(tmp_path, """
<Location /private>
  Require all denied
</Location>
<LocationMatch "\\.txt$">
  ForceType text/plain
</LocationMatch>
""")
    r = DirResolver(c)
    base = r.dir_config(c.main, str(www))
    assert authz_config(r.location_config(c.main, "/private/x", base)).authz.items[0].args == ("denied",)
    assert authz_config(r.location_config(c.main, "/private", base)).authz is not None
    assert authz_config(r.location_config(c.main, "/privateother", base)).authz is None
    assert r.location_config(c.main, "/a.txt", base).force_type == "text/plain"


def test_authmerging_and(tmp_path):
    www = _tree(tmp_path)
    c = cfg(tmp_path, f"""
<Directory {www}>
  Require all granted
</Directory>
<Directory {www}/a>
  AuthMerging And
  Require ip 127.0.0.1
</Directory>
<Directory {www}/c>
  Require ip 10.0.0.1
</Directory>
""")
    r = DirResolver(c)
    a = authz_config(r.dir_config(c.main, f"{www}/a")).authz
    assert a.kind == "all" and len(a.items) == 2
    assert authz_config(r.dir_config(c.main, f"{www}/c")).authz.items[0].args == ("10.0.0.1",)

"""Parsing httpd.conf into the model, and Apache's errors (file, line, directive)."""
from __future__ import annotations

import socket

import pytest
from support.configs import HEADER_LINES, cfg, write

from fastcore.config import ConfigError, load
from fastcore.config.model import OPT_INDEXES, OPT_MULTI, OPT_SYM_LINKS, reads_htaccess
from fastcore.modules import REGISTRY
from fastcore.modules.mod_alias import alias_server
from fastcore.modules.mod_authz_core import authz_config
from fastcore.modules.mod_dir import dir_config
from fastcore.modules.mod_mime import mime_config


def test_apache_defaults(tmp_path):
    c = cfg(tmp_path, "")
    m = c.main
    assert (m.timeout, m.keep_alive_timeout, m.max_keep_alive_requests) == (60.0, 5.0, 100)
    assert (m.limit_request_line, m.limit_request_fields, m.limit_request_field_size) == (
        8190, 100, 8190)
    d = m.dir_defaults
    # AllowOverride never set: real Apache 2.4 still opens .htaccess (and refuses what is
    # in it), unlike an explicit AllowOverride None
    assert d.options == OPT_SYM_LINKS and d.allow_override is None and reads_htaccess(d)
    assert d.file_etag == {"mtime", "size"} and d.enable_sendfile is False
    assert dir_config(d).names == ("index.html",)
    assert c.mpm.name == "event" and c.pid_file == f"{tmp_path}/httpd.pid"


def test_directives_fill_the_model(tmp_path):
    c = cfg(tmp_path, """
Listen [::1]:18081
keepalive off
Timeout 30
LimitRequestBody 1024
FileETag INode MTime
AddType Text/X-Foo .foo .BAR
DirectoryIndex a.html b.html
ErrorDocument 404 /missing.html
Alias /icons/ /usr/share/icons/
Redirect permanent /old http://example.com/new
Redirect gone /g
StartServers 3
ThreadsPerChild 10
MaxClients 40
MaxRequestsPerChild 7
Mutex fcntl:{root} default
""".replace("{root}", str(tmp_path)))
    m = c.main
    assert c.listeners[1].family == socket.AF_INET6 and c.listeners[1].host == "::1"
    assert m.keep_alive is False and m.timeout == 30.0
    d = m.dir_defaults
    assert d.limit_request_body == 1024 and d.file_etag == {"inode", "mtime"}
    assert mime_config(d).add_type == {"foo": "text/x-foo", "bar": "text/x-foo"}
    assert dir_config(d).names == ("a.html", "b.html")
    assert d.error_documents[404] == "/missing.html"
    assert alias_server(m).aliases[0].url_prefix == "/icons/"
    assert [(r.status, r.target) for r in alias_server(m).redirects] == [
        (301, "http://example.com/new"), (410, None)]
    assert (c.mpm.start_servers, c.mpm.threads_per_child, c.mpm.max_request_workers,
            c.mpm.max_connections_per_child) == (3, 10, 40, 7)
    assert c.accept_mutex == "fcntl" and c.mutex_dir == str(tmp_path)


def test_options_plus_minus_and_require(tmp_path):
    c = cfg(tmp_path, """
<Directory /srv>
  Options +Indexes -FollowSymLinks +MultiViews
  <RequireAll>
    Require ip 127.0.0.1
    Require not ip 10.0.0.1
  </RequireAll>
</Directory>
""")
    sec = c.main.sections[0]
    assert sec.kind == "directory" and sec.pattern == "/srv/"
    assert sec.config.options is None
    assert sec.config.options_add == OPT_INDEXES | OPT_MULTI
    assert sec.config.options_remove == OPT_SYM_LINKS
    group = authz_config(sec.config).authz
    assert group.kind == "any" and group.items[0].kind == "all"
    assert [(r.kind, r.negated) for r in group.items[0].items] == [("ip", False),
                                                                  ("ip", True)]


def test_ifmodule_ifdefine_define_and_cli_lines(tmp_path):
    (tmp_path / "docs").mkdir()
    c = cfg(tmp_path, f"Define DOCS {tmp_path}/docs\n" + """
DocumentRoot ${DOCS}
<IfModule !status_module>
  KeepAliveTimeout 7
</IfModule>
<IfModule mod_mime.c>
  AddType text/plain .log
</IfModule>
<IfDefine FROMCLI>
  Timeout 11
</IfDefine>
<IfDefine !FROMCLI>
  NotEvenADirective here
</IfDefine>
""", defines=["FROMCLI"], pre_directives=["MaxKeepAliveRequests 3"],
        post_directives=["LimitRequestLine 100"])
    m = c.main
    assert m.document_root == f"{tmp_path}/docs" and m.keep_alive_timeout == 7.0
    assert mime_config(m.dir_defaults).add_type == {"log": "text/plain"} and m.timeout == 11.0
    assert m.max_keep_alive_requests == 3 and m.limit_request_line == 100
    assert "FROMCLI" in c.defines


def test_include_wildcard_relative_to_server_root(tmp_path):
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d/b.conf").write_text("Timeout 22\n")
    (tmp_path / "conf.d/a.conf").write_text("Timeout 11\nKeepAliveTimeout 3\n")
    c = cfg(tmp_path, "Include conf.d/*.conf\nIncludeOptional nothere/*.conf\n")
    assert c.main.timeout == 22.0 and c.main.keep_alive_timeout == 3.0


def _err(tmp_path, body: str, **kw) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        cfg(tmp_path, body, **kw)
    return info.value


def test_invalid_command_message_names_file_line_directive(tmp_path):
    e = _err(tmp_path, "KeepAlive On\nSparkle 1\n")
    assert e.line == HEADER_LINES + 2 and e.filename == str(tmp_path / "httpd.conf")
    assert e.directive == "Sparkle"
    assert str(e) == (f"AH00526: Syntax error on line {HEADER_LINES + 2} of "
                      f"{tmp_path}/httpd.conf:\nInvalid command 'Sparkle', perhaps misspelled "
                      "or defined by a module not included in the server configuration")


@pytest.mark.parametrize("body, message", [
    ("Timeout", "Timeout takes one argument, Timeout duration (sec)"),
    ("<Directory /x>\n Listen 1\n</Directory>", "Listen not allowed in <Directory> context"),
    ("<VirtualHost *:80>\n Listen 1\n</VirtualHost>",
     "Listen cannot occur within <VirtualHost> section"),
    ("Require all granted", "Require not allowed here"),
    ("<Directory /x>\n Options +Indexes FollowSymLinks\n</Directory>",
     "Either all Options must start with + or -, or no Option may."),
    ("<Directory /x>", "<Directory> was not closed."),
    ("<Directory /x>\n</Files>", "Expected </Directory> but saw </Files>"),
    ("Listen 99999", "Invalid address or port"),
    ("LoadModule proxy_module modules/mod_proxy.so", "fastcore does not implement "
     "proxy_module"),
    ("LoadModule log_config_module x.so", "module log_config_module is built-in and can't "
     "be loaded"),
    ("KeepAlive maybe", "KeepAlive must be On or Off"),
    ("Include /nonexistent-fc.conf", "Could not open configuration file /nonexistent-fc.conf"),
])
def test_apache_error_messages(tmp_path, body, message):
    assert message in _err(tmp_path, body).message


def test_directive_of_unloaded_module_unless_guarded(tmp_path):
    (tmp_path / "logs").mkdir()
    body = "LoadModule mpm_event_module x.so\n"
    e = _err(tmp_path, body + "StatusOption 1\nDirectoryIndex a\n", header=False)
    assert "Invalid command 'StatusOption'" in e.message or "Invalid command" in e.message
    c = cfg(tmp_path, body + "<IfModule dir_module>\n DirectoryIndex a\n</IfModule>\n",
            header=False)
    assert c.modules[-1] == "mpm_event_module"


def test_missing_document_root_and_log_folder(tmp_path):
    e = _err(tmp_path, "DocumentRoot /nonexistent-fc\n")
    assert e.message == "DocumentRoot '/nonexistent-fc' is not a directory, or is not readable"
    c = cfg(tmp_path, "DocumentRoot /nonexistent-fc\n", check_document_root=False)
    assert c.main.document_root == "/nonexistent-fc"  # -T
    e = _err(tmp_path, "CustomLog /nonexistent-fc/access.log common\n")
    assert "AH02297: Cannot access directory '/nonexistent-fc/'" in e.message
    assert e.line == HEADER_LINES + 1


def test_no_mpm_and_two_mpms(tmp_path):
    assert "No MPM loaded" in str(_err(tmp_path, "KeepAlive On\n", header=False))
    e = _err(tmp_path, "LoadModule mpm_worker_module x.so\n")
    assert "More than one MPM" in e.message


def test_loadmodule_later_in_file_enables_earlier_directive(tmp_path):
    # as in Debian's apache2.conf: PidFile precedes the mpm LoadModule (read-time loading)
    (tmp_path / "logs").mkdir()
    path = write(tmp_path, "PidFile /tmp/x.pid\nLoadModule mpm_prefork_module x.so\n",
                 header=False)
    c = load(str(path))
    assert c.pid_file == "/tmp/x.pid" and c.mpm.name == "prefork"


def test_vhost_inherits_main_values(tmp_path):
    c = cfg(tmp_path, """
Timeout 42
<VirtualHost *:18080>
  ServerName a.example
  KeepAliveTimeout 9
</VirtualHost>
""")
    vh = c.vhosts[0]
    assert vh.timeout == 42.0 and vh.keep_alive_timeout == 9.0
    assert vh.document_root == c.main.document_root and vh.addrs == (("*", 18080),)


def test_embedded_default_serves_given_folder(tmp_path):
    from fastcore.config import default_variables

    c = load(None, variables=default_variables(str(tmp_path), "127.0.0.2", 9999))
    assert c.main.document_root == str(tmp_path)
    assert [(la.host, la.port) for la in c.listeners] == [("127.0.0.2", 9999)]
    assert c.mpm.name == "event" and "mime_module" in c.modules
    assert dir_config(c.main.dir_defaults).names == ("index.html", "index.htm")


def test_random_garbage_never_gives_a_traceback(tmp_path):
    """Random directives with hostile arguments: always a ConfigError or a config."""
    import random

    names = REGISTRY.directive_names()
    toks = ["", "On", "-1", "99999999999999999999", "/tmp", '"', "'", "\\", "${X}", "*", "~",
            "!", ">", '"a b"', "[::1]:80", "*:80", "(", "+Indexes", "-All", "env=", "#",
            "\x00", "é", "1.2.3.4/99", "none"]
    rnd = random.Random(7)
    outcomes = set()
    for _ in range(300):
        lines = []
        for _ in range(rnd.randint(1, 4)):
            name = rnd.choice(names)
            args = " ".join(rnd.choice(toks) for _ in range(rnd.randint(0, 3)))
            if name.startswith("<"):
                lines += [f"{name} {args}>", f"{rnd.choice(names).lstrip('<')} On",
                          f"</{name[1:]}>"]
            else:
                lines.append(f"{name} {args}")
        try:
            cfg(tmp_path, "\n".join(lines) + "\n")
            outcomes.add("ok")
        except ConfigError as exc:
            assert exc.filename and exc.line or "MPM" in exc.message or "AH0" in exc.message
            outcomes.add("error")
    assert outcomes == {"ok", "error"}


def test_self_include_is_an_error_not_a_crash(tmp_path):
    path = tmp_path / "httpd.conf"
    path.write_text(f"LoadModule mpm_event_module x.so\nErrorLog {tmp_path}/e.log\n"
                    f"Include {path}\n")
    with pytest.raises(ConfigError, match="maximum include directory nesting level of 128"):
        load(str(path))

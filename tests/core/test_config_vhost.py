"""Name-based virtual host selection and whether getsockname() is needed."""
from __future__ import annotations

from support.configs import cfg

from fastcore.config.merge import DirResolver

VHOSTS = """
<VirtualHost *:18080>
  ServerName first.example
</VirtualHost>
<VirtualHost *:18080>
  ServerName Second.Example
  ServerAlias *.second.example alias.example
</VirtualHost>
"""


def test_name_based_selection(tmp_path):
    c = cfg(tmp_path, VHOSTS)
    r = DirResolver(c)
    first, second = c.vhosts
    assert r.needs_local_addr is False
    assert r.vhost_for(None, "second.example:18080") is second
    assert r.vhost_for(None, "SECOND.example.") is second
    assert r.vhost_for(None, "www.second.example") is second
    assert r.vhost_for(None, "alias.example") is second
    assert r.vhost_for(None, "unknown.example") is first  # first vhost is the default
    assert r.vhost_for(None, None) is first


def test_ip_based_needs_local_addr(tmp_path):
    c = cfg(tmp_path, """
Listen 127.0.0.2:18081
<VirtualHost 127.0.0.2:18081>
  ServerName ip.example
</VirtualHost>
""" + VHOSTS)
    r = DirResolver(c)
    ip, first, second = c.vhosts
    assert r.needs_local_addr is True
    assert r.vhost_for(("127.0.0.2", 18081), "second.example") is ip
    assert r.vhost_for(("127.0.0.1", 18080), "second.example") is second
    assert r.vhost_for(("127.0.0.1", 18080), None) is first
    assert r.vhost_for(("127.0.0.1", 9), None) is c.main  # no vhost on that port


def test_no_vhosts_gives_main(tmp_path):
    c = cfg(tmp_path, "")
    r = DirResolver(c)
    assert r.needs_local_addr is False and r.vhost_for(None, "x") is c.main

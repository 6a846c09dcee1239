"""mod_filter against real Apache 2.4: FilterDeclare, FilterProvider (ap_expr on the
answer's type and on a request header), FilterChain (!, -, = and the removal of
AddOutputFilterByType's own BYTYPE harness), with DEFLATE as the provider.  The same
httpd.conf is served by apache2 and by fastcore; every answer (asked twice, so a cached
one is compared too) must be the same status line, fields in order and body bytes.
AddOutputFilterByType's own cases are in test_mod_deflate_vs_apache.py."""
from __future__ import annotations

import os

from support.apache_oracle import both_answers

MODULES = ("mpm_prefork", "authz_core", "mime", "env", "filter", "deflate")
GZ = "Accept-Encoding: gzip\r\n"


SMART = """
DocumentRoot "{www}"
<Directory "{www}">
  Require all granted
</Directory>
FilterDeclare PACK
FilterProvider PACK DEFLATE "%{CONTENT_TYPE} =~ m#^text/(html|css)#"
FilterProvider PACK DEFLATE "%{HTTP:X-Pack} == 'yes'"
FilterChain PACK
AddOutputFilterByType DEFLATE text/plain
<Directory "{www}/off">
  FilterChain !
</Directory>
<Directory "{www}/minus">
  FilterChain -PACK
</Directory>
<Directory "{www}/only">
  FilterChain =BYTYPE:DEFLATE
</Directory>
<Directory "{www}/unbytype">
  AddOutputFilterByType DEFLATE text/xml
  FilterChain -BYTYPE:DEFLATE
</Directory>
"""


def test_smart_filters_match_apache(tmp_path) -> None:
    """FilterDeclare / FilterProvider (ap_expr on the type and on a request header) /
    FilterChain (!, -, =, and removing AddOutputFilterByType's own harness)."""
    www = os.path.join(str(tmp_path), "www")
    text = b"smart filters compress this line\n" * 100
    names = ["a.html", "a.css", "a.txt", "a.png", "off/a.html", "off/a.txt", "minus/a.css",
             "only/a.css", "only/a.txt", "unbytype/a.txt", "unbytype/a.xml"]
    for name in names:
        path = os.path.join(www, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(text)
        os.utime(path, (1_700_000_000, 1_700_000_000))
    cases = [("GET", "/" + n, GZ) for n in names] + [
        ("GET", "/a.png", GZ + "X-Pack: yes\r\n"), ("GET", "/a.png", "X-Pack: yes\r\n"),
        ("GET", "/a.html", ""), ("GET", "/missing.html", GZ)]
    got = both_answers(str(tmp_path), SMART.replace("{www}", www), MODULES, cases)
    for case, a, f in zip(cases + cases, got[False], got[True], strict=True):
        assert f == a, case
    enc = {c[1] + c[2]: dict(a[1]).get("Content-Encoding") for c, a in
           zip(cases, got[False], strict=False)}
    assert enc["/a.css" + GZ] == "gzip" and enc["/off/a.txt" + GZ] is None
    assert enc["/a.png" + GZ + "X-Pack: yes\r\n"] == "gzip" and enc["/a.png" + GZ] is None



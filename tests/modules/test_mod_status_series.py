"""fastcore's own series on `SetHandler metrics` (src/fc_stats.h, mod_status/series.py):
exact deltas between two scrapes of a real server, in prefork and in event, for requests
by vhost and status class, the duration histogram, fast path vs Python path and why, the
.htaccess attempts Apache's rule makes, and the fast-path cache."""
from __future__ import annotations

import http.client
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.apache_oracle import ApacheOracle

SITE = """
{sizing}
LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
CustomLog "{root}/../access_log" common
<Directory />
  AllowOverride None
</Directory>
<VirtualHost *:{port}>
  ServerName a.test
  DocumentRoot "{root}/a"
</VirtualHost>
<VirtualHost *:{port}>
  ServerName b.test
  DocumentRoot "{root}/b"
  <Directory "{root}/b">
    AllowOverride All
  </Directory>
</VirtualHost>
<VirtualHost *:{port}>
  ServerName scrape.test
  DocumentRoot "{root}/a"
  <Location /metrics>
    SetHandler metrics
  </Location>
</VirtualHost>
"""
PREFORK = ("mpm_prefork", "authz_core", "authz_host", "mime", "dir", "alias", "status")
EVENT = ("mpm_event", *PREFORK[1:])
EVENT_SIZING = """ServerLimit 1
StartServers 1
ThreadLimit 4
ThreadsPerChild 4
MaxRequestWorkers 4
MinSpareThreads 1
MaxSpareThreads 4"""
Key = tuple[str, tuple[tuple[str, str], ...]]


def get(port: int, host: str, path: str, headers: dict[str, str] | None = None) -> int:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", path, headers={"Host": host, **(headers or {})})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def scrape(port: int) -> dict[Key, float]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", "/metrics", headers={"Host": "scrape.test"})
        text = c.getresponse().read().decode()
    finally:
        c.close()
    out: dict[Key, float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name.startswith("fastcore_"):
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def delta(a: dict[Key, float], b: dict[Key, float], name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return b.get(key, 0) - a.get(key, 0)


@pytest.mark.parametrize("mpm", ["prefork", "event"])
def test_series_deltas(tmp_path, mpm: str) -> None:
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    nested = root / "b" / "a" / "b" / "c"
    nested.mkdir(parents=True)
    (root / "a" / "a.html").write_text("hello world\n")
    (nested / "x.html").write_text("nested\n")
    oracle = ApacheOracle(str(tmp_path), "", modules=PREFORK if mpm == "prefork" else EVENT,
                          fastcore=True)
    oracle.body = SITE.format(root=root, port=oracle.port,
                              sizing=EVENT_SIZING if mpm == "event" else "")
    time.sleep(2.1)  # past the racy window: files younger than 2 s are not cached
    with oracle as fc:
        port = fc.port
        assert get(port, "a.test", "/a.html") == 200  # warm: the entry is cached now
        before = scrape(port)
        assert [get(port, "a.test", "/a.html") for _ in range(5)] == [200] * 5
        assert [get(port, "b.test", "/nothing.html") for _ in range(3)] == [404] * 3
        ranged = {"Range": "bytes=0-1"}
        assert [get(port, "a.test", "/a.html", ranged) for _ in range(2)] == [206] * 2
        assert [get(port, "b.test", "/a/b/c/x.html", ranged) for _ in range(3)] == [206] * 3
        after = scrape(port)
    d = lambda name, **kw: delta(before, after, name, **kw)  # noqa: E731
    # the first scrape is counted by the second (its own vhost)
    assert d("fastcore_requests_total", vhost="a.test", code_class="2xx") == 7
    assert d("fastcore_requests_total", vhost="b.test", code_class="4xx") == 3
    assert d("fastcore_requests_total", vhost="b.test", code_class="2xx") == 3
    assert d("fastcore_requests_total", vhost="scrape.test", code_class="2xx") == 1
    assert d("fastcore_sent_bytes_total", vhost="a.test", code_class="2xx") == 5 * 12 + 2 * 2
    assert d("fastcore_sent_bytes_total", vhost="b.test", code_class="2xx") == 3 * 2
    total = 5 + 3 + 2 + 3 + 1
    assert d("fastcore_request_duration_seconds_count") == total
    buckets = sorted(((float(dict(k[1])["le"]), v) for k, v in after.items()
                      if k[0] == "fastcore_request_duration_seconds_bucket"))
    assert buckets[-1] == (float("inf"), after[("fastcore_request_duration_seconds_count", ())])
    assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:], strict=False))  # cumulative
    assert d("fastcore_request_duration_seconds_sum") > 0
    # the 5 warm GETs are the C engine's; the rest left it for a reason it names
    assert d("fastcore_fastpath_requests_total") == 5
    assert d("fastcore_cache_hits_total") == 5
    assert d("fastcore_fullpath_requests_total", reason="range") == 5
    assert d("fastcore_fullpath_requests_total", reason="not_cached") == 3 + 1
    full = sum(v for k, v in after.items() if k[0] == "fastcore_fullpath_requests_total") \
        - sum(v for k, v in before.items() if k[0] == "fastcore_fullpath_requests_total")
    assert full == total - 5
    # Apache's rule: one .htaccess attempt per directory from the AllowOverride scope
    # ({root}/b) down to the file's: b, b/a, b/a/b, b/a/b/c; 3 requests. The 404s in b look
    # in b only (the file's directory is b itself).
    assert d("fastcore_fs_calls_total", kind="htaccess_open") == 3 * 4 + 3 * 1
    assert d("fastcore_fs_calls_total", kind="stat") >= 5  # the engine's stat per hit
    assert after[("fastcore_cache_entries", ())] >= 1
    assert after[("fastcore_cache_bytes", ())] >= 12


SYMLINK_VHOST = """<VirtualHost *:{port}>
  ServerName c.test
  DocumentRoot "{root}/c"
  <Directory "{root}/c">
    Options SymLinksIfOwnerMatch
  </Directory>
</VirtualHost>
"""


def fs_calls(port: int) -> dict[str, float]:
    s = scrape(port)
    out = {dict(k[1])["kind"]: v for k, v in s.items() if k[0] == "fastcore_fs_calls_total"}
    out["fast"] = s[("fastcore_fastpath_requests_total", ())]
    return out


def minus(b: dict[str, float], a: dict[str, float]) -> dict[str, float]:
    return {k: b[k] - a[k] for k in b}


@pytest.mark.parametrize("mpm", ["prefork", "event"])
def test_symlink_lstats_are_apaches_on_both_paths(tmp_path, mpm: str) -> None:
    """SymLinksIfOwnerMatch at {root}/c: Apache lstat()s every component below it, here
    c/d and c/d/y.html, per request; the engine (fc_symlink.h) and the Python walk both
    make exactly those 2 (and the engine's one stat of the file)."""
    root = tmp_path / "root"
    for d in ("a", "b", "c/d"):
        (root / d).mkdir(parents=True)
    (root / "c" / "d" / "y.html").write_text("yy\n")
    oracle = ApacheOracle(str(tmp_path), "", modules=PREFORK if mpm == "prefork" else EVENT,
                          fastcore=True)
    site = SITE + SYMLINK_VHOST
    oracle.body = site.format(root=root, port=oracle.port,
                              sizing=EVENT_SIZING if mpm == "event" else "")
    time.sleep(2.1)  # past the racy window
    with oracle as fc:
        port = fc.port
        assert get(port, "c.test", "/d/y.html") == 200  # cached from now on
        s0 = fs_calls(port)
        s1 = fs_calls(port)  # one scrape's own calls: counted in the next delta
        for _ in range(3):
            assert get(port, "c.test", "/d/y.html") == 200
        s2 = fs_calls(port)
        for _ in range(3):
            assert get(port, "c.test", "/d/y.html", {"Range": "bytes=0-0"}) == 206
        s3 = fs_calls(port)
    scrape_only = minus(s1, s0)
    engine = minus(minus(s2, s1), scrape_only)
    python = minus(minus(s3, s2), scrape_only)
    assert engine["fast"] == 3 and python["fast"] == 0
    assert engine["lstat"] == 3 * 2
    assert python["lstat"] == 3 * 2
    assert engine["stat"] == 3 * 1
    assert engine["htaccess_open"] == python["htaccess_open"] == 0

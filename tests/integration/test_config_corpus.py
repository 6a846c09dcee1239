"""Every corpus configuration goes through `apache2 -t -f` and `python3 -m fastcore -t -f`;
they must agree on valid/invalid, and fastcore's error must name the file and line.

Corpus files (config_corpus/*.conf) start with `# expect: valid|invalid|differs`, an
optional `# args: [...]` (extra command-line arguments for both), `# mpm: event|worker|
prefork|none` and `# without: module ...` (supported modules not to load). A common header
(ServerRoot, PidFile, logs in a temporary folder, LoadModule of the MPM and of every
module fastcore implements, from Debian's /usr/lib/apache2/modules) is put in front.

`differs` marks configurations Apache accepts and fastcore refuses on purpose: they load
a module fastcore does not implement (or use a section of one, like <Limit>); the test
asserts that fastcore names the module/directive and Apache says Syntax OK.
"""
from __future__ import annotations

import json
import re
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support.apache_oracle import APACHE
from support.config_checks import corpus_header, fastcore_in_process, run_check

from fastcore.modules import REGISTRY

SUPPORTED = REGISTRY.loadable()

CORPUS = Path(__file__).parent / "config_corpus"
CASES = sorted(p.name for p in CORPUS.glob("*.conf"))


def _meta(text: str) -> dict:
    meta = {"expect": None, "args": [], "mpm": "event", "without": []}
    for line in text.splitlines():
        m = re.match(r"# (expect|args|mpm|without): (.*)", line)
        if not m:
            break
        key, val = m.groups()
        meta[key] = json.loads(val) if key == "args" else (val.split() if key == "without"
                                                          else val.strip())
    return meta


def _prepare(name: str, root: Path) -> tuple[Path, dict, int]:
    tmp = root / name.removesuffix(".conf")
    for sub in ("run", "logs"):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    shutil.copytree(CORPUS / "inc", tmp / "inc", dirs_exist_ok=True)
    text = (CORPUS / name).read_text()
    meta = _meta(text)
    header = corpus_header(tmp, meta)
    conf = tmp / "httpd.conf"
    conf.write_text(header + text.replace("@@TMP@@", str(tmp)))
    return conf, meta, header.count("\n")


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("corpus")
    jobs = {name: _prepare(name, root) for name in CASES}

    def apache(name: str):
        conf, meta, _nheader = jobs[name]
        return name, run_check([APACHE, "-t", "-f", str(conf), *meta["args"]], conf.parent)

    with ThreadPoolExecutor(max_workers=4) as pool:
        ap = dict(pool.map(apache, CASES))
    out = {}
    for name in CASES:
        conf, meta, nheader = jobs[name]
        out[name] = (conf, meta, nheader, ap[name], fastcore_in_process(conf, meta["args"]))
    return out


SAMPLE = [n for n in CASES if n.startswith(("001", "011", "041", "053", "101", "106", "109",
                                            "125", "165", "201"))]


@pytest.mark.parametrize("name", SAMPLE)
def test_command_line_matches_in_process(results, name):
    conf, meta, _nheader, _ap, fc = results[name]
    proc = run_check([sys.executable, "-m", "fastcore", "-t", "-f", str(conf), *meta["args"]],
                conf.parent)
    assert (proc.returncode, proc.stdout, proc.stderr) == (fc.returncode, fc.stdout,
                                                           fc.stderr)


def test_corpus_is_large_enough():
    metas = [_meta((CORPUS / n).read_text()) for n in CASES]
    assert sum(m["expect"] in ("valid", "invalid") for m in metas) >= 60
    assert sum(m["expect"] == "invalid" for m in metas) >= 30


@pytest.mark.parametrize("name", CASES)
def test_agrees_with_apache(results, name):
    conf, meta, nheader, ap, fc = results[name]
    assert "Traceback" not in fc.stderr, fc.stderr
    ap_ok, fc_ok = ap.returncode == 0, fc.returncode == 0
    if meta["expect"] == "differs":
        assert ap_ok, f"apache refused a 'differs' case:\n{ap.stderr}"
        assert not fc_ok
        assert str(conf) in fc.stderr and re.search(r"line \d+", fc.stderr)
        return
    assert ap_ok == (meta["expect"] == "valid"), f"corpus expectation wrong:\n{ap.stderr}"
    assert fc_ok == ap_ok, (f"apache: rc={ap.returncode} {ap.stderr.strip()}\n"
                            f"fastcore: rc={fc.returncode} {fc.stderr.strip()}")
    if fc_ok:
        assert fc.stdout.strip() == "Syntax OK"
    else:
        assert fc.stdout == ""
        # the error names the file and the line (of the file given, or an included one /
        # the command line) — except the global "No MPM loaded"
        if "No MPM loaded" not in fc.stderr:
            m = re.search(r"Syntax error on line (\d+) of (\S+):", fc.stderr)
            assert m, fc.stderr
            assert m.group(2) in (str(conf), "-c", "-C") or m.group(2).startswith(
                str(conf.parent))
            if m.group(2) == str(conf):
                assert int(m.group(1)) > nheader

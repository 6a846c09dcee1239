"""Generated variants of the configuration families where fastcore's verdict used to
differ from Apache's (config_variants.py): each one goes through `apache2 -t -f` and
fastcore's `-t` at test time, and the verdicts must agree; where fastcore refuses, its
message names the file and the line (past the common header, in the variant's own text).

The common header is test_config_corpus's (every module fastcore implements loaded, the
event MPM, logs in the variant's folder).
"""
from __future__ import annotations

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from config_variants import Variant, all_variants
from test_config_corpus import APACHE, _fastcore_in_process, _header, _run

VARIANTS = all_variants()
META = {"expect": None, "args": [], "mpm": "event", "without": []}


def _prepare(vid: str, v: Variant, root: Path) -> tuple[Path, int]:
    tmp = root / vid
    for sub in ("run", "logs"):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    for name, text in v.files.items():
        (tmp / name).write_text(text.replace("@@TMP@@", str(tmp)))
    header = _header(tmp, META)
    conf = tmp / "httpd.conf"
    conf.write_text(header + v.text.replace("@@TMP@@", str(tmp)))
    return conf, header.count("\n")


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory) -> dict[str, tuple[Path, int, subprocess.CompletedProcess,
                                                  subprocess.CompletedProcess]]:
    root = tmp_path_factory.mktemp("variants")
    jobs = {vid: _prepare(vid, v, root) for vid, v in VARIANTS}

    def apache(vid: str) -> tuple[str, subprocess.CompletedProcess]:
        conf, _n = jobs[vid]
        return vid, _run([APACHE, "-t", "-f", str(conf)], conf.parent)

    with ThreadPoolExecutor(max_workers=2) as pool:
        ap = dict(pool.map(apache, jobs))
    return {vid: (conf, n, ap[vid], _fastcore_in_process(conf, []))
            for vid, (conf, n) in jobs.items()}


def test_every_family_has_both_verdicts(verdicts):
    """The generator is worth running: each family has variants Apache accepts and
    variants it refuses."""
    seen: dict[str, set[bool]] = {}
    for vid, (_conf, _n, ap, _fc) in verdicts.items():
        seen.setdefault(vid.rsplit("-", 1)[0], set()).add(ap.returncode == 0)
    assert len(seen) == 9
    assert all(v == {True, False} for v in seen.values()), seen


@pytest.mark.parametrize("vid", [vid for vid, _v in VARIANTS])
def test_variant_agrees_with_apache(verdicts, vid):
    conf, nheader, ap, fc = verdicts[vid]
    text = conf.read_text().splitlines()[nheader:]
    assert "Traceback" not in fc.stderr, fc.stderr
    ap_ok, fc_ok = ap.returncode == 0, fc.returncode == 0
    assert fc_ok == ap_ok, ("config:\n" + "\n".join(text) +
                            f"\napache: rc={ap.returncode} {ap.stderr.strip()}"
                            f"\nfastcore: rc={fc.returncode} {fc.stderr.strip()}")
    if fc_ok:
        assert fc.stdout.strip() == "Syntax OK"
        return
    m = re.search(r"Syntax error on line (\d+) of (\S+?):?\s", fc.stderr)
    assert m, fc.stderr
    assert m.group(2) == str(conf) or m.group(2).startswith(str(conf.parent)), fc.stderr
    if m.group(2) == str(conf):
        assert int(m.group(1)) > nheader, fc.stderr

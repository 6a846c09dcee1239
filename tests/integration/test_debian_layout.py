"""A trimmed copy of Debian's /etc/apache2 layout (apache2.conf + ports.conf +
mods-enabled + conf-enabled/security.conf + sites-enabled/000-default.conf) parses with
both Apache and fastcore, and fastcore serves a file from it."""
from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from support.ports import free_port

LAYOUT = Path(__file__).parent / "debian_layout"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def layout():
    # world-readable (Debian's User www-data must read the files), removed afterwards
    tmp_path = Path(tempfile.mkdtemp(prefix="fc-debian-"))
    os.chmod(tmp_path, 0o755)
    root = tmp_path / "etc-apache2"
    shutil.copytree(LAYOUT, root)
    for sub in ("run", "lock", "log", "www/html"):
        (tmp_path / sub).mkdir(parents=True)
        os.chmod(tmp_path / sub, 0o777 if sub in ("run", "lock", "log") else 0o755)
    os.chmod(tmp_path / "www", 0o755)
    (tmp_path / "www/html/index.html").write_text("<h1>It works (fastcore)</h1>\n")
    (tmp_path / "www/html/hello.txt").write_text("hello from the debian layout\n")
    user = "www-data" if os.getuid() == 0 else pwd.getpwuid(os.getuid()).pw_name
    port = free_port()
    env = dict(os.environ, APACHE_RUN_USER=user, APACHE_RUN_GROUP=user,
               APACHE_PID_FILE=str(tmp_path / "run/apache2.pid"),
               APACHE_RUN_DIR=str(tmp_path / "run"), APACHE_LOCK_DIR=str(tmp_path / "lock"),
               APACHE_LOG_DIR=str(tmp_path / "log"), DOCROOT_BASE=str(tmp_path / "www"),
               TEST_PORT=str(port), PYTHONPATH=str(REPO))
    yield root, env, port, tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_apache_and_fastcore_accept_the_layout(layout):
    root, env, _port, _tmp = layout
    ap = subprocess.run(["/usr/sbin/apache2", "-d", str(root), "-f", "apache2.conf", "-t"],
                        env=env, capture_output=True, text=True, timeout=30)
    assert ap.returncode == 0, ap.stderr
    fc = subprocess.run([sys.executable, "-m", "fastcore", "-d", str(root), "-f",
                         "apache2.conf", "-t"], env=env, capture_output=True, text=True,
                        timeout=30)
    assert fc.returncode == 0, fc.stderr
    assert fc.stdout.strip() == "Syntax OK"


def test_layout_vhosts_and_modules(layout):
    root, env, port, tmp = layout
    fc = subprocess.run([sys.executable, "-m", "fastcore", "-d", str(root), "-f",
                         "apache2.conf", "-S", "-M"], env=env, capture_output=True,
                        text=True, timeout=30)
    assert fc.returncode == 0, fc.stderr
    out = fc.stdout
    assert f"*:{port}" in out and "sites-enabled/000-default.conf:1" in out
    assert f'PidFile: "{tmp}/run/apache2.pid"' in out
    assert " mpm_event_module (shared)" in out and " core_module (static)" in out
    assert f'ServerRoot: "{root}"' in out


def test_layout_serves_a_file(layout):
    """Needs fastcore.mpm and fastcore.core (other engineers' parts)."""
    root, env, port, tmp = layout
    proc = subprocess.Popen([sys.executable, "-m", "fastcore", "-d", str(root), "-f",
                             "apache2.conf", "-DFOREGROUND"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        body = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello.txt",
                                            timeout=2) as resp:
                    body = resp.read()
                    ctype = resp.headers.get("Content-Type")
                break
            except OSError:
                time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read().decode(errors="replace")
        assert body == b"hello from the debian layout\n"
        assert ctype.startswith("text/plain")
        curl = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                               f"http://127.0.0.1:{port}/.htaccess"], capture_output=True,
                              text=True, timeout=10)
        assert curl.stdout in ("403", "404")  # <FilesMatch "^\.ht"> Require all denied
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_embedded_default_serves_the_current_folder(tmp_path):
    """`python -m fastcore -p PORT` with no -f serves the current folder (like
    python -m http.server), announces the URL, and stops on SIGTERM."""
    (tmp_path / "file.txt").write_text("served from the current folder\n")
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "fastcore", "-p", str(port)], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        got = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            curl = subprocess.run(["curl", "-s", "-f", f"http://127.0.0.1:{port}/file.txt"],
                                  capture_output=True, timeout=10)
            if curl.returncode == 0:
                got = curl.stdout
                break
            time.sleep(0.2)
        assert got == b"served from the current folder\n"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        err = proc.stderr.read().decode(errors="replace")
        proc.stdout.close()
        proc.stderr.close()
    assert f"http://127.0.0.1:{port}/" in err and "Ctrl+C" in err
    assert "Traceback" not in err


def _start(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.1)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stderr:
        proc.stderr.close()


def _get(port: int, target: str) -> tuple[str, str, bytes]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{target}", timeout=5) as resp:
        return str(resp.status), resp.headers.get("Content-Type", ""), resp.read()


def test_layout_directory_listing_matches_apache(layout):
    """A directory without an index under Debian's stock layout (Options Indexes,
    mods-enabled/autoindex.conf: icons, alt texts, VersionSort, HTMLTable, Charset=UTF-8,
    Alias /icons/): fastcore's listing is Apache's, byte for byte (the signature line
    names the product and port, so those are normalized)."""
    root, env, port, tmp = layout
    listing = tmp / "www/html/files"
    listing.mkdir()
    os.chmod(listing, 0o755)
    names = ["README", "notes.txt", "photo.png", "archive.tar.gz", "tool.exe", "song.ogg",
             "report.pdf", "doc.odt", "page.html", "v1.10.txt", "v1.9.txt", "script.sh",
             "src.c", "mystery.xyz", "a name with spaces & <marks>.txt"]
    when = 1709647620
    for k, n in enumerate(names):
        p = listing / n
        p.write_text("data " * (k * 50))
        os.chmod(p, 0o644)
        os.utime(p, (when + k * 3600, when + k * 3600))
    (listing / "subdir").mkdir()
    os.chmod(listing / "subdir", 0o755)
    os.utime(listing / "subdir", (when, when))
    (listing / ".hidden").write_text("x")  # IndexIgnore .??*
    (listing / "backup~").write_text("x")  # IndexIgnore *~
    ap_port = free_port()
    ap_env = dict(env, TEST_PORT=str(ap_port), APACHE_PID_FILE=str(tmp / "run/ap.pid"))
    fc_env = dict(env, APACHE_PID_FILE=str(tmp / "run/fc.pid"))
    apache = _start(["/usr/sbin/apache2", "-d", str(root), "-f", "apache2.conf",
                     "-DFOREGROUND"], ap_env, ap_port)
    fastcore = _start([sys.executable, "-m", "fastcore", "-d", str(root), "-f",
                       "apache2.conf", "-DFOREGROUND"], fc_env, port)
    try:
        assert apache.poll() is None and fastcore.poll() is None
        for target in ("/files/", "/files/?F=1", "/files/?C=M;O=D", "/files/?C=S;O=A;F=2",
                       "/files/?V=0;O=D", "/files/?F=0"):
            a_status, a_type, a_body = _get(ap_port, target)
            f_status, f_type, f_body = _get(port, target)
            assert (f_status, f_type) == (a_status, a_type) == ("200",
                                                                 "text/html;charset=UTF-8")
            sig = re.compile(rb"<address>[^<]* Server at 127\.0\.0\.1 Port \d+</address>")
            assert sig.search(a_body) and sig.search(f_body)
            assert sig.sub(b"SIG", f_body) == sig.sub(b"SIG", a_body), target
        a_body = _get(ap_port, "/files/")[2]
        assert b'<img src="/icons/folder.gif" alt="[DIR]">' in a_body
        assert b'<img src="/icons/binary.gif" alt="[   ]">' in a_body
        # the icons themselves come through Alias /icons/ from both
        assert _get(port, "/icons/folder.gif")[2] == _get(ap_port, "/icons/folder.gif")[2]
    finally:
        _stop(apache)
        _stop(fastcore)

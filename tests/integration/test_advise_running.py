"""`fastcore advise --running`: MaxRequestWorkers from the running server's own children,
the guide's rule (memory available / average child size), measured on a real prefork
server started from the same configuration."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from support.ports import free_port, wait_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODS = "/usr/lib/apache2/modules"


def test_running_prefork_server_is_sized_from_its_children(tmp_path) -> None:
    port = free_port()
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("hello\n")
    conf = tmp_path / "httpd.conf"
    conf.write_text(f"""LoadModule mpm_prefork_module {MODS}/mod_mpm_prefork.so
LoadModule authz_core_module {MODS}/mod_authz_core.so
LoadModule dir_module {MODS}/mod_dir.so
ServerRoot "{tmp_path}"
PidFile "{tmp_path}/httpd.pid"
ErrorLog "{tmp_path}/error_log"
Listen 127.0.0.1:{port}
StartServers 2
MinSpareServers 1
MaxSpareServers 4
DocumentRoot "{tmp_path}/www"
<Directory />
  Require all granted
</Directory>
""")
    env = dict(os.environ, PYTHONPATH=ROOT)
    server = subprocess.Popen([sys.executable, "-m", "fastcore", "-f", str(conf),
                               "-DFOREGROUND"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_port(port, 20)
        deadline = time.monotonic() + 20
        sizing: dict = {}
        while time.monotonic() < deadline:
            out = subprocess.run([sys.executable, "-m", "fastcore", "advise", "-f", str(conf),
                                  "--running", "--json"], env=env, cwd=ROOT,
                                 capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stderr
            sizing = json.loads(out.stdout)["sizing"]
            if sizing.get("running") == "yes" and sizing["children"] >= 2:
                break
            time.sleep(0.2)
        assert sizing.get("running") == "yes", sizing
        avg = sizing["average_child_pss_kib"]
        assert 100 < avg < 200 * 1024  # a CPython child: MiBs, not bytes or GiBs
        usable = sizing["memory_available_kib"] * 0.9 - sizing["parent_pss_kib"]
        # the report rounds the average child to a whole KiB; the recommendation used
        # the exact average, so it lies within what the two neighbours would give
        low, high = int(usable // (avg + 0.5)), int(usable // (avg - 0.5))
        assert low <= sizing["recommended_max_request_workers"] <= high
        assert sizing["configured_max_request_workers"] == 256  # prefork's default
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)

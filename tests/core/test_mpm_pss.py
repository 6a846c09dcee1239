"""PSS of the server's children is read from /proc (fastcore.mpm.pss)."""
from __future__ import annotations

import os
import subprocess
import sys
import time

from fastcore.mpm import pss


def test_children_pss_lists_each_child_of_a_pid_file(tmp_path) -> None:
    parent = subprocess.Popen([sys.executable, "-c",
                               "import os,time,sys\n"
                               "kids=[os.fork() for _ in range(1)]\n"
                               "if 0 in kids: time.sleep(30); os._exit(0)\n"
                               "for _ in range(2):\n"
                               "    if os.fork()==0: time.sleep(30); os._exit(0)\n"
                               "time.sleep(30)"])
    try:
        pid_file = tmp_path / "httpd.pid"
        pid_file.write_text(f"{parent.pid}\n")
        for _ in range(100):
            if len(pss.child_pids(parent.pid)) == 3:
                break
            time.sleep(0.02)
        values = pss.children_pss(str(pid_file))
        assert len(values) == 3 and all(v > 0 for v in values)
        assert pss.parent_pss(parent.pid) > 0
        assert pss.average_child_pss(parent.pid) > 0
    finally:
        for kid in pss.child_pids(parent.pid):
            os.kill(kid, 9)
        parent.kill()
        parent.wait()


def test_own_pss_is_positive() -> None:
    assert pss.pss_kb(os.getpid()) > 0

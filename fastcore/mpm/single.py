"""-X: one process, one worker, in the foreground (httpd's ONE_PROCESS debugging mode)."""
from __future__ import annotations

import os
from typing import Any

from fastcore.mpm.child import ChildContext, child_main
from fastcore.mpm.prefork import run_child


def run_single(arbiter: Any) -> int:
    """Serve connections one at a time in this process; TERM/INT stop, USR1 too."""
    g = arbiter.gen
    g.sizing.max_connections_per_child = 0
    ctx = ChildContext(
        cfg=g.cfg, sizing=g.sizing, scoreboard=arbiter.sb, server=g.server, mutex=g.mutex,
        listen_fds=arbiter.listeners.fds(), listen_addrs=arbiter.listeners.addrs(),
        reuseport=arbiter.listeners.reuseport, index=0, generation=g.number,
        errlog=arbiter.errlog, proctable=arbiter.proctable, single_process=True)
    ctx.on_exit = arbiter.cleanup
    arbiter.proctable.prepare(0, g.number)
    arbiter.proctable.set_pid(0, os.getpid())
    arbiter.write_pid_file()
    arbiter._announce()
    status = child_main(ctx, run_child)
    arbiter.cleanup()
    return status

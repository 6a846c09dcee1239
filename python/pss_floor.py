"""CPython's memory floor for a server tree shaped like Apache's: a parent and N forked
children that do nothing, measured as the harness measures servers (the sum of
/proc/PID/smaps_rollup Pss over the tree).

    python3 python/pss_floor.py --children 3            # this interpreter as started
    python3 python/pss_floor.py --children 3 --fastcore # after importing what serving needs
    python3 -S python/pss_floor.py --children 3         # without site start-up

Like the server's parent, it runs gc.collect() and gc.freeze() before forking, so the
children start with every object shared; nothing in them runs Python afterwards.
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import time


def pss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise ValueError(f"no Pss line for {pid}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--children", type=int, default=3)
    ap.add_argument("--fastcore", action="store_true",
                    help="import the configuration, HTTP and MPM modules first")
    ap.add_argument("--settle", type=float, default=1.5, help="seconds before reading")
    args = ap.parse_args()
    if args.fastcore:
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        import fastcore.config  # noqa: F401
        import fastcore.core.server  # noqa: F401
        import fastcore.mpm.arbiter  # noqa: F401
        import fastcore.mpm.event  # noqa: F401
    gc.collect()
    gc.freeze()
    kids = []
    for _ in range(args.children):
        pid = os.fork()
        if pid == 0:
            time.sleep(args.settle + 2)
            os._exit(0)
        kids.append(pid)
    time.sleep(args.settle)
    parts = [pss_kib(p) for p in [os.getpid(), *kids]]
    for pid in kids:
        os.waitpid(pid, 0)
    print(f"parent + {args.children} children: {sum(parts):,} KiB PSS "
          f"(parent {parts[0]:,}, children {', '.join(f'{p:,}' for p in parts[1:])}); "
          f"{len(sys.modules)} modules; site {'off' if sys.flags.no_site else 'on'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

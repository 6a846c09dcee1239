"""Side-by-side load harness: fastcore against Apache httpd, nginx, gunicorn, http.server.

servers.py starts and stops each peer from a generated configuration, workloads.py drives
wrk/ab against it, pss.py reads memory from /proc, report.py renders markdown. The
command lines are python/loadtest.py (throughput, latency, PSS) and python/syscount.py
(syscalls per request under strace).
"""

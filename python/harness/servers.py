"""How each server under test is configured, started, found and stopped.

Every server gets a fresh work folder (config, pid file, logs) and a free 127.0.0.1 port,
serves the same document root, and is started in its own session so that stopping it
touches only the processes this harness created (the launched PID, its descendants and
its process group). Pinning prefixes the launch command with `taskset -c CPU`; children
inherit the affinity.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APACHE = "/usr/sbin/apache2"
MODDIR = "/usr/lib/apache2/modules"
NGINX = "/usr/sbin/nginx"
H2O = "/usr/bin/h2o"

# name -> size in bytes; the three files.
FILES = {"10k.html": 10240, "100.html": 100, "1m.html": 1048576}

# Keep-alive settings shared by Apache and fastcore (nginx/gunicorn get the equivalent).
KEEPALIVE_TIMEOUT = 5
APACHE_MODULES = ("authz_core", "mime", "dir")


class StartError(RuntimeError):
    """The server did not come up serving the document root correctly."""


def free_port() -> int:
    """An ephemeral port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_docroot(base: str) -> str:
    """Write the benchmark files (printable bytes, exact sizes) into base/htdocs."""
    root = os.path.join(base, "htdocs")
    os.makedirs(root, exist_ok=True)
    line = (b"fastcore harness 0123456789abcdefghijklmnopqrstuvwxyz" * 2)[:79] + b"\n"
    for name, size in FILES.items():
        data = (line * (size // len(line) + 1))[:size]
        path = os.path.join(root, name)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o644)
        # A static site's files are not being written: date them an hour back, so that no
        # server treats them as "just modified" (too fresh to cache) during the run.
        past = time.time() - 3600
        os.utime(path, (past, past))
    # Apache/nginx children may drop to an unprivileged user: make the path readable.
    for d in (base, root):
        os.chmod(d, 0o755)
    return root


def http_get(port: int, path: str, timeout: float = 2.0) -> tuple[int, int]:
    """One HTTP/1.0 GET; returns (status, body length). Raises OSError on failure."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET /{path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        chunks = []
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            chunks.append(b)
    data = b"".join(chunks)
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise OSError("no complete response head")
    status = int(head.split(b" ", 2)[1])
    return status, len(body)


def proc_children() -> dict[int, list[int]]:
    """ppid -> [pid] for every process visible in /proc."""
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # comm may contain spaces/parentheses: split after the last ')'.
        rest = stat[stat.rfind(b")") + 2:].split()
        kids.setdefault(int(rest[1]), []).append(int(entry))
    return kids


def process_tree(root: int) -> list[int]:
    """root and all its live descendants."""
    kids = proc_children()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if os.path.exists(f"/proc/{pid}"):
            out.append(pid)
        todo.extend(kids.get(pid, ()))
    return sorted(out)


@dataclass
class Running:
    """A started server: its Popen, port and work folder."""

    name: str
    proc: subprocess.Popen
    port: int
    workdir: str
    stop_signal: int = signal.SIGTERM

    def pids(self) -> list[int]:
        return process_tree(self.proc.pid)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop by signal to our own PID; SIGKILL our tree and group if it lingers."""
        tree = self.pids()
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(self.stop_signal)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        for pid in tree + self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # our own session's group only
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        wait_port_free(self.port)


def wait_port_free(port: int, timeout: float = 5.0) -> None:
    """Wait until nothing accepts on the port, so the next server starts on a clean slate."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                pass
        except OSError:
            return
        time.sleep(0.05)


@dataclass(frozen=True)
class Tuning:
    """The tuning guide's knobs as one scenario turns them; the defaults are its ideal
    configuration (the one every server of the plain harness runs)."""

    root_options: str = "FollowSymLinks"
    root_override: str = "None"
    docroot_options: str = "FollowSymLinks"
    docroot_override: str = "None"
    require: str = "all granted"
    hostname_lookups: str = "Off"
    modules: tuple[str, ...] = ()  # beyond APACHE_MODULES (status, negotiation, ...)
    server_lines: tuple[str, ...] = ()
    dir_lines: tuple[str, ...] = ()  # inside the DocumentRoot's <Directory>
    nginx_lines: tuple[str, ...] = ()  # inside nginx's server block


IDEAL = Tuning()


def apache_syntax_config(wd: str, docroot: str, port: int, mpm: str,
                         buffered_logs: bool, tuning: Tuning = IDEAL) -> str:
    """The httpd.conf both Apache and fastcore are run with (fastcore may add BufferedLogs)."""
    lines = [f"LoadModule mpm_{mpm}_module {MODDIR}/mod_mpm_{mpm}.so"]
    lines += [f"LoadModule {m}_module {MODDIR}/mod_{m}.so"
              for m in APACHE_MODULES + tuning.modules]
    lines += [
        f'ServerRoot "{wd}"',
        f'DefaultRuntimeDir "{wd}"',
        f'PidFile "{wd}/httpd.pid"',
        f'ErrorLog "{wd}/error_log"',
        "LogLevel warn",
        f"Mutex file:{wd} default",
        f"Listen 127.0.0.1:{port}",
        "ServerName 127.0.0.1",
        "TypesConfig /etc/mime.types",
        f"HostnameLookups {tuning.hostname_lookups}",
        "EnableSendfile On",
        "KeepAlive On",
        "MaxKeepAliveRequests 0",
        f"KeepAliveTimeout {KEEPALIVE_TIMEOUT}",
        'LogFormat "%h %l %u %t \\"%r\\" %>s %b" common',
        f'CustomLog "{wd}/access_log" common',
    ]
    if buffered_logs:
        lines.append("BufferedLogs On")
    lines += list(tuning.server_lines)
    lines += [
        f'DocumentRoot "{docroot}"',
        "<Directory />",
        f"    Options {tuning.root_options}",
        f"    AllowOverride {tuning.root_override}",
        "    Require all denied",
        "</Directory>",
        f'<Directory "{docroot}">',
        f"    Options {tuning.docroot_options}",
        f"    AllowOverride {tuning.docroot_override}",
        f"    Require {tuning.require}",
        *(f"    {d}" for d in tuning.dir_lines),
        "</Directory>",
    ]
    return "\n".join(lines) + "\n"


# What fast-site operators add to nginx (issue 12's "nginx tuned"), on top of stock Debian's
# `sendfile on; tcp_nopush on;`: descriptors/stat results cached, the access log buffered.
NGINX_TUNED_HTTP = (
    "open_file_cache max=10000 inactive=60s;",
    "open_file_cache_valid 60s;",
    "open_file_cache_errors on;",
)


def nginx_config(wd: str, docroot: str, port: int, tuning: Tuning = IDEAL,
                 tuned: bool = False) -> str:
    """The plain harness nginx (2 workers; sendfile and tcp_nopush on as in Debian's stock
    nginx.conf, which the harness lacked before; unbuffered log), or the tuned one."""
    extra = "".join(f"        {line}\n" for line in tuning.nginx_lines)
    http_extra = "".join(f"    {line}\n" for line in NGINX_TUNED_HTTP) if tuned else ""
    log_opts = " buffer=64k flush=1s" if tuned else ""
    ka_requests = 100000 if tuned else 100000000
    return f"""daemon off;
master_process on;
worker_processes 2;
worker_rlimit_nofile 16384;
pid {wd}/nginx.pid;
error_log {wd}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    types {{ text/html html; }}
    default_type application/octet-stream;
    log_format common '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent';
    access_log {wd}/access.log common{log_opts};
    sendfile on;
    tcp_nopush on;
{http_extra}    keepalive_timeout {KEEPALIVE_TIMEOUT}s;
    keepalive_requests {ka_requests};
    client_body_temp_path {wd}/client_body;
    proxy_temp_path {wd}/proxy;
    fastcgi_temp_path {wd}/fastcgi;
    uwsgi_temp_path {wd}/uwsgi;
    scgi_temp_path {wd}/scgi;
    server {{
        listen 127.0.0.1:{port};
        server_name 127.0.0.1;
        root {docroot};
{extra}    }}
}}
"""


def h2o_config(wd: str, docroot: str, port: int) -> str:
    """h2o as its operators run it: 2 threads, access log on, the same docroot."""
    return f"""listen:
  host: 127.0.0.1
  port: {port}
num-threads: 2
pid-file: {wd}/h2o.pid
error-log: {wd}/error.log
user: {pwd_name()}
http1-request-timeout: {KEEPALIVE_TIMEOUT}
access-log:
  path: {wd}/access.log
  format: '%h %l %u %t "%r" %s %b'
hosts:
  "127.0.0.1":
    paths:
      /:
        file.dir: {docroot}
"""


def pwd_name() -> str:
    """The current user's name (h2o drops to `nobody` when started as root otherwise)."""
    return pwd.getpwuid(os.getuid()).pw_name


WSGI_APP = '''"""Static files through wsgi.file_wrapper (written by the fastcore harness)."""
import os

ROOT = {root!r}


def app(environ, start_response):
    full = os.path.realpath(os.path.join(ROOT, environ.get("PATH_INFO", "/").lstrip("/")))
    if not full.startswith(ROOT + os.sep) or not os.path.isfile(full):
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
        return [b"not found"]
    f = open(full, "rb")
    size = os.fstat(f.fileno()).st_size
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(size))])
    return environ["wsgi.file_wrapper"](f, 65536)
'''


ASGI_APP = '''"""Static files for uvicorn (written by the fastcore harness)."""
import os

ROOT = {root!r}


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    full = os.path.realpath(os.path.join(ROOT, scope["path"].lstrip("/")))
    if not full.startswith(ROOT + os.sep) or not os.path.isfile(full):
        await send({{"type": "http.response.start", "status": 404,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"9")]}})
        await send({{"type": "http.response.body", "body": b"not found"}})
        return
    with open(full, "rb") as f:
        body = f.read()
    await send({{"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/html"),
                            (b"content-length", str(len(body)).encode())]}})
    await send({{"type": "http.response.body", "body": body}})
'''


@dataclass
class ServerSpec:
    """One server variant: how to build its command line in a work folder."""

    name: str
    kind: str  # fastcore | apache | nginx | gunicorn | http.server
    mpm: str = ""
    build: Callable[[ServerSpec, str, str, int], list[str]] = field(repr=False, default=None)  # type: ignore[assignment]
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    start_timeout: float = 15.0
    stop_signal: int = signal.SIGTERM
    buffered_logs: bool = False
    tuning: Tuning = IDEAL

    def start(self, docroot: str, pin_cpu: int | None, tmpbase: str | None = None) -> Running:
        """Start in a fresh work folder; return when all FILES are served with the right size."""
        wd = tempfile.mkdtemp(prefix=f"fc-h-{self.name}-", dir=tmpbase)
        os.chmod(wd, 0o755)
        port = free_port()
        cmd = self.build(self, wd, docroot, port)
        if pin_cpu is not None:
            cmd = ["taskset", "-c", str(pin_cpu)] + cmd
        env = dict(os.environ, **self.env)
        with open(os.path.join(wd, "stdout"), "wb") as out, \
                open(os.path.join(wd, "stderr"), "wb") as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    cwd=self.cwd or wd, env=env, start_new_session=True)
        run = Running(self.name, proc, port, wd, self.stop_signal)
        try:
            wait_serving(run, self.start_timeout)
        except StartError:
            run.stop()
            shutil.rmtree(wd, ignore_errors=True)
            raise
        return run


def _tail(path: str, n: int = 400) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return ""
    return data[-n:].decode("utf-8", "replace").strip()


def wait_serving(run: Running, timeout: float) -> None:
    """Poll until every benchmark file comes back 200 with its exact size."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if run.proc.poll() is not None:
            err = _tail(os.path.join(run.workdir, "stderr")) or _tail(
                os.path.join(run.workdir, "error_log")) or _tail(os.path.join(run.workdir, "error.log"))
            raise StartError(f"exited with status {run.proc.returncode}: {err}")
        try:
            bad = []
            for name, size in FILES.items():
                status, n = http_get(run.port, name)
                if status != 200 or n != size:
                    bad.append(f"{name}: status {status}, {n} bytes (want 200, {size})")
            if not bad:
                return
            last = "; ".join(bad)
        except (OSError, ValueError, IndexError) as e:
            last = f"{type(e).__name__}: {e}"
        time.sleep(0.1)
    raise StartError(f"not serving after {timeout:.0f}s: {last}")


def _write(path: str, text: str) -> str:
    with open(path, "w") as f:
        f.write(text)
    return path


def _apache_cmd(spec: ServerSpec, wd: str, docroot: str, port: int) -> list[str]:
    conf = _write(os.path.join(wd, "httpd.conf"),
                  apache_syntax_config(wd, docroot, port, spec.mpm, False, spec.tuning))
    return [APACHE, "-f", conf, "-DFOREGROUND"]


def _fastcore_cmd(spec: ServerSpec, wd: str, docroot: str, port: int) -> list[str]:
    conf = _write(os.path.join(wd, "httpd.conf"),
                  apache_syntax_config(wd, docroot, port, spec.mpm, spec.buffered_logs,
                                       spec.tuning))
    return [sys.executable, "-m", "fastcore", "-f", conf, "-DFOREGROUND"]


def _nginx_cmd(spec: ServerSpec, wd: str, docroot: str, port: int) -> list[str]:
    conf = _write(os.path.join(wd, "nginx.conf"), nginx_config(wd, docroot, port, spec.tuning))
    return [NGINX, "-p", wd + "/", "-c", conf]


def _nginx_tuned_cmd(spec: ServerSpec, wd: str, docroot: str, port: int) -> list[str]:
    conf = _write(os.path.join(wd, "nginx.conf"),
                  nginx_config(wd, docroot, port, spec.tuning, tuned=True))
    return [NGINX, "-p", wd + "/", "-c", conf]


def _h2o_cmd(spec: ServerSpec, wd: str, docroot: str, port: int) -> list[str]:
    conf = _write(os.path.join(wd, "h2o.conf"), h2o_config(wd, docroot, port))
    return [H2O, "-c", conf]


def _gunicorn_cmd(spec: ServerSpec, wd: str, docroot: str, port: int) -> list[str]:
    _write(os.path.join(wd, "harness_app.py"), WSGI_APP.format(root=os.path.realpath(docroot)))
    return [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", "2", "--threads", "4",
            "--keep-alive", str(KEEPALIVE_TIMEOUT), "--graceful-timeout", "2",
            "-b", f"127.0.0.1:{port}", "--chdir", wd,
            "--access-logfile", os.path.join(wd, "access.log"), "harness_app:app"]


def _uvicorn_cmd(spec: ServerSpec, wd: str, docroot: str, port: int) -> list[str]:
    _write(os.path.join(wd, "harness_asgi.py"), ASGI_APP.format(root=os.path.realpath(docroot)))
    return [sys.executable, "-m", "uvicorn", "--workers", "2", "--host", "127.0.0.1",
            "--port", str(port), "--timeout-keep-alive", str(KEEPALIVE_TIMEOUT),
            "--app-dir", wd, "harness_asgi:app"]


def _httpserver_cmd(spec: ServerSpec, wd: str, docroot: str, port: int) -> list[str]:
    # http.server logs each request to stderr (its access log): captured in wd/stderr.
    return [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
            "--directory", docroot]


def fastcore_spec(mpm: str, pure: bool = False, buffered_logs: bool = True) -> ServerSpec:
    """fastcore from this work tree (PYTHONPATH=repo), optionally the pure-Python twins."""
    env = {"PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    if pure:
        env["FASTCORE_NO_EXTENSIONS"] = "1"
    name = f"fastcore-{mpm}" + ("-pure" if pure else "")
    return ServerSpec(name, "fastcore", mpm, _fastcore_cmd, env=env, cwd=REPO,
                      start_timeout=20.0, buffered_logs=buffered_logs)


def peer_specs() -> list[ServerSpec]:
    return [
        ServerSpec("apache-event", "apache", "event", _apache_cmd),
        ServerSpec("apache-worker", "apache", "worker", _apache_cmd),
        ServerSpec("apache-prefork", "apache", "prefork", _apache_cmd),
        ServerSpec("nginx", "nginx", "", _nginx_cmd, stop_signal=signal.SIGQUIT),
        ServerSpec("nginx-tuned", "nginx", "", _nginx_tuned_cmd, stop_signal=signal.SIGQUIT),
        ServerSpec("h2o", "h2o", "", _h2o_cmd),
        ServerSpec("gunicorn", "gunicorn", "gthread", _gunicorn_cmd, start_timeout=20.0),
        ServerSpec("uvicorn", "uvicorn", "", _uvicorn_cmd, start_timeout=20.0),
        ServerSpec("http.server", "http.server", "", _httpserver_cmd),
    ]


def ensure_installed() -> None:
    """apt-get/pip what is missing (apache2, nginx, wrk, ab, strace, gunicorn)."""
    need = {"apache2": APACHE, "nginx": NGINX, "wrk": "/usr/bin/wrk",
            "apache2-utils": "/usr/bin/ab", "strace": "/usr/bin/strace"}
    missing = [pkg for pkg, path in need.items() if not os.path.exists(path)]
    if missing:
        subprocess.run(["apt-get", "update", "-q"], check=False, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-q", *missing], check=True, timeout=900)
    for mod in ("gunicorn", "uvicorn"):
        try:
            __import__(mod)
        except ImportError:
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", mod], check=True,
                           timeout=600)


def cleanup(run: Running) -> None:
    """Remove a stopped server's work folder (logs can be large)."""
    shutil.rmtree(run.workdir, ignore_errors=True)

"""MPM directives (prefork/worker/event): registered by whichever MPM is loaded, as in
Apache, so `StartServers` without an MPM is an "Invalid command"."""
from __future__ import annotations

from fastcore.config.directives_core import _atoi, listen, listen_backlog, pid_file
from fastcore.config.engine import (
    GLOBAL_ONLY,
    RSRC,
    Ctx,
    Directive,
    DirectiveArgs,
    DirectiveError,
    Engine,
)
from fastcore.config.tree import Node

PREFORK, WORKER, EVENT = "mpm_prefork_module", "mpm_worker_module", "mpm_event_module"
ALL = (PREFORK, WORKER, EVENT)
THREADED = (WORKER, EVENT)


def _set(field_name: str, convert=_atoi):
    def h(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
        setattr(e.state.mpm, field_name, convert(a[0]))
        e.state.mpm_set.add(field_name)
    return h


def _factor(v: str) -> float:
    try:
        f = float(v)
    except ValueError:
        raise DirectiveError("AsyncRequestWorkerFactor argument must be a positive "
                             "number") from None
    if f <= 0:
        raise DirectiveError("AsyncRequestWorkerFactor argument must be a positive number")
    return f


def _graceful(v: str) -> float:
    return float(_atoi(v))


def _max_req_workers(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    if n.name.lower() == "maxclients":
        e.warnings.append("AH00544: MaxClients is deprecated, use MaxRequestWorkers instead.")
    e.state.mpm.max_request_workers = _atoi(a[0])
    e.state.mpm_set.add("max_request_workers")


def _max_conn(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    if n.name.lower() == "maxrequestsperchild":
        e.warnings.append("AH00545: MaxRequestsPerChild is deprecated, use "
                          "MaxConnectionsPerChild instead.")
    e.state.mpm.max_connections_per_child = max(0, _atoi(a[0]))


def _buffer_size(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    v = _atoi(a[0])
    if v != 0 and v < 512:
        raise DirectiveError(f"{n.name} must be >= 512 bytes, or 0 for system default.")
    name = "send_buffer_size" if n.name.lower() == "sendbuffersize" else "receive_buffer_size"
    setattr(e.state.mpm, name, v)


def _stack_size(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """ThreadStackSize: the stack of each thread a child starts (0 or no number: the
    default; Python's threading needs 32 KiB at least: smaller values are raised)."""
    v = _atoi(a[0])
    if v < 0:
        raise DirectiveError(f"Invalid ThreadStackSize value: {a[0]}")
    e.state.mpm.thread_stack_size = max(v, 32768) if v else 0  # 0: the default, as httpd


def _buckets(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    if _atoi(a[0]) <= 0:
        raise DirectiveError("ListenCoresBucketsRatio must be > 0")


def _coredump(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    import os

    path = e.resolve_path(a[0])
    if not os.path.isdir(path):
        raise DirectiveError(f"CoreDumpDirectory {path} does not exist")


def _ignore(e: Engine, ctx: Ctx, a: DirectiveArgs, n: Node) -> None:
    """Accepted: tuning for memory/buffers that fastcore leaves to the kernel."""


def mpm_directives() -> list[Directive]:
    out: list[Directive] = []

    def add(name: str, handler, mods, usage: str, syntax: str = "TAKE1") -> None:
        for m in mods:
            out.append(Directive(name, m, frozenset({RSRC}), syntax, handler, usage,
                                 GLOBAL_ONLY))

    add("Listen", lambda e, c, a, n: listen(e, c, a, n), ALL,
        "A port number or a numeric IP address and a port number, and an optional protocol",
        "TAKE_ARGV")
    add("ListenBacklog", listen_backlog, ALL, "Maximum length of the queue of pending "
        "connections, as used by listen(2)")
    add("ListenCoresBucketsRatio", _buckets, ALL, "Ratio between the number of CPU cores "
        "(online) and the number of listeners buckets")
    add("SendBufferSize", _buffer_size, ALL, "Send buffer size in bytes")
    add("ReceiveBufferSize", _buffer_size, ALL, "Receive buffer size in bytes")
    add("PidFile", pid_file, ALL, "A file for logging the server process ID")
    add("MaxRequestsPerChild", _max_conn, ALL, "Maximum number of connections a particular "
        "child serves before dying.")
    add("MaxConnectionsPerChild", _max_conn, ALL, "Maximum number of connections a "
        "particular child serves before dying.")
    add("MaxMemFree", _ignore, ALL, "Maximum number of 1k blocks a particular child's "
        "allocator may hold.")
    add("ThreadStackSize", _stack_size, ALL, "Size in bytes of stack used by threads handling "
        "client connections")
    add("CoreDumpDirectory", _coredump, ALL, "The location of the directory Apache changes to "
        "before dumping core")
    add("GracefulShutdownTimeout", _set("graceful_shutdown_timeout", _graceful), ALL,
        "Maximum time in seconds to wait for child processes to complete transactions "
        "during shutdown")
    add("StartServers", _set("start_servers"), ALL, "Number of child processes launched at "
        "server startup")
    add("ServerLimit", _set("server_limit"), ALL, "Maximum value of MaxRequestWorkers for "
        "this run of Apache")
    add("MaxRequestWorkers", _max_req_workers, ALL, "Maximum number of threads alive at the "
        "same time")
    add("MaxClients", _max_req_workers, ALL, "Deprecated name of MaxRequestWorkers")
    add("MinSpareServers", _set("min_spare_servers"), (PREFORK,), "Minimum number of idle "
        "children, to handle request spikes")
    add("MaxSpareServers", _set("max_spare_servers"), (PREFORK,), "Maximum number of idle "
        "children")
    add("MinSpareThreads", _set("min_spare_threads"), THREADED, "Minimum number of idle "
        "threads, to handle request spikes")
    add("MaxSpareThreads", _set("max_spare_threads"), THREADED, "Maximum number of idle "
        "threads")
    add("ThreadsPerChild", _set("threads_per_child"), THREADED, "Number of threads each "
        "child creates")
    add("ThreadLimit", _set("thread_limit"), THREADED, "Maximum number of worker threads "
        "per child process for this run of Apache - Upper limit for ThreadsPerChild")
    add("AsyncRequestWorkerFactor", _set("async_request_worker_factor", _factor), (EVENT,),
        "How many additional connects will be accepted per idle worker thread")
    return out

"""The shared-memory scoreboard: counters exact across processes, slots, crash-safe locks.

Every test runs against the Cython extension and its pure-Python twin.
"""
from __future__ import annotations

import importlib
import os
import select
import signal
import time
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest
from support import proc_helpers
from support.twins import Implementation


@pytest.fixture
def sbmod(impl: Implementation) -> ModuleType:
    return impl.load("scoreboard")


def is_twin(mod: ModuleType) -> bool:
    return mod.__name__.endswith("_pure.scoreboard")


_CHILDREN: set[int] = set()


@pytest.fixture(autouse=True)
def _reap_children() -> Iterator[None]:
    """A failing test must not leave a child behind (e.g. one blocked on a dead lock)."""
    yield
    while _CHILDREN:
        pid = _CHILDREN.pop()
        try:
            os.kill(pid, signal.SIGKILL)
            reap(pid)
        except (ProcessLookupError, ChildProcessError):
            pass


def fork_child(body: Callable[[], object]) -> int:
    """proc_helpers.fork_child, remembered so that a failed test still reaps it."""
    pid = proc_helpers.fork_child(body)
    _CHILDREN.add(pid)
    return pid


def reap(pid: int) -> None:
    os.waitpid(pid, 0)
    _CHILDREN.discard(pid)


def wait_ok(pid: int, timeout: float = 30.0) -> int:
    """waitpid with a bound: a child still alive after timeout is killed and the test fails."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            _CHILDREN.discard(pid)
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            reap(pid)
            pytest.fail(f"child {pid} still running after {timeout} s (deadlock?)")
        time.sleep(0.005)


def read_line(fd: int, timeout: float) -> bytes:
    ready, _, _ = select.select([fd], [], [], timeout)
    return os.read(fd, 64) if ready else b""


# ---- module surface ---------------------------------------------------------------------


def test_constants(sbmod: ModuleType) -> None:
    assert sbmod.STATUS_CHARS == "_SRWKDCLGI."
    assert {sbmod.ACCESSES, sbmod.BYTES, sbmod.BUSY, sbmod.IDLE} == {0, 1, 2, 3}
    if is_twin(sbmod):
        assert sbmod.ATOMICS_MODE == "pure"
    else:
        assert sbmod.ATOMICS_MODE in ("nonportable", "portable")
        assert sbmod.ATOMICS_REQUESTED in ("auto", sbmod.ATOMICS_MODE)
        assert (sbmod.ATOMICS_IMPL == "cas") == (sbmod.ATOMICS_MODE == "nonportable")


def test_extension_mode_has_matching_counters() -> None:
    """ATOMICS_MODE says what the counters are: lock-free (no mutex to hold) or mutex-based."""
    mod = importlib.import_module("fastcore._scoreboard")
    sb = mod.Scoreboard(1, 1)
    if mod.ATOMICS_MODE == "nonportable":
        with pytest.raises(RuntimeError):
            sb._debug_lock_and_hold(mod.ACCESSES)
    else:  # portable: a child holding the counter's mutex blocks another child's add()
        r, w = os.pipe()
        holder = fork_child(
            lambda: (sb._debug_lock_and_hold(mod.ACCESSES), os.write(w, b"held"), time.sleep(60))
        )
        assert read_line(r, 10) == b"held"
        adder = fork_child(lambda: (sb.add(mod.ACCESSES, 1), os.write(w, b"added")))
        os.close(w)
        assert read_line(r, 0.3) == b""
        os.kill(holder, signal.SIGKILL)
        reap(holder)
        assert read_line(r, 10) == b"added"
        assert wait_ok(adder) == 0
        os.close(r)


def test_layout_separates_cache_lines(sbmod: ModuleType) -> None:
    lay = sbmod._layout()
    line = lay["line"]
    assert line == 64
    lines = [off // line for off in lay["counters"]]
    assert len(set(lines)) == 4, "each global counter on its own cache line"
    assert all(off % line == 0 for off in lay["counters"])
    assert lay["counter_size"] % line == 0
    assert lay["global"] // line not in lines
    assert lay["slots"] % line == 0 and lay["slot_size"] % line == 0
    assert lay["slots"] >= lay["global"] + line


# ---- counters -----------------------------------------------------------------------------


def test_add_get_cas(sbmod: ModuleType) -> None:
    sb = sbmod.Scoreboard(2, 1)
    assert sb.get(sbmod.BYTES) == 0
    assert sb.add(sbmod.BYTES, 10) == 10
    assert sb.add(sbmod.BYTES, -3) == 7
    assert sb.cas(sbmod.BYTES, 6, 100) is False
    assert sb.get(sbmod.BYTES) == 7
    assert sb.cas(sbmod.BYTES, 7, 100) is True
    assert sb.get(sbmod.BYTES) == 100
    assert sb.add(sbmod.BYTES, 2**40) == 100 + 2**40  # 64-bit
    assert sb.get(sbmod.ACCESSES) == 0  # counters are independent
    assert sb.add(sbmod.IDLE, 2**63 - 1) == 2**63 - 1
    assert sb.add(sbmod.IDLE, 1) == -(2**63)  # wraps as the C int64_t does
    with pytest.raises(OverflowError):
        sb.add(sbmod.ACCESSES, 2**64)
    with pytest.raises(OverflowError):
        sb.cas(sbmod.ACCESSES, 0, 2**63)
    assert sb.get(sbmod.ACCESSES) == 0
    with pytest.raises(IndexError):
        sb.add(4, 1)
    with pytest.raises(IndexError):
        sb.get(-1)
    sb.close()
    with pytest.raises(ValueError):
        sb.get(sbmod.BYTES)


@pytest.mark.parametrize("nproc", [2, 4])
def test_processes_times_increments_exact(sbmod: ModuleType, nproc: int) -> None:
    """N processes x M Python-level add() calls sum to exactly N*M."""
    m = 1500 if is_twin(sbmod) else 50_000
    sb = sbmod.Scoreboard(nproc, 1)

    def work() -> None:
        for _ in range(m):
            sb.add(sbmod.ACCESSES, 1)

    pids = [fork_child(work) for _ in range(nproc)]
    assert [wait_ok(p) for p in pids] == [0] * nproc
    assert sb.get(sbmod.ACCESSES) == nproc * m


def test_nogil_loop_contended_exact(sbmod: ModuleType) -> None:
    """The benchmark loop (C, no GIL, in forked processes) loses no increment."""
    n = 2000 if is_twin(sbmod) else 300_000
    sb = sbmod.Scoreboard(1, 1)
    agg, per_proc = sbmod.bench_contended(sb, sbmod.BYTES, 2, n)
    assert sb.get(sbmod.BYTES) == 2 * n
    assert agg > 0 and per_proc > 0
    assert sbmod.bench_increment(sb, sbmod.BYTES, n) > 0
    assert sb.get(sbmod.BYTES) == 3 * n


def test_threads_of_one_process_exact(sbmod: ModuleType) -> None:
    """Threads of one process (worker MPM) share the counters exactly too."""
    import threading

    m = 500 if is_twin(sbmod) else 20_000
    sb = sbmod.Scoreboard(1, 4)

    def work() -> None:
        for _ in range(m):
            sb.add(sbmod.BYTES, 3)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sb.get(sbmod.BYTES) == 4 * m * 3


def test_cas_loop_across_processes(sbmod: ModuleType) -> None:
    """Increments built from cas() retries are exact under contention (cas is atomic)."""
    m = 500 if is_twin(sbmod) else 20_000
    sb = sbmod.Scoreboard(1, 1)

    def work() -> None:
        for _ in range(m):
            while True:
                old = sb.get(sbmod.IDLE)
                if sb.cas(sbmod.IDLE, old, old + 1):
                    break

    pids = [fork_child(work) for _ in range(2)]
    assert [wait_ok(p) for p in pids] == [0, 0]
    assert sb.get(sbmod.IDLE) == 2 * m


# ---- slots ----------------------------------------------------------------------------------


def test_slot_index_and_bounds(sbmod: ModuleType) -> None:
    sb = sbmod.Scoreboard(3, 4)
    assert (sb.nslots, sb.server_limit, sb.thread_limit) == (12, 3, 4)
    assert sb.slot(0, 0) == 0 and sb.slot(1, 0) == 4 and sb.slot(2, 3) == 11
    for bad in ((3, 0), (0, 4), (-1, 0)):
        with pytest.raises(IndexError):
            sb.slot(*bad)
    with pytest.raises(IndexError):
        sb.set_status(12, "_")
    with pytest.raises(ValueError):
        sbmod.Scoreboard(0, 1)


def test_status_letters_roundtrip_and_status_string(sbmod: ModuleType) -> None:
    sb = sbmod.Scoreboard(4, 3)
    assert sb.status_string() == "." * 12  # open slots
    for i, letter in enumerate(sbmod.STATUS_CHARS):
        sb.set_status(i, letter)
        assert sb.get_status(i) == letter
    assert sb.status_string() == sbmod.STATUS_CHARS + "."
    for bad in ("x", "", "__", "?"):
        with pytest.raises(ValueError):
            sb.set_status(0, bad)
    assert sb.get_status(0) == "_"


def test_status_changes_maintain_busy_idle(sbmod: ModuleType) -> None:
    sb = sbmod.Scoreboard(3, 1)
    for slot in range(3):
        sb.slot_init(slot, 1000 + slot, 0, 1)
        assert sb.get_status(slot) == "S"
        sb.set_status(slot, "_")
    assert (sb.get(sbmod.IDLE), sb.get(sbmod.BUSY)) == (3, 0)
    sb.set_status(0, "R")
    sb.set_status(0, "W")  # busy -> busy: no change
    sb.request_start(1, b"GET / HTTP/1.1", b"::1", b"example.org")  # -> 'W'
    assert (sb.get(sbmod.IDLE), sb.get(sbmod.BUSY)) == (1, 2)
    sb.set_status(1, "K")
    sb.set_status(0, "_")
    sb.set_status(2, ".")  # a slot freed by the parent after its child died
    assert (sb.get(sbmod.IDLE), sb.get(sbmod.BUSY)) == (1, 1)
    sb.slot_init(1, 2000, 0, 2)  # a new worker takes a busy slot over
    assert (sb.get(sbmod.IDLE), sb.get(sbmod.BUSY)) == (1, 0)


def test_request_start_end_and_truncation(sbmod: ModuleType) -> None:
    sb = sbmod.Scoreboard(2, 2)
    slot = sb.slot(1, 1)
    sb.slot_init(slot, 4242, 1, 7)
    before = time.time()
    line = b"GET /" + b"a" * 200 + b" HTTP/1.1"
    sb.request_start(slot, line, b"203.0.113.9" * 10, b"v" * 100)
    sb.request_end(slot, 10240)
    sb.request_start(slot, b"HEAD /x HTTP/1.0", b"127.0.0.1", b"localhost")
    sb.request_end(slot, 0)
    info = sb.slot_info(slot)
    assert info["pid"] == 4242 and sb.slot_pid(slot) == 4242
    assert info["tid"] == 1 and info["generation"] == 7
    assert info["status"] == "W"
    assert info["accesses"] == 2 and info["bytes"] == 10240
    assert info["request"] == "HEAD /x HTTP/1.0"
    assert (info["client"], info["vhost"]) == ("127.0.0.1", "localhost")
    assert before - 1 <= info["start"] <= info["end"] <= time.time() + 1
    sb.request_start(slot, line, b"203.0.113.9" * 10, b"v" * 100)
    info = sb.slot_info(slot)
    assert info["request"] == line[: sbmod.REQUEST_MAX].decode()
    assert len(info["request"]) == 63  # as Apache's 64-byte request field
    assert len(info["client"]) == sbmod.CLIENT_MAX and len(info["vhost"]) == sbmod.VHOST_MAX
    assert sb.get(sbmod.ACCESSES) == 2 and sb.get(sbmod.BYTES) == 10240
    with pytest.raises(ValueError):
        sb.request_end(slot, -1)
    with pytest.raises(TypeError):
        sb.request_start(slot, "GET /", b"", b"")  # type: ignore[arg-type]


def test_duration_accumulates_as_a_counter(sbmod: ModuleType) -> None:
    """mod_status's Total Duration: the slot's time on its requests only grows; an end
    without its own request_start (a C-engine hit times itself) adds nothing here, and
    the slot's next worker starts from zero."""
    sb = sbmod.Scoreboard(1, 2)
    slot = sb.slot(0, 1)
    sb.slot_init(slot, 1, 1, 1)
    assert sb.slot_info(slot)["duration"] == 0.0
    seen = [0.0]
    for _ in range(3):
        sb.request_start(slot, b"GET / HTTP/1.1", b"127.0.0.1", b"localhost")
        time.sleep(0.02)
        sb.request_end(slot, 10)
        seen.append(sb.slot_info(slot)["duration"])
    assert all(b - a >= 0.015 for a, b in zip(seen, seen[1:], strict=False)), seen
    sb.request_end(slot, 10)  # no request_start since the last end
    assert sb.slot_info(slot)["duration"] == seen[-1]
    assert sb.slot_info(sb.slot(0, 0))["duration"] == 0.0  # its neighbour untouched
    sb.slot_init(slot, 2, 1, 2)
    assert sb.slot_info(slot)["duration"] == 0.0


def test_slots_do_not_alias(sbmod: ModuleType) -> None:
    sb = sbmod.Scoreboard(8, 2)
    for slot in range(sb.nslots):
        sb.slot_init(slot, 100 + slot, slot % 2, slot)
        sb.request_start(slot, b"GET /%d HTTP/1.1" % slot, b"10.0.0.%d" % slot, b"h%d" % slot)
        sb.request_end(slot, slot * 1000 + 1)
        sb.set_status(slot, sbmod.STATUS_CHARS[slot % 11])
    for slot in range(sb.nslots):
        info = sb.slot_info(slot)
        assert info["pid"] == 100 + slot and info["generation"] == slot
        assert info["request"] == f"GET /{slot} HTTP/1.1"
        assert info["client"] == f"10.0.0.{slot}" and info["vhost"] == f"h{slot}"
        assert info["bytes"] == slot * 1000 + 1 and info["accesses"] == 1
        assert info["status"] == sbmod.STATUS_CHARS[slot % 11]
    assert sb.get(sbmod.ACCESSES) == sb.nslots


def test_children_write_parent_reads(sbmod: ModuleType) -> None:
    """The mapping is shared across fork: each child's slot writes are seen by the parent."""
    sb = sbmod.Scoreboard(3, 1)
    sb.generation = 5
    start = sb.start_time
    assert abs(start - time.time()) < 60

    def child(slot: int) -> Callable[[], None]:
        def body() -> None:
            assert sb.generation == 5
            sb.slot_init(slot, os.getpid(), 0, sb.generation)
            sb.set_status(slot, "_")
            for _ in range(10):
                sb.request_start(slot, b"GET /c HTTP/1.1", b"127.0.0.1", b"local")
                sb.request_end(slot, 100)
                sb.set_status(slot, "K")
            sb.set_status(slot, "_")

        return body

    pids = [fork_child(child(s)) for s in range(3)]
    assert [wait_ok(p) for p in pids] == [0, 0, 0]
    assert sorted(sb.slot_pid(s) for s in range(3)) == sorted(pids)
    assert sb.status_string() == "___"
    assert sb.get(sbmod.ACCESSES) == 30 and sb.get(sbmod.BYTES) == 3000
    assert (sb.get(sbmod.IDLE), sb.get(sbmod.BUSY)) == (3, 0)
    assert all(sb.slot_info(s)["accesses"] == 10 for s in range(3))
    sb.generation = 6
    assert sb.generation == 6 and sb.start_time == start


# ---- crash safety -----------------------------------------------------------------------------


def _kill_holder_of(hold: Callable[[], None]) -> None:
    """Fork a child that runs hold() (takes a lock), tells us, and sleeps; SIGKILL it."""
    r, w = os.pipe()

    def body() -> None:
        os.close(r)
        hold()
        os.write(w, b"held")
        time.sleep(60)

    pid = fork_child(body)
    os.close(w)
    try:
        assert read_line(r, 10) == b"held"
    finally:
        os.close(r)
        os.kill(pid, signal.SIGKILL)
        reap(pid)


def test_process_mutex_recovers_from_killed_holder(sbmod: ModuleType) -> None:
    """A process SIGKILLed while holding the mutex blocks the others only until it dies
    (robust mutex: EOWNERDEAD made consistent), in every build."""
    mtx = sbmod.ProcessMutex()
    assert mtx.lock(timeout=5) is False
    mtx.unlock()
    with pytest.raises(PermissionError):
        mtx.unlock()  # not held by this process
    r, w = os.pipe()
    hold_r, hold_w = os.pipe()

    def holder() -> None:
        os.close(r)
        mtx.lock()
        os.write(hold_w, b"held")
        time.sleep(60)

    def waiter() -> None:
        os.close(r)
        recovered = mtx.lock(timeout=20)
        os.write(w, b"recovered" if recovered else b"clean")
        mtx.unlock()

    hpid = fork_child(holder)
    try:
        assert read_line(hold_r, 10) == b"held"
        wpid = fork_child(waiter)
        os.close(w)
        assert read_line(r, 0.3) == b"", "mutual exclusion: the waiter must not get it yet"
        with pytest.raises(TimeoutError):
            mtx.lock(timeout=0.05)
    finally:
        os.kill(hpid, signal.SIGKILL)
        reap(hpid)
    assert read_line(r, 20) == b"recovered"
    assert wait_ok(wpid) == 0
    os.close(r)
    os.close(hold_r)
    os.close(hold_w)
    assert mtx.lock(timeout=5) is False  # consistent again, released normally by the waiter
    mtx.unlock()
    with mtx:
        pass
    mtx.close()


def test_counter_survives_killed_holder(sbmod: ModuleType) -> None:
    """A worker killed in the middle of counter updates never blocks the others."""
    sb = sbmod.Scoreboard(2, 1)
    sb.add(sbmod.ACCESSES, 41)
    if getattr(sbmod, "ATOMICS_MODE", "") == "nonportable":
        # lock-free counters: kill a process in the middle of a nogil increment loop
        pid = fork_child(lambda: sbmod.bench_increment(sb, sbmod.ACCESSES, 10**12))
        deadline = time.monotonic() + 10
        while sb.get(sbmod.ACCESSES) < 1000 and time.monotonic() < deadline:
            time.sleep(0.001)
        os.kill(pid, signal.SIGKILL)
        reap(pid)
    else:  # portable mutex or the twin's fcntl lock: die holding the counter's lock
        _kill_holder_of(lambda: sb._debug_lock_and_hold(sbmod.ACCESSES))
    # the survivors run in children, so a deadlock fails the test (bounded) instead of hanging it
    r, w = os.pipe()

    def others() -> None:
        first = sb.get(sbmod.ACCESSES)
        for _ in range(100):
            sb.add(sbmod.ACCESSES, 1)
        os.write(w, b"%d\n" % first)

    pids = [fork_child(others) for _ in range(2)]
    os.close(w)
    assert [wait_ok(p, timeout=20) for p in pids] == [0, 0]
    firsts = [int(x) for x in os.read(r, 100).split()]
    os.close(r)
    assert len(firsts) == 2 and min(firsts) >= 41
    total = sb.get(sbmod.ACCESSES)
    assert total == min(firsts) + 200 or total == max(firsts) + 100
    assert sb.cas(sbmod.ACCESSES, total, 0) is True

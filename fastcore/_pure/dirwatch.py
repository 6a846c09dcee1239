"""Twin of fastcore/src/fc_dirwatch.h (issue 12): the process's directory watches, through
inotify by ctypes, with the same API as the extension's DirWatch.

A directory is a slot with a generation from one process-wide counter; every event on it
(or a queue overflow, for all) renews the generation.  A cached answer keeps the DirDep
pairs taken before its walk read the directories and is used only while all still match
after the queue is drained.  A forked child opens its own descriptor (os.register_at_fork).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import struct
import threading
from dataclasses import dataclass

IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE = 0x2, 0x4, 0x8
IN_MOVED_FROM, IN_MOVED_TO, IN_CREATE, IN_DELETE = 0x40, 0x80, 0x100, 0x200
IN_DELETE_SELF, IN_MOVE_SELF = 0x400, 0x800
IN_Q_OVERFLOW, IN_IGNORED, IN_ONLYDIR = 0x4000, 0x8000, 0x01000000
IN_NONBLOCK, IN_CLOEXEC = os.O_NONBLOCK, os.O_CLOEXEC
MASK = (IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO
        | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
DEFAULT_LIMIT = 65536
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len


@dataclass(frozen=True, slots=True)
class DirDep:
    """A watched directory's slot and the generation it had when the walk read it."""

    slot: int
    gen: int


@dataclass(slots=True)
class _Slot:
    wd: int
    alive: bool
    gen: int


_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]


class DirWatch:
    """The process's directory watches (one per process: use dirwatch())."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fd = -1
        self.slots: list[_Slot] = []
        self.counter = 0
        env = os.environ.get("FASTCORE_DIRWATCH_MAX", "")
        self.limit = int(env) if env else DEFAULT_LIMIT
        self.events = self.overflows = self.refused = 0
        self.names: frozenset[bytes] | None = frozenset((b".htaccess",))  # None: all count

    def after_fork_child(self) -> None:
        """The inherited descriptor's queue is the parent's: forget it."""
        self.lock = threading.Lock()
        if self.fd >= 0:
            os.close(self.fd)
        self.fd = -1
        self.slots = []
        self.counter += 1

    def _open(self) -> int:  # under self.lock
        if self.fd >= 0:
            return 0
        fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            return -ctypes.get_errno()
        self.fd = fd
        self.slots = []
        return 0

    def _bump_all(self) -> None:
        for s in self.slots:
            self.counter += 1
            s.gen = self.counter

    def _find(self, wd: int) -> int:
        for i, s in enumerate(self.slots):
            if s.wd == wd and s.alive:
                return i
        return -1

    def _drain(self) -> None:  # under self.lock
        if self.fd < 0:
            return
        for _round in range(65):
            if _round == 64:  # a flood: stop reading, as if the queue had overflowed
                self.overflows += 1
                self._bump_all()
                return
            try:
                data = os.read(self.fd, 4096)
            except InterruptedError:
                continue
            except BlockingIOError:
                return
            except OSError:  # cannot tell what changed
                self.overflows += 1
                self._bump_all()
                return
            if not data:
                return
            off = 0
            while off < len(data):
                wd, mask, _cookie, ln = _EVENT.unpack_from(data, off)
                off += _EVENT.size + ln
                self.events += 1
                if mask & IN_Q_OVERFLOW:
                    self.overflows += 1
                    self._bump_all()
                    continue
                if (mask & (IN_MODIFY | IN_CLOSE_WRITE) and ln and self.names is not None
                        and data[off - ln:off].rstrip(b"\0") not in self.names):
                    continue  # a write to some other file: no name there changed
                i = self._find(wd)
                if i >= 0:
                    self.counter += 1
                    self.slots[i].gen = self.counter
                    if mask & IN_IGNORED:
                        self.slots[i].alive = False

    def watch(self, path: bytes) -> DirDep | None:
        """Watch a directory before reading from it; None when no watch can be had."""
        with self.lock:
            if self._open() < 0:
                return None
            self._drain()
            wd = _libc.inotify_add_watch(self.fd, path, MASK)
            if wd < 0:
                if ctypes.get_errno() == errno.ENOSPC:
                    self.refused += 1
                return None
            i = self._find(wd)
            if i < 0:
                if sum(s.alive for s in self.slots) >= self.limit:
                    _libc.inotify_rm_watch(self.fd, wd)
                    self.refused += 1
                    return None
                self.counter += 1
                slot = _Slot(wd, True, self.counter)
                i = next((j for j, s in enumerate(self.slots) if not s.alive), -1)
                if i < 0:
                    self.slots.append(slot)
                    i = len(self.slots) - 1
                else:
                    self.slots[i] = slot
            return DirDep(i, self.slots[i].gen)

    def valid(self, deps: tuple[DirDep, ...]) -> bool:
        """Whether none of deps' directories changed since the pair was taken."""
        if not deps:
            return True
        with self.lock:
            if self.fd < 0:
                return False
            self._drain()
            slots = self.slots
            return all(0 <= d.slot < len(slots) and slots[d.slot].alive
                       and slots[d.slot].gen == d.gen for d in deps)

    def set_names(self, names: list[bytes]) -> bool:
        """The access file names (AccessFileName) whose writes count; a write to any
        other file changes no name in its directory.  False (every write then counts)
        for more than 8 names or a name of 256 bytes or more."""
        with self.lock:
            if len(names) > 8 or any(len(n) >= 256 or b"/" in n for n in names):
                self.names = None
                return False
            self.names = frozenset(bytes(n) for n in names)
            return True

    def set_limit(self, limit: int) -> None:
        """Test hook: the most watches the table takes (max_user_watches in small)."""
        self.limit = limit

    def reset(self) -> None:
        """Forget every watch: every pair handed out stops matching."""
        with self.lock:
            if self.fd >= 0:
                os.close(self.fd)
            self.fd = -1
            self.slots = []
            self.counter += 1

    def stats(self) -> dict:
        return {"watches": sum(s.alive for s in self.slots), "events": self.events,
                "overflows": self.overflows, "refused": self.refused, "limit": self.limit}


_DIRWATCH = DirWatch()
os.register_at_fork(after_in_child=_DIRWATCH.after_fork_child)


def dirwatch() -> DirWatch:
    """The process's DirWatch (the twin engine's hits check the same table)."""
    return _DIRWATCH

"""The scoreboard's per-process records (httpd's process_score), in shared memory.

One fixed-size record per process slot: flags (not accepting, quiescing), pid and
generation, written by the parent when it forks and reaps, and the connection counts the
event MPM's listener publishes (connections held, and those waiting in its async states:
I/O, writing, keep-alive, lingering close). mod_status reads them for the event MPM's
process table and its ?auto keys (Processes, Stopping, ConnsTotal, ConnsAsync*).

Each field has one writer at a time (the parent before fork, the pid after it and the
whole record after reaping; the child its flags and counts in between), and a reader may
see a record half-updated: the counts are a snapshot of the listener's last pass, as in
httpd, not a transaction.
"""
from __future__ import annotations

import mmap
import struct

NOT_ACCEPTING = 1  # the child stopped taking connections (full, or stopping)
QUIESCING = 2  # the child is finishing its connections and will exit

# header: the parent's pid, reserved; then per process: flags, pid, generation,
# connections, wait_io, writing, keep_alive, closing
_HDR = struct.Struct("=2i")
_REC = struct.Struct("=8i")
_COUNTS = struct.Struct("=5i")
_COUNTS_AT = 12  # byte offset of connections within a record


class ProcTable:
    """server_limit records, shared by the parent and every child (MAP_SHARED)."""

    def __init__(self, server_limit: int, parent_pid: int = 0) -> None:
        self.server_limit = server_limit
        self._map = mmap.mmap(-1, _HDR.size + max(1, server_limit) * _REC.size)
        _HDR.pack_into(self._map, 0, parent_pid, 0)

    @property
    def parent_pid(self) -> int:
        """The server's parent process (mod_status adds its CPU times)."""
        return _HDR.unpack_from(self._map, 0)[0]

    def close(self) -> None:
        self._map.close()

    def _at(self, index: int) -> int:
        if not 0 <= index < self.server_limit:
            raise IndexError(f"process slot {index} outside ServerLimit {self.server_limit}")
        return _HDR.size + index * _REC.size

    # -- the parent ------------------------------------------------------------------

    def prepare(self, index: int, generation: int) -> None:
        """Before forking a child into this slot: a fresh record (pid still 0)."""
        _REC.pack_into(self._map, self._at(index), 0, 0, generation, 0, 0, 0, 0, 0)

    def set_pid(self, index: int, pid: int) -> None:
        """After the fork; only the pid field, since the child may already be writing."""
        struct.pack_into("=i", self._map, self._at(index) + 4, pid)

    def ended(self, index: int) -> None:
        """The child in this slot was reaped: the slot is empty (pid 0)."""
        _REC.pack_into(self._map, self._at(index), 0, 0, 0, 0, 0, 0, 0, 0)

    # -- the child -------------------------------------------------------------------

    def flags(self, index: int) -> int:
        return struct.unpack_from("=i", self._map, self._at(index))[0]

    def set_flags(self, index: int, flags: int) -> None:
        struct.pack_into("=i", self._map, self._at(index), flags)

    def add_flags(self, index: int, flags: int) -> None:
        self.set_flags(index, self.flags(index) | flags)

    def publish(self, index: int, connections: int, wait_io: int, writing: int,
                keep_alive: int, closing: int) -> None:
        """The event listener's snapshot of its connections."""
        _COUNTS.pack_into(self._map, self._at(index) + _COUNTS_AT, connections, wait_io,
                          writing, keep_alive, closing)

    # -- readers (mod_status, the parent's maintenance) ------------------------------

    def accepting_before(self, index: int, enough: int) -> int:
        """How many live processes in the slots before index take connections (counted up
        to `enough`): the event MPM's standby rule."""
        n = 0
        for j in range(min(index, self.server_limit)):
            flags, pid = struct.unpack_from("=2i", self._map, self._at(j))
            if pid and not flags & (NOT_ACCEPTING | QUIESCING):
                n += 1
                if n >= enough:
                    break
        return n

    def record(self, index: int) -> dict[str, int]:
        flags, pid, gen, conns, wait_io, writing, ka, closing = _REC.unpack_from(
            self._map, self._at(index))
        return {"pid": pid, "generation": gen, "not_accepting": flags & NOT_ACCEPTING,
                "quiescing": flags & QUIESCING, "connections": conns, "wait_io": wait_io,
                "writing": writing, "keep_alive": ka, "closing": closing}

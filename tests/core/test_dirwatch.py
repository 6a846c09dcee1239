"""The directory watches that validate .htaccess- and DirectoryIndex-dependent cache
entries (issue 12: fastcore/src/fc_dirwatch.h and its twin fastcore/_pure/dirwatch.py),
each test run on both: a pair taken before a change stops matching after it, a write to
a file that is not an access file does not count, the watch limit refuses (never trusts),
a forked child has its own queue, and the engine refuses to store an entry whose
directories changed since its walk."""
from __future__ import annotations

import os
import time

import pytest
from support.twins import Implementation


@pytest.fixture
def watches(impl: Implementation):
    dw = impl.load("fastpath").dirwatch()
    dw.reset()
    dw.set_names([b".htaccess"])
    dw.set_limit(65536)
    yield dw
    dw.reset()
    dw.set_limit(65536)


def test_each_kind_of_change_renews_the_directory(watches, tmp_path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    ht = d / ".htaccess"
    steps = [
        lambda: ht.write_text("Options -Indexes\n"),            # created
        lambda: ht.write_text("Options +Indexes\n"),            # same size rewrite
        lambda: os.chmod(ht, 0o600),                            # attributes
        lambda: os.rename(ht, d / "old"),                       # renamed away
        lambda: (d / "new").write_text("x"),                    # another name appears
        lambda: os.unlink(d / "new"),                           # and goes
    ]
    for change in steps:
        dep = watches.watch(os.fsencode(d))
        assert dep is not None and watches.valid((dep,))
        assert watches.valid((dep,))  # nothing happened: still current
        change()
        assert not watches.valid((dep,))
    dep = watches.watch(os.fsencode(d))
    os.rename(d, tmp_path / "moved")                             # the directory itself
    assert not watches.valid((dep,))


def test_a_same_size_rewrite_in_the_same_tick_is_seen(watches, tmp_path) -> None:
    """The case the file's identity cannot tell: same inode, size and mtime."""
    ht = tmp_path / ".htaccess"
    ht.write_text("AddType text/x-one .html\n")
    st = ht.stat()
    dep = watches.watch(os.fsencode(tmp_path))
    with open(ht, "r+") as f:
        f.write("AddType text/x-two .html\n")
    os.utime(ht, ns=(st.st_atime_ns, st.st_mtime_ns))
    now = ht.stat()
    assert (now.st_ino, now.st_size, now.st_mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns)
    assert not watches.valid((dep,))


def test_writes_to_other_files_do_not_count(watches, tmp_path) -> None:
    """An access log in a watched directory must not renew it on every request."""
    log = tmp_path / "access_log"
    log.write_text("")
    dep = watches.watch(os.fsencode(tmp_path))
    with open(log, "a") as f:
        for _ in range(50):
            f.write("127.0.0.1 GET /\n")
            f.flush()
    assert watches.valid((dep,))
    watches.set_names([b".acl"])  # AccessFileName .acl: .htaccess is just a file now
    (tmp_path / ".htaccess").write_text("")
    dep = watches.watch(os.fsencode(tmp_path))
    with open(tmp_path / ".htaccess", "a") as f:
        f.write("x")
    assert watches.valid((dep,))
    with open(tmp_path / ".acl", "w") as f:  # created: counts whatever the name
        f.write("x")
    assert not watches.valid((dep,))
    dep = watches.watch(os.fsencode(tmp_path))
    with open(tmp_path / ".acl", "a") as f:  # written: an access file
        f.write("y")
    assert not watches.valid((dep,))


def test_too_many_names_make_every_write_count(watches, tmp_path) -> None:
    assert not watches.set_names([b"n%d" % i for i in range(9)])
    log = tmp_path / "log"
    log.write_text("")
    dep = watches.watch(os.fsencode(tmp_path))
    with open(log, "a") as f:
        f.write("x")
    assert not watches.valid((dep,))


def test_the_watch_limit_refuses_a_watch(watches, tmp_path) -> None:
    """The test hook standing in for max_user_watches (ENOSPC): no pair, so the caller
    keeps the answer out of the caches."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    watches.set_limit(1)
    da = watches.watch(os.fsencode(a))
    assert da is not None
    assert watches.watch(os.fsencode(a)) == da  # the same directory: the same watch
    assert watches.watch(os.fsencode(b)) is None
    assert watches.stats()["refused"] >= 1
    assert watches.watch(os.fsencode(tmp_path / "missing")) is None


def test_reset_and_a_vanished_directory_invalidate(watches, tmp_path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    dep = watches.watch(os.fsencode(d))
    watches.reset()
    assert not watches.valid((dep,))
    dep = watches.watch(os.fsencode(d))
    os.rmdir(d)
    assert not watches.valid((dep,))
    d.mkdir()
    again = watches.watch(os.fsencode(d))
    assert again is not None and again != dep and watches.valid((again,))


def test_a_forked_child_has_its_own_queue(watches, tmp_path) -> None:
    """A shared inotify descriptor would let one process eat the other's events."""
    dep = watches.watch(os.fsencode(tmp_path))
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's pairs are not its own; its watches work
        ok = not watches.valid((dep,))
        mine = watches.watch(os.fsencode(tmp_path))
        ok = ok and mine is not None and watches.valid((mine,))
        os.write(w, b"1" if ok else b"0")
        time.sleep(0.3)  # the parent writes meanwhile
        ok = ok and not watches.valid((mine,))
        os._exit(0 if ok else 1)
    assert os.read(r, 1) == b"1"
    (tmp_path / ".htaccess").write_text("x")
    _, status = os.waitpid(pid, 0)
    os.close(r)
    os.close(w)
    assert os.waitstatus_to_exitcode(status) == 0
    assert not watches.valid((dep,))  # the child drained its own queue, not ours


def test_the_engine_refuses_an_entry_whose_directory_changed(impl, watches, tmp_path) -> None:
    fp = impl.load("fastpath")
    f = tmp_path / "a.html"
    f.write_text("hello\n")
    st = f.stat()
    cache = fp.FastCache(16, 1 << 20)
    cache.configure(b"Server: x\r\n")
    args = (0, b"localhost", b"/a.html", os.fsencode(f), st.st_ino, st.st_size,
            st.st_mtime_ns, b"Content-Length: 6\r\n", b"")
    dep = watches.watch(os.fsencode(tmp_path))
    (tmp_path / ".htaccess").write_text("x")  # between the walk and the put
    assert not cache.put(*args, deps=(dep,))
    assert cache.lookup(0, b"localhost", b"/a.html") is None
    dep = watches.watch(os.fsencode(tmp_path))
    assert cache.put(*args, deps=(dep,))
    assert cache.lookup(0, b"localhost", b"/a.html") is not None


def test_a_flooded_queue_renews_every_directory(watches, tmp_path) -> None:
    """More events than one drain reads (or than the kernel queues: IN_Q_OVERFLOW): what
    changed cannot be told, so every directory counts as changed, the quiet one too."""
    busy, quiet = tmp_path / "busy", tmp_path / "quiet"
    busy.mkdir()
    quiet.mkdir()
    dq = watches.watch(os.fsencode(quiet))
    watches.watch(os.fsencode(busy))
    for i in range(9000):  # create + delete: 18,000 events, past both limits
        p = busy / f"f{i}"
        p.touch()
        p.unlink()
    assert not watches.valid((dq,))
    assert watches.stats()["overflows"] >= 1
    for _ in range(10):  # what is left in the queue is read by the next calls; then quiet
        again = watches.watch(os.fsencode(quiet))
        assert again is not None
        if watches.valid((again,)):
            break
    assert watches.valid((again,))

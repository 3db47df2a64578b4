"""Saving's atomic writes under stress (:mod:`rnnkit._atomic_file`): any file name ``open()``
accepts saves (the temporary file's name does not grow with the target's); a save killed with
SIGKILL leaves a temporary file that the next save to the same target removes, so the litter
never accumulates; concurrent savers and cleaners never break a save or each other; a cleaner
leaves alone what is not an abandoned temporary file of its own target.

The ``stress`` tests start processes and kill them; each is bounded by timeouts, so a hang
fails the test instead of blocking the run.
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rnnkit import _atomic_file
from rnnkit._model_file import atomic_savez
from rnnkit.models import load_model
from test_saving import X_SEQ, sine_model

posix_only = pytest.mark.skipif(
    not _atomic_file.LOCKS_AVAILABLE, reason="needs POSIX flock and SIGKILL"
)

# -- long file names ---------------------------------------------------------------------------


def _name_of_bytes(stem_char: str, total_bytes: int) -> str:
    """The longest ``<stem_char>…<stem_char>.npz`` whose UTF-8 encoding is at most
    ``total_bytes`` bytes."""
    width = len(stem_char.encode("utf-8"))
    return stem_char * ((total_bytes - len(b".npz")) // width) + ".npz"


@pytest.mark.parametrize(
    "name",
    [
        _name_of_bytes("m", 255),  # NAME_MAX exactly
        _name_of_bytes("模", 255),  # 83 CJK characters: 253 bytes of UTF-8
    ],
    ids=["ascii-255-bytes", "cjk-253-bytes"],
)
def test_any_name_open_accepts_saves_and_loads(tmp_path: Path, name: str) -> None:
    encoded = os.fsencode(name)
    if os.fsdecode(encoded) != name or encoded != name.encode("utf-8"):
        pytest.skip("the file-system encoding is not UTF-8")
    assert len(encoded) > 241  # beyond what the old ".<name>.XXXXXXXX.tmp" allowed
    path = tmp_path / name
    try:  # the requirement: any name that a plain open() accepts must save
        path.open("wb").close()
    except OSError as exc:
        pytest.skip(f"this file system refuses the name itself: {exc}")
    path.unlink()

    model = sine_model()
    model.save(path)
    assert os.listdir(tmp_path) == [name]  # the target only: no temporary file left
    restored = load_model(path)
    assert list(restored.params) == list(model.params)
    for key, value in model.params.items():
        np.testing.assert_array_equal(restored.params[key], value)
    np.testing.assert_array_equal(restored.predict(X_SEQ), model.predict(X_SEQ))
    model.save(path)  # and overwriting it works too
    assert os.listdir(tmp_path) == [name]


def test_temporary_names_are_short_and_name_their_target(tmp_path: Path) -> None:
    long, short = "a" * 251 + ".npz", "b.npz"
    prefix = _atomic_file.temporary_prefix(str(tmp_path / long))
    assert prefix == _atomic_file.temporary_prefix(os.path.join("elsewhere", long))
    assert prefix != _atomic_file.temporary_prefix(str(tmp_path / short))
    assert len(prefix) == len(_atomic_file.temporary_prefix(short)) == len(".rnnkit-") + 17


# -- cleaning what a killed save left ----------------------------------------------------------


def _leftover(target: Path) -> Path:
    """A temporary file of ``target`` as a killed save leaves it: named like one, unlocked."""
    path = target.parent / f"{_atomic_file.temporary_prefix(str(target))}{'0' * 16}.tmp"
    path.write_bytes(b"half a model")
    return path


@posix_only
def test_a_save_removes_its_targets_leftovers_only(tmp_path: Path) -> None:
    target, other = tmp_path / "m.npz", tmp_path / "other.npz"
    mine = _leftover(target)
    theirs = _leftover(other)  # another target's temporary: not this save's business
    unrelated = tmp_path / ".m.npz.abcdefgh.tmp"  # the old naming: could be a live old writer's
    unrelated.write_bytes(b"x")
    sine_model().save(target)
    assert sorted(os.listdir(tmp_path)) == sorted([target.name, theirs.name, unrelated.name])
    assert not mine.exists()


@posix_only
def test_a_live_writers_temporary_is_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "m.npz"
    busy = _leftover(target)
    fd = os.open(busy, os.O_RDONLY)
    try:
        _atomic_file.flock(fd, _atomic_file.LOCK_EX)  # as a writer in another process holds it
        sine_model().save(target)
        assert busy.exists()  # locked: a live saver owns it
    finally:
        os.close(fd)  # what kill -9 does to the writer's lock
    sine_model().save(target)
    assert os.listdir(tmp_path) == [target.name]


@posix_only
def test_what_is_not_a_regular_file_is_left_alone(tmp_path: Path) -> None:
    """A FIFO or a symbolic link bearing a temporary's name (nothing rnnkit writes) is never
    opened (a FIFO would block the open) nor removed, and a link's target is untouched."""
    target = tmp_path / "m.npz"
    prefix = _atomic_file.temporary_prefix(str(target))
    fifo, link = tmp_path / f"{prefix}{'1' * 16}.tmp", tmp_path / f"{prefix}{'2' * 16}.tmp"
    os.mkfifo(fifo)
    pointee = tmp_path / "precious.txt"
    pointee.write_text("keep me")
    link.symlink_to(pointee)
    saver = threading.Thread(target=sine_model().save, args=(target,), daemon=True)
    saver.start()
    saver.join(timeout=30)
    assert not saver.is_alive(), "the save blocked on a FIFO named like a temporary file"
    assert fifo.exists() and link.is_symlink() and pointee.read_text() == "keep me"
    assert target.exists()


@posix_only
@pytest.mark.parametrize("cleaner_was", ["done before the lock", "holding its lock"])
def test_a_cleaner_between_create_and_lock_costs_a_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cleaner_was: str
) -> None:
    """The window between a writer's O_EXCL create and its flock: a cleaner may find the new
    file unlocked there. The writer must notice (the file is unlinked, or the cleaner holds
    the lock) and start again under a new name, and the save succeed."""
    target = tmp_path / "m.npz"
    real_flock = _atomic_file.flock
    calls: list[int] = []

    def flock(fd: int, operation: int) -> None:
        calls.append(fd)
        if len(calls) > 1:
            return real_flock(fd, operation)
        # The writer's first lock: a cleaner gets to its new file first.
        (temporary,) = os.listdir(tmp_path)
        if cleaner_was == "done before the lock":
            _atomic_file.remove_leftovers(str(target))  # locks it (call 2) and unlinks it
            assert not (tmp_path / temporary).exists()
            return real_flock(fd, operation)  # succeeds, on a file no name refers to
        cleaner = os.open(tmp_path / temporary, os.O_RDONLY)
        real_flock(cleaner, _atomic_file.LOCK_EX | _atomic_file.LOCK_NB)
        try:
            return real_flock(fd, operation)  # raises BlockingIOError: the cleaner has it
        finally:
            os.unlink(tmp_path / temporary)  # what the cleaner then does
            os.close(cleaner)

    monkeypatch.setattr(_atomic_file, "flock", flock)
    sine_model().save(target)
    monkeypatch.undo()
    # The writer locked a second file: 1 refused or orphaned lock (+1 cleaner's) + 1 retry.
    assert len(calls) == (3 if cleaner_was == "done before the lock" else 2)
    assert os.listdir(tmp_path) == [target.name]
    load_model(target)


@posix_only
def test_threads_saving_one_target_do_not_clean_each_others_files(tmp_path: Path) -> None:
    """Locks belong to open files, not processes: a thread's clean-up never takes another
    thread's live temporary file."""
    target = tmp_path / "m.npz"
    errors: list[BaseException] = []

    def save(stamp: int) -> None:
        try:
            for n in range(20):
                atomic_savez(str(target), {"a": np.full(2**16, stamp * 100 + n)})
                _atomic_file.remove_leftovers(str(target))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(i,), daemon=True) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a saving thread hung"
    assert errors == []
    assert os.listdir(tmp_path) == [target.name]
    with np.load(target, allow_pickle=False) as npz:
        assert len(set(npz["a"].tolist())) == 1


# -- stress: kill -9 and concurrent savers -----------------------------------------------------

# A process that saves ``arrays_mb`` megabytes of arrays to the target again and again.
KILLED_SAVER = """
import sys
import numpy as np
from rnnkit._model_file import atomic_savez

target, megabytes = sys.argv[1], int(sys.argv[2])
arrays = {f"a{i}": np.full(megabytes * 2**20 // 32, i, dtype=np.float64) for i in range(4)}
print("ready", flush=True)
while True:
    atomic_savez(target, arrays)
"""


def _wait_for_line(proc: subprocess.Popen[str], line: str, timeout: float) -> None:
    """Read ``proc``'s stdout until ``line``; fail after ``timeout`` seconds. Reads the pipe a
    byte at a time, unbuffered, so that what follows is left for ``communicate``."""
    assert proc.stdout is not None
    fd, text = proc.stdout.fileno(), b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            pytest.fail(f"no {line!r} from the child within {timeout} s")
        byte = os.read(fd, 1)
        if not byte:
            pytest.fail(f"the child exited (rc {proc.wait(timeout=10)}) before {line!r}")
        if byte != b"\n":
            text += byte
        elif text.decode().strip() == line:
            return
        else:
            text = b""


def _spawn(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextlib.contextmanager
def _reaped(procs: list[subprocess.Popen[str]]) -> Iterator[list[subprocess.Popen[str]]]:
    """Kill whatever is still running of ``procs`` on the way out, pass or fail."""
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=30)


KILLS = 20
ARRAYS_MB = 32


@pytest.mark.stress
@posix_only
def test_saves_killed_mid_write_leave_no_litter(tmp_path: Path) -> None:
    """Each kill -9 during a save leaves its temporary file (no code runs to remove it); the
    next save to the same target removes it, so at most one is ever there, and after a normal
    save none is."""
    target = tmp_path / "big.npz"
    started = time.monotonic()
    arrays = {f"a{i}": np.full(ARRAYS_MB * 2**20 // 32, i, dtype=np.float64) for i in range(4)}
    atomic_savez(str(target), arrays)  # also measures how long one save takes here
    one_save = time.monotonic() - started
    rng = random.Random(15)
    litter_after_kill = []
    for _ in range(KILLS):
        with _reaped([_spawn(KILLED_SAVER, str(target), str(ARRAYS_MB))]) as (saver,):
            _wait_for_line(saver, "ready", timeout=60)
            time.sleep(rng.uniform(0.0, 1.5 * one_save))
            saver.kill()
            saver.wait(timeout=30)
        litter_after_kill.append(sorted(set(os.listdir(tmp_path)) - {target.name}))
    killed_mid_write = sum(1 for litter in litter_after_kill if litter)
    assert killed_mid_write > 0, "no kill landed during a write: the test proved nothing"
    assert max(len(litter) for litter in litter_after_kill) <= 1, litter_after_kill
    atomic_savez(str(target), {"a": np.arange(3.0)})
    assert os.listdir(tmp_path) == [target.name]
    with np.load(target, allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["a"], np.arange(3.0))


# Saves (``writer`` mode) or cleans (``cleaner`` mode) one target for ``seconds`` once told to
# go; a saver's file records its stamp in the header and fills its data with it, so a reader
# can tell a mixed or short file. Prints the number of saves or clean-ups; any exception ends
# it with a traceback and a non-zero status.
CONCURRENT = """
import sys
import time
import numpy as np
from rnnkit import _atomic_file
from rnnkit._model_file import FORMAT_NAME, FORMAT_VERSION, write_model_file

target, mode, ident, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
print("ready", flush=True)
sys.stdin.readline()  # all start together
deadline, count = time.monotonic() + seconds, 0
while time.monotonic() < deadline:
    if mode == "writer":
        stamp = ident * 1_000_000 + count
        header = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "stamp": stamp}
        write_model_file(target, header, {"data": np.full(2**17, stamp, dtype=np.int64)})
    else:
        _atomic_file.remove_leftovers(target)
    count += 1
print(count, flush=True)
"""

WRITERS, CLEANERS, SECONDS = 3, 2, 4.0


@pytest.mark.stress
@posix_only
def test_concurrent_savers_and_cleaners(tmp_path: Path) -> None:
    """Writers save one target in a loop while cleaners clean it and this process reads it:
    no save fails, every read finds one complete file, and no temporary file remains."""
    from rnnkit._model_file import read_model_file

    target = tmp_path / "shared.npz"
    roles = [("writer", i + 1) for i in range(WRITERS)] + [("cleaner", 0)] * CLEANERS
    reads = 0
    with _reaped(
        [_spawn(CONCURRENT, str(target), mode, str(i), str(SECONDS)) for mode, i in roles]
    ) as procs:
        for proc in procs:
            _wait_for_line(proc, "ready", timeout=60)
        for proc in procs:  # go: imports done, so the loops overlap for all of SECONDS
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        deadline = time.monotonic() + SECONDS + 60
        while any(proc.poll() is None for proc in procs):
            assert time.monotonic() < deadline, "the savers did not finish"
            if target.exists():
                header, arrays = read_model_file(str(target))
                assert arrays["data"].shape == (2**17,)
                assert (arrays["data"] == header["stamp"]).all(), "a mixed file"
                reads += 1
            else:
                time.sleep(0.001)  # before the first save lands
        outputs = [proc.communicate(timeout=30) for proc in procs]
    for (mode, i), proc, (out, err) in zip(roles, procs, outputs):
        assert proc.returncode == 0, f"{mode} {i} failed:\n{err}"
        assert int(out.split()[-1]) > 0, f"{mode} {i} never ran"
    assert reads > 0
    assert os.listdir(tmp_path) == [target.name]

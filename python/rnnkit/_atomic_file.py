"""Atomic file writes that leave no litter, even when the writer is killed.

:func:`atomic_write` writes a temporary file in the target's directory (the same file system,
so the rename is atomic), fsyncs it, renames it over the target with ``os.replace`` and fsyncs
the directory: a reader sees the old file or the new one, never half of one, and a failed write
leaves an existing target untouched and removes its temporary file.

Temporary names are ``.rnnkit-<tag>-<random>.tmp``, 45 bytes whatever the target's name:
``<tag>`` is 16 hex digits of a hash of the target's base name and ``<random>`` 16 random hex
digits. Any name a plain ``open()`` accepts therefore saves (a name that grows with the
target's, such as ``.<name>.XXXXXXXX.tmp``, fails on names within 14 bytes of NAME_MAX), and
the tag tells one target's temporary files from another's.

A process killed during a write (``kill -9``, the OOM killer, a power cut) runs no clean-up, so
its temporary file stays. Each save therefore first removes its target's abandoned temporaries
(:func:`remove_leftovers`). Telling abandoned from live uses ``flock``: a writer holds an
exclusive lock on its temporary file from just after creating it until after the rename, and
the kernel drops the lock when the writer dies, however it dies. A cleaner removes a file only
if it can take that lock without waiting. Where ``fcntl.flock`` does not exist (Windows), writes
are still atomic, but nothing is cleaned.

Why ``flock`` and not ``fcntl``/``lockf`` record locks: a ``flock`` lock belongs to the open
file, so two threads of one process, each with its own descriptor, exclude each other; a record
lock belongs to the process, which would let one thread's clean-up take (and unlink) another
thread's live file, and any ``close`` of the file in that process would drop it. One cost: a
child ``fork``ed without ``exec`` during a save shares the descriptor, so if the writer is then
killed, its temporary file stays until that child exits too (litter that waits, never a live
file removed).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import stat
import sys
from collections.abc import Callable
from typing import BinaryIO

try:
    from fcntl import LOCK_EX, LOCK_NB, flock
except ImportError:  # not POSIX: no advisory locks, so live and abandoned files look alike
    LOCKS_AVAILABLE = False
else:
    LOCKS_AVAILABLE = True

__all__ = ["LOCKS_AVAILABLE", "atomic_write", "remove_leftovers", "temporary_prefix"]

_TEMPORARY_NAME = re.compile(r"\.rnnkit-[0-9a-f]{16}-[0-9a-f]{16}\.tmp")
if sys.platform == "win32":
    _NOFOLLOW = 0
    _BINARY = os.O_BINARY  # a descriptor in text mode would translate line endings
else:
    _NOFOLLOW = os.O_NOFOLLOW  # never open through a symbolic link put under our name
    _BINARY = 0
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _BINARY
# A writer gives a name up only when a cleaner got to it first, in the instant between its
# create and its lock; failing this often in a row means something else is wrong.
_ATTEMPTS = 100


def temporary_prefix(path: str) -> str:
    """How the names of ``path``'s temporary files begin: ``.rnnkit-<tag>-``, where ``<tag>``
    is 16 hex digits of the BLAKE2b hash of ``path``'s base name (the file-system bytes, so any
    name hashes, and the same name in any spelling of its directory gives the same prefix)."""
    tag = hashlib.blake2b(os.fsencode(os.path.basename(path)), digest_size=8).hexdigest()
    return f".rnnkit-{tag}-"


def _lock_new_file(fd: int) -> bool:
    """Lock the just-created temporary file ``fd`` for its writer; False when a cleaner got to
    it first (the writer then gives the name up to that cleaner and draws a new one)."""
    try:
        flock(fd, LOCK_EX | LOCK_NB)
    except BlockingIOError:  # a cleaner opened it before this lock and holds it: it unlinks it
        return False
    except OSError:
        # A file system without flock: cleaners cannot lock the file either, so none removes
        # it, and the writer goes on unlocked.
        return True
    # A cleaner may have locked and unlinked it between the create and this lock; writing to a
    # file no name refers to would only make the final rename fail.
    return os.fstat(fd).st_nlink > 0


def _create_locked_temporary(directory: str, prefix: str, mode: int) -> tuple[int, str]:
    """A new, empty temporary file in ``directory``, created with ``mode`` (which the umask
    then masks) and locked for this writer: its descriptor and path."""
    for _ in range(_ATTEMPTS):
        path = os.path.join(directory, f"{prefix}{secrets.token_hex(8)}.tmp")
        try:
            fd = os.open(path, _CREATE_FLAGS, mode)
        except FileExistsError:  # 64 random bits collided: draw again
            continue
        try:
            locked = not LOCKS_AVAILABLE or _lock_new_file(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        if locked:
            return fd, path
        os.close(fd)  # not unlinked here: the cleaner that has it does that
    raise FileExistsError(f"could not create a temporary file in {directory} for {prefix}*")


def _remove_if_abandoned(path: str) -> None:
    """Unlink the temporary file ``path`` if no live writer holds its lock."""
    try:
        # O_NONBLOCK: a FIFO put under this name would otherwise block the open forever.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW)
    except OSError:  # gone (renamed into place or removed), a link, or not ours to read
        return
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            return
        try:
            flock(fd, LOCK_EX | LOCK_NB)
        except OSError:  # a live writer holds it (or this file system has no locks)
            return
        # Unlink only the file that is locked here: the name must still refer to it (a
        # finished writer renamed it into place, so the name is gone then).
        with contextlib.suppress(OSError):
            named = os.stat(path, follow_symlinks=False)
            if (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino):
                os.unlink(path)
    finally:
        os.close(fd)  # the lock goes with it: a writer that was refused tries a new name


def remove_leftovers(path: str) -> None:
    """Remove the temporary files that saves to ``path`` left when they were killed, and only
    those: files in its directory named with its :func:`temporary_prefix`, regular files, and
    unlocked. A concurrent writer's file is locked and stays; another target's files, files of
    other names and anything that is not a regular file (a FIFO, a link) are never touched.
    Best effort: an error here never fails a save. Does nothing without ``flock``."""
    if not LOCKS_AVAILABLE:
        return
    prefix = temporary_prefix(path)
    directory = os.path.dirname(os.path.abspath(path))
    candidates: list[str] = []
    with contextlib.suppress(OSError), os.scandir(directory) as entries:  # unreadable: skip
        candidates = [
            entry.path
            for entry in entries
            if entry.name.startswith(prefix)
            and _TEMPORARY_NAME.fullmatch(entry.name)
            and entry.is_file(follow_symlinks=False)
        ]
    for candidate in candidates:
        with contextlib.suppress(OSError):
            _remove_if_abandoned(candidate)


def _existing_mode(path: str) -> int | None:
    """The permission bits of the file at ``path``, None when there is none."""
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        return None


def atomic_write(path: str, write: Callable[[BinaryIO], None]) -> None:
    """Write ``path`` atomically: ``write(f)`` fills a temporary file ``f`` in the same
    directory, which is then fsynced and renamed over ``path``, and the directory fsynced. Any
    failure removes the temporary file and leaves an existing ``path`` untouched. First removes
    what killed saves to ``path`` left (:func:`remove_leftovers`).

    The new file gets the mode a plain ``open()`` would give: the old file's, else 0o666
    masked by the umask (the kernel applies it at the create; reading it with ``os.umask``
    would briefly change it for every thread of the process)."""
    directory = os.path.dirname(os.path.abspath(path))
    remove_leftovers(path)
    old_mode = _existing_mode(path)
    fd, temporary = _create_locked_temporary(
        directory, temporary_prefix(path), 0o666 if old_mode is None else old_mode
    )
    try:
        if old_mode is not None:
            # The umask may have narrowed the old mode; restore it before any byte is
            # written, so the temporary file is never more open than the file it replaces.
            os.chmod(temporary, old_mode)
        with os.fdopen(fd, "wb", closefd=False) as f:
            write(f)
            f.flush()
            os.fsync(fd)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    finally:
        # Only now may the lock go: until the rename a cleaner must see this file as live.
        os.close(fd)
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Persist the rename itself (POSIX); harmless where directories cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

"""One writer at a time on an index folder: builds, uploads and removals take ``write.lock``.

The lock is ``fcntl.flock`` on ``<index>/write.lock``: the OS releases it when its holder ends, however it
ends, so a lock left by a killed process never blocks anyone. The file holds the holder's pid, command and
start time (JSON) while it is held and is emptied on release, so a non-empty file found free names a holder
that died: it is reported as stale and taken. Readers (searches, the app) never take it: a save switches
versions with an atomic rename, so they never see a half-written index.

The lock is re-entrant within one thread (a library upload takes it and its build takes it again); other
threads of the same process wait like other processes do (flock locks belong to an open file, not a process).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

LOCK_FILE = "write.lock"
POLL_SECONDS = 0.2

_held: dict[tuple[str, int], int] = {}  # (lock path, thread id) -> depth: re-entry by the same thread
_held_guard = threading.Lock()


class IndexBusy(RuntimeError):
    """Another writer holds the index's lock (and this one was not to wait, or waited too long)."""


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def read_holder(lock_path: Path) -> dict:
    """What the lock file says about its holder ({} if empty or unreadable)."""
    try:
        holder = json.loads(Path(lock_path).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def describe(holder: dict) -> str:
    if not holder:
        return "another writer"
    command, pid, started = holder.get("command", "build"), holder.get("pid", "?"), holder.get("started", "?")
    return f"the {command} by pid {pid} started at {started}"


@contextlib.contextmanager
def writer_lock(
    index_dir: Path,
    command: str = "build",
    timeout: float | None = None,
    log: Callable[[str], None] = _stderr,
) -> Iterator[None]:
    """Hold the index folder's writer lock. ``timeout`` None waits as long as it takes (saying so once),
    0 fails at once, else fails after that many seconds; failing raises ``IndexBusy`` naming the holder."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    lock_path = index_dir / LOCK_FILE
    key = (str(lock_path.resolve()), threading.get_ident())
    with _held_guard:
        if key in _held:  # this thread holds it already
            _held[key] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _held_guard:
                _held[key] -= 1
        return
    handle = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 (held open while the lock is held)
    try:
        _acquire(handle, lock_path, timeout, log)
        stale = read_holder(lock_path)
        if stale and stale.get("pid") != os.getpid() and not pid_alive(int(stale.get("pid", 0) or 0)):
            log(f"Taking over a stale index lock: {describe(stale)} ended without releasing it.")
        handle.seek(0)
        handle.truncate()
        holder = {"pid": os.getpid(), "command": command, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        handle.write(json.dumps(holder))
        handle.flush()
        with _held_guard:
            _held[key] = 1
        try:
            yield
        finally:
            with _held_guard:
                _held.pop(key, None)
            handle.seek(0)
            handle.truncate()  # empty: released cleanly (a non-empty free file names a dead holder)
            handle.flush()
    finally:
        handle.close()  # closing releases the flock


def _acquire(handle, lock_path: Path, timeout: float | None, log: Callable[[str], None]) -> None:
    deadline = None if timeout is None else time.monotonic() + timeout
    told = False
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        holder = read_holder(lock_path)
        if deadline is not None and time.monotonic() >= deadline:
            waited = f" after waiting {timeout:g} s" if timeout else ""
            raise IndexBusy(
                f"The index at {lock_path.parent} is being written by {describe(holder)}{waited}; "
                "try again when it has finished (or wait for it: leave out --no-wait)."
            )
        if not told:
            log(f"Waiting for {describe(holder)} to finish writing {lock_path.parent}…")
            told = True
        time.sleep(POLL_SECONDS)

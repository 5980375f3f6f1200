"""One writing run at a time per policy repository, on one machine.

`apply` and `unfreeze` hold an exclusive `flock` on the repository's root folder for the
whole run (a folder nobody deletes mid-run, unlike `.mmp/`, which `git clean -X` removes).
The kernel lets go of it when the holder ends, however it ends, so a lock left by a killed
process is simply taken over (and said: its run may have left scopes in flight, which the
journal names). `.mmp/apply.lock` says who holds it: pid, host, command and start time, so a
second run refuses at once and names the holder. Across machines (a CI runner and a laptop) there
is no shared lock: apply checks each scope again just before writing it (executor.py).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import Any

from reconciler import console
from reconciler.errors import ReconcilerError
from reconciler.journal import host, who
from reconciler.units import dumps_exact, loads_exact

LOCK_FILE = "apply.lock"


class LockedError(ReconcilerError):
    pass


class RunLock:
    def __init__(self, state_dir: Path, command: str) -> None:
        self.path = state_dir / LOCK_FILE
        self.root = state_dir.parent
        self.command = command
        self._fd: int | None = None
        self._lock: int | None = None

    def __enter__(self) -> RunLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock = os.open(self.root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise LockedError(
                f"cannot take the one-run lock in {self.path.parent} ({exc.strerror or exc}); "
                "make .mmp/ a writable folder at the root of the policy repository"
            ) from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            os.close(lock)
            raise LockedError(
                f"another mmp run holds the lock of {self.root}: {_describe(holder)}. Only one "
                "apply or unfreeze runs at a time per policy repository; wait for it to end"
            ) from None
        self._lock = lock
        stale = _holder(fd)
        if stale:
            console.warn(
                f"mmp: a previous run ended without letting go of {self.path} "
                f"({_describe(stale)}): it was killed or crashed; taking the lock over. "
                "Scopes it had in flight are named below if its journal is here."
            )
        started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        info = {"pid": os.getpid(), "host": host(), "command": self.command}
        info |= {"by": who(), "started": started}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (dumps_exact(info, sort_keys=True) + "\n").encode(), 0)
            os.fsync(fd)
        except OSError as exc:
            os.close(fd)
            fcntl.flock(lock, fcntl.LOCK_UN)
            os.close(lock)
            self._lock = None
            raise LockedError(
                f"cannot record who holds the one-run lock in {self.path} "
                f"({exc.strerror or exc}); nothing was sent to any venue. Free some space "
                "on that disk (or make .mmp/ writable) and run again"
            ) from None
        self._fd = fd
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._fd is None or self._lock is None:
            return
        os.ftruncate(self._fd, 0)  # a clean end: nobody holds it
        os.close(self._fd)
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        os.close(self._lock)
        self._fd = self._lock = None


def holder(state_dir: Path) -> dict[str, Any] | None:
    """Who holds the one-run lock now (a reader's look: nothing is taken); None when free."""
    try:
        lock = os.open(state_dir.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return None
    try:
        fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            fd = os.open(state_dir / LOCK_FILE, os.O_RDONLY)
        except OSError:
            return {"unreadable": True}
        try:
            return _holder(fd) or {"unreadable": True}
        finally:
            os.close(fd)
    else:
        fcntl.flock(lock, fcntl.LOCK_UN)
        return None
    finally:
        os.close(lock)


def describe(info: dict[str, Any] | None) -> str:
    return _describe(info)


def _holder(fd: int) -> dict[str, Any] | None:
    try:
        data = os.pread(fd, 4096, 0)
        info = loads_exact(data) if data.strip() else None
    except (OSError, ValueError):
        return {"unreadable": True}
    return info if isinstance(info, dict) else None


def _describe(info: dict[str, Any] | None) -> str:
    if not info or info.get("unreadable"):
        return "its holder is not recorded (.mmp/apply.lock was removed or cut short)"
    return (
        f"`mmp {info.get('command', '?')}` pid {info.get('pid', '?')} on host "
        f"{info.get('host', '?')}, started {info.get('started', '?')} by {info.get('by', '?')}"
    )

"""One writing run at a time per policy repository, on one machine, and no read beside it.

`apply` and `unfreeze` hold an exclusive `flock` on the repository's root folder for the
whole run; `plan`, `status` and `import` hold a shared one (ReadLock). A read waits for a
running apply to end (saying so) and then reads settled state; an apply waits for the reads
under way to end. Neither spends the venues' per-IP allowances beside the other. The whole
run (a folder nobody deletes mid-run, unlike `.mmp/`, which `git clean -X` removes).
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
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from reconciler.apply.journal import host, who
from reconciler.core import console
from reconciler.core.errors import ReconcilerError
from reconciler.core.units import dumps_exact, loads_exact

LOCK_FILE = "apply.lock"
READ_WAIT_S = 600  # a read waits this long for a running apply (MMP_LOCK_WAIT_S sets it)
WRITE_WAIT_S = 60  # apply waits this long for reads (plan, status, import) to end
POLL_MS = 100


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
        if not self._take(lock):
            holder = _READERS if _readers_only(self.root) else _holder(fd)
            os.close(fd)
            os.close(lock)
            if holder is _READERS:
                raise LockedError(
                    f"reads of this repository (plan, status, import) held its lock for "
                    f"{WRITE_WAIT_S} s; nothing was sent to any venue. Run apply again when "
                    "they end"
                )
            raise LockedError(
                f"another mmp run holds the lock of {self.root}: {_describe(holder)}. Only one "
                "apply, heal or unfreeze runs at a time per policy repository; wait for it to end"
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

    def _take(self, lock: int) -> bool:
        """The exclusive lock: at once, or after the reads holding it end (within
        WRITE_WAIT_S); never while another apply or unfreeze holds it."""
        deadline, said = time.monotonic() + WRITE_WAIT_S, False
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if not _readers_only(self.root) or time.monotonic() >= deadline:
                    return False
            if not said:
                console.note(f"waiting for the reads of {self.root} under way to end")
                said = True
            time.sleep(POLL_MS / 1000)

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


class ReadLock:
    """plan, status, import: a shared lock on the repository's root for the whole read. When
    an apply or unfreeze holds it, wait for its end (read_wait_s(), saying so) and read the
    settled state; past the wait, read anyway with `contended` set and said."""

    def __init__(self, state_dir: Path, command: str) -> None:
        self.state_dir, self.root, self.command = state_dir, state_dir.parent, command
        self.contended: dict[str, Any] | None = None  # the writer still running, if read beside it
        self._lock: int | None = None

    def __enter__(self) -> ReadLock:
        try:
            lock = os.open(self.root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            return self  # no folder to lock: nothing can be running in it either
        deadline, said = time.monotonic() + read_wait_s(), False
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
                self._lock = lock
                return self
            except BlockingIOError:
                running = holder(self.state_dir) or {"unreadable": True}
            if time.monotonic() >= deadline:
                os.close(lock)
                self.contended = running
                console.warn(
                    f"mmp: {_describe(running)} is still running after {read_wait_s()} s; "
                    f"{self.command} reads beside it: scopes it is changing may show mid-change"
                )
                return self
            if not said:
                console.warn(
                    f"mmp: waiting for {_describe(running)} to end before {self.command} reads "
                    f"(at most {read_wait_s()} s; MMP_LOCK_WAIT_S sets it): its scopes are "
                    "mid-change until then"
                )
                said = True
            time.sleep(POLL_MS / 1000)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            os.close(self._lock)
            self._lock = None


def read_wait_s() -> int:
    text = os.environ.get("MMP_LOCK_WAIT_S", "")
    return int(text) if text.isdigit() else READ_WAIT_S


_READERS: dict[str, Any] = {"readers": True}


def _readers_only(root: Path) -> bool:
    """Whether those holding the lock only read: a shared lock is granted beside readers,
    never beside an apply or unfreeze (whatever its record in .mmp/ says, or not)."""
    try:
        probe = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return False
    try:
        fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(probe, fcntl.LOCK_UN)
        return True
    finally:
        os.close(probe)


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

"""The apply journal: one JSON line per event, on disk (fsynced) before the next thing happens.

It is a write-ahead log: the intent of every venue write (`reset-sent`, `set-sent`,
`remove-sent`, with the scope and the config) is on disk before the request leaves, and its
answer (`write-answered`) after. `reconciler.apply.recovery` reads it back to find runs that were
interrupted and the scopes they left in flight.

Before apply's first write, `prepare()` proves the journal can be written and reserves room
for the run's records (a reserve file beside it, given back on the first "disk full"). After
that, a failed write never raises into apply: the record goes to stderr, `failed` says why,
and apply starts nothing new and ends with exit 3 or 4. A line cut short by a crash is left
alone as a line of its own: the next record starts on a fresh line.
"""

from __future__ import annotations

import datetime as dt
import errno
import getpass
import os
import secrets as _random
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from reconciler.core.console import warn
from reconciler.core.errors import ReconcilerError
from reconciler.core.secrets import redact
from reconciler.core.units import dumps_exact, loads_exact

BYTES_PER_STEP = 4096  # room reserved per write step: its records are well under this
BASE_RESERVE = 64 * 1024


def who() -> str:
    """Who is acting, for the journal: in Actions the actor who started this run (a re-run's
    is who re-ran it: GITHUB_TRIGGERING_ACTOR), else the login."""
    actor = os.environ.get("GITHUB_TRIGGERING_ACTOR") or os.environ.get("GITHUB_ACTOR")
    if actor:
        return f"github:{actor}"
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def host() -> str:
    return socket.gethostname() or "unknown"


class JournalError(ReconcilerError):
    """The journal cannot be written before the first write: nothing is applied."""


class Journal:
    def __init__(
        self, path: Path | None, *, stderr: TextIO | None = None, policies: str | None = None
    ) -> None:
        self.path = path
        self.policies = policies  # the policies folder whose runs it records (paths.policies_id)
        self.run_id = _random.token_hex(6)
        self.kind = "apply"  # what the run is: "apply", or "heal" (`mmp heal` sets it)
        self.records: list[dict[str, Any]] = []
        self.failed: str | None = None  # why a record could not be written, once one could not
        self._stderr = stderr
        self._fd: int | None = None
        self._fresh_line = False  # the file ends mid-line: start the next record on a new one
        self._reserve: Path | None = None

    @property
    def reserve_path(self) -> Path | None:
        return None if self.path is None else self.path.with_name(self.path.name + ".reserve")

    def prepare(self, steps: int) -> None:
        """Before the first write: the journal opens, has room for `steps` steps, and that
        room is held in a reserve file. Raises JournalError (nothing applied) otherwise."""
        if self.path is None:
            return
        size = BASE_RESERVE + BYTES_PER_STEP * steps
        if self.path.exists() and not self.path.is_file():
            raise JournalError(
                f"the journal {self.path} is not a regular file; nothing was applied. Pass "
                "--journal PATH naming a file (it is created if missing)"
            )
        try:
            self._open()
            free = _free_bytes(self.path.parent)
            if free is not None and free < 2 * size:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self._hold_reserve(size)
        except OSError as exc:
            self.close()
            raise JournalError(
                f"the journal {self.path} cannot be written ({exc.strerror or exc}); nothing "
                f"was applied. It needs room for about {size // 1024} KiB: free some space or "
                "pass --journal PATH on another disk"
            ) from None

    def write(self, event: str, **fields: Any) -> None:
        """Append one record, on disk before this returns; never raises (see `failed`)."""
        record = {
            "ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "run": self.run_id,
            "event": event,
            **fields,
        }
        self.records.append(record)
        if self.path is None:
            return
        line = redact(dumps_exact(record, sort_keys=True))
        try:
            self._append(line)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT) and self._give_back_reserve():
                try:
                    self._append(line)
                    return
                except OSError as again:
                    exc = again
            self._lost(line, exc)

    def close(self) -> None:
        """Close the file and give back the reserve (the run's records are all written)."""
        self._give_back_reserve()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # ---- internals -----------------------------------------------------------------------

    def _open(self) -> int:
        if self._fd is None:
            assert self.path is not None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self._fresh_line = _ends_mid_line(self.path)
        return self._fd

    def _append(self, line: str) -> None:
        self._follow()
        fd = self._open()
        data = (("\n" if self._fresh_line else "") + line + "\n").encode("utf-8")
        self._fresh_line = True  # until all of it is down, the file may end mid-line
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)  # on disk before the next thing happens
        self._fresh_line = False

    def _follow(self) -> None:
        """The journal file was removed under the run (`.mmp/` deleted, say): go on in a new
        one at the same path, rather than writing on into a file nobody can read."""
        if self._fd is None or self.path is None:
            return
        try:
            same = os.stat(self.path).st_ino == os.fstat(self._fd).st_ino
        except OSError:
            same = False
        if not same:
            os.close(self._fd)
            self._fd = None
            warn(f"mmp: the journal {self.path} was removed during the run; it goes on anew")

    def _hold_reserve(self, size: int) -> None:
        reserve = self.reserve_path
        assert reserve is not None
        fd = os.open(reserve, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            try:
                os.posix_fallocate(fd, 0, size)
            except (AttributeError, OSError) as exc:
                if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise
                os.write(fd, b"\0" * size)  # no fallocate here: write the room out
            os.fsync(fd)
        except OSError:
            os.close(fd)
            reserve.unlink(missing_ok=True)
            raise
        os.close(fd)
        self._reserve = reserve

    def _give_back_reserve(self) -> bool:
        if self._reserve is None:
            return False
        self._reserve.unlink(missing_ok=True)
        self._reserve = None
        return True

    def _lost(self, line: str, exc: OSError) -> None:
        first = self.failed is None
        self.failed = f"{self.path}: {exc.strerror or exc}"
        if first:
            warn(
                f"mmp: the journal cannot be written ({self.failed}); no new step will start, "
                "and the records that could not be written follow here:",
                self._stderr,
            )
        warn(f"journal: {line}", self._stderr)


def _free_bytes(folder: Path) -> int | None:
    try:
        stats = os.statvfs(folder)
    except (AttributeError, OSError):
        return None
    return stats.f_bavail * stats.f_frsize


def _ends_mid_line(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell() == 0:
                return False
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) != b"\n"
    except OSError:
        return False


@dataclass(frozen=True)
class Unreadable:
    """A journal line that is not a whole record: cut short by a crash or a full disk."""

    line: int
    text: str


def parse(text: str) -> dict[str, Any] | None:
    """One journal line as the record it holds; None for a line that is not one (cut short,
    edited, another tool's): a JSON object with an `event`."""
    try:
        record = loads_exact(text)
    except (ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("event"), str) else None


def read(path: Path) -> Iterator[dict[str, Any] | Unreadable]:
    """Every record of a journal in order; broken lines as Unreadable, blank lines skipped."""
    try:
        handle = path.open("r", encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return
    with handle:
        for number, text in enumerate(handle, 1):
            if not text.strip():
                continue
            record = parse(text)
            yield record if record is not None else Unreadable(number, text.rstrip("\n")[:200])

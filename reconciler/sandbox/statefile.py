"""A state file that several processes share: one at a time, every version whole.

`lock()` takes an exclusive `flock` on a lock file beside the state file (the kernel lets
go of it when its holder ends, however it ends). Under it, `changed()` says whether the file
is another version than the one this process last read or wrote, and `write()` replaces the
file atomically: a temp file of its own in the same folder, written, fsynced, renamed over
the state file, and the folder fsynced. A reader therefore sees either the old version or
the new one, never a mix, and a SIGKILL at any point leaves one of the two.

A version is known by (device, inode, size, mtime_ns) and this process keeps the version it
last saw open, so that inode cannot be freed and given to a newer version: a writer always
makes a new file, so the same inode means the same version (size and mtime catch an editor
writing in place).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import weakref
from pathlib import Path

Version = tuple[int, int, int, int]


class StateFile:
    def __init__(self, path: Path) -> None:
        self.path = path.absolute()
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._seen: Version | None = None
        self._held = [-1]  # fd open on the version seen; closed with this object
        weakref.finalize(self, _close, self._held)

    def lock(self) -> int:
        """Take the exclusive inter-process lock, waiting until it is free; `unlock` the
        descriptor returned."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        return fd

    @staticmethod
    def unlock(fd: int) -> None:
        os.close(fd)  # closing the only descriptor of this open file releases the lock

    def changed(self) -> bool:
        """Whether the file is missing, or not the version last read or written here."""
        try:
            return _version(os.stat(self.path)) != self._seen
        except FileNotFoundError:
            return True

    def read(self) -> bytes | None:
        """The file's bytes (None when there is no file), which become the version seen."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            self._hold(-1, None)
            return None
        try:
            version = _version(os.fstat(fd))
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
        except BaseException:
            os.close(fd)
            raise
        self._hold(fd, version)
        return b"".join(chunks)

    def write(self, data: bytes) -> None:
        """Replace the file with data atomically; it becomes the version seen. Raises OSError
        with the file untouched when the new version could not be put in place."""
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            version = _version(os.fstat(fd))
            os.replace(tmp, self.path)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._hold(fd, version)

    def sync_folder(self) -> None:
        """Make the last rename durable (it is already visible to every process)."""
        fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def remove_stale_temps(self) -> None:
        """Remove temp files a killed writer left. Call under the lock: no live writer has
        one then, since writers make theirs under the lock too."""
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()

    def forget(self) -> None:
        """Count the file as changed, so that the next look reads it again."""
        self._hold(-1, None)

    def _hold(self, fd: int, version: Version | None) -> None:
        _close(self._held)
        self._held[0], self._seen = fd, version


def _version(st: os.stat_result) -> Version:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _close(held: list[int]) -> None:
    if held[0] >= 0:
        os.close(held[0])
        held[0] = -1

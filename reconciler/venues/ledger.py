"""What the mmp processes of one machine spent of each venue's per-IP allowance, kept in a
small file (`.mmp/ratelimits.json`) so that a plan and the apply right after it, or two runs
at once, do not cross together a window the venue counts per IP: Binance bans the IP (418)
and Bullish blocks it for 60 s, which in the middle of a replacement means a scope without
MMP. Each process seeds its windows from the file when it starts and adds its own requests
to it when it ends (under a lock, entries older than their window dropped)."""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

from reconciler.core.units import dumps_exact, loads_exact, now

Spent = dict[str, list[int]]  # window key -> wall-clock ms of each request inside it


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Spent:
        try:
            data = loads_exact(self.path.read_bytes())
        except (OSError, ValueError, RecursionError):
            return {}  # none yet, or unreadable: start from nothing (the venue still tells)
        if not isinstance(data, dict):
            return {}
        return {
            str(key): [t for t in times if isinstance(t, int)]
            for key, times in data.items()
            if isinstance(times, list)
        }

    def add(self, spent: Spent, windows_ms: dict[str, int]) -> None:
        """Merge this process's requests in; best effort (a ledger that cannot be written
        only loses the pacing hint, never a write to a venue)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
                merged = self.load()
                now_ms = now("ms")
                for key, times in spent.items():  # a multiset: two requests in one ms are two
                    merged[key] = sorted([*merged.get(key, []), *times])
                for key in list(merged):
                    window = windows_ms.get(key, 60_000)
                    merged[key] = [t for t in merged[key] if t + window > now_ms]
                    if not merged[key]:
                        del merged[key]
                self._write(merged)
        except OSError:
            return

    def _write(self, data: Spent) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".ratelimits.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(dumps_exact(data, sort_keys=True))
            os.replace(tmp, self.path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
            raise

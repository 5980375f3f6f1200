"""The apply journal: one JSON line per event, written before and after every step."""

from __future__ import annotations

import datetime as dt
import getpass
import os
import secrets as _random
from pathlib import Path
from typing import Any

from reconciler.secrets import redact
from reconciler.units import dumps_exact


def who() -> str:
    """Who is acting, for the journal: the GitHub actor in Actions, else the login."""
    actor = os.environ.get("GITHUB_ACTOR")
    if actor:
        return f"github:{actor}"
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class Journal:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.run_id = _random.token_hex(6)
        self.records: list[dict[str, Any]] = []

    def write(self, event: str, **fields: Any) -> None:
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())  # a step is on disk before the next one starts

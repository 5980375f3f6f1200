"""`--sandbox`: every venue replaced by its simulator, state kept in .mmp/sandbox.json.

Deleting the file starts the example desk afresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from reconciler.desired import AccountTarget
from reconciler.units import dumps_exact, loads_exact
from reconciler.venues.base import Credentials, VenueSandbox, VenueSpec

STATE_FILE = Path(".mmp") / "sandbox.json"


class Sandbox:
    def __init__(self, venues: Mapping[str, VenueSpec], path: Path = STATE_FILE) -> None:
        self.path = path
        saved: dict[str, Any] = loads_exact(path.read_bytes()) if path.exists() else {}
        self.venues: dict[str, VenueSandbox] = {
            name: spec.sandbox(saved.get(name)) for name, spec in venues.items()
        }

    def credentials(self, targets: list[AccountTarget]) -> dict[str, Credentials]:
        return {t.name: self.venues[t.venue].credentials(t.name) for t in targets}

    def transport(self, venue: str) -> httpx.AsyncBaseTransport:
        return self.venues[venue].transport()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        state = {name: sandbox.dump() for name, sandbox in sorted(self.venues.items())}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(dumps_exact(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(self.path)

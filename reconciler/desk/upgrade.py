"""What `mmp init --upgrade` changes in a desk: its workflows, its schema and its pre-commit
pin, moved to this mmp (the pin given, else this mmp as the kind of pin the desk has)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reconciler.core.console import note
from reconciler.core.errors import ReconcilerError
from reconciler.desk import changes, origin, scaffold, sync
from reconciler.desk.pin import Pin
from reconciler.policy.schema import schema_text


@dataclass(frozen=True)
class Upgrade:
    changes: list[changes.Change]
    pin: Pin  # what the workflows install after it
    old: Pin | None  # what they installed before
    said: str  # where this mmp came from, when the pin is this mmp's


def plan(root: Path, given: Pin | None) -> Upgrade:
    if not (root / "policies").is_dir():
        raise ReconcilerError(
            f"{root} has no policies/ folder: `mmp init --upgrade DIR` moves a desk that "
            "`mmp init` made (DIR is its root, the folder holding policies/ and .github/)"
        )
    desk = sync.Desk.at(root / "policies", None)
    old = sync.current_pin(desk.read(), desk)
    pin, said = (given, "") if given else origin.upgraded(old)
    made = sync.changes_to(desk, sync.planned(desk, pin, upgrade=True))
    schema = root / scaffold.SCHEMA
    made.append(changes.change(schema, schema_text()))
    config = _pre_commit(root, old, pin)
    if config is not None:
        made.append(config)
    return Upgrade(made, pin, old, said)


def _pre_commit(root: Path, old: Pin | None, new: Pin) -> changes.Change | None:
    """The pre-commit config moved to the new pin, if it is one mmp init wrote."""
    path = root / scaffold.PRE_COMMIT
    there = changes.read(path)
    if there is None:
        return None
    moved = scaffold.upgraded_pre_commit(there[0], old, new)
    if moved is None:
        note(f"{path}: not as mmp init wrote it; move its mmp pin to {new.spec} by hand")
        return None
    return changes.change(path, moved)

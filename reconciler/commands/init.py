"""`mmp init [DIR]`: a new desk repository; `mmp init --upgrade`: its pinned mmp moved to
the one running, the diff shown first."""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path

from reconciler.core.console import note, out
from reconciler.core.errors import ReconcilerError
from reconciler.desk import example, scaffold, sync
from reconciler.desk import pin as pins
from reconciler.policy.schema import schema_text


def command(args: argparse.Namespace) -> int:
    root: Path = args.dir
    pin, where = (pins.parse(args.pin), None) if args.pin else pins.installed()
    if args.upgrade:
        return _upgrade(root, pin)
    files = scaffold.files(example.venues(args.venue), pin)
    taken = [path for path in files if (root / path).exists()]
    if taken and not args.force:
        raise ReconcilerError(
            f"{root}: these exist already, and nothing was written: {', '.join(taken)}; "
            "give --force to overwrite them, or `mmp init --upgrade` to move an existing "
            "desk to this mmp"
        )
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        out(f"{'overwrote' if path in taken else 'wrote'} {target}\n")
    out(f"the workflows install {pin.spec}\n")
    if where:
        note(where)
    note(f"next: cd {root} && git init && mmp validate && mmp plan --sandbox; then README.md")
    return 0


def _upgrade(root: Path, pin: pins.Pin) -> int:
    if pin.spec == pins.CHECKOUT:
        raise ReconcilerError("--pin . is only for mmp's own repository")
    desk = sync.Desk.at(root / "policies", None)
    old = sync.current_pin(desk.read(), desk)
    workflows = sync.planned(desk, pin, upgrade=True)
    changed = sync.diff(desk, workflows)
    others = _others(root, old, pin)
    for path, (before, after) in others.items():
        changed += _diff(path, before, after)
    if not changed:
        out(f"{root}: already at {pin.spec}; nothing to change\n")
        return 0
    out(changed)
    for line in sync.write(desk, workflows):
        out(line + "\n")
    for path, (_, after) in others.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(after, encoding="utf-8")
        out(f"updated {root / path}\n")
    out(f"the workflows install {pin.spec} (were: {old.spec if old else 'none found'})\n")
    return 0


def _others(root: Path, old: pins.Pin | None, new: pins.Pin) -> dict[str, tuple[str, str]]:
    """The schema and the pre-commit pin, where they change: path -> (before, after)."""
    changes: dict[str, tuple[str, str]] = {}
    schema = root / scaffold.SCHEMA
    before = schema.read_text(encoding="utf-8") if schema.is_file() else ""
    if before != (after := schema_text()):
        changes[scaffold.SCHEMA] = (before, after)
    config = root / scaffold.PRE_COMMIT
    if config.is_file():
        text = config.read_text(encoding="utf-8")
        moved = scaffold.upgraded_pre_commit(text, old, new)
        if moved is None:
            note(f"{config}: not as mmp init wrote it; move its mmp pin to {new.spec} by hand")
        elif moved != text:
            changes[scaffold.PRE_COMMIT] = (text, moved)
    return changes


def _diff(path: str, before: str, after: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"a/{path}",
            tofile=f"b/{path}",
        )
    )

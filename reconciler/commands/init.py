"""`mmp init [DIR]`: a new desk repository; `mmp init --upgrade`: its pinned mmp moved to
the one running, every replaced file's diff shown and approved first."""

from __future__ import annotations

import argparse
from pathlib import Path

from reconciler.core.console import note, out
from reconciler.core.errors import ReconcilerError
from reconciler.desk import changes, example, origin, scaffold, targets, upgrade
from reconciler.desk import pin as pins


def command(args: argparse.Namespace) -> int:
    root: Path = args.dir
    given = pins.chosen(args.pin) if args.pin else None
    if args.upgrade:
        return _upgrade(root, given, args.yes)
    venues = example.venues(args.venue)
    taken = targets.check(root, scaffold.paths(), args.force)
    pin, said = (given, "") if given else origin.installed()
    files = scaffold.files(venues, pin)
    for path, text in files.items():
        target = root / path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ReconcilerError(
                f"could not write {target} ({exc.strerror or exc}); the files listed above "
                "were written"
            ) from None
        out(f"{'overwrote' if path in taken else 'wrote'} {target}\n")
    out(f"the workflows install {pin.spec}\n")
    if said:
        note(said)
    note(f"next: cd {root} && git init && mmp validate && mmp plan --sandbox; then README.md")
    return 0


def _upgrade(root: Path, given: pins.Pin | None, yes: bool) -> int:
    made = upgrade.plan(root, given)
    if made.said:
        note(made.said)
    if not any(c.writes for c in made.changes):
        out(f"{root}: already at {made.pin.spec}; nothing to change\n")
        return 0
    out(changes.diff(made.changes))
    changes.approve(made.changes, yes, "mmp init --upgrade")
    for line in changes.write(made.changes):
        out(line + "\n")
    were = made.old.spec if made.old else "none found"
    out(f"the workflows install {made.pin.spec} (were: {were})\n")
    return 0

"""`mmp workflows --check | --write`: the GitHub workflows against the policies."""

from __future__ import annotations

import argparse

from reconciler.core.console import error, note, out
from reconciler.core.errors import ReconcilerError
from reconciler.desk import changes, sync
from reconciler.desk import pin as pins


def command(args: argparse.Namespace) -> int:
    desk = sync.Desk.at(args.policies, args.dir)
    if args.check and (args.pin or args.yes):
        raise ReconcilerError(
            f"{'--pin' if args.pin else '--yes'} goes with --write (--check writes nothing, "
            "and compares with the mmp the files pin already)"
        )
    if args.check:
        problems = sync.check(desk)
        if not problems:
            out(f"{desk.workflows}: the workflows match the policies\n")
            return 0
        for problem in problems:
            error(problem)
        note("`mmp workflows --write` brings the workflows in line with the policies")
        return 1
    pin, said = sync.pin_for_write(desk, pins.chosen(args.pin) if args.pin else None)
    made = sync.changes_to(desk, sync.planned(desk, pin))
    out(changes.diff(made))
    changes.approve(made, args.yes, "mmp workflows --write")
    for line in changes.write(made):
        out(line + "\n")
    if said and any(c.writes for c in made):
        note(f"{said}: the workflows install {pin.spec}")
    return 0

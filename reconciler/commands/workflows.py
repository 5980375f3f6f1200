"""`mmp workflows --check | --write`: the GitHub workflows against the policies."""

from __future__ import annotations

import argparse

from reconciler.core.console import error, note, out
from reconciler.core.errors import ReconcilerError
from reconciler.desk import pin as pins
from reconciler.desk import sync


def command(args: argparse.Namespace) -> int:
    desk = sync.Desk.at(args.policies, args.dir)
    if args.check and args.pin:
        raise ReconcilerError(
            "--pin goes with --write (--check compares with the mmp the files pin already)"
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
    pin = pins.parse(args.pin) if args.pin else None
    files = sync.planned(desk, pin)
    for line in sync.write(desk, files):
        out(line + "\n")
    said = pins.installed()[1]
    if pin is None and said and sync.current_pin(desk.read(), desk) == pins.installed()[0]:
        note(said)  # the files pin this mmp, which an index may not hold
    return 0

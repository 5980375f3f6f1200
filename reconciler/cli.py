"""The `mmp` command: a thin boundary with a fixed exit-code contract.

validate | plan | apply. Every ReconcilerError becomes one clear message and exit 1; no
traceback for a user error. Secrets are redacted from everything printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from reconciler import __version__
from reconciler.errors import ReconcilerError
from reconciler.secrets import redact

CRASH_LOG = Path(".mmp") / "crash.log"

EPILOG = """examples:
  mmp validate
  mmp plan --sandbox
  mmp plan --format markdown --out plan.json
  mmp apply plan.json
  mmp apply --sandbox --auto-approve
exit codes: plan --detailed-exitcode 0 no changes, 2 changes, 1 error;
  apply 0 applied and verified, 1 failed before any write, 3 partial but every scope safe,
  4 a scope may be unprotected"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmp",
        description="Market Maker Protection settings as code.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mmp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--policies",
        type=Path,
        default=Path("policies"),
        help="policy folder or file (default: policies)",
    )
    common.add_argument("--no-color", action="store_true", help="never colour the output")

    live = argparse.ArgumentParser(add_help=False)
    live.add_argument(
        "--sandbox",
        action="store_true",
        help="use the built-in venue simulators (state in .mmp/sandbox.json)",
    )
    live.add_argument("--account", action="append", default=[], help="only this account")
    live.add_argument("--venue", action="append", default=[], help="only this venue")
    live.add_argument("--underlying", action="append", default=[], help="only this underlying")
    live.add_argument(
        "--concurrency", type=int, default=8, help="concurrent account reads per venue (default: 8)"
    )

    sub.add_parser(
        "validate",
        parents=[common],
        help="check the policies offline",
        description="Check every policy file; report every problem at once.",
    )
    plan = sub.add_parser(
        "plan",
        parents=[common, live],
        help="show what apply would change",
        description="Read live MMP settings and show what would change. "
        "Writes nothing to any venue.",
    )
    plan.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    plan.add_argument("--out", type=Path, help="save the plan for `mmp apply FILE`")
    plan.add_argument(
        "--expires",
        type=int,
        default=15,
        metavar="MINUTES",
        help="a saved plan expires after this many minutes (default: 15)",
    )
    plan.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 2 when there are changes, 0 when none",
    )
    apply = sub.add_parser(
        "apply",
        parents=[common, live],
        help="carry out the plan",
        description="Plan (or load a saved plan), ask for approval, apply, "
        "verify every change and journal every step.",
    )
    apply.add_argument("planfile", nargs="?", type=Path, help="a plan saved by plan --out")
    apply.add_argument(
        "--force", action="store_true", help="apply although guardrails tripped (journaled)"
    )
    apply.add_argument(
        "--auto-approve",
        action="store_true",
        help="do not ask; required when stdin is not a terminal",
    )
    apply.add_argument(
        "--journal",
        type=Path,
        default=Path(".mmp") / "journal.jsonl",
        help="JSONL journal of every step (default: .mmp/journal.jsonl)",
    )
    unfreeze = sub.add_parser(
        "unfreeze",
        parents=[common],
        help="unfreeze one frozen scope (never part of apply)",
        description="Call the venue's reset on one frozen scope, after approval, and journal "
        "who did it and why. Apply never unfreezes anything.",
    )
    unfreeze.add_argument("scope", help="venue/account/underlying[/group]")
    unfreeze.add_argument("--reason", required=True, help="why this scope may quote again")
    unfreeze.add_argument("--sandbox", action="store_true", help="use the simulators")
    unfreeze.add_argument("--auto-approve", action="store_true", help="do not ask")
    unfreeze.add_argument(
        "--journal", type=Path, default=Path(".mmp") / "journal.jsonl", help="JSONL journal"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from reconciler import commands  # lazy: `mmp --help` stays fast

    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "validate": commands.validate,
        "plan": commands.plan,
        "apply": commands.apply,
        "unfreeze": commands.unfreeze,
    }
    args.colour = not args.no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()
    try:
        return handlers[args.command](args)
    except ReconcilerError as exc:
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception:  # a bug: one line for the user, the traceback to a file
        CRASH_LOG.parent.mkdir(parents=True, exist_ok=True)
        CRASH_LOG.write_text(redact(traceback.format_exc()), encoding="utf-8")
        kind = sys.exc_info()[0]
        name = kind.__name__ if kind else "error"
        print(f"error: unexpected {name} (a bug in mmp; details in {CRASH_LOG})", file=sys.stderr)
        return 1

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
        "--shard",
        metavar="K/N|venue=NAME",
        help="plan only the accounts this shard owns, exactly (removals included)",
    )
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
    _add_github(sub, common)
    return parser


def _add_github(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    github = sub.add_parser(
        "github",
        help="post the plan to a pull request, or file the drift issue (in GitHub Actions)",
        description="Run inside GitHub Actions: reads GITHUB_API_URL, GITHUB_REPOSITORY, "
        "GITHUB_TOKEN, GITHUB_EVENT_PATH, GITHUB_RUN_ID and writes GITHUB_STEP_SUMMARY.",
    )
    actions = github.add_subparsers(dest="github_command", required=True, metavar="ACTION")
    post = actions.add_parser(
        "comment",
        parents=[common],
        help="create or update the one plan comment on the pull request",
        description="Post a saved plan as the pull request's one sticky comment (found again "
        "by a hidden marker and edited in place) and write it to the job summary.",
        epilog="examples:\n  mmp plan --out .mmp/plan.json && mmp github comment .mmp/plan.json\n"
        "  mmp github comment --failed .mmp/plan.log",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    post.add_argument("planfile", nargs="?", type=Path, help="a plan saved by mmp plan --out")
    post.add_argument("--failed", type=Path, metavar="LOG", help="say the plan failed; show LOG")
    post.add_argument("--pr", type=int, help="pull request number (default: from the event)")
    report_drift = actions.add_parser(
        "drift",
        parents=[common],
        help="open, update or close the drift issue from saved plans (shards merged)",
        description="Merge the saved plans of one split (every account exactly once), then "
        "open or update the labelled drift issue, or close it when nothing drifts.",
        epilog="example:\n  mmp plan --shard venue=deribit --out .mmp/drift-deribit.json\n"
        "  mmp github drift .mmp/drift-*.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report_drift.add_argument("planfiles", nargs="+", type=Path, help="saved plans (shards)")
    show = actions.add_parser(
        "summary",
        parents=[common],
        help="write a saved plan's Markdown to the job summary",
        description="Append a saved plan, as Markdown within GitHub's 1 MiB limit, to "
        "GITHUB_STEP_SUMMARY (the apply workflow shows reviewers the plan this way).",
    )
    show.add_argument("planfile", type=Path, help="a plan saved by mmp plan --out")


def _github(args: argparse.Namespace) -> int:
    from reconciler.github import commands as github

    actions = {"comment": github.comment, "drift": github.drift, "summary": github.summary}
    return actions[args.github_command](args)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from reconciler import commands  # lazy: `mmp --help` stays fast

    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "validate": commands.validate,
        "plan": commands.plan,
        "apply": commands.apply,
        "unfreeze": commands.unfreeze,
        "github": _github,
    }
    if os.environ.get("MMP_SANDBOX", "") not in ("", "0", "false") and hasattr(args, "sandbox"):
        if not args.sandbox:
            print("MMP_SANDBOX is set: using the simulators, not the venues", file=sys.stderr)
        args.sandbox = True
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

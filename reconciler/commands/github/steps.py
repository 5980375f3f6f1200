"""The workflows' steps, one command each: `mmp github plan`, `shard`, `apply` and `heal`.

Each runs one mmp command in this same process, so a signal reaches `mmp apply` as it would
on a terminal (no wrapper between the runner and apply). What the command prints shows in
the step's log as usual and is kept in the files the workflows upload. Inputs come from the
environment the workflow sets, never from `${{ }}` in a script:

- MMP_ACCOUNT: plan only this account (the apply workflow's dispatch input; empty: all);
- MMP_FORCE: `true` to apply although guardrails tripped (the dispatch input `force`; empty
  or `false` otherwise); refused on a push, since a merge never forces;
- MMP_SHARD: the drift shard the job plans, `venue=NAME` or `K/N`;
- GITHUB_TOKEN (heal): to ask GitHub where the heal branch is now (`contents: read`);
  (apply, heal, shard, plan --history): to read the journals of earlier runs (`actions:
  read`, reconciler.commands.github.history), carried forward in this run's journal.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from reconciler.cli import main
from reconciler.commands.github import history
from reconciler.commands.github.branch import github_watch
from reconciler.commands.github.comment import failure_comment, plan_comment, post
from reconciler.commands.github.context import RunContext
from reconciler.commands.healbranch import watching
from reconciler.core import console
from reconciler.core.errors import GitHubError
from reconciler.core.secrets import redact
from reconciler.core.units import dumps_exact, loads_exact
from reconciler.planning import planfile
from reconciler.planning.render.markdown import SUMMARY_LIMIT, document

CHANGES = {0: "false", 2: "true"}  # `mmp plan --detailed-exitcode`: no changes, changes
JOURNAL, APPLY_OUTPUT = "journal.jsonl", "apply.txt"
HEAL_REPORT, HEAL_OUTPUT = "heal.json", "heal.txt"


def plan(args: argparse.Namespace) -> int:
    """`mmp plan` saved to PLANFILE and its text to PLANFILE.txt; the step output `changes`
    is `true` or `false` and the exit 0 either way, or the plan's own exit when it failed.
    --comment: the pull request's one comment says the plan, or the error that stopped it.
    --summary: the plan in the job summary, below a warning when MMP_FORCE is true.
    --history: planned with the journals of earlier runs (journal.jsonl beside PLANFILE),
    so the plan names what an earlier apply or heal left unfinished."""
    if args.planfile.suffix == ".txt":
        raise GitHubError(f"{args.planfile}: name the plan file .json; its text goes to .txt")
    ctx = RunContext.from_env(api=args.comment, summary=args.comment or args.summary)
    force = args.summary and forced(os.environ)
    argv = ["plan", f"--out={args.planfile}", "--detailed-exitcode", f"--expires={args.expires}"]
    account = os.environ.get("MMP_ACCOUNT", "").strip()
    argv += [f"--account={account}"] if account else []
    args.planfile.parent.mkdir(parents=True, exist_ok=True)
    carried = None
    if args.history:
        carried = _carry(args.planfile.parent / JOURNAL)
        argv.append(f"--journal={carried.path}")
    status, errors = run_mmp(argv + _common(args), keep=args.planfile.with_suffix(".txt"))
    if args.comment:
        if status in CHANGES:
            body, summary = plan_comment(planfile.load(args.planfile).plan, ctx.run_url)
        else:
            body = summary = failure_comment(redact(errors), ctx.run_url)
        ctx.append_summary(summary)
        post(ctx, body)
    if status not in CHANGES:
        return status
    ctx.set_output("changes", CHANGES[status])
    if args.summary:
        warning = force_warning(ctx.actor) if force else ""
        warning += _unknown(carried)
        saved = planfile.load(args.planfile).plan
        ctx.append_summary(warning + document(saved, limit=SUMMARY_LIMIT, link=ctx.run_url))
    return 0


def shard(args: argparse.Namespace) -> int:
    """The drift shard MMP_SHARD planned into FOLDER, named after it (`venue-NAME.json`,
    `K-of-N.json`), with the journals of earlier runs gathered beside FOLDER first. Exit 0
    with or without drift; the plan's own exit when it failed, and then no file: the report
    names the shard's accounts "not checked"."""
    spec = os.environ.get("MMP_SHARD", "").strip()
    path = args.folder / f"{shard_name(spec)}.json"
    args.folder.mkdir(parents=True, exist_ok=True)
    argv = ["plan", f"--shard={spec}", "--detailed-exitcode", f"--out={path}"]
    # what earlier runs left unfinished is named in the plan (read only: never kept again)
    argv.append(f"--journal={_carry(args.folder.parent / JOURNAL).path}")
    status, _ = run_mmp(argv + _common(args))
    return 0 if status in CHANGES else status


def apply(args: argparse.Namespace) -> int:
    """Apply the approved PLANFILE (no prompt: the environment's reviewers approved the job),
    journaled to journal.jsonl next to it, with --force when MMP_FORCE is true. What apply
    prints goes to the log, to apply.txt next to the plan and to the job summary; the exit
    is apply's own."""
    ctx = RunContext.from_env(api=False)
    folder = args.planfile.parent
    force = forced(os.environ)
    carried = _carry(folder / JOURNAL)
    argv = ["apply", "--auto-approve", f"--journal={carried.path}"]
    argv += ["--force"] if force else []
    # the journal is kept even when apply wrote nothing: each apply artifact carries it all
    status, _ = run_mmp([*argv, *_common(args), "--", str(args.planfile)], folder / APPLY_OUTPUT)
    shown = fenced((folder / APPLY_OUTPUT).read_text(encoding="utf-8"))
    ctx.append_summary(_unknown(carried) + shown)
    return status


def heal(args: argparse.Namespace) -> int:
    """`mmp heal` (no prompt: what it writes was reviewed when it was merged), journaled to
    journal.jsonl in FOLDER, its report to heal.json there (`mmp github drift --healed`),
    what it prints to heal.txt there and to the job summary; the exit is heal's. Before each
    write heal asks GitHub whether the heal branch is still at GITHUB_SHA, and writes nothing
    more once it is not, or once GitHub gives no usable answer (healbranch.py)."""
    ctx = RunContext.from_env(api=False)
    folder = args.folder
    folder.mkdir(parents=True, exist_ok=True)
    with github_watch(os.environ) as watch, watching(watch):
        carried = _carry(folder / JOURNAL)
        argv = ["heal", f"--journal={carried.path}", f"--report={folder / HEAL_REPORT}"]
        status, _ = run_mmp([*argv, *_common(args)], folder / HEAL_OUTPUT)
    carried.settle()
    _add_history(folder / HEAL_REPORT, carried)
    shown = fenced((folder / HEAL_OUTPUT).read_text(encoding="utf-8"))
    ctx.append_summary(_unknown(carried) + shown)
    return status


def _carry(journal: Path) -> history.Carried:
    """The journals of earlier runs on this run's branch (GITHUB_REF_NAME) into `journal`."""
    return history.carry(os.environ, journal, os.environ.get("GITHUB_REF_NAME", ""))


def _unknown(carried: history.Carried | None) -> str:
    """A warning for the job summary when the earlier runs' journals could not all be read."""
    if carried is None or not carried.warning:
        return ""
    return f"> [!WARNING]\n> {carried.line()}\n\n"


def _add_history(report: Path, carried: history.Carried) -> None:
    """heal.json says what heal knew of earlier runs (the drift issue says it when not)."""
    try:
        data = loads_exact(report.read_bytes())
        data["history"] = carried.report()
        report.write_text(dumps_exact(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    except (OSError, ValueError, TypeError):
        return  # no report (heal stopped before it planned): the issue says that instead


def forced(env: Mapping[str, str]) -> bool:
    """MMP_FORCE as the workflow sets it from a boolean input: `true`, `false` or empty."""
    value = env.get("MMP_FORCE", "").strip().lower()
    if value in ("", "false"):
        return False
    if value != "true":
        shown = value if value.isprintable() and len(value) <= 20 else repr(value[:20])
        raise GitHubError(f"MMP_FORCE={shown} is neither true nor false (nor empty)")
    if env.get("GITHUB_EVENT_NAME") == "push":
        raise GitHubError(
            "MMP_FORCE=true on a push: a merge never forces. To apply although guardrails "
            "tripped, dispatch the apply workflow with mode apply and force, which its "
            "reviewers see before they approve"
        )
    return True


def force_warning(actor: str) -> str:
    """What the reviewers of the apply job read above the plan before they approve it."""
    who = re.sub(r"[^\w.\[\]-]", "?", actor) or "(GITHUB_ACTOR not set)"
    return (
        "> [!WARNING]\n"
        f"> **Dispatched with force by {who}**: if you approve, apply runs with `--force` "
        "and writes even the changes the guardrails below refuse.\n\n"
    )


def shard_name(spec: str) -> str:
    """A file name for a shard's plan: `venue-deribit` for venue=deribit, `2-of-4` for 2/4."""
    if match := re.fullmatch(r"venue=(\w[\w-]*)", spec, re.ASCII):
        return f"venue-{match[1]}"
    if match := re.fullmatch(r"(\d+)/(\d+)", spec):
        return f"{match[1]}-of-{match[2]}"
    shown = spec if spec.isprintable() and len(spec) <= 40 else repr(spec[:40])
    raise GitHubError(
        f"MMP_SHARD={shown}: set it to the shard this job plans, venue=NAME or K/N "
        "(e.g. `MMP_SHARD: venue=${{ matrix.venue }}`)"
    )


def fenced(text: str) -> str:
    """Text shown as is in Markdown: in a fence longer than any run of backticks in it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"{fence}\n{body}{fence}\n"


def run_mmp(argv: list[str], keep: Path | None = None) -> tuple[int, str]:
    """`mmp ARGV` in this process: (its exit code, what it printed on stderr). Its output
    shows as usual; stdout is also written to `keep` as it comes, so a kill leaves there
    what was printed."""
    remembered = (console.settings.quiet, console.settings.verbose, console.settings.colour)
    errors = io.StringIO()
    with contextlib.ExitStack() as stack:
        kept = stack.enter_context(keep.open("w", encoding="utf-8")) if keep else io.StringIO()
        stack.enter_context(contextlib.redirect_stdout(_Tee(sys.stdout, kept)))
        stack.enter_context(contextlib.redirect_stderr(_Tee(sys.stderr, errors)))
        status = main(argv)
    quiet, verbose, colour = remembered
    console.configure(quiet=quiet, verbose=verbose, colour=colour)  # this command's again
    return status, errors.getvalue()


class _Tee(io.TextIOBase):
    """Writes to the stream shown and to the one kept; never a terminal (no colour, no
    progress line), as in a workflow's log."""

    def __init__(self, shown: TextIO, kept: TextIO) -> None:
        super().__init__()
        self.shown, self.kept = shown, kept

    def write(self, text: str) -> int:
        self.kept.write(text)
        return self.shown.write(text)

    def flush(self) -> None:
        self.kept.flush()
        self.shown.flush()

    def isatty(self) -> bool:
        return False


def _common(args: argparse.Namespace) -> list[str]:
    """This command's --policies, --no-color, --quiet and --verbose, for the one it runs."""
    flags = [f"--policies={args.policies}"]
    flags += ["--no-color"] if args.no_color else []
    flags += ["--quiet"] if args.quiet else []
    return flags + ["--verbose"] * args.verbose

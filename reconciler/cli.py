"""The `mmp` command: a thin boundary with a fixed exit-code contract.

validate | plan | apply. Every ReconcilerError becomes one clear message and exit 1; no
traceback for a user error. Secrets are redacted from everything printed.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from reconciler import __version__
from reconciler.core import console, crash
from reconciler.core.errors import ReconcilerError
from reconciler.core.secrets import redact

MAX_EXPIRES_MINUTES = 7 * 24 * 60

EPILOG = """examples:
  mmp validate
  mmp plan --sandbox
  mmp plan --out plan.json && mmp apply plan.json
  mmp heal --sandbox                 # put back only what tightens (guardrails.yaml heal:)
  mmp status --sandbox
  mmp import --sandbox --dry-run
  mmp COMMAND --help                 # each command's options and examples
exit codes: plan --detailed-exitcode 0 no changes, 2 changes, 1 error;
  apply and heal 0 applied and verified, 1 failed before any write, 3 partial but every
  scope safe, 4 a scope may be unprotected;
  status 0 all configured, 2 a scope frozen, 3 a scope's freeze state unknown after a
  trigger (its changes held), 4 a declared scope unprotected (no config live)"""


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    parents: list[argparse.ArgumentParser],
    summary: str,
    description: str,
    examples: list[str],
) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        parents=parents,
        help=summary,
        description=description,
        epilog="examples:\n" + "\n".join(f"  {line}" for line in examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


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
    common.add_argument(
        "--no-color", action="store_true", help="never colour the output (so does NO_COLOR)"
    )
    talk = common.add_mutually_exclusive_group()
    talk.add_argument(
        "-q", "--quiet", action="store_true", help="only results and errors; no progress or notes"
    )
    talk.add_argument(
        "-v", "--verbose", action="count", default=0, help="more detail: -v each venue request"
    )

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
        help="only the accounts this shard owns, exactly (removals included)",
    )
    live.add_argument(
        "--concurrency",
        type=int,
        default=32,
        help="accounts read or applied at once per venue, at least 1 (default: 32); rate "
        "limits still hold",
    )
    journaled = argparse.ArgumentParser(add_help=False)
    journaled.add_argument(
        "--journal",
        type=Path,
        help="the JSONL journal of every apply step (default: .mmp/journal.jsonl at the "
        "policy repository's root); plan and status name runs it shows unfinished",
    )

    _command(
        sub,
        "validate",
        [common],
        "check the policies offline",
        "Check every policy file; report every problem at once. Needs no credentials "
        "and no network (the pre-commit hook runs this).",
        ["mmp validate", "mmp validate --policies policies/desk-alpha.yaml"],
    )
    plan = _command(
        sub,
        "plan",
        [common, live, journaled],
        "show what apply would change",
        "Read live MMP settings and show what would change. Writes nothing to any venue.",
        [
            "mmp plan --sandbox",
            "mmp plan --account deribit-main --underlying btc_usd",
            "mmp plan --out plan.json          # then: mmp apply plan.json",
            "mmp plan --detailed-exitcode      # exit 2 when there are changes",
        ],
    )
    plan.add_argument(
        "--format",
        choices=["text", "json", "markdown"],
        default="text",
        help="text for a terminal (default); json for machines (versioned schema, one step a "
        "line); markdown as the pull-request comment shows it",
    )
    plan.add_argument("--out", type=Path, help="save the plan for `mmp apply FILE`")
    plan.add_argument(
        "--expires",
        type=int,
        default=15,
        metavar="MINUTES",
        help="a saved plan expires after this many minutes, 1 to 10080 (7 days; default: 15)",
    )
    plan.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 2 when there are changes, 0 when none",
    )
    _add_include_held(plan)
    apply = _command(
        sub,
        "apply",
        [common, live, journaled],
        "carry out the plan",
        "Plan (or load a saved plan), ask for approval, apply, verify every change and "
        "journal every step.",
        ["mmp apply plan.json", "mmp apply --sandbox --auto-approve"],
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
    _add_include_held(apply)
    heal = _command(
        sub,
        "heal",
        [common, live, journaled],
        "put back, unattended, protection that drifted (only creates and tightenings)",
        "Plan against the policies of this checkout and apply, with no prompt, only the steps "
        "that restore or tighten protection: creating a declared scope that has no config "
        "live, and updates or replacements in which every changed field tightens. Never a "
        "loosening, a removal, a held (frozen or freeze-unknown) or unmanaged scope, nor "
        "anything a guardrail refuses: each of those is listed with why. Every write is "
        "journaled as a heal, then carried out as apply carries out a plan (lock, check "
        "before writing, verify, exit codes 0, 1, 3, 4). Refused (exit 1) unless "
        "guardrails.yaml enables it (`heal: {enabled: true}`).",
        ["mmp heal --sandbox", "mmp heal --venue deribit --report heal.json"],
    )
    heal.add_argument(
        "--report",
        type=Path,
        metavar="FILE",
        help="also write what was healed (and how each step ended) and what was left, as "
        "JSON (the drift issue is written from it)",
    )
    status = _command(
        sub,
        "status",
        [common, live, journaled],
        "every scope: configured, frozen, until when (exit 4 unprotected, 2 frozen, "
        "3 unknown after a trigger)",
        "Read every scope across venues and show whether it is configured, whether it is "
        "frozen and until when (UTC and from now), and the last trigger where the venue "
        "tells it. A declared scope with no MMP config live is UNPROTECTED: named first. "
        "Where a venue cannot tell whether a scope is frozen, it says so and why. "
        "Exit 4 when any declared scope is unprotected, else 2 when any scope is frozen, "
        "else 3 when a scope's freeze state is unknown after a trigger the venue recorded "
        "(changes to it are held until a person checks it), for scripts and alerts. Unknown "
        "with no trigger seen (Bullish over REST) is shown, and alone leaves the exit code 0.",
        ["mmp status --sandbox", "mmp status --venue binance --json"],
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")
    imported = _command(
        sub,
        "import",
        [common, live],
        "write the live settings into the policy files",
        "Read the live MMP settings of the selected accounts (declared in the policies) and "
        "merge them into the file that declares each account, keeping every comment, key "
        "order and blank line; only values that differ from the venue are written. It adds "
        "and updates: declared scopes the venue lacks are kept unless --prune, and a frozen "
        "(held) scope keeps its declared value.",
        ["mmp import --sandbox --dry-run", "mmp import --account deribit-main"],
    )
    imported.add_argument("--dry-run", action="store_true", help="print the diff; write nothing")
    imported.add_argument(
        "--prune",
        action="store_true",
        help="also take out declared scopes the venue has no config for (frozen ones stay)",
    )
    show = _command(
        sub,
        "show",
        [],
        "show a saved plan (no venue read, no credentials)",
        "Render a plan saved by `mmp plan --out FILE`, as it was planned: its steps, the "
        "guardrails apply would refuse without --force, the mode, and (on stderr) where and "
        "when it was made and until when apply takes it. Reads no venue and needs no "
        "credentials.",
        ["mmp show plan.json", "mmp show plan.json --format markdown"],
    )
    show.add_argument("planfile", type=Path, help="a plan saved by mmp plan --out")
    show.add_argument(
        "--format",
        choices=["text", "json", "markdown"],
        default="text",
        help="text for a terminal (default), json for machines, markdown for GitHub",
    )
    show.add_argument(
        "--no-color", action="store_true", help="never colour the output (so does NO_COLOR)"
    )
    schema = _command(
        sub,
        "schema",
        [],
        "print the JSON Schema of the policy format",
        "The JSON Schema of policy files, for editors (yaml-language-server) and checks.",
        ["mmp schema > schema/mmp-policy.schema.json"],
    )
    schema.add_argument("--out", type=Path, help="write to this file instead of stdout")
    unfreeze = _command(
        sub,
        "unfreeze",
        [common],
        "unfreeze one frozen scope (never part of apply)",
        "Call the venue's reset on one frozen scope, after approval, and journal who did it "
        "and why. Apply never unfreezes anything.",
        ['mmp unfreeze deribit/deribit-main/btc_usd --reason "desk flat, risk OK (JS)"'],
    )
    unfreeze.add_argument("scope", help="venue/account/underlying[/group]")
    unfreeze.add_argument("--reason", required=True, help="why this scope may quote again")
    unfreeze.add_argument("--sandbox", action="store_true", help="use the simulators")
    unfreeze.add_argument("--auto-approve", action="store_true", help="do not ask")
    unfreeze.add_argument(
        "--journal", type=Path, help="JSONL journal (default: .mmp/journal.jsonl)"
    )
    _add_github(sub, common)
    _add_desk(sub, common)
    return parser


def _add_desk(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    workflows = _command(
        sub,
        "workflows",
        [common],
        "check or write the GitHub workflows the policies need",
        "The plan, apply, drift and check workflows are generated from the policies: each "
        "venue job passes the credential variables of every account, and installs the pinned "
        "mmp. --check exits 1 naming each missing or stale variable or file; --write brings "
        "the files in line (keeping the mmp they pin), showing the diff of each file it "
        "replaces and asking first (--yes where nobody can be asked), and says what it wrote.",
        ["mmp workflows --check", "mmp workflows --write", "mmp workflows --write --yes"],
    )
    mode = workflows.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="exit 1 when they disagree")
    mode.add_argument("--write", action="store_true", help="write what the policies need")
    workflows.add_argument(
        "--dir",
        type=Path,
        help="the workflows folder (default: .github/workflows at the repository's root)",
    )
    init = _command(
        sub,
        "init",
        [],
        "create a desk's policy repository (or --upgrade its pinned mmp)",
        "Write a new desk repository into DIR: policies/ with one commented example account "
        "per venue, conservative guardrails, the GitHub workflows generated from them (plan "
        "on pull request, apply on merge after review, drift on a schedule, the check), a "
        "pre-commit config, .gitignore and a README of the set-up steps. The workflows "
        "install exactly this mmp (--pin to choose). Existing files are never overwritten "
        "without --force, and policies/ that holds policies already is never written into. "
        "--upgrade moves an existing desk's workflows and pins to this mmp (keeping the kind "
        "of pin the desk has), showing the diff and asking first (--yes where nobody can be "
        "asked).",
        [
            "mmp init my-desk --venue deribit --venue binance",
            "mmp init my-desk --pin git+https://HOST/OWNER/mmp-reconciler@COMMIT",
            "mmp init --upgrade",
            "mmp init --upgrade --yes",
        ],
    )
    init.add_argument("dir", nargs="?", type=Path, default=Path("."), help="(default: .)")
    init.add_argument(
        "--venue",
        action="append",
        default=[],
        help="an example account for this venue (repeatable; default: every venue)",
    )
    init.add_argument("--force", action="store_true", help="overwrite files that exist")
    init.add_argument(
        "--upgrade",
        action="store_true",
        help="rewrite the generated files of the desk in DIR for this mmp (diff shown first)",
    )
    _add_yes(init, "with --upgrade")
    _add_yes(workflows, "with --write")
    _add_pin(
        init,
        "the mmp the workflows install (default: this one as it was installed, from an index "
        "or git; required when it came from a local file or folder)",
    )
    _add_pin(
        workflows,
        "with --write: install this mmp (default: the one the files install already)",
    )


def _add_pin(parser: argparse.ArgumentParser, says: str) -> None:
    parser.add_argument(
        "--pin",
        metavar="SPEC",
        help="mmp-reconciler==X.Y.Z (this mmp's version) or git+https://HOST/OWNER/REPO@COMMIT "
        f"(or git+ssh://git@HOST/OWNER/REPO@COMMIT): {says}",
    )


def _add_yes(parser: argparse.ArgumentParser, when: str) -> None:
    parser.add_argument(
        "--yes",
        action="store_true",
        help=f"{when}: replace existing files without asking (the diff is still shown; "
        "needed where stdin is not a terminal)",
    )


def _add_include_held(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--include-held",
        action="append",
        default=[],
        metavar="SCOPE",
        help="write this held scope although the venue cannot tell whether it is frozen "
        "(it recorded a trigger and does not tell its end), after a person checked it on the "
        "venue (repeatable; needs --reason; journaled with who). A scope the venue reports "
        "frozen stays held",
    )
    parser.add_argument(
        "--reason",
        help="with --include-held: what was checked on the venue, and by whom",
    )


def _add_github(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    github = _command(
        sub,
        "github",
        [],
        "the workflows' steps: plan, comment, apply, heal, the drift issue (in GitHub Actions)",
        "Run inside GitHub Actions: reads GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_TOKEN, "
        "GITHUB_EVENT_PATH, GITHUB_RUN_ID, GITHUB_EVENT_NAME, GITHUB_ACTOR and writes "
        "GITHUB_STEP_SUMMARY and GITHUB_OUTPUT. Each step of .github/workflows/ is one of "
        "these; the workflow's inputs come in as MMP_ACCOUNT, MMP_FORCE and MMP_SHARD.",
        [
            "mmp github plan --comment .mmp/plan.json",
            "mmp github apply .mmp/plan.json",
            "mmp github shard .mmp/drift && mmp github drift .mmp/drift",
        ],
    )
    actions = github.add_subparsers(dest="github_command", required=True, metavar="ACTION")
    _add_github_steps(actions, common)
    post = _command(
        actions,
        "comment",
        [common],
        "create or update the one plan comment on the pull request",
        "Post a saved plan as the pull request's one sticky comment (found again by a hidden "
        "marker and edited in place) and write it to the job summary.",
        [
            "mmp plan --out .mmp/plan.json && mmp github comment .mmp/plan.json",
            "mmp github comment --failed .mmp/plan.log",
        ],
    )
    post.add_argument("planfile", nargs="?", type=Path, help="a plan saved by mmp plan --out")
    post.add_argument("--failed", type=Path, metavar="LOG", help="say the plan failed; show LOG")
    post.add_argument("--pr", type=int, help="pull request number (default: from the event)")
    drift = _command(
        actions,
        "drift",
        [common],
        "open, update or close the drift issue from saved plans (shards merged)",
        "Merge the saved plans of one split (every account exactly once), then open or update "
        "the labelled drift issue, or close it when nothing drifts.",
        [
            "mmp plan --shard venue=deribit --out .mmp/drift-deribit.json",
            "mmp github drift .mmp/drift-*.json",
            "mmp github drift .mmp/drift          # every *.json in the folder",
        ],
    )
    drift.add_argument(
        "planfiles", nargs="+", type=Path, help="saved plans (shards), or folders of them"
    )
    drift.add_argument(
        "--healed",
        type=Path,
        metavar="REPORT",
        help="the report of this run's heal job (mmp heal --report): the issue opens with "
        "what it healed and what still needs a person",
    )
    summary = _command(
        actions,
        "summary",
        [common],
        "write a saved plan's Markdown to the job summary",
        "Append a saved plan, as Markdown within GitHub's 1 MiB limit, to GITHUB_STEP_SUMMARY "
        "(the apply workflow shows reviewers the plan this way).",
        ["mmp github summary .mmp/plan.json"],
    )
    summary.add_argument("planfile", type=Path, help="a plan saved by mmp plan --out")


def _add_github_steps(
    actions: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    """The workflows' steps that plan and apply (reconciler.commands.github.steps)."""
    _add_github_plan(actions, common)
    shard = _command(
        actions,
        "shard",
        [common],
        "plan the drift shard MMP_SHARD into a folder, for `mmp github drift`",
        "Run `mmp plan --shard $MMP_SHARD --detailed-exitcode`, saved into FOLDER as "
        "venue-NAME.json (MMP_SHARD=venue=NAME) or K-of-N.json (MMP_SHARD=K/N). Exit 0 "
        "with or without drift, or as the plan did when it failed; then no file is left, "
        "and `mmp github drift` names the shard's accounts not checked.",
        ["MMP_SHARD=venue=deribit mmp github shard .mmp/drift"],
    )
    shard.add_argument("folder", type=Path, help="the folder of shard plans")
    apply = _command(
        actions,
        "apply",
        [common],
        "apply an approved saved plan; its output also in the job summary",
        "Run `mmp apply PLANFILE --auto-approve` (the environment's reviewers approved the "
        "job), journaled to journal.jsonl next to PLANFILE, which first gathers the journals "
        "of earlier runs on this branch (their `mmp-journal` artifacts: GITHUB_TOKEN with "
        "`actions: read`), with --force when MMP_FORCE is true (refused on a push: a merge "
        "never forces). What apply prints also goes to apply.txt next to PLANFILE and to the "
        "job summary; the exit is apply's.",
        ["mmp github apply .mmp/plan.json", "MMP_FORCE=true mmp github apply .mmp/plan.json"],
    )
    apply.add_argument("planfile", type=Path, help="a plan saved by mmp github plan")
    heal = _command(
        actions,
        "heal",
        [common],
        "heal drift in the safe direction; its report for the drift issue",
        "Run `mmp heal` (no prompt: what it writes is only what was reviewed and merged, and "
        "only where it restores or tightens protection), journaled to journal.jsonl in "
        "FOLDER with the journals of earlier runs on this branch gathered first (as `mmp "
        "github apply` does), its report to heal.json there (read by `mmp github drift "
        "--healed`), what it prints to heal.txt there and to the job summary; the exit is heal's.",
        ["mmp github heal .mmp/heal"],
    )
    heal.add_argument("folder", type=Path, help="where the journal, report and output go")


def _add_github_plan(
    actions: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    plan = _command(
        actions,
        "plan",
        [common],
        "plan into a file; step output `changes`; the comment or the job summary",
        "Run `mmp plan --detailed-exitcode --out PLANFILE` (only the account MMP_ACCOUNT "
        "names, when set), its text also in PLANFILE with .txt instead of .json. Write the "
        "step output `changes=true` or `changes=false` and exit 0, or exit as the plan did "
        "when it failed.",
        [
            "mmp github plan --comment .mmp/plan.json",
            "MMP_ACCOUNT=deribit-main mmp github plan --summary --expires 120 .mmp/plan.json",
            "mmp github plan --summary --history .mmp/plan.json",
        ],
    )
    plan.add_argument("planfile", type=Path, help="where to save the plan")
    plan.add_argument(
        "--history",
        action="store_true",
        help="plan with the journals of earlier runs on this branch (their `mmp-journal` "
        "artifacts; GITHUB_TOKEN with `actions: read`), so the plan names what an earlier "
        "apply or heal left unfinished",
    )
    shown = plan.add_mutually_exclusive_group()
    shown.add_argument(
        "--comment",
        action="store_true",
        help="the pull request's one comment and the job summary show the plan, or the "
        "error that stopped it (no comment for a fork's pull request)",
    )
    shown.add_argument(
        "--summary",
        action="store_true",
        help="the plan in the job summary, for the reviewers; with MMP_FORCE=true, above it "
        "a warning that apply will run with --force, naming GITHUB_ACTOR",
    )
    plan.add_argument(
        "--expires",
        type=int,
        default=15,
        metavar="MINUTES",
        help="the saved plan expires after this many minutes, 1 to 10080 (default: 15)",
    )


def _github(args: argparse.Namespace) -> int:
    from reconciler.commands.github import commands as github
    from reconciler.commands.github import steps

    actions = {
        "comment": github.comment,
        "drift": github.drift,
        "summary": github.summary,
        "plan": steps.plan,
        "shard": steps.shard,
        "apply": steps.apply,
        "heal": steps.heal,
    }
    return actions[args.github_command](args)


def _lazy(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    """A command imported when it runs, so `mmp --help` and `mmp validate` start fast."""

    def run(args: argparse.Namespace) -> int:
        command: Callable[[argparse.Namespace], int] = getattr(
            importlib.import_module(module), name
        )
        return command(args)

    return run


def _schema(args: argparse.Namespace) -> int:
    from reconciler.policy.schema import schema_text

    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(schema_text(), encoding="utf-8")
    else:
        console.out(schema_text())
    return 0


def _bounds(args: argparse.Namespace) -> None:
    """Numbers argparse cannot bound: one clear line each, before anything runs."""
    concurrency = getattr(args, "concurrency", 1)
    if concurrency < 1:
        raise ReconcilerError(f"--concurrency must be at least 1 (got {concurrency})")
    expires = getattr(args, "expires", 1)
    if not 1 <= expires <= MAX_EXPIRES_MINUTES:
        raise ReconcilerError(
            f"--expires must be 1 to {MAX_EXPIRES_MINUTES} minutes (7 days); got {expires}"
        )


SANDBOX_ON = frozenset({"1", "true", "yes", "on"})
SANDBOX_OFF = frozenset({"", "0", "false", "no", "off"})


def _sandbox_from_env(args: argparse.Namespace) -> None:
    """MMP_SANDBOX=1/true/yes/on selects the simulators, 0/false/no/off/empty does not (any
    case); anything else is an error, never a guess either way."""
    value = os.environ.get("MMP_SANDBOX", "")
    if value.strip().lower() in SANDBOX_OFF or not hasattr(args, "sandbox"):
        if value.strip().lower() not in SANDBOX_ON | SANDBOX_OFF:
            raise ReconcilerError(_sandbox_error(value))
        return
    if value.strip().lower() not in SANDBOX_ON:
        raise ReconcilerError(_sandbox_error(value))
    args.sandbox = True


def _sandbox_error(value: str) -> str:
    shown = value if value.isprintable() and len(value) <= 20 else repr(value[:20])
    return (
        f"MMP_SANDBOX={shown} is neither on (1, true, yes, on) nor off (0, false, no, off, "
        "empty); set it to one of those"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "validate": _lazy("reconciler.commands.validate", "validate"),  # imports only what it needs
        "plan": _lazy("reconciler.commands.run", "plan"),
        "apply": _lazy("reconciler.commands.run", "apply"),
        "heal": _lazy("reconciler.commands.heal", "heal"),
        "unfreeze": _lazy("reconciler.commands.run", "unfreeze"),
        "status": _lazy("reconciler.commands.run", "status"),
        "import": _lazy("reconciler.commands.importer", "command"),
        "schema": _schema,
        "show": _lazy("reconciler.commands.run", "show"),
        "github": _github,
        "workflows": _lazy("reconciler.commands.workflows", "command"),
        "init": _lazy("reconciler.commands.init", "command"),
    }
    no_color = getattr(args, "no_color", False) or "NO_COLOR" in os.environ
    args.colour = not no_color and console.is_terminal(sys.stdout)
    console.configure(
        quiet=getattr(args, "quiet", False),
        verbose=getattr(args, "verbose", 0),
        colour=not no_color and console.is_terminal(sys.stderr),
    )
    if hasattr(args, "policies"):
        from reconciler.core.paths import state_dir

        crash.configure(state_dir(args.policies))
    try:
        _sandbox_from_env(args)
        _bounds(args)
        return handlers[args.command](args)
    except ReconcilerError as exc:
        console.error(redact(str(exc)))
        return 1
    except KeyboardInterrupt:
        console.warn("interrupted; nothing was written")
        return 130
    except Exception as exc:  # a bug: one line for the user, the traceback to a file
        where = crash.record(exc)
        name = type(exc).__name__
        console.error(f"unexpected {name} (a bug in mmp; details in {where})")
        return 1

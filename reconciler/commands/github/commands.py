"""`mmp github comment`, `drift` and `summary`: a saved plan to GitHub (the workflows' own
steps, which plan and apply too, are in reconciler.commands.github.steps)."""

from __future__ import annotations

import argparse
from pathlib import Path

from reconciler.commands.github.api import GitHubApi
from reconciler.commands.github.comment import failure_comment, plan_comment, post
from reconciler.commands.github.context import RunContext
from reconciler.commands.github.drift import Heal, merge, report
from reconciler.core import console
from reconciler.core.errors import GitHubError
from reconciler.core.secrets import redact
from reconciler.core.units import loads_exact
from reconciler.planning import planfile
from reconciler.planning.heal import SCHEMA_VERSION as HEAL_SCHEMA
from reconciler.planning.render.heal import issue_sections
from reconciler.planning.render.markdown import SUMMARY_LIMIT, document
from reconciler.policy.validate import load_desired
from reconciler.venues import capabilities


def comment(args: argparse.Namespace) -> int:
    ctx = RunContext.from_env()
    link = ctx.run_url
    if args.failed is not None:
        log = (
            args.failed.read_text(encoding="utf-8", errors="replace")
            if args.failed.exists()
            else ""
        )
        body = summary = failure_comment(redact(log), link)
    else:
        if args.planfile is None:
            raise GitHubError("name the saved plan (mmp plan --out FILE) or pass --failed LOG")
        plan = planfile.load(args.planfile).plan
        body, summary = plan_comment(plan, link)  # with the guardrail trips the plan carries
    ctx.append_summary(summary)
    post(ctx, body, args.pr)
    return 0


def drift(args: argparse.Namespace) -> int:
    """The drift issue from the shard plans there are. A shard whose plan is missing (its
    job failed) leaves its accounts "not checked": named in the issue, which stays open,
    and this command then exits 1, after reporting what the other shards found."""
    ctx = RunContext.from_env()
    desired = load_desired(args.policies, capabilities())
    found = shard_plans(args.planfiles)
    merged = merge([(path, planfile.load(path).plan) for path in found], desired.accounts)
    heal = None if args.healed is None else healed(args.healed, ctx.run_url)
    # never the one-liner: held scopes that still differ keep the drift issue open
    document_ = document(merged.plan, limit=SUMMARY_LIMIT, link=ctx.run_url, one_line=False)
    ctx.append_summary((heal.text if heal else "") + document_)
    with GitHubApi(ctx) as api:
        result = report(api, merged.plan, ctx.run_url, merged.unchecked, heal)
    console.note(f"Drift: {result.message}")
    if merged.unchecked:
        console.error(
            f"{len(merged.unchecked)} account(s) were not checked (no shard plan covers them): "
            + ", ".join(merged.unchecked)
        )
        return 1
    return 0


def healed(path: Path, link: str) -> Heal:
    """What this run's heal job did, from the report it left (`mmp heal --report`); a
    missing report is said (the job was skipped, failed before it planned, or cancelled)."""
    if not path.is_file():
        console.warn(f"mmp: no heal report at {path} (the heal job did not finish a plan?)")
        return Heal(issue_sections(None, link), 0)
    try:
        data = loads_exact(path.read_bytes())
        if data.get("schema_version") != HEAL_SCHEMA:
            raise ValueError(f"schema version {data.get('schema_version')} is not {HEAL_SCHEMA}")
        done = sum(1 for item in data["healed"] if item.get("outcome") == "applied")
        unread = tuple(str(item["account"]) for item in data.get("not_checked", []))
        bare = tuple(str(scope) for scope in data.get("bare", []))
        return Heal(issue_sections(data, link), done, unread, bare)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise GitHubError(f"{path}: not a heal report of this mmp ({exc})") from None


def shard_plans(given: list[Path]) -> list[Path]:
    """The shard plans given, a folder standing for the *.json in it; one missing is said."""
    found: list[Path] = []
    for path in given:
        listed = sorted(path.glob("*.json")) if path.is_dir() else [path]
        inside = [plan for plan in listed if plan.is_file()]
        if not inside:
            where = "in" if path.is_dir() else "at"
            console.warn(f"mmp: no shard plan {where} {path} (a shard failed?)")
        found += inside
    return found


def summary(args: argparse.Namespace) -> int:
    """The saved plan's Markdown into the job summary (e.g. for reviewers before an apply)."""
    ctx = RunContext.from_env(api=False, summary=True)
    plan = planfile.load(args.planfile).plan
    ctx.append_summary(document(plan, limit=SUMMARY_LIMIT, link=ctx.run_url))
    return 0

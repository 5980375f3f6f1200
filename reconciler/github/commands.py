"""`mmp github comment` and `mmp github drift`: what the workflows run after `mmp plan`."""

from __future__ import annotations

import argparse

from reconciler import console, planfile
from reconciler.errors import GitHubError
from reconciler.github.api import GitHubApi
from reconciler.github.comment import failure_comment, plan_comment, upsert
from reconciler.github.context import RunContext
from reconciler.github.drift import merge, report
from reconciler.render.markdown import SUMMARY_LIMIT, document
from reconciler.secrets import redact
from reconciler.validate import load_desired
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
    number = args.pr if args.pr is not None else ctx.pull_request()
    with GitHubApi(ctx) as api:
        try:
            posted = upsert(api, number, body)
        except GitHubError as exc:
            if exc.status == 403 and ctx.from_fork():
                raise GitHubError(
                    f"pull request #{number} comes from a fork, and GitHub gives fork pull "
                    "requests a read-only token: the plan cannot be posted as a comment. "
                    f"It is in the job summary. ({exc})",
                    status=403,
                ) from None
            raise
    console.note(f"Plan comment {posted.action}: {posted.url}")
    return 0


def drift(args: argparse.Namespace) -> int:
    """The drift issue from the shard plans there are. A shard whose plan is missing (its
    job failed) leaves its accounts "not checked": named in the issue, which stays open,
    and this command then exits 1, after reporting what the other shards found."""
    ctx = RunContext.from_env()
    desired = load_desired(args.policies, capabilities())
    found = [path for path in args.planfiles if path.is_file()]
    for path in args.planfiles:
        if not path.is_file():
            console.warn(f"mmp: no shard plan at {path} (its shard failed?)")
    merged = merge([(path, planfile.load(path).plan) for path in found], desired.accounts)
    # never the one-liner: held scopes that still differ keep the drift issue open
    document_ = document(merged.plan, limit=SUMMARY_LIMIT, link=ctx.run_url, one_line=False)
    ctx.append_summary(document_)
    with GitHubApi(ctx) as api:
        result = report(api, merged.plan, ctx.run_url, merged.unchecked)
    console.note(f"Drift: {result.message}")
    if merged.unchecked:
        console.error(
            f"{len(merged.unchecked)} account(s) were not checked (no shard plan covers them): "
            + ", ".join(merged.unchecked)
        )
        return 1
    return 0


def summary(args: argparse.Namespace) -> int:
    """The saved plan's Markdown into the job summary (e.g. for reviewers before an apply)."""
    ctx = RunContext.from_env(api=False)
    plan = planfile.load(args.planfile).plan
    ctx.append_summary(document(plan, limit=SUMMARY_LIMIT, link=ctx.run_url))
    return 0

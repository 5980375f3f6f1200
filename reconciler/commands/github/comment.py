"""The one sticky plan comment per pull request: found again by its marker, edited in place."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.commands.github.api import GitHubApi
from reconciler.commands.github.context import RunContext
from reconciler.core import console
from reconciler.core.errors import GitHubError
from reconciler.planning.plan import Plan
from reconciler.planning.render.markdown import COMMENT_LIMIT, MARKER, SUMMARY_LIMIT, document

LOG_LINES = 60


@dataclass(frozen=True)
class Posted:
    action: str  # created | updated | unchanged
    url: str


def upsert(api: GitHubApi, issue: int, body: str, marker: str = MARKER) -> Posted:
    """Edit the first comment that starts with marker, or create it; never a second one."""
    for comment in api.comments(issue):
        if str(comment.get("body", "")).startswith(marker):
            url = str(comment.get("html_url", ""))
            if comment.get("body") == body:
                return Posted("unchanged", url)
            updated = api.update_comment(int(comment["id"]), body)
            return Posted("updated", str(updated.get("html_url", url)))
    created = api.create_comment(issue, body)
    return Posted("created", str(created.get("html_url", "")))


def post(ctx: RunContext, body: str, number: int | None = None) -> Posted:
    """The one comment on the run's pull request (or #number). None for a fork's, which
    GitHub gives a read-only token: no request is made, and the error says where the plan
    is instead."""
    number = ctx.pull_request() if number is None else number
    if ctx.from_fork():
        raise GitHubError(
            f"pull request #{number} comes from a fork, and GitHub gives fork pull requests a "
            "read-only token: the plan is not posted as a comment (no request made). It is in "
            "the job summary."
        )
    with GitHubApi(ctx) as api:
        posted = upsert(api, number, body)
    console.note(f"Plan comment {posted.action}: {posted.url}")
    return posted


def plan_comment(plan: Plan, link: str) -> tuple[str, str]:
    """(comment body, job summary): the same Markdown, each within GitHub's own limit."""
    return (
        document(plan, limit=COMMENT_LIMIT, link=link),
        document(plan, limit=SUMMARY_LIMIT, link=link),
    )


def failure_comment(log: str, link: str) -> str:
    """Replaces the last plan when this push could not be planned: no stale plan stays up."""
    tail = "\n".join(log.strip().splitlines()[-LOG_LINES:]).replace("```", "'''")
    where = f" See [the run]({link})." if link else ""
    return (
        f"{MARKER}\n### MMP plan failed\n\n"
        f"No plan could be made for this commit; an earlier plan shown here no longer "
        f"applies.{where}\n\n```\n{tail[-20_000:]}\n```\n"
    )

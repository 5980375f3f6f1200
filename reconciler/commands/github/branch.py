"""The heal job's branch watch: GitHub's REST API says where the heal branch is now
(reconciler.commands.healbranch says why heal asks, and when)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping

from reconciler.commands.github.api import GitHubApi
from reconciler.commands.github.context import RunContext
from reconciler.commands.healbranch import BranchWatch
from reconciler.core.errors import GitHubError

SHA = re.compile(r"[0-9a-f]{40}")


@contextlib.contextmanager
def github_watch(env: Mapping[str, str]) -> Iterator[BranchWatch]:
    """A watch asking GitHub, expecting the commit the run was started at (GITHUB_SHA).
    What it needs missing is refused here, before anything is read or sent: without it,
    heal could not know whether the branch moved."""
    sha = env.get("GITHUB_SHA", "").strip()
    try:
        ctx = RunContext.from_env(env)
        if not SHA.fullmatch(sha):
            shown = sha[:40] if sha.isprintable() else repr(sha[:40])
            raise GitHubError(
                f"GITHUB_SHA is {shown or 'not set'}, not a commit (GitHub sets it for every "
                "step: the commit the run was started at)"
            )
    except GitHubError as exc:
        raise GitHubError(
            "the heal job checks with GitHub, before each write, that the heal branch has "
            f"not moved since its policies were read, and cannot here: {exc}. Nothing was "
            "read or sent"
        ) from None
    with GitHubApi(ctx) as api:
        yield BranchWatch(api.branch_head, sha, source="GitHub")

"""Heal's check that the branch it heals from has not moved since its policies were read.

A scheduled heal job checks out the heal branch (guardrails.yaml `heal: branch:`, default
main) as it was when the schedule fired. If a pull request is merged, and applied, while
that job plans, the job's policies are older than the branch's: healing from them could
tighten a scope back to a value a reviewed change took away, unattended. So, where it can
be asked, heal asks where the branch is now before each step starts (the first write
included; never between a reset and its set), and once the answer is not the commit its
policies were read at, or there is no usable answer, it starts no step any more: the steps
already done stand (each was verified), the rest are "not run" with why, and the run ends
as an apply whose remaining steps were not run (exit 1 if nothing was written, 3 if some
was: every scope has its old or its new config). The next scheduled run heals from the new
policies.

How it is wired: `mmp heal` on a terminal has no watch (a person ran it on their own
checkout, and nothing is asked of GitHub). `mmp github heal`, the heal job's step, runs
`mmp heal` in its own process and installs a BranchWatch around it (`watching`, a context
variable); heal finds it with `installed()` and hands the executor its check as
`BEFORE_STEP` (reconciler.apply.executor). A watch carries how to ask (for GitHub: the REST
API, reconciler.commands.github.branch) and the commit the run was started at (GITHUB_SHA),
which the checkout's HEAD must also be, or heal refuses before reading anything.

The window left is the one between an answer and the write right after it: a merge landing
there is found by the next step's check, or by the next run's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.errors import ReconcilerError
from reconciler.core.secrets import redact


@dataclass
class BranchWatch:
    ask: Callable[[str], str] = field(repr=False)  # branch -> its head now; raises if unknown
    expected: str  # the commit the run was started at (GITHUB_SHA)
    source: str = "GitHub"  # who is asked, as said to the operator
    branch: str = ""  # set by heal: the heal branch
    moved_to: str = ""  # the branch's head when first found elsewhere
    unknown: str = ""  # why whether it moved cannot be known
    checks: int = 0  # answers received
    _started: int = 0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    def begin(self, branch: str, commit: str | None) -> str:
        """Watch `branch`; a problem (said, nothing read) when the checkout's HEAD `commit`
        is not the commit the run was started at. Outside Git (the sandbox) there is no HEAD:
        the run's commit is the one compared."""
        self.branch = branch
        if commit is not None and commit != self.expected:
            return (
                f"the checkout is at {commit[:12]}, but the run was started at "
                f"{self.expected[:12]} (GITHUB_SHA): heal cannot know which policies of "
                f"`{branch}` it read; nothing was read or sent"
            )
        return ""

    async def check(self) -> str:
        """Before a step: "" while the branch is still at the expected commit; else why no
        step may start. Steps asking together share one answer, provided it was asked for
        after they asked (so it is as fresh as their own would be)."""
        if self.reason():
            return self.reason()
        asked = self._started
        async with self._lock:
            if self._started == asked and not self.reason():
                self._started += 1
                await self._ask_now()
        return self.reason()

    async def _ask_now(self) -> None:
        try:
            now = await asyncio.to_thread(self.ask, self.branch)
        except ReconcilerError as exc:
            self.unknown = redact(str(exc))
        except Exception as exc:  # whatever went wrong, we do not know: write nothing more
            self.unknown = f"unexpected {type(exc).__name__} asking {self.source}: {exc}"
        else:
            self.checks += 1
            if now != self.expected:
                self.moved_to = now

    def reason(self) -> str:
        """Why a step is not run ("" while none is stopped), as the step's result says it."""
        if self.moved_to:
            return (
                f"not run: `{self.branch}` moved from {self.expected[:7]} to "
                f"{self.moved_to[:7]} after heal read its policies; the next run heals from "
                "the new policies"
            )
        if self.unknown:
            return (
                f"not run: cannot know whether `{self.branch}` moved since heal read its "
                f"policies ({self.unknown.rstrip('.')})"
            )
        return ""

    def said(self) -> str:
        """What the operator reads once, when the watch first stops the run."""
        if self.moved_to:
            return (
                f"`{self.branch}` moved from {self.expected[:7]} to {self.moved_to[:7]} while "
                "heal planned: nothing (more) written; the next scheduled run heals from the "
                "new policies."
            )
        return (
            f"Cannot know whether `{self.branch}` moved since heal read its policies at "
            f"{self.expected[:7]}: {self.unknown.rstrip('.')}. Nothing (more) written, to be "
            "safe."
        )

    def to_data(self) -> dict[str, Any]:
        """The heal report's `branch`: what was watched and what was found."""
        return {
            "name": self.branch,
            "read_at": self.expected,
            "checks": self.checks,
            "moved_to": self.moved_to or None,
            "unknown": self.unknown or None,
        }


_WATCH: ContextVar[BranchWatch | None] = ContextVar("heal_branch_watch", default=None)


@contextlib.contextmanager
def watching(watch: BranchWatch) -> Iterator[BranchWatch]:
    """`mmp heal` run inside this checks its branch with `watch` (see the module's doc)."""
    token = _WATCH.set(watch)
    try:
        yield watch
    finally:
        _WATCH.reset(token)


def installed() -> BranchWatch | None:
    return _WATCH.get()

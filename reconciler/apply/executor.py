"""Apply: re-read live state, refuse a plan whose live state moved, then run the steps
(accounts side by side, each account's steps in plan order; one step is reconciler.apply.writes),
and say where every scope ended.

End states and exit codes (product.md section 6):
  0  every step applied and verified
  1  failed before any write took effect (every scope as it was)
  3  partial, but every scope has its old or its new config in force: a step failed and its
     old config is verified, or was skipped (moved or frozen since the plan, interrupted)
  4  a scope may be unprotected: neither its old nor its new config is known to be in force

After a failure, a scope found moved, a signal, or a journal that cannot be written, no new
step starts anywhere; steps under way finish and are verified (interrupt.py). One exception
boundary: a bug after the first write never escapes as exit 1; the scopes it touched are
read back and classed like any other, and everything is named.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field

from reconciler.apply import push
from reconciler.apply.interrupt import Interrupt
from reconciler.apply.journal import Journal, host, who
from reconciler.apply.writes import (
    Outcome,
    Read,
    Run,
    Seen,
    StepResult,
    Unread,
    classify_read,
    finish,
    read_scope,
    run_step,
)
from reconciler.core import crash
from reconciler.core.errors import PlanFileError
from reconciler.core.model import LiveAccount, live_digests
from reconciler.planning.plan import Action, Plan, Step
from reconciler.venues.live import Connections

__all__ = ["ApplyResult", "Outcome", "StepResult", "apply_plan", "check_fingerprint"]
SKIPPED = frozenset({Outcome.MOVED, Outcome.HELD})
# Asked before each step starts (never between a reset and its set): "" lets it run; a reason
# starts no step any more, this one included (heal's check that its branch has not moved)
BEFORE_STEP: ContextVar[Callable[[], Awaitable[str]] | None] = ContextVar(
    "before_step", default=None
)


@dataclass
class ApplyResult:
    results: list[StepResult] = field(default_factory=list)
    interrupted: str = ""  # the signal that stopped the run, if one did
    journal_failed: str | None = None  # why the journal could not be written, if it could not
    bug: bool = False  # an unexpected exception ended a step: never reported as all well
    wrote: bool = False  # a write was sent to some venue
    # declared scopes without a config whose create the plan holds (a freeze): not written,
    # so still without MMP after the run, and said so at its end
    held_bare: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        outcomes = {r.outcome for r in self.results}
        if Outcome.UNKNOWN in outcomes:
            return 4
        if outcomes <= {Outcome.APPLIED}:
            code = 0
        elif outcomes & SKIPPED or outcomes & {Outcome.APPLIED, Outcome.RESTORED}:
            code = 3
        else:
            code = 1  # nothing took effect (nothing sent, or every write refused)
        if (self.journal_failed or self.bug) and self.wrote:
            return 3  # a run that lost its journal or hit a bug is never all well, nor exit 1
        return code

    def unsafe(self) -> list[StepResult]:
        return [r for r in self.results if r.outcome is Outcome.UNKNOWN]

    def unprotected(self) -> list[StepResult]:
        """Scopes to be created that the venue kept without a config: as before the run (so
        not exit 4, which says the run may have taken a config away), and named as such."""
        return [
            r
            for r in self.results
            if r.outcome is Outcome.KEPT_OLD and r.step.before is None and r.step.after
        ]


def check_fingerprint(plan: Plan, live: list[LiveAccount]) -> None:
    """Refuse when the live state differs from what the plan was made from; name the scopes."""
    now = live_digests(live)
    if now == plan.digests:
        return
    moved = sorted(k for k in plan.digests.keys() | now.keys() if plan.digests.get(k) != now.get(k))
    raise PlanFileError(
        "live state moved since the plan was made; nothing was applied. Changed scopes: "
        + ", ".join(moved)
        + ". Run plan again and review the new plan."
    )


async def apply_plan(
    plan: Plan,
    connections: Connections,
    journal: Journal,
    live: list[LiveAccount] | None = None,
    *,
    interrupt: Interrupt | None = None,
    tell: Callable[[StepResult], None] | None = None,
) -> ApplyResult:
    """The live state is read again unless `live` is the very read the plan was just made
    from, with nobody in between (`apply --auto-approve` without a saved plan). `tell` hears
    each step's result the moment it ends (the CLI prints it then)."""
    interrupt = interrupt or Interrupt()
    # before the read the steps check against: a freeze after it is pushed (push.py)
    channels = await push.open_channels(connections, plan)
    if live is None:
        live = await connections.read(list(plan.accounts))
    check_fingerprint(plan, live)
    journal.prepare(len(plan.writes))  # JournalError: nothing was written
    journal.write(
        "apply-start",
        fingerprint=plan.fingerprint,
        steps=len(plan.writes),
        pid=os.getpid(),
        host=host(),
        by=who(),
        **({} if journal.policies is None else {"policies": journal.policies}),
        **({} if journal.kind == "apply" else {"kind": journal.kind}),
    )
    for note in connections.learned():  # how a venue reads an open point, as found this run
        journal.write("venue-reading", **note)
    networked = {a: why or "open" for a, why in channels.items() if a in connections.pushes}
    if networked:  # what each channel was when the steps began (in-process ones: -v says)
        journal.write("push-channels", accounts=dict(sorted(networked.items())))
    run = Run(plan, connections, journal)
    if tell is not None:
        run.tell = tell
    run.stopping = lambda: interrupt.first
    for account in live:
        at = connections.read_at_ns.get(account.account, 0)
        run.reads[account.account] = Read(account, at, 0, None)
    interrupt.in_flight = run.in_flight
    interrupt.on_first = lambda name: journal.write(
        "interrupted", signal=name, in_flight=sorted(run.phases)
    )
    results = await _run_accounts(run, interrupt)
    result = ApplyResult(results, interrupt.first, journal.failed, run.bug, bool(run.written))
    result.held_bare = tuple(
        str(s.key) for s in plan.steps if s.action is Action.HELD and s.unprotected
    )
    journal.write(
        "apply-end",
        exit_code=result.exit_code,
        outcomes={str(r.step.key): r.outcome.value for r in result.results},
    )
    journal.close()
    return result


@dataclass
class _State:
    failed: bool = False  # a step failed or found its scope moved: start nothing new
    halted: str = ""  # BEFORE_STEP said why no step may start any more


async def _run_accounts(run: Run, interrupt: Interrupt) -> list[StepResult]:
    by_account: dict[str, list[tuple[int, Step]]] = {}
    for index, step in enumerate(run.plan.writes):
        by_account.setdefault(step.key.account, []).append((index, step))
    outcomes: dict[int, StepResult] = {}
    state = _State()
    under_way: set[asyncio.Task[StepResult]] = set()
    per_venue: dict[str, asyncio.Semaphore] = {}

    async def run_account(steps: list[tuple[int, Step]]) -> None:
        venue = steps[0][1].key.venue
        async with per_venue.setdefault(venue, asyncio.Semaphore(run.connections.concurrency)):
            for index, step in steps:
                why = _stop_reason(run, interrupt, state) or await _before_step(state)
                if why:
                    outcomes[index] = _skip(run, step, why)
                    continue
                task = asyncio.ensure_future(_guarded(run, step, interrupt))
                under_way.add(task)
                try:
                    outcomes[index] = await task
                finally:
                    under_way.discard(task)
                if outcomes[index].outcome not in (Outcome.APPLIED, Outcome.HELD):
                    state.failed = True

    watchdog = asyncio.ensure_future(_abandon_at_deadline(interrupt, under_way))
    try:
        ended = await asyncio.gather(
            *(run_account(steps) for steps in by_account.values()), return_exceptions=True
        )
    finally:
        watchdog.cancel()
    for item in ended:
        if isinstance(item, BaseException):  # a bug outside any step: say where it is
            run.bug = True
            crash.record(item)
    return [
        outcomes.get(index) or _lost(run, step, outcomes)
        for index, step in enumerate(run.plan.writes)
    ]


async def _before_step(state: _State) -> str:
    ask = BEFORE_STEP.get()
    state.halted = state.halted or (await ask() if ask is not None else "")
    return state.halted


def _stop_reason(run: Run, interrupt: Interrupt, state: _State) -> str:
    if state.halted:
        return state.halted
    if interrupt.requested:
        return f"not run: apply was interrupted ({interrupt.first}) before this step started"
    if run.bug:
        return "not run: apply stopped after a bug in mmp"
    if run.journal.failed:
        return f"not run: the journal cannot be written ({run.journal.failed})"
    if state.failed:
        return "not run: an earlier step failed or found its scope changed"
    return ""


def _skip(run: Run, step: Step, why: str) -> StepResult:
    run.journal.write("step-skipped", scope=str(step.key), action=step.action.value, reason=why)
    result = StepResult(step, Outcome.NOT_RUN, why)
    run.tell(result)
    return result


def _lost(run: Run, step: Step, outcomes: dict[int, StepResult]) -> StepResult:
    """A step with no result after a bug outside the steps: unknown if it was written."""
    if str(step.key) in run.written:
        lost = StepResult(step, Outcome.UNKNOWN, "apply lost track of it after a bug in mmp")
    else:
        lost = StepResult(step, Outcome.NOT_RUN, "not run: apply stopped after a bug in mmp")
    run.tell(lost)
    return lost


async def _abandon_at_deadline(
    interrupt: Interrupt, under_way: set[asyncio.Task[StepResult]]
) -> None:
    await interrupt.expired.wait()
    for task in list(under_way):
        task.cancel()


async def _guarded(run: Run, step: Step, interrupt: Interrupt) -> StepResult:
    """One step inside the exception boundary (a bug) and the second signal's deadline."""
    scope = str(step.key)
    try:
        return await run_step(run, step)
    except asyncio.CancelledError:
        if not interrupt.expired.is_set():
            raise
        phase = run.phases.get(scope)
        doing = phase.value if phase else "its write"
        result = StepResult(
            step,
            Outcome.UNKNOWN,
            f"abandoned while {doing}: the deadline after a second {interrupt.signals[-1]} "
            "passed before it was verified",
        )
    except Exception as exc:  # a bug: never escapes as exit 1 once a write may have been sent
        run.bug = True
        where = crash.record(exc)
        error = f"unexpected {type(exc).__name__} (a bug in mmp; details in {where})"
        if scope not in run.written:
            result = StepResult(step, Outcome.NOT_RUN, f"not run: {error}")
        else:
            seen = await _best_effort(read_scope(run, step))
            result = classify_read(step, seen, error)
    finish(run, result)
    return result


async def _best_effort(read: Awaitable[Seen]) -> Seen:
    try:
        return await read
    except Exception as exc:
        return Unread(f"read-back failed: unexpected {type(exc).__name__}")

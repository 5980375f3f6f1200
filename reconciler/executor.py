"""Apply: re-read live state, refuse a plan whose live state moved, run the steps (accounts
side by side, each account's steps in plan order), read back and verify each, journal each
before and after, and say where every scope ended.

End states and exit codes (product.md section 6):
  0  every step applied and verified
  1  failed before any write took effect (every scope as it was)
  3  partial, but every scope has its old or its new config in force (restored ones named)
  4  a scope may be unprotected: neither its old nor its new config is known to be in force

Asynchronous venues only acknowledge a command: after each one, the venue is read until it
shows the result or POLL_DEADLINE_MS passes. A replacement (reset-then-set venues) is:
reset, confirm cleared, set at once, confirm (its first read waits as long as the reset
took to show: the venue will be about as slow); the time between the two confirmations is
the unprotected gap, journaled and reported. If the set fails it is retried once, then the
old config is set again and confirmed.
"""

from __future__ import annotations

import asyncio
import enum
import time
from dataclasses import dataclass, field

from reconciler.errors import PlanFileError, ReconcilerError, VenueUnavailable
from reconciler.journal import Journal
from reconciler.live import Connections
from reconciler.model import LiveAccount, MmpConfig, live_digests
from reconciler.plan import Action, Plan, Step
from reconciler.secrets import redact


class Outcome(enum.Enum):
    APPLIED = "applied"  # new config verified in force
    KEPT_OLD = "kept-old"  # the write failed; the old config is verified in force
    RESTORED = "restored"  # a replacement failed; the old config was set again and verified
    UNKNOWN = "unknown"  # neither old nor new is known to be in force
    NOT_RUN = "not-run"  # skipped after an earlier failure


@dataclass
class StepResult:
    step: Step
    outcome: Outcome
    detail: str = ""
    gap_ms: int | None = None  # replacements: time without MMP between reset and set


@dataclass
class ApplyResult:
    results: list[StepResult] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        outcomes = {r.outcome for r in self.results}
        if Outcome.UNKNOWN in outcomes:
            return 4
        if outcomes <= {Outcome.APPLIED}:
            return 0
        if Outcome.APPLIED not in outcomes and Outcome.RESTORED not in outcomes:
            return 1
        return 3

    def unsafe(self) -> list[StepResult]:
        return [r for r in self.results if r.outcome is Outcome.UNKNOWN]


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
) -> ApplyResult:
    """Accounts run side by side (each venue up to the connections' concurrency); within an
    account the steps run one at a time in plan order. After a step fails no step starts
    anywhere; steps already under way finish and are verified; the rest are `not run`.

    The live state is read again unless `live` is the very read the plan was just made
    from, with nobody in between (`apply --auto-approve` without a saved plan)."""
    if live is None:
        live = await connections.read(list(plan.accounts))
    check_fingerprint(plan, live)
    journal.write("apply-start", fingerprint=plan.fingerprint, steps=len(plan.writes))
    by_account: dict[str, list[tuple[int, Step]]] = {}
    for index, step in enumerate(plan.writes):
        by_account.setdefault(step.key.account, []).append((index, step))
    outcomes: dict[int, StepResult] = {}
    failed = asyncio.Event()
    per_venue: dict[str, asyncio.Semaphore] = {}

    async def run_account(steps: list[tuple[int, Step]]) -> None:
        venue = steps[0][1].key.venue
        async with per_venue.setdefault(venue, asyncio.Semaphore(connections.concurrency)):
            for index, step in steps:
                if failed.is_set():
                    outcomes[index] = StepResult(
                        step, Outcome.NOT_RUN, "not run: an earlier step failed"
                    )
                    journal.write("step-skipped", scope=str(step.key), action=step.action.value)
                    continue
                outcomes[index] = await _run_step(step, connections, journal)
                if outcomes[index].outcome is not Outcome.APPLIED:
                    failed.set()

    await asyncio.gather(*(run_account(steps) for steps in by_account.values()))
    result = ApplyResult([outcomes[index] for index in range(len(plan.writes))])
    journal.write(
        "apply-end",
        exit_code=result.exit_code,
        outcomes={str(r.step.key): r.outcome.value for r in result.results},
    )
    return result


POLL_INTERVAL_MS = 50
POLL_MAX_INTERVAL_MS = 800
POLL_DEADLINE_MS = 10_000

Seen = MmpConfig | None | str  # a config, no config, or why it could not be read


async def _run_step(step: Step, connections: Connections, journal: Journal) -> StepResult:
    scope = str(step.key)
    journal.write(
        "step-begin",
        scope=scope,
        action=step.action.value,
        before=_data(step.before),
        after=_data(step.after),
    )
    end: Seen = "see the replace-* events"
    if step.action is Action.REPLACE:
        outcome = await _replace(step, connections, journal)
    else:
        error, refused = await _attempt(
            step, connections, "remove" if step.action is Action.REMOVE else "set", step.after
        )
        want = None if step.action is Action.REMOVE else step.after
        end = await _await_state(step, connections, want, refused)
        outcome = _classify(step, end, error, _not_in_force(connections, step))
    journal.write(
        "step-end",
        scope=scope,
        action=step.action.value,
        outcome=outcome.outcome.value,
        detail=outcome.detail,
        live=end if isinstance(end, str) else _data(end),
        gap_ms=outcome.gap_ms,
    )
    return outcome


async def _attempt(
    step: Step, connections: Connections, what: str, config: MmpConfig | None
) -> tuple[str, bool]:
    """One command: ("", False) on success, else (the error, redacted; whether the venue
    definitely did not apply it). A lost answer or a 5xx leaves the outcome unknown."""
    client = connections.clients[step.key.account]
    try:
        if what == "reset":
            await client.reset(step.key)
        elif what == "remove":
            assert step.before is not None
            await client.remove_config(step.key, step.before)
        else:
            assert config is not None
            await client.set_config(step.key, config)
    except VenueUnavailable as exc:
        return redact(str(exc)), not exc.maybe_applied
    except ReconcilerError as exc:
        return redact(str(exc)), True  # the venue answered and refused
    except Exception as exc:  # a bug must still end in a verified, named end state
        return redact(f"unexpected {type(exc).__name__}: {exc}"), False
    return "", False


async def _await_state(
    step: Step,
    connections: Connections,
    want: MmpConfig | None,
    refused: bool,
    *,
    eager: bool = False,
    settle_ms: int = 0,
) -> Seen:
    """Read until the scope shows `want`; once on a synchronous venue or after a refusal.
    When the outcome is unknown an asynchronous venue is watched to the deadline. Reads
    back off (50 ms, doubling to 800 ms) to spare the venue's rate limit, except `eager`
    ones: a replacement's reset, whose confirmation starts the set, is read every 50 ms,
    because every moment of waiting there is a moment without MMP. On an asynchronous
    venue, `settle_ms` (how long the venue just took to apply a command, at most 800 ms)
    passes before the first read: reading sooner would only spend the rate limit."""
    caps = connections.clients[step.key.account].capabilities
    deadline = time.monotonic_ns() + POLL_DEADLINE_MS * 1_000_000
    interval = POLL_INTERVAL_MS
    if settle_ms and not (caps.synchronous or refused):
        await asyncio.sleep(min(settle_ms, POLL_MAX_INTERVAL_MS) / 1000)
    while True:
        seen = await _read_back(step, connections)
        settled = caps.synchronous or refused or seen == want
        if settled or isinstance(seen, str) or time.monotonic_ns() >= deadline:
            return seen
        await asyncio.sleep(interval / 1000)
        if not eager:
            interval = min(interval * 2, POLL_MAX_INTERVAL_MS)


async def _replace(step: Step, connections: Connections, journal: Journal) -> StepResult:
    assert step.after is not None and step.before is not None
    error, refused = await _attempt(step, connections, "reset", None)
    acknowledged = time.monotonic_ns()
    cleared = await _await_state(step, connections, None, refused, eager=True)
    if cleared is not None:
        return _classify(step, cleared, error, "the reset did not clear the config in time")
    gap_start = time.monotonic_ns()
    settle_ms = (gap_start - acknowledged) // 1_000_000  # the set's first read waits as long
    journal.write("replace-cleared", scope=str(step.key))
    errors = []
    for _ in range(2):  # the set, and one retry within the deadline
        error, refused = await _attempt(step, connections, "set", step.after)
        seen = await _await_state(step, connections, step.after, refused, settle_ms=settle_ms)
        if seen == step.after:
            gap_ms = (time.monotonic_ns() - gap_start) // 1_000_000
            journal.write("replace-set", scope=str(step.key), unprotected_ms=gap_ms)
            return StepResult(
                step,
                Outcome.APPLIED,
                f"unprotected for {gap_ms} ms between reset and set",
                gap_ms=gap_ms,
            )
        errors.append(error or _not_in_force(connections, step))
    journal.write("replace-restore", scope=str(step.key), errors=errors)
    await _attempt(step, connections, "set", step.before)
    restored = await _await_state(step, connections, step.before, False, settle_ms=settle_ms)
    gap_ms = (time.monotonic_ns() - gap_start) // 1_000_000
    why = "; ".join(errors)
    if restored == step.before:
        return StepResult(
            step,
            Outcome.RESTORED,
            f"{why}; the old config was restored after {gap_ms} ms without MMP",
            gap_ms=gap_ms,
        )
    return StepResult(
        step,
        Outcome.UNKNOWN,
        f"{why}; restoring the old config failed too: the scope may be without MMP",
        gap_ms=gap_ms,
    )


def _not_in_force(connections: Connections, step: Step) -> str:
    caps = connections.clients[step.key.account].capabilities
    if caps.synchronous:
        return "the venue answered success but the change is not in force"
    return (
        f"the set was acknowledged but was not in force after {POLL_DEADLINE_MS} ms "
        "(the venue reports the reason only on its private WebSocket)"
    )


async def _read_back(step: Step, connections: Connections) -> Seen:
    """The scope's config as the venue now reports it; a string when it cannot be read."""
    try:
        only = frozenset({step.key.underlying})  # one scope: no need to reread the account
        account = await connections.read_account(step.key.account, only=only)
    except ReconcilerError as exc:
        return f"read-back failed: {redact(str(exc))}"
    live = account.by_key().get(step.key)
    return None if live is None else live.config


def _classify(step: Step, end: Seen, error: str, unapplied: str = "") -> StepResult:
    """Where the scope ended. `error`: why the write failed ("" if it did not fail);
    `unapplied`: what to say when it did not fail yet is not in force."""
    if isinstance(end, str):
        detail = f"{error}; {end}" if error else end
        return StepResult(step, Outcome.UNKNOWN, detail)
    if end == step.after:
        return StepResult(step, Outcome.APPLIED, f"verified despite: {error}" if error else "")
    why = error or unapplied
    if end == step.before:
        return StepResult(step, Outcome.KEPT_OLD, f"{why}; old config still in force")
    shown = "no config" if end is None else "a config that is neither the old nor the new one"
    return StepResult(step, Outcome.UNKNOWN, f"{why}; the venue now reports {shown}")


def _data(config: MmpConfig | None) -> object:
    return None if config is None else config.to_data()

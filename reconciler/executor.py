"""Apply: re-read live state, refuse a plan whose live state moved, run the steps in order,
read back and verify each, journal each before and after, and say where every scope ended.

End states and exit codes (product.md section 6):
  0  every step applied and verified
  1  failed before any write took effect (every scope as it was)
  3  partial, but every scope has its old or its new config in force
  4  a scope may be unprotected: neither its old nor its new config is known to be in force
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from reconciler.errors import PlanFileError, ReconcilerError
from reconciler.journal import Journal
from reconciler.live import Connections
from reconciler.model import LiveAccount, MmpConfig, live_digests
from reconciler.plan import Action, Plan, Step
from reconciler.secrets import redact


class Outcome(enum.Enum):
    APPLIED = "applied"  # new config verified in force
    KEPT_OLD = "kept-old"  # the write failed; the old config is verified in force
    UNKNOWN = "unknown"  # neither old nor new is known to be in force
    NOT_RUN = "not-run"  # skipped after an earlier failure


@dataclass
class StepResult:
    step: Step
    outcome: Outcome
    detail: str = ""


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
        if Outcome.APPLIED not in outcomes:
            return 1
        return 3

    def unsafe(self) -> list[StepResult]:
        return [r for r in self.results if r.outcome is Outcome.UNKNOWN]

    def failed(self) -> list[StepResult]:
        return [r for r in self.results if r.outcome is not Outcome.APPLIED]


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


async def apply_plan(plan: Plan, connections: Connections, journal: Journal) -> ApplyResult:
    live = await connections.read(list(plan.accounts))
    check_fingerprint(plan, live)
    journal.write("apply-start", fingerprint=plan.fingerprint, steps=len(plan.writes))
    result = ApplyResult()
    failed = False
    for step in plan.writes:
        if failed:
            result.results.append(
                StepResult(step, Outcome.NOT_RUN, "not run: an earlier step failed")
            )
            journal.write("step-skipped", scope=str(step.key), action=step.action.value)
            continue
        outcome = await _run_step(step, connections, journal)
        result.results.append(outcome)
        failed = outcome.outcome is not Outcome.APPLIED
    journal.write(
        "apply-end",
        exit_code=result.exit_code,
        outcomes={r.step.key.__str__(): r.outcome.value for r in result.results},
    )
    return result


async def _run_step(step: Step, connections: Connections, journal: Journal) -> StepResult:
    client = connections.clients[step.key.account]
    scope = str(step.key)
    journal.write(
        "step-begin",
        scope=scope,
        action=step.action.value,
        before=_data(step.before),
        after=_data(step.after),
    )
    error = ""
    try:
        if step.action is Action.REMOVE:
            assert step.before is not None
            await client.remove_config(step.key, step.before)
        else:
            assert step.after is not None
            if step.action is Action.REPLACE:
                await client.reset(step.key)
            await client.set_config(step.key, step.after)
    except ReconcilerError as exc:
        error = redact(str(exc))
    except Exception as exc:  # a bug must still end in a verified, named end state
        error = redact(f"unexpected {type(exc).__name__}: {exc}")
    end = await _read_back(step, connections)
    outcome = _classify(step, end, error)
    journal.write(
        "step-end",
        scope=scope,
        action=step.action.value,
        outcome=outcome.outcome.value,
        detail=outcome.detail,
        live=_data(end) if not isinstance(end, str) else end,
    )
    return outcome


async def _read_back(step: Step, connections: Connections) -> MmpConfig | str | None:
    """The scope's config as the venue now reports it; a string when it cannot be read."""
    try:
        account = await connections.read_account(step.key.account)
    except ReconcilerError as exc:
        return f"read-back failed: {redact(str(exc))}"
    live = account.by_key().get(step.key)
    return None if live is None else live.config


def _classify(step: Step, end: MmpConfig | str | None, error: str) -> StepResult:
    if isinstance(end, str):
        detail = f"{error}; {end}" if error else end
        return StepResult(step, Outcome.UNKNOWN, detail)
    if end == step.after:
        return StepResult(step, Outcome.APPLIED, f"verified despite: {error}" if error else "")
    if end == step.before:
        why = error or "the venue answered success but the change is not in force"
        return StepResult(step, Outcome.KEPT_OLD, f"{why}; old config still in force")
    shown = "no config" if end is None else "a config that is neither the old nor the new one"
    why = f"{error}; " if error else ""
    return StepResult(step, Outcome.UNKNOWN, f"{why}the venue now reports {shown}")


def _data(config: MmpConfig | None) -> object:
    return None if config is None else config.to_data()

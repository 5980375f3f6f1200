"""Apply runs that did not end cleanly, found in the journal, and what the next run does.

An apply run that journaled `apply-start` but no `apply-end` was interrupted (killed, a
crash, a lost machine); one that ended with exit 4 left scopes unknown. Their scopes in
flight (a step begun and not ended, or ended unknown) are named by `plan`, `apply`, `status`
and so the drift check, each with its live state now. The next `apply` puts every such scope
right: a declared scope is planned like any other (a scope left without a config is a
create of its desired config); an undeclared one left without a config gets its journaled
`before` config back. Once they all hold a config again, apply journals `recovered`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler import journal
from reconciler.desired import DesiredState
from reconciler.model import LiveAccount, LiveScope, MmpConfig, ScopeKey
from reconciler.plan import Action, Plan, Step
from reconciler.planner import field_changes
from reconciler.units import loads_exact

MARKS = ('"event":"apply-start"', '"event":"apply-end"', '"event":"recovered"')
PHASES = {
    "step-begin": "its step had begun; no write was sent",
    "reset-sent": "its reset was sent, with no answer journaled",
    "set-sent": "a set was sent, with no answer journaled",
    "remove-sent": "its removal was sent, with no answer journaled",
    "write-answered": "a write was answered; it was not verified",
    "replace-cleared": "it was between its reset and its set",
    "replace-restore": "its old config was being restored",
    "step-end": "its step ended unknown",
}


@dataclass(frozen=True)
class InFlight:
    key: ScopeKey
    action: str
    before: MmpConfig | None
    after: MmpConfig | None
    last: str  # the last event journaled for it

    @property
    def doing(self) -> str:
        return PHASES.get(self.last, self.last)


@dataclass(frozen=True)
class Unfinished:
    run: str
    started: str
    by: str
    host: str
    pid: int | None
    ended: bool  # apply-end was written (with exit 4); else the run was interrupted
    scopes: tuple[InFlight, ...]
    broken_lines: int = 0

    def head(self) -> str:
        how = "ended with exit 4" if self.ended else "was interrupted (no apply-end record)"
        where = f"pid {self.pid} on {self.host}" if self.pid else self.host or "?"
        return f"apply run {self.run} (started {self.started} by {self.by}, {where}) {how}"


def unfinished(path: Path | None) -> list[Unfinished]:
    """Unfinished runs in the journal, oldest first; none when there is no journal."""
    if path is None or not path.exists():
        return []
    open_runs = _open_runs(path)
    if not open_runs:
        return []
    return _in_flight(path, open_runs)


def _open_runs(path: Path) -> dict[str, dict[str, Any]]:
    """First pass, parsing only run boundaries: runs without a clean end, by id."""
    runs: dict[str, dict[str, Any]] = {}
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for text in handle:
            if not any(mark in text for mark in MARKS):
                continue
            record = _parse(text)
            if record is None:
                continue
            event, run = record["event"], record.get("run", "")
            if event == "apply-start":
                runs[run] = record
            elif event == "apply-end" and record.get("exit_code") != 4:
                runs.pop(run, None)
            elif event == "apply-end" and run in runs:
                runs[run] = {**runs[run], "ended": True}
            elif event == "recovered":
                for done in record.get("runs", []):
                    runs.pop(done, None)
    return runs


def _in_flight(path: Path, runs: dict[str, dict[str, Any]]) -> list[Unfinished]:
    steps: dict[str, dict[str, InFlight]] = {run: {} for run in runs}
    broken = 0
    for record in journal.read(path):
        if isinstance(record, journal.Unreadable):
            broken += 1
            continue
        scopes = steps.get(record.get("run", ""))
        if scopes is not None and "scope" in record:
            _track(scopes, record)
    return [
        Unfinished(
            run=run,
            started=str(start.get("ts", "?")),
            by=str(start.get("by", "?")),
            host=str(start.get("host", "")),
            pid=start.get("pid"),
            ended=bool(start.get("ended")),
            scopes=tuple(steps[run].values()),
            broken_lines=broken,
        )
        for run, start in runs.items()
        if steps[run]
    ]


def _track(scopes: dict[str, InFlight], record: dict[str, Any]) -> None:
    scope, event = str(record["scope"]), record["event"]
    if event == "step-begin":
        scopes[scope] = InFlight(
            _key(record.get("key"), scope),
            str(record.get("action", "")),
            _config(record.get("before")),
            _config(record.get("after")),
            event,
        )
    elif event == "step-end" and record.get("outcome") != "unknown":
        scopes.pop(scope, None)
    elif scope in scopes:
        scopes[scope] = dataclasses.replace(scopes[scope], last=event)


def _key(data: Any, scope: str) -> ScopeKey:
    if isinstance(data, dict):
        return ScopeKey.from_data(data)
    parts = scope.split("/")
    return ScopeKey(parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else None)


def _config(data: Any) -> MmpConfig | None:
    try:
        return None if data is None else MmpConfig.from_data(data)
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return None


def _parse(text: str) -> dict[str, Any] | None:
    try:
        record = loads_exact(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) and isinstance(record.get("event"), str) else None


def describe(runs: list[Unfinished], live: Iterable[LiveAccount]) -> list[str]:
    """One line per unfinished run and per scope it left in flight, with its live state."""
    read = {account.account: account.by_key() for account in live}
    lines = []
    for run in runs:
        lines.append(run.head() + "; its scopes in flight:")
        for item in run.scopes:
            state = _live_text(item, read.get(item.key.account), item.key)
            lines.append(f"  {item.key}: {item.doing}; live now: {state}")
        if run.broken_lines:
            lines.append(f"  ({run.broken_lines} journal line(s) cut short: a crash while writing)")
    return lines


def _live_text(item: InFlight, scopes: dict[ScopeKey, LiveScope] | None, key: ScopeKey) -> str:
    if scopes is None:
        return "not read in this run"
    live = scopes.get(key)
    config = None if live is None else live.config
    if config is None:
        return "no config: UNPROTECTED" if item.before or item.after else "no config"
    if config == item.after:
        return "the config that run was writing"
    if config == item.before:
        return "the config it had before that run"
    return "a config that is neither its old nor its new one"


def left_unprotected(runs: list[Unfinished], live: Iterable[LiveAccount]) -> list[ScopeKey]:
    """Scopes an unfinished run had in flight that hold no config now (on accounts read)."""
    read = {account.account: account.by_key() for account in live}
    left = []
    for run in runs:
        for item in run.scopes:
            scopes = read.get(item.key.account)
            if scopes is None or item.before is None or item.action == "remove":
                continue  # not read here; or no config is what it had, or what was meant
            scope = scopes.get(item.key)
            if scope is None or scope.config is None:
                left.append(item.key)
    return left


def amend(
    plan: Plan,
    runs: list[Unfinished],
    desired: DesiredState,
    live: list[LiveAccount],
    *,
    restore: bool = True,
) -> Plan:
    """The plan with the unfinished runs named, and (with `restore`) the restores apply must
    add. A saved plan gets no restore: apply recomputes a saved plan from the policies and
    the live state alone; `mmp apply` without one restores."""
    if not runs:
        return plan
    read = {account.account: account.by_key() for account in live}
    restores = [
        step
        for run in runs
        for item in run.scopes
        if restore and (step := _restore(run, item, desired, read)) is not None
    ]
    steps = sorted((*plan.steps, *restores), key=lambda s: (s.action.rank, s.key.sort_key()))
    notes = (*plan.notes, *describe(runs, live))
    return dataclasses.replace(plan, steps=tuple(steps), notes=notes)


def _restore(
    run: Unfinished,
    item: InFlight,
    desired: DesiredState,
    read: dict[str, dict[ScopeKey, LiveScope]],
) -> Step | None:
    """Put an undeclared scope that the run left without a config back as it was."""
    scopes = read.get(item.key.account)
    declared = item.key in desired.scopes or (
        (item.key.account, item.key.underlying) in desired.absent_underlyings
    )
    if scopes is None or declared or item.before is None:
        return None
    live = scopes.get(item.key)
    if live is not None and live.config is not None:
        return None
    reason = (
        f"restore: apply run {run.run} left it without a config; the policies do not declare "
        "it, so the config it had before that run is set again"
    )
    if live is not None and live.freeze.frozen:
        return Step(
            item.key,
            Action.HELD,
            None,
            item.before,
            field_changes(None, item.before),
            live.freeze,
            Action.CREATE,
            f"journal run {run.run}",
            reason,
        )
    changes = field_changes(None, item.before)
    return Step(
        item.key,
        Action.CREATE,
        None,
        item.before,
        changes,
        where=f"journal run {run.run}",
        reason=reason,
    )


def settled(runs: list[Unfinished], ended: dict[str, str], live: list[LiveAccount]) -> list[str]:
    """The runs whose every scope in flight is now put right: `ended` is this apply's
    outcome per scope, `live` what it read before writing."""
    read = {scope.key: scope for account in live for scope in account.scopes}
    accounts = {account.account for account in live}
    return [
        run.run
        for run in runs
        if all(
            _settled(item, ended.get(str(item.key)), read.get(item.key), accounts)
            for item in run.scopes
        )
    ]


def _settled(
    item: InFlight, outcome: str | None, live: LiveScope | None, accounts: set[str]
) -> bool:
    if outcome is not None:  # this apply had a step for it
        return outcome == "applied"
    if item.key.account not in accounts:  # filtered out of this run: not looked at
        return False
    has_config = live is not None and live.config is not None
    # no config now is right only where it had none before that run, or was being removed
    return has_config or item.before is None or item.action == "remove"

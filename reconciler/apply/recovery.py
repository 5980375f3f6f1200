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
import datetime as dt
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.apply import journal
from reconciler.core.console import warn
from reconciler.core.model import LiveAccount, LiveScope, MmpConfig, ScopeKey
from reconciler.planning.plan import Action, Plan, Step
from reconciler.planning.planner import field_changes
from reconciler.policy.desired import DesiredState
from reconciler.venues.base import Capabilities

BOUNDARY = re.compile(r'"event"\s*:\s*"(?:apply-start|apply-end|recovered)"')
BAD_RECORD = (KeyError, TypeError, ValueError, AttributeError, IndexError, ArithmeticError)
PHASES = {
    "step-begin": "its step had begun; no write was sent",
    "reset-sent": "its reset was sent, with no answer journaled",
    "set-sent": "a set was sent, with no answer journaled",
    "remove-sent": "its removal was sent, with no answer journaled",
    "write-answered": "a write was answered; it was not verified",
    "write-outcome": "the venue pushed how its write ended; it was not verified",
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
    pending: str = ""  # a write (reset, set, remove) that may still land: sent, not settled
    sent_at: dt.datetime | None = None  # when that write was journaled as sent

    @property
    def doing(self) -> str:
        return PHASES.get(self.last, self.last)

    def lands_until(self) -> dt.datetime | None:
        """Until when its pending write may still land (None: nothing pending). A request
        in flight when its run died reaches the venue within seconds, if at all, and a
        queued command is applied within the venue's delay: mmp allows late_landing_s(),
        and never past the age at which the venue refuses any request (OKX 31 s, Binance
        and Bybit 6 s): by default that age, on those venues."""
        if not self.pending or self.sent_at is None:
            return None
        caps = _capabilities().get(self.key.venue)
        window_ms = late_landing_s() * 1000
        if caps is not None and caps.refuses_after_ms is not None:
            window_ms = min(window_ms, caps.refuses_after_ms)
        return self.sent_at + dt.timedelta(milliseconds=window_ms)

    def may_still_land(self, now: dt.datetime | None = None) -> bool:
        until = self.lands_until()
        return until is not None and (now or dt.datetime.now(dt.UTC)) < until


LATE_LANDING_S = 60


def late_landing_s() -> int:
    """How long a write of a dead run may still land (MMP_LATE_LANDING_S sets it)."""
    text = os.environ.get("MMP_LATE_LANDING_S", "")
    return int(text) if text.isdigit() else LATE_LANDING_S


def _capabilities() -> dict[str, Capabilities]:
    from reconciler.venues import capabilities  # the registry imports every venue

    return capabilities()


def baseline(runs: list[Unfinished], live: Iterable[LiveAccount]) -> dict[ScopeKey, MmpConfig]:
    """The config each scope had before an unfinished run, where it now has none: a create
    there restores protection the run took away, and is judged against what it had. With
    several runs (oldest first), the latest's: what was live just before the scope went bare,
    not a config a person or another run had replaced since."""
    read = {scope.key: scope for account in live for scope in account.scopes}
    had: dict[ScopeKey, MmpConfig] = {}
    for run in runs:
        for item in run.scopes:
            now = read.get(item.key)
            if item.before is not None and (now is None or now.config is None):
                had[item.key] = item.before
    return had


def landing_until(runs: list[Unfinished]) -> dt.datetime | None:
    """The latest moment a pending write of these runs may still land, if one may now."""
    now = dt.datetime.now(dt.UTC)
    times = [
        until
        for run in runs
        if not run.running
        for item in run.scopes
        if (until := item.lands_until()) is not None and until > now
    ]
    return max(times, default=None)


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
    running: bool = False  # it holds the one-run lock now: mid-change, not interrupted
    kind: str = "apply"  # "heal" for a run of `mmp heal` (its apply-start says so)

    def head(self) -> str:
        how = "ended with exit 4" if self.ended else "was interrupted (no apply-end record)"
        if self.running:
            how = "is running now (it holds the lock): its scopes are mid-change"
        where = f"pid {self.pid} on {self.host}" if self.pid else self.host or "?"
        return f"{self.kind} run {self.run} (started {self.started} by {self.by}, {where}) {how}"


def unfinished(path: Path | None, policies: str | None = None) -> list[Unfinished]:
    """Unfinished runs in the journal, oldest first; none when there is no journal. A record
    that is not what mmp writes (edited, cut short, another tool's) is counted, not trusted.
    With `policies` (paths.policies_id), only the runs of that policies folder: two folders
    of one repository share its journal, and one's runs are not the other's to restore."""
    if path is None or not _regular(path):
        return []
    open_runs = {run: r for run, r in _open_runs(path).items() if _of(r, policies)}
    if not open_runs:
        return []
    return _in_flight(path, open_runs)


def elsewhere(path: Path | None, policies: str) -> list[str]:
    """The other policies folders with unfinished runs in this journal: runs that left a
    scope in flight (a run that ended with exit 4 having left none, as a heal does while a
    declared scope stays bare, has nothing to put right)."""
    if path is None or not _regular(path):
        return []
    others = {run: r for run, r in _open_runs(path).items() if not _of(r, policies)}
    in_flight = {item.run for item in _in_flight(path, others)} if others else set()
    return sorted({str(others[run]["policies"]) for run in in_flight})


def open_run_ids(path: Path) -> set[str]:
    """The runs in this journal that left a scope in flight, of any policies folder."""
    return {run.run for run in unfinished(path)}


def _of(start: dict[str, Any], policies: str | None) -> bool:
    made = start.get("policies")
    return policies is None or made is None or made == policies  # older runs: anyone's


def _open_runs(path: Path) -> dict[str, dict[str, Any]]:
    """First pass, parsing only run boundaries: runs without a clean end, by id. A run id is
    never reused, so an end or a `recovered` closes its run wherever it stands in the file
    (journals of several runs merged, as the workflows carry them, may put it first)."""
    runs: dict[str, dict[str, Any]] = {}
    closed: set[str] = set()
    ended: set[str] = set()  # ended with exit 4
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for text in handle:
            if not BOUNDARY.search(text):
                continue
            record = journal.parse(text)
            run = None if record is None else record.get("run")
            if record is None or not isinstance(run, str):
                continue
            event = record["event"]
            if event == "apply-start":
                runs[run] = record
            elif event == "apply-end":
                (ended if record.get("exit_code") == 4 else closed).add(run)
            elif event == "recovered" and isinstance(record.get("runs"), list):
                closed |= {done for done in record["runs"] if isinstance(done, str)}
    return {
        run: {**start, "ended": True} if run in ended else start
        for run, start in runs.items()
        if run not in closed
    }


def _regular(path: Path) -> bool:
    """Only a regular file is read as a journal (a FIFO would block, /dev/zero never end)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    if stat.S_ISREG(mode):
        return True
    warn(f"mmp: {path} is not a regular file: it is not read as a journal")
    return False


def _in_flight(path: Path, runs: dict[str, dict[str, Any]]) -> list[Unfinished]:
    steps: dict[str, dict[str, InFlight]] = {run: {} for run in runs}
    broken = 0
    for record in journal.read(path):
        if isinstance(record, journal.Unreadable):
            broken += 1
            continue
        run = record.get("run")
        scopes = steps.get(run) if isinstance(run, str) else None
        if scopes is None or "scope" not in record:
            continue
        try:
            _track(scopes, record)
        except BAD_RECORD:
            broken += 1
    return [
        Unfinished(
            run=run,
            started=str(start.get("ts", "?")),
            by=str(start.get("by", "?")),
            host=str(start.get("host", "")),
            pid=start.get("pid") if isinstance(start.get("pid"), int) else None,
            ended=bool(start.get("ended")),
            scopes=tuple(steps[run].values()),
            broken_lines=broken,
            kind="heal" if start.get("kind") == "heal" else "apply",
        )
        for run, start in runs.items()
        if steps[run]
    ]


def _track(scopes: dict[str, InFlight], record: dict[str, Any]) -> None:
    scope, event = record["scope"], record["event"]
    if not isinstance(scope, str):
        raise TypeError("scope is not text")
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
        scopes[scope] = _pending(dataclasses.replace(scopes[scope], last=event), record)


def _pending(item: InFlight, record: dict[str, Any]) -> InFlight:
    """Which write of the scope may still land after this record: one sent and not
    answered, one whose answer was lost, or one an asynchronous venue acknowledged and
    nothing since showed in force."""
    event = record["event"]
    if event.endswith("-sent"):
        return dataclasses.replace(
            item, pending=event.removesuffix("-sent"), sent_at=_when(record.get("ts"))
        )
    if event == "write-answered":
        result = record.get("result")
        caps = _capabilities().get(item.key.venue)
        queued = result == "acknowledged" and caps is not None and not caps.synchronous
        if result == "refused" or (result == "acknowledged" and not queued):
            return dataclasses.replace(item, pending="", sent_at=None)
        return item  # unknown, or queued: it may still land
    if event == "write-outcome":  # the venue's pushed word: in force, or rejected; final
        return dataclasses.replace(item, pending="", sent_at=None)
    if event in ("replace-cleared", "replace-restore"):
        return dataclasses.replace(item, pending="", sent_at=None)  # the reset showed
    return item


def _when(text: Any) -> dt.datetime | None:
    """A record's time; one later than a minute from now (an edited or forged record: mmp
    journals when it acts) is no time at all: nothing waits on it, and its run can settle."""
    try:
        moment = dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    now = dt.datetime.now(dt.UTC)
    return None if moment > now + dt.timedelta(minutes=1) else moment


def _key(data: Any, scope: str) -> ScopeKey:
    key = ScopeKey.from_data(data) if isinstance(data, dict) else _split(scope)
    texts = (key.venue, key.account, key.underlying)
    if not all(isinstance(part, str) and part for part in texts) or str(key) != scope:
        raise ValueError(f"journal scope {scope!r} does not match its key")
    if key.group is not None and not isinstance(key.group, str):
        raise ValueError(f"journal scope {scope!r} has a group that is not text")
    return key


def _split(scope: str) -> ScopeKey:
    parts = scope.split("/")
    if len(parts) not in (3, 4):
        raise ValueError(f"journal scope {scope!r} is not venue/account/underlying[/group]")
    return ScopeKey(parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else None)


def _config(data: Any) -> MmpConfig | None:
    try:
        return None if data is None else MmpConfig.from_data(data)
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return None


def describe(
    runs: list[Unfinished], live: Iterable[LiveAccount], desired: DesiredState
) -> list[str]:
    """One line per unfinished run and per scope it left in flight, with its live state."""
    read = {account.account: account.by_key() for account in live}
    lines = []
    for run in runs:
        lines.append(run.head() + ("; its scopes in flight:" if run.scopes else ""))
        for item in run.scopes:
            state = _live_text(item, read.get(item.key.account), desired)
            lines.append(f"  {item.key}: {item.doing}; live now: {state}{_landing(item)}")
        if run.broken_lines:
            lines.append(f"  ({run.broken_lines} journal line(s) unreadable: cut short or edited)")
    return lines


def _live_text(
    item: InFlight, scopes: dict[ScopeKey, LiveScope] | None, desired: DesiredState
) -> str:
    if not _managed_account(item, desired):
        had = "no config" if item.before is None else item.before.shown()
        return (
            f"unknown: its account is no longer a {item.key.venue} account in the policies, so "
            f"mmp cannot read or restore it (before that run it had {had}); check it on the "
            "venue: the next apply hands it over to you, saying so"
        )
    if scopes is None:
        return "not read in this run"
    live = scopes.get(item.key)
    config = None if live is None else live.config
    if config is None:
        return "no config: UNPROTECTED" if _left_bare(item, desired) else "no config"
    if config == item.after:
        return "the config that run was writing"
    if config == item.before:
        return "the config it had before that run"
    return "a config that is neither its old nor its new one"


def _landing(item: InFlight) -> str:
    until = item.lands_until()
    if until is None or not item.may_still_land():
        return ""
    assert item.sent_at is not None
    return (
        f"; but its {item.pending} sent at {item.sent_at:%H:%M:%S} UTC may still land until "
        f"{until:%H:%M:%S} UTC (unknown until then: look again after it)"
    )


def _managed_account(item: InFlight, desired: DesiredState) -> bool:
    target = desired.accounts.get(item.key.account)
    return target is not None and target.venue == item.key.venue


def _declared_absent(item: InFlight, desired: DesiredState) -> bool:
    scope = desired.scopes.get(item.key)
    absent = (item.key.account, item.key.underlying) in desired.absent_underlyings
    return absent or (scope is not None and scope.config is None)


def _left_bare(item: InFlight, desired: DesiredState) -> bool:
    """No config now would be the run's doing: it had one, and nobody wants it gone."""
    meant_bare = item.action == "remove" or _declared_absent(item, desired)
    return item.before is not None and not meant_bare


def left_unprotected(
    runs: list[Unfinished],
    live: Iterable[LiveAccount],
    desired: DesiredState,
    unread: Iterable[str] = (),
) -> list[ScopeKey]:
    """Scopes an unfinished run had in flight that hold no config now, or whose account
    mmp cannot read (it left the policies, or it could not be read now: `unread`) while the
    run may have left them bare: `mmp status` exits 4 for them."""
    read = {account.account: account.by_key() for account in live}
    failed = set(unread)
    left = []
    for run in runs:
        for item in run.scopes:
            if not _managed_account(item, desired):
                left.append(item.key)
                continue
            if item.key.account in failed and _left_bare(item, desired):
                left.append(item.key)  # unknown, and it may be without MMP
                continue
            landing = item.pending in ("reset", "remove") and item.may_still_land()
            if landing and _left_bare(item, desired):
                left.append(item.key)  # when it lands, the scope is without MMP
                continue
            scopes = read.get(item.key.account)
            if scopes is None or not _left_bare(item, desired):
                continue  # not read here; or no config is what it had, or what is meant
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
    added = restores(runs, desired, live) if restore else []
    steps = sorted((*plan.steps, *added), key=lambda s: (s.action.rank, s.key.sort_key()))
    notes = (*plan.notes, *describe(runs, live, desired))
    return dataclasses.replace(plan, steps=tuple(steps), notes=notes)


def restores(
    runs: list[Unfinished], desired: DesiredState, live: Iterable[LiveAccount]
) -> list[Step]:
    """The steps that put each undeclared scope an unfinished run left without a config back
    as it was (`mmp apply` adds them to its plan; heal, which writes only what the policies
    declare, names them for a person)."""
    read = {account.account: account.by_key() for account in live}
    return [
        step
        for run in runs
        for item in run.scopes
        if not run.running and (step := _restore(run, item, desired, read))
    ]


def _restore(
    run: Unfinished,
    item: InFlight,
    desired: DesiredState,
    read: dict[str, dict[ScopeKey, LiveScope]],
) -> Step | None:
    """Put an undeclared scope that the run left without a config back as it was: never a
    scope the run was removing, nor one on an account of another venue than the journal's."""
    scopes = read.get(item.key.account)
    declared = item.key in desired.scopes or _declared_absent(item, desired)
    if scopes is None or declared or not _left_bare(item, desired):
        return None
    if not _managed_account(item, desired):
        return None
    live = scopes.get(item.key)
    if live is not None and live.config is not None:
        return None
    assert item.before is not None
    reason = (
        f"restore: {run.kind} run {run.run} left it without a config; the policies do not declare "
        "it, so the config it had before that run is set again"
    )
    changes = field_changes(None, item.before)
    where = f"journal run {run.run}"
    if live is not None and live.freeze.frozen:
        held = Action.CREATE
        return Step(
            item.key, Action.HELD, None, item.before, changes, live.freeze, held, where, reason
        )
    return Step(item.key, Action.CREATE, None, item.before, changes, where=where, reason=reason)


@dataclass(frozen=True)
class Settled:
    runs: list[str]  # the runs whose every scope in flight is put right (or handed over)
    handed_over: list[str]  # scopes of accounts no longer in the policies: the user's now


def settled(
    runs: list[Unfinished],
    ended: dict[str, str],
    live: list[LiveAccount],
    desired: DesiredState,
) -> Settled:
    """`ended` is this apply's outcome per scope, `live` what it read before writing."""
    read = {scope.key: scope for account in live for scope in account.scopes}
    accounts = {account.account for account in live}
    done, handed = [], []
    for run in runs:
        gone = [str(i.key) for i in run.scopes if not _managed_account(i, desired)]
        if all(
            not _managed_account(item, desired)
            or _settled(item, ended.get(str(item.key)), read.get(item.key), accounts, desired)
            for item in run.scopes
        ):
            done.append(run.run)
            handed += gone
    return Settled(done, handed)


def _settled(
    item: InFlight,
    outcome: str | None,
    live: LiveScope | None,
    accounts: set[str],
    desired: DesiredState,
) -> bool:
    if item.may_still_land():  # what this run saw may yet change
        return False
    if outcome is not None:  # this apply had a step for it
        return outcome == "applied"
    if item.key.account not in accounts:  # filtered out of this run: not looked at
        return False
    has_config = live is not None and live.config is not None
    # no config now is right only where it had none before that run, or none is meant
    return has_config or not _left_bare(item, desired)

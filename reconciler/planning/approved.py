"""The approved plan is the plan that runs: a saved plan, checked against the checkout that
apply runs in, before anything is sent to any venue.

Apply trusts nothing in the file that it can derive from the reviewed source. The desired
state is rebuilt from the policies in front of it and must have the plan's digest; the
accounts, endpoints and credential prefixes come from those policies, never from the file;
the guardrails in front of it must be the ones the plan was checked against; the commit,
the policies' uncommitted changes and the policies folder must be where the plan was made;
and the steps (and trips) are recomputed from that desired state and the live state the
plan records, and must equal the saved ones. What runs is the recomputed plan. Every
difference is named; any one refuses the plan. Then, once the venues are read again just
before the first write, the plan recomputed from that read must be the same again
(`confirm`): a file whose recorded live state was edited to match its edited steps is
caught there.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from reconciler.apply.executor import check_fingerprint
from reconciler.core.errors import PlanFileError
from reconciler.core.model import LiveAccount, MmpConfig, ScopeKey
from reconciler.core.units import now
from reconciler.planning.plan import Plan, Step
from reconciler.planning.planfile import SavedPlan
from reconciler.planning.provenance import Provenance, commit_time
from reconciler.planning.selection import Selection
from reconciler.policy import guards
from reconciler.policy.desired import AccountTarget, DesiredState
from reconciler.policy.validate import load_desired
from reconciler.venues.base import Capabilities

MAX_LIFE = dt.timedelta(days=7)  # mmp plan --expires takes at most 10080 minutes
CLOCK_SKEW = dt.timedelta(minutes=5)  # between the machine that planned and this one


@dataclass(frozen=True)
class Approved:
    plan: Plan  # recomputed: what runs
    desired: DesiredState
    targets: list[AccountTarget]
    made_ms: int | None = None  # when it was planned: the clock its steps were made with


def check(
    saved: SavedPlan,
    path: Path,
    policies: Path,
    capabilities: Mapping[str, Capabilities],
    *,
    now: dt.datetime | None = None,
    baseline: Mapping[ScopeKey, MmpConfig] | None = None,
) -> Approved:
    now = now or dt.datetime.now(dt.UTC)
    if now >= saved.expires_at:
        raise PlanFileError(
            f"{path}: the plan expired at {saved.expires_at.isoformat()}; run plan again"
        )
    problems = _dates(saved, now, commit_time(policies))
    problems += saved.provenance.differences(Provenance.of(policies))
    desired = load_desired(policies, capabilities)
    if desired.digest() != saved.desired_digest:
        problems += _desired_differences(saved.desired, desired)
    here = guards.record(policies)
    if here != saved.guardrails:
        problems += _guardrail_differences(saved.guardrails, here)
    remade: Plan | None = None
    targets: list[AccountTarget] = []
    if not problems:  # recomputing means something only from the same desired state
        remade, targets, found = _recompute(saved, desired, policies, capabilities, baseline)
        problems += found
    if problems or remade is None:
        raise PlanFileError(
            f"{path}: refused; nothing was sent to any venue. The saved plan is not what the "
            "checkout in front of apply gives:\n  - "
            + "\n  - ".join(problems)
            + "\nRun plan again here and review the new plan."
        )
    return Approved(remade, desired, targets, _made_ms(saved))


def _dates(saved: SavedPlan, now: dt.datetime, committed: dt.datetime | None) -> list[str]:
    """Dates only `mmp plan` could have written: a life of at most MAX_LIFE, made no later
    than now and no earlier than its commit (each give or take CLOCK_SKEW)."""
    made, ends = saved.created_at, saved.expires_at
    found = []
    if not dt.timedelta(0) < ends - made <= MAX_LIFE:
        found.append(
            f"it was made {made:%Y-%m-%d %H:%M} UTC to expire {ends:%Y-%m-%d %H:%M} UTC: "
            "mmp plan gives a plan from 1 minute to 7 days"
        )
    if made > now + CLOCK_SKEW:
        found.append(f"it says it was made {made:%Y-%m-%d %H:%M} UTC, later than now")
    if committed is not None and made < committed - CLOCK_SKEW:
        found.append(
            f"it says it was made {made:%Y-%m-%d %H:%M} UTC, before its commit "
            f"({committed:%Y-%m-%d %H:%M} UTC)"
        )
    return found


def _recompute(
    saved: SavedPlan,
    desired: DesiredState,
    policies: Path,
    capabilities: Mapping[str, Capabilities],
    baseline: Mapping[ScopeKey, MmpConfig] | None = None,
) -> tuple[Plan, list[AccountTarget], list[str]]:
    selection = Selection.of_plan(saved.plan, frozenset(capabilities))
    targets = selection.targets(desired)
    found = _accounts_differences(saved, targets)
    remade = selection.plan(desired, saved.live, capabilities, targets, now_ms=_made_ms(saved))
    trips = guards.check(remade, guards.load(policies), desired, baseline)
    remade = replace(remade, trips=tuple(trips), sandbox=saved.plan.sandbox)
    found += _plan_differences(saved.plan, remade)
    return remade, targets, found


def _made_ms(saved: SavedPlan) -> int:
    """The clock a saved plan's steps were made with (a step may say what a write does by
    then, e.g. a freeze it may bring back): recomputing it at apply time uses the same,
    never a later one than now (the file's word: a created_at moved on could only drop a
    flag; found by a red team)."""
    made = int(saved.created_at.timestamp() * 1000)
    return min(made, now("ms"))


def confirm(
    approved: Approved, live: list[LiveAccount], capabilities: Mapping[str, Capabilities]
) -> None:
    """Just before the first write: the plan recomputed from the venues' fresh read must be
    the approved one. The file's live state is the file's word; this read is the venues'.
    Equal fingerprints with different steps mean the file's live state was not the venues'."""
    check_fingerprint(approved.plan, live)  # the venues moved: said as such
    selection = Selection.of_plan(approved.plan, frozenset(capabilities))
    fresh = selection.plan(
        approved.desired, live, capabilities, approved.targets, now_ms=approved.made_ms
    )
    found = _steps_differences(approved.plan.steps, fresh.steps, "the venues' read")
    if found:
        raise PlanFileError(
            "refused; nothing was sent to any venue. The venues' state, read just now, has "
            "the plan's fingerprint, yet gives other steps than the saved plan: its recorded "
            "live state is not what the venues held. It was edited:\n  - "
            + "\n  - ".join(found)
            + "\nRun plan again and review the new plan."
        )


def _accounts_differences(saved: SavedPlan, targets: list[AccountTarget]) -> list[str]:
    venues = {t.name: t.venue for t in targets}
    read = {account.account: account.venue for account in saved.live}
    found = _misfiled(saved.live)
    if read != venues:
        found.append(
            "its live state is of accounts "
            + (", ".join(f"{a} ({v})" for a, v in sorted(read.items())) or "none")
            + "; the policies, with the plan's filters, select "
            + (", ".join(f"{a} ({v})" for a, v in sorted(venues.items())) or "none")
        )
    if tuple(sorted(read)) != saved.plan.accounts:
        found.append(
            f"it names the accounts {', '.join(saved.plan.accounts) or 'none'}, but "
            f"its live state is of {', '.join(sorted(read)) or 'none'}"
        )
    return found


def _misfiled(live: list[LiveAccount]) -> list[str]:
    """Each scope under its own account and venue, once, and each account once."""
    found, seen = [], set()
    if len({account.account for account in live}) != len(live):
        found.append("its live state names an account more than once")
    for account in live:
        for scope in account.scopes:
            key = scope.key
            if (key.account, key.venue) != (account.account, account.venue):
                found.append(
                    f"its live state files {key} under the account {account.account} "
                    f"({account.venue})"
                )
            if key in seen:
                found.append(f"its live state has {key} more than once")
            seen.add(key)
    return found


def _plan_differences(saved: Plan, remade: Plan) -> list[str]:
    found = _steps_differences(saved.steps, remade.steps)
    for name in ("fingerprint", "digests", "accounts", "filters", "trips", "included"):
        if getattr(saved, name) != getattr(remade, name):
            found.append(
                f"its {name} {_short(getattr(saved, name))}; the checkout gives "
                f"{_short(getattr(remade, name))}"
            )
    return found


def _steps_differences(
    saved: tuple[Step, ...], remade: tuple[Step, ...], now: str = "the checkout"
) -> list[str]:
    ours = {str(step.key): step for step in saved}
    theirs = {str(step.key): step for step in remade}
    found = []
    for scope in sorted(ours.keys() | theirs.keys()):
        old, new = ours.get(scope), theirs.get(scope)
        if old == new:
            continue
        if old is None or new is None:
            has, lacks = (now, "the saved plan") if old is None else ("the saved plan", now)
            step = new or old
            assert step is not None
            found.append(f"{scope}: {has} has a step ({step.action.value}) that {lacks} has not")
            continue
        found += [f"{scope}: {text}" for text in _step_fields(old, new, now)]
    if [str(s.key) for s in saved] != [str(s.key) for s in remade] and not found:
        found.append(f"its steps are in another order than {now} gives")
    return found


def _step_fields(old: Step, new: Step, now: str) -> list[str]:
    mine, yours = old.to_data(), new.to_data()
    found = []
    for name in sorted(mine.keys() | yours.keys()):
        a, b = mine.get(name), yours.get(name)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            for inner in sorted(a.keys() | b.keys()):
                if a.get(inner) != b.get(inner):
                    found.append(
                        f"{name}.{inner} is {_short(a.get(inner))} in the saved plan; "
                        f"{now} gives {_short(b.get(inner))}"
                    )
            continue
        found.append(f"{name} is {_short(a)} in the saved plan; {now} gives {_short(b)}")
    return found


def _desired_differences(saved: dict[str, Any], desired: DesiredState) -> list[str]:
    here = desired.to_data()
    found = ["the desired state differs from the policies' (its digest does not match)"]
    for kind in ("accounts",):
        ours, theirs = saved.get(kind) or {}, here.get(kind) or {}
        for name in sorted(set(ours) | set(theirs)):
            if ours.get(name) != theirs.get(name):
                found.append(
                    f"account {name}: {_short(ours.get(name))} in the saved plan, "
                    f"{_short(theirs.get(name))} in the policies"
                )
    mine = {json.dumps(s.get("scope"), sort_keys=True): s for s in saved.get("scopes") or []}
    yours = {json.dumps(s["scope"], sort_keys=True): s for s in here["scopes"]}
    for key in sorted(mine.keys() | yours.keys()):
        a, b = mine.get(key, {}).get("config"), yours.get(key, {}).get("config")
        if a != b or (key in mine) != (key in yours):
            scope = _scope_text((mine.get(key) or yours.get(key) or {}).get("scope"))
            found.append(f"{scope}: {_short(a)} in the saved plan, {_short(b)} in the policies")
    return found


def _guardrail_differences(saved: dict[str, Any], here: dict[str, Any]) -> list[str]:
    defaults = "the defaults (no guardrails file)"
    if saved.get("file") != here.get("file"):
        return [
            f"it was checked against the guardrails of {saved.get('file') or defaults}; in "
            f"front of apply they are those of {here.get('file') or defaults}"
        ]
    ours, theirs = saved.get("rules") or {}, here.get("rules") or {}
    return [
        f"guardrail {name}: {_short(ours.get(name))} when planned, {_short(theirs.get(name))} now"
        for name in sorted(set(ours) | set(theirs))
        if ours.get(name) != theirs.get(name)
    ] or ["its guardrails differ from the ones in front of apply"]


def _scope_text(data: Any) -> str:
    if not isinstance(data, dict):
        return "a scope"
    parts = [data.get("venue"), data.get("account"), data.get("underlying"), data.get("group")]
    return "/".join(str(p) for p in parts if p is not None)


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 160 else text[:157] + "..."

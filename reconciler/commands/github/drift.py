"""The drift issue: opened (or updated) while live settings differ from the policies, closed
by the first run that finds none. Shard plans are merged first; an account in two shards
fails loudly. An account no shard plan covers (its shard failed: a venue down, say) is
named "not checked" at the top of the issue, which then stays open, while every shard that
did run still reports what it found: one venue down never hides another's unprotected scope.

Drift is every write the plan would make, and every held (frozen) scope whose live config
differs from the policies: it is pending, applied once unfrozen, and keeps the issue open.
Unprotected scopes (declared, no MMP config live) open the issue body, then pending ones,
then writes to scopes whose freeze state is unknown with no trigger seen (Bullish over REST):
the apply workflow writes them, and if such a scope is frozen the write may end the freeze.

Where the policies enable healing, the heal job runs before the shards plan, and the issue
opens with what it healed and what still needs a person (`Heal`). A run that healed
something and then finds nothing differing still says so: the issue is opened (or updated)
with what was healed, and closed in the same run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.commands.github.api import GitHubApi
from reconciler.core.errors import ReconcilerError
from reconciler.core.units import utc_ms_text
from reconciler.planning.plan import Plan, Step
from reconciler.planning.render.markdown import COMMENT_LIMIT, document

LABEL = "mmp-drift"
MARKER = "<!-- mmp-reconciler:drift -->"
LISTED = 50  # scopes listed per section at the top of the issue; the table has the rest
PENDING = "pending: held (frozen), will be applied once unfrozen"
REACHES = (
    "pending: held (its write may end the freeze of {scopes}), applied once that is unfrozen, "
    "or written anyway by `mmp apply --include-held {scope} --reason TEXT`"
)
UNSURE = (
    "pending: held (freeze state unknown: the venue recorded a trigger and does not tell its "
    "end), written once a person checks it on the venue: "
    "`mmp apply --include-held {scope}@{trigger} --reason TEXT`"
)
UNKNOWN_WRITTEN = (
    "scope(s) whose freeze state is unknown, with no trigger seen, are written by an apply: "
    "if one is frozen, the write may end the freeze (check it on the venue first to be sure)"
)


@dataclass(frozen=True)
class Merged:
    plan: Plan
    unchecked: list[str]  # accounts no shard plan covers


def merge(plans: Iterable[tuple[Path, Plan]], accounts: Iterable[str]) -> Merged:
    """One plan from the shard plans there are; each account in at most one of them."""
    owner: dict[str, Path] = {}
    steps: list[Step] = []
    notes: list[str] = []
    for path, plan in plans:
        if any(name != "shard" for name in plan.filters):
            raise ReconcilerError(
                f"{path}: a filtered plan ({plan.filters}) cannot show drift; "
                "split with --shard, which plans whole accounts exactly"
            )
        for account in plan.accounts:
            if account in owner:
                raise ReconcilerError(
                    f"account `{account}` is in two shard plans: {owner[account]} and {path}"
                )
            owner[account] = path
        steps += plan.steps
        notes += [n for n in plan.notes if not n.startswith("shard ")]
    missing = sorted(set(accounts) - owner.keys())
    steps.sort(key=lambda s: (s.action.rank, s.key.sort_key()))
    fingerprints = "".join(sorted(plan.fingerprint for _, plan in plans))
    merged = Plan(
        steps=tuple(steps),
        fingerprint=hashlib.sha256(fingerprints.encode()).hexdigest(),
        accounts=tuple(sorted(owner)),
        notes=tuple(notes),
    )
    return Merged(merged, missing)


@dataclass(frozen=True)
class Heal:
    """What the heal job of this run did, as the issue says it (render.heal.issue_sections),
    and how many scopes it healed."""

    text: str
    healed: int
    not_checked: tuple[str, ...] = ()  # accounts heal could not read: the issue stays open
    bare: tuple[str, ...] = ()  # scopes heal left without MMP (undeclared ones too): open


@dataclass(frozen=True)
class DriftResult:
    action: str  # opened | updated | closed | none
    number: int | None
    message: str


def drifting(plan: Plan) -> tuple[Step, ...]:
    """Every scope that differs from the policies: to write, or held pending an unfreeze."""
    return tuple(step for step in plan.steps if step.action.writes or step.pending)


def issue_title(plan: Plan, unchecked: list[str] | None = None, heal: Heal | None = None) -> str:
    unchecked = unchecked or []
    counts = [(len(plan.unprotected), "unprotected"), (len(plan.pending), "held pending")]
    counts.append((len(unchecked), "account(s) not checked"))
    counts.append((len(heal.not_checked) if heal else 0, "account(s) heal did not check"))
    counts.append((len(heal.bare) if heal else 0, "left without MMP by heal"))
    counts.append((heal.healed if heal else 0, "healed by this run"))
    detail = ", ".join(f"{n} {what}" for n, what in counts if n)
    return f"MMP drift: {len(drifting(plan))} scope(s) differ from the policies" + (
        f" ({detail})" if detail else ""
    )


def report(
    api: GitHubApi,
    plan: Plan,
    link: str,
    unchecked: list[str] | None = None,
    heal: Heal | None = None,
) -> DriftResult:
    unchecked = unchecked or []
    issue = next(
        (i for i in api.open_issues(LABEL) if str(i.get("body") or "").startswith(MARKER)), None
    )
    # what heal could not know, or left without MMP (a scope no shard plan shows: one an
    # unfinished run left bare that the policies no longer declare): the issue stays open
    unread = bool(heal and (heal.not_checked or heal.bare))
    if not drifting(plan) and not unchecked and not unread and heal is not None and heal.healed:
        return _healed_all(api, issue, heal, link)
    if drifting(plan) or unchecked or unread:
        body = issue_body(plan, link, unchecked, heal)
        title = issue_title(plan, unchecked, heal)
        if issue is None:
            made = api.create_issue(title, body, [LABEL])
            return DriftResult(
                "opened", int(made["number"]), f"opened drift issue #{made['number']}"
            )
        api.update_issue(int(issue["number"]), title=title, body=body)
        return DriftResult(
            "updated", int(issue["number"]), f"updated drift issue #{issue['number']}"
        )
    if issue is None:
        return DriftResult("none", None, "no drift; no drift issue open")
    number = int(issue["number"])
    run = f" in [this run]({link})" if link else ""
    api.create_comment(number, f"No drift found{run}: live settings match the policies. Closing.")
    api.update_issue(number, state="closed", state_reason="completed")
    return DriftResult("closed", number, f"no drift; closed drift issue #{number}")


def _healed_all(api: GitHubApi, issue: dict[str, Any] | None, heal: Heal, link: str) -> DriftResult:
    """Heal put everything right: said in the issue (opened for it if none is), closed."""
    title = f"MMP drift: {heal.healed} scope(s) healed, nothing differs now"
    body = (
        f"{MARKER}\n{heal.text}After healing, live MMP settings match the policies on the "
        "default branch. Closed by the run that healed them; the next drift is a new issue.\n"
    )
    if issue is None:
        number = int(api.create_issue(title, body, [LABEL])["number"])
    else:
        number = int(issue["number"])
        api.update_issue(number, title=title, body=body)
    run = f" in [this run]({link})" if link else ""
    api.create_comment(number, f"Healed {heal.healed} scope(s){run}; nothing differs. Closing.")
    api.update_issue(number, state="closed", state_reason="completed")
    return DriftResult("closed", number, f"healed; nothing differs; closed drift issue #{number}")


def _pending(step: Step) -> str:
    """Why a held scope still differs, and what ends that: an unfreeze, or a person's check
    (or, held for another scope's freeze its write may end, that freeze's end)."""
    if not step.freeze.may_be_frozen and step.reaches:
        return REACHES.format(scopes=", ".join(step.reaches), scope=step.key)
    last = step.freeze.last_trigger_ms
    if last is None or not step.freeze.trigger_unresolved:
        return PENDING
    return UNSURE.format(scope=step.key, trigger=utc_ms_text(last))


def issue_body(
    plan: Plan, link: str, unchecked: list[str] | None = None, heal: Heal | None = None
) -> str:
    missing = (
        "".join(
            [
                f"**Not checked**: {len(unchecked):,} account(s) whose shard failed (a venue "
                "down, keys refused: see the run). Their scopes may be unprotected; the issue "
                "stays open until a run checks them:\n\n",
                *(f"- `{name}`\n" for name in unchecked[:LISTED]),
                f"- and {len(unchecked) - LISTED:,} more\n" if len(unchecked) > LISTED else "",
                "\n",
            ]
        )
        if unchecked
        else ""
    )
    head = (
        f"{MARKER}\n"
        + missing
        + (heal.text if heal else "")
        + _section(
            "UNPROTECTED",
            "declared scope(s) have no MMP config live",
            [(step, "held (frozen)" if step.pending else "") for step in plan.unprotected],
        )
        + _section("Pending", "held scope(s) differ", [(s, _pending(s)) for s in plan.pending])
        + _section("Freeze state unknown", UNKNOWN_WRITTEN, [(s, "") for s in plan.written_unknown])
        + "Live MMP settings differ from the policies on the default branch. "
        "Either merge a policy change that matches the venues, or apply the policies "
        "(the apply workflow, `workflow_dispatch` with mode `apply`); a held (frozen) scope "
        "is applied by the first apply after it is unfrozen (`mmp unfreeze`). This issue is "
        "updated by every drift run and closed by the first run that finds nothing differing, "
        "held scopes included.\n\n"
    )
    limit = COMMENT_LIMIT - len(head.encode())
    return head + document(plan, limit=limit, link=link, one_line=False)


def _section(name: str, what: str, items: list[tuple[Step, str]]) -> str:
    if not items:
        return ""
    lines = [f"**{name}**: {len(items):,} {what}:", ""]
    lines += [f"- `{step.key}`" + (f": {note}" if note else "") for step, note in items[:LISTED]]
    if len(items) > LISTED:
        lines.append(f"- and {len(items) - LISTED:,} more: see the plan below")
    return "\n".join(lines) + "\n\n"

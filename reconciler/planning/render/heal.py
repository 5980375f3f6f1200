"""What `mmp heal` prints before it writes, and what the drift issue says of a heal run.

Text: the heal's summary first (with the sandbox's mark), then each step it heals as the
plan shows it plus why it heals, then every drifting scope it leaves and why. Markdown (the
drift issue): from the report `mmp heal --report` wrote, what was healed (and how each step
ended) and what still needs a person.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.core.mmpfields import named
from reconciler.planning.heal import Healing
from reconciler.planning.plan import FieldChange
from reconciler.planning.render.rows import SANDBOX, row, selection_line, unprotected_warning
from reconciler.planning.render.text import _paint, _row_lines

LISTED = 30  # scopes listed per section of the drift issue
DETAIL = 240  # characters of a reason shown there (the heal job's output has all of it)


def text(healing: Healing, colour: bool = False) -> str:
    plan = healing.plan
    head = healing.summary()
    lines = [_paint(f"{SANDBOX} {head}" if plan.sandbox else head, "1", colour)]
    bare = healing.bare()
    if bare:
        which = "scope(s)" if healing.undeclared_bare() else "declared scope(s)"
        warning = unprotected_warning(bare, f"{which} left for a person")
        lines.append(_paint(warning, "1;31", colour))
    lines.append(
        f"Live state read from {len(plan.accounts)} account(s); fingerprint {plan.fingerprint[:19]}"
    )
    lines += [_paint(line, "1;31", colour) for line in _unchecked(healing.unchecked)]
    selection = selection_line(plan)
    lines += [_paint(selection, "1", colour)] if selection else []
    if healing.narrowed:
        lines.append(f"Note: heal covers only {healing.narrowed} (guardrails.yaml `heal:`)")
    lines += [f"      {note}" if note.startswith(" ") else f"Note: {note}" for note in plan.notes]
    lines += [
        _paint(f"Guardrail (stops no heal step: heal never removes): {trip}", "1", colour)
        for trip in healing.coverage
    ]
    if healing.healed:
        lines += ["", heading(healing)]
    for item in healing.healed:
        lines += _row_lines(row(item.step), colour)
        lines.append(f"        heal: {item.reason}")
    if healing.left:
        lines += ["", "Left for a person (`mmp plan` shows each in full):"]
    width = max((len(item.why.value) for item in healing.left), default=0)
    lines += [
        f"  {item.why.value:<{width}}  {item.step.key}: {item.detail}" for item in healing.left
    ]
    return "\n".join(lines) + "\n"


def heading(healing: Healing) -> str:
    """What the healed steps put back, true of every one: the declared config, or the one an
    unfinished run took away where the declared one is beyond a guardrail; nothing live is
    loosened or removed, and a create looser than what a run took away is said so."""
    what = "the protection the policies declare"
    if any(item.baseline for item in healing.healed):
        what += (
            ", or, where that is beyond a guardrail from the config an unfinished run took "
            "away, the stricter of the two, field by field"
        )
    looser = [str(item.step.key) for item in healing.healed if item.looser]
    if not looser:
        return f"Heal ({what}; nothing loosened or removed):"
    return (
        f"Heal ({what}; nothing removed; nothing live loosened, but {', '.join(looser)} "
        "put back looser than before an unfinished run, within the guardrails):"
    )


def issue_sections(report: Mapping[str, Any] | None, link: str = "") -> str:
    """The drift issue's account of a heal run: what it healed, and what needs a person.
    None: the heal job left no report."""
    where = f" ([the run]({link}))" if link else ""
    if report is None:
        return (
            f"**Heal**: the heal job left no report{where}: it was skipped (it heals on main "
            "only), failed before it planned, or was cancelled. Nothing below was healed by "
            "this run.\n\n"
        )
    healed = list(report["healed"])
    left = list(report["left"])
    done = sum(1 for item in healed if item.get("outcome") == "applied")
    out = _stopped(report.get("branch"), where) + _not_checked(report, where)
    out += _history(report.get("history"), where)
    if healed:
        out += [
            f"**Healed** by this run{where}: {done:,} of {len(healed):,} scope(s) put back as "
            "the policies declare them (`mmp heal`; its journal is in the `mmp-heal` "
            "artifact):",
            "",
            *(_healed_line(item) for item in healed[:LISTED]),
            *_more(len(healed)),
            "",
        ]
    coverage = list(report.get("coverage", []))
    if coverage:
        out += [
            "**Coverage** (a guardrail; heal never removes, so it heals despite it):",
            "",
            *(f"- {_short(trip)}" for trip in coverage),
            "",
        ]
    if left:
        out += [
            f"**Needs a person**: {len(left):,} scope(s) heal left as they are:",
            "",
            *(_left_line(item) for item in left[:LISTED]),
            *_more(len(left)),
            "",
        ]
    return "\n".join(out) + ("\n" if out else "")


def _unchecked(unchecked: tuple[tuple[str, str], ...]) -> list[str]:
    """The accounts heal could not read: none of their scopes was checked or healed."""
    if not unchecked:
        return []
    return [
        f"NOT CHECKED: {len(unchecked)} account(s) heal did not read; none of their scopes "
        "was looked at or healed, and any of them may be unprotected:",
        *(f"  {name}: {why}" for name, why in unchecked),
    ]


def _not_checked(report: Mapping[str, Any], where: str) -> list[str]:
    """The drift issue's lines for the accounts heal could not read."""
    unread = list(report.get("not_checked", []))
    if not unread:
        return []
    return [
        f"**Not checked by heal**{where}: {len(unread):,} account(s) it did not read; none "
        "of their scopes was healed, and any of them may be unprotected:",
        "",
        *(f"- `{item['account']}`: {_short(str(item['why']))}" for item in unread),
        "",
    ]


def _stopped(branch: Mapping[str, Any] | None, where: str) -> list[str]:
    """Why the heal job stopped writing, when its branch moved or that could not be known."""
    if not branch or not (branch.get("moved_to") or branch.get("unknown")):
        return []
    name, read_at = branch["name"], str(branch["read_at"])[:7]
    if branch.get("moved_to"):
        said = (
            f"`{name}` moved from {read_at} to {str(branch['moved_to'])[:7]} while heal "
            f"planned{where}: nothing (more) was written from the older policies; the next "
            "scheduled run heals from the new ones"
        )
    else:
        said = (
            f"heal could not know whether `{name}` moved since it read its policies at "
            f"{read_at}{where} ({_short(str(branch['unknown']))}): nothing (more) was written, "
            "to be safe"
        )
    return [f"**Heal stopped**: {said}.", ""]


def _history(history: Mapping[str, Any] | None, where: str) -> list[str]:
    """When the heal job could not read the journals of earlier runs: it healed without
    knowing what an unfinished apply took away (a bare scope got its declared config)."""
    if not history or not history.get("unknown"):
        return []
    return [
        f"**Earlier runs unknown**{where}: the journals of earlier runs could not be read "
        f"({_short(str(history['unknown']))}), so heal did not know what an unfinished apply "
        "or heal took away: a scope without MMP got the config the policies declare, as a "
        "person re-running apply would set it.",
        "",
    ]


def _healed_line(item: Mapping[str, Any]) -> str:
    outcome = item.get("outcome")
    ended = {None: "to heal", "applied": "healed"}.get(outcome, f"NOT healed ({outcome})")
    detail = f": {_short(item['detail'])}" if item.get("detail") else ""
    changes = "; ".join(_change(FieldChange.from_data(c)) for c in item["changes"])
    return f"- `{item['scope']}`: {item['action']}, {ended}{detail} ({changes})"


def _left_line(item: Mapping[str, Any]) -> str:
    """`scope`: why (what the plan would do): the reason."""
    why, action = item["why"], item["action"]
    would = f" ({action})" if action not in (why, "unmanaged") else ""
    return f"- `{item['scope']}`: {why}{would}: {_short(item['detail'])}"


def _change(change: FieldChange) -> str:
    field = named(change.field)
    return f"{field.name} {field.show(change.before)} → {field.show(change.after)}"


def _short(text: str) -> str:
    return text if len(text) <= DETAIL else text[: DETAIL - 1] + "…"


def _more(count: int) -> list[str]:
    return [f"- and {count - LISTED:,} more: see the run"] if count > LISTED else []

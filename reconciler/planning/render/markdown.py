"""Markdown for pull-request comments and job summaries: summary first, details folded.

A hidden marker opens the document so the workflow finds its own comment again. The first
risk flag, when there is one, is **Unprotected**: declared scopes with no MMP config live.
With a `limit` (GitHub's 65,536 characters for a comment), the summary and risk flags are
always kept; table rows, then field details, are cut to fit, and the cut is said and linked.
Sizes are counted in UTF-8 bytes, which is never less than GitHub's own count.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.planning.plan import Action, Plan, Step
from reconciler.planning.render.rows import (
    NAMES_SHOWN,
    Row,
    name_list,
    row,
    selection_line,
    shown_steps,
)

MARKER = "<!-- mmp-reconciler:plan -->"
COMMENT_LIMIT = 65_536  # GitHub's maximum comment body
SUMMARY_LIMIT = 1_048_576  # GitHub's maximum job summary per step
_WRAPPERS = 200  # table header and <details> lines around the kept items


def render(plan: Plan, colour: bool = False) -> str:
    return document(plan)


def document(
    plan: Plan,
    *,
    limit: int | None = None,
    link: str = "",
    one_line: bool = True,
) -> str:
    """The plan for GitHub. With `one_line`, a plan with nothing to write, no guardrail trip
    and no unprotected scope is one line; otherwise the summary, risk flags and tables. A
    sandbox plan says so in its first line."""
    trips = plan.trips
    mode = " (sandbox: simulators, not venues)" if plan.sandbox else ""
    if one_line and not plan.has_changes and not trips and not plan.unprotected:
        rest = plan.summary().removeprefix("Plan: no changes; ")
        selection = f" {selection_line(plan)}." if selection_line(plan) else ""
        return f"{MARKER}**MMP plan{mode}: no changes**; {rest}{selection}\n"
    title = plan.summary().removeprefix("Plan: ").removeprefix("changes; ")
    head = [MARKER, f"### MMP plan{mode}: {title}", ""]
    head += _risks(plan, trips)
    head += [f"> **{selection_line(plan)}.**", ""] if selection_line(plan) else []
    head += [f"> {note}" for note in plan.notes]
    foot = [f"Live fingerprint: `{plan.fingerprint}`" + (f" · [run]({link})" if link else "")]
    rows = [row(step) for step in shown_steps(plan)]
    table = [_table_line(item) for item in rows]
    details = ["\n".join(_detail(item)) for item in rows]
    if limit is None:
        return _join(head, table, details, foot)
    return _fit(head, table, details, foot, limit, link)


def _join(head: list[str], table: list[str], details: list[str], foot: list[str]) -> str:
    lines = list(head)
    if head[-1:] != [""]:
        lines.append("")
    if table:
        lines += ["| | scope | action | changes |", "|---|---|---|---|", *table, ""]
    if details:
        lines += ["<details><summary>Field details</summary>", "", *details, "</details>", ""]
    lines += foot
    return "\n".join(lines) + "\n"


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _fit(
    head: list[str],
    table: list[str],
    details: list[str],
    foot: list[str],
    limit: int,
    link: str,
) -> str:
    full = _join(head, table, details, foot)
    if _size(full) <= limit:
        return full
    longest_notice = _notice(limit, len(table), len(table), len(details), len(details), link)
    budget = limit - _size(_join([*head, longest_notice, ""], [], [], foot)) - _WRAPPERS
    kept_table = _greedy(table, budget)
    budget -= sum(_size(x) + 1 for x in kept_table)
    kept_details = _greedy(details, budget)
    notice = _notice(
        limit,
        len(table) - len(kept_table),
        len(table),
        len(details) - len(kept_details),
        len(details),
        link,
    )
    return _join([*head, notice, ""], kept_table, kept_details, foot)


def _notice(limit: int, rows: int, of_rows: int, details: int, of_details: int, link: str) -> str:
    where = f"[the run]({link}) (job summary and the `mmp-plan` artifact)" if link else "`mmp plan`"
    return (
        f"> ✂️ Cut to fit GitHub's {limit:,}-character limit: {rows:,} of {of_rows:,} table "
        f"rows and {details:,} of {of_details:,} field details are not shown. "
        f"The full plan: {where}."
    )


def _greedy(items: list[str], budget: int) -> list[str]:
    kept: list[str] = []
    for item in items:
        cost = _size(item) + 1
        if cost > budget:
            break
        kept.append(item)
        budget -= cost
    return kept


def _risks(plan: Plan, trips: Sequence[str]) -> list[str]:
    writes = plan.writes
    flags = [
        ("Unprotected", list(plan.unprotected), _unprotected_what(plan)),
        ("Loosening", _loosening(writes), "loosen a limit or shorten a time"),
        ("Removal", _of(plan, Action.REMOVE), "lose their MMP config"),
        (
            "Replacement gap",
            _of(plan, Action.REPLACE),
            "are reset then set: without MMP between the reset and the set",
        ),
        ("Held", _of(plan, Action.HELD), _held_what(plan)),
        (
            "Freeze state unknown",
            [s for s in plan.steps if s.freeze.unknown],
            _unknown_what(plan),
        ),
        (
            "May freeze again",
            [s for s in writes if s.refreeze],
            "are written with a longer or manual frozen time after a recorded trigger: the "
            "venue may read that trigger's freeze in force again (see each step)",
        ),
        (
            "Written although held",
            list(plan.written_although_held),
            f"have an unknown freeze state and are written ({plan.included.said()})",
        ),
    ]
    lines = [
        f"- **{name}**: {len(steps)} scope(s) {what}: {_names(steps)}"
        for name, steps, what in flags
        if steps
    ]
    if trips:
        shown = [f"  - {trip}" for trip in trips[:NAMES_SHOWN]]
        more = len(trips) - len(shown)
        lines += ["- **Guardrails**: apply will refuse without `--force`:", *shown]
        if more > 0:
            lines.append(f"  - and {more} more")
    if not lines:
        return ["No unprotected scope, loosening, removal, replacement gap or held scope.", ""]
    return ["**Risks**", "", *lines, ""]


def _held_what(plan: Plan) -> str:
    held = _of(plan, Action.HELD)
    unknown = any(step.freeze.trigger_unresolved for step in held)
    if any(not step.freeze.may_be_frozen for step in held):  # held for another's freeze
        frozen = "are frozen, or may be (freeze state unknown)," if unknown else "are frozen"
        return (
            f"{frozen} or a write to them may end another scope's freeze (see each step), "
            "and are not written"
        )
    if unknown:
        return "are frozen, or may be (freeze state unknown), and not written"
    return "are frozen and not written (a write would unfreeze)"


def _unknown_what(plan: Plan) -> str:
    """Which unknown scopes are written (no trigger seen: a write may end a freeze they
    have) and which are held (a trigger recorded, its end not told)."""
    said = []
    written = len(plan.written_unknown)
    if written:
        said.append(
            f"{written} written with no trigger seen: if frozen, the write may end the freeze"
        )
    held = sum(1 for s in _of(plan, Action.HELD) if s.freeze.trigger_unresolved)
    if held:
        said.append(f"{held} held for a trigger whose end the venue does not tell")
    more = f" ({'; '.join(said)})" if said else ""
    return "are on venues that cannot tell whether they are frozen" + more


def _unprotected_what(plan: Plan) -> str:
    held = [step for step in plan.unprotected if step.action is Action.HELD]
    frozen = sum(1 for step in held if step.freeze.may_be_frozen)
    said = [f"{frozen} frozen: created only once unfrozen"] if frozen else []
    if len(held) > frozen:  # held for another scope's freeze their set may end
        said.append(
            f"{len(held) - frozen} held: created only once the freeze their write may end is over"
        )
    return "are declared and have no MMP config live" + (f" ({'; '.join(said)})" if said else "")


def _loosening(writes: tuple[Step, ...]) -> list[Step]:
    return [s for s in writes if s.loosening and s.action is not Action.REMOVE]


def _of(plan: Plan, action: Action) -> list[Step]:
    return [s for s in plan.steps if s.action is action]


def _names(steps: list[Step]) -> str:
    return name_list([f"`{s.key}`" for s in steps])


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _table_line(item: Row) -> str:
    changes = "; ".join(
        f"{f.name} {f.before} → {f.after}"
        if item.action not in ("unchanged", "unmanaged")
        else f"{f.name} {f.after}"
        for f in item.fields
    )
    notes = "<br>".join(item.notes)
    cell = changes + (f"<br>_{notes}_" if notes else "")
    return f"| `{item.symbol}` | `{_cell(item.scope)}` | {item.action} | {_cell(cell)} |"


def _detail(item: Row) -> list[str]:
    out = [
        f"**`{item.symbol}` {item.action} `{item.scope}`**"
        + (f" ({item.where})" if item.where else ""),
        "",
    ]
    if item.fields:
        out += ["| field | before | after | direction |", "|---|---|---|---|"]
        out += [f"| {f.name} | {f.before} | {f.after} | {f.direction} |" for f in item.fields]
        out.append("")
    return out

"""Terminal text: Terraform-like symbols, before -> after per field, one summary line.

When a declared scope has no MMP config live, the very first line says so and names it; a
sandbox plan says so at the start of that first line; the guardrails apply would refuse
follow the summary line.
"""

from __future__ import annotations

from reconciler.planning.plan import Plan
from reconciler.planning.render.rows import (
    SANDBOX,
    Row,
    row,
    selection_line,
    shown_steps,
    unprotected_line,
)

COLOURS = {"+": "32", "~": "33", "-/+": "35", "-": "31", "!": "36", "?": "2", "=": "2"}


def _paint(text: str, code: str, colour: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if colour else text


def render(plan: Plan, colour: bool = False) -> str:
    warning = unprotected_line(plan)
    lines = [_paint(warning, "1;31", colour)] if warning else []
    lines += [
        f"Live state read from {len(plan.accounts)} account(s); fingerprint {plan.fingerprint[:19]}"
    ]
    selection = selection_line(plan)
    lines += [_paint(selection, "1", colour)] if selection else []
    lines += [f"      {note}" if note.startswith(" ") else f"Note: {note}" for note in plan.notes]
    lines.append("")
    for item in (row(step) for step in shown_steps(plan)):
        lines += _row_lines(item, colour)
    lines.append(_paint(plan.summary(), "1", colour))
    if plan.trips:
        lines.append(_paint("Guardrails: apply will refuse without --force:", "1;31", colour))
        lines += [f"  {trip}" for trip in plan.trips]
    if plan.sandbox:
        lines[0] = f"{SANDBOX} {lines[0]}"
    return "\n".join(lines) + "\n"


def _row_lines(item: Row, colour: bool) -> list[str]:
    head = f"  {item.symbol:>3} {item.action:<9} {item.scope}"
    if item.where:
        head += f"  ({item.where})"
    lines = [_paint(head, COLOURS[item.symbol], colour)]
    width = max((len(f.name) for f in item.fields), default=0)
    for fld in item.fields:
        if item.action in ("unchanged", "unmanaged"):
            lines.append(f"        {fld.name:<{width}}  {fld.after}")
        else:
            lines.append(
                f"        {fld.name:<{width}}  {fld.before} -> {fld.after}  {_said(fld.direction)}"
            )
    lines += [f"        {note}" for note in item.notes]
    return lines


def _said(direction: str) -> str:
    """`(tightening)`; a direction with its reason is shown as it is: `direction unknown
    (Bullish freeze 0 is undocumented)`."""
    return direction if direction.endswith(")") else f"({direction})"

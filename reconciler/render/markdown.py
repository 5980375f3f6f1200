"""Markdown for pull-request comments and job summaries: summary first, details folded."""

from __future__ import annotations

from reconciler.plan import Plan
from reconciler.render.rows import Row, row, shown_steps

MARKER = "<!-- mmp-reconciler:plan -->"


def render(plan: Plan, colour: bool = False) -> str:
    rows = [row(step) for step in shown_steps(plan)]
    lines = [MARKER, f"### MMP plan: {plan.summary().removeprefix('Plan: ')}", ""]
    lines += [f"> {note}" for note in plan.notes]
    if rows:
        lines += ["| | scope | action | changes |", "|---|---|---|---|"]
        lines += [_table_line(item) for item in rows]
        lines += ["", "<details><summary>Field details</summary>", ""]
        for item in rows:
            lines += _detail(item)
        lines += ["</details>", ""]
    lines.append(f"Live fingerprint: `{plan.fingerprint}`")
    return "\n".join(lines) + "\n"


def _table_line(item: Row) -> str:
    changes = "; ".join(
        f"{f.name} {f.before} → {f.after}"
        if item.action not in ("unchanged", "unmanaged")
        else f"{f.name} {f.after}"
        for f in item.fields
    )
    notes = "<br>".join(item.notes)
    cell = changes + (f"<br>_{notes}_" if notes else "")
    return f"| `{item.symbol}` | `{item.scope}` | {item.action} | {cell} |"


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

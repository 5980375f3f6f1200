"""JSON: the plan's versioned data with stable (sorted) keys; decimals as exact strings."""

from __future__ import annotations

from reconciler.plan import Plan
from reconciler.units import dumps_exact


def render(plan: Plan, colour: bool = False) -> str:
    data = plan.to_data()
    data["summary_line"] = plan.summary()
    return dumps_exact(data, indent=2, sort_keys=True) + "\n"

"""JSON: the plan's versioned data with stable keys; decimals as exact strings.

`unprotected` (declared scopes with no MMP config live) is the first key, so it is the first
thing a person sees; every other key follows in sorted order.

One step per line: a plan of 10,000 scopes stays greppable and diffable line by line, and
the steps go through the C JSON encoder (indentation would force the pure-Python one).
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.core.units import dumps_exact
from reconciler.planning.plan import Plan

_STEPS, _DIGESTS = "\u0000steps", "\u0000digests"


def _refuse(value: object) -> Any:
    raise TypeError(f"{type(value).__name__} has no place in a plan's JSON")


def render(plan: Plan, colour: bool = False) -> str:
    data = plan.to_data()
    data["summary_line"] = plan.summary()
    steps, digests = data.pop("steps"), data.pop("digests")
    unprotected = json.dumps(data.pop("unprotected"), ensure_ascii=False)
    data["steps"], data["digests"] = _STEPS, _DIGESTS
    text = dumps_exact(data, indent=2, sort_keys=True)
    text = f'{{\n  "unprotected": {unprotected},\n' + text.removeprefix("{\n")
    step_lines = ",\n".join(
        "    " + json.dumps(step, sort_keys=True, ensure_ascii=False, default=_refuse)
        for step in steps
    )
    digest_lines = ",\n".join(
        f"    {json.dumps(scope, ensure_ascii=False)}: {json.dumps(digest)}"
        for scope, digest in sorted(digests.items())
    )
    text = text.replace(json.dumps(_STEPS), f"[\n{step_lines}\n  ]" if steps else "[]", 1)
    text = text.replace(json.dumps(_DIGESTS), f"{{\n{digest_lines}\n  }}" if digests else "{}", 1)
    return text + "\n"

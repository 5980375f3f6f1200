"""Golden files of what `mmp heal` says: for every case under tests/cases/ (policy.yaml and
live.json, as tests/test_golden.py plans them), with healing enabled on the case's
guardrails, the text heal prints before it writes (heal.txt) and the drift issue's account
of it once every step it heals is applied (heal.md). Rewrite with --update-golden."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.planning.heal import select
from reconciler.planning.planner import make_plan
from reconciler.planning.render.heal import issue_sections, text
from reconciler.policy import guards
from reconciler.policy.healing import Heal
from reconciler.policy.validate import load_desired
from reconciler.venues import capabilities
from tests.test_golden import CASES, compare, live_of

NOW = 1_800_000_000_000  # the clock a write that may freeze again is judged by


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_heal_golden(case: str, update_golden: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = CASES / case
    monkeypatch.chdir(folder)
    desired = load_desired(Path("policy.yaml"), capabilities())
    plan = make_plan(desired, live_of(Path("live.json")), capabilities(), now_ms=NOW)
    rules = guards.load(Path("policy.yaml"), desired)
    if not rules.heal.enabled:  # the case's own narrowing, where it has one; else all of it
        rules = rules.model_copy(update={"heal": Heal(enabled=True)})
    healing = select(plan, desired, rules)
    applied = {str(item.step.key): ("applied", "") for item in healing.healed}  # as a run ends
    outputs = {
        "heal.txt": text(healing),
        "heal.md": issue_sections(healing.to_data(applied), "https://run"),
    }
    for name, actual in outputs.items():
        compare(folder / name, actual, update_golden)

"""Golden files: one folder per case under tests/cases/ with policy.yaml and live.json; the
plan is rendered as text, Markdown and JSON and compared whole. Rewrite with --update-golden.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from pathlib import Path

import pytest

from reconciler.core.model import LiveAccount, LiveScope
from reconciler.planning.plan import Inclusion
from reconciler.planning.planner import inclusion_problems, make_plan
from reconciler.planning.render import RENDERERS
from reconciler.policy import guards
from reconciler.policy.validate import load_desired
from reconciler.venues import capabilities

CASES = Path(__file__).parent / "cases"
OUTPUTS = {"text": "expected.txt", "markdown": "expected.md", "json": "expected.json"}


def live_of(path: Path) -> list[LiveAccount]:
    data = json.loads(path.read_text())
    return [
        LiveAccount(
            item["venue"], item["account"], tuple(LiveScope.from_data(s) for s in item["scopes"])
        )
        for item in data
    ]


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_golden(case: str, update_golden: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = CASES / case
    monkeypatch.chdir(folder)
    desired = load_desired(Path("policy.yaml"), capabilities())
    # with --include-held as a person gave it: the case's included.json (scopes, the
    # trigger checked, reason, by)
    given = folder / "included.json"
    included = Inclusion.from_data(json.loads(given.read_text()) if given.exists() else None)
    plan = make_plan(desired, live_of(Path("live.json")), capabilities(), included=included)
    # as `mmp plan` makes it: with the guardrails it trips (the case's guardrails.yaml, else
    # the defaults) and its mode (a `sandbox` file in the case folder: the simulators)
    trips = guards.check(plan, guards.load(Path("policy.yaml")), desired)
    plan = dataclasses.replace(plan, trips=tuple(trips), sandbox=(folder / "sandbox").exists())
    assert inclusion_problems(plan) == []
    for fmt, name in OUTPUTS.items():
        compare(folder / name, RENDERERS[fmt](plan, False), update_golden)


def compare(path: Path, actual: str, update: bool) -> None:
    """The golden file against what was rendered; (re)written with --update-golden, or when
    it does not exist yet."""
    if update or not path.exists():
        path.write_text(actual)
        return
    expected = path.read_text()
    if actual != expected:
        diff = difflib.unified_diff(
            expected.splitlines(True), actual.splitlines(True), path.name, "actual"
        )
        pytest.fail(f"{path.parent.name}/{path.name} differs:\n{''.join(diff)}")


def test_every_case_has_all_outputs() -> None:
    for folder in CASES.iterdir():
        if folder.is_dir():
            assert {p.name for p in folder.iterdir()} >= {
                "policy.yaml",
                "live.json",
                *OUTPUTS.values(),
            }, folder.name

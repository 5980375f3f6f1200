"""The example desk's figures (tests/figures.py): every recorded figure is one a test checks,
and a figure that differs says which, both values, and what to run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.figures import FILE, TESTS, UPDATE, Figures, counts, line_of


def _sources() -> list[Path]:
    """Where a figure's name is written: every test module but this one (whose names are
    examples)."""
    return [p for p in sorted(TESTS.rglob("*.py")) if p.name != Path(__file__).name]


def test_every_recorded_figure_is_one_a_test_checks(figures: Figures) -> None:
    stale = figures.stale(_sources())
    if figures.update:
        figures.forget(stale)
        return
    assert not stale, (
        f"{FILE.name} records figures no test checks any more: {', '.join(stale)}; "
        f"`{UPDATE}` takes them out (a figure's name must be written literally in its test)"
    )


def test_the_file_is_sorted_json_as_update_writes_it() -> None:
    text = FILE.read_text(encoding="utf-8")
    data = json.loads(text)
    assert text == json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def test_a_differing_figure_names_itself_both_values_and_the_command(tmp_path: Path) -> None:
    path = tmp_path / "figures.json"
    path.write_text('{"plan.summary": "Plan: changes; 2 to create."}\n')
    figures = Figures(path, update=False)
    figures.check("plan.summary", "Plan: changes; 2 to create.")
    with pytest.raises(pytest.fail.Exception) as failed:
        figures.check("plan.summary", "Plan: changes; 3 to create.")
    said = str(failed.value)
    assert "figure `plan.summary` of the example desk differs from " in said
    assert '  expected: "Plan: changes; 2 to create."\n' in said
    assert '  observed: "Plan: changes; 3 to create."\n' in said
    assert f"policies/desk-alpha.yaml) changed on purpose, rerun `{UPDATE}`" in said
    with pytest.raises(pytest.fail.Exception) as failed:
        figures.check("plan.other", 1)
    assert f"figure `plan.other` of the example desk is not in {path}: record it" in str(
        failed.value
    )


def test_update_records_each_figure_and_refuses_two_values_for_one_name(tmp_path: Path) -> None:
    path = tmp_path / "figures.json"
    figures = Figures(path, update=True)
    figures.check("b.count", 10)
    figures.check("a.scopes", ("x", "y"))  # a tuple is kept as the list JSON gives back
    figures.check("b.count", 10)  # seen again, the same: fine
    assert json.loads(path.read_text()) == {"a.scopes": ["x", "y"], "b.count": 10}
    Figures(path, update=False).check("a.scopes", ["x", "y"])
    with pytest.raises(pytest.fail.Exception) as failed:
        figures.check("b.count", 11)
    assert "figure `b.count` was seen as 10 by " in str(failed.value)
    assert json.loads(path.read_text())["b.count"] == 10
    figures.forget(["a.scopes"])
    assert json.loads(path.read_text()) == {"b.count": 10}


def test_stale_figures_are_those_no_source_names(tmp_path: Path) -> None:
    path = tmp_path / "figures.json"
    path.write_text('{"kept": 1, "gone": 2}\n')
    source = tmp_path / "test_x.py"
    source.write_text('figures.check("kept", 1)\n')
    assert Figures(path, update=False).stale([source]) == ["gone"]


def test_line_of_and_counts() -> None:
    text = "x\n  Plan: no changes; 3 held, 2 unmanaged, 11 unchanged.\n"
    summary = line_of(text, "Plan: ")
    assert summary == "Plan: no changes; 3 held, 2 unmanaged, 11 unchanged."
    assert counts(summary) == {"held": 3, "unmanaged": 2, "unchanged": 11}
    assert counts("Plan: changes; 2 to create, 1 to replace.") == {"create": 2, "replace": 1}
    with pytest.raises(pytest.fail.Exception):
        line_of(text, "Apply ")

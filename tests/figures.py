"""Figures of the example desk: what tests see of policies/desk-alpha.yaml, kept in one file.

Many tests run mmp against the example desk (the policy `--sandbox` seeds), and part of what
they check only describes that desk: the first plan's summary, how many writes its apply
makes, which of its scopes are frozen or unprotected. Adding an account to the desk (as
adding a venue does) changes those and nothing else, so they are not written in the tests:
each is a named figure in tests/cases/example-desk-figures.json, compared exactly by
`figures.check(name, observed)`, and recorded by `python -m pytest --update-golden`. What a
test asserts about what it did itself (one scope included, one unfrozen, one more held)
stays in the test, beside the figure it starts from.

A figure's name is written literally in the test that checks it: tests/test_figures.py
finds a figure no test names any more by searching the tests' source for it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
FILE = TESTS / "cases" / "example-desk-figures.json"
DESK = "policies/desk-alpha.yaml"
UPDATE = "python -m pytest --update-golden"

# what a figure may be: JSON, so that the file says exactly what was seen
Figure = str | int | list[str] | tuple[str, ...] | dict[str, int]


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=None if isinstance(value, str) else 2)


class Figures:
    """The figures file, read once; under --update-golden each new value is written at once
    (the whole file, replaced atomically), so any number of tests may record in one run."""

    def __init__(self, path: Path, update: bool) -> None:
        self.path = path
        self.update = update
        self._known: dict[str, Any] | None = None
        self._seen: dict[str, tuple[Any, str]] = {}  # name -> (value, the test that saw it)

    @property
    def known(self) -> dict[str, Any]:
        if self._known is None:
            text = self.path.read_text(encoding="utf-8") if self.path.exists() else "{}"
            self._known = dict(json.loads(text))
        return self._known

    def _where(self) -> str:
        try:
            return str(self.path.relative_to(TESTS.parent))
        except ValueError:
            return str(self.path)

    def check(self, name: str, observed: Figure) -> None:
        """Fail unless `observed` is the figure recorded under `name` (record it instead
        under --update-golden)."""
        __tracebackhide__ = True
        value = json.loads(json.dumps(observed))  # tuples as lists: as the file gives them
        if self.update:
            self._record(name, value)
            return
        if name not in self.known:
            pytest.fail(
                f"figure `{name}` of the example desk is not in {self._where()}: record it "
                f"with `{UPDATE}` and review the diff of {self._where()}",
                pytrace=False,
            )
        if self.known[name] != value:
            pytest.fail(
                f"figure `{name}` of the example desk differs from {self._where()}:\n"
                f"  expected: {_shown(self.known[name])}\n"
                f"  observed: {_shown(value)}\n"
                f"If the example desk ({DESK}) changed on purpose, rerun `{UPDATE}` and "
                f"review the diff of {self._where()}; if it did not, what mmp shows of the "
                "desk changed.",
                pytrace=False,
            )

    def _record(self, name: str, value: Any) -> None:
        __tracebackhide__ = True
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").removesuffix(" (call)")
        if name in self._seen and self._seen[name][0] != value:
            earlier, by = self._seen[name]
            pytest.fail(
                f"figure `{name}` was seen as {_shown(earlier)} by {by} and as "
                f"{_shown(value)} by {test}: one name, two figures; name them apart",
                pytrace=False,
            )
        self._seen[name] = (value, test)
        if name not in self.known or self.known[name] != value:
            self.known[name] = value
            self._write()

    def _write(self) -> None:
        text = json.dumps(self.known, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, self.path)

    def stale(self, sources: list[Path]) -> list[str]:
        """The recorded figures no test names (a figure's name is written as a literal)."""
        text = "\n".join(path.read_text(encoding="utf-8") for path in sources)
        return sorted(name for name in self.known if f'"{name}"' not in text)

    def forget(self, names: list[str]) -> None:
        for name in names:
            del self.known[name]
        if names:
            self._write()


def line_of(text: str, start: str) -> str:
    """The one line of `text` that starts with `start` (leading spaces aside)."""
    __tracebackhide__ = True
    found = [line.strip() for line in text.splitlines() if line.lstrip().startswith(start)]
    if len(found) != 1:
        pytest.fail(f"expected one line starting {start!r}, found {len(found)}:\n{text}")
    return found[0]


def counts(summary: str) -> dict[str, int]:
    """A plan's summary line as numbers: 'Plan: no changes; 3 held, 11 unchanged.' gives
    {'held': 3, 'unchanged': 11}."""
    return {word: int(n) for n, word in re.findall(r"(\d+) (?:to )?(\w+)", summary)}


@dataclass(frozen=True)
class FirstPlan:
    """The example desk's scopes as its first sandbox plan tells them: declared and not on
    the venues (created), and held with a change held back: frozen, or after a trigger
    whose end the venue does not tell (Binance's manual freeze)."""

    not_live: tuple[str, ...]
    held: tuple[str, ...]
    unknown: tuple[str, ...]
    # held, not frozen themselves: a write to each may end these scopes' freeze (Deribit)
    reaches: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def frozen(self) -> tuple[str, ...]:
        return tuple(s for s in self.held if s not in self.unknown and s not in self.reaches)


def first_plan(figures: Figures, plan_json: str) -> FirstPlan:
    """The scopes of `mmp plan --sandbox --format json` on the example desk, checked."""
    steps = json.loads(plan_json)["steps"]
    held = [s for s in steps if s["action"] == "held"]
    scopes = FirstPlan(
        tuple(sorted(s["scope"] for s in steps if s["action"] == "create")),
        tuple(sorted(s["scope"] for s in held)),
        tuple(sorted(s["scope"] for s in held if s["freeze"]["frozen"] is None)),
        {s["scope"]: tuple(s["reaches"]) for s in held if s["freeze"]["frozen"] is False},
    )
    figures.check("sandbox.plan.creates", scopes.not_live)
    figures.check("sandbox.plan.held", scopes.held)
    figures.check("sandbox.plan.held-freeze-unknown", scopes.unknown)
    return scopes

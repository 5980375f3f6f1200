"""Times change unit in one place: each duration bound converts itself to and from the wire
(exactly, `manual` as the venue's 0 where it has one, a value it cannot express refused),
timestamps go through `units.convert_time`, and no venue module does the arithmetic itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.units import MANUAL, TimeUnit, convert_time, epoch_ms
from reconciler.venues import VENUES
from reconciler.venues.base import DurationBound

UNITS: tuple[TimeUnit, ...] = ("s", "ms", "us", "ns")
VENUE_DIR = Path(__file__).resolve().parent.parent / "reconciler" / "venues"
# the factors a hand-written conversion between s, ms, us, ns, minutes and hours uses
FACTORS = {60, 1000, 3600, 60_000, 1_000_000, 3_600_000, 1_000_000_000}


@given(st.integers(0, 2**63), st.sampled_from(UNITS), st.sampled_from(UNITS))
def test_to_a_smaller_unit_and_back_is_exact(value: int, a: TimeUnit, b: TimeUnit) -> None:
    big, small = sorted((a, b), key=UNITS.index)
    assert convert_time(convert_time(value, big, small), small, big) == value


def test_to_a_larger_unit_keeps_the_whole_units() -> None:
    assert convert_time(1_499_827_319_559, "ms", "s") == 1_499_827_319
    assert epoch_ms(1_700_000_000_123_456_789, "ns") == 1_700_000_000_123
    assert epoch_ms(1_700_000_000, "s") == 1_700_000_000_000
    assert convert_time(999, "us", "ms") == 0


def _bounds() -> list[tuple[str, str, DurationBound]]:
    return [
        (venue, name, getattr(spec.capabilities, name))
        for venue, spec in sorted(VENUES.items())
        for name in ("window", "frozen")
    ]


@pytest.mark.parametrize(("venue", "name", "bound"), _bounds(), ids=lambda x: str(x)[:12])
@given(data=st.data())
def test_every_bound_round_trips_what_it_can_express(
    venue: str, name: str, bound: DurationBound, data: st.DataObject
) -> None:
    ms = data.draw(st.integers(bound.min_ms // bound.step_ms, bound.max_ms // bound.step_ms))
    ms = max(ms, 1) * bound.step_ms
    wire = bound.to_wire(ms)
    assert wire * bound.step_ms == ms
    assert bound.from_wire(wire) == ms
    off = data.draw(st.integers(1, bound.step_ms - 1)) if bound.step_ms > 1 else None
    if off is not None:
        with pytest.raises(ValueError, match="not a whole number"):
            bound.to_wire(ms + off)


@pytest.mark.parametrize(("venue", "name", "bound"), _bounds(), ids=lambda x: str(x)[:12])
def test_manual_is_the_venues_zero_only_where_it_has_one(
    venue: str, name: str, bound: DurationBound
) -> None:
    if bound.allow_manual:
        assert bound.to_wire(MANUAL) == 0
        assert bound.from_wire(0) == MANUAL
    else:
        with pytest.raises(ValueError, match="manual"):
            bound.to_wire(MANUAL)
        assert bound.from_wire(0) == 0  # a window of 0 is "none", never `manual`
    with pytest.raises(ValueError):
        bound.to_wire(0)
    with pytest.raises(ValueError):
        bound.from_wire(-1)


def _hand_conversions(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult | ast.Div | ast.FloorDiv):
            for side in (node.left, node.right):
                if isinstance(side, ast.Constant) and side.value in FACTORS:
                    found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("venue", sorted(VENUES))
def test_no_venue_module_converts_a_time_by_hand(venue: str) -> None:
    """The simulators (simulator*.py) play the venue and may count as it does; the client,
    its wire mapping and its desk go through the bounds and convert_time."""
    modules = sorted(
        p for p in (VENUE_DIR / venue).glob("*.py") if not p.name.startswith("simulator")
    )
    assert modules, f"no modules for {venue}"
    found = [line for path in modules for line in _hand_conversions(path)]
    assert found == [], "convert with the capabilities' bounds or units.convert_time"


def test_the_scan_finds_a_hand_conversion(tmp_path: Path) -> None:
    module = tmp_path / "wire.py"
    module.write_text("def f(s: int) -> int:\n    return s * 1000\n")
    assert _hand_conversions(module) == ["wire.py:2: s * 1000"]

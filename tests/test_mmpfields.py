"""The MMP field table: the model, the policy format and the guardrails agree with it; each
kind parses, shows and orders its values as plans, guardrails and `mmp import` rely on."""

from __future__ import annotations

import ast
import dataclasses
import typing
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.core import mmpfields
from reconciler.core.mmpfields import FIELDS, FROZEN, LIMITS, NAMES, WINDOW, FieldValue, MmpField
from reconciler.core.model import ALL_FIELDS, LIMIT_FIELDS, MmpConfig
from reconciler.core.units import MANUAL, UnitError
from reconciler.policy import guards
from reconciler.policy.spec import SCOPE_FIELDS, SCOPE_PARSERS, ScopeSpec

PACKAGE = Path(mmpfields.__file__).resolve().parent.parent
LIMIT = FIELDS[2]


def test_the_table_is_mmpconfig_attribute_for_attribute() -> None:
    attributes = dataclasses.fields(MmpConfig)
    assert [f.attribute for f in FIELDS] == [a.name for a in attributes]
    hints = typing.get_type_hints(MmpConfig)
    for field, attribute in zip(FIELDS, attributes, strict=True):
        no_default = attribute.default is dataclasses.MISSING
        assert field.required is no_default, field.name
        accepts_none = type(None) in typing.get_args(hints[attribute.name])
        assert accepts_none is not field.required, field.name
    assert [f.kind for f in FIELDS[:2]] == [mmpfields.DURATION, mmpfields.FREEZE]
    assert all(f.kind is mmpfields.LIMIT for f in FIELDS[2:])


def test_every_list_of_fields_is_the_table() -> None:
    assert ALL_FIELDS == NAMES == SCOPE_FIELDS == tuple(SCOPE_PARSERS)
    assert tuple(f.name for f in LIMITS) == LIMIT_FIELDS
    assert tuple(ScopeSpec.model_fields) == NAMES
    assert tuple(guards.Fields.model_fields) == NAMES
    assert all(SCOPE_PARSERS[f.name] == f.parse for f in FIELDS)


def test_a_config_reads_each_field_by_its_record_or_its_name() -> None:
    config = MmpConfig(1000, MANUAL, quantity_limit=Decimal("2.50"))
    values = [config.value(f) for f in FIELDS]
    assert values == [1000, MANUAL, Decimal("2.5"), None, None, None, None]
    assert config.value("frozen") == MANUAL
    with pytest.raises(KeyError):
        config.value("frozen_ms")  # an attribute is not a field name


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        (WINDOW, 5000, "5s"),
        (WINDOW, 90_000, "90s"),
        (WINDOW, 60_000, "1m"),
        (WINDOW, 1500, "1500ms"),
        (WINDOW, 7_200_000, "2h"),
        (FROZEN, 30_000, "30s"),
        (FROZEN, MANUAL, "manual"),
        (LIMIT, Decimal("2.50"), "2.5"),
        (LIMIT, Decimal("1E+3"), "1000"),
        (LIMIT, Decimal("0.0000001"), "0.0000001"),
        (LIMIT, 5, "5"),
        (LIMIT, None, "(none)"),
        (FROZEN, None, "(none)"),
    ],
)
def test_one_text_for_a_value(field: MmpField, value: FieldValue, shown: str) -> None:
    assert field.show(value) == shown


def test_what_import_writes_is_the_shown_text_as_the_policy_takes_it() -> None:
    assert WINDOW.policy_value(60_000) == "1m"
    assert FROZEN.policy_value(MANUAL) == "manual"
    assert LIMIT.policy_value(Decimal("60.0")) == 60
    assert isinstance(LIMIT.policy_value(Decimal("60.0")), int)
    assert LIMIT.policy_value(Decimal("12.50")) == Decimal("12.5")


_MS = st.integers(min_value=1, max_value=10**9)
# any limit a policy takes: 18 digits before the point and 18 after (never rounded)
_LIMITS = st.decimals(
    allow_nan=False, allow_infinity=False, min_value=-(10**18) + 1, max_value=10**18 - 1, places=18
)


@given(st.sampled_from(FIELDS), _MS, _LIMITS, st.booleans())
def test_what_is_shown_parses_back_to_the_same_value(
    field: MmpField, ms: int, limit: Decimal, manual: bool
) -> None:
    value: FieldValue = limit if field.kind.number else ms
    if field is FROZEN and manual:
        value = MANUAL
    assert value is not None
    assert field.parse(field.policy_value(value)) == value


def test_values_a_policy_refuses() -> None:
    with pytest.raises(UnitError, match="has no unit"):
        WINDOW.parse(5)
    with pytest.raises(UnitError, match="is not a duration"):
        WINDOW.parse(MANUAL)
    with pytest.raises(UnitError, match="frozen: manual"):
        FROZEN.parse("0s")
    with pytest.raises(UnitError, match="without quotes"):
        LIMIT.parse("5")


def test_which_way_tightens() -> None:
    assert WINDOW.tightens(1000, 2000) and not WINDOW.tightens(2000, 1000)
    assert FROZEN.tightens(30_000, MANUAL) and not FROZEN.tightens(MANUAL, 3_600_000)
    assert LIMIT.tightens(Decimal(5), Decimal(4)) and not LIMIT.tightens(Decimal(4), Decimal(5))
    assert LIMIT.tightens(None, Decimal(4)) and not LIMIT.tightens(Decimal(4), None)


_FREEZES = st.one_of(_MS, st.just(MANUAL))


@given(st.sampled_from(FIELDS), _FREEZES, _FREEZES, _LIMITS, _LIMITS)
def test_of_two_different_values_exactly_one_way_tightens(
    field: MmpField, a: int | str, b: int | str, x: Decimal, y: Decimal
) -> None:
    old, new = (x, y) if field.kind.number else (a, b)
    if field is WINDOW and MANUAL in (old, new):
        return
    if field.magnitude(old) == field.magnitude(new):
        assert field.tightens(old, new) and field.tightens(new, old)  # nothing loosened
    else:
        assert field.tightens(old, new) is not field.tightens(new, old)


@given(st.sampled_from(FIELDS), _FREEZES, _LIMITS)
def test_saved_values_load_back(field: MmpField, duration: int | str, limit: Decimal) -> None:
    value: FieldValue = limit if field.kind.number else duration
    if field is WINDOW and value == MANUAL:
        value = 1000
    assert field.load({"x": field.data(value)}, "x") == value
    if not field.required:
        assert field.load({}, "x") is None
    else:
        with pytest.raises((KeyError, TypeError)):
            field.load({"x": None}, "x")


def test_guardrail_bounds_take_durations_and_exact_limits() -> None:
    rules = guards.Guardrails.model_validate(
        {"fields": {"frozen": {"max": "1m"}, "window": {"min": "500ms"}, "vega_limit": {"max": 2}}}
    )
    assert rules.fields.model_dump() == {
        "window": {"min": 500, "max": None},
        "frozen": {"min": None, "max": 60_000},
        "quantity_limit": None,
        "delta_limit": None,
        "vega_limit": {"min": None, "max": Decimal(2)},
        "max_quote_quantity": None,
        "trade_count_limit": None,
    }
    with pytest.raises(ValueError, match="no unit"):
        guards.Guardrails.model_validate({"fields": {"window": {"min": 5}}})


# Modules that read the table and must not name a field again. `status` and the model's
# FreezeState use "frozen" for a scope's freeze state, not the field.
READERS = [
    "planning/planner.py",
    "policy/guards.py",
    "commands/importer.py",
    "policy/validate.py",
    "policy/venue_rules.py",
    "policy/shape.py",
    "policy/spec.py",
    "planning/render/rows.py",
    "planning/render/text.py",
    "planning/render/markdown.py",
    "planning/render/json_out.py",
]


@pytest.mark.parametrize("module", READERS)
def test_no_reader_spells_a_field_name_of_its_own(module: str) -> None:
    tree = ast.parse((PACKAGE / module).read_text(encoding="utf-8"))
    spelled = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in NAMES
    ]
    assert spelled == [], f"{module} names {spelled}: read reconciler.core.mmpfields instead"

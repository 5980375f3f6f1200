"""The MMP fields: one record each, read by the model, the policy format, the guardrails,
the renderers and `mmp import`.

A record says what a field is called (in policies, guardrails and plans), which MmpConfig
attribute holds it, and its kind. The kind says how a policy value parses, how a value
shows (the one text of plans, guardrail messages and imported policies), what a guardrail
floor or ceiling of it holds, and which way tightens: a longer window or freeze (`manual`
the longest of all), a lower limit; setting a field that had no value tightens, taking one
out loosens.

Named `mmpfields`, not `fields`: `reconciler.venues` reads the fields of venue answers, and
`dataclasses.field` and pydantic's `Field` are never far away.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from reconciler.core.units import (
    MANUAL,
    decimal_text,
    format_duration,
    parse_duration,
    parse_freeze,
    to_decimal,
)

Value = int | str | Decimal
"""A field's value: milliseconds (int), `manual` (a freeze only), or an exact Decimal."""
FieldValue = Value | None  # None: not set


def _duration_text(value: Value) -> str:
    return format_duration(int(value))


def _freeze_text(value: Value) -> str:
    return MANUAL if value == MANUAL else format_duration(int(value))


def _limit_text(value: Value) -> str:
    return decimal_text(Decimal(value))


def _freeze_data(raw: object) -> Value:
    return MANUAL if raw == MANUAL else _ms_data(raw)


def _ms_data(raw: Any) -> Value:
    return int(raw)


def _limit_data(raw: object) -> Value:
    return Decimal(str(raw))


@dataclass(frozen=True)
class Kind:
    """What a kind of field holds and how its values behave."""

    what: str
    parse: Callable[[object], Value]  # a policy file's value -> ours; UnitError with the fix
    text: Callable[[Value], str]  # ours -> the text people read and policy files hold
    number: bool  # a policy file writes it as a YAML number (else as text: `5s`, `manual`)
    higher_tightens: bool  # a higher value is stricter (durations) or looser (limits)
    bound: Callable[[object], int | Decimal]  # a guardrail floor or ceiling -> ours
    load: Callable[[object], Value]  # a saved plan's or journal's JSON value -> ours


DURATION = Kind(
    "a duration in milliseconds",
    parse_duration,
    _duration_text,
    number=False,
    higher_tightens=True,
    bound=parse_duration,
    load=_ms_data,
)
FREEZE = Kind(
    "a duration in milliseconds, or `manual`: no automatic unfreeze (the longest freeze)",
    parse_freeze,
    _freeze_text,
    number=False,
    higher_tightens=True,
    bound=parse_duration,
    load=_freeze_data,
)
LIMIT = Kind(
    "an exact decimal",
    to_decimal,
    _limit_text,
    number=True,
    higher_tightens=False,
    bound=to_decimal,
    load=_limit_data,
)


@dataclass(frozen=True)
class MmpField:
    """One MMP field. `required`: every config has it (MmpConfig gives it no default)."""

    name: str  # as policies, guardrails, plans and messages spell it
    attribute: str  # MmpConfig's
    kind: Kind
    required: bool = False
    noun: str = ""  # what a message calls it ("freeze shortened"); the name when empty
    description: str = ""  # for the JSON Schema
    # a field only some venues' scopes have (Deribit's Block RFQ trade count): left out of
    # a config's data and digest while unset, so every other config reads as it did before
    rare: bool = False

    @property
    def called(self) -> str:
        return self.noun or self.name

    def parse(self, raw: object) -> Value:
        """A policy file's value; raises UnitError saying what to write instead."""
        return self.kind.parse(raw)

    def show(self, value: FieldValue) -> str:
        """The one text of a value: plans (text, Markdown), guardrail messages, `mmp import`."""
        return "(none)" if value is None else self.kind.text(value)

    def policy_value(self, value: Value) -> str | int | Decimal:
        """What `mmp import` writes: the shown text, as a YAML number where the policy takes
        one (`60`, `12.5`), as text where it takes text (`5s`, `manual`)."""
        text = self.kind.text(value)
        if not self.kind.number:
            return text
        return Decimal(text) if "." in text else int(text)

    def data(self, value: FieldValue) -> object:
        """JSON-safe: milliseconds and `manual` as they are, a limit as its exact text."""
        return decimal_text(value) if isinstance(value, Decimal) else value

    def load(self, data: Mapping[str, Any], key: str) -> FieldValue:
        """data[key] as `data` wrote it (a saved plan, the journal). A required field missing
        or null is an error (KeyError, TypeError); an optional one is None."""
        raw = data[key] if self.required else data.get(key)
        return None if raw is None and not self.required else self.kind.load(raw)

    def magnitude(self, value: Value) -> Decimal:
        """For comparing: `manual` is the longest freeze there is."""
        return Decimal("Infinity") if value == MANUAL else Decimal(value)

    def tightens(self, before: FieldValue, after: FieldValue) -> bool:
        """Whether before -> after tightens: adding a value does, taking it out does not; an
        unchanged magnitude counts as tightening (nothing loosened)."""
        if before is None:
            return True
        if after is None:
            return False
        old, new = self.magnitude(before), self.magnitude(after)
        return new >= old if self.kind.higher_tightens else new <= old


WINDOW = MmpField(
    "window", "window_ms", DURATION, required=True, description="Counting window, e.g. 1s, 500ms"
)
FROZEN = MmpField(
    "frozen",
    "frozen_ms",
    FREEZE,
    required=True,
    noun="freeze",
    description="Freeze after a trigger, e.g. 30s, or manual",
)
QUANTITY_LIMIT = MmpField("quantity_limit", "quantity_limit", LIMIT)
DELTA_LIMIT = MmpField("delta_limit", "delta_limit", LIMIT)
VEGA_LIMIT = MmpField("vega_limit", "vega_limit", LIMIT)
MAX_QUOTE_QUANTITY = MmpField("max_quote_quantity", "max_quote_quantity", LIMIT)
TRADE_COUNT_LIMIT = MmpField(
    "trade_count_limit",
    "trade_count_limit",
    LIMIT,
    description="Trades counted in the window before MMP triggers (Deribit Block RFQ, "
    "index `all` only: a whole number, 1 to 1000)",
    rare=True,
)

FIELDS: tuple[MmpField, ...] = (
    WINDOW,
    FROZEN,
    QUANTITY_LIMIT,
    DELTA_LIMIT,
    VEGA_LIMIT,
    MAX_QUOTE_QUANTITY,
    TRADE_COUNT_LIMIT,
)
"""Every MMP field, in the canonical order of plans, policies and digests."""
BY_NAME: dict[str, MmpField] = {f.name: f for f in FIELDS}
NAMES: tuple[str, ...] = tuple(BY_NAME)
LIMITS: tuple[MmpField, ...] = tuple(f for f in FIELDS if f.kind is LIMIT)


def named(name: str | MmpField) -> MmpField:
    """The field of a name (as a plan or guardrails file spells it); KeyError if none."""
    return name if isinstance(name, MmpField) else BY_NAME[name]

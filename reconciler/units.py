"""Durations and exact decimals: parsing, formatting, JSON without floats.

Durations are integers of milliseconds everywhere inside the tool. `frozen: manual` (no
automatic unfreeze) is the string MANUAL, never 0, so it cannot be mistaken for "no freeze".
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any, Final, Literal

MANUAL: Final = "manual"
Manual = Literal["manual"]
FreezeMs = int | Manual

MAX_EXPONENT: Final = 30  # no MMP limit is near 1E30 or 1E-30; bigger is an attack or typo
_UNIT_MS: Final = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
_DURATION = re.compile(r"^\s*(\d+)\s*(ms|s|m|h)\s*$")


class UnitError(ValueError):
    pass


def parse_duration(value: object) -> int:
    """`"500ms"`, `"5s"`, `"1m"`, `"1h"` -> milliseconds. A bare number is refused."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise UnitError(f"expected a duration such as 5s or 500ms, got {_kind(value)}")
    if isinstance(value, (int, Decimal)):
        if isinstance(value, Decimal) or abs(value) > 10**12:
            raise UnitError("a duration needs a whole number and a unit, e.g. 5s or 500ms")
        raise UnitError(
            f"duration {value} has no unit: write {value}s or {value}ms (units: ms, s, m, h)"
        )
    match = _DURATION.match(value) if len(value) <= 32 else None
    if not match:
        raise UnitError(
            f"{value!r} is not a duration: write a whole number and a unit, e.g. 500ms, 5s, 1m, 1h"
        )
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def parse_freeze(value: object) -> FreezeMs:
    if value == MANUAL:
        return MANUAL
    ms = parse_duration(value)
    if ms == 0:
        raise UnitError(
            "a freeze of 0 is ambiguous: write `frozen: manual` for no automatic unfreeze"
        )
    return ms


def format_duration(ms: int) -> str:
    """The most readable exact form: 5000 -> 5s, 90000 -> 90s, 60000 -> 1m, 1500 -> 1500ms."""
    for unit in ("h", "m", "s"):
        size = _UNIT_MS[unit]
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def utc_text(ms: int) -> str:
    """Milliseconds since the epoch as UTC to the second, for people: 2026-11-21T03:10:39Z."""
    return dt.datetime.fromtimestamp(ms // 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_freeze(value: FreezeMs) -> str:
    return MANUAL if value == MANUAL else format_duration(int(value))


def decimal_places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def decimal_text(value: Decimal) -> str:
    """Canonical text of a decimal: no exponent, no trailing zeros (2.50 -> 2.5, 1E+3 -> 1000)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def to_decimal(value: object) -> Decimal:
    if isinstance(value, bool):
        raise UnitError("expected a number, got a boolean")
    if isinstance(value, int):
        value = Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise UnitError(f"{value} is not a finite number")
        if value and not -MAX_EXPONENT <= value.adjusted() <= MAX_EXPONENT:
            raise UnitError(f"a number of magnitude 1E{value.adjusted()} is out of range")
        return value
    if isinstance(value, str):
        raise UnitError(f"expected a number, got the string {value!r}: write it without quotes")
    raise UnitError(f"expected a number, got {_kind(value)}")


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "nothing" if value is None else type(value).__name__


def dumps_exact(obj: Any, *, indent: int | None = None, sort_keys: bool = False) -> str:
    """JSON with Decimals written as exact numbers (0.1 stays 0.1); floats are refused.

    Compact (no spaces) unless indent is given: the compact form is what signatures cover.
    """
    sep = (",", ":") if indent is None else (",", ": ")
    # json cannot emit raw numbers, so Decimals become marked strings and are unquoted after.
    text = json.dumps(
        _mark(obj), separators=sep, sort_keys=sort_keys, ensure_ascii=False, indent=indent
    )
    return _RAW_MARK.sub(lambda m: m.group(1), text)


_RAW_PREFIX: Final = "\u0000num:"
_RAW_MARK = re.compile(r'"\\u0000num:(-?[0-9.]+)"')


def _mark(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return _RAW_PREFIX + decimal_text(obj)
    if isinstance(obj, dict):
        return {k: _mark(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_mark(v) for v in obj]
    if isinstance(obj, float):
        raise TypeError("floats are not allowed anywhere in mmp-reconciler")
    if isinstance(obj, str) and obj.startswith(_RAW_PREFIX):
        raise ValueError("a string may not start with a NUL character")
    return obj


def loads_exact(text: str | bytes) -> Any:
    """Parse JSON with every non-integer number as Decimal: nothing becomes a float."""
    return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")

"""Durations and exact decimals: parsing, formatting, JSON without floats.

Durations are integers of milliseconds everywhere inside the tool. `frozen: manual` (no
automatic unfreeze) is the string MANUAL, never 0, so it cannot be mistaken for "no freeze".
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from decimal import Context, Decimal
from typing import Any, Final, Literal

from reconciler.core.clock import clock

MANUAL: Final = "manual"
Manual = Literal["manual"]
FreezeMs = int | Manual

# A limit has at most 18 digits before the point and 18 after: what every venue's answer is
# read with (reconciler.venues.answers), so a limit mmp writes can always be read back.
MAX_DIGITS: Final = 18
# Decimal's default context keeps 28 digits, and normalize() or arithmetic round to it: a limit
# with more would be rounded silently (then sent rounded, and read back "neither old nor new").
# EXACT holds any limit (36 digits), scaled too; use it wherever one is normalized or scaled.
EXACT: Final = Context(prec=80)
_UNIT_MS: Final = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
_DURATION = re.compile(r"(\d+)(ms|s|m|h)\Z")
_LOOSE_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+)\s*([A-Za-z]+)\s*\Z")
_UNIT_WORDS: Final = {
    **dict.fromkeys(("ms", "msec", "msecs", "millis", "millisecond", "milliseconds"), "ms"),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), "s"),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), "m"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "h"),
}
_PLAIN_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?\Z")


class UnitError(ValueError):
    pass


@dataclass(frozen=True)
class UnplainNumber:
    """A YAML number not written in plain decimal notation (`0x10`, `1e3`, `1_000`, `.5`,
    `+5`, `007`, `.inf`), kept as written so validation can refuse it with the fix. Both
    readings of a policy file give one for the same text; two are equal when written alike."""

    text: str
    value: Decimal = field(compare=False)  # what YAML reads it as; NaN when not a number

    def __str__(self) -> str:
        return self.text


def read_number(text: str, value: int | Decimal) -> int | Decimal | UnplainNumber:
    """What a policy file holds for a YAML int or float written as text: the number when
    the text is plain decimal notation, else an UnplainNumber."""
    if _PLAIN_NUMBER.match(text):
        return int(value) if isinstance(value, int) else value
    return UnplainNumber(text, Decimal(value) if isinstance(value, int) else value)


def parse_duration(value: object) -> int:
    """`"500ms"`, `"5s"`, `"1m"`, `"1h"` -> milliseconds. A bare number is refused, and so is
    any other spelling (`1 s`, `5sec`, `1.5s`), with the exact form to write instead."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal, UnplainNumber)):
        raise UnitError(f"expected a duration such as 5s or 500ms, got {_kind(value)}")
    if isinstance(value, int) and abs(value) <= 10**12:
        raise UnitError(
            f"duration {value} has no unit: write {value}s or {value}ms (units: ms, s, m, h)"
        )
    if not isinstance(value, str):
        raise UnitError("a duration needs a whole number and a unit, e.g. 5s or 500ms")
    match = _DURATION.match(value) if len(value) <= 32 else None
    if not match:
        raise UnitError(_duration_advice(value))
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def _duration_advice(text: str) -> str:
    fix = _duration_fix(text) if len(text) <= 32 else None
    if fix is None:
        shown = repr(text) if len(text) <= 32 else "this value"
        return f"{shown} is not a duration: write a whole number and a unit, e.g. 500ms, 5s, 1m, 1h"
    if "".join(text.split()) == fix:
        return f"duration `{text.strip()}` has a space: write {fix}"
    return f"duration `{text.strip()}` is not a whole number followed by ms, s, m or h: write {fix}"


def _duration_fix(text: str) -> str | None:
    """The exact duration a loose spelling means (`1 s` -> 1s, `1.5 sec` -> 1500ms), if any."""
    match = _LOOSE_DURATION.match(text)
    unit = _UNIT_WORDS.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        return None
    number = Decimal(match.group(1))
    if number == number.to_integral_value():
        return f"{int(number)}{unit}"
    ms = number * _UNIT_MS[unit]
    return format_duration(int(ms)) if ms == ms.to_integral_value() else None


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


def utc_ms_text(ms: int) -> str:
    """Milliseconds since the epoch as UTC to the millisecond, exact: 2026-11-21T03:10:39.123Z
    (a venue's trigger time, as a person names it back to mmp)."""
    moment = dt.datetime.fromtimestamp(ms // 1000, dt.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def parse_utc_ms(text: str) -> int:
    """utc_ms_text's form (or any ISO 8601 time with its zone) back to milliseconds since the
    epoch; ValueError for anything else."""
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone (end it with Z)")
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(milliseconds=1)


def format_freeze(value: FreezeMs) -> str:
    return MANUAL if value == MANUAL else format_duration(int(value))


def decimal_places(value: Decimal) -> int:
    if value.as_tuple().exponent == 0:  # a whole number as written: no need to normalize
        return 0
    exponent = exact(value).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def exact(value: Decimal) -> Decimal:
    """VALUE without trailing zeros (2.50 -> 2.5), never rounded (see EXACT)."""
    return value.normalize(EXACT)


def decimal_text(value: Decimal) -> str:
    """Canonical text of a decimal: no exponent, no trailing zeros (2.50 -> 2.5, 1E+3 -> 1000)."""
    text = format(exact(value), "f")
    return "0" if text in ("-0", "") else text


def to_decimal(value: object) -> Decimal:
    """A limit: a number in plain decimal notation (16, 0.5, -2), exact."""
    if isinstance(value, bool):
        raise UnitError("expected a number, got a boolean")
    if isinstance(value, UnplainNumber):
        raise UnitError(_unplain_advice(value))
    if isinstance(value, int):
        value = Decimal(value)
    if isinstance(value, Decimal):
        _check_range(value)
        return value
    if isinstance(value, str):
        raise UnitError(_text_advice(value))
    raise UnitError(f"expected a number, got {_kind(value)}")


def _check_range(value: Decimal) -> None:
    if not value.is_finite():
        raise UnitError(f"{value} is not a finite number")
    if value and value.adjusted() >= MAX_DIGITS:
        raise UnitError(
            f"a number of magnitude 1E{value.adjusted()} is out of range: a limit has at most "
            f"{MAX_DIGITS} digits before the point"
        )
    places = decimal_places(value)
    if places > MAX_DIGITS:
        raise UnitError(
            f"{_short(decimal_text(value))} has {places} decimal places; a limit has at most "
            f"{MAX_DIGITS} (what mmp reads a venue's limit with), and mmp never rounds one"
        )


def _short(text: str) -> str:
    return text if len(text) <= 32 else text[:29] + "..."


def _unplain_advice(number: UnplainNumber) -> str:
    text = number.text if len(number.text) <= 32 else number.text[:29] + "..."
    value = number.value
    if not value.is_finite():
        return f"`{text}` is not a finite number: write the limit in plain decimal notation"
    if value and not -MAX_DIGITS <= value.adjusted() < MAX_DIGITS:
        return f"`{text}` is out of range (magnitude 1E{value.adjusted()})"
    return (
        f"`{text}` is {_notation(number.text)}; limits take plain decimal notation only: "
        f"write {decimal_text(value)}"
    )


def _notation(text: str) -> str:
    body = text.lstrip("+-").lower()
    for prefix, name in (("0x", "hexadecimal"), ("0o", "octal"), ("0b", "binary")):
        if body.startswith(prefix):
            return f"in {name} notation"
    if "e" in body:
        return "in exponent notation"
    if "_" in body:
        return "written with `_` between digits"
    if text.startswith("+"):
        return "written with a `+`"
    if body.startswith(".") or body.endswith("."):
        return "written with a bare decimal point"
    return "written with leading zeros"


def _text_advice(text: str) -> str:
    shown = repr(text) if len(text) <= 32 else "text"
    if _PLAIN_NUMBER.match(text.strip()):
        return f"expected a number, got the string {shown}: write it without quotes"
    unseparated = text.strip().replace(",", "")
    if "," in text and _PLAIN_NUMBER.match(unseparated):
        return f"expected a number, got the text {shown}: write {unseparated} (no separators)"
    return f"expected a number, got the text {shown}: write the limit as a plain number, e.g. 5"


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


TimeUnit = Literal["s", "ms", "us", "ns"]
_NS: Final[dict[str, int]] = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


def convert_time(value: int, unit: TimeUnit, to: TimeUnit) -> int:
    """A timestamp or a whole duration from one unit to another: the one place a time changes
    unit. Exact to a larger unit's multiple; to a larger unit it keeps the whole units (a
    timestamp's floor), as the venues' own examples do."""
    return value * _NS[unit] // _NS[to]


def epoch_ms(value: int, unit: TimeUnit) -> int:
    """A venue's timestamp (seconds, milliseconds, microseconds or nanoseconds since the
    epoch) in milliseconds."""
    return convert_time(value, unit, "ms")


def now(unit: TimeUnit) -> int:
    """The time since the epoch in the unit a venue stamps its requests with (by the clock
    in force: reconciler.core.clock)."""
    return convert_time(clock().time_ns(), "ns", unit)


def monotonic_ms() -> int:
    """A clock for deadlines and lifetimes (never for a venue's timestamps)."""
    return convert_time(clock().monotonic_ns(), "ns", "ms")

"""Strict reading of the fields of a venue's answer.

Each reader returns one field in our types or raises Malformed, whose message names the
field and what is wrong with it: missing, or of another wire type than the venue documents
(never the value itself: an answer can carry a token). A missing field is never read as a
default, because a default can change the meaning: "no window" would read as "this scope
has no MMP". Clients turn Malformed into VenueUnavailable with `http.malformed_answer`.

JSON as `units.loads_exact` parses it: numbers are int or Decimal, never float.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from reconciler.core import units

INT64_MAX = 2**63 - 1  # Binance LONG, Deribit int64, Aevo nanoseconds: all fit
MAX_DIGITS = units.MAX_DIGITS  # a limit has at most 18 digits before and 18 after the point
DIGITS = re.compile(r"[0-9]{1,19}")
DECIMAL = re.compile(r"[0-9]{1,18}(?:\.[0-9]{1,18})?")


class Malformed(ValueError):
    """A field of an answer is missing or wrong; the message never holds the field's value."""


def wire_type(value: Any) -> str:
    """The JSON type of a parsed value, as the venue documents name them."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def wrong(name: str, expected: str, value: Any) -> Malformed:
    """`name` is not `expected` (and which wire type it is instead)."""
    return Malformed(f"{name} is not {expected} (it is {_article(wire_type(value))})")


def _article(kind: str) -> str:
    return kind if kind == "null" else f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def obj(value: Any, name: str = "the answer") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise wrong(name, "an object", value)
    return value


def objects(value: Any, name: str) -> list[dict[str, Any]]:
    """An array whose every item is an object."""
    if not isinstance(value, list):
        raise wrong(name, "an array", value)
    return [obj(item, f"{name}[{i}]") for i, item in enumerate(value)]


def present(item: dict[str, Any], name: str) -> Any:
    if name not in item:
        raise Malformed(f"{name} is missing")
    return item[name]


def text(item: dict[str, Any], name: str) -> str:
    """A required, non-empty string of printable characters (a name, a token, an id: none
    holds a control character or half of a surrogate pair, which no terminal can print)."""
    value = present(item, name)
    if not isinstance(value, str) or not value or not value.isprintable():
        raise wrong(name, "a non-empty string of printable characters", value)
    return value


def optional_text(item: dict[str, Any], name: str) -> str | None:
    """Absent: None; present: a string of printable characters (empty reads as absent)."""
    if name not in item:
        return None
    value = item[name]
    if not isinstance(value, str) or not value.isprintable():
        raise wrong(name, "a string of printable characters", value)
    return value or None


def flag(item: dict[str, Any], name: str) -> bool:
    value = present(item, name)
    if not isinstance(value, bool):
        raise wrong(name, "a bool", value)
    return value


def optional_flag(item: dict[str, Any], name: str) -> bool:
    """Absent: False; present: a bool."""
    return flag(item, name) if name in item else False


def integer(item: dict[str, Any], name: str) -> int:
    """A JSON integer, 0 to 2^63-1 (booleans and fractions are not integers)."""
    value = present(item, name)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= INT64_MAX:
        return value
    raise wrong(name, "a whole number from 0 to 2^63-1", value)


def int_text(item: dict[str, Any], name: str) -> int:
    """A string of decimal digits (Aevo sends its integers as strings)."""
    value = present(item, name)
    if not isinstance(value, str) or not DIGITS.fullmatch(value) or int(value) > INT64_MAX:
        raise wrong(name, "a string of digits", value)
    return int(value)


def number(item: dict[str, Any], name: str) -> Decimal:
    """A JSON number, finite, not negative, at most 18 digits each side of the point."""
    value = present(item, name)
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise wrong(name, "a number", value)
    if not _sane(Decimal(value)):
        raise Malformed(f"{name} is not a limit we can hold (negative, or too many digits)")
    return Decimal(value)


def optional_number(item: dict[str, Any], name: str) -> Decimal | None:
    """Absent: None (the venue omits a limit that is not set); present: a number."""
    return number(item, name) if name in item else None


def decimal_text(item: dict[str, Any], name: str) -> Decimal:
    """A string holding a plain decimal, not negative ("2.3"; no exponent, no sign)."""
    value = present(item, name)
    if not isinstance(value, str) or not DECIMAL.fullmatch(value):
        raise wrong(name, "a string holding a decimal", value)
    return Decimal(value)


def _sane(value: Decimal) -> bool:
    if not value.is_finite() or value < 0:
        return False
    if value == 0:
        return True
    exact = units.exact(value)
    return exact.adjusted() < MAX_DIGITS and int(exact.as_tuple().exponent) >= -MAX_DIGITS

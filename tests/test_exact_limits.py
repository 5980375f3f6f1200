"""A limit is never rounded, however many digits it has: Decimal's default context keeps 28
significant digits, and a value with more was once rounded by normalize() after validation
had counted its places (a 29-place delta limit passed Bybit's 2-place rule, was sent as 10,
then read back as "neither the old nor the new one": a false exit 4). Now such a value is
refused where the venue keeps fewer places, and kept exactly where it keeps them all."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.core.units import UnitError, decimal_places, decimal_text, exact, to_decimal
from tests.sandbox_cli import mmp, seeded

LONG = "123456789012345.000000000000000001"  # 33 significant digits, 18 places
BIG = "123456789012345678.123456789012345678"  # 36 digits, the most a limit has


def test_places_and_text_are_counted_exactly() -> None:
    assert decimal_places(Decimal(LONG)) == 18
    assert decimal_text(Decimal(LONG)) == LONG
    assert decimal_text(Decimal(BIG + "000")) == BIG
    assert exact(Decimal(LONG + "000")) == Decimal(LONG)


def test_more_places_than_any_venue_keeps_are_refused_not_rounded() -> None:
    with pytest.raises(UnitError, match="has 19 decimal places; a limit has at most 18"):
        to_decimal(Decimal("1." + "0" * 17 + "12"))
    with pytest.raises(UnitError, match="at most 18 digits before the point"):
        to_decimal(Decimal("1" + "0" * 18))
    assert to_decimal(Decimal(BIG)) == Decimal(BIG)


def _edit(desk: Path, old: str, new: str) -> None:
    path = desk / "policies" / "desk-alpha.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        (
            "delta_limit: 20            #",
            f"delta_limit: {LONG} #",
            f"delta_limit {LONG} has 18 decimal places; bybit keeps at most 2",
        ),
        (
            "trade_count_limit: 20      #",
            "trade_count_limit: 20.00000000000000000000000000001 #",
            "has 29 decimal places; a limit has at most 18 (what mmp reads a venue's limit with)",
        ),
    ],
)
def test_validate_refuses_a_long_limit_where_the_venue_keeps_fewer_places(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    old: str,
    new: str,
    said: str,
) -> None:
    monkeypatch.chdir(seeded(tmp_path, capsys))
    _edit(tmp_path, old, new)
    code, out, err = mmp(capsys, "validate")
    assert code == 1, out + err
    assert said in out + err
    code, out, err = mmp(capsys, "plan")
    assert code == 1 and said in out + err  # nothing is planned from it either


@pytest.mark.parametrize(
    ("account", "old", "new", "shown"),
    [
        ("binance-mm", "quantity_limit: 2\n", "quantity_limit: 123456789012345678.12345678\n", "2"),
        (
            "okx-mm",
            "quantity_limit: 100        #",
            "quantity_limit: 123456789012345678.12 #",
            "150",
        ),
    ],
)
def test_a_limit_of_every_digit_it_may_have_is_shown_sent_and_verified_exactly(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    account: str,
    old: str,
    new: str,
    shown: str,
) -> None:
    monkeypatch.chdir(seeded(tmp_path, capsys))
    _edit(tmp_path, old, new)
    value = new.split(": ")[1].split()[0]
    code, out, _ = mmp(capsys, "plan", "--account", account)
    assert f"quantity_limit  {shown} -> {value}  (loosening)" in out
    assert f"raised {shown} -> {value} (x" in out  # the guardrail's ratio too
    code, out, err = mmp(capsys, "apply", "--auto-approve", "--force", "--account", account)
    assert code == 0, out + err
    code, out, _ = mmp(capsys, "plan", "--account", account)
    assert code == 0 and "Plan: no changes" in out  # in force exactly as declared

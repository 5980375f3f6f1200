"""How long a write of a killed run may still land (reconciler.apply.recovery): 60 s after it
was sent, or MMP_LATE_LANDING_S, and never past the age at which its venue refuses any
request. Without the variable, as in production, that age where the venue has one."""

from __future__ import annotations

import datetime as dt

import pytest

from reconciler.apply.recovery import InFlight
from reconciler.core.model import ScopeKey
from reconciler.venues import VENUES

SENT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
REFUSED_AFTER_S = {"okx": 31, "bybit": 6, "binance": 6}  # the venues that have such an age


def window_s(venue: str) -> float:
    key = ScopeKey(venue, "acct", "BTC")
    item = InFlight(key, "update", None, None, "set-sent", pending="set", sent_at=SENT)
    until = item.lands_until()
    assert until is not None
    return (until - SENT).total_seconds()


@pytest.mark.parametrize("venue", sorted(VENUES))
def test_by_default_60_s_or_the_age_the_venue_refuses(
    venue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MMP_LATE_LANDING_S", raising=False)
    assert window_s(venue) == REFUSED_AFTER_S.get(venue, 60)


@pytest.mark.parametrize(
    ("venue", "setting", "expected_s"),
    [("bullish", "10", 10), ("okx", "10", 10), ("okx", "90", 31), ("bybit", "0", 0)],
)
def test_the_variable_sets_it_never_past_that_age(
    venue: str, setting: str, expected_s: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMP_LATE_LANDING_S", setting)
    assert window_s(venue) == expected_s

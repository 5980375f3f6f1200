"""How long a write of a killed run may still land (reconciler.apply.recovery): 60 s after it
was sent, or MMP_LATE_LANDING_S, and never past the age at which its venue refuses any
request. Without the variable, as in production, that age where the venue has one."""

from __future__ import annotations

import datetime as dt

import pytest

from reconciler.apply.recovery import InFlight
from reconciler.core.model import ScopeKey

SENT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("venue", "setting", "window_s"),
    [
        ("bullish", None, 60),
        ("deribit", None, 60),
        ("aevo", None, 60),
        ("okx", None, 31),
        ("bybit", None, 6),
        ("binance", None, 6),
        ("bullish", "10", 10),
        ("okx", "10", 10),
        ("okx", "90", 31),
        ("bybit", "0", 0),
    ],
)
def test_a_pending_write_may_land_until(
    venue: str, setting: str | None, window_s: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    if setting is None:
        monkeypatch.delenv("MMP_LATE_LANDING_S", raising=False)
    else:
        monkeypatch.setenv("MMP_LATE_LANDING_S", setting)
    key = ScopeKey(venue, "acct", "BTC")
    item = InFlight(key, "update", None, None, "set-sent", pending="set", sent_at=SENT)
    assert item.lands_until() == SENT + dt.timedelta(seconds=window_s)

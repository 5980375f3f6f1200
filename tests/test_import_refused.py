"""`mmp import` never writes what `mmp validate` refuses (red team 17, item 3), walked on
the sandbox desk as a user would: before, live values beyond mmp's bounds were written, and
every later validate and plan failed.

- A bound that is only our assumption (the docs state none: OKX's window and frozen maxima
  and its families, Bybit's window and frozen ranges and its coins) refuses no live value:
  the venue has it, so it takes it. Import writes it, validate takes it, the plan shows it
  unchanged.
- A live value beyond a documented bound (Binance's window, at most 5000 ms) is not written:
  import writes the rest and names the scope with why; validate and plan go on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sandbox_cli import mmp, seeded, venue_account


@pytest.fixture
def desk(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    return seeded(in_tmp, capsys)


def test_live_values_beyond_assumed_bounds_are_imported_and_validate(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with venue_account("okx", "okx-mm") as (sim, key):
        configs = sim.accounts[key].configs
        configs["BTC-USD"]["timeInterval"] = "900000"  # 15 min: beyond the 10 min assumed
        configs["SOL-USD"] = {**configs["BTC-USD"], "timeInterval": "5000"}  # a new family
    with venue_account("bybit", "bybit-mm") as (sim, key):
        configs = sim.accounts[key].configs
        configs["BTC"]["window"] = "10000"  # beyond the 5 s assumed
        configs["SOL"]["frozenPeriod"] = "7200000"  # beyond the 1 h assumed
    code, _, err = mmp(capsys, "import", "--account", "okx-mm", "--account", "bybit-mm")
    assert code == 0 and "would not write" not in err and "did not write" not in err, err
    text = (desk / "policies" / "desk-alpha.yaml").read_text()
    assert "window: 15m" in text and "SOL-USD:" in text and "frozen: 2h" in text, text
    assert mmp(capsys, "validate")[0] == 0
    args = ("--account", "okx-mm", "--account", "bybit-mm", "--format", "json")
    code, out, _ = mmp(capsys, "plan", *args)
    assert code == 0, out
    actions = {step["scope"]: step["action"] for step in json.loads(out)["steps"]}
    for scope in ("okx/okx-mm/BTC-USD", "okx/okx-mm/SOL-USD", "bybit/bybit-mm/BTC"):
        assert actions[scope] == "unchanged", actions


def test_a_live_value_beyond_a_documented_bound_is_left_out_and_named(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with venue_account("binance", "binance-mm") as (sim, key):
        configs = sim.accounts[key].configs
        configs["BTCUSDT"]["windowTimeInMilliseconds"] = 6000  # the docs: at most 5000
        configs["SOLUSDT"]["windowTimeInMilliseconds"] = 7000  # undeclared, as well
    policy = desk / "policies" / "desk-alpha.yaml"
    before = policy.read_text()
    code, out, err = mmp(capsys, "import", "--account", "binance-mm")
    assert code == 0, err
    for scope, ms in (("BTCUSDT", "6s"), ("SOLUSDT", "7s")):
        assert (
            f"policies/desk-alpha.yaml: did not write binance/binance-mm/{scope}: validation "
            f"would refuse its live config (window {ms} is above binance's maximum of 5s); "
            "the policies keep what they say of it"
        ) in err, err
    after = policy.read_text()
    code, _, told = mmp(capsys, "import", "--account", "binance-mm", "--dry-run")
    assert "would not write binance/binance-mm/BTCUSDT: validation would refuse" in told
    assert "would would" not in told
    assert "SOLUSDT" not in after and after.count("window: 3s") == before.count("window: 3s")
    assert mmp(capsys, "validate")[0] == 0
    code, out, _ = mmp(capsys, "plan", "--account", "binance-mm")
    assert code == 0 and "unmanaged binance/binance-mm/SOLUSDT" in out, out


@pytest.mark.parametrize("literal", ["1234567890123.4567", "746555386734.4992", "0.10", "2.50"])
def test_import_leaves_every_number_it_does_not_change_as_written(
    desk: Path, capsys: pytest.CaptureFixture[str], literal: str
) -> None:
    """Red team 17 round 3: ruamel's round trip printed untouched floats again from a binary
    float (1234567890123.4567 came back ...4568), so import rounded limits of other accounts
    and then said the file matched; the next plan loosened the live config."""
    policy = desk / "policies" / "desk-alpha.yaml"
    written = "        delta_limit: 0.1\n      BTC:\n        window: 10s"
    text = policy.read_text(encoding="utf-8")
    assert text.count(written) == 1
    policy.write_text(text.replace(written, written.replace("0.1", literal)), encoding="utf-8")
    before = policy.read_text(encoding="utf-8")
    code, _, err = mmp(capsys, "import", "--account", "binance-mm")
    assert code == 0, err
    after = policy.read_text(encoding="utf-8")
    assert f"        delta_limit: {literal}\n      BTC:" in after  # aevo-mm's, as written
    changed = [
        line
        for line in after.splitlines()
        if line not in before.splitlines() and "delta_limit" in line
    ]
    assert not any(literal in line for line in changed)

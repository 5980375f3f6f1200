"""`mmp status`: every scope, configured or not, frozen or not and until when; exit 2 when
any is frozen; --json for machines."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.sandbox import Sandbox
from reconciler.sim.sandbox import SimulatorSandbox
from reconciler.status import relative
from reconciler.venues import VENUES

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def desk(in_tmp: Path) -> Path:
    shutil.copytree(ROOT / "policies", in_tmp / "policies")
    return in_tmp


def test_the_table_shows_every_scope_and_exits_2_when_frozen(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--sandbox"]) == 2
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[1:-1]}
    assert len(lines) == 16  # 14 live configs, 2 declared but not on the venue
    assert "yes, until manual reset" in lines["deribit/deribit-main/btc_usd/MassQuoteBot7"]
    assert "yes, until manual reset" in lines["aevo/aevo-mm/BTC"]
    assert "not in effect" in lines["bullish/bullish-mm/ETH"]
    binance = lines["binance/binance-mm/ETHUSDT"]
    assert "yes, until manual reset" in binance and " ago)" in binance  # last trigger
    assert lines["binance/binance-mm/BNBUSDT"].split()[1:4] == ["yes", "no", "no"]  # not set
    assert lines["deribit/deribit-main/sol_usdc"].split()[1:3] == ["no", "yes"]  # unmanaged
    assert out.splitlines()[-1] == (
        "16 scope(s): 14 configured, 4 frozen. Exit 2: a scope is frozen."
    )


def test_json_for_machines(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--sandbox", "--json"]) == 2
    data = json.loads(capsys.readouterr().out)
    assert data["frozen"] == 4
    by_scope = {s["scope"]: s for s in data["scopes"]}
    binance = by_scope["binance/binance-mm/ETHUSDT"]
    assert binance["frozen"] and binance["manual_reset"] and binance["last_trigger_ms"] > 0
    assert binance["last_trigger"].endswith("Z")
    calm = by_scope["deribit/deribit-main/btc_usd"]
    assert calm["frozen"] is False and calm["frozen_until"] is None and calm["configured"]


def test_exit_0_when_nothing_is_frozen(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--sandbox", "--venue", "deribit", "--underlying", "eth_usd"]) == 0
    out = capsys.readouterr().out
    assert "0 frozen." in out and "MassQuoteBot7" not in out


def test_a_timed_freeze_says_until_when_in_utc_and_from_now(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox = Sandbox(VENUES)  # trip a timed freeze (SOL: frozen 60s) in the sandbox's Aevo
    aevo = sandbox.venues["aevo"]
    assert isinstance(aevo, SimulatorSandbox)
    aevo.sim.trigger(aevo.key("aevo-mm"), "SOL")
    sandbox.save()
    assert main(["status", "--sandbox", "--venue", "aevo", "--underlying", "SOL"]) == 2
    line = capsys.readouterr().out.splitlines()[1]
    assert "yes, until 20" in line and "Z (in " in line


@pytest.mark.parametrize(
    ("ms", "text"),
    [(0, "0s"), (999, "0s"), (61_000, "1m 1s"), (3_600_000, "1h 0m"), (90_061_000, "1d 1h")],
)
def test_relative_spans(ms: int, text: str) -> None:
    assert relative(ms) == text

"""Guardrails: each rule trips with its numbers; creates and tightenings never trip the
loosening, share and removal rules; apply refuses without --force and journals --force."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from reconciler import guards
from reconciler.cli import main
from reconciler.desired import DesiredScope, DesiredState, Location
from reconciler.errors import ConfigError
from reconciler.model import LiveAccount, LiveScope, MmpConfig, ScopeKey
from reconciler.plan import Plan
from reconciler.planner import make_plan
from reconciler.venues import capabilities

HERE = Location("p", 1, 1)
RULES = guards.Guardrails.model_validate(
    {
        "fields": {"frozen": {"min": "5s"}},
        "venues": {"deribit": {"quantity_limit": {"max": 100}}},
        "coverage": {"deribit": ["btc_usd", "eth_usd"]},
        "loosening": {"limit_ratio": Decimal("1.5")},
        "changes": {"max_share": Decimal("0.25"), "min_scopes": 4},
    }
)


def cfg(q: int, window: int = 1000, frozen: int = 30_000) -> MmpConfig:
    return MmpConfig(window, frozen, quantity_limit=Decimal(q), max_quote_quantity=Decimal(1))


def plan_of(pairs: dict[str, tuple[MmpConfig | None, MmpConfig | None]]) -> Plan:
    """underlying -> (live, desired)."""
    desired = DesiredState()
    scopes = []
    for underlying, (have, want) in pairs.items():
        key = ScopeKey("deribit", "main", underlying)
        desired.scopes[key] = DesiredScope(key, want, HERE)
        if have is not None:
            scopes.append(LiveScope(key, have))
    return make_plan(desired, [LiveAccount("deribit", "main", tuple(scopes))], capabilities())


BASE = {
    "btc_usd": (cfg(10), cfg(10)),
    "eth_usd": (cfg(10), cfg(10)),
    "sol_usdc": (cfg(10), cfg(10)),
    "ada_usdc": (cfg(10), cfg(10)),
}


def trips(**changes: tuple[MmpConfig | None, MmpConfig | None]) -> list[str]:
    return guards.check(plan_of({**BASE, **changes}), RULES)


def test_creates_and_tightenings_never_trip() -> None:
    assert trips(xrp_usdc=(None, cfg(50)), btc_usd=(cfg(10), cfg(5, window=5000))) == []


def test_loosening_trips_with_the_numbers() -> None:
    assert trips(btc_usd=(cfg(10), cfg(20))) == [
        "deribit/main/btc_usd: quantity_limit raised 10 -> 20 (x2, more than x1.5)"
    ]
    assert trips(btc_usd=(cfg(10), cfg(15))) == []  # exactly x1.5 is allowed
    assert trips(btc_usd=(cfg(10, window=2000), cfg(10, window=1000))) == [
        "deribit/main/btc_usd: window shortened 2s -> 1s"
    ]
    assert trips(btc_usd=(cfg(10, frozen=60_000), cfg(10, frozen=30_000))) == [
        "deribit/main/btc_usd: freeze shortened 1m -> 30s"
    ]


def test_ceilings_floors_removal_and_coverage() -> None:
    assert trips(xrp_usdc=(None, cfg(500))) == [
        "deribit/main/xrp_usdc: quantity_limit 500 is above the ceiling 100"
    ]
    assert trips(xrp_usdc=(None, cfg(5, frozen=1000))) == [
        "deribit/main/xrp_usdc: frozen 1s is below the floor 5s"
    ]
    assert trips(sol_usdc=(cfg(10), None)) == ["deribit/main/sol_usdc: removal of its MMP config"]
    assert trips(eth_usd=(cfg(10), None)) == [
        "deribit/main/eth_usd: removal of its MMP config",
        "deribit/main: eth_usd is not protected (coverage requires btc_usd, eth_usd on every "
        "deribit account)",
    ]


def test_share_of_scopes_loosened() -> None:
    loose = {u: (cfg(10, window=2000), cfg(10)) for u in ("btc_usd", "eth_usd")}
    found = guards.check(plan_of({**BASE, **loose}), RULES)
    assert found[-1] == "2 of 4 managed scopes loosened or removed (50%, more than 25%)"


def test_guardrails_file_errors_have_positions(in_tmp: Path) -> None:
    (in_tmp / "policies").mkdir()
    (in_tmp / "policies" / "guardrails.yaml").write_text("loosening:\n  limit_ratoi: 2\n")
    with pytest.raises(
        ConfigError, match=re.escape("guardrails.yaml:2:3: unknown key `limit_ratoi`")
    ):
        guards.load(in_tmp / "policies")


def test_apply_refuses_then_force_is_journaled(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = Path(__file__).resolve().parent.parent
    (in_tmp / "policies").mkdir()
    desk = (root / "policies" / "desk-alpha.yaml").read_text()
    (in_tmp / "policies" / "desk-alpha.yaml").write_text(
        desk.replace("quantity_limit: 50\n", "quantity_limit: 500\n")
    )
    (in_tmp / "policies" / "guardrails.yaml").write_text(
        (root / "policies" / "guardrails.yaml").read_text()
    )
    monkeypatch.setenv("GITHUB_ACTOR", "risk-lead")
    main(["plan", "--sandbox"])
    shown = capsys.readouterr().out  # in the plan itself: reviewers see what apply refuses
    assert "Guardrails: apply will refuse without --force:\n  deribit/deribit-main/btc_usd" in shown
    assert main(["apply", "--sandbox", "--auto-approve"]) == 1
    err = capsys.readouterr().err
    assert "1 guardrail(s) tripped; nothing was applied" in err  # 500 is under the ceiling
    assert (
        "deribit/deribit-main/btc_usd: quantity_limit raised 60 -> 500 (x8.33, more than x1.5)"
    ) in err
    assert main(["plan", "--sandbox", "--detailed-exitcode"]) == 2  # nothing was applied
    capsys.readouterr()
    assert main(["apply", "--sandbox", "--auto-approve", "--force"]) == 0
    events = [json.loads(x) for x in (in_tmp / ".mmp" / "journal.jsonl").read_text().splitlines()]
    forced = [e for e in events if e["event"] == "force"]
    assert forced and forced[0]["by"] == "github:risk-lead" and forced[0]["trips"]

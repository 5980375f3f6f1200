"""Bullish: signing vectors, a strict simulator, and every end of a replacement."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.desired import AccountTarget, DesiredScope, DesiredState, Location
from reconciler.errors import ConfigError
from reconciler.executor import ApplyResult, Outcome, apply_plan
from reconciler.journal import Journal
from reconciler.model import MmpConfig, ScopeKey
from reconciler.plan import Action
from reconciler.planner import make_plan
from reconciler.sim.common import Clock
from reconciler.units import dumps_exact, loads_exact
from reconciler.venues import capabilities
from reconciler.venues.bullish import wire
from reconciler.venues.bullish.simulator import BullishSimulator
from tests.helpers import load, write_policy
from tests.venues import ROWS, connect_to

BODY = (
    '{"commandType":"V1SetMMP","tradingAccountId":"123567443543","underlyingAssetSymbol":'
    '"BTC","windowTimeInSeconds":"10","frozenTimeInSeconds":"5","quantityLimit":"10",'
    '"deltaLimit":"1"}'
)


def test_signing_vectors() -> None:
    assert wire.command_signature(
        "test-secret", "1700000000000", "1700000000000000", "POST", wire.MMP_PATH, BODY
    ) == ("1a6ee69e1af06e0f9f08e384010f2cacf49ceccd82d5a366e282b9e5fb943275")
    assert wire.login_signature("test-secret", "1700000000000", "1700000000") == (
        "00bdb73b631587c2d09baa25d3aee4e7e73155624af4714dd103bfb68d6e7e6f"
    )
    key = ScopeKey("bullish", "mm", "BTC")
    config = MmpConfig(10_000, 5000, quantity_limit=Decimal(10), delta_limit=Decimal(1))
    assert dumps_exact(wire.set_command("123567443543", key, config)) == BODY


@pytest.fixture
def sim() -> BullishSimulator:
    sim = BullishSimulator(apply_delay_ms=0)
    sim.add_account("pub", "secret", "111000000000001")
    return sim


def http(sim: BullishSimulator, request: httpx.Request) -> tuple[int, Any]:
    response = sim(request)
    return response.status_code, loads_exact(response.content)


def token(sim: BullishSimulator, secret: str = "secret") -> tuple[int, Any]:
    ts = str(sim.clock.now_ms())
    nonce = str(int(ts) // 1000)
    headers = {
        "BX-PUBLIC-KEY": "pub",
        "BX-TIMESTAMP": ts,
        "BX-NONCE": nonce,
        "BX-SIGNATURE": wire.login_signature(secret, ts, nonce),
    }
    return http(sim, httpx.Request("GET", f"https://bx{wire.LOGIN_PATH}", headers=headers))


def command(
    sim: BullishSimulator,
    body: str,
    nonce: int,
    *,
    jwt: str | None = None,
    sign_body: str | None = None,
) -> tuple[int, Any]:
    jwt = jwt or token(sim)[1]["token"]
    ts = str(sim.clock.now_ms())
    sig = wire.command_signature(
        "secret",
        ts,
        str(nonce),
        "POST",
        wire.MMP_PATH,
        sign_body if sign_body is not None else body,
    )
    headers = {
        "Authorization": f"Bearer {jwt}",
        "BX-TIMESTAMP": ts,
        "BX-NONCE": str(nonce),
        "BX-SIGNATURE": sig,
        "Content-Type": "application/json",
    }
    return http(
        sim,
        httpx.Request("POST", f"https://bx{wire.MMP_PATH}", content=body.encode(), headers=headers),
    )


def nonce_now(sim: BullishSimulator, plus: int = 0) -> int:
    return sim.clock.now_ms() * 1000 + plus


SET = BODY.replace("123567443543", "111000000000001")


def test_login_and_jwt_checked(sim: BullishSimulator) -> None:
    status, body = token(sim)
    assert status == 200 and body["authorizer"] == "pub" and body["token"].count(".") == 2
    assert token(sim, secret="wrong") == (
        401,
        {
            "message": "Invalid login",
            "raw": None,
            "errorCode": 8327,
            "errorCodeName": "INVALID_LOGIN",
        },
    )
    forged = body["token"][:-2] + "xx"
    assert command(sim, SET, nonce_now(sim), jwt=forged)[0] == 401


def test_command_acknowledged_then_applied(sim: BullishSimulator) -> None:
    status, ack = command(sim, SET, nonce_now(sim))
    assert status == 200 and ack["message"] == "Command acknowledged - SetMMPConfig"
    assert sim.accounts["pub"].configs == {}  # acknowledged, not yet applied
    sim.settle()
    assert sim.accounts["pub"].configs["BTC"] == {
        "underlyingAssetSymbol": "BTC",
        "windowTimeInSeconds": 10,
        "frozenTimeInSeconds": 5,
        "quantityLimit": "10",
        "deltaLimit": "1",
        "isActive": True,
    }


def test_nonce_must_increase_and_sit_in_the_day(sim: BullishSimulator) -> None:
    first = nonce_now(sim)
    assert command(sim, SET, first)[0] == 200
    assert command(sim, SET, first)[1]["errorCode"] == 2035
    assert command(sim, SET, first - 1)[1]["errorCode"] == 2035
    assert command(sim, SET, nonce_now(sim, 86_400_000_000))[1]["errorCode"] == 2035


def test_signature_covers_the_raw_body(sim: BullishSimulator) -> None:
    spaced = SET.replace(",", ", ")
    assert command(sim, spaced, nonce_now(sim), sign_body=SET)[0] == 401


def test_set_while_configured_is_rejected_later_not_by_http(sim: BullishSimulator) -> None:
    command(sim, SET, nonce_now(sim))
    sim.settle()
    status, ack = command(
        sim, SET.replace('"10","deltaLimit"', '"9","deltaLimit"'), nonce_now(sim, 1)
    )
    assert status == 200  # acknowledged...
    sim.settle()
    assert sim.outcomes[ack["requestId"]]["status"] == "REJECTED"  # ...and rejected later
    assert sim.accounts["pub"].configs["BTC"]["quantityLimit"] == "10"


@pytest.mark.parametrize(
    "change",
    [
        ('"windowTimeInSeconds":"10"', '"windowTimeInSeconds":"601"'),
        ('"windowTimeInSeconds":"10"', '"windowTimeInSeconds":10'),
        ('"frozenTimeInSeconds":"5"', '"frozenTimeInSeconds":"3601"'),
        ('"quantityLimit":"10"', '"quantityLimit":"-1"'),
        ('"deltaLimit":"1"', '"deltaLimit":"1","extra":"x"'),
    ],
)
def test_bounds_refused_synchronously(sim: BullishSimulator, change: tuple[str, str]) -> None:
    status, body = command(sim, SET.replace(*change), nonce_now(sim))
    assert status == 400 and body["message"].startswith("HTTP_INVALID_PARAMETER")


def test_rate_limit_body() -> None:
    # the clock stands still: 51 requests in one second however slow this machine is
    sim = BullishSimulator(clock=Clock(fixed_ms=time.time_ns() // 1_000_000), apply_delay_ms=0)
    sim.add_account("pub", "secret", "111000000000001")
    jwt = token(sim)[1]["token"]
    request = httpx.Request(
        "GET",
        f"https://bx{wire.MMP_PATH}?tradingAccountId=111000000000001",
        headers={"Authorization": f"Bearer {jwt}"},
    )
    answers = [http(sim, request) for _ in range(51)]
    assert answers[-1] == (
        429,
        {
            "message": "Rate limit exceeded",
            "raw": None,
            "errorCode": 96000,
            "errorCodeName": "RATE_LIMIT_EXCEEDED",
        },
    )


def test_manual_freeze_refused_at_validate_time(in_tmp: Path) -> None:
    write_policy(
        in_tmp,
        """
        accounts:
          mm:
            venue: bullish
            environment: production
            credentials: BULLISH_MM
            mmp:
              BTC: {window: 700s, frozen: manual, quantity_limit: 1}
        """,
    )
    with pytest.raises(ConfigError) as info:
        load(in_tmp)
    assert [str(p) for p in info.value.problems] == [
        "policies/desk.yaml:7:21: window 700s is above bullish's maximum of 10m",
        "policies/desk.yaml:7:35: bullish has no manual-reset freeze",
    ]


# ---- replacement end states -----------------------------------------------------------------

OLD = MmpConfig(10_000, 5000, quantity_limit=Decimal(10), delta_limit=Decimal(1))
NEW = MmpConfig(10_000, 5000, quantity_limit=Decimal(8), delta_limit=Decimal(1))
KEY = ScopeKey("bullish", "acct", "BTC")


@pytest.fixture(autouse=True)
def short_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Waiting for a command that never shows need not take the real 10 s here."""
    import reconciler.writes as writes

    monkeypatch.setattr(writes, "POLL_DEADLINE_MS", 300)


def replace_once(sim: BullishSimulator, journal: Journal) -> ApplyResult:
    row = ROWS["bullish"]
    creds = row.credentials(sim, "acct")
    row.seed(sim, creds, KEY, OLD)
    desired = DesiredState(
        accounts={
            "acct": AccountTarget("acct", "bullish", "testnet", None, "ACCT", Location("p", 1, 1))
        },
        scopes={KEY: DesiredScope(KEY, NEW, Location("p", 1, 1))},
    )
    conns = connect_to(sim, desired, {"acct": creds})

    async def go() -> ApplyResult:
        plan = make_plan(desired, await conns.read(), capabilities())
        assert [s.action for s in plan.steps] == [Action.REPLACE]
        return await apply_plan(plan, conns, journal)

    return asyncio.run(go())


def test_replacement_applied_with_gap_journaled(tmp_path: Path) -> None:
    sim = BullishSimulator(apply_delay_ms=30)
    journal = Journal(tmp_path / "j.jsonl")
    result = replace_once(sim, journal)
    assert result.exit_code == 0
    assert result.results[0].gap_ms is not None and result.results[0].gap_ms >= 30
    events = [json.loads(line) for line in (tmp_path / "j.jsonl").read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds == [
        "apply-start",
        "step-begin",
        "reset-sent",  # the intent, on disk before the request leaves
        "write-answered",
        "replace-cleared",
        "set-sent",
        "write-answered",
        "replace-set",
        "step-end",
        "apply-end",
    ]
    assert events[5]["config"]["quantity_limit"] == "8" and events[5]["purpose"] == "apply"
    assert events[7]["unprotected_ms"] == result.results[0].gap_ms
    assert sim.accounts["key-acct"].configs["BTC"]["quantityLimit"] == "8"


def test_the_set_is_read_once_the_venue_has_had_the_resets_time() -> None:
    """The venue applies each command 200 ms after acknowledging it. The reset is read every
    50 ms (each moment there is without MMP); the set's first read waits as long as the
    reset took to show, so one read confirms it instead of a backing-off series."""
    sim = BullishSimulator(apply_delay_ms=200)
    result = replace_once(sim, Journal(None))
    assert result.exit_code == 0
    after_reset = sim.requests[sim.requests.index("POST /trading-api/v2/mmp-configuration") + 1 :]
    after_set = after_reset[after_reset.index("POST /trading-api/v2/mmp-configuration") + 1 :]
    reads = [r for r in after_reset if r == "GET /trading-api/v2/mmp-configuration"]
    assert len(reads) - len(after_set) >= 3  # the reset: read eagerly
    assert after_set == ["GET /trading-api/v2/mmp-configuration"]  # the set: read once


def test_the_days_nonce_bounds_are_read_once_for_every_account() -> None:
    """GET /v1/nonce answers the venue's day, the same for every account: three accounts
    replacing at once read it once, not once each."""
    sim = BullishSimulator(apply_delay_ms=0)
    row = ROWS["bullish"]
    where = Location("p", 1, 1)
    accounts, scopes, creds = {}, {}, {}
    for name in ("a1", "a2", "a3"):
        key = ScopeKey("bullish", name, "BTC")
        creds[name] = row.credentials(sim, name)
        row.seed(sim, creds[name], key, OLD)
        accounts[name] = AccountTarget(name, "bullish", "testnet", None, name.upper(), where)
        scopes[key] = DesiredScope(key, NEW, where)
    desired = DesiredState(accounts=accounts, scopes=scopes)
    conns = connect_to(sim, desired, creds)

    async def go() -> ApplyResult:
        plan = make_plan(desired, await conns.read(), capabilities())
        return await apply_plan(plan, conns, Journal(None))

    assert asyncio.run(go()).exit_code == 0
    assert sim.requests.count("POST /trading-api/v2/mmp-configuration") == 3 * 2
    assert sim.requests.count("GET /trading-api/v1/nonce") == 1


def test_asynchronous_rejection_then_restore_is_exit_3() -> None:
    sim = BullishSimulator(apply_delay_ms=0)
    sim.reject_next_sets = 2  # the set and its retry are rejected after the 200 ack
    result = replace_once(sim, Journal(None))
    assert result.exit_code == 3
    assert result.results[0].outcome is Outcome.RESTORED
    assert "acknowledged but was not in force" in result.results[0].detail
    assert sim.accounts["key-acct"].configs["BTC"]["quantityLimit"] == "10"


def test_set_dropped_once_is_retried_and_applied() -> None:
    sim = BullishSimulator(apply_delay_ms=0)
    sim.drop_next_sets = 1
    result = replace_once(sim, Journal(None))
    assert result.exit_code == 0


def test_restore_failing_too_is_exit_4_naming_the_scope() -> None:
    sim = BullishSimulator(apply_delay_ms=0)
    sim.drop_next_sets = 3  # the set, its retry and the restore all vanish
    result = replace_once(sim, Journal(None))
    assert result.exit_code == 4
    assert result.unsafe()[0].step.key == KEY
    assert "restoring the old config failed too" in result.unsafe()[0].detail
    assert "BTC" not in sim.accounts["key-acct"].configs  # truly without MMP


def test_the_simulator_blocks_an_ip_over_500_requests_in_10_seconds() -> None:
    clock = Clock(fixed_ms=1_800_000_000_000)
    sim = BullishSimulator(clock=clock)
    nonce = httpx.Request("GET", f"https://api.exchange.bullish.com{wire.NONCE_PATH}")
    assert all(sim(nonce).status_code == 200 for _ in range(500))
    refused = sim(nonce)
    assert refused.status_code == 429 and refused.json()["errorCode"] == 96000
    clock.advance(10_000)  # the window has passed, but the block lasts 60 s
    assert sim(nonce).status_code == 429
    clock.advance(50_000)
    assert sim(nonce).status_code == 200

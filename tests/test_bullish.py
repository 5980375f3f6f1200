"""Bullish: signing vectors, a strict simulator, and every end of a replacement."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.apply.executor import ApplyResult, Outcome, apply_plan
from reconciler.apply.journal import Journal
from reconciler.core.errors import (
    ConfigError,
    VenueAuthError,
    VenueRateLimited,
    VenueRejected,
    VenueUnavailable,
)
from reconciler.core.model import NOT_FROZEN, LiveAccount, MmpConfig, ScopeKey
from reconciler.core.units import MANUAL, dumps_exact, loads_exact
from reconciler.planning.heal import Why, select
from reconciler.planning.plan import Action
from reconciler.planning.planner import make_plan
from reconciler.policy import guards
from reconciler.policy.desired import AccountTarget, DesiredScope, DesiredState, Location
from reconciler.simulators.common import Clock, CreditBucket
from reconciler.venues import VENUES, capabilities
from reconciler.venues.base import VenueClient
from reconciler.venues.bullish import wire
from reconciler.venues.bullish.capabilities import ASSETS, CONNECTION
from reconciler.venues.bullish.nonces import NonceDay
from reconciler.venues.bullish.simulator import TOKEN_REFUSALS, BullishSimulator
from reconciler.venues.limiter import Limiter
from tests.checked import checked
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
    window: str | None = None,
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
    if window is not None:
        headers["BX-NONCE-WINDOW-ENABLED"] = window
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


def test_the_nonce_window_takes_unused_nonces_less_than_100_below_the_highest(
    sim: BullishSimulator,
) -> None:
    """The docs: BX-NONCE-WINDOW-ENABLED true allows out-of-order nonces "up to a window
    size of 100 from the highest previously used nonce value (inclusive)"."""
    top = nonce_now(sim, 1000)
    assert command(sim, SET, top)[0] == 200
    for late in (top - 50, top - 99, top - 1):
        assert command(sim, SET, late, window="true")[0] == 200, late
    assert command(sim, SET, top - 50, window="true")[1]["errorCode"] == 2035  # used
    assert command(sim, SET, top, window="true")[1]["errorCode"] == 2035  # used, the highest
    assert command(sim, SET, top - 100, window="true")[1]["errorCode"] == 2035  # too far
    assert command(sim, SET, top - 2, window="false")[1]["errorCode"] == 2035  # strict
    assert command(sim, SET, top - 2)[1]["errorCode"] == 2035
    assert command(sim, SET, top + 1, window="true")[0] == 200


def test_with_the_window_a_hundred_nonces_pass_in_any_order(sim: BullishSimulator) -> None:
    base = nonce_now(sim)
    order = [base + (i * 37) % 100 for i in range(100)]  # 1...100 in another order
    assert sorted(order) == list(range(base, base + 100))
    sim.accounts["pub"].bucket = CreditBucket(200, 200)  # not the rate limit's test
    jwt = token(sim)[1]["token"]
    assert [command(sim, SET, n, jwt=jwt, window="true")[0] for n in order] == [200] * 100
    assert command(sim, SET, order[-1], jwt=jwt, window="true")[1]["errorCode"] == 2035


def test_the_window_survives_a_state_round_trip(sim: BullishSimulator) -> None:
    top = nonce_now(sim, 1000)
    assert command(sim, SET, top)[0] == 200
    assert command(sim, SET, top - 10, window="true")[0] == 200
    copy = BullishSimulator(apply_delay_ms=0)
    copy.load_state(loads_exact(dumps_exact(sim.dump_state())))
    assert command(copy, SET, top - 10, window="true")[1]["errorCode"] == 2035
    assert command(copy, SET, top - 11, window="true")[0] == 200


@pytest.mark.parametrize(
    ("reading", "code", "name"),
    [
        ("invalid_login", 8327, "INVALID_LOGIN"),
        ("unauthorized_command", 6105, "UNAUTHORIZED_COMMAND"),
    ],
)
def test_a_token_the_venue_does_not_take_is_refused_as_the_switch_says(
    reading: str, code: int, name: str
) -> None:
    sim = BullishSimulator(apply_delay_ms=0, token_refusal=reading)
    sim.add_account("pub", "secret", "111000000000001")
    jwt = token(sim)[1]["token"]
    sim.expire_tokens()
    status, body = command(sim, SET, nonce_now(sim), jwt=jwt)
    assert (status, body["errorCode"], body["errorCodeName"]) == (401, code, name)
    assert BullishSimulator().token_refusal == "invalid_login"  # the default: the registry's
    with pytest.raises(ValueError, match="token_refusal"):
        BullishSimulator(token_refusal="JWT expired")


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
    import reconciler.apply.writes as writes

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
        live = await conns.read()  # REST cannot tell whether BTC is frozen: a person checked
        plan = make_plan(desired, live, capabilities(), included=checked(live))
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
        live = await conns.read()
        plan = make_plan(desired, live, capabilities(), included=checked(live))
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


# ---- the venue layer: log-in, session refusals, nonces, durations ---------------------------


class Refusing:
    """The simulator, with the next `left` requests to `path` refused as told."""

    def __init__(
        self,
        sim: BullishSimulator,
        status: int,
        body: dict[str, Any],
        left: int,
        path: str = wire.MMP_PATH,
    ) -> None:
        self.sim, self.status, self.body, self.left, self.path = sim, status, body, left, path

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.left and request.url.path == self.path:
            self.left -= 1
            self.sim.requests.append(f"{request.method} {request.url.path}")
            return httpx.Response(self.status, content=dumps_exact(self.body).encode())
        return self.sim(request)


def refusal(code: int, name: str, message: str) -> dict[str, Any]:
    return {"message": message, "raw": None, "errorCode": code, "errorCodeName": name}


def client_of(
    handler: Callable[[httpx.Request], httpx.Response], sim: BullishSimulator, name: str = "acct"
) -> VenueClient:
    creds = ROWS["bullish"].credentials(sim, name)
    http = httpx.AsyncClient(base_url="https://bx.test", transport=httpx.MockTransport(handler))
    spec = VENUES["bullish"]
    limits = Limiter(CONNECTION.requests_per_second, CONNECTION.burst)
    return spec.client(name, creds, http, limits, spec.endpoint_state())


def run(client: VenueClient, call: Callable[[VenueClient], Awaitable[object]]) -> object:
    async def go() -> object:
        try:
            return await call(client)
        finally:
            await client.aclose()

    return asyncio.run(go())


LOGIN = f"GET {wire.LOGIN_PATH}"
READ = f"GET {wire.MMP_PATH}"
COMMAND = f"POST {wire.MMP_PATH}"
NONCE = f"GET {wire.NONCE_PATH}"
INVALID_LOGIN = refusal(8327, "INVALID_LOGIN", "Invalid login")  # the registry's code
UNAUTHORIZED = refusal(6105, "UNAUTHORIZED_COMMAND", "Unauthorized to execute command")
KEYS_ARE_RIGHT = "the log-in with PUBLIC_KEY and SECRET worked, so the keys are right"


def read_or_set(write: bool) -> Callable[[VenueClient], Awaitable[object]]:
    return (lambda c: c.set_config(KEY, OLD)) if write else (lambda c: c.read())


@pytest.mark.parametrize(
    ("status", "body", "write"),
    [
        (401, INVALID_LOGIN, True),  # the venue's documented refusal
        (401, UNAUTHORIZED, True),
        (401, refusal(2001, "BAD_INCOMING_REQUEST", "Bad request"), False),  # any 401
        (401, {"message": "Unauthorized"}, False),  # a 401 without a code
        (401, {}, True),
        (400, INVALID_LOGIN, False),  # INVALID_LOGIN at another 4xx
        (403, UNAUTHORIZED, True),  # UNAUTHORIZED_COMMAND at another 4xx, to a command
    ],
)
def test_a_refused_session_is_told_by_status_and_code_then_logged_in_again(
    status: int, body: dict[str, Any], write: bool
) -> None:
    sim = BullishSimulator(apply_delay_ms=0)
    client = client_of(Refusing(sim, status, body, left=1), sim)
    run(client, read_or_set(write))
    sent = [NONCE, LOGIN, COMMAND, LOGIN, COMMAND] if write else [LOGIN, READ, LOGIN, READ]
    assert sim.requests == sent
    if write:
        sim.settle()
        assert sim.accounts["key-acct"].configs["BTC"]["quantityLimit"] == "10"


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (403, UNAUTHORIZED, VenueAuthError),  # UNAUTHORIZED_COMMAND names commands, not reads
        (403, {"message": "JWT expired"}, VenueAuthError),  # the words say JWT: no matter
        (400, refusal(2001, "BAD_INCOMING_REQUEST", "Invalid JWT"), VenueRejected),
        (429, INVALID_LOGIN, VenueRateLimited),  # a rate limit is never a session
        (500, INVALID_LOGIN, VenueUnavailable),
    ],
)
def test_what_is_not_a_refused_session_is_not_sent_again(
    status: int, body: dict[str, Any], error: type[Exception], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("reconciler.venues.http.RATE_LIMIT_RETRIES", 0)
    monkeypatch.setattr("reconciler.venues.http.READ_ATTEMPTS", 1)
    sim = BullishSimulator(apply_delay_ms=0)
    client = client_of(Refusing(sim, status, body, left=1), sim)
    with pytest.raises(error):
        run(client, lambda c: c.read())
    assert sim.requests == [LOGIN, READ]


def test_a_401_to_a_request_without_a_token_is_not_a_session() -> None:
    """The nonce read carries no JWT: its 401 is no reason to log in, nor about the keys."""
    sim = BullishSimulator(apply_delay_ms=0)
    client = client_of(Refusing(sim, 401, {}, left=1, path=wire.NONCE_PATH), sim)
    with pytest.raises(VenueAuthError) as info:
        run(client, lambda c: c.reset(KEY))
    assert sim.requests == [NONCE]
    assert "not about your keys" in str(info.value) and "SECRET" not in str(info.value)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (INVALID_LOGIN, "Bullish refused a session it had just issued"),
        (UNAUTHORIZED, "may send commands for trading account TRADING_ACCOUNT_ID"),
        ({}, "this request's session or permission"),
    ],
)
def test_a_session_refused_after_a_fresh_log_in_says_the_keys_are_right(
    body: dict[str, Any], says: str
) -> None:
    sim = BullishSimulator(apply_delay_ms=0)
    client = client_of(Refusing(sim, 401, body, left=2), sim)
    with pytest.raises(VenueAuthError) as info:
        run(client, read_or_set(True))
    assert sim.requests == [NONCE, LOGIN, COMMAND, LOGIN, COMMAND]  # one resend only
    assert KEYS_ARE_RIGHT in str(info.value) and says in str(info.value)
    assert "check the PUBLIC_KEY and SECRET" not in str(info.value)
    assert not info.value.keys_refused  # so plan and apply do not say "create a new key"


KEYS_REFUSED = (
    "bullish/acct: venue error 8327: /trading-api/v1/users/hmac/login: INVALID_LOGIN "
    "Invalid login (Bullish refused the log-in itself: check the PUBLIC_KEY and SECRET "
    "environment variables (an HMAC API key of this trading account's user, not revoked))"
)


def test_a_refused_log_in_is_an_auth_error_without_the_secret() -> None:
    sim = BullishSimulator(apply_delay_ms=0)
    client = client_of(sim, sim)
    sim.accounts["key-acct"].secret = "not-what-the-client-holds"
    with pytest.raises(VenueAuthError) as info:
        run(client, lambda c: c.read())
    assert sim.requests == [LOGIN]  # a refused log-in is not tried again
    assert str(info.value) == KEYS_REFUSED
    assert info.value.keys_refused


@pytest.mark.parametrize("reading", sorted(TOKEN_REFUSALS))
def test_an_expired_session_is_renewed_whichever_way_the_venue_refuses_it(reading: str) -> None:
    sim = BullishSimulator(apply_delay_ms=0, token_refusal=reading)
    client = client_of(sim, sim)

    async def read_expire_set(c: VenueClient) -> None:
        await c.read()
        sim.expire_tokens()  # the venue ends every session before its exp
        await c.set_config(KEY, OLD)

    run(client, read_expire_set)
    assert sim.requests == [LOGIN, READ, NONCE, COMMAND, LOGIN, COMMAND]
    sim.settle()
    assert sim.accounts["key-acct"].configs["BTC"]["quantityLimit"] == "10"


@pytest.mark.parametrize("reading", sorted(TOKEN_REFUSALS))
def test_a_key_revoked_mid_run_is_told_from_the_log_in_that_follows(reading: str) -> None:
    """The session is refused, the new log-in too: the keys are what is wrong."""
    sim = BullishSimulator(apply_delay_ms=0, token_refusal=reading)
    client = client_of(sim, sim)

    async def read_revoke_read(c: VenueClient) -> None:
        await c.read()
        sim.expire_tokens()
        sim.accounts["key-acct"].secret = "revoked"
        await c.read()

    with pytest.raises(VenueAuthError) as info:
        run(client, read_revoke_read)
    assert sim.requests == [LOGIN, READ, READ, LOGIN]
    assert str(info.value) == KEYS_REFUSED


@pytest.mark.parametrize(("lifetime_s", "logins"), [(7200, 1), (3000, 3)])
def test_the_jwt_is_renewed_an_hour_before_its_exp(
    monkeypatch: pytest.MonkeyPatch, lifetime_s: int, logins: int
) -> None:
    """The simulator's JWTs end `lifetime_s` after the log-in: one that ends within the
    hour is renewed before each request, one that ends later serves all three."""
    monkeypatch.setattr("reconciler.venues.bullish.simulator.JWT_TTL_S", lifetime_s)
    sim = BullishSimulator(apply_delay_ms=0)
    client = client_of(sim, sim)

    async def three_reads(c: VenueClient) -> None:
        for _ in range(3):
            await c.read()

    run(client, three_reads)
    assert sim.requests.count(LOGIN) == logins and sim.requests.count(READ) == 3


def test_a_command_carries_the_jwt_and_is_signed_the_nonce_read_carries_neither() -> None:
    sim = BullishSimulator(apply_delay_ms=0)
    seen: list[httpx.Request] = []

    def watching(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return sim(request)

    client = client_of(watching, sim)
    key = ScopeKey("bullish", "acct", "BTC")
    run(client, lambda c: c.reset(key))
    account_id = sim.accounts["key-acct"].trading_account_id
    nonce, _, command = seen
    assert not {"authorization", "bx-signature"} & set(nonce.headers.keys())
    assert command.headers["Authorization"].startswith("Bearer ")
    low, high = sim._day_bounds_us()
    assert low <= int(command.headers["BX-NONCE"]) <= high
    assert command.content == dumps_exact(wire.reset_command(account_id, key)).encode()


def test_nonces_increase_across_commands_sent_at_once() -> None:
    sim = BullishSimulator(apply_delay_ms=0)
    seen: list[int] = []

    def watching(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            seen.append(int(request.headers["BX-NONCE"]))
        return sim(request)

    client = client_of(watching, sim)

    async def resets(c: VenueClient) -> None:
        await asyncio.gather(*(c.reset(ScopeKey("bullish", "acct", a)) for a in ASSETS))

    run(client, resets)
    assert len(seen) == 3 and seen == sorted(set(seen))
    assert sim.requests.count(NONCE) == 1


def test_a_failed_nonce_read_is_tried_again_by_the_next_command() -> None:
    day, reads = NonceDay(), list[str]()

    async def failing() -> tuple[int, int]:
        reads.append("failed")
        raise VenueUnavailable("bullish/acct", "no answer")

    async def today() -> tuple[int, int]:
        reads.append("read")
        now = time.time_ns() // 1000
        return now - 1, now + 3_600_000_000

    async def go() -> tuple[int, int]:
        with pytest.raises(VenueUnavailable):
            await day.bounds(failing)
        first, second = await asyncio.gather(day.bounds(today), day.bounds(today))
        assert first == second
        return await day.bounds(failing)  # known and today's: not read again

    bounds = asyncio.run(go())
    assert reads == ["failed", "read"] and day.known() == bounds


def test_bounds_of_a_day_that_is_over_are_read_again() -> None:
    day, reads = NonceDay(), list[int]()
    yesterday = (1, 2)

    async def read() -> tuple[int, int]:
        reads.append(len(reads))
        if len(reads) == 1:
            return yesterday
        now = time.time_ns() // 1000
        return now - 1, now + 3_600_000_000

    async def go() -> None:
        assert await day.bounds(read) == yesterday
        assert await day.bounds(read) != yesterday

    asyncio.run(go())
    assert reads == [0, 1]


def test_durations_go_out_in_whole_seconds_through_the_bounds() -> None:
    key = ScopeKey("bullish", "mm", "BTC")
    command = wire.set_command("1", key, MmpConfig(600_000, 3_600_000, Decimal(1)))
    assert (command["windowTimeInSeconds"], command["frozenTimeInSeconds"]) == ("600", "3600")
    restored = wire.set_command("1", key, MmpConfig(1000, 0, Decimal(1)))  # the venue's own 0
    assert restored["frozenTimeInSeconds"] == "0"
    with pytest.raises(ValueError, match="no manual-reset freeze"):
        wire.set_command("1", key, MmpConfig(1000, MANUAL, Decimal(1)))
    with pytest.raises(ValueError, match="not a whole number of seconds"):
        wire.set_command("1", key, MmpConfig(1500, 1000, Decimal(1)))


# ---- a live deltaLimit "0": no limit, or a limit of zero? (undocumented) --------------------

BARE = MmpConfig(10_000, 5000, quantity_limit=Decimal(10))  # set without a deltaLimit
WITH_DELTA = MmpConfig(10_000, 5000, quantity_limit=Decimal(10), delta_limit=Decimal(5))


def _desired(config: MmpConfig) -> DesiredState:
    where = Location("p", 1, 1)
    return DesiredState(
        accounts={"acct": AccountTarget("acct", "bullish", "testnet", None, "ACCT", where)},
        scopes={KEY: DesiredScope(KEY, config, where)},
    )


@pytest.mark.parametrize("reading", ["limit", "none"])
def test_a_live_delta_limit_0_has_no_direction_for_heal_under_either_reading(
    reading: str,
) -> None:
    """A config set without a deltaLimit reads "0". The venue's docs do not say whether that
    is no delta limit or a limit of zero (the simulator plays both: `delta_zero`); a delta
    limit added to it tightens under the first and loosens under the second, so heal leaves
    it and says why, while a policy without delta_limit matches it under both."""
    sim = BullishSimulator(apply_delay_ms=0, delta_zero=reading)
    row = ROWS["bullish"]
    creds = row.credentials(sim, "acct")
    row.seed(sim, creds, KEY, BARE)
    stored = sim.accounts["key-acct"].configs["BTC"]
    assert stored["deltaLimit"] == "0"
    # the venue's own truth, as the reading says it: any delta trips a limit of zero
    assert sim.fill("key-acct", "BTC", quantity=Decimal(1), delta=Decimal("0.5")) is (
        reading == "limit"
    )
    sim.accounts["key-acct"].frozen.clear()
    # the client reads it as no delta limit set, whatever the reading (a set without one
    # reads back so); the push channel told no freeze
    scope = wire.live_scope("acct", {**stored, "isActive": True}, {"BTC": NOT_FROZEN})
    assert scope.config == BARE
    live = [LiveAccount("bullish", "acct", (scope,))]
    assert [s.action for s in make_plan(_desired(BARE), live, capabilities()).steps] == [
        Action.UNCHANGED
    ]
    plan = make_plan(_desired(WITH_DELTA), live, capabilities())
    rules = guards.Guardrails.model_validate({"heal": {"enabled": True}})
    healing = select(plan, _desired(WITH_DELTA), rules, caps=capabilities())
    assert healing.healed == ()
    [left] = healing.left
    assert left.why is Why.UNKNOWN
    assert left.detail == (
        'direction unknown: delta_limit (none) -> 5 (Bullish deltaLimit "0" is undocumented: '
        "no limit, or a limit of 0)"
    )
    # a reviewed apply writes it; then the limit is 5 under either reading
    conns = connect_to(sim, _desired(WITH_DELTA), {"acct": creds})

    async def apply() -> ApplyResult:
        read = await conns.read()
        made = make_plan(_desired(WITH_DELTA), read, capabilities(), included=checked(read))
        return await apply_plan(made, conns, Journal(None))

    assert asyncio.run(apply()).exit_code == 0
    assert sim.accounts["key-acct"].configs["BTC"]["deltaLimit"] == "5"
    assert not sim.fill("key-acct", "BTC", quantity=Decimal(1), delta=Decimal("0.5"))
    assert sim.fill("key-acct", "BTC", quantity=Decimal(1), delta=Decimal(6))


def test_an_unknown_delta_zero_reading_is_refused() -> None:
    with pytest.raises(ValueError, match="delta_zero is one of"):
        BullishSimulator(delta_zero="zero")

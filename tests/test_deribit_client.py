"""The Deribit client against the strict simulator: reads, writes, auth, errors."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest

from reconciler.core.errors import (
    VenueAuthError,
    VenueRateLimited,
    VenueRejected,
    VenueUnavailable,
)
from reconciler.core.model import FreezeState, MmpConfig, ScopeKey
from reconciler.simulators.common import Clock
from reconciler.simulators.server import serve
from reconciler.venues.base import Credentials
from reconciler.venues.deribit.client import DeribitClient
from reconciler.venues.deribit.simulator import DeribitSimulator
from tests.helpers import deribit_client

CONFIG = MmpConfig(
    window_ms=1000,
    frozen_ms=30_000,
    quantity_limit=Decimal("0.1"),
    max_quote_quantity=Decimal("2.5"),
)
T = TypeVar("T")
KEY = ScopeKey("deribit", "acct", "btc_usd")
GROUP = ScopeKey("deribit", "acct", "btc_usd", "MassQuoteBot7")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture
def sim() -> DeribitSimulator:
    return DeribitSimulator(clock=Clock(1_700_000_000_000))


def test_set_then_read_every_scope_including_groups(sim: DeribitSimulator) -> None:
    client = deribit_client(sim)
    manual = MmpConfig(
        60_000, "manual", quantity_limit=Decimal(3), max_quote_quantity=Decimal("2.5")
    )

    async def go() -> None:
        await client.set_config(KEY, CONFIG)
        await client.set_config(GROUP, manual)
        live = await client.read()
        assert {s.key: s.config for s in live.scopes} == {KEY: CONFIG, GROUP: manual}

    run(go())
    # exact decimals on the wire: the simulator stored 0.1, not 0.1000000000000000055
    assert sim.accounts["id-acct"].configs[("btc_usd", None)]["quantity_limit"] == Decimal("0.1")


@pytest.mark.parametrize("shape", ["object", "array"])
def test_set_result_object_or_array(sim: DeribitSimulator, shape: str) -> None:
    sim.set_result = shape
    run(deribit_client(sim).set_config(KEY, CONFIG))
    assert ("btc_usd", None) in sim.accounts["id-acct"].configs


def test_freeze_state_read(sim: DeribitSimulator) -> None:
    client = deribit_client(sim)
    run(client.set_config(KEY, CONFIG))
    until = sim.trigger("id-acct", "btc_usd")
    live = run(client.read())
    assert live.scopes[0].freeze == FreezeState(True, until)


def test_remove_by_interval_zero(sim: DeribitSimulator) -> None:
    client = deribit_client(sim)

    async def go() -> None:
        await client.set_config(KEY, CONFIG)
        await client.remove_config(KEY, CONFIG)
        assert (await client.read()).scopes == ()

    run(go())


def test_reauth_when_token_expires(sim: DeribitSimulator) -> None:
    client = deribit_client(sim)

    async def go() -> None:
        await client.read()
        sim.expire_tokens()  # the venue revokes it before our own expiry estimate
        await client.read()

    run(go())
    assert sim.requests.count("public/auth") == 2


def test_wrong_secret_is_an_auth_error(sim: DeribitSimulator) -> None:
    sim.add_account("id-acct", "the-real-secret")
    http = httpx.AsyncClient(base_url="https://x", transport=httpx.MockTransport(sim))
    client = DeribitClient(
        "acct", Credentials({"CLIENT_ID": "id-acct", "CLIENT_SECRET": "wrong"}), http
    )
    with pytest.raises(VenueAuthError) as info:
        run(client.read())
    assert str(info.value) == (
        "deribit/acct: venue error 13004: public/auth: invalid_credentials (check the CLIENT_ID "
        "and CLIENT_SECRET environment variables of this account)"
    )


def test_rejection_carries_code_message_and_scope(sim: DeribitSimulator) -> None:
    client = deribit_client(sim)
    bad = MmpConfig(1000, 30_000, quantity_limit=Decimal("0.00001"), max_quote_quantity=Decimal(1))
    with pytest.raises(VenueRejected) as info:
        run(client.set_config(KEY, bad))
    assert str(info.value) == (
        "deribit/acct/btc_usd: venue error -32602: private/set_mmp_config: Invalid params "
        "(at most 4 decimal places are supported: quantity_limit)"
    )


NOT_ENABLED = {  # the simulator's mmp_disabled_code -> what we say, after the venue's words
    11050: "venue error 11050: private/set_mmp_config: bad_request (MMP disabled) (a "
    "bad_request that says MMP disabled means MMP is not enabled for this account: ",
    13040: "venue error 13040: private/set_mmp_config: mmp_required (MMP is not enabled for "
    "this account: ",
}


@pytest.mark.parametrize("code", sorted(NOT_ENABLED))
def test_mmp_not_enabled_says_whom_to_ask_whichever_code_the_venue_uses(code: int) -> None:
    sim = DeribitSimulator(clock=Clock(1_700_000_000_000), mmp_disabled_code=code)
    client = deribit_client(sim)
    sim.accounts["id-acct"].mmp_enabled = False
    with pytest.raises(VenueRejected) as info:
        run(client.set_config(KEY, CONFIG))
    assert str(info.value) == (
        f"deribit/acct/btc_usd: {NOT_ENABLED[code]}"
        "ask Deribit support to enable MMP for the account; a retry will not help)"
    )
    assert sim.requests == ["public/auth", "private/set_mmp_config"]  # sent once, not again
    with pytest.raises(VenueRejected, match=f"{code}.*ask Deribit support to enable MMP"):
        run(deribit_client(sim).read())
    assert sim.requests.count("private/get_mmp_config") == 2  # once a space, not again


def test_an_error_whose_data_is_words_shows_them(sim: DeribitSimulator) -> None:
    """Where Deribit puts "MMP disabled" is not documented: data as plain words shows too."""

    def answering(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("public/auth"):
            return sim(request)
        error = {"code": 11050, "message": "bad_request", "data": "MMP disabled"}
        return httpx.Response(400, json={"jsonrpc": "2.0", "id": 1, "error": error})

    sim.add_account("id-acct", "pw")
    http = httpx.AsyncClient(base_url="https://x", transport=httpx.MockTransport(answering))
    creds = Credentials({"CLIENT_ID": "id-acct", "CLIENT_SECRET": "pw"})
    with pytest.raises(VenueRejected, match=r"bad_request \(MMP disabled\) \(a bad_request"):
        run(DeribitClient("acct", creds, http).set_config(KEY, CONFIG))


def test_rate_limit_is_its_own_error(sim: DeribitSimulator) -> None:
    sim.request_cost = 50_000
    client = deribit_client(sim)
    with pytest.raises(VenueRateLimited, match="10028"):
        run(client.read())


def test_unreachable_venue(sim: DeribitSimulator) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    http = httpx.AsyncClient(base_url="https://x", transport=httpx.MockTransport(refuse))
    client = DeribitClient("acct", Credentials({"CLIENT_ID": "a", "CLIENT_SECRET": "b"}), http)
    with pytest.raises(
        VenueUnavailable,
        match=r"public/auth to x failed \(ConnectError: connection refused\); nothing was written",
    ):
        run(client.read())


def test_malformed_json_answer(sim: DeribitSimulator) -> None:
    http = httpx.AsyncClient(
        base_url="https://x",
        transport=httpx.MockTransport(
            lambda request: httpx.Response(502, content=b"<html>bad gateway</html>")
        ),
    )
    client = DeribitClient("acct", Credentials({"CLIENT_ID": "a", "CLIENT_SECRET": "b"}), http)
    with pytest.raises(
        VenueUnavailable, match=r"unparsable answer to POST /api/v2/public/auth \(HTTP 502"
    ):
        run(client.read())


def test_against_a_real_http_server_on_loopback(sim: DeribitSimulator) -> None:
    sim.add_account("id-acct", "pw")
    with serve(sim) as base_url:
        http = httpx.AsyncClient(base_url=base_url)
        client = DeribitClient(
            "acct", Credentials({"CLIENT_ID": "id-acct", "CLIENT_SECRET": "pw"}), http
        )

        async def go() -> None:
            await client.set_config(KEY, CONFIG)
            assert (await client.read()).scopes[0].config == CONFIG
            await client.aclose()

        run(go())


def test_server_refuses_non_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"), serve(DeribitSimulator(), host="0.0.0.0"):
        pass

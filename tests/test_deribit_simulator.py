"""The Deribit simulator is as strict as the venue: envelope, auth, bounds, rate limit."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import httpx
import pytest

from reconciler.core.units import dumps_exact, loads_exact
from reconciler.simulators.common import Clock
from reconciler.venues.deribit.simulator import DeribitSimulator, deribit_signature

GOOD = {
    "index_name": "btc_usd",
    "interval": 1,
    "frozen_time": 30,
    "quantity_limit": Decimal("5"),
    "max_quote_quantity": Decimal("2.5"),
}


@pytest.fixture
def sim() -> DeribitSimulator:
    sim = DeribitSimulator(clock=Clock(1_700_000_000_000))
    sim.add_account("cid", "secret")
    return sim


def call(
    sim: DeribitSimulator,
    method: str,
    params: dict[str, Any] | None = None,
    token: str | None = "auto",
    body: Any = None,
) -> tuple[int, dict[str, Any]]:
    headers = {}
    if token == "auto" and method.startswith("private/"):
        _, auth = call(
            sim,
            "public/auth",
            {"grant_type": "client_credentials", "client_id": "cid", "client_secret": "secret"},
        )
        token = auth["result"]["access_token"]
    if token and token != "auto":
        headers["Authorization"] = f"Bearer {token}"
    payload = (
        body
        if body is not None
        else {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}
    )
    raw = payload if isinstance(payload, bytes) else dumps_exact(payload).encode()
    response = sim(
        httpx.Request(
            "POST", f"https://test.deribit.com/api/v2/{method}", content=raw, headers=headers
        )
    )
    return response.status_code, loads_exact(response.content)


def error_of(answer: tuple[int, dict[str, Any]]) -> tuple[int, int, str]:
    status, body = answer
    return status, body["error"]["code"], body["error"].get("data", {}).get("param", "")


def test_envelope_carries_timing_fields(sim: DeribitSimulator) -> None:
    status, body = call(sim, "private/get_mmp_config")
    assert status == 200 and body["result"] == []
    assert {"jsonrpc", "id", "result", "testnet", "usIn", "usOut", "usDiff"} <= body.keys()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", -32700),
        ([{"jsonrpc": "2.0", "id": 1, "method": "private/get_mmp_config"}], -32600),
        ({"jsonrpc": "1.0", "id": 1, "method": "private/get_mmp_config"}, -32600),
        ({"jsonrpc": "2.0", "method": "private/get_mmp_config"}, -32600),
        ({"jsonrpc": "2.0", "id": 1, "method": "private/get_mmp_config", "params": [1]}, -32602),
        (b"{" + b" " * 40_000 + b"}", -32600),
    ],
)
def test_malformed_requests_rejected(sim: DeribitSimulator, body: Any, code: int) -> None:
    assert error_of(call(sim, "private/get_mmp_config", body=body))[1] == code


def test_auth_is_required_and_checked(sim: DeribitSimulator) -> None:
    assert error_of(call(sim, "private/get_mmp_config", token=None))[:2] == (401, 10000)
    assert error_of(call(sim, "private/get_mmp_config", token="forged"))[:2] == (401, 13009)
    bad = call(
        sim,
        "public/auth",
        {"grant_type": "client_credentials", "client_id": "cid", "client_secret": "wrong"},
    )
    assert error_of(bad)[1] == 13004


def test_expired_token_is_refused(sim: DeribitSimulator) -> None:
    _, auth = call(
        sim,
        "public/auth",
        {"grant_type": "client_credentials", "client_id": "cid", "client_secret": "secret"},
    )
    token = auth["result"]["access_token"]
    sim.clock.advance(sim.token_ttl_s * 1000)
    assert error_of(call(sim, "private/get_mmp_config", token=token))[1] == 13009


def test_basic_auth_accepted(sim: DeribitSimulator) -> None:
    basic = base64.b64encode(b"cid:secret").decode()
    request = httpx.Request(
        "POST",
        "https://x/api/v2/private/get_mmp_config",
        content=b'{"jsonrpc":"2.0","id":1,"params":{}}',
        headers={"Authorization": f"Basic {basic}"},
    )
    assert sim(request).status_code == 200


def test_signature_vectors() -> None:
    # the official client_signature example, and our HTTP vector (seed-venues.md 1.5)
    assert deribit_signature("ABCD", "1554883365000", "fdbmmz79", "") == (
        "e20c9cd5639d41f8bbc88f4d699c4baf94a4f0ee320e9a116b72743c449eb994"
    )
    data = "GET\n/api/v2/private/get_mmp_config?index_name=btc_usd\n\n"
    assert deribit_signature("ABCD", "1554883365000", "fdbmmz79", data) == (
        "ba16573d96a5ba06034f148c7f9f81f1c8f185589bfc2bf63ca655f8f7c2a8f1"
    )


def test_signed_request_checked_on_raw_bytes_and_nonce_single_use(sim: DeribitSimulator) -> None:
    ts = str(sim.clock.now_ms())
    uri = "/api/v2/private/get_mmp_config?index_name=btc_usd"
    sig = deribit_signature("secret", ts, "n1", f"GET\n{uri}\n\n")
    header = f"deri-hmac-sha256 id=cid,ts={ts},sig={sig},nonce=n1"
    request = httpx.Request("GET", f"https://x{uri}", headers={"Authorization": header})
    assert sim(request).status_code == 200
    assert sim(request).status_code == 401  # nonce reused
    tampered = header.replace("nonce=n1", "nonce=n2")
    assert (
        sim(
            httpx.Request("GET", f"https://x{uri}", headers={"Authorization": tampered})
        ).status_code
        == 401
    )


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"interval": 3601}, "interval"),
        ({"interval": Decimal("1.5")}, "interval"),
        ({"frozen_time": -1}, "frozen_time"),
        ({"quantity_limit": Decimal("0.12345")}, "quantity_limit"),
        ({"quantity_limit": Decimal("-1")}, "quantity_limit"),
        ({"quantity_limit": "5"}, "quantity_limit"),
        ({"max_quote_quantity": None}, "max_quote_quantity"),
        ({"quantity_limit": None}, "quantity_limit"),
        ({"index_name": "btc_usx"}, "index_name"),
        ({"mmp_group": "G" * 65}, "mmp_group"),
        ({"mmp_group": ""}, "mmp_group"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_set_bounds_enforced(sim: DeribitSimulator, change: dict[str, Any], param: str) -> None:
    params = {**GOOD, **change}
    params = {k: v for k, v in params.items() if v is not None}
    status, code, named = error_of(call(sim, "private/set_mmp_config", params))
    assert (status, code, named) == (400, -32602, param)
    assert sim.accounts["cid"].configs == {}


def test_group_bound_to_one_index_and_limited(sim: DeribitSimulator) -> None:
    assert call(sim, "private/set_mmp_config", {**GOOD, "mmp_group": "Bot"})[0] == 200
    other = {**GOOD, "index_name": "eth_usd", "mmp_group": "Bot"}
    assert error_of(call(sim, "private/set_mmp_config", other))[1] == 11029
    for i in range(15):
        assert call(sim, "private/set_mmp_config", {**GOOD, "mmp_group": f"G{i}"})[0] == 200
    assert error_of(call(sim, "private/set_mmp_config", {**GOOD, "mmp_group": "G99"}))[1] == 11029


def test_set_answers_object_or_array_and_reads_back_exactly(sim: DeribitSimulator) -> None:
    _, body = call(sim, "private/set_mmp_config", {**GOOD, "quantity_limit": Decimal("0.1")})
    assert body["result"]["quantity_limit"] == Decimal("0.1")
    sim.set_result = "array"
    _, body = call(sim, "private/set_mmp_config", GOOD)
    assert isinstance(body["result"], list)
    _, read = call(sim, "private/get_mmp_config")
    assert read["result"] == [
        {
            "index_name": "btc_usd",
            "interval": 1,
            "frozen_time": 30,
            "quantity_limit": 5,
            "max_quote_quantity": Decimal("2.5"),
        }
    ]


def test_group_ids_exceed_2_pow_53(sim: DeribitSimulator) -> None:
    call(sim, "private/set_mmp_config", {**GOOD, "mmp_group": "Bot"})
    _, read = call(sim, "private/get_mmp_config")
    assert read["result"][0]["id"] > 2**53


def test_freeze_trigger_expiry_and_set_resets_it(sim: DeribitSimulator) -> None:
    call(sim, "private/set_mmp_config", GOOD)
    until = sim.trigger("cid", "btc_usd")
    _, status = call(sim, "private/get_mmp_status")
    assert status["result"] == [{"index_name": "btc_usd", "frozen_until": until}]
    sim.clock.advance(30_000)
    assert call(sim, "private/get_mmp_status")[1]["result"] == []
    sim.seed("cid", {**GOOD, "frozen_time": 0})
    assert sim.trigger("cid", "btc_usd") == 0  # manual
    sim.clock.advance(10**9)
    assert call(sim, "private/get_mmp_status")[1]["result"][0]["frozen_until"] == 0
    call(sim, "private/set_mmp_config", GOOD)  # "triggers MMP reset"
    assert call(sim, "private/get_mmp_status")[1]["result"] == []


def test_reset_unfreezes_and_keeps_config(sim: DeribitSimulator) -> None:
    call(sim, "private/set_mmp_config", GOOD)
    sim.trigger("cid", "btc_usd")
    assert call(sim, "private/reset_mmp", {"index_name": "btc_usd"})[1]["result"] == "ok"
    assert call(sim, "private/get_mmp_status")[1]["result"] == []
    assert len(call(sim, "private/get_mmp_config")[1]["result"]) == 1
    assert error_of(call(sim, "private/reset_mmp", {"index_name": "all"}))[1] == -32602


def test_interval_zero_removes_and_strictness_switch(sim: DeribitSimulator) -> None:
    call(sim, "private/set_mmp_config", GOOD)
    bare = {"index_name": "btc_usd", "interval": 0, "frozen_time": 0}
    assert error_of(call(sim, "private/set_mmp_config", bare))[1] == -32602
    sim.strict_remove = False
    assert call(sim, "private/set_mmp_config", bare)[0] == 200
    assert call(sim, "private/get_mmp_config")[1]["result"] == []


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (11050, {"code": 11050, "message": "bad_request", "data": {"reason": "MMP disabled"}}),
        (13040, {"code": 13040, "message": "mmp_required"}),
    ],
)
def test_not_an_mmp_user(sim: DeribitSimulator, code: int, error: dict[str, Any]) -> None:
    sim.mmp_disabled_code = code
    sim.accounts["cid"].mmp_enabled = False
    status, body = call(sim, "private/get_mmp_config")
    assert (status, body["error"]) == (400, error)


def test_the_not_enabled_code_is_a_switch_defaulting_to_11050() -> None:
    assert DeribitSimulator().mmp_disabled_code == 11050  # the reading we knew least
    with pytest.raises(ValueError, match="mmp_disabled_code"):
        DeribitSimulator(mmp_disabled_code=13041)


def test_credit_rate_limit_answers_10028(sim: DeribitSimulator) -> None:
    _, auth = call(
        sim,
        "public/auth",
        {"grant_type": "client_credentials", "client_id": "cid", "client_secret": "secret"},
    )
    token = auth["result"]["access_token"]
    codes = [call(sim, "private/get_mmp_config", token=token)[0] for _ in range(100)]
    assert codes.count(200) == 99 and codes[-1] == 429  # 50,000 credits at 500 each
    assert error_of(call(sim, "private/get_mmp_config", token=token))[1] == 10028
    sim.clock.advance(1000)  # refills 10,000 credits: 20 more requests
    assert call(sim, "private/get_mmp_config", token=token)[0] == 200


def test_get_with_query_string(sim: DeribitSimulator) -> None:
    basic = base64.b64encode(b"cid:secret").decode()
    call(sim, "private/set_mmp_config", GOOD)
    request = httpx.Request(
        "GET",
        "https://x/api/v2/private/get_mmp_config?index_name=eth_usd",
        headers={"Authorization": f"Basic {basic}"},
    )
    assert loads_exact(sim(request).content)["result"] == []


def basic_get(sim: DeribitSimulator, method: str, query: str) -> dict[str, Any]:
    basic = base64.b64encode(b"cid:secret").decode()
    request = httpx.Request(
        "GET", f"https://x/api/v2/{method}?{query}", headers={"Authorization": f"Basic {basic}"}
    )
    answer: dict[str, Any] = loads_exact(sim(request).content)
    return answer


def test_get_query_values_are_read_by_their_names_not_their_shapes(sim: DeribitSimulator) -> None:
    query = (
        "index_name=btc_usd&mmp_group=2024&interval=1&frozen_time=30&quantity_limit=5"
        "&max_quote_quantity=2.5"
    )
    answer = basic_get(sim, "private/set_mmp_config", query)
    assert answer["result"]["mmp_group"] == "2024", answer
    assert answer["result"]["quantity_limit"] == Decimal(5)
    assert answer["result"]["interval"] == 1
    configs = basic_get(sim, "private/get_mmp_config", "index_name=btc_usd&mmp_group=2024")
    assert [c["mmp_group"] for c in configs["result"]] == ["2024"]
    named = basic_get(sim, "private/set_mmp_config", query.replace("interval=1", "interval=1.5"))
    assert named["error"]["data"] == {"reason": "must be an integer", "param": "interval"}
    assert "result" in basic_get(sim, "private/set_mmp_config", query + "&block_rfq=false")


def signed_get(sim: DeribitSimulator, nonce: str, ts_ms: int) -> int:
    uri = "/api/v2/private/get_mmp_status"
    sig = deribit_signature("secret", str(ts_ms), nonce, f"GET\n{uri}\n\n")
    header = f"deri-hmac-sha256 id=cid,ts={ts_ms},sig={sig},nonce={nonce}"
    request = httpx.Request("GET", f"https://x{uri}", headers={"Authorization": header})
    return sim(request).status_code


def test_used_nonces_are_forgotten_once_the_window_refuses_their_timestamp(
    sim: DeribitSimulator,
) -> None:
    start = sim.clock.now_ms()
    assert signed_get(sim, "n1", start) == 200
    sim.clock.advance(59_000)
    assert signed_get(sim, "n1", start) == 401  # inside the window: a replay
    assert signed_get(sim, "n1", start + 59_000) == 401  # a nonce is single use in it
    assert signed_get(sim, "n2", start + 59_000) == 200
    sim.clock.advance(2000)  # n1's timestamp is now out of the window
    assert signed_get(sim, "n1", start) == 401  # refused for its age, nonce forgotten or not
    assert signed_get(sim, "n3", start + 61_000) == 200
    assert set(sim.used_nonces) == {("cid", "n2"), ("cid", "n3")}
    for second in range(300):  # five minutes of one request a second: never more than 61
        sim.clock.advance(1000)
        assert signed_get(sim, f"m{second}", sim.clock.now_ms()) == 200
    assert len(sim.used_nonces) <= 61


def test_state_round_trips(sim: DeribitSimulator) -> None:
    call(sim, "private/set_mmp_config", {**GOOD, "mmp_group": "Bot", "frozen_time": 0})
    sim.trigger("cid", "btc_usd", "Bot")
    state = loads_exact(dumps_exact(sim.dump_state()))
    copy = DeribitSimulator()
    copy.load_state(state)
    assert copy.dump_state() == sim.dump_state()

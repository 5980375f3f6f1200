"""A write that waits for a rate limit after its check is checked again before it leaves.

Real `mmp apply` processes against the OKX and Bybit simulators on loopback. The freeze
comes while the write waits on its way out: for OKX's 2-sets-per-10-s window (paced in the
run), after OKX's 50011 (another run spent the allowance), after Bybit's 10006 (its reset
time ahead). Each time the scope is read again just before the write would leave, found
frozen, and HELD: not written, said, the venue still frozen (under both readings of what a
set does to a freeze), the journal showing the wait and the new check. Ctrl-C during a
50011 wait stops it at once and says the write was refused, not that it is on its way.
"""

from __future__ import annotations

import json
import signal
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.core.model import MmpConfig, ScopeKey
from reconciler.venues.bybit.simulator import MODIFY, BybitSimulator
from reconciler.venues.okx import simulator as okx_simulator
from reconciler.venues.okx.capabilities import FAMILIES
from reconciler.venues.okx.simulator import OkxSimulator
from tests.procs import LiveDesk, Result, Spawned

WAIT_S = 60


def okx(family: str) -> ScopeKey:
    return ScopeKey("okx", "okx-a", family)


BTC, ETH, XRP = okx("BTC-USD"), okx("ETH-USD"), okx("XRP-USD")
COIN = ScopeKey("bybit", "by-a", "BTC")
# frozen for an hour once tripped: still frozen when the write's wait is over
OKX_OLD = MmpConfig(10_000, 3_600_000, quantity_limit=Decimal(100))
BYBIT_OLD = MmpConfig(
    5_000,
    3_600_000,
    quantity_limit=Decimal(10),
    delta_limit=Decimal(10),
    vega_limit=Decimal(10),
)
READINGS = pytest.mark.parametrize("set_unfreezes", [False, True], ids=["keeps", "unfreezes"])


def tighter(config: MmpConfig, by: int) -> MmpConfig:
    assert config.quantity_limit is not None
    return config.with_changes(quantity_limit=config.quantity_limit - by)


def line(label: str, key: ScopeKey) -> str:
    """The start of apply's result line for a scope (commands/run.py result_line)."""
    return f"  {label:<30} {key}"


def await_event(desk: LiveDesk, proc: Spawned, key: ScopeKey, event: str) -> None:
    """Until the running apply journals `event` for the scope."""
    deadline = time.monotonic() + WAIT_S
    while event not in desk.journal().events(key):
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr_text()
        time.sleep(0.02)


def this_run(desk: LiveDesk, key: ScopeKey) -> list[dict[str, Any]]:
    """The scope's journal records of the latest run."""
    records = desk.journal().records
    latest = records[-1]["run"]
    return [r for r in records if r["run"] == latest and r.get("scope") == str(key)]


def held_by_the_new_check(desk: LiveDesk, result: Result, key: ScopeKey, old: MmpConfig) -> None:
    """HELD, said; not written (the venue still frozen, its old config in force); the journal
    shows the new check finding it frozen, and no write answered success."""
    assert result.code == 3, result  # partial, every scope safe (product.md)
    assert line("HELD (froze since plan)", key) in result.stdout, result
    assert desk.frozen(key) and desk.live(key) == old
    records = this_run(desk, key)
    events = [r["event"] for r in records]
    assert "recheck" in events and "recheck-done" in events, events
    done = next(r for r in records if r["event"] == "recheck-done")
    assert done["still_as_planned"] is False and "froze" in done["said"], done
    answers = [r["result"] for r in records if r["event"] == "write-answered"]
    assert answers == ["refused"], records
    assert records[-1]["event"] == "step-end" and records[-1]["outcome"] == "held"


def okx_desk(tmp_path: Path, set_unfreezes: bool, *keys: ScopeKey) -> LiveDesk:
    sim = OkxSimulator(set_unfreezes=set_unfreezes)
    scopes = {key: (tighter(OKX_OLD, 10), OKX_OLD) for key in keys}
    return LiveDesk(tmp_path, scopes, sims={"okx": sim})


def spend_the_okx_allowance(desk: LiveDesk) -> MmpConfig:
    """Another run sets BTC-USD and ETH-USD: OKX's 2 sets per 10 s are spent. ETH-USD is
    then changed again; returns the config it has on the venue."""
    first = desk.mmp("apply", "--auto-approve", timeout=WAIT_S)
    assert first.code == 0, first
    desk.declare({ETH: tighter(OKX_OLD, 20)})
    return tighter(OKX_OLD, 10)


@READINGS
def test_okx_freeze_during_a_50011_wait_is_held_not_written(
    tmp_path: Path, set_unfreezes: bool
) -> None:
    with okx_desk(tmp_path, set_unfreezes, BTC, ETH) as desk:
        before = spend_the_okx_allowance(desk)
        proc = desk.spawn("apply", "--auto-approve")
        await_event(desk, proc, ETH, "rate-limited")  # OKX answered 50011: resent in 10 s
        desk.trigger(ETH)  # fills trip MMP on it while the set waits
        result = proc.finish(WAIT_S)
        held_by_the_new_check(desk, result, ETH, before)
        limited = next(r for r in this_run(desk, ETH) if r["event"] == "rate-limited")
        assert limited["said"] == "OKX 50011" and limited["wait_ms"] == 10_000
        status = desk.mmp("status", timeout=WAIT_S)
        assert "frozen" in status.stdout.lower(), status


@READINGS
def test_okx_freeze_while_the_set_is_paced_is_held_not_written(
    tmp_path: Path, set_unfreezes: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three families: the third set waits for OKX's window in the run (2 sets per 10 s);
    its family freezes during that wait, after its check passed. (The simulator knows two
    option families; OKX lists more: a third is added to it here.)"""
    monkeypatch.setattr(okx_simulator, "FAMILIES", FAMILIES | {XRP.underlying})
    with okx_desk(tmp_path, set_unfreezes, BTC, ETH, XRP) as desk:
        proc = desk.spawn("apply", "--auto-approve")
        await_event(desk, proc, XRP, "set-sent")  # checked: waiting for its slot
        desk.trigger(XRP)
        result = proc.finish(WAIT_S)
        held_by_the_new_check(desk, result, XRP, OKX_OLD)
        recheck = next(r for r in this_run(desk, XRP) if r["event"] == "recheck")
        assert recheck["waited"] == "for its rate-limit slot"
        assert line("applied", BTC) in result.stdout and line("applied", ETH) in result.stdout
        posts = desk.seen("okx", lambda r: r.method == "POST")
        assert [okx_family(r) for r in posts] == ["BTC-USD", "ETH-USD"]


def okx_family(request: httpx.Request) -> str:
    return str(json.loads(request.content)["instFamily"])


class RateLimitedOnce:
    """Bybit's simulator, whose first MMP modify is refused with 10006, its reset 4 s ahead
    (the UID's allowance spent by another client)."""

    def __init__(self, sim: BybitSimulator) -> None:
        self.sim = sim
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sim, name)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == MODIFY and not self.refused:
            self.refused += 1
            reset = time.time_ns() // 1_000_000 + 4_000
            body = {"retCode": 10006, "retMsg": "Too many visits!", "result": {}}
            headers = {"X-Bapi-Limit-Status": "0", "X-Bapi-Limit-Reset-Timestamp": str(reset)}
            return httpx.Response(200, json=body, headers=headers)
        return self.sim(request)


@READINGS
def test_bybit_freeze_during_a_10006_wait_is_held_not_written(
    tmp_path: Path, set_unfreezes: bool
) -> None:
    sim = RateLimitedOnce(BybitSimulator(set_unfreezes=set_unfreezes))
    scopes = {COIN: (tighter(BYBIT_OLD, 1), BYBIT_OLD)}
    with LiveDesk(tmp_path, scopes, sims={"bybit": sim}) as desk:
        proc = desk.spawn("apply", "--auto-approve")
        await_event(desk, proc, COIN, "rate-limited")
        desk.trigger(COIN)
        result = proc.finish(WAIT_S)
        held_by_the_new_check(desk, result, COIN, BYBIT_OLD)
        limited = next(r for r in this_run(desk, COIN) if r["event"] == "rate-limited")
        assert limited["said"] == "HTTP 200" and 0 < limited["wait_ms"] <= 4_000
        assert len(desk.seen("bybit", lambda r: r.url.path == MODIFY)) == 1


def test_okx_ctrl_c_during_a_50011_wait_stops_it_and_says_it_was_refused(
    tmp_path: Path,
) -> None:
    with okx_desk(tmp_path, False, BTC, ETH) as desk:
        before = spend_the_okx_allowance(desk)
        proc = desk.spawn("apply", "--auto-approve")
        await_event(desk, proc, ETH, "rate-limited")
        proc.send_signal(signal.SIGINT)
        result = proc.finish(WAIT_S)
        assert "write sent, waiting for the venue" not in result.stderr, result
        assert "refused by the venue's rate limit, nothing written" in result.stderr, result
        said = "not sent again after the venue refused it (OKX 50011)"
        assert said in result.stdout, result
        assert desk.live(ETH) == before and not desk.frozen(ETH)
        sets = desk.seen("okx", lambda r: r.method == "POST")
        assert len(sets) == 3, sets  # the first run's two, this run's refused one: no resend


def test_okx_ctrl_c_while_a_set_is_paced_stops_it_before_it_leaves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The third set waits for OKX's window: a signal then is said as 'not sent yet' and
    ends the wait at once; the set is never sent."""
    monkeypatch.setattr(okx_simulator, "FAMILIES", FAMILIES | {XRP.underlying})
    with okx_desk(tmp_path, False, BTC, ETH, XRP) as desk:
        proc = desk.spawn("apply", "--auto-approve")
        await_event(desk, proc, XRP, "set-sent")
        proc.send_signal(signal.SIGINT)
        result = proc.finish(WAIT_S)
        assert f"{XRP}: not sent yet: waiting for its rate-limit slot" in result.stderr, result
        assert "not sent: apply was interrupted (SIGINT) before it left" in result.stdout, result
        assert desk.live(XRP) == OKX_OLD
        posts = desk.seen("okx", lambda r: r.method == "POST")
        assert [okx_family(r) for r in posts] == ["BTC-USD", "ETH-USD"]


class FreezesAtItsRefusal:
    """A venue's simulator whose first MMP set is refused for its rate limit with a short
    wait (Deribit's 10028 with HTTP 429 and no Retry-After: 200 ms; Bybit's 10006 with its
    reset 150 ms ahead), the scope freezing the moment it refuses (red team 3: a resend this
    soon was under the 250 ms freshness and went out unchecked)."""

    def __init__(self, sim: Any, key: ScopeKey, is_set: Any, refusal: Any) -> None:
        self.sim, self.key, self.is_set, self.refusal = sim, key, is_set, refusal
        self.desk: LiveDesk | None = None
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sim, name)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.is_set(request) and not self.refused:
            self.refused += 1
            assert self.desk is not None
            self.desk.trigger(self.key)
            return self.refusal(request)  # type: ignore[no-any-return]
        return self.sim(request)  # type: ignore[no-any-return]


def _deribit_429(request: httpx.Request) -> httpx.Response:
    body = {
        "jsonrpc": "2.0",
        "id": json.loads(request.content)["id"],
        "error": {"code": 10028, "message": "too_many_requests"},
    }
    return httpx.Response(429, json=body)


def _bybit_10006(_: httpx.Request) -> httpx.Response:
    reset = time.time_ns() // 1_000_000 + 150
    body = {"retCode": 10006, "retMsg": "Too many visits!", "result": {}}
    headers = {"X-Bapi-Limit-Status": "0", "X-Bapi-Limit-Reset-Timestamp": str(reset)}
    return httpx.Response(200, json=body, headers=headers)


DERIBIT_OLD = MmpConfig(
    10_000, 3_600_000, quantity_limit=Decimal(100), max_quote_quantity=Decimal(50)
)
RFQ_OLD = MmpConfig(
    10_000, 3_600_000, max_quote_quantity=Decimal(50), trade_count_limit=Decimal(100)
)


@pytest.mark.parametrize(
    ("key", "old", "new"),
    [
        (
            ScopeKey("deribit", "der-a", "btc_usd"),
            DERIBIT_OLD,
            DERIBIT_OLD.with_changes(quantity_limit=Decimal(90)),
        ),
        (
            ScopeKey("deribit", "der-a", "block_rfq:all"),
            RFQ_OLD,
            RFQ_OLD.with_changes(trade_count_limit=Decimal(90)),
        ),
        (COIN, BYBIT_OLD, tighter(BYBIT_OLD, 1)),
    ],
    ids=["deribit-429", "deribit-block-rfq-429", "bybit-10006-soon"],
)
def test_a_write_sent_again_after_a_short_rate_limit_wait_is_checked_again(
    tmp_path: Path, key: ScopeKey, old: MmpConfig, new: MmpConfig
) -> None:
    from reconciler.venues.deribit.simulator import DeribitSimulator

    if key.venue == "deribit":
        sim = FreezesAtItsRefusal(
            DeribitSimulator(), key, lambda r: "set_mmp_config" in r.url.path, _deribit_429
        )
    else:
        sim = FreezesAtItsRefusal(
            BybitSimulator(set_unfreezes=True),
            key,
            lambda r: r.method == "POST" and r.url.path == MODIFY,
            _bybit_10006,
        )
    with LiveDesk(tmp_path, {key: (new, old)}, sims={key.venue: sim}) as desk:
        sim.desk = desk
        result = desk.mmp("apply", "--auto-approve", timeout=WAIT_S)
        held_by_the_new_check(desk, result, key, old)
        [limited] = [r for r in this_run(desk, key) if r["event"] == "rate-limited"]
        assert limited["wait_ms"] < 250  # under the freshness: checked again all the same

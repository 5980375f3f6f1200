"""Apply with the venues' push channels (issue 16), against the simulators on loopback:

- a real `mmp apply` process (tests/procs.py) on Bullish: a set the venue rejects
  asynchronously ends the step at once with the venue's reason and the old config is restored
  at once; a trigger pushed mid-apply holds the scope (named, venue end state, journal, and
  what the next plan and status say under each reading); a socket that drops mid-apply
  leaves REST to settle the write;
- apply in process on Deribit, over real sockets: a trigger pushed between the check before a
  write and the write stops it (the REST read it was checked against did not show it);
- a real `mmp apply` process on Deribit Block RFQ: the same for a `block_rfq:<index>` scope,
  under each payload (the minimal one does not say its space: held all the same), and for
  `block_rfq:all` where Deribit has a channel for it (where it has none, apply says that
  scope is checked by REST alone).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.apply import writes
from reconciler.apply.executor import ApplyResult, Outcome, apply_plan
from reconciler.apply.journal import Journal
from reconciler.core.model import MmpConfig, ScopeKey
from reconciler.planning.planner import make_plan
from reconciler.simulators.server import serve
from reconciler.venues import VENUES, capabilities
from reconciler.venues.base import Credentials
from reconciler.venues.bullish.push import NOT_OK
from reconciler.venues.bullish.simulator import BullishSimulator
from reconciler.venues.bullish.simulator_push import Readings
from reconciler.venues.deribit.simulator import DeribitSimulator
from reconciler.venues.live import Connections, connect
from tests.checked import include_held
from tests.fault_cells import wait_said
from tests.helpers import load, write_policy
from tests.procs import BULLISH_RESET, BULLISH_SET, LiveDesk

BTC = ScopeKey("bullish", "bx", "BTC")
ETH = ScopeKey("bullish", "bx", "ETH")
WANT = MmpConfig(10_000, 5_000, quantity_limit=Decimal("2.5"))
OLD = WANT.with_changes(quantity_limit=Decimal(5))  # live: apply tightens it
WAIT_S = 30


def line(label: str, key: ScopeKey, detail: str = "") -> str:
    """The start of apply's result line for a scope (commands/run.py result_line)."""
    return f"  {label:<30} {key}" + (f": {detail}" if detail else "")


def scope_events(desk: LiveDesk, key: ScopeKey) -> list[dict[str, Any]]:
    return desk.journal().for_scope(key)


# ---- Bullish, a real process ----------------------------------------------------------


@pytest.mark.parametrize(
    "readings",
    [Readings(), Readings(rejection_status="REJECTED", envelope="documented")],
    ids=["closed-bare", "rejected-documented"],
)
def test_bullish_rejected_set_ends_at_once_and_restores_at_once(
    tmp_path: Path, readings: Readings
) -> None:
    sim = BullishSimulator(apply_delay_ms=100, ws=readings)
    with LiveDesk(tmp_path, {BTC: (WANT, OLD)}, sims={"bullish": sim}, sockets=True) as desk:
        with sim._lock:
            sim.reject_next_sets = 1  # the replacement's set; its restore goes through
        result = desk.mmp("apply", "--auto-approve", *include_held(BTC), "-v")
        assert result.code == 3, result
        status = readings.rejection_status
        words = f"mmpRequest {status}: Injected rejection" + (NOT_OK if status == "CLOSED" else "")
        said = f"bullish rejected it ({words})"
        assert line("RESTORED (old config back)", BTC, said) in result.stdout, result
        events = scope_events(desk, BTC)
        # no retry after the venue's word, no waiting for a deadline: straight to the restore
        sets = [e["purpose"] for e in events if e["event"] == "set-sent"]
        assert sets == ["apply", "restore"]
        pushed = [(e["applied"], e["said"]) for e in events if e["event"] == "write-outcome"]
        assert pushed == [
            (True, "mmpRequest CLOSED: Ok"),
            (False, words),
            (True, "mmpRequest CLOSED: Ok"),
        ]
        desk.settle()
        assert desk.live(BTC) == OLD
        assert "private WebSocket open" in result.stderr


@pytest.mark.parametrize(
    ("snapshots", "active_while_frozen"),
    [(False, True), (True, False)],
    ids=["no-snapshot-active", "snapshot-inactive"],
)
def test_bullish_trigger_pushed_mid_apply_holds_the_scope(
    tmp_path: Path, snapshots: bool, active_while_frozen: bool
) -> None:
    """ETH trips while BTC's set is held at the venue: the push tells it (REST does too only
    where isActive goes false while frozen), and ETH is not written. The next plan and status
    know it frozen where the venue's snapshot or isActive tells them; elsewhere they say they
    cannot tell, never that it is not frozen."""
    sim = BullishSimulator(
        apply_delay_ms=100,
        ws=Readings(snapshots=snapshots),
        active_while_frozen=active_while_frozen,
    )
    with LiveDesk(
        tmp_path, {BTC: (WANT, OLD), ETH: (WANT, OLD)}, sims={"bullish": sim}, sockets=True
    ) as desk:
        checked = [] if snapshots else include_held(BTC, ETH)
        gate = desk.gate("bullish", BULLISH_SET)
        proc = desk.spawn("apply", "--auto-approve", *checked)
        assert gate.wait_arrived(WAIT_S, proc), proc.stderr_text()
        desk.trigger(ETH)  # fills trip MMP on ETH after apply read it
        gate.release()
        result = proc.finish(WAIT_S)
        assert result.code == 3, result
        held = line("HELD (froze since plan)", ETH, "not written: MMP triggered on it")
        assert held in result.stdout, result
        assert "pushed by bullish" in result.stdout
        assert line("applied", BTC) in result.stdout
        events = [e["event"] for e in scope_events(desk, ETH)]
        assert "push-trigger" in events and not any(e.endswith("-sent") for e in events)
        desk.settle()
        assert desk.live(ETH) == OLD and sim.is_frozen(desk.credentials["bx"]["PUBLIC_KEY"], "ETH")
        assert desk.live(BTC) == WANT
        plan = desk.mmp("plan")
        status = desk.mmp("status")
        if snapshots:
            assert "frozen" in plan.stdout and "freeze state unknown" not in plan.stdout, plan
            assert f"{ETH}" in status.stdout and "until manual" not in status.stdout
            assert status.code == 2, status
        else:  # unknown, never "not frozen": no trigger seen by a new run, so exit 0
            assert "freeze state unknown" in plan.stdout, plan
            assert status.code == 0 and "unknown (see below)" in status.stdout, status


def test_bullish_trigger_pushed_during_the_reset_stops_the_set(tmp_path: Path) -> None:
    """BTC trips while its reset is on its way (taken by the venue, the answer held): once
    the reset clears the config, no set follows (a write might end the freeze); the scope is
    named WITHOUT MMP, exit 4."""
    sim = BullishSimulator(apply_delay_ms=100)
    with LiveDesk(tmp_path, {BTC: (WANT, OLD)}, sims={"bullish": sim}, sockets=True) as desk:
        gate = desk.gate("bullish", BULLISH_RESET, before=False)
        proc = desk.spawn("apply", "--auto-approve", *include_held(BTC))
        assert gate.wait_arrived(WAIT_S, proc), proc.stderr_text()
        desk.trigger(BTC)  # the reset is queued at the venue: the config is still there
        gate.release()
        result = proc.finish(WAIT_S)
        assert result.code == 4, result
        said = "froze while its replacement was under way (MMP triggered on it"
        assert line("UNSAFE (may be unprotected)", BTC, said) in result.stdout, result
        assert "WITHOUT MMP" in result.stdout and "pushed by bullish" in result.stdout
        events = [e["event"] for e in scope_events(desk, BTC)]
        assert "replace-held" in events and "set-sent" not in events
        desk.settle()
        assert desk.live(BTC) is None


def test_bullish_socket_that_stops_delivering_is_not_trusted_for_a_write(
    tmp_path: Path,
) -> None:
    """The venue's socket stays open but delivers nothing (a half-open link) while ETH trips:
    before ETH's check, apply's keepalivePing goes unanswered, the channel is taken as down,
    and a REST read, which cannot show the freeze, makes ETH's state unknown where the plan
    had it known not frozen (a snapshot): ETH is held, never reset (found by a red team:
    before, apply reset ETH, ending the freeze, and exited 0)."""
    sim = BullishSimulator(
        apply_delay_ms=100, ws=Readings(snapshots=True), active_while_frozen=True
    )
    with LiveDesk(
        tmp_path, {BTC: (WANT, OLD), ETH: (WANT, OLD)}, sims={"bullish": sim}, sockets=True
    ) as desk:
        gate = desk.gate("bullish", BULLISH_SET)
        proc = desk.spawn("apply", "--auto-approve", "-v")
        assert gate.wait_arrived(WAIT_S, proc), proc.stderr_text()
        with sim._lock:
            sessions = list(sim.ws.sessions)
        for session in sessions:
            session.socket.send = lambda text: True  # type: ignore[method-assign]  # open, mute
        desk.trigger(ETH)
        gate.release()
        result = proc.finish(WAIT_S)
        assert result.code == 3, result
        assert "did not answer a keepalivePing" in result.stderr, result
        assert line("HELD (freeze state unknown)", ETH) in result.stdout, result
        assert "plan again: the new plan shows the change flagged" in result.stdout, result
        assert "is written, flagged" not in result.stdout  # its advice never says written
        events = [e["event"] for e in scope_events(desk, ETH)]
        assert not any(e.endswith("-sent") for e in events), events
        desk.settle()
        assert sim.is_frozen(desk.credentials["bx"]["PUBLIC_KEY"], "ETH")
        assert desk.live(ETH) == OLD


def test_bullish_socket_dropped_mid_apply_leaves_rest_to_settle(tmp_path: Path) -> None:
    sim = BullishSimulator(apply_delay_ms=100)
    with LiveDesk(tmp_path, {BTC: (WANT, OLD)}, sims={"bullish": sim}, sockets=True) as desk:
        gate = desk.gate("bullish", BULLISH_SET)
        proc = desk.spawn("apply", "--auto-approve", *include_held(BTC), "-v")
        assert gate.wait_arrived(WAIT_S, proc), proc.stderr_text()
        with sim._lock:
            sessions = list(sim.ws.sessions)
        for session in sessions:
            session.socket.close(1011, "going away")
        gate.release()
        result = proc.finish(WAIT_S)
        assert result.code == 0, result
        assert "private push channel down: closed by the venue" in result.stderr
        events = [e["event"] for e in scope_events(desk, BTC)]
        assert events.count("write-outcome") == 1  # the reset's; the set was read back
        desk.settle()
        assert desk.live(BTC) == WANT


def test_bullish_without_a_socket_apply_reads_as_before(tmp_path: Path) -> None:
    """The venue serves no socket here (LiveDesk without `sockets`): its handshake is
    answered 404, and every outcome comes from REST reads, as before issue 16."""
    sim = BullishSimulator(apply_delay_ms=100)
    with LiveDesk(tmp_path, {BTC: (WANT, OLD)}, sims={"bullish": sim}) as desk:
        result = desk.mmp("apply", "--auto-approve", *include_held(BTC), "-v")
        assert result.code == 0, result
        assert "private WebSocket not open (could not connect (" in result.stderr
        starts = [r for r in desk.journal().records if r.get("event") == "push-channels"]
        assert starts and starts[0]["accounts"]["bx"].startswith("could not connect")
        assert "write-outcome" not in [e["event"] for e in scope_events(desk, BTC)]
        desk.settle()
        assert desk.live(BTC) == WANT


# ---- Deribit, in process over real sockets -----------------------------------------------

POLICY = """
accounts:
  main:
    venue: deribit
    base_url: URL
    credentials: DERIBIT_MAIN
    defaults: {window: 1s, frozen: 30s}
    mmp:
      btc_usd:
        default: {quantity_limit: 5, max_quote_quantity: 2}
      eth_usd:
        default: {quantity_limit: 0.1, max_quote_quantity: 2}
"""
LOOSE = {"interval": 1, "frozen_time": 30, "quantity_limit": Decimal(9)}


class TripAfterRead:
    """Trips MMP on eth_usd as the venue answers the first read after btc_usd's set: the
    read says not frozen; the answer leaves only once the client holds the pushed trigger."""

    def __init__(self, sim: DeribitSimulator, pushed: Callable[[], bool]) -> None:
        self.sim, self.pushed = sim, pushed
        self.wrote, self.done = False, False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response = self.sim(request)
        if self.wrote and not self.done and request.url.path.endswith("get_mmp_status"):
            self.done = True
            with self.sim._lock:
                self.sim.trigger("id-main", "eth_usd")
            _until(self.pushed)
        self.wrote = self.wrote or request.url.path.endswith("set_mmp_config")
        return response


def _until(check: Callable[[], bool]) -> None:
    for _ in range(WAIT_S * 100):
        if check():
            return
        time.sleep(0.01)
    raise AssertionError("the pushed trigger never reached the client")


@pytest.mark.parametrize("payload", ["minimal", "full"])
def test_deribit_trigger_between_check_and_write_stops_the_write(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, payload: str
) -> None:
    # the check before eth_usd's write reuses btc_usd's read-back, which did not show it
    monkeypatch.setattr(writes, "FRESH_MS", 600_000)
    sim = DeribitSimulator(trigger_payload=payload)
    sim.add_account("id-main", "pw")
    for index in ("btc_usd", "eth_usd"):
        sim.seed("id-main", {"index_name": index, "max_quote_quantity": Decimal(2), **LOOSE})
    holder: dict[str, Connections] = {}
    eth = ScopeKey("deribit", "main", "eth_usd")

    def pushed() -> bool:
        connections = holder.get("connections")
        return connections is not None and connections.pushes["main"].frozen(eth, 0) is not None

    app = TripAfterRead(sim, pushed)
    with serve(app, push=sim.ws) as url:
        write_policy(in_tmp, POLICY.replace("URL", url))
        desired = load(in_tmp)
        journal = Journal(in_tmp / "journal.jsonl")
        creds = {"main": Credentials({"CLIENT_ID": "id-main", "CLIENT_SECRET": "pw"})}

        async def go() -> ApplyResult:
            targets = sorted(desired.accounts.values(), key=lambda t: t.name)
            connections = connect(targets, VENUES, creds, declared=desired.declared_underlyings())
            holder["connections"] = connections
            try:
                live = await connections.read()
                plan = make_plan(desired, live, capabilities())
                return await apply_plan(plan, connections, journal)
            finally:
                await connections.aclose()

        result = asyncio.run(go())
    outcomes = {str(r.step.key): r.outcome for r in result.results}
    assert outcomes == {"deribit/main/btc_usd": Outcome.APPLIED, str(eth): Outcome.HELD}
    held = next(r for r in result.results if r.step.key == eth)
    assert "MMP triggered on it" in held.detail and "pushed by deribit" in held.detail
    assert result.exit_code == 3
    # never written: a Deribit set would have ended the freeze
    assert ("eth_usd", None) in sim.accounts["id-main"].frozen_until
    assert sim.accounts["id-main"].configs[("eth_usd", None)]["quantity_limit"] == 9
    records = [json.loads(line) for line in (in_tmp / "journal.jsonl").read_text().splitlines()]
    mine = [r["event"] for r in records if r.get("scope") == str(eth)]
    assert "push-trigger" in mine and "set-sent" not in mine
    opened = next(r for r in records if r["event"] == "push-channels")
    assert opened["accounts"] == {"main": "open"}


# ---- Deribit Block RFQ, a real process ---------------------------------------------------

RFQ_WANT = {
    "btc_usd": MmpConfig(5000, 30_000, quantity_limit=Decimal(80), max_quote_quantity=Decimal(50)),
    "all": MmpConfig(5000, 30_000, max_quote_quantity=Decimal(50), trade_count_limit=Decimal(20)),
}


def block_rfq_status(request: httpx.Request) -> bool:
    """A get_mmp_status of the Block RFQ space (block_rfq: true)."""
    body = json.loads(request.content or b"{}")
    params = body.get("params") if isinstance(body, dict) else None
    return body.get("method") == "private/get_mmp_status" and bool(
        isinstance(params, dict) and params.get("block_rfq")
    )


@pytest.mark.parametrize(
    ("payload", "index"),
    [("minimal", "btc_usd"), ("full", "btc_usd"), ("minimal", "all"), ("full", "all")],
)
def test_deribit_block_rfq_trigger_between_check_and_set_holds_it(
    tmp_path: Path, payload: str, index: str
) -> None:
    """Block RFQ triggers as the check read before the set is answered (its answer says not
    frozen): the push reaches apply first, and the set, which would end the freeze (a Deribit
    set resets MMP), is never sent. Found by a red team: the push was dropped and the set
    ended the freeze, exit 0."""
    key = ScopeKey("deribit", "dm", f"block_rfq:{index}")
    want = RFQ_WANT[index]
    assert want.quantity_limit is not None or want.trade_count_limit is not None
    old = want.with_changes(max_quote_quantity=Decimal(60))
    sim = DeribitSimulator(trigger_payload=payload, trigger_all_channel=index == "all")
    with LiveDesk(tmp_path, {key: (want, old)}, sims={"deribit": sim}, sockets=True) as desk:
        # the step's check: the first Block RFQ read once the socket is subscribed
        gate = desk.gate(
            "deribit",
            lambda r: block_rfq_status(r) and any(s.channels for s in sim.ws.sessions),
            before=False,
        )
        proc = desk.spawn("apply", "--auto-approve", "-v")
        assert gate.wait_arrived(WAIT_S, proc), proc.stderr_text()
        desk.trigger(key)  # after the venue answered the check: not frozen, it said
        # the minimal payload does not say the space: the index's order scopes froze too
        both = payload == "minimal" and index != "all"
        wait_said(proc, f"MMP triggered on {index + ', ' if both else ''}{key.underlying} (pushed)")
        gate.release()
        result = proc.finish(WAIT_S)
        assert result.code == 3, result
        said = "not written: MMP triggered on it"
        assert line("HELD (froze since plan)", key, said) in result.stdout, result
        assert "pushed by deribit" in result.stdout
        events = [e["event"] for e in scope_events(desk, key)]
        assert "push-trigger" in events and "set-sent" not in events, events
        assert desk.frozen(key) and desk.live(key) == old
        plan = desk.mmp("plan")
        assert f"held      {key}" in plan.stdout, plan


def test_deribit_without_a_channel_for_block_rfq_all_says_it_is_checked_by_rest(
    tmp_path: Path,
) -> None:
    """Where Deribit takes no user.mmp_trigger.all (the simulator's default reading), the
    index channels stay open, and apply says block_rfq:all is watched by REST reads alone."""
    key, order = ScopeKey("deribit", "dm", "block_rfq:all"), ScopeKey("deribit", "dm", "btc_usd")
    want, order_want = RFQ_WANT["all"], MmpConfig(1000, 30_000, Decimal(5), None, None, Decimal(2))
    scopes = {
        key: (want, want.with_changes(trade_count_limit=Decimal(30))),
        order: (order_want, order_want.with_changes(quantity_limit=Decimal(9))),
    }
    with LiveDesk(tmp_path, scopes, sims={"deribit": DeribitSimulator()}, sockets=True) as desk:
        result = desk.mmp("apply", "--auto-approve", "-v")
        assert result.code == 0, result
        assert "user.mmp_trigger.all not taken (private/subscribe refused: -32602" in result.stderr
        assert "block_rfq:all is checked by REST reads alone" in result.stderr
        assert "WebSocket subscribed to user.mmp_trigger.btc_usd" in result.stderr
        opened = next(r for r in desk.journal().records if r["event"] == "push-channels")
        assert opened["accounts"] == {"dm": "open"}

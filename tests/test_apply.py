"""Apply through the simulator: verify by reading back, classify every end state, journal."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply.executor import ApplyResult, Outcome, apply_plan
from reconciler.apply.journal import Journal
from reconciler.core.errors import PlanFileError
from reconciler.planning.planner import make_plan
from reconciler.simulators.common import Clock
from reconciler.venues import capabilities
from reconciler.venues.deribit.simulator import DeribitSimulator, RpcError
from tests.helpers import load, sim_connections, write_policy

POLICY = """
accounts:
  main:
    venue: deribit
    environment: testnet
    credentials: DERIBIT_MAIN
    defaults: {window: 1s, frozen: 30s}
    mmp:
      btc_usd:
        default: {quantity_limit: 5, max_quote_quantity: 2}
      eth_usd:
        default: {quantity_limit: 0.1, max_quote_quantity: 2}
      sol_usdc: absent
"""
OLD = {
    "interval": 1,
    "frozen_time": 30,
    "quantity_limit": Decimal(9),
    "max_quote_quantity": Decimal(2),
}


def setup(root: Path) -> tuple[DeribitSimulator, Any]:
    write_policy(root, POLICY)
    sim = DeribitSimulator(clock=Clock(1_700_000_000_000))
    sim.add_account("id-main", "s3cr3t-for-tests")
    sim.seed("id-main", {"index_name": "btc_usd", **OLD})
    sim.seed("id-main", {"index_name": "sol_usdc", **OLD})
    return sim, load(root)


def run_apply(
    sim: DeribitSimulator, desired: Any, journal: Journal, between: Any = None
) -> ApplyResult:
    async def go() -> ApplyResult:
        connections = sim_connections(sim, desired)
        live = await connections.read()
        plan = make_plan(desired, live, capabilities())
        if between:
            between()
        return await apply_plan(plan, connections, journal)

    return asyncio.run(go())


def configs(sim: DeribitSimulator) -> dict[str, Any]:
    return {
        index: c.get("quantity_limit") for (index, _), c in sim.accounts["id-main"].configs.items()
    }


def test_apply_verifies_and_journals_every_step(in_tmp: Path) -> None:
    sim, desired = setup(in_tmp)
    journal = Journal(in_tmp / "journal.jsonl")
    result = run_apply(sim, desired, journal)
    assert result.exit_code == 0
    assert configs(sim) == {"btc_usd": 5, "eth_usd": Decimal("0.1")}
    events = [json.loads(line) for line in (in_tmp / "journal.jsonl").read_text().splitlines()]
    assert [(e["event"], e.get("scope")) for e in events] == [
        ("apply-start", None),
        ("step-begin", "deribit/main/eth_usd"),
        ("set-sent", "deribit/main/eth_usd"),  # on disk before the request leaves
        ("write-answered", "deribit/main/eth_usd"),
        ("step-end", "deribit/main/eth_usd"),
        ("step-begin", "deribit/main/btc_usd"),
        ("set-sent", "deribit/main/btc_usd"),
        ("write-answered", "deribit/main/btc_usd"),
        ("step-end", "deribit/main/btc_usd"),
        ("step-begin", "deribit/main/sol_usdc"),
        ("remove-sent", "deribit/main/sol_usdc"),
        ("write-answered", "deribit/main/sol_usdc"),
        ("step-end", "deribit/main/sol_usdc"),
        ("apply-end", None),
    ]
    assert events[2]["config"]["quantity_limit"] == "0.1" and events[3]["result"] == "acknowledged"
    assert events[4]["outcome"] == "applied" and events[4]["live"]["quantity_limit"] == "0.1"


def reject_set(after: int = 0) -> Any:
    seen = {"sets": 0}

    def hook(method: str, params: dict[str, Any]) -> None:
        if method == "private/set_mmp_config":
            seen["sets"] += 1
            if seen["sets"] > after:
                raise RpcError(11029, "invalid_arguments", {"reason": "injected"})

    return hook


def test_first_write_refused_is_exit_1_and_nothing_else_runs(in_tmp: Path) -> None:
    sim, desired = setup(in_tmp)
    sim.before_request = reject_set(after=0)
    result = run_apply(sim, desired, Journal(None))
    assert result.exit_code == 1
    assert [r.outcome for r in result.results] == [
        Outcome.KEPT_OLD,
        Outcome.NOT_RUN,
        Outcome.NOT_RUN,
    ]
    assert "venue error 11029" in result.results[0].detail
    assert configs(sim) == {"btc_usd": 9, "sol_usdc": 9}


def test_later_write_refused_is_exit_3_every_scope_safe(in_tmp: Path) -> None:
    sim, desired = setup(in_tmp)
    sim.before_request = reject_set(after=1)
    result = run_apply(sim, desired, Journal(None))
    assert result.exit_code == 3
    assert [r.outcome for r in result.results] == [
        Outcome.APPLIED,
        Outcome.KEPT_OLD,
        Outcome.NOT_RUN,
    ]


def test_write_applied_but_answer_lost_is_verified_by_reading_back(in_tmp: Path) -> None:
    sim, desired = setup(in_tmp)
    real = sim.__call__

    def lose_answer(request: Any) -> Any:
        response = real(request)
        if request.url.path.endswith("set_mmp_config"):
            import httpx

            raise httpx.ReadTimeout("answer lost", request=request)
        return response

    sim.__call__ = lose_answer  # type: ignore[method-assign]
    import httpx

    from reconciler.venues import VENUES
    from reconciler.venues.base import Credentials
    from reconciler.venues.live import connect
    from tests.helpers import SECRET

    async def go() -> ApplyResult:
        conns = connect(
            list(desired.accounts.values()),
            VENUES,
            {"main": Credentials({"CLIENT_ID": "id-main", "CLIENT_SECRET": SECRET})},
            lambda venue: httpx.MockTransport(lose_answer),
        )
        plan = make_plan(desired, await conns.read(), capabilities())
        return await apply_plan(plan, conns, Journal(None))

    result = asyncio.run(go())
    assert result.exit_code == 0
    assert all("verified despite" in r.detail for r in result.results)


@pytest.mark.usefixtures("virtual_time")  # its read-backs fail to the deadline, passed at once
def test_read_back_failure_is_exit_4_naming_the_scope(in_tmp: Path) -> None:
    sim, desired = setup(in_tmp)
    state = {"sets": 0}

    def hook(method: str, params: dict[str, Any]) -> None:
        if method == "private/set_mmp_config":
            state["sets"] += 1
            raise RpcError(10047, "matching_engine_queue_full")
        if state["sets"] and method == "private/get_mmp_config":
            raise RpcError(10047, "matching_engine_queue_full")

    sim.before_request = hook
    result = run_apply(sim, desired, Journal(None))
    assert result.exit_code == 4
    assert str(result.unsafe()[0].step.key) == "deribit/main/eth_usd"
    assert "read-back failed" in result.unsafe()[0].detail


def test_success_answer_without_effect_is_caught(in_tmp: Path) -> None:
    sim, desired = setup(in_tmp)
    real_set = sim._set_mmp_config
    sim._set_mmp_config = lambda account, params: {"index_name": params["index_name"]}  # type: ignore[method-assign]
    result = run_apply(sim, desired, Journal(None))
    sim._set_mmp_config = real_set  # type: ignore[method-assign]
    assert result.exit_code == 1
    assert "the venue answered success but the change is not in force" in result.results[0].detail


def test_live_state_moved_between_plan_and_apply_is_refused(in_tmp: Path) -> None:
    sim, desired = setup(in_tmp)

    def drift() -> None:
        sim.seed("id-main", {"index_name": "btc_usd", **OLD, "quantity_limit": Decimal(8)})

    with pytest.raises(PlanFileError, match="Changed scopes: deribit/main/btc_usd"):
        run_apply(sim, desired, Journal(None), between=drift)
    assert configs(sim) == {"btc_usd": 8, "sol_usdc": 9}  # nothing written


def test_trigger_between_plan_and_apply_is_refused(in_tmp: Path) -> None:
    sim, desired = setup(in_tmp)
    with pytest.raises(PlanFileError, match="btc_usd"):
        run_apply(sim, desired, Journal(None), between=lambda: sim.trigger("id-main", "btc_usd"))


class _SlowOrFailing:
    """A venue client double: account `a` refuses every write after 10 ms; `b` takes 50 ms."""

    def __init__(self, account: str, log: list[str]) -> None:
        from reconciler.venues.deribit.capabilities import CAPABILITIES

        self.capabilities = CAPABILITIES
        self.account = account
        self.configs: dict[Any, Any] = {}
        self.log = log

    async def read(self, underlyings: Any = frozenset(), *, only: Any = None) -> Any:
        from reconciler.core.model import LiveAccount, LiveScope

        scopes = tuple(LiveScope(k, v) for k, v in self.configs.items())
        return LiveAccount("deribit", self.account, scopes)

    async def set_config(self, key: Any, config: Any) -> None:
        from reconciler.core.errors import VenueRejected

        self.log.append(f"start {key}")
        if self.account == "a":
            await asyncio.sleep(0.01)
            raise VenueRejected(str(key), "refused", code=11029)
        await asyncio.sleep(0.05)
        self.configs[key] = config
        self.log.append(f"done {key}")

    async def aclose(self) -> None:
        return None


def test_accounts_apply_side_by_side_and_a_failure_starts_nothing_new() -> None:
    from reconciler.core.model import MmpConfig, ScopeKey
    from reconciler.planning.plan import Action, Plan, Step
    from reconciler.venues.live import Connections

    log: list[str] = []
    clients = {name: _SlowOrFailing(name, log) for name in ("a", "b")}
    config = MmpConfig(1000, 30_000, Decimal("5"), max_quote_quantity=Decimal("1"))
    steps = tuple(
        Step(ScopeKey("deribit", acct, u), Action.CREATE, None, config)
        for acct, u in (("a", "btc_usd"), ("b", "btc_usd"), ("b", "eth_usd"))
    )
    plan = Plan(steps, "x", digests={}, accounts=("a", "b"))
    conns = Connections(clients)  # type: ignore[arg-type]
    result = asyncio.run(apply_plan(plan, conns, Journal(None)))
    outcomes = [(str(r.step.key), r.outcome) for r in result.results]
    assert outcomes == [
        ("deribit/a/btc_usd", Outcome.KEPT_OLD),  # refused: still no config, as before
        ("deribit/b/btc_usd", Outcome.APPLIED),  # was under way: finished and verified
        ("deribit/b/eth_usd", Outcome.NOT_RUN),  # not started after the failure
    ]
    assert log[:2] == ["start deribit/a/btc_usd", "start deribit/b/btc_usd"]  # side by side
    assert result.exit_code == 3

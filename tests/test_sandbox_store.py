"""The sandbox behaves like a venue under kills and parallel runs: every acknowledged write is in
.mmp/sandbox.json at once (atomically, under an inter-process lock), whatever happens after.

The process tests run tests/sandbox_child.py, which talks to the sandbox through
`Sandbox.transport` over an httpx client, as `mmp` does.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.core.units import dumps_exact, loads_exact
from reconciler.sandbox.desk import SimulatorDesk
from reconciler.sandbox.statefile import StateFile
from reconciler.sandbox.store import Sandbox
from reconciler.simulators.common import Clock
from reconciler.venues import VENUES
from reconciler.venues.aevo.desk import make as make_aevo
from reconciler.venues.binance.desk import make as make_binance
from reconciler.venues.bullish.desk import make as make_bullish
from reconciler.venues.bullish.simulator import BullishSimulator
from reconciler.venues.deribit.desk import make as make_deribit
from reconciler.venues.deribit.simulator import DeribitSimulator

ROOT = Path(__file__).resolve().parent.parent
CHILD = [sys.executable, str(ROOT / "tests" / "sandbox_child.py")]
NOON = 1_767_268_800_000  # 2026-01-01 12:00 UTC: a pinned venue clock, far from a day's edge


def child(*args: str, stdin: bool = False) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CHILD, *args],
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def finish(proc: subprocess.Popen[str]) -> list[str]:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert err == ""
    return out.splitlines()


def deribit_configs(state_file: Path, prefix: str) -> set[tuple[str, str, Decimal]]:
    """(account, group, quantity_limit) of every Deribit config in the state file on the
    accounts the children made (named PREFIX0, PREFIX1, ...)."""
    state = loads_exact(state_file.read_bytes())
    return {
        (name, c["mmp_group"], Decimal(c["quantity_limit"]))
        for client_id, account in state["deribit"]["accounts"].items()
        if (name := client_id.removeprefix("sandbox-id-")).removeprefix(prefix).isdigit()
        for c in account["configs"]
    }


def answered(lines: list[str]) -> set[tuple[str, str, Decimal]]:
    return {(a, g, Decimal(q)) for kind, a, g, q in (x.split() for x in lines if x[:3] == "ok ")}


def in_parallel(state: Path, groups: int, accounts: int) -> list[list[str]]:
    """`groups` processes started together, each setting its own group on the same accounts."""
    procs = [
        child("deribit-sets", str(state), "acct", str(accounts), f"p{i}", "--barrier", stdin=True)
        for i in range(groups)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    return [finish(proc) for proc in procs]


# ---- processes -----------------------------------------------------------------------------


def test_four_processes_at_once_lose_no_write(tmp_path: Path) -> None:
    state = tmp_path / ".mmp" / "sandbox.json"
    Sandbox(VENUES, state)  # the desk exists before they start
    outputs = in_parallel(state, groups=4, accounts=25)
    printed = set().union(*(answered(lines) for lines in outputs))
    assert len(printed) == 100
    assert deribit_configs(state, "acct") == printed  # every one of the 100 sets, nothing else


def test_many_writers_starting_on_no_file_seed_once_and_leave_no_temp_file(
    tmp_path: Path,
) -> None:
    state = tmp_path / ".mmp" / "sandbox.json"
    outputs = in_parallel(state, groups=8, accounts=20)  # finish() checks: exit 0, no stderr
    assert sorted(lines[0] for lines in outputs) == ["seeded False"] * 7 + ["seeded True"]
    assert len(deribit_configs(state, "acct")) == 160
    assert sorted(p.name for p in state.parent.iterdir()) == ["sandbox.json", "sandbox.json.lock"]
    seeded = loads_exact(state.read_bytes())
    assert "sandbox-id-deribit-main" in seeded["deribit"]["accounts"]  # the example desk


@pytest.mark.parametrize("after", [1, 7, 23, 61])
def test_sigkill_mid_series_leaves_exactly_the_answered_writes(tmp_path: Path, after: int) -> None:
    """The child writes forever (the k-th write sets quantity k+1 on account k % 20), so the
    kill always lands mid-series however the machine schedules the two processes."""
    state = tmp_path / ".mmp" / "sandbox.json"
    proc = child("deribit-sets", str(state), "k", "20", "g", "--writes", str(10**9))
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("seeded")
    lines = [proc.stdout.readline() for _ in range(after)]
    proc.send_signal(signal.SIGKILL)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    printed = [line.split() for line in [*lines, *rest.splitlines()]]
    assert len(printed) >= after
    assert [int(qty) for _, _, _, qty in printed] == list(range(1, len(printed) + 1))
    answered = {account: Decimal(qty) for _, account, _, qty in printed}  # the last per account
    in_flight = {**answered, f"k{len(printed) % 20}": Decimal(len(printed) + 1)}
    held = {account: qty for account, _, qty in deribit_configs(state, "k")}  # a valid file
    assert held in (answered, in_flight)  # the write in flight may or may not be there
    Sandbox(VENUES, state)  # the next user clears what the killed writer left
    assert not list(state.parent.glob("*.tmp"))
    assert {account: qty for account, _, qty in deribit_configs(state, "k")} == held


def test_a_bullish_set_acknowledged_in_one_process_is_applied_when_due_in_another(
    tmp_path: Path,
) -> None:
    state = tmp_path / ".mmp" / "sandbox.json"
    ack = finish(child("bullish-set", str(state), str(NOON), "5000", "bx"))
    assert ack[0].startswith("ack ")
    request_id = ack[0].split()[1]

    def bullish() -> dict[str, Any]:
        return dict(loads_exact(state.read_bytes())["bullish"])

    pending = bullish()["pending"]
    assert [(p["request_id"], p["due_ms"]) for p in pending] == [(request_id, NOON + 5000)]
    assert bullish()["accounts"]["sandbox-id-bx"]["configs"] == {}

    early = finish(child("bullish-get", str(state), str(NOON + 4999), "bx"))
    assert early == ["configs []"]  # not applied early
    assert len(bullish()["pending"]) == 1  # and not lost

    due = finish(child("bullish-get", str(state), str(NOON + 5000), "bx"))
    configs = json.loads(due[0].removeprefix("configs "))
    assert [(c["underlyingAssetSymbol"], c["quantityLimit"]) for c in configs] == [("BTC", "7")]
    assert bullish()["pending"] == []
    assert "BTC" in bullish()["accounts"]["sandbox-id-bx"]["configs"]


def test_mmp_plan_apply_plan_in_a_copy_of_the_repo(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "policies", tmp_path / "policies")

    def mmp(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "reconciler", *args, "--sandbox"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "NO_COLOR": "1"},
        )

    assert "to create" in mmp("plan").stdout
    applied = mmp("apply", "--auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    again = mmp("plan")
    assert again.returncode == 0, again.stderr
    # what is left is held (a Deribit create among them, so UNPROTECTED)
    assert "Plan: no changes" in again.stdout or "Plan: nothing to apply" in again.stdout
    assert not list((tmp_path / ".mmp").glob("*.tmp"))


# ---- in one process ------------------------------------------------------------------------


def deribit_rpc(method: str, params: dict[str, Any], token: str = "") -> httpx.Request:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Request(
        "POST",
        f"http://deribit.sandbox/api/v2/{method}",
        content=dumps_exact(body),
        headers=headers,
    )


def send(sandbox: Sandbox, venue: str, request: httpx.Request) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=sandbox.transport(venue)) as http:
            response = await http.send(request)
            await response.aread()
            return response

    return asyncio.run(go())


def login(sandbox: Sandbox) -> str:
    auth = {
        "grant_type": "client_credentials",
        "client_id": "sandbox-id-deribit-main",
        "client_secret": "sandbox-secret-deribit-main",
    }
    return str(
        send(sandbox, "deribit", deribit_rpc("public/auth", auth)).json()["result"]["access_token"]
    )


SET = {
    "index_name": "eth_usd",
    "interval": 2,
    "frozen_time": 9,
    "quantity_limit": Decimal("7.5"),
    "max_quote_quantity": Decimal(3),
}


def test_a_token_survives_another_writer_and_sees_its_write(tmp_path: Path) -> None:
    """Two Sandbox objects on one file behave as two processes: a reload between two requests
    keeps this one's session and brings in the other's write."""
    state = tmp_path / "sandbox.json"
    mine, theirs = Sandbox(VENUES, state), Sandbox(VENUES, state)
    token = login(mine)
    assert (
        send(
            theirs, "deribit", deribit_rpc("private/set_mmp_config", SET, login(theirs))
        ).status_code
        == 200
    )
    read = send(
        mine, "deribit", deribit_rpc("private/get_mmp_config", {"index_name": "eth_usd"}, token)
    )
    assert read.status_code == 200, read.text
    assert read.json()["result"] == [{**SET, "quantity_limit": 7.5, "max_quote_quantity": 3}]


def test_a_write_that_cannot_be_saved_is_undone_and_answered_as_not_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "sandbox.json"
    sandbox = Sandbox(VENUES, state)
    token = login(sandbox)
    before = state.read_bytes()

    def full(self: StateFile, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(StateFile, "write", full)
    with pytest.raises(httpx.ConnectError, match="nothing done: cannot save"):
        send(sandbox, "deribit", deribit_rpc("private/set_mmp_config", SET, token))
    monkeypatch.undo()
    assert state.read_bytes() == before
    read = send(
        sandbox, "deribit", deribit_rpc("private/get_mmp_config", {"index_name": "eth_usd"}, token)
    )
    assert read.json()["result"][0]["quantity_limit"] == 400  # the seeded one, not 7.5


def test_a_state_file_that_is_not_one_is_named(tmp_path: Path) -> None:
    from reconciler.sandbox.store import SandboxStateError

    state = tmp_path / "sandbox.json"
    state.write_text("{not json")
    with pytest.raises(
        SandboxStateError, match=r"sandbox.json: not a sandbox state file .*; delete it"
    ):
        Sandbox(VENUES, state)


def test_a_change_made_in_edit_is_saved_and_one_that_raises_is_undone(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.json"
    with Sandbox(VENUES, state).edit("aevo") as aevo:
        assert isinstance(aevo, SimulatorDesk)
        aevo.sim.trigger(aevo.key("aevo-mm"), "SOL")
    saved = loads_exact(state.read_bytes())["aevo"]["accounts"]["sandbox-id-aevo-mm"]
    assert saved["configs"]["SOL"]["triggered"] is True
    sandbox = Sandbox(VENUES, state)
    with pytest.raises(RuntimeError), sandbox.edit("aevo") as aevo:
        assert isinstance(aevo, SimulatorDesk)
        aevo.sim.accounts.clear()
        raise RuntimeError("changed my mind")
    with sandbox.edit("aevo") as aevo:
        assert isinstance(aevo, SimulatorDesk)
        assert "sandbox-id-aevo-mm" in aevo.sim.accounts


# ---- simulators' state round trips ---------------------------------------------------------

MAKERS: list[Callable[[dict[str, object] | None], Any]] = [
    make_deribit,
    make_binance,
    make_aevo,
    make_bullish,
]


@pytest.mark.parametrize("make", MAKERS)
def test_the_state_round_trips_without_side_effects(make: Callable[..., Any]) -> None:
    seeded = make(None)
    text = dumps_exact(seeded.dump(), sort_keys=True)
    assert dumps_exact(seeded.dump(), sort_keys=True) == text  # dumping changes nothing
    copy = make(loads_exact(text))
    assert dumps_exact(copy.dump(), sort_keys=True) == text


def test_bullish_dump_keeps_pending_commands_nonces_and_request_ids() -> None:
    clock = Clock(NOON)
    sandbox = make_bullish(None, clock=clock, apply_delay_ms=3000)
    sim: BullishSimulator = sandbox.sim
    key = sandbox.key("bullish-mm")
    account_id = sim.accounts[key].trading_account_id
    sim.pending.append(_pending(sim, key, account_id))
    sim.accounts[key].last_nonce = NOON * 1000
    first_id = sim.next_request_id
    state = loads_exact(dumps_exact(sandbox.dump()))
    assert [p["due_ms"] for p in state["pending"]] == [NOON + 3000]  # not settled by dumping
    assert sim.pending and "ETH" not in sim.accounts[key].configs

    copy = make_bullish(state, clock=clock)
    assert copy.sim.accounts[key].last_nonce == NOON * 1000
    assert copy.sim.next_request_id == first_id
    copy.sim.settle()  # the test control still applies what is pending
    assert copy.sim.accounts[key].configs["ETH"]["quantityLimit"] == "3"


def _pending(sim: BullishSimulator, key: str, account_id: str) -> Any:
    from reconciler.venues.bullish.simulator import Pending

    del sim.accounts[key].configs["ETH"]
    command = {
        "commandType": "V1SetMMP",
        "tradingAccountId": account_id,
        "underlyingAssetSymbol": "ETH",
        "windowTimeInSeconds": "30",
        "frozenTimeInSeconds": "60",
        "quantityLimit": "3",
    }
    request_id = str(sim.next_request_id)
    sim.next_request_id += 1
    return Pending(NOON + 3000, key, request_id, command)


def test_deribit_load_keeps_tokens_and_group_ids() -> None:
    sim = DeribitSimulator()
    sim.add_account("id", "secret")
    for group in ("zeta", "alpha"):  # ids given in creation order, not name order
        sim.seed("id", {**SET, "index_name": "btc_usd", "mmp_group": group})
    ids = dict(sim.accounts["id"].group_ids)
    sim.tokens["t"] = ("id", 2**62)
    sim.load_state(loads_exact(dumps_exact(sim.dump_state())))
    assert sim.accounts["id"].group_ids == ids
    assert sim.tokens["t"] == ("id", 2**62)


def test_a_temp_file_left_by_a_killed_writer_is_removed(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.json"
    Sandbox(VENUES, state)
    stale = tmp_path / ".sandbox.json.x1y2z3.tmp"
    stale.write_text("{")
    Sandbox(VENUES, state)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sandbox.json", "sandbox.json.lock"]

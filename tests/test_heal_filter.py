"""A filtered `mmp heal` (--underlying, --account) heals only what it selects, and never ends
as if the rest were well: a declared scope outside its filter that it read and found without
a config is named and makes the exit 4, as does an account heal covers that the filter left
unread (not checked); with everything outside in force, it says so and exits 0. Each case is
a real `mmp` process against simulators on loopback (tests/procs.py)."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.core.model import ScopeKey
from tests.procs import LiveDesk
from tests.venues import ROWS

BTC = ScopeKey("deribit", "dm", "btc_usd")
ETH = ScopeKey("deribit", "dm", "eth_usd")
OKX = ScopeKey("okx", "ok", "BTC-USD")
WANT = ROWS["deribit"].sample(1)
IN_FORCE = ROWS["okx"].sample(1)


def _healing(desk: LiveDesk, text: str = "heal:\n  enabled: true\n") -> None:
    (desk.repo / "policies" / "guardrails.yaml").write_text(text, encoding="utf-8")
    desk.commit("heal on")


def test_a_bare_scope_outside_the_filter_is_named_and_the_exit_is_4(tmp_path: Path) -> None:
    report = tmp_path / "heal.json"
    with LiveDesk(tmp_path, {BTC: (WANT, None), ETH: (WANT, None)}) as desk:
        _healing(desk)
        healed = desk.mmp("heal", "--underlying", "eth_usd", "--report", str(report), timeout=120)
        assert healed.code == 4, healed
        assert desk.live(ETH) == WANT  # what the filter selects is healed
        assert desk.live(BTC) is None  # what it does not is never written
        out = healed.stdout
        assert (
            "  outside filter  deribit/dm/btc_usd: no MMP config live; outside this run's "
            "filter (--underlying eth_usd), so not healed by it" in out
        )
        assert (
            "Outside the filter (--underlying eth_usd): 1 declared scope(s) heal covers, not "
            "healed by this run; 1 of them without MMP: deribit/dm/btc_usd" in out
        )
        [last] = out.splitlines()[-1:]
        assert last.startswith(
            "Heal finished: 1 applied. Exit 4: 1 scope(s) may be without MMP after "
            "heal: deribit/dm/btc_usd (why: above); this heal was filtered (--underlying "
            "eth_usd): no declared scope outside it was healed. A person must act"
        ), last
        data = json.loads(report.read_text(encoding="utf-8"))
        assert data["exit_code"] == 4 and data["filters"] == {"underlying": ["eth_usd"]}
        assert [(i["scope"], i["outcome"]) for i in data["healed"]] == [(str(ETH), "applied")]
        assert [(i["scope"], i["why"]) for i in data["left"]] == [(str(BTC), "outside filter")]
        assert [r["exit_code"] for r in desk.journal().records if r["event"] == "apply-end"] == [4]
        again = desk.mmp("heal", "--underlying", "eth_usd", timeout=120)  # nothing to heal
        assert again.code == 4, again
        assert "Nothing to heal.\nExit 4: 1 declared scope(s) left without MMP" in again.stdout


def test_an_account_the_filter_leaves_unread_is_not_checked(tmp_path: Path) -> None:
    """--account dm: OKX is not asked anything, so heal cannot say it is well (exit 4); with
    OKX outside what heal covers, it is not heal's to check (exit 0)."""
    report = tmp_path / "heal.json"
    with LiveDesk(tmp_path, {ETH: (WANT, None), OKX: (IN_FORCE, IN_FORCE)}) as desk:
        _healing(desk)
        before = len(desk.seen("okx"))
        healed = desk.mmp("heal", "--account", "dm", "--report", str(report), timeout=120)
        assert healed.code == 4, healed
        assert desk.live(ETH) == WANT
        assert len(desk.seen("okx")) == before  # not one request
        out = healed.stdout
        assert "  okx/ok: not read: outside this run's filter (--account dm)" in out
        assert "1 account(s) not read, so not checked: okx/ok" in out
        assert out.splitlines()[-1].startswith(
            "Heal finished: 1 applied. Exit 4: 1 account(s) not checked (okx/ok): what they "
            "hold is not known"
        )
        data = json.loads(report.read_text(encoding="utf-8"))
        assert data["exit_code"] == 4 and data["left"] == []
        [unread] = data["not_checked"]
        assert unread["account"] == "okx/ok" and "outside this run's filter" in unread["why"]
        _healing(desk, "heal:\n  enabled: true\n  venues: [deribit]\n")
        narrowed = desk.mmp("heal", "--account", "dm", timeout=120)
        assert narrowed.code == 0, narrowed
        assert "NOT CHECKED" not in narrowed.stdout and "Outside the filter" not in narrowed.stdout


def test_a_filtered_heal_with_everything_outside_in_force_exits_0(tmp_path: Path) -> None:
    report = tmp_path / "heal.json"
    with LiveDesk(tmp_path, {BTC: (WANT, WANT), ETH: (WANT, None)}) as desk:
        _healing(desk)
        healed = desk.mmp("heal", "--underlying", "eth_usd", "--report", str(report), timeout=120)
        assert healed.code == 0, healed
        assert desk.live(ETH) == WANT
        out = healed.stdout
        assert (
            "Outside the filter (--underlying eth_usd): 1 declared scope(s) heal covers, not "
            "healed by this run; each has an MMP config live" in out
        )
        assert out.rstrip().endswith("Exit 0: every change applied and verified.")
        data = json.loads(report.read_text(encoding="utf-8"))
        assert data["exit_code"] == 0 and data["left"] == [] and data["not_checked"] == []
        assert [r["exit_code"] for r in desk.journal().records if r["event"] == "apply-end"] == [0]

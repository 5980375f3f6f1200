"""`mmp heal` chooses: each kind of drift healed or left with why (reconciler.planning.heal),
the setting that enables it (guardrails.yaml `heal:`) checked with file:line, and the
command against the sandbox: refused without the setting, journaled, filtered, reported."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.cli import main
from reconciler.commands import run as commands
from reconciler.core.model import FreezeState, LiveAccount, LiveScope, MmpConfig, ScopeKey
from reconciler.core.units import MANUAL, loads_exact
from reconciler.planning.heal import SINCE, Healing, Why, select
from reconciler.planning.planner import make_plan
from reconciler.planning.render import heal as render_heal
from reconciler.policy import guards
from reconciler.policy.desired import AccountTarget, DesiredScope, DesiredState, Location
from reconciler.policy.healing import Heal
from reconciler.venues import capabilities, live
from reconciler.venues.deribit.simulator import DeribitSimulator, RpcError
from tests.test_apply import setup

ROOT = Path(__file__).resolve().parent.parent
HERE = Location("p.yaml", 1, 1)
NOW = 1_800_000_000_000
ON = {"heal": {"enabled": True}}
HEALING = "heal:\n  enabled: true\n"


def cfg(
    q: str, window: int = 1000, frozen: int | str = 30_000, delta: str | None = None
) -> MmpConfig:
    return MmpConfig(
        window,
        frozen,  # type: ignore[arg-type]
        quantity_limit=Decimal(q),
        delta_limit=None if delta is None else Decimal(delta),
    )


Scopes = dict[str, tuple[MmpConfig | None, MmpConfig | None, FreezeState]]


def heal_of(
    venue: str,
    scopes: Scopes,
    rules: Mapping[str, object] | None = None,
    baseline: dict[str, MmpConfig] | None = None,
    undeclared: tuple[str, ...] = (),
) -> Healing:
    """underlying -> (live, desired, live freeze) on account `a` of `venue`; `undeclared`
    scopes are live only. Planned as `mmp plan` plans, then chosen."""
    desired = DesiredState()
    desired.accounts["a"] = AccountTarget("a", venue, "production", None, "A", HERE)
    live = []
    for underlying, (have, want, freeze) in scopes.items():
        key = ScopeKey(venue, "a", underlying)
        if underlying not in undeclared:
            desired.scopes[key] = DesiredScope(key, want, HERE)
        if have is not None or freeze.may_be_frozen:
            live.append(LiveScope(key, have, freeze))
    plan = make_plan(desired, [LiveAccount(venue, "a", tuple(live))], capabilities(), now_ms=NOW)
    given = guards.Guardrails.model_validate({**ON, **(rules or {})})
    had = {ScopeKey(venue, "a", u): c for u, c in (baseline or {}).items()}
    return select(plan, desired, given, had, capabilities())


def healed(healing: Healing) -> dict[str, str]:
    return {item.step.key.underlying: item.step.action.value for item in healing.healed}


def left(healing: Healing) -> dict[str, tuple[str, str]]:
    return {item.step.key.underlying: (item.why.value, item.detail) for item in healing.left}


FREE = FreezeState(False)


def test_creates_and_tightenings_are_healed_everything_else_left_with_why() -> None:
    healing = heal_of(
        "deribit",
        {
            "bare": (None, cfg("5"), FREE),  # unprotected: created
            "tight": (cfg("8"), cfg("5", window=2000), FREE),  # every field tightens
            "loose": (cfg("5"), cfg("8"), FREE),
            "mixed": (cfg("5"), cfg("4", window=500), FREE),
            "gone": (cfg("5"), None, FREE),  # marked absent
            "same": (cfg("5"), cfg("5"), FREE),  # no drift: not listed
            "extra": (cfg("5"), None, FREE),  # live only
        },
        undeclared=("extra",),
    )
    assert healed(healing) == {"bare": "create", "tight": "update"}
    assert [item.reason for item in healing.healed] == [
        "unprotected: no MMP config live; the declared config is set",
        "every changed field tightens: window 1s -> 2s, quantity_limit 8 -> 5",
    ]
    why = left(healing)
    assert why["loose"] == ("loosening", "loosens quantity_limit 5 -> 8")
    assert why["mixed"] == (
        "mixed",
        "tightens quantity_limit 5 -> 4 but loosens window 1s -> 500ms",
    )
    assert why["gone"][0] == "removal" and "the policies mark it absent" in why["gone"][1]
    assert why["extra"] == ("unmanaged", "not in the policies; left alone")
    assert "same" not in why
    # what the executor runs is exactly what is healed, in plan order, with no trips
    assert [s.key.underlying for s in healing.plan.writes] == ["bare", "tight"]
    assert healing.plan.trips == ()
    assert healing.summary() == "Heal: 2 to heal (1 to create, 1 to update); 4 left for a person."


def test_a_frozen_scope_holds_every_heal_whose_set_may_end_its_freeze() -> None:
    """Deribit: a set "triggers MMP reset", of what its docs do not say; while a scope of the
    account is frozen, nothing of it is healed, the bare one neither: each is left, saying
    which freeze its write may end."""
    healing = heal_of(
        "deribit",
        {
            "bare": (None, cfg("5"), FREE),
            "tight": (cfg("8"), cfg("5", window=2000), FREE),
            "frozen": (cfg("8"), cfg("5"), FreezeState(True)),
        },
    )
    assert healed(healing) == {} and healing.plan.writes == ()
    why = left(healing)
    assert why["frozen"][0] == "held" and why["frozen"][1].startswith("frozen: a set on deribit")
    for underlying in ("bare", "tight"):
        said = "deribit/a/frozen is frozen until manual reset, and writing this may end that"
        assert why[underlying][0] == "held" and why[underlying][1].startswith(said)


def test_a_freeze_state_unknown_is_never_healed_with_or_without_a_trigger() -> None:
    rest = FreezeState.unknown_because("REST cannot tell")
    trigger = FreezeState.unknown_because("manual freeze", last_trigger_ms=NOW - 60_000)
    healing = heal_of(
        "bullish",
        {"BTC": (cfg("8"), cfg("5"), rest), "ETH": (cfg("8"), cfg("5"), trigger)},
    )
    assert healed(healing) == {}
    assert left(healing)["BTC"][0] == "held" and "freeze state unknown" in left(healing)["BTC"][1]
    assert left(healing)["ETH"][0] == "held"


def test_a_replacement_is_healed_only_when_every_field_tightens_and_the_freeze_is_known() -> None:
    healing = heal_of(
        "bullish",
        {
            "BTC": (cfg("8", delta="2"), cfg("5", delta="1"), FREE),
            "ETH": (cfg("8", delta="1"), cfg("5", delta="2"), FREE),
        },
    )
    assert healed(healing) == {"BTC": "replace"}
    assert left(healing)["ETH"] == (
        "mixed",
        "tightens quantity_limit 8 -> 5 but loosens delta_limit 1 -> 2",
    )


def test_a_live_value_of_undocumented_meaning_has_no_direction_and_is_left() -> None:
    """Bullish documents no meaning for frozenTimeInSeconds 0 (elsewhere: manual, the
    longest freeze): 0 -> 30s is neither tightening nor loosening, so heal leaves it, the
    plan says why, and the guardrails count it a loosening."""
    healing = heal_of("bullish", {"BTC": (cfg("5", frozen=0), cfg("5"), FREE)})
    assert healed(healing) == {}
    assert left(healing)["BTC"] == (
        "direction unknown",
        "direction unknown: frozen 0ms -> 30s (Bullish freeze 0 is undocumented)",
    )
    step = healing.left[0].step
    assert step.loosening
    assert step.changes[0].said == "direction unknown (Bullish freeze 0 is undocumented)"
    trips = guards.check(dataclasses.replace(healing.plan, steps=(step,)), guards.Guardrails())
    assert trips == [
        "bullish/a/BTC: frozen 0ms -> 30s: direction unknown (Bullish freeze 0 is undocumented)"
    ]
    # elsewhere the same change keeps its direction
    assert healed(heal_of("deribit", {"x": (cfg("5", frozen=0), cfg("5"), FREE)})) == {
        "x": "update"
    }


def test_a_delta_limit_added_where_bullish_read_deltalimit_0_is_left() -> None:
    """Bullish reports a delta limit never set as "0", read as none; whether it means no
    limit or a limit of zero is undocumented: adding one has no known direction there.
    Elsewhere a limit added tightens; on Bullish, a create is healed with its delta limit."""
    healing = heal_of("bullish", {"BTC": (cfg("5"), cfg("5", delta="2"), FREE)})
    assert healed(healing) == {}
    assert left(healing)["BTC"] == (
        "direction unknown",
        'direction unknown: delta_limit (none) -> 2 (Bullish deltaLimit "0" is undocumented: '
        "no limit, or a limit of 0)",
    )
    assert "  direction unknown  bullish/a/BTC: direction unknown: delta_limit" in (
        render_heal.text(healing)
    )
    tighter: Scopes = {"BTC": (cfg("5", delta="3"), cfg("5", delta="2"), FREE)}
    assert healed(heal_of("bullish", tighter)) == {"BTC": "replace"}
    assert healed(heal_of("bullish", {"BTC": (None, cfg("5", delta="2"), FREE)})) == {
        "BTC": "create"
    }
    assert healed(heal_of("deribit", {"x": (cfg("5"), cfg("5", delta="2"), FREE)})) == {
        "x": "update"
    }


def test_a_write_that_may_freeze_the_scope_again_is_left() -> None:
    """Binance tells a freeze by its last trigger and frozen time: a longer frozen time
    after a recent trigger would freeze the scope again, stopping its quoting."""
    recent = FreezeState(False, last_trigger_ms=NOW - 10_000)
    healing = heal_of("binance", {"BTCUSDT": (cfg("5"), cfg("5", frozen=MANUAL), recent)})
    assert healed(healing) == {}
    why, detail = left(healing)["BTCUSDT"]
    assert why == "may freeze" and detail.startswith("this write may freeze the scope again")


def test_a_create_after_an_unfinished_run_is_made_and_says_if_looser_than_what_it_had() -> None:
    scopes: Scopes = {"btc_usd": (None, cfg("5", frozen=10_000), FREE)}
    # within the guardrails the reviewed config beats none, even looser than what it had
    within = {"loosening": {"shorter_freeze": False}}
    looser = heal_of("deribit", scopes, within, baseline={"btc_usd": cfg("5", frozen=30_000)})
    assert healed(looser) == {"btc_usd": "create"} and looser.healed[0].looser
    assert looser.healed[0].reason == (
        "unprotected: no MMP config live; the declared config is set, though it is "
        f"looser than {SINCE} (within the guardrails, as apply would write it): frozen 30s "
        "-> 10s"
    )
    assert "nothing removed; nothing live loosened, but deribit/a/btc_usd put back looser" in (
        render_heal.text(looser)
    )
    rules = {"loosening": {"shorter_freeze": True}}
    assert healed(heal_of("deribit", scopes, rules)) == {"btc_usd": "create"}  # no journal
    stricter = heal_of("deribit", scopes, rules, baseline={"btc_usd": cfg("9", frozen=10_000)})
    assert healed(stricter) == {"btc_usd": "create"}
    assert "as strict as before an unfinished run" in stricter.healed[0].reason


def test_beyond_a_guardrail_from_what_a_run_took_away_heal_puts_that_config_back() -> None:
    """Heal never crosses a guardrail: where the reviewed config is beyond one from the
    config an unfinished run took away, that config is put back and the reviewed one left
    for a person (apply --force); the header stays true."""
    scopes: Scopes = {"btc_usd": (None, cfg("5", frozen=10_000), FREE)}
    had = cfg("5", frozen=30_000)
    rules = {"loosening": {"shorter_freeze": True}}
    healing = heal_of("deribit", scopes, rules, baseline={"btc_usd": had})
    [item] = healing.healed
    assert item.step.action.value == "create" and item.step.after == had and item.baseline
    assert item.reason == (
        "unprotected: no MMP config live; created with, field by field, the stricter of the "
        "reviewed config and the one an unfinished run took away (frozen as it had them): the "
        "reviewed config is beyond guardrail(s) from what an unfinished run took away (freeze "
        "shortened 30s -> 10s); a person applies it with --force (`mmp apply --force`)"
    )
    assert left(healing)["btc_usd"][0] == "guardrail"
    assert left(healing)["btc_usd"][1].endswith("heal created the stricter of the two")
    assert healing.bare() == []  # protected: it is written
    shown = render_heal.text(healing)
    assert "the stricter of the two, field by field; nothing loosened or removed):" in shown
    report = healing.to_data()
    assert [h["scope"] for h in report["healed"]] == ["deribit/a/btc_usd"]
    assert [(i["scope"], i["why"]) for i in report["left"]] == [("deribit/a/btc_usd", "guardrail")]


def test_the_config_heal_creates_past_a_guardrail_is_never_looser_than_the_reviewed_one() -> None:
    """Red team 3: the config taken away may be looser than the reviewed one in another field
    (a hand-set delta limit of 100 where the policies say 0.1), or hold a 0 of unknown meaning:
    heal takes, field by field, the stricter (a 0 is never written back)."""
    scopes: Scopes = {"btc_usd": (None, cfg("1", frozen=10_000, delta="0.1"), FREE)}
    had = cfg("0.5", frozen=10_000, delta="100")
    reviewed = scopes["btc_usd"][1]
    assert reviewed is not None and reviewed.delta_limit is not None
    rules = {"loosening": {"limit_ratio": Decimal("1.5")}}
    [item] = heal_of("deribit", scopes, rules, baseline={"btc_usd": had}).healed
    assert item.step.after == reviewed.with_changes(quantity_limit=Decimal("0.5"))
    assert "(quantity_limit as it had them)" in item.reason
    zero = heal_of(
        "deribit", scopes, rules, baseline={"btc_usd": had.with_changes(quantity_limit=Decimal(0))}
    )
    [item] = zero.healed
    assert item.step.after == reviewed and not item.baseline  # the 0 is not put back


def test_a_guardrail_trip_leaves_its_step_and_one_naming_no_step_leaves_every_step() -> None:
    scopes: Scopes = {
        "btc_usd": (None, cfg("500"), FREE),
        "eth_usd": (cfg("8"), cfg("5"), FREE),
    }
    ceiling = {"venues": {"deribit": {"quantity_limit": {"max": 100}}}}
    healing = heal_of("deribit", scopes, ceiling)
    assert healed(healing) == {"eth_usd": "update"}
    assert left(healing)["btc_usd"] == (
        "guardrail",
        "quantity_limit 500 is above the ceiling 100",
    )
    # heal never removes, so it cannot worsen coverage: a coverage trip stops no step
    cover = {"coverage": {"deribit": ["sol_usdc"]}, **ceiling}
    coverage = heal_of("deribit", scopes, cover)
    assert healed(coverage) == {"eth_usd": "update"}
    assert left(coverage)["btc_usd"][0] == "guardrail"
    assert len(coverage.coverage) == 1 and "sol_usdc is not protected" in coverage.coverage[0]
    assert coverage.to_data()["coverage"] == list(coverage.coverage)
    shown = render_heal.text(coverage)
    assert "Guardrail (stops no heal step: heal never removes): deribit/a: sol_usdc" in shown


def test_heal_covers_only_the_venues_and_accounts_it_names() -> None:
    scopes: Scopes = {"btc_usd": (None, cfg("5"), FREE)}
    for narrowing in ({"venues": ["binance"]}, {"accounts": ["b"]}):
        healing = heal_of("deribit", scopes, {"heal": {"enabled": True, **narrowing}})
        assert healed(healing) == {}
        why, detail = left(healing)["btc_usd"]
        assert why == "outside heal" and detail.startswith("outside heal's venues/accounts (")
    both = {"heal": {"enabled": True, "venues": ["deribit"], "accounts": ["a"]}}
    assert healed(heal_of("deribit", scopes, both)) == {"btc_usd": "create"}


# ---- the setting -----------------------------------------------------------------------


def _desk(root: Path, guardrails: str) -> Path:
    (root / "policies").mkdir(parents=True, exist_ok=True)
    (root / "policies" / "desk-alpha.yaml").write_text(
        (ROOT / "policies" / "desk-alpha.yaml").read_text()
    )
    (root / "policies" / "guardrails.yaml").write_text(guardrails)
    return root / "policies"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("heal:\n  enabled: yes\n", "guardrails.yaml:2:12: enabled: expected true or false"),
        ("heal:\n  enabeld: true\n", "guardrails.yaml:2:3: unknown key `enabeld`"),
        ("heal: true\n", "guardrails.yaml:1:7: heal:"),
        (
            "heal:\n  enabled: true\n  venues: [derbit]\n",
            "guardrails.yaml:3:12: `derbit` is not a venue mmp knows; did you mean `deribit`?",
        ),
        (
            "heal:\n  enabled: true\n  accounts: [deribit-mian]\n",
            "guardrails.yaml:3:14: `deribit-mian` is not an account of the policies; did you "
            "mean `deribit-main`?",
        ),
        (
            "heal:\n  enabled: true\n  venues: [deribit]\n  accounts: [binance-mm]\n",
            "guardrails.yaml:4:14: `binance-mm` is a binance account, and heal.venues leaves "
            "binance out: it would never be healed",
        ),
    ],
)
def test_a_wrong_heal_setting_is_an_error_at_its_line(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], text: str, said: str
) -> None:
    policies = _desk(in_tmp, text)
    assert main(["validate", "--policies", str(policies)]) == 1
    assert said in capsys.readouterr().err
    assert main(["heal", "--sandbox", "--policies", str(policies)]) == 1
    assert said in capsys.readouterr().err
    assert not (in_tmp / ".mmp" / "sandbox.json").exists()  # nothing read, nothing sent


def test_without_the_setting_heal_refuses_and_says_what_to_add(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _desk(in_tmp, "removal: true\n")
    assert main(["heal", "--sandbox"]) == 1
    err = capsys.readouterr().err
    assert "healing is not enabled by these policies; nothing was read or sent" in err
    assert "adding to policies/guardrails.yaml:\n\nheal:\n  enabled: true\n\n" in err
    assert not (in_tmp / ".mmp").exists()
    (in_tmp / "policies" / "guardrails.yaml").unlink()  # no file at all: the same
    assert main(["heal", "--sandbox"]) == 1
    assert "adding to policies/guardrails.yaml:" in capsys.readouterr().err
    off = guards.load(ROOT / "policies").model_copy(update={"heal": Heal()})
    assert not off.heal.covers("deribit", "deribit-main")


# ---- the command, in the sandbox --------------------------------------------------------


# heal's exit on the example desk in the sandbox: its Block RFQ btc_usd has no config and is
# held while the account's MassQuoteBot7 is frozen (Deribit: a set may end that freeze)
BARE_HELD = 4


def _records(journal: Path, event: str) -> list[dict[str, object]]:
    lines = journal.read_text().splitlines()
    return [r for r in map(loads_exact, lines) if r["event"] == event]


def test_heal_in_the_sandbox_writes_journals_and_reports(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _desk(in_tmp, (ROOT / "policies" / "guardrails.yaml").read_text())  # it heals
    # exit 4: deribit-main's Block RFQ btc_usd, bare, is held (a set of it may end the freeze
    # of the account's MassQuoteBot7), so heal leaves it without MMP, for a person
    assert main(["heal", "--sandbox", "--report", "heal.json"]) == BARE_HELD
    out = capsys.readouterr().out
    healed_now = re.findall(r"^  applied +(\S+)$", out, re.M)
    assert out.rstrip().endswith(
        f"Heal finished: {len(healed_now)} applied. Exit 4: 1 scope(s) may be without "
        "MMP after heal: deribit/deribit-main/block_rfq:btc_usd (why: above). A person must act."
    )
    journal = in_tmp / ".mmp" / "journal.jsonl"
    heals = _records(journal, "heal")
    assert sorted(str(r["scope"]) for r in heals) == sorted(healed_now)
    first = heals[0]
    assert first["reason"] and first["changes"] and first["by"]
    start = _records(journal, "apply-start")[0]
    assert start["run"] == first["run"] and start["steps"] == len(heals)
    report = json.loads((in_tmp / "heal.json").read_text())
    assert report["exit_code"] == BARE_HELD and report["sandbox"] is True
    assert {h["scope"] for h in report["healed"]} == set(healed_now)
    assert {h["outcome"] for h in report["healed"]} == {"applied"}
    whys = {item["why"] for item in report["left"]}
    assert whys <= {w.value for w in Why} and "held" in whys and "unmanaged" in whys
    # again: nothing to heal; what is left is the same
    assert main(["heal", "--sandbox", "--report", "again.json"]) == BARE_HELD
    assert "Nothing to heal." in capsys.readouterr().out
    again = json.loads((in_tmp / "again.json").read_text())
    assert again["healed"] == [] and again["left"] == report["left"]
    assert main(["plan", "--sandbox", "--detailed-exitcode"]) == 2  # what a person must do


def _git(root: Path, *args: str) -> str:
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    done = subprocess.run(
        ["git", "-C", str(root), *identity, "-c", "commit.gpgsign=false", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def _committed(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The policies under `root`, committed on main (and no GitHub Actions checkout)."""
    for name in ("GITHUB_SHA", "GITHUB_REF_NAME", "GITHUB_REF_TYPE"):
        monkeypatch.delenv(name, raising=False)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "policies")
    _git(root, "commit", "-q", "-m", "the desk")


def test_heal_writes_only_the_committed_policies_of_the_heal_branch(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Uncommitted policies, or a checkout of another branch, are refused before anything
    is read or sent (an uncommitted edit cannot enable healing); each heal record names the
    commit it healed from."""
    _desk(in_tmp, "removal: true\n")
    _committed(in_tmp, monkeypatch)
    (in_tmp / "policies" / "guardrails.yaml").write_text(HEALING)  # enabled, uncommitted
    assert main(["heal", "--sandbox"]) == 1
    err = capsys.readouterr().err
    assert (
        "the policies at policies have uncommitted changes (policies/guardrails.yaml): nothing "
        "was read or sent" in err
    )
    assert not (in_tmp / ".mmp").exists()
    _git(in_tmp, "checkout", "-q", "-b", "wip")
    _git(in_tmp, "commit", "-q", "-am", "heal on")
    assert main(["heal", "--sandbox"]) == 1
    err = capsys.readouterr().err
    assert "the checkout is of branch `wip`: nothing was read or sent" in err
    assert "only the reviewed policies of `main` (guardrails.yaml `heal: branch:`)" in err
    assert not (in_tmp / ".mmp").exists()
    (in_tmp / "policies" / "guardrails.yaml").write_text(HEALING + "  branch: wip\n")
    _git(in_tmp, "commit", "-q", "-am", "heal wip")
    commit = _git(in_tmp, "rev-parse", "HEAD")
    assert main(["heal", "--sandbox"]) == BARE_HELD
    heals = _records(in_tmp / ".mmp" / "journal.jsonl", "heal")
    assert heals and {(r["commit"], r["dirty"]) for r in heals} == {(commit, False)}


def test_outside_git_only_the_sandbox_heals(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _desk(in_tmp, HEALING)
    assert main(["heal"]) == 1
    err = capsys.readouterr().err
    assert "are not in a Git repository; nothing was read or sent" in err
    assert main(["heal", "--sandbox"]) == BARE_HELD
    assert "not in a Git repository: the sandbox heals anyway" in capsys.readouterr().err
    heals = _records(in_tmp / ".mmp" / "journal.jsonl", "heal")
    assert heals and {(r["commit"], r["dirty"]) for r in heals} == {(None, False)}


def test_heal_filters_as_plan_does(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """And never ends as if the rest were well: the example desk's Block RFQ scope, outside
    the filter, has no config; the other venues' accounts are not read (exit 4, each named)."""
    _desk(in_tmp, "heal:\n  enabled: true\n")
    assert main(["heal", "--sandbox", "--venue", "deribit", "--underlying", "eth_usd"]) == 4
    out = capsys.readouterr().out
    assert "Selection: underlying eth_usd; venue deribit." in out
    # deribit-main's is held: a set of it may end the freeze of its MassQuoteBot7
    assert set(re.findall(r"^  applied +(\S+)$", out, re.M)) == {"deribit/deribit-hedge/eth_usd"}
    assert re.search(
        r"^  held +deribit/deribit-main/eth_usd: deribit/deribit-main/btc_usd/", out, re.M
    )
    assert re.search(r"^  outside filter +deribit/deribit-main/block_rfq:btc_usd: ", out, re.M)
    assert "; 5 account(s) not read, so not checked: aevo/aevo-mm, binance/binance-mm, " in out
    assert main(["heal", "--sandbox", "--account", "aevo-mm"]) == 4
    out = capsys.readouterr().out
    assert set(re.findall(r"^  applied +(\S+)$", out, re.M)) == {
        "aevo/aevo-mm/ETH",
        "aevo/aevo-mm/SOL",
    }
    assert re.search(r"^  held +aevo/aevo-mm/BTC: frozen", out, re.M)
    assert "this heal was filtered (--account aevo-mm): no declared scope outside it was" in out


def test_a_narrowed_heal_reads_only_what_it_covers_and_names_the_rest(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _desk(in_tmp, "heal:\n  enabled: true\n  venues: [okx]\n")
    # the accounts outside are not read (nor their keys needed): `mmp status` and the drift
    # check name what they leave unprotected; heal's exit is for what it covers
    assert main(["heal", "--sandbox"]) == 0
    out = capsys.readouterr().out
    assert re.findall(r"^  applied +(\S+)$", out, re.M) == ["okx/okx-mm/BTC-USD"]
    assert "Note: heal covers only venues okx (guardrails.yaml `heal:`)" in out
    [said] = re.findall(r"^Not read: .*$", out, re.M)
    assert said.startswith("Not read: 6 account(s) outside heal's venues/accounts (venues okx): ")
    assert "deribit/deribit-hedge" in said and "okx/" not in said
    assert "deribit/deribit-main/btc_usd" not in out  # not read, so not planned
    assert "Live state read from 1 account(s)" in out
    assert main(["heal", "--sandbox"]) == 0  # nothing to heal now
    assert "Nothing to heal.\n" in capsys.readouterr().out


@pytest.fixture
def deribit(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> DeribitSimulator:
    """tests/test_apply.py's Deribit account, in process: eth_usd without a config,
    btc_usd looser than the policy (someone raised it on the web page), sol_usdc marked
    absent."""
    sim, _ = setup(in_tmp)
    (in_tmp / "policies" / "guardrails.yaml").write_text("heal:\n  enabled: true\n")
    _committed(in_tmp, monkeypatch)  # heal writes only committed policies of main
    monkeypatch.setenv("DERIBIT_MAIN_CLIENT_ID", "id-main")
    monkeypatch.setenv("DERIBIT_MAIN_CLIENT_SECRET", "s3cr3t-for-tests")
    real_connect = live.connect

    def connect(*args: Any, **kwargs: Any) -> Any:
        kwargs["transport"] = lambda venue: httpx.MockTransport(sim)
        return real_connect(*args[:3], **kwargs)

    monkeypatch.setattr(commands, "connect", connect)
    return sim


def test_a_refused_write_ends_heal_as_it_ends_apply(
    deribit: DeribitSimulator, in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The create goes first (protection on before anything else), then the tightening; the
    venue refuses the second: exit 3, the old config in force and said so, journaled."""

    def refuse_btc(method: str, params: dict[str, Any]) -> None:
        if method == "private/set_mmp_config" and params.get("index_name") == "btc_usd":
            raise RpcError(11029, "invalid_arguments", {"reason": "injected"})

    deribit.before_request = refuse_btc
    assert main(["heal", "--report", "heal.json"]) == 3  # sol_usdc's removal is left
    out = capsys.readouterr().out
    assert re.search(r"^  removal +deribit/main/sol_usdc: the policies mark it absent", out, re.M)
    assert "  applied                        deribit/main/eth_usd" in out
    assert "  FAILED (old config in force)   deribit/main/btc_usd" in out
    assert "Heal finished: 1 applied, 1 kept-old. Exit 3: partial; every scope has its old" in out
    report = json.loads((in_tmp / "heal.json").read_text())
    assert [(h["scope"], h["outcome"]) for h in report["healed"]] == [
        ("deribit/main/eth_usd", "applied"),
        ("deribit/main/btc_usd", "kept-old"),
    ]
    assert report["exit_code"] == 3 and "venue error 11029" in report["healed"][1]["detail"]
    journal = in_tmp / ".mmp" / "journal.jsonl"
    assert [r["exit_code"] for r in _records(journal, "apply-end")] == [3]
    deribit.before_request = None
    assert main(["heal"]) == 0  # the next run heals what is left
    assert "applied                        deribit/main/btc_usd" in capsys.readouterr().out
    plan = main(["plan", "--detailed-exitcode"])
    assert plan == 2 and "    - remove    deribit/main/sol_usdc" in capsys.readouterr().out


def test_heal_is_refused_while_another_run_holds_the_lock(
    deribit: DeribitSimulator, in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from reconciler.apply import runlock
    from reconciler.core import paths

    with runlock.RunLock(paths.state_dir(in_tmp / "policies"), "apply"):
        assert main(["heal"]) == 1
    err = capsys.readouterr().err
    assert "another mmp run holds the lock" in err and "`mmp apply`" in err
    assert "Only one apply, heal or unfreeze runs at a time per policy repository" in err
    assert deribit.requests == []  # nothing read, nothing sent

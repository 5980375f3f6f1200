"""The approved plan is the plan that runs: every way of editing a saved plan, or of applying
it somewhere else than where it was made, is refused naming what differs, and no request
reaches any venue; an edit apply does not refuse changes nothing it does."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.cli import main
from reconciler.core.errors import PlanFileError
from reconciler.core.model import LiveAccount, LiveScope, ScopeKey, fingerprint_of, live_digests
from reconciler.planning.approved import Approved, confirm
from reconciler.planning.planner import make_plan
from reconciler.planning.provenance import Provenance
from reconciler.policy.desired import AccountTarget, DesiredScope, DesiredState, Location
from reconciler.sandbox.store import Sandbox
from reconciler.simulators.server import serve
from reconciler.venues import capabilities
from tests.figures import Figures, line_of
from tests.procs import LiveDesk
from tests.venues import ROWS

ROOT = Path(__file__).resolve().parent.parent
Requests = list[tuple[str, str, str]]


def git(repo: Path, *args: str) -> None:
    identity = ["-c", "user.email=t@t", "-c", "user.name=t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", *identity, *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(in_tmp: Path) -> Path:
    """A policy repository (the example desk and its guardrails, committed), planned."""
    shutil.copytree(ROOT / "policies", in_tmp / "policies")
    (in_tmp / ".gitignore").write_text(".mmp/\nplan.json\n")
    git(in_tmp, "init", "-q")
    git(in_tmp, "add", "-A")
    git(in_tmp, "commit", "-q", "-m", "desk")
    assert main(["plan", "--sandbox", "--out", "plan.json"]) == 0
    return in_tmp


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Requests:
    """Every request that reaches a (sandbox) venue: (venue, method, path)."""
    seen: Requests = []
    real = Sandbox._handle

    def counting(self: Sandbox, venue: str, request: httpx.Request) -> httpx.Response:
        seen.append((venue, request.method, request.url.path))
        return real(self, venue, request)

    monkeypatch.setattr(Sandbox, "_handle", counting)
    return seen


def edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=1))


def step(data: dict[str, Any], scope: str) -> dict[str, Any]:
    return next(s for s in data["plan"]["steps"] if s["scope"] == scope)


def read(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The live accounts the saved plan holds scopes of (an account may have none yet)."""
    return [account for account in data["live"] if account["scopes"]]


def refused(capsys: pytest.CaptureFixture[str], sent: Requests, *args: str) -> str:
    capsys.readouterr()
    assert main(["apply", "plan.json", "--auto-approve", *args]) == 1
    assert sent == []  # refused before anything reached any venue
    err = capsys.readouterr().err
    assert err.startswith("error: plan.json: "), err
    return err


TAMPERS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "value": (
        lambda d: step(d, "deribit/deribit-main/btc_usd")["after"].update(quantity_limit="900"),
        'deribit/deribit-main/btc_usd: after.quantity_limit is "900" in the saved plan; '
        'the checkout gives "50"',
    ),
    "action": (
        lambda d: step(d, "deribit/deribit-main/btc_usd/MassQuoteBot7").update(action="update"),
        'deribit/deribit-main/btc_usd/MassQuoteBot7: action is "update" in the saved plan; '
        'the checkout gives "held"',
    ),
    "desired-digest": (
        lambda d: d.update(desired_digest="sha256:" + "0" * 64),
        "the desired state differs from the policies' (its digest does not match)",
    ),
    "guardrails": (
        lambda d: d["guardrails"]["rules"]["loosening"].update(limit_ratio="100"),
        'guardrail loosening: {"limit_ratio": "100"',
    ),
    "trips": (
        lambda d: d["plan"].update(trips=["made up"]),
        'its trips ["made up"]; the checkout gives []',
    ),
    "live": (
        lambda d: read(d)[0]["scopes"].pop(),
        "its digests",
    ),
    "misfiled": (  # digests are by scope: moving a record keeps them all
        lambda d: read(d)[1]["scopes"].append(read(d)[0]["scopes"].pop()),
        "its live state files ",
    ),
    "twice": (
        lambda d: read(d)[0]["scopes"].append(read(d)[0]["scopes"][0]),
        "more than once",
    ),
    "life": (  # a plan that would run for a year
        lambda d: d.update(expires_at="2099-01-01T00:00:00+00:00"),
        "mmp plan gives a plan from 1 minute to 7 days",
    ),
    "made-later": (
        lambda d: d.update(created_at="2099-01-01T00:00:00+00:00"),
        "UTC, later than now",
    ),
    "made-before-its-commit": (
        lambda d: d.update(created_at="2000-01-01T00:00:00+00:00", expires_at=d["expires_at"]),
        "before its commit",
    ),
    "commit": (
        lambda d: d["provenance"].update(commit="0" * 40),
        "it was made at commit 000000000000, the checkout is at",
    ),
    "dirty": (
        lambda d: d["provenance"].update(dirty=True),
        "the policies had uncommitted changes when it was made; none now",
    ),
    "outside-git": (
        lambda d: d["provenance"].update(commit=None),
        "it was made outside a Git repository and runs inside one",
    ),
    "folder": (
        lambda d: d["provenance"].update(policies="other-policies"),
        "it was made from the policies at other-policies, not policies",
    ),
}


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_an_edited_saved_plan_is_refused_naming_what_differs(
    repo: Path, sent: Requests, capsys: pytest.CaptureFixture[str], tamper: str
) -> None:
    change, said = TAMPERS[tamper]
    edit(repo / "plan.json", change)
    err = refused(capsys, sent)
    assert "refused; nothing was sent to any venue" in err
    assert said in err, err


def test_policies_changed_after_planning_are_refused(
    repo: Path, sent: Requests, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = repo / "policies" / "desk-alpha.yaml"
    policy.write_text(policy.read_text().replace("quantity_limit: 50\n", "quantity_limit: 45\n"))
    err = refused(capsys, sent)
    assert "the policies have uncommitted changes now; none when it was made" in err
    assert "the desired state differs from the policies'" in err
    assert "deribit/deribit-main/btc_usd: " in err and '"45"' in err  # the scope that moved
    git(repo, "commit", "-qam", "tighter")
    err = refused(capsys, sent)
    assert "it was made at commit" in err  # committed: another commit than the reviewed one


def test_guardrails_changed_or_gone_are_refused_never_defaulted(
    repo: Path, sent: Requests, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = repo / "policies" / "guardrails.yaml"
    text = rules.read_text()
    rules.write_text(text.replace("limit_ratio: 1.5", "limit_ratio: 100"))
    assert "guardrail loosening: " in refused(capsys, sent)
    rules.unlink()
    err = refused(capsys, sent)
    assert "checked against the guardrails of policies/guardrails.yaml; in front of apply" in err
    assert "the defaults (no guardrails file)" in err


def test_a_saved_plan_is_never_narrowed_by_a_filter(
    repo: Path, sent: Requests, capsys: pytest.CaptureFixture[str]
) -> None:
    for flags in (["--account", "deribit-main"], ["--venue", "binance"], ["--shard", "1/2"]):
        assert "cannot narrow it" in refused(capsys, sent, *flags)


def test_another_policies_folder_is_refused(
    repo: Path, sent: Requests, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(repo / "policies", repo / "copy")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a copy")
    capsys.readouterr()
    assert main(["plan", "--sandbox", "--out", "plan.json"]) == 0
    sent.clear()  # the plan read the venues; apply must not
    err = refused(capsys, sent, "--policies", "copy")
    assert "it was made from the policies at policies, not copy" in err


def test_made_outside_git_and_applied_inside(
    in_tmp: Path, sent: Requests, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(ROOT / "policies", in_tmp / "policies")
    assert main(["plan", "--sandbox", "--out", "plan.json"]) == 0
    sent.clear()
    git(in_tmp, "init", "-q")
    git(in_tmp, "add", "policies")
    git(in_tmp, "commit", "-q", "-m", "now in git")
    assert "made outside a Git repository and runs inside one" in refused(capsys, sent)


def test_the_saved_plan_shows_without_any_venue(
    repo: Path,
    sent: Requests,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    figures: Figures,
) -> None:
    capsys.readouterr()
    monkeypatch.setenv("MMP_SANDBOX", "0")
    assert main(["show", "plan.json"]) == 0
    shown = capsys.readouterr()
    assert shown.out.startswith("[sandbox: simulators, not venues] UNPROTECTED:")
    figures.check("sandbox.plan.summary", line_of(shown.out, "Plan: "))  # as it was planned
    assert "at commit " in shown.err and "apply takes it until" in shown.err
    assert main(["show", "plan.json", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["sandbox"] is True
    assert sent == []


def test_a_saved_plan_names_its_format(repo: Path) -> None:
    """The kind is the file's format name, read by other tools and by older mmp versions:
    moving code around must never change it."""
    saved = json.loads((repo / "plan.json").read_text(encoding="utf-8"))
    assert saved["kind"] == "mmp-reconciler/plan"


@pytest.mark.parametrize("value", ["maybe", "2", "ye s", "sandbox"])
def test_mmp_sandbox_takes_on_or_off_and_nothing_else(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("MMP_SANDBOX", value)
    capsys.readouterr()
    assert main(["plan"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: MMP_SANDBOX=") and "neither on (1, true, yes, on)" in err


@pytest.mark.parametrize("value", ["no", "OFF", "False", "0", ""])
def test_mmp_sandbox_off_never_turns_the_sandbox_on(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("MMP_SANDBOX", value)
    capsys.readouterr()
    assert main(["plan"]) == 1  # the real venues: and the desk's credentials are not set
    assert "environment variable" in capsys.readouterr().err


def test_endpoints_come_from_the_policies_never_from_the_file(tmp_path: Path) -> None:
    """A saved plan whose desired data names another host for an account: apply talks to
    the host the policies name (and nothing reaches the other one)."""
    key = ScopeKey("deribit", "dx", "btc_usd")
    want = ROWS["deribit"].sample(1)
    old = want.with_changes(quantity_limit=(want.quantity_limit or 0) * 2)
    trap: list[str] = []

    def hostile(request: httpx.Request) -> httpx.Response:
        trap.append(f"{request.method} {request.url.path}")
        return httpx.Response(500)

    with LiveDesk(tmp_path, {key: (want, old)}) as desk, serve(hostile) as elsewhere:
        assert desk.mmp("plan", "--out", "plan.json").code == 0
        path = desk.repo / "plan.json"
        edit(path, lambda d: d["desired"]["accounts"]["dx"].update(base_url=elsewhere))
        result = desk.mmp("apply", "plan.json", "--auto-approve")
        assert result.code == 0, result
        assert trap == [] and desk.live(key) == want


# ---- any single edit --------------------------------------------------------------------


def leaves(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(data, dict) and data:
        for key, value in data.items():
            yield from leaves(value, (*path, key))
    elif isinstance(data, list) and data:
        for index, value in enumerate(data):
            yield from leaves(value, (*path, index))
    else:
        yield path


def mutated(value: Any, pick: int) -> Any:
    options: list[Any] = [None, "x", 0, True, [], {}]
    if isinstance(value, bool):
        options.insert(0, not value)
    elif isinstance(value, int):
        options[:0] = [value + 1, -value]
    elif isinstance(value, str):
        options[:0] = [value + "0", value[:-1], value.upper()]
    options = [o for o in options if o != value or type(o) is not type(value)]
    return options[pick % len(options)]


SMALL = """\
accounts:
  deribit-main:
    venue: deribit
    environment: production
    credentials: DERIBIT_MAIN
    defaults: {window: 1s, frozen: 30s}
    mmp:
      btc_usd:
        default: {quantity_limit: 50, delta_limit: 20, max_quote_quantity: 25}
        MassQuoteBot7: {window: 60s, frozen: manual, quantity_limit: 3, max_quote_quantity: 2.5}
      eth_usd:
        default: {quantity_limit: 90, delta_limit: 35, max_quote_quantity: 40}
  deribit-hedge:      # written: deribit-main's are held, its frozen group in their reach
    venue: deribit
    environment: production
    credentials: DERIBIT_HEDGE
    defaults: {window: 1s, frozen: 30s}
    mmp:
      btc_usd:
        default:
          {window: 2s, frozen: 10s, quantity_limit: 10, delta_limit: 4, vega_limit: 3000,
           max_quote_quantity: 5}
      eth_usd:
        default: {quantity_limit: 90, delta_limit: 35, max_quote_quantity: 40}
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A small sandbox desk, planned once; its baseline apply recorded."""
    root = tmp_path_factory.mktemp("small")
    (root / "policies").mkdir()
    (root / "policies" / "desk.yaml").write_text(SMALL)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.delenv("MMP_SANDBOX", raising=False)
        assert main(["plan", "--sandbox", "--out", "plan.json", "-q"]) == 0
        pristine = (root / ".mmp" / "sandbox.json").read_text()
        saved = (root / "plan.json").read_text()
        code, writes, state = _apply(root, pristine, patch)
        assert code == 0 and writes
        yield {
            "root": root,
            "pristine": pristine,
            "saved": saved,
            "baseline": (code, writes, state),
        }


def _apply(root: Path, pristine: str, patch: pytest.MonkeyPatch) -> tuple[int, list[str], str]:
    (root / ".mmp" / "sandbox.json").write_text(pristine)
    writes: list[str] = []
    real = Sandbox._handle

    def recording(self: Sandbox, venue: str, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(("set_mmp_config", "reset_mmp")):
            body = json.loads(request.content)
            writes.append(json.dumps([body["method"], body["params"]], sort_keys=True))
        return real(self, venue, request)

    patch.setattr(Sandbox, "_handle", recording)
    code = main(["apply", "plan.json", "--auto-approve", "-q"])
    patch.setattr(Sandbox, "_handle", real)
    state = json.loads((root / ".mmp" / "sandbox.json").read_text())["deribit"]
    return code, writes, json.dumps(state["accounts"], sort_keys=True)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_single_edit_is_refused_or_changes_nothing_apply_does(
    small: dict[str, Any], data: st.DataObject
) -> None:
    saved = json.loads(small["saved"])
    paths = sorted(leaves(saved), key=repr)
    path = data.draw(st.sampled_from(paths), label="field")
    pick = data.draw(st.integers(0, 20), label="pick")
    target = saved
    for part in path[:-1]:
        target = target[part]
    if path:
        target[path[-1]] = mutated(target[path[-1]], pick)
    root = small["root"]
    (root / "plan.json").write_text(json.dumps(saved))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.delenv("MMP_SANDBOX", raising=False)
        code, writes, state = _apply(root, small["pristine"], patch)
    if code == 1 and not writes:
        return  # refused, nothing written
    assert (code, writes, state) == small["baseline"], f"edit at {path} changed what apply did"


def test_a_plan_whose_steps_the_fresh_read_does_not_give_is_refused() -> None:
    """The last line of defence: whatever the file says it saw, the steps must follow from
    the venues' own read just before the first write."""
    key = ScopeKey("deribit", "acct", "btc_usd")
    target = AccountTarget("acct", "deribit", "testnet", None, "ACCT", Location("p", 1, 1))
    wanted, held = ROWS["deribit"].sample(1), ROWS["deribit"].sample(2)
    desired = DesiredState({"acct": target}, {key: DesiredScope(key, wanted, target.where)})
    real = [LiveAccount("deribit", "acct", (LiveScope(key, held),))]
    claimed = [LiveAccount("deribit", "acct", (LiveScope(key, wanted),))]  # "nothing to do"
    plan = make_plan(desired, claimed, capabilities())
    approved = Approved(
        dataclasses.replace(
            plan, digests=live_digests(real), fingerprint=fingerprint_of(live_digests(real))
        ),
        desired,
        [target],
    )
    with pytest.raises(PlanFileError) as info:
        confirm(approved, real, capabilities())
    assert "yet gives other steps than the saved plan" in str(info.value)
    assert (
        'deribit/acct/btc_usd: action is "unchanged" in the saved plan; the venues\' read gives'
        in str(info.value)
    )
    confirm(
        dataclasses.replace(approved, plan=make_plan(desired, real, capabilities())),
        real,
        capabilities(),
    )


def test_an_ignored_file_in_the_policies_counts_as_an_uncommitted_change(repo: Path) -> None:
    """The loader reads every policy file, ignored by Git or not: such a file was never
    reviewed, so a plan that read one is made from uncommitted policies."""
    assert not Provenance.of(repo / "policies").dirty
    (repo / ".gitignore").write_text((repo / ".gitignore").read_text() + "policies/local*\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "ignore local policies")
    assert not Provenance.of(repo / "policies").dirty
    (repo / "policies" / "local.yaml").write_text("accounts: {}\n")
    assert Provenance.of(repo / "policies").dirty

"""What a real `mmp heal` reads: only the accounts guardrails.yaml `heal:` covers, each on its
own, so one account that cannot be read never stops the healing of the others nor hides
them (issue 19, red team 2: M1)."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.commands.github.drift import LABEL, Heal, report
from reconciler.core.model import ScopeKey
from reconciler.planning.plan import Plan
from reconciler.planning.render.heal import issue_sections
from reconciler.venues.bybit.simulator import BybitSimulator
from tests.procs import LiveDesk, credentials_prefix
from tests.test_github import _api, _fake
from tests.venues import ROWS

D2 = ScopeKey("deribit", "dm2", "btc_usd")  # declared, no config live: unprotected
O1 = ScopeKey("okx", "ok", "BTC-USD")  # declared, in force
DOWN = "http://127.0.0.1:9"  # nothing listens: the venue is unreachable


def _desk(tmp_path: Path) -> LiveDesk:
    want, okx = ROWS["deribit"].sample(1), ROWS["okx"].sample(1)
    return LiveDesk(tmp_path, {D2: (want, None), O1: (okx, okx)})


def _heal_setting(desk: LiveDesk, text: str) -> None:
    (desk.repo / "policies" / "guardrails.yaml").write_text(text, encoding="utf-8")
    desk.write_policy()  # the venues' addresses as they are now
    desk.commit("heal setting")


def test_an_unreadable_account_is_named_not_checked_and_the_others_are_healed(
    tmp_path: Path,
) -> None:
    report = tmp_path / "heal.json"
    with _desk(tmp_path) as desk:
        desk.urls["okx"] = DOWN
        _heal_setting(desk, "heal:\n  enabled: true\n")
        healed = desk.mmp("heal", "--report", str(report), timeout=120)
        assert healed.code == 4, healed  # never 0 while an account was not checked
        assert desk.live(D2) == ROWS["deribit"].sample(1)  # healed despite OKX
        out = healed.stdout
        assert "Heal: 1 to heal (1 to create); 0 left for a person; 1 account(s) NOT CHECKED" in out
        assert "NOT CHECKED: 1 account(s) heal did not read" in out
        assert "  okx/ok: " in out and "okx/ok: okx/ok" not in out  # named once
        assert "Exit 4: 1 account(s) not checked (okx/ok)" in out
        assert "Traceback" not in healed.stderr
        data = json.loads(report.read_text(encoding="utf-8"))
        assert data["exit_code"] == 4
        [unread] = data["not_checked"]
        assert unread["account"] == "okx/ok" and unread["why"]
        assert [item["scope"] for item in data["healed"]] == [str(D2)]
        assert [item["outcome"] for item in data["healed"]] == ["applied"]
        again = desk.mmp("heal", timeout=120)  # nothing left to heal; OKX still not checked
        assert again.code == 4, again
        assert "Nothing to heal." in again.stdout


def test_heal_reads_only_the_accounts_its_setting_covers(tmp_path: Path) -> None:
    """Narrowed to Deribit: OKX is never asked anything, and heal needs no OKX key."""
    with _desk(tmp_path) as desk:
        _heal_setting(desk, "heal:\n  enabled: true\n  venues: [deribit]\n")
        for name in [n for n in desk.env if n.startswith(credentials_prefix("ok") + "_")]:
            del desk.env[name]  # the heal job holds only the keys of accounts heal covers
        before = len(desk.seen("okx"))
        healed = desk.mmp("heal", timeout=120)
        assert healed.code == 0, healed
        assert desk.live(D2) == ROWS["deribit"].sample(1)
        assert len(desk.seen("okx")) == before  # not one request
        assert "Not read: 1 account(s) outside heal's venues/accounts (venues deribit): okx/ok" in (
            healed.stdout
        )
        assert "NOT CHECKED" not in healed.stdout


def test_a_selection_outside_what_heal_covers_reads_nothing(tmp_path: Path) -> None:
    with _desk(tmp_path) as desk:
        _heal_setting(desk, "heal:\n  enabled: true\n  accounts: [dm2]\n")
        before = len(desk.seen("okx"))
        refused = desk.mmp("heal", "--venue", "okx", timeout=120)
        assert refused.code == 1, refused
        assert "none of the accounts selected (okx/ok) is one heal covers (accounts dm2" in (
            refused.stderr
        )
        assert len(desk.seen("okx")) == before
        assert desk.live(D2) is None


def test_an_account_the_venue_has_not_enabled_mmp_for_is_not_checked(tmp_path: Path) -> None:
    """Bybit answers 110065 for an account whose MMP it has not enabled: that account is not
    checked (said why), and Deribit's unprotected scope is healed all the same."""
    bybit = ScopeKey("bybit", "by", "ETH")
    want = ROWS["deribit"].sample(1)
    scopes = {D2: (want, None), bybit: (ROWS["bybit"].sample(1), None)}
    sims = {"bybit": BybitSimulator(not_enabled_110065=True)}  # the docs' other reading
    with LiveDesk(tmp_path, scopes, sims=sims) as desk:
        sim = desk.sims["bybit"]
        with sim._lock:
            for account in sim.accounts.values():
                account.mmp_enabled = False
        _heal_setting(desk, "heal:\n  enabled: true\n")
        healed = desk.mmp("heal", timeout=120)
        assert healed.code == 4, healed
        assert desk.live(D2) == want
        [line] = [n for n in healed.stdout.splitlines() if n.startswith("  bybit/by: ")]
        assert "MMP is not enabled for this account" in line, line


def test_the_drift_issue_names_each_account_heal_did_not_check() -> None:
    report = {
        "healed": [],
        "left": [],
        "not_checked": [{"account": "okx/ok", "why": "okx did not answer: connection refused"}],
    }
    said = issue_sections(report, "https://example.invalid/run")
    assert said.startswith(
        "**Not checked by heal** ([the run](https://example.invalid/run)): 1 account(s) it "
        "did not read; none of their scopes was healed, and any of them may be unprotected:"
        "\n\n- `okx/ok`: okx did not answer: connection refused\n"
    )


def test_the_drift_issue_stays_open_while_heal_could_not_check_an_account() -> None:
    """The shards found nothing drifting (their read-only keys read the account), but heal
    could not read it (its trading key refused, say): the issue is opened, names it, and is
    not closed until a heal checks it."""
    fake = _fake()
    api = _api(fake)
    clean = Plan(steps=(), fingerprint="sha256:" + "0" * 64, accounts=("ok",))
    unread = {"account": "okx/ok", "why": "okx/ok: the key was refused"}
    said = issue_sections({"healed": [], "left": [], "not_checked": [unread]}, "https://run")
    heal = Heal(said, 0, ("okx/ok",))
    assert report(api, clean, "https://run", heal=heal).action == "opened"
    [issue] = fake.issues_labelled(LABEL)
    assert issue.title.endswith("(1 account(s) heal did not check)")
    assert "**Not checked by heal**" in issue.body and "- `okx/ok`: " in issue.body
    healed_all = Heal("", 1, ("okx/ok",))  # healed elsewhere: still not everything
    assert report(api, clean, "https://run", heal=healed_all).action == "updated"
    assert report(api, clean, "https://run", heal=Heal("", 0)).action == "closed"


def test_the_drift_issue_stays_open_while_heal_left_a_scope_without_mmp() -> None:
    """No shard plan shows a scope an unfinished run left bare that the policies no longer
    declare (it is neither declared nor live): heal's report names it bare, so the issue is
    opened and kept open (red team: it was closed as 'no drift' while heal exited 4)."""
    fake = _fake()
    api = _api(fake)
    clean = Plan(steps=(), fingerprint="sha256:" + "0" * 64, accounts=("bx",))
    taken = {"scope": "bullish/bx/BTC", "action": "create", "why": "taken, undeclared"}
    left = [{**taken, "detail": "no MMP config live: run abc took it away"}]
    said = issue_sections({"healed": [], "left": left}, "https://run")
    heal = Heal(said, 0, (), ("bullish/bx/BTC",))
    assert report(api, clean, "https://run", heal=heal).action == "opened"
    [issue] = fake.issues_labelled(LABEL)
    assert issue.title.endswith("(1 left without MMP by heal)")
    assert "- `bullish/bx/BTC`: " in issue.body and "taken, undeclared" in issue.body
    assert report(api, clean, "https://run", heal=Heal("", 1, (), ("bullish/bx/BTC",))).action == (
        "updated"
    )

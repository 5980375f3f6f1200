"""The drift issue of a run whose heal job ran: what it healed and what needs a person open
the issue; a run that healed everything there was says so and closes it at once; a heal job
that left no report is said, never taken as nothing to heal."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.commands.github.commands import healed
from reconciler.commands.github.drift import LABEL, Heal, report
from reconciler.core.errors import GitHubError
from reconciler.core.model import MmpConfig, ScopeKey
from reconciler.core.units import dumps_exact
from reconciler.planning.plan import Action, Direction, FieldChange, Plan, Step
from tests.test_github import _api, _fake

KEY = ScopeKey("deribit", "a", "btc_usd")
LOOSE = Step(
    ScopeKey("deribit", "a", "eth_usd"),
    Action.UPDATE,
    MmpConfig(1000, 30_000, Decimal(5)),
    MmpConfig(1000, 30_000, Decimal(8)),
    (FieldChange("quantity_limit", Decimal(5), Decimal(8), Direction.LOOSENING),),
)
REPORT = {
    "schema_version": 1,
    "healed": [
        {
            "scope": str(KEY),
            "action": "update",
            "reason": "every changed field tightens: quantity_limit 9 -> 5",
            "changes": [
                {"field": "quantity_limit", "before": "9", "after": "5", "direction": "tightening"}
            ],
            "outcome": "applied",
            "detail": "",
        }
    ],
    "left": [
        {
            "scope": "deribit/a/eth_usd",
            "action": "update",
            "why": "loosening",
            "detail": "loosens quantity_limit 5 -> 8",
        }
    ],
}


def _plan(steps: tuple[Step, ...]) -> Plan:
    return Plan(steps=steps, fingerprint="sha256:" + "0" * 64, accounts=("a",))


def test_the_issue_opens_with_what_was_healed_and_what_needs_a_person(tmp_path: Path) -> None:
    path = tmp_path / "heal.json"
    path.write_text(dumps_exact(REPORT))
    heal = healed(path, "https://run")
    assert heal.healed == 1
    fake = _fake()
    assert report(_api(fake), _plan((LOOSE,)), "https://run", heal=heal).action == "opened"
    [issue] = fake.issues_labelled(LABEL)
    assert issue.title == "MMP drift: 1 scope(s) differ from the policies (1 healed by this run)"
    assert issue.body.split("\n")[1:6] == [
        "**Healed** by this run ([the run](https://run)): 1 of 1 scope(s) put back as the "
        "policies declare them (`mmp heal`; its journal is in the `mmp-heal` artifact):",
        "",
        "- `deribit/a/btc_usd`: update, healed (quantity_limit 9 → 5)",
        "",
        "**Needs a person**: 1 scope(s) heal left as they are:",
    ]
    assert "- `deribit/a/eth_usd`: loosening (update): loosens quantity_limit 5 -> 8" in issue.body


def test_a_run_that_healed_everything_says_so_and_closes_the_issue() -> None:
    fake = _fake()
    heal = Heal("**Healed** by this run: ...\n\n", 2)
    assert report(_api(fake), _plan(()), "https://run", heal=heal).action == "closed"
    [issue] = fake.issues_labelled(LABEL, "closed")
    assert issue.title == "MMP drift: 2 scope(s) healed, nothing differs now"
    assert issue.body.startswith("<!-- mmp-reconciler:drift -->\n**Healed** by this run")
    assert "Healed 2 scope(s) in [this run](https://run); nothing differs. Closing." in [
        c.body for c in fake.comments_on(issue.number)
    ]
    # and an open issue is closed the same way, never a second one opened
    assert report(_api(fake), _plan((LOOSE,)), "https://run").action == "opened"
    assert report(_api(fake), _plan(()), "https://run", heal=heal).action == "closed"
    assert fake.issues_labelled(LABEL) == []
    # healed nothing, and nothing differs: as without healing
    assert report(_api(fake), _plan(()), "https://run", heal=Heal("", 0)).action == "none"


def test_a_heal_job_that_left_no_report_is_said(tmp_path: Path) -> None:
    heal = healed(tmp_path / "missing.json", "")
    assert heal.healed == 0
    assert heal.text.startswith("**Heal**: the heal job left no report: it was skipped (it ")
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 9}')
    with pytest.raises(GitHubError, match=r"bad.json: not a heal report of this mmp"):
        healed(bad, "")

"""The sticky comment, the drift issue and the comment budget, against the fake GitHub API."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.cli import main
from reconciler.commands.github.api import GitHubApi
from reconciler.commands.github.comment import upsert
from reconciler.commands.github.context import RunContext
from reconciler.commands.github.drift import LABEL, PENDING, merge, report
from reconciler.core.errors import GitHubError, ReconcilerError
from reconciler.core.model import FreezeState, MmpConfig, ScopeKey
from reconciler.planning.plan import Action, Direction, FieldChange, Plan, Step
from reconciler.planning.render.markdown import COMMENT_LIMIT, MARKER, document
from reconciler.simulators.server import serve
from tests.fakes.github import FakeGitHub

REPO = "desk/mmp-policies"
TOKEN = "ghs_testtoken"


def _api(fake: FakeGitHub, token: str = TOKEN) -> GitHubApi:
    ctx = RunContext("https://api.github.test", REPO, token, run_id="42")
    return GitHubApi(ctx, transport=httpx.MockTransport(fake))


def _fake(**tokens: str) -> FakeGitHub:
    fake = FakeGitHub(REPO, tokens=tokens or {TOKEN: "write"})
    fake.add_pull_request(7)
    return fake


def test_one_comment_found_by_marker_across_pages_and_edited_in_place() -> None:
    fake = _fake()
    for n in range(230):  # three pages of 100
        fake.add_comment(7, f"review comment {n}")
    fake.add_comment(7, f"> {MARKER}\n> quoted by a reviewer: not ours")
    api = _api(fake)
    assert upsert(api, 7, f"{MARKER}\nfirst").action == "created"
    assert upsert(api, 7, f"{MARKER}\nsecond").action == "updated"
    assert upsert(api, 7, f"{MARKER}\nsecond").action == "unchanged"
    ours = [c for c in fake.comments_on(7) if c.body.startswith(MARKER)]
    assert [c.body for c in ours] == [f"{MARKER}\nsecond"]
    assert fake.comments_on(7)[230].body.startswith("> ")  # the quote was left alone
    pages = [p for m, p in fake.requests if m == "GET"]
    assert any("page=3" in p for p in pages), pages


def test_a_read_only_token_gets_a_clear_refusal() -> None:
    fake = _fake(ghs_readonly="read")
    with pytest.raises(GitHubError) as caught:
        upsert(_api(fake, "ghs_readonly"), 7, f"{MARKER}\nplan")
    assert caught.value.status == 403
    assert "Resource not accessible by integration" in str(caught.value)
    assert "read-only token" in str(caught.value)


def test_github_limits_are_enforced_by_the_fake_and_reported() -> None:
    fake = _fake()
    with pytest.raises(GitHubError, match="body is too long"):
        _api(fake).create_comment(7, "x" * (COMMENT_LIMIT + 1))
    with pytest.raises(GitHubError, match="401 Bad credentials"):
        _api(fake, "ghs_wrong").create_comment(7, "hello")
    no_agent = httpx.Request("GET", f"https://x/repos/{REPO}/issues", headers={"user-agent": ""})
    assert fake(no_agent).status_code == 403


def test_a_next_page_link_off_the_api_host_is_not_followed() -> None:
    def hostile(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[], headers={"link": '<https://evil.test/x>; rel="next"'})

    ctx = RunContext("https://api.github.test", REPO, TOKEN)
    api = GitHubApi(ctx, transport=httpx.MockTransport(hostile))
    with pytest.raises(GitHubError, match=r"leaves https://api\.github\.test"):
        list(api.comments(7))


def _step(account: str, action: Action, loosening: bool = False) -> Step:
    before = MmpConfig(1000, 0, Decimal("10")) if action is not Action.CREATE else None
    after = MmpConfig(1000, 0, Decimal("20" if loosening else "5"))
    change = FieldChange(
        "quantity_limit",
        Decimal("10") if before else None,
        after.quantity_limit,
        Direction.LOOSENING if loosening else Direction.TIGHTENING,
    )
    return Step(ScopeKey("deribit", account, "btc_usd", None), action, before, after, (change,))


def _plan(accounts: list[str], steps: list[Step]) -> Plan:
    return Plan(steps=tuple(steps), fingerprint="sha256:" + "0" * 64, accounts=tuple(accounts))


def test_drift_issue_opened_updated_then_closed() -> None:
    fake = _fake()
    api = _api(fake)
    drifting = _plan(["a"], [_step("a", Action.UPDATE)])
    assert report(api, drifting, "https://run").action == "opened"
    assert report(api, drifting, "https://run").action == "updated"
    [issue] = fake.issues_labelled(LABEL)
    assert "`deribit/a/btc_usd`" in issue.body and issue.title.startswith("MMP drift: 1 scope")
    assert report(api, _plan(["a"], []), "https://run").action == "closed"
    assert fake.issues_labelled(LABEL) == []
    assert report(api, _plan(["a"], []), "https://run").action == "none"
    assert [p for m, p in fake.requests if m == "POST" and p.endswith("/issues")] == [
        f"/repos/{REPO}/issues"
    ]


def _held(account: str, held_action: Action) -> Step:
    step = _step(account, held_action)
    return Step(
        step.key,
        Action.HELD,
        step.before,
        step.after,
        step.changes,
        FreezeState(True),
        held_action=held_action,
    )


def test_drift_names_unprotected_first_and_held_pending_keeps_it_open() -> None:
    fake = _fake()
    api = _api(fake)
    steps = [  # in plan order
        _step("new", Action.CREATE),
        _step("moved", Action.UPDATE),
        _held("frozen", Action.UPDATE),
        _held("stuck", Action.CREATE),
    ]
    accounts = ["frozen", "moved", "new", "stuck"]
    assert report(api, _plan(accounts, steps), "https://run").action == "opened"
    [issue] = fake.issues_labelled(LABEL)
    assert issue.title == (
        "MMP drift: 4 scope(s) differ from the policies (2 unprotected, 2 held pending)"
    )
    lines = issue.body.splitlines()
    assert lines[1:6] == [
        "**UNPROTECTED**: 2 declared scope(s) have no MMP config live:",
        "",
        "- `deribit/new/btc_usd`",
        "- `deribit/stuck/btc_usd`: held (frozen)",
        "",
    ]
    assert lines[6:10] == [
        "**Pending**: 2 held scope(s) differ:",
        "",
        f"- `deribit/frozen/btc_usd`: {PENDING}",
        f"- `deribit/stuck/btc_usd`: {PENDING}",
    ]
    assert "- **Unprotected**: 2 scope(s)" in issue.body  # the plan's own first risk flag

    # Applied what could be: only held scopes differ. Still drift: updated, never closed.
    held_only = _plan(accounts, [_held("frozen", Action.UPDATE)])
    assert report(api, held_only, "https://run").action == "updated"
    [issue] = fake.issues_labelled(LABEL)
    assert issue.title == "MMP drift: 1 scope(s) differ from the policies (1 held pending)"
    assert "UNPROTECTED" not in issue.body
    assert f"- `deribit/frozen/btc_usd`: {PENDING}" in issue.body
    assert "| `!` | `deribit/frozen/btc_usd` | held |" in issue.body  # full plan, no one-liner
    assert not [c for c in fake.comments_on(issue.number) if "No drift" in c.body]

    # Unfrozen and applied: nothing differs, so the issue is closed.
    assert report(api, _plan(accounts, []), "https://run").action == "closed"
    assert fake.issues_labelled(LABEL) == []


def test_a_long_pending_list_is_cut_and_the_body_fits() -> None:
    fake = _fake()
    api = _api(fake)
    steps = [_held(f"f{n:04d}", Action.UPDATE) for n in range(3000)]
    steps += [_step(f"n{n:04d}", Action.CREATE) for n in range(60)]
    assert report(api, _plan([], steps), "https://run").action == "opened"
    [issue] = fake.issues_labelled(LABEL)
    assert issue.title.endswith("(60 unprotected, 3000 held pending)")
    assert "- and 10 more: see the plan below" in issue.body
    assert "- and 2,950 more: see the plan below" in issue.body
    assert len(issue.body.encode()) <= COMMENT_LIMIT


def test_shards_own_each_account_once_and_a_missing_shard_is_named_not_hidden() -> None:
    a, b = _plan(["a"], [_step("a", Action.UPDATE)]), _plan(["b"], [_step("b", Action.CREATE)])
    merged = merge([(Path("a.json"), a), (Path("b.json"), b)], ["a", "b"])
    assert [s.action for s in merged.plan.steps] == [Action.CREATE, Action.UPDATE]
    assert merged.unchecked == []
    partial = merge([(Path("a.json"), a)], ["a", "b", "c"])
    assert partial.unchecked == ["b", "c"] and partial.plan.accounts == ("a",)
    with pytest.raises(ReconcilerError, match="`a` is in two shard plans"):
        merge([(Path("a.json"), a), (Path("again.json"), a)], ["a"])
    filtered = Plan(steps=(), fingerprint="x", accounts=("a",), filters={"underlying": ["btc"]})
    with pytest.raises(ReconcilerError, match="filtered plan"):
        merge([(Path("f.json"), filtered)], ["a"])


def test_a_failed_shard_keeps_the_issue_open_and_the_others_still_report() -> None:
    fake = _fake()
    api = _api(fake)
    clean = _plan(["a"], [])
    result = report(api, clean, "https://run", unchecked=["b"])
    assert result.action == "opened"  # nothing drifted where we looked: still not closed
    [issue] = fake.issues_labelled(LABEL)
    assert issue.title.endswith("(1 account(s) not checked)")
    assert issue.body.startswith("<!-- mmp-reconciler:drift -->\n**Not checked**: 1 account(s)")
    assert "- `b`" in issue.body
    assert report(api, clean, "https://run").action == "closed"  # all checked: it closes


@settings(max_examples=25, deadline=None)
@given(
    creates=st.integers(0, 3000),
    loosening=st.integers(0, 50),
    limit=st.sampled_from([2_000, 20_000, COMMENT_LIMIT]),
)
def test_the_budget_cuts_details_never_the_summary(
    creates: int, loosening: int, limit: int
) -> None:
    steps = [_step(f"acct{n:05d}", Action.CREATE) for n in range(creates)]
    steps += [_step(f"loose{n:03d}", Action.UPDATE, loosening=True) for n in range(loosening)]
    plan = _plan([], steps)
    full = document(plan, link="https://run")
    body = document(plan, limit=limit, link="https://run")
    assert len(body.encode()) <= limit
    head = full.split("\n\n| |")[0]  # title, risk flags: everything before the table
    assert body.startswith(head) or not steps
    if body != full:
        assert "✂️ Cut to fit GitHub's" in body and "[the run](https://run)" in body
    if loosening:
        assert f"**Loosening**: {loosening} scope(s)" in body
    if creates:  # a create is a declared scope with no config live: the first risk flag
        first = next(line for line in body.splitlines() if line.startswith("- **"))
        assert first.startswith(f"- **Unprotected**: {creates} scope(s)")
        assert "`deribit/acct00000/btc_usd`" in first


def test_nothing_to_change_is_one_line() -> None:
    body = document(_plan(["a"], []))
    assert body == f"{MARKER}**MMP plan: no changes**; nothing declared.\n"


def _served_cli(
    fake: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, event: dict[str, object]
) -> tuple[int, Path]:
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(event))
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event_path))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_RUN_ID", "5")
    log = tmp_path / "plan.log"
    log.write_text("error: policies/desk.yaml:3:5: quantity_limit: not a number\n")
    with serve(fake) as url:
        monkeypatch.setenv("GITHUB_API_URL", url)
        code = main(["github", "comment", "--failed", str(log)])
    return code, summary


def test_a_fork_pull_request_is_refused_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = _fake(ghs_fork="read")
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_fork")
    event: dict[str, object] = {
        "pull_request": {"number": 7, "head": {"repo": {"full_name": "stranger/fork"}}}
    }
    code, summary = _served_cli(fake, tmp_path, monkeypatch, event)
    err = capsys.readouterr().err
    assert code == 1
    assert "comes from a fork" in err and "It is in the job summary" in err
    assert "ghs_fork" not in err
    assert "MMP plan failed" in summary.read_text()


def test_the_failure_comment_over_real_http(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = _fake()
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    event: dict[str, object] = {
        "pull_request": {"number": 7, "head": {"repo": {"full_name": REPO}}}
    }
    code, _ = _served_cli(fake, tmp_path, monkeypatch, event)
    assert code == 0, capsys.readouterr().err
    [comment] = fake.comments_on(7)
    assert "desk.yaml:3:5" in comment.body and "[the run](https://github.com/" in comment.body


def test_outside_github_actions_the_message_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("GITHUB_API_URL", "GITHUB_REPOSITORY", "GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert main(["github", "comment", "plan.json"]) == 1
    err = capsys.readouterr().err
    assert "GITHUB_TOKEN (pass it to the step" in err and "GITHUB_REPOSITORY" in err


def test_a_re_run_is_the_re_runners_doing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A forced dispatch re-run by someone else is theirs: the journal and the reviewers'
    warning name GITHUB_TRIGGERING_ACTOR, and GITHUB_ACTOR only when it is not set."""
    from reconciler.apply.journal import who
    from reconciler.commands.github.context import RunContext

    monkeypatch.setenv("GITHUB_ACTOR", "first-dispatcher")
    assert who() == "github:first-dispatcher"
    monkeypatch.setenv("GITHUB_TRIGGERING_ACTOR", "re-runner")
    assert who() == "github:re-runner"
    assert RunContext.from_env(api=False).actor == "re-runner"

"""The heal job writes nothing more once the heal branch has moved since its policies were
read, or once that cannot be known (issue 19, the stale checkout; healbranch.py).

`mmp github heal`, run as the heal job runs it, against tests/test_apply.py's Deribit account
in process (eth_usd to create, then btc_usd to tighten: two steps of one account, in that
order) and a fake GitHub on loopback whose `main` a test moves at the right moment."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.cli import main
from reconciler.commands import run as commands
from reconciler.commands.healbranch import BranchWatch
from reconciler.core.units import loads_exact
from reconciler.planning.render.heal import issue_sections
from reconciler.simulators.server import serve
from reconciler.venues import live
from reconciler.venues.deribit.simulator import DeribitSimulator
from tests.fakes.github import FakeGitHub
from tests.test_apply import configs, setup
from tests.test_heal import _committed, _git

REPOSITORY = "desk/mmp-policies"
TOKEN = "ghs_healbranchtoken01"
NEWER = "0123456789abcdef0123456789abcdef01234567"  # main after a merge
SEEDED = {"btc_usd": Decimal(9), "sol_usdc": Decimal(9)}  # the venue before heal
HEALED = {**SEEDED, "btc_usd": 5, "eth_usd": Decimal("0.1")}  # after both steps


@pytest.fixture
def fake() -> Iterator[tuple[FakeGitHub, str]]:
    github = FakeGitHub(REPOSITORY, tokens={TOKEN: "write"})
    with serve(github) as api_url:
        yield github, api_url


@pytest.fixture
def desk(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, fake: tuple[FakeGitHub, str]
) -> tuple[DeribitSimulator, FakeGitHub, str]:
    """The Deribit account (heal enabled, committed on main), the heal job's environment,
    and GitHub's `main` at the checkout's commit: (simulator, fake GitHub, that commit)."""
    sim, _ = setup(in_tmp)
    (in_tmp / "policies" / "guardrails.yaml").write_text("heal:\n  enabled: true\n")
    _committed(in_tmp, monkeypatch)
    commit = _git(in_tmp, "rev-parse", "HEAD")
    github, api_url = fake
    github.branches["main"] = commit
    for name, value in {
        "DERIBIT_MAIN_CLIENT_ID": "id-main",
        "DERIBIT_MAIN_CLIENT_SECRET": "s3cr3t-for-tests",
        "GITHUB_API_URL": api_url,
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_SHA": commit,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    real_connect = live.connect

    def connect(*args: Any, **kwargs: Any) -> Any:
        kwargs["transport"] = lambda venue: httpx.MockTransport(sim)
        return real_connect(*args[:3], **kwargs)

    monkeypatch.setattr(commands, "connect", connect)
    return sim, github, commit


def _heal_job(root: Path) -> tuple[int, str, dict[str, Any], list[dict[str, Any]]]:
    """`mmp github heal .mmp/heal`: (exit, what it printed, heal.json, journal records)."""
    folder = root / ".mmp" / "heal"
    code = main(["github", "heal", str(folder)])
    report = json.loads((folder / "heal.json").read_text())
    lines = (folder / "journal.jsonl").read_text().splitlines()
    return code, (folder / "heal.txt").read_text(), report, [loads_exact(x) for x in lines]


def _move_at(github: FakeGitHub, read: int) -> Callable[[int], None]:
    def move(number: int) -> None:
        if number == read:
            github.branches["main"] = NEWER  # a merge lands just before this read

    return move


def _events(records: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [r for r in records if r["event"] == event]


def test_main_not_moved_heals_as_before_asking_before_each_write(
    desk: tuple[DeribitSimulator, FakeGitHub, str], in_tmp: Path
) -> None:
    sim, github, commit = desk
    code, said, report, records = _heal_job(in_tmp)
    assert code == 0, said
    assert configs(sim) == HEALED
    assert github.ref_reads == 2  # one answer before each of the two writes
    assert ("GET", f"/repos/{REPOSITORY}/git/ref/heads/main") in github.requests
    assert report["branch"] == {
        "name": "main",
        "read_at": commit,
        "checks": 2,
        "moved_to": None,
        "unknown": None,
    }
    assert not _events(records, "branch-moved") and not _events(records, "branch-unknown")
    assert "moved from" not in said and "Heal finished: 2 applied. Exit 0" in said


def test_main_moved_before_the_first_write_writes_nothing(
    desk: tuple[DeribitSimulator, FakeGitHub, str], in_tmp: Path
) -> None:
    """A merge lands after heal read the venues and planned, before its first write: the
    venue is as it was, and the journal, the report and the drift issue say so; exit 4, as
    the scope to create is still without MMP."""
    sim, github, commit = desk
    github.on_ref = _move_at(github, 1)
    code, said, report, records = _heal_job(in_tmp)
    assert code == 4, said
    assert configs(sim) == SEEDED and "private/set_mmp_config" not in sim.requests
    moved = f"`main` moved from {commit[:7]} to {NEWER[:7]} while heal planned: nothing (more)"
    assert moved + " written; the next scheduled run heals from the new policies." in said
    assert (
        "Heal finished: 2 not-run. Exit 4: 1 scope(s) may be without MMP after heal: "
        "deribit/main/eth_usd (why: above). A person must act.\n" in said
    )
    assert said.count("Exit ") == 1  # one exit line
    [record] = _events(records, "branch-moved")
    assert (record["branch"], record["read_at"], record["now"]) == ("main", commit, NEWER)
    assert report["exit_code"] == 4 and _events(records, "apply-end")[0]["exit_code"] == 4
    assert report["branch"]["moved_to"] == NEWER and report["branch"]["read_at"] == commit
    assert {h["outcome"] for h in report["healed"]} == {"not-run"}
    assert all(f"moved from {commit[:7]} to {NEWER[:7]}" in h["detail"] for h in report["healed"])
    assert github.ref_reads == 1  # once moved, no step asks again
    issue = issue_sections(report, "https://run")
    assert issue.startswith(
        f"**Heal stopped**: `main` moved from {commit[:7]} to {NEWER[:7]} while heal planned "
        "([the run](https://run)): nothing (more) was written from the older policies; the "
        "next scheduled run heals from the new ones.\n"
    )
    assert "0 of 2 scope(s) put back" in issue and "NOT healed (not-run)" in issue


def test_main_moved_after_the_first_write_lets_it_stand_and_sends_no_second(
    desk: tuple[DeribitSimulator, FakeGitHub, str], in_tmp: Path
) -> None:
    sim, github, commit = desk
    github.on_ref = _move_at(github, 2)
    code, said, report, records = _heal_job(in_tmp)
    assert code == 3, said  # partial; every scope has its old or its new config
    assert configs(sim) == {**SEEDED, "eth_usd": Decimal("0.1")}  # the create stands
    assert sim.requests.count("private/set_mmp_config") == 1
    assert [(h["scope"], h["outcome"]) for h in report["healed"]] == [
        ("deribit/main/eth_usd", "applied"),
        ("deribit/main/btc_usd", "not-run"),
    ]
    assert f"`main` moved from {commit[:7]} to {NEWER[:7]} while heal planned" in said
    assert "Heal finished: 1 applied, 1 not-run. Exit 3" in said
    [record] = _events(records, "branch-moved")
    assert record["now"] == NEWER
    [skipped] = _events(records, "step-skipped")
    assert skipped["scope"] == "deribit/main/btc_usd" and "moved from" in skipped["reason"]
    [verified] = [r for r in _events(records, "step-end") if r["outcome"] == "applied"]
    assert verified["scope"] == "deribit/main/eth_usd"


def _answer(status: int, body: bytes) -> Callable[[int], httpx.Response]:
    return lambda number: httpx.Response(status, content=body)


@pytest.mark.parametrize(
    ("fault", "why"),
    [
        ("token", "GitHub refused GET /repos/desk/mmp-policies/git/ref/heads/main: 401 Bad"),
        ("500", "GitHub refused GET /repos/desk/mmp-policies/git/ref/heads/main: 500"),
        ("garbage", "answered GET /repos/desk/mmp-policies/git/ref/heads/main with something"),
        ("tag", "with something not a branch's commit"),
        ("unknown branch", "404, no branch `main` in desk/mmp-policies"),
        ("no network", "cannot reach GitHub at http://127.0.0.1:"),
    ],
)
def test_no_usable_answer_writes_nothing_and_says_it_cannot_know(
    desk: tuple[DeribitSimulator, FakeGitHub, str],
    in_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
    why: str,
) -> None:
    sim, github, commit = desk
    if fault == "token":
        monkeypatch.setenv("GITHUB_TOKEN", "ghs_expiredtoken00001")
    elif fault == "500":
        github.on_ref = _answer(500, b'{"message": "Server Error"}')
    elif fault == "garbage":
        github.on_ref = _answer(200, b"<html>unicorn</html>")
    elif fault == "tag":
        body = {"ref": "refs/heads/main", "object": {"type": "tag", "sha": commit}}
        github.on_ref = _answer(200, json.dumps(body).encode())
    elif fault == "unknown branch":
        del github.branches["main"]
    else:
        with serve(FakeGitHub()) as gone:
            pass  # its port is closed now
        monkeypatch.setenv("GITHUB_API_URL", gone)
    code, said, report, records = _heal_job(in_tmp)
    assert code == 4, said  # nothing written: the scope to create is still without MMP
    assert configs(sim) == SEEDED and "private/set_mmp_config" not in sim.requests
    cannot = f"Cannot know whether `main` moved since heal read its policies at {commit[:7]}: "
    assert cannot in said
    assert why in said and "Nothing (more) written, to be safe." in said
    [record] = _events(records, "branch-unknown")
    assert why in record["why"] and record["read_at"] == commit
    assert report["branch"]["unknown"] == record["why"] and report["branch"]["moved_to"] is None
    assert {h["outcome"] for h in report["healed"]} == {"not-run"}
    assert issue_sections(report).startswith(
        "**Heal stopped**: heal could not know whether `main` moved since it read its "
        f"policies at {commit[:7]} ("
    )
    assert "ghs_expiredtoken" not in said + json.dumps(report)


def test_a_checkout_not_at_the_runs_commit_or_no_token_is_refused_before_reading(
    desk: tuple[DeribitSimulator, FakeGitHub, str],
    in_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sim, github, commit = desk
    monkeypatch.setenv("GITHUB_SHA", NEWER)
    assert main(["github", "heal", str(in_tmp / ".mmp" / "heal")]) == 1
    err = capsys.readouterr().err
    assert f"the checkout is at {commit[:12]}, but the run was started at {NEWER[:12]}" in err
    assert "nothing was read or sent" in err
    monkeypatch.setenv("GITHUB_SHA", commit)
    monkeypatch.delenv("GITHUB_TOKEN")
    assert main(["github", "heal", str(in_tmp / ".mmp" / "heal")]) == 1
    err = capsys.readouterr().err
    assert "checks with GitHub, before each write, that the heal branch has not moved" in err
    assert "GITHUB_TOKEN (pass it to the step" in err and "Nothing was read or sent" in err
    assert sim.requests == [] and github.ref_reads == 0


def test_on_a_terminal_heal_asks_no_one(
    desk: tuple[DeribitSimulator, FakeGitHub, str], in_tmp: Path
) -> None:
    sim, github, _ = desk
    github.branches["main"] = NEWER  # would stop the heal job; a person's run is not asked
    assert main(["heal", "--report", "heal.json"]) == 0
    assert configs(sim) == HEALED and github.requests == []
    assert "branch" not in json.loads((in_tmp / "heal.json").read_text())


def test_steps_asking_together_share_an_answer_asked_for_after_them() -> None:
    """Accounts heal side by side: their checks share one request, never an older one."""
    import asyncio

    asked: list[str] = []

    def ask(branch: str) -> str:
        asked.append(branch)
        return "a" * 40

    watch = BranchWatch(ask, "a" * 40)
    assert watch.begin("main", None) == ""

    async def together() -> list[str]:
        return list(await asyncio.gather(*(watch.check() for _ in range(5))))

    assert asyncio.run(together()) == [""] * 5
    assert 1 <= len(asked) <= 2 and watch.checks == len(asked)
    assert asyncio.run(watch.check()) == "" and len(asked) == watch.checks  # a later one asks
    assert watch.checks >= 2

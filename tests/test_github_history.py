"""The journals of earlier workflow runs, carried from run to run (mmp-journal artifacts):
which artifacts are read, how they merge, what is kept, and what is said when they cannot
be read. Against the fake GitHub on loopback; its artifact storage is another origin."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reconciler.apply import recovery
from reconciler.commands.github import history
from reconciler.simulators.server import serve
from tests.fakes.github import FakeGitHub

REPOSITORY = "desk/mmp-policies"
TOKEN = "ghs_historytoken0001"
NOW = dt.datetime.now(dt.UTC)
LIVE = {"quantity_limit": "5"}


def _record(run: str, event: str, days_ago: float = 0, **fields: object) -> str:
    when = (NOW - dt.timedelta(days=days_ago)).isoformat(timespec="milliseconds")
    return json.dumps({"ts": when, "run": run, "event": event, **fields}, sort_keys=True)


def _journal(*lines: str) -> bytes:
    return "".join(f"{line}\n" for line in lines).encode()


@pytest.fixture
def fake() -> Iterator[tuple[FakeGitHub, dict[str, str]]]:
    github = FakeGitHub(REPOSITORY, tokens={TOKEN: "read"})
    with serve(github) as url:
        env = {"GITHUB_API_URL": url, "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_TOKEN": TOKEN}
        yield github, env


def test_the_newest_journals_of_this_branch_are_merged_in_order_without_the_token(
    fake: tuple[FakeGitHub, dict[str, str]], tmp_path: Path
) -> None:
    """Only this repository's runs on the branch, not expired, are read; the newest three
    (by their time, whatever order GitHub lists them in), oldest first, lines said twice
    (a journal carried forward holds the one before it) kept once; the storage never sees
    the token."""
    github, env = fake
    a, b, c = _record("a", "apply-start"), _record("b", "apply-start"), _record("c", "heal")
    github.upload("mmp-journal", {"journal.jsonl": _journal(a)}, run_id=11)
    github.upload("mmp-journal", {"journal.jsonl": _journal(a, b)}, run_id=12)
    github.upload("mmp-journal", {"journal.jsonl": _journal("forged")}, 13, head_branch="x")
    github.upload("mmp-journal", {"journal.jsonl": _journal("forked")}, 14, head_repository_id=9)
    github.upload("mmp-journal", {"journal.jsonl": _journal("old")}, run_id=15, expired=True)
    github.upload("mmp-plan", {"journal.jsonl": _journal("not a journal artifact")}, run_id=16)
    github.upload("mmp-journal", {"apply.txt": b"refused before it began"}, run_id=17)
    github.upload("mmp-journal", {"journal.jsonl": _journal(a, b, c)}, run_id=18)
    github.upload("mmp-journal", {"journal.jsonl": _journal(a, c)}, run_id=19)
    journal = tmp_path / ".mmp" / "journal.jsonl"

    carried = history.carry(env, journal, "main")

    assert carried.unknown is None
    assert carried.runs == ("run 12", "run 18", "run 19")  # 17 has no journal; 11 older
    assert journal.read_text().splitlines() == [a, b, c]
    assert carried.records == 3
    assert github.storage_tokens == []  # the token stays with the API
    zips = [p for m, p in github.requests if p.endswith("/zip")]
    assert len(zips) == 4  # 19, 18, 17 (no journal in it), 12


def test_what_is_here_already_comes_after_the_history(
    fake: tuple[FakeGitHub, dict[str, str]], tmp_path: Path
) -> None:
    github, env = fake
    github.upload("mmp-journal", {"journal.jsonl": _journal(_record("a", "x"))}, run_id=1)
    journal = tmp_path / "journal.jsonl"
    journal.write_text(_record("here", "y") + "\n")
    history.carry(env, journal, "main")
    assert [json.loads(x)["run"] for x in journal.read_text().splitlines()] == ["a", "here"]


def test_old_finished_runs_are_dropped_unfinished_runs_and_each_accounts_last_config_kept(
    tmp_path: Path,
) -> None:
    lines = [
        _record("old", "apply-start", 40),
        _record("old", "step-end", 40, scope="okx/okx-mm/BTC-USD", outcome="applied", live=LIVE),
        _record("old", "step-end", 40, scope="okx/okx-mm/ETH-USD", outcome="applied", live=LIVE),
        _record("old", "apply-end", 40, exit_code=0),
        _record("killed", "apply-start", 50),
        _record("killed", "step-begin", 50, scope="bullish/bullish-mm/BTC", action="replace"),
        _record("killed", "reset-sent", 50, scope="bullish/bullish-mm/BTC"),
        _record("new", "apply-start", 1),
        _record("new", "apply-end", 1, exit_code=0),
        "{cut short",
    ]
    path = tmp_path / "journal.jsonl"
    path.write_text("".join(f"{line}\n" for line in lines))
    assert recovery.open_run_ids(path) == {"killed"}
    kept = history.compact(lines, {"killed"}, NOW)
    assert kept == [lines[2], *lines[4:]]


@pytest.mark.parametrize(
    ("break_it", "said"),
    [
        ("forbidden", "403"),
        ("storage", "its storage answered 500"),
        ("not a zip", "File is not a zip file"),
        ("no branch", "GITHUB_REF_NAME is not set"),
        ("no token", "GITHUB_TOKEN"),
    ],
)
def test_history_that_cannot_be_read_is_said_and_nothing_is_guessed(
    fake: tuple[FakeGitHub, dict[str, str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    break_it: str,
    said: str,
) -> None:
    github, env = fake
    github.upload("mmp-journal", {"journal.jsonl": _journal(_record("a", "x"))}, run_id=1)
    branch = "main"
    if break_it == "forbidden":
        github.tokens[TOKEN] = "no-actions"
    elif break_it == "storage":
        github.on_artifact = lambda _: httpx.Response(500)
    elif break_it == "not a zip":
        github.on_artifact = lambda _: httpx.Response(200, content=b"PK but not really")
    elif break_it == "no branch":
        branch = ""
    else:
        env = {k: v for k, v in env.items() if k != "GITHUB_TOKEN"}
    journal = tmp_path / "journal.jsonl"
    carried = history.carry(env, journal, branch)
    assert carried.unknown is not None and said in carried.unknown, carried.unknown
    assert not journal.exists()  # nothing written from a history half read
    err = capsys.readouterr().err
    assert "could not be read" in err and "is not known to this run" in err
    assert TOKEN not in err


def test_a_journal_this_run_added_nothing_to_is_not_kept_again(
    fake: tuple[FakeGitHub, dict[str, str]], tmp_path: Path
) -> None:
    github, env = fake
    github.upload("mmp-journal", {"journal.jsonl": _journal(_record("a", "x"))}, run_id=1)
    quiet, busy = tmp_path / "quiet.jsonl", tmp_path / "busy.jsonl"
    first, second = history.carry(env, quiet, "main"), history.carry(env, busy, "main")
    with busy.open("a") as handle:
        handle.write(_record("b", "apply-start") + "\n")
    first.settle()
    second.settle()
    assert not quiet.exists() and busy.exists()

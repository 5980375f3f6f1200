"""The journals of earlier workflow runs, carried from run to run (mmp-journal artifacts):
which artifacts are read, how they merge, what is kept, and what is said when they cannot
be read. Against the fake GitHub on loopback; its artifact storage is another origin."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from reconciler.apply import journal, recovery
from reconciler.commands.github import history
from reconciler.commands.github.api import GitHubApi
from reconciler.commands.github.context import RunContext
from reconciler.core.errors import GitHubError
from reconciler.simulators.server import serve
from tests.fakes.github import MAIN_SHA, FakeGitHub

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
    github.branches["main"] = MAIN_SHA
    with serve(github) as url:
        env = {"GITHUB_API_URL": url, "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_TOKEN": TOKEN}
        yield github, env


def _kept(*lines: str, whole: bool = True) -> bytes:
    """A run's journal as it kept it: what it read, its mark, its own records."""
    mark = json.dumps(
        {"event": "history", "run": "history-x", "ts": NOW.isoformat(), "whole": whole}
    )
    return _journal(*lines[:-1], mark, lines[-1]) if lines else _journal(mark)


def test_the_newest_whole_histories_of_our_runs_on_the_branch_are_merged_without_the_token(
    fake: tuple[FakeGitHub, dict[str, str]], tmp_path: Path
) -> None:
    """Only this repository's runs of our workflows on the branch, at a commit on it, not
    expired, are read: the newest until three whole histories are in (by their time, not
    GitHub's list order), oldest first, each line once; the storage never sees the token."""
    github, env = fake
    a, b, c = _record("a", "apply-start"), _record("b", "apply-start"), _record("c", "heal")
    github.upload("mmp-journal", {"journal.jsonl": _kept(a)}, run_id=11)
    github.upload("mmp-journal", {"journal.jsonl": _kept(a, b)}, run_id=12)
    github.upload("mmp-journal", {"journal.jsonl": _journal("forged")}, 13, head_branch="x")
    github.upload("mmp-journal", {"journal.jsonl": _journal("forked")}, 14, head_repository_id=9)
    github.upload("mmp-journal", {"journal.jsonl": _journal("old")}, run_id=15, expired=True)
    github.upload("mmp-plan", {"journal.jsonl": _journal("not a journal artifact")}, run_id=16)
    github.upload("mmp-journal", {"apply.txt": b"refused before it began"}, run_id=17)
    github.upload("mmp-journal", {"journal.jsonl": _kept(a, b, c)}, run_id=18)
    github.upload("mmp-journal", {"journal.jsonl": _kept(a, c)}, run_id=19)
    github.runs[20] = {**github.runs[19], "path": ".github/workflows/tests.yml"}
    github.upload("mmp-journal", {"journal.jsonl": _journal("another workflow's")}, run_id=20)
    github.runs[21] = {**github.runs[19], "head_sha": "f" * 40}  # a tag named main
    github.upload("mmp-journal", {"journal.jsonl": _journal("not on main")}, run_id=21)
    journal = tmp_path / ".mmp" / "journal.jsonl"

    carried = history.carry(env, journal, "main")

    assert carried.unknown is None
    assert carried.warning  # what the two untrusted runs journaled is not known: said
    assert carried.runs == ("run 12", "run 18", "run 19")  # 17 has no journal; 11 older
    assert carried.foreign == 2  # 20 and 21: read by no one
    lines = journal.read_text().splitlines()
    assert [x for x in lines if '"history"' not in x] == [a, b, c]
    assert json.loads(lines[-1])["whole"] is False  # its own mark, last: not all was read
    assert github.storage_tokens == []  # the token stays with the API
    zips = [p for m, p in github.requests if p.endswith("/zip")]
    assert len(zips) == 4  # 19, 18, 17 (no journal in it), 12


def test_runs_that_could_not_read_their_history_are_read_past_to_a_whole_one(
    fake: tuple[FakeGitHub, dict[str, str]], tmp_path: Path
) -> None:
    """A run whose own history read failed kept its records only: newer such artifacts are
    read and more, back to whole ones; past LOOK_AT without one, it is said."""
    github, env = fake
    old = _record("old", "apply-start")
    github.upload("mmp-journal", {"journal.jsonl": _kept(old)}, run_id=1)
    for n in range(2, 7):
        github.upload("mmp-journal", {"journal.jsonl": _journal(_record(f"r{n}", "x"))}, n)
    journal = tmp_path / "journal.jsonl"
    carried = history.carry(env, journal, "main")
    assert carried.runs[0] == "run 1" and len(carried.runs) == 6 and not carried.warning
    assert old in journal.read_text()
    for n in range(7, 8 + history.LOOK_AT):
        github.upload("mmp-journal", {"journal.jsonl": _journal(_record(f"r{n}", "x"))}, n)
    again = history.carry(env, tmp_path / "again.jsonl", "main")
    assert again.warning and not again.whole
    assert "None of the newest 30 artifacts holds a whole history" in again.line()
    assert json.loads((tmp_path / "again.jsonl").read_text().splitlines()[-1])["whole"] is False


def test_an_artifact_whose_commit_github_cannot_compare_is_passed_over_not_all(
    fake: tuple[FakeGitHub, dict[str, str]], tmp_path: Path
) -> None:
    """GitHub answers 404 comparing one artifact's commit (main was rewritten and the commit
    is gone): that artifact is skipped and named, the others are read."""
    github, env = fake
    github.upload("mmp-journal", {"journal.jsonl": _kept(_record("a", "x"))}, run_id=1)
    github.upload("mmp-journal", {"journal.jsonl": _kept(_record("b", "x"))}, run_id=2)
    github.runs[2] = {**github.runs[2], "head_sha": "e" * 40}
    github.gone.add("e" * 40)
    carried = history.carry(env, tmp_path / "journal.jsonl", "main")
    assert carried.unknown is None and carried.runs == ("run 1",)
    assert carried.skipped[0].startswith(
        "run 2 (GitHub refused GET /repos/desk/mmp-policies/compare/"
    )
    assert "not (or no longer) in the repository" in carried.skipped[0]


def test_what_is_here_already_comes_after_the_history(
    fake: tuple[FakeGitHub, dict[str, str]], tmp_path: Path
) -> None:
    github, env = fake
    github.upload("mmp-journal", {"journal.jsonl": _kept(_record("a", "x"))}, run_id=1)
    journal = tmp_path / "journal.jsonl"
    journal.write_text(_record("here", "y") + "\n")
    history.carry(env, journal, "main")
    runs = [json.loads(x)["run"] for x in journal.read_text().splitlines()]
    assert runs[:2] == ["history-x", "a"] and runs[2] == "here"


def test_records_dated_ahead_are_dropped_and_counted(
    fake: tuple[FakeGitHub, dict[str, str]], tmp_path: Path
) -> None:
    github, env = fake
    ahead = _record("f", "set-sent", days_ago=-365, scope="bullish/bullish-mm/BTC")
    github.upload("mmp-journal", {"journal.jsonl": _kept(_record("a", "x"), ahead)}, 1)
    journal = tmp_path / "journal.jsonl"
    carried = history.carry(env, journal, "main")
    assert carried.dropped == 1 and ahead not in journal.read_text()
    assert "Dropped: 1 record(s) dated ahead of now." in carried.line()


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
    kept = history.compact([(x, journal.parse(x)) for x in lines], {"killed"}, NOW)
    assert kept == [lines[2], *lines[4:]]


@pytest.mark.parametrize(
    ("break_it", "said"),
    [
        ("forbidden", "403"),
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


@pytest.mark.parametrize(
    ("archive", "said"),
    [
        (httpx.Response(500), "its storage answered 500"),
        (httpx.Response(200, content=b"PK but not really"), "BadZipFile"),
        ("corrupt", "not a readable zip"),
        ("encrypted", "not a readable zip (RuntimeError"),
        ("method", "not a readable zip (NotImplementedError"),
    ],
)
def test_an_artifact_that_cannot_be_read_is_passed_over_and_named(
    fake: tuple[FakeGitHub, dict[str, str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    archive: httpx.Response | str,
    said: str,
) -> None:
    """A damaged, hostile or unreachable artifact is skipped, named with why, and the ones
    before it are read: it never stops the step nor hides the rest."""
    github, env = fake
    older = _record("older", "apply-start")
    github.upload("mmp-journal", {"journal.jsonl": _kept(older)}, run_id=1)
    bad = github.upload("mmp-journal", {"journal.jsonl": _kept(_record("b", "x"))}, run_id=2)
    if isinstance(archive, str):
        bad.archive = _damaged(bad.archive, archive)
    else:
        github.on_artifact = lambda a: archive if a is bad else None
    journal = tmp_path / "journal.jsonl"
    carried = history.carry(env, journal, "main")
    assert carried.unknown is None and carried.runs == ("run 1",)
    assert (
        carried.skipped and carried.skipped[0].startswith("run 2 (") and said in carried.skipped[0]
    )
    assert older in journal.read_text() and carried.warning
    assert json.loads(journal.read_text().splitlines()[-1])["whole"] is False
    err = capsys.readouterr().err
    assert "Not read: run 2 (" in err and "what those runs alone journaled is not known" in err
    assert carried.report()["unknown"] is not None


def _damaged(archive: bytes, how: str) -> bytes:
    """A zip made unreadable as found in the wild: a flipped byte in the deflated data, the
    encrypted flag set, an unknown compression method."""
    data = bytearray(archive)
    header = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    if how == "corrupt":
        data[header + 30 + len("journal.jsonl") + 2] ^= 0xFF
    elif how == "encrypted":
        data[header + 6] |= 1
        data[central + 8] |= 1
    else:
        data[header + 8] = data[central + 10] = 99
    return bytes(data)


def test_a_journal_this_run_added_nothing_to_is_not_kept_again(
    fake: tuple[FakeGitHub, dict[str, str]], tmp_path: Path
) -> None:
    github, env = fake
    github.upload("mmp-journal", {"journal.jsonl": _kept(_record("a", "x"))}, run_id=1)
    quiet, busy = tmp_path / "quiet.jsonl", tmp_path / "busy.jsonl"
    first, second = history.carry(env, quiet, "main"), history.carry(env, busy, "main")
    with busy.open("a") as handle:
        handle.write(_record("b", "apply-start") + "\n")
    first.settle()
    second.settle()
    assert not quiet.exists() and busy.exists()


def test_an_answer_that_is_not_json_is_a_github_error_never_a_crash() -> None:
    """A proxy's HTML page where GitHub's JSON was due, on every call the history makes: a
    GitHubError naming the call (the gather skips that artifact, or says why it read none)."""
    ctx = RunContext(api_url="https://api.example.invalid", repository=REPOSITORY, token=TOKEN)
    html = httpx.MockTransport(lambda _: httpx.Response(200, text="<html>busy</html>"))
    with GitHubApi(ctx, transport=html) as api:
        calls: dict[str, Callable[[], object]] = {
            "GET actions/runs/7": lambda: api.workflow_run(7),
            "GET compare/": lambda: api.contains("a" * 40, "b" * 40),
            "GET /repos/desk/mmp-policies/actions/artifacts": lambda: list(api.artifacts("x")),
            "git/ref/heads/main": lambda: api.branch_head("main"),
        }
        for said, call in calls.items():
            with pytest.raises(GitHubError, match="with something not JSON") as raised:
                call()
            assert said in str(raised.value)

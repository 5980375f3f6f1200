"""`mmp init --upgrade` and `mmp workflows --write` replace a desk's files only as it would
want: the diff of every file replaced is shown, a person says yes on a terminal (elsewhere
only --yes does), the kind of pin the desk chose is kept (a git commit stays a git commit),
and each file keeps its line endings."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from reconciler import __version__
from reconciler.cli import main
from reconciler.desk import origin, scaffold
from reconciler.desk.workflows import NAMES

COMMIT, NEW = "c" * 40, "d" * 40
REPO_URL = "https://example.test/desk/mmp-reconciler"
GIT_PIN = f"git+{REPO_URL}@{COMMIT}"
APPLY = Path(".github") / "workflows" / "mmp-apply.yml"
SLACK = "      - name: Tell slack\n        run: echo notify\n"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _desk(folder: Path, pin: str = GIT_PIN) -> Path:
    assert main(["init", str(folder), "--venue", "deribit", "--pin", pin]) == 0
    return folder


def _made_by_an_older_mmp(desk: Path) -> None:
    for name in NAMES:
        path = desk / ".github" / "workflows" / name
        path.write_text(path.read_text().replace(f" {__version__} ", " 0.0.9 ", 1))


def _hand_edit(desk: Path) -> str:
    path = desk / APPLY
    text = path.read_text().replace(
        "      - name: Keep the journal\n", SLACK + "      - name: Keep the journal\n", 1
    )
    path.write_text(text)
    return text


def _files(desk: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in desk.rglob("*") if p.is_file()}


def test_upgrade_keeps_a_git_pin_and_refuses_to_guess_its_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Installed from an index, this mmp's commit is unknown: the desk's git pin is not
    swapped for a version (nor its pre-commit hook for a local one)."""
    desk = _desk(tmp_path)
    _made_by_an_older_mmp(desk)
    before = _files(desk)
    monkeypatch.setattr(origin, "_direct_url", lambda: None)
    capsys.readouterr()
    assert main(["init", str(desk), "--upgrade", "--yes"]) == 1
    err = capsys.readouterr().err
    assert f"the workflows install a git commit ({GIT_PIN})" in err
    assert "was installed from a package index" in err
    assert f"give --pin git+{REPO_URL}@COMMIT" in err and f"mmp-reconciler=={__version__}" in err
    assert _files(desk) == before


def test_upgrade_moves_a_git_pin_to_the_installed_commit_by_the_desks_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    desk = _desk(tmp_path)
    _made_by_an_older_mmp(desk)
    ssh = "ssh://git@example.test/desk/mmp-reconciler.git"
    record = {"url": ssh, "vcs_info": {"vcs": "git", "commit_id": NEW}}
    monkeypatch.setattr(origin, "_direct_url", lambda: record)
    capsys.readouterr()
    assert main(["init", str(desk), "--upgrade", "--yes"]) == 0
    told = capsys.readouterr()
    assert (
        f"this mmp was installed from git ssh://example.test/desk/mmp-reconciler.git at {NEW}"
        in told.err
    )
    assert f"the workflows install git+{REPO_URL}@{NEW} (were: {GIT_PIN})" in told.out
    config = (desk / scaffold.PRE_COMMIT).read_text()
    assert f"repo: {REPO_URL}\n    rev: {NEW}\n" in config
    assert main(["workflows", "--check", "--policies", str(desk / "policies")]) == 0


def test_upgrade_keeps_a_version_pin_as_a_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    desk = _desk(tmp_path, f"mmp-reconciler=={__version__}")
    _made_by_an_older_mmp(desk)
    record = {"url": REPO_URL, "vcs_info": {"vcs": "git", "commit_id": NEW}}
    monkeypatch.setattr(origin, "_direct_url", lambda: record)
    assert main(["init", str(desk), "--upgrade", "--yes"]) == 1  # from git: is it on the index?
    assert "keeps the kind of pin a desk has" in capsys.readouterr().err
    monkeypatch.setattr(origin, "_direct_url", lambda: None)
    assert main(["init", str(desk), "--upgrade", "--yes"]) == 0
    assert f"install mmp-reconciler=={__version__} (were: mmp-reconciler=={__version__})" in (
        capsys.readouterr().out
    )


@pytest.mark.parametrize("command", ["upgrade", "write"])
def test_a_replaced_file_is_shown_then_written_only_when_approved(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    desk = _desk(tmp_path)
    edited = _hand_edit(desk)
    if command == "upgrade":
        args = ["init", str(desk), "--upgrade", "--pin", f"git+{REPO_URL}@{NEW}"]
    else:
        args = ["workflows", "--write", "--policies", str(desk / "policies")]
    before = _files(desk)
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal: nobody to ask
    assert main(args) == 1
    told = capsys.readouterr()
    assert "-      - name: Tell slack\n" in told.out  # the hand edit it would drop, shown
    assert "stdin is not a terminal, so nobody was asked: give --yes" in told.err
    assert _files(desk) == before
    monkeypatch.setattr("sys.stdin", _Terminal("no\n"))
    assert main(args) == 1
    assert "not approved" in capsys.readouterr().err and _files(desk) == before
    monkeypatch.setattr("sys.stdin", _Terminal("yes\n"))
    assert main(args) == 0
    told = capsys.readouterr()
    assert "Only 'yes' is accepted" in told.out and "updated" in told.out
    assert (desk / APPLY).read_text() != edited and SLACK not in (desk / APPLY).read_text()


def test_write_with_nothing_to_replace_asks_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    desk = _desk(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    capsys.readouterr()
    assert main(["workflows", "--write", "--policies", str(desk / "policies")]) == 0
    assert capsys.readouterr().out.count("unchanged") == len(NAMES)


def test_upgrade_keeps_each_files_line_endings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    desk = _desk(tmp_path)
    crlf = [desk / APPLY, desk / scaffold.PRE_COMMIT]
    for path in crlf:
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert main(["init", str(desk), "--upgrade", "--yes", "--pin", f"git+{REPO_URL}@{NEW}"]) == 0
    for path in crlf:
        data = path.read_bytes()
        assert NEW.encode() in data and data.count(b"\n") == data.count(b"\r\n"), path
    plan = (desk / ".github" / "workflows" / "mmp-plan.yml").read_bytes()
    assert NEW.encode() in plan and b"\r\n" not in plan
    assert main(["workflows", "--check", "--policies", str(desk / "policies")]) == 0


def test_upgrade_of_a_folder_with_no_desk_says_what_to_give(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", str(tmp_path), "--upgrade", "--pin", GIT_PIN]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path} has no policies/ folder" in err and "--policies" not in err

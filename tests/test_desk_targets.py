"""`mmp init` into a folder that is not empty: every path is checked before anything is
written, so a refusal names what is in the way and leaves the folder as it was; and
policies that are there already never get the example accounts beside them."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler import __version__
from reconciler.cli import main
from reconciler.desk import pin as pins
from reconciler.desk import scaffold

PIN = f"mmp-reconciler=={__version__}"
REAL = """\
accounts:
  deribit-main:
    venue: deribit
    environment: production
    credentials: DERIBIT_MAIN
    mmp: {}
"""


def _init(folder: Path, *extra: str) -> int:
    return main(["init", str(folder), "--venue", "deribit", "--pin", PIN, *extra])


def _tree(folder: Path) -> dict[str, bytes | str]:
    return {
        p.relative_to(folder).as_posix(): (
            f"-> {p.readlink()}" if p.is_symlink() else p.read_bytes() if p.is_file() else "dir"
        )
        for p in folder.rglob("*")
    }


@pytest.mark.parametrize("force", [False, True])
def test_a_file_where_a_folder_goes_is_named_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], force: bool
) -> None:
    (tmp_path / ".github").write_text("hi\n")
    before = _tree(tmp_path)
    assert _init(tmp_path, *(["--force"] if force else [])) == 1
    err = capsys.readouterr().err
    assert "nothing was written" in err and "a bug" not in err
    assert f"{tmp_path / '.github'} is a file where mmp init makes a folder" in err
    assert _tree(tmp_path) == before


def test_dir_that_is_a_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "desk").write_text("hi\n")
    assert _init(tmp_path / "desk") == 1
    assert (
        f"{tmp_path / 'desk'} is a file, not a folder for the new desk" in capsys.readouterr().err
    )
    assert _init(tmp_path / "desk" / "sub") == 1
    assert f"{tmp_path / 'desk'} is a file, not a folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["desk"]


@pytest.mark.parametrize("name", ["real.yaml", "guardrails.yml", "team/other.yml"])
def test_policies_there_already_never_get_the_examples(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    (tmp_path / "policies" / name).parent.mkdir(parents=True)
    (tmp_path / "policies" / name).write_text(REAL)
    before = _tree(tmp_path)
    for extra in ([], ["--force"]):
        assert _init(tmp_path, *extra) == 1
        err = capsys.readouterr().err
        assert f"policies/ holds policies already (policies/{name})" in err
        assert "`mmp workflows --write` writes the workflows from its policies" in err
        assert _tree(tmp_path) == before


@pytest.mark.parametrize("at", ["README.md", ".github/workflows/mmp-plan.yml"])
def test_a_symbolic_link_at_a_file_is_not_written_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], at: str
) -> None:
    desk, outside = tmp_path / "desk", tmp_path / "outside.txt"
    (desk / at).parent.mkdir(parents=True)
    (desk / at).symlink_to(outside)  # dangling
    before = _tree(desk)
    assert _init(desk, "--force") == 1
    assert f"{desk / at} is a symbolic link: mmp init writes no file through one" in (
        capsys.readouterr().err
    )
    assert not outside.exists() and _tree(desk) == before


def test_policies_as_a_symbolic_link_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    desk, shared = tmp_path / "desk", tmp_path / "shared"
    desk.mkdir()
    shared.mkdir()
    (desk / "policies").symlink_to(shared)
    assert _init(desk) == 1
    assert f"{desk / 'policies'} is a symbolic link" in capsys.readouterr().err
    assert list(shared.iterdir()) == [] and [p.name for p in desk.iterdir()] == ["policies"]


def test_the_paths_checked_are_the_files_written() -> None:
    """init checks scaffold.paths() before the pin is known, then writes scaffold.files()."""
    assert list(scaffold.files(["aevo"], pins.Pin(PIN))) == scaffold.paths()


def test_the_folder_is_checked_before_the_pin_is_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".github").write_text("hi\n")
    assert main(["init", str(tmp_path), "--venue", "deribit"]) == 1  # no --pin: a checkout
    err = capsys.readouterr().err
    assert "is a file where mmp init makes a folder" in err and "--pin" not in err

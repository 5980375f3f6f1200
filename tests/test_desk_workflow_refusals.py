"""`mmp workflows` writes no workflow GitHub would reject or that would never run: not for a
desk with no account, not one that does not parse back as the YAML meant, and not for a
policies/ that is a symbolic link (Git records changes at the link's target, so the
workflows' `policies/**` triggers would never fire)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from reconciler import __version__
from reconciler.cli import main
from reconciler.core.errors import ReconcilerError
from reconciler.desk import pin as pins
from reconciler.desk.workflows import Needs, render

PIN = f"mmp-reconciler=={__version__}"


def test_a_desk_with_no_account_gets_no_workflows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "desk.yaml").write_text("accounts: {}\n")
    policies = ["--policies", str(tmp_path / "policies")]
    assert main(["validate", *policies]) == 0  # an empty desk is a valid desk
    for mode in (["--write", "--pin", PIN], ["--check"]):
        assert main(["workflows", *mode, *policies]) == 1
        err = capsys.readouterr().err
        assert "no account is declared, and the workflows need one at least" in err
    assert not (tmp_path / ".github").exists()


@pytest.mark.parametrize(
    "secrets",
    [{"BYBIT_X\n_API_KEY": "bybit-desk"}, {"X: ${{ github.token }}": "a"}, {"A\n  B": "a"}],
)
def test_what_does_not_parse_back_as_meant_is_an_error(secrets: dict[str, str]) -> None:
    with pytest.raises(ReconcilerError, match="as generated from the policies") as info:
        render(Needs(secrets, ("bybit",)), pins.Pin(PIN))
    assert "nothing was compared or written" in str(info.value)


@pytest.mark.parametrize("git", [False, True])
def test_policies_as_a_symbolic_link_is_refused_truly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], git: bool
) -> None:
    desk = tmp_path / "desk"
    assert main(["init", str(desk), "--venue", "deribit", "--pin", PIN]) == 0
    if git:
        subprocess.run(["git", "init", "-q", str(desk)], check=True)
    (desk / "desks" / "alpha").mkdir(parents=True)
    shutil.move(desk / "policies", desk / "desks" / "alpha" / "policies")
    (desk / "policies").symlink_to(Path("desks") / "alpha" / "policies")
    monkeypatch.chdir(desk)
    capsys.readouterr()
    for args in (
        ["workflows", "--check"],
        ["workflows", "--write", "--yes"],
        ["init", "--upgrade", "--yes", "--pin", PIN],
    ):
        assert main(args) == 1, args
        err = capsys.readouterr().err
        assert "policies is a symbolic link (to desks/alpha/policies)" in err
        assert "Git records a change to these files at the link's target" in err
        assert "move them there" not in err
    assert not (desk / "desks" / "alpha" / ".github").exists()

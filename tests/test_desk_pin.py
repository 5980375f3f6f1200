"""Which mmp a new desk's workflows install when --pin is not given: what pip's record of
the install (PEP 610's direct_url.json) says a desk's CI can install. From an index, the
version; from git (https or ssh, with or without a user), that commit; from a local file or
folder, nothing: mmp refuses to guess, since a version no index holds is a name anyone could
register, whose code would run in the apply job beside the trading keys. And a pin given
must be this mmp's version: another one's CI check fails on these files for ever."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from reconciler import __version__
from reconciler.cli import main
from reconciler.desk import origin, scaffold
from reconciler.desk import pin as pins

COMMIT = "0123456789abcdef0123456789abcdef01234567"
PLAN = Path(".github") / "workflows" / "mmp-plan.yml"


def _installed_from(monkeypatch: pytest.MonkeyPatch, record: dict[str, object] | None) -> None:
    monkeypatch.setattr(origin, "_direct_url", lambda: record)


def _install_line(desk: Path) -> str:
    [line] = [s for s in (desk / PLAN).read_text().splitlines() if "pip install" in s]
    return line.strip().removeprefix("run: ")


def test_from_an_index_the_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _installed_from(monkeypatch, None)
    assert main(["init", str(tmp_path), "--venue", "deribit"]) == 0
    assert _install_line(tmp_path) == f"{pins.INSTALL_PREFIX}mmp-reconciler=={__version__}"
    assert f"this mmp ({__version__}) was installed from a package index" in capsys.readouterr().err


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/acme/mmp-reconciler.git",
        "ssh://git@github.com/acme/mmp-reconciler.git",
        "https://git@github.com/acme/mmp-reconciler.git",
        "ssh://github.com/acme/mmp-reconciler",
        "ssh://deploy@git.acme.internal:2222/risk/mmp-reconciler.git",
        "https://gitlab.acme.internal/risk/mmp-reconciler.git",
    ],
)
def test_from_git_that_commit_over_https_or_ssh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    record: dict[str, object] = {"url": url, "vcs_info": {"vcs": "git", "commit_id": COMMIT}}
    _installed_from(monkeypatch, record)
    assert main(["init", str(tmp_path), "--venue", "deribit"]) == 0
    assert _install_line(tmp_path) == f"{pins.INSTALL_PREFIX}git+{url}@{COMMIT}"
    [hook] = YAML(typ="safe").load((tmp_path / scaffold.PRE_COMMIT).read_text())["repos"]
    assert (hook["repo"], hook["rev"]) == (url, COMMIT)
    assert "this mmp was installed from git" in capsys.readouterr().err
    assert main(["workflows", "--check", "--policies", str(tmp_path / "policies")]) == 0


@pytest.mark.parametrize(
    ("record", "said"),
    [
        ({"url": "file:///home/me/mmp", "dir_info": {"editable": True}}, "the folder /home/me/mmp"),
        (
            {"url": "file:///tmp/w/mmp_reconciler-0.1.0-py3-none-any.whl", "archive_info": {}},
            "the file /tmp/w/mmp_reconciler-0.1.0-py3-none-any.whl",
        ),
        (
            {"url": "https://ci:s3cretTOKEN@git.acme/x.git", "vcs_info": {"vcs": "git"}},
            "git https://git.acme/x.git",
        ),
    ],
)
def test_from_a_local_file_or_folder_nothing_is_guessed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    record: dict[str, object],
    said: str,
) -> None:
    _installed_from(monkeypatch, record)
    assert main(["init", str(tmp_path), "--venue", "deribit"]) == 1
    err = capsys.readouterr().err
    assert f"this mmp was installed from {said}" in err
    assert "mmp will not guess what the workflows install: give --pin" in err
    assert "mmp-reconciler==X.Y.Z" in err and "git+https://HOST/OWNER/REPO@COMMIT" in err
    assert "s3cret" not in err and list(tmp_path.iterdir()) == []
    pin = f"mmp-reconciler=={__version__}"
    assert main(["init", str(tmp_path), "--venue", "deribit", "--pin", pin]) == 0


@pytest.mark.parametrize(
    "spec",
    [
        f"git+ssh://git@github.com/acme/mmp-reconciler.git@{COMMIT}",
        f"git+https://git@github.com/acme/mmp-reconciler@{COMMIT}",
        f"git+ssh://github.com:22/acme/mmp-reconciler@{COMMIT}",
    ],
)
def test_a_git_pin_over_ssh_or_with_the_git_user(spec: str) -> None:
    assert pins.parse(spec).git is not None


@pytest.mark.parametrize(
    "spec",
    [
        f"git+https://ghp_abcdef123@github.com/acme/mmp-reconciler@{COMMIT}",  # a token
        f"git+https://me:pw@github.com/acme/mmp-reconciler@{COMMIT}",
        f"git+git@github.com:acme/mmp-reconciler.git@{COMMIT}",  # scp-like: pip's is ssh://
        f"git+file:///srv/mmp-reconciler@{COMMIT}",
    ],
)
def test_a_git_pin_carries_no_credential_and_no_local_path(spec: str) -> None:
    with pytest.raises(Exception, match="is not a pinned mmp"):
        pins.parse(spec)


@pytest.mark.parametrize("command", [["init", "{dir}"], ["workflows", "--write", "--policies"]])
def test_another_version_is_refused_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """Its CI's `mmp workflows --check` (run by the version pinned) would fail on the files
    this version writes, on every pull request."""
    if command[0] == "workflows":
        assert (
            main(
                [
                    "init",
                    str(tmp_path),
                    "--venue",
                    "aevo",
                    "--pin",
                    f"mmp-reconciler=={__version__}",
                ]
            )
            == 0
        )
        before = {p: p.read_text() for p in (tmp_path / ".github").rglob("*.yml")}
        args = [*command, str(tmp_path / "policies")]
    else:
        before, args = {}, [command[0], str(tmp_path)]
    capsys.readouterr()
    assert main([*args, "--pin", "mmp-reconciler==9.9.9"]) == 1
    err = capsys.readouterr().err
    assert f"this is mmp {__version__}" in err and "would fail on them" in err
    assert "Install mmp-reconciler==9.9.9 and run its mmp" in err
    assert {p: p.read_text() for p in (tmp_path / ".github").rglob("*.yml")} == before


def test_write_refuses_the_checkout_pin_as_init_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["init", str(tmp_path), "--venue", "aevo", "--pin", f"mmp-reconciler=={__version__}"])
        == 0
    )
    args = ["workflows", "--write", "--policies", str(tmp_path / "policies"), "--pin", "."]
    assert main(args) == 1
    assert "only mmp's own repository" in capsys.readouterr().err

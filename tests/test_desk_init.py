"""`mmp init`: a new desk repository whose policies validate, whose workflows are what the
generator makes of them, that overwrites nothing unless told, and whose pinned mmp
`--upgrade` moves with the diff shown first."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from reconciler.cli import main
from reconciler.desk import pin as pins
from reconciler.desk import scaffold, sync
from reconciler.venues import VENUES
from tests.workflow_files import REPO

COMMIT = "c" * 40
GIT_PIN = f"git+https://example.test/desk/mmp-reconciler@{COMMIT}"


def _init(folder: Path, *extra: str) -> int:
    return main(["init", str(folder), "--pin", "mmp-reconciler==0.1.0", *extra])


def test_init_writes_a_desk_that_validates_and_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    desk = tmp_path / "desk"
    assert _init(desk, "--venue", "deribit", "--venue", "binance") == 0
    told = capsys.readouterr().out
    for path in ("policies/desk.yaml", "policies/guardrails.yaml", ".gitignore", "README.md"):
        assert f"wrote {desk / path}" in told
    assert (desk / ".gitignore").read_text() == ".mmp/\n"
    assert main(["validate", "--policies", str(desk / "policies")]) == 0
    assert main(["workflows", "--check", "--policies", str(desk / "policies")]) == 0
    policy = (desk / "policies" / "desk.yaml").read_text()
    assert "deribit-desk:" in policy and "binance-desk:" in policy and "aevo" not in policy
    plan = (desk / ".github" / "workflows" / "mmp-plan.yml").read_text()
    assert "run: python -m pip install --quiet mmp-reconciler==0.1.0\n" in plan
    assert "BINANCE_DESK_API_SECRET: ${{ secrets.BINANCE_DESK_API_SECRET }}" in plan
    readme = (desk / "README.md").read_text()
    for said in ("mmp-read", "mmp-production", "required reviewers", "Branch protection"):
        assert said in readme
    assert "create\n   the environment `mmp-heal`: the **trading** keys" in readme
    assert "# heal:" in (desk / "policies" / "guardrails.yaml").read_text()  # off, shown
    assert "`DERIBIT_DESK_CLIENT_SECRET` (account `deribit-desk`)" in readme
    # the required check by the name branch protection lists: the check run's, its job's
    check = YAML(typ="safe").load((desk / ".github" / "workflows" / "mmp-check.yml").read_text())
    assert f"the status check `{check['jobs']['check']['name']}` (the job of" in readme


@pytest.mark.parametrize("venue", list(VENUES))
def test_every_venue_has_an_example_that_applies(
    tmp_path: Path, venue: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A venue added to the registry gets its example account from its capabilities, and
    the example desk applies in the sandbox, then plans clean."""
    assert _init(tmp_path, "--venue", venue) == 0
    policies = ["--policies", str(tmp_path / "policies")]
    assert main(["validate", *policies]) == 0
    assert f"  {venue}-desk:" in (tmp_path / "policies" / "desk.yaml").read_text()
    capsys.readouterr()
    assert main(["apply", "--sandbox", "--auto-approve", *policies]) == 0
    assert main(["plan", "--sandbox", "--detailed-exitcode", *policies]) == 0
    assert "Plan: no changes" in capsys.readouterr().out


def test_init_overwrites_nothing_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "README.md").write_text("ours\n")
    assert _init(tmp_path) == 1
    err = capsys.readouterr().err
    assert "these exist already, and nothing was written: README.md" in err
    assert not (tmp_path / "policies").exists() and (tmp_path / "README.md").read_text() == "ours\n"
    assert _init(tmp_path, "--force") == 0
    assert f"overwrote {tmp_path / 'README.md'}" in capsys.readouterr().out


def test_an_unknown_venue_or_a_moving_pin_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _init(tmp_path, "--venue", "ftx") == 1
    assert "--venue ftx: no such venue; mmp speaks deribit" in capsys.readouterr().err
    assert main(["init", str(tmp_path), "--pin", "git+https://example.test/a/b@main"]) == 1
    assert "is not a pinned mmp" in capsys.readouterr().err
    assert main(["init", str(tmp_path), "--pin", "."]) == 1
    assert "only mmp's own repository" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_upgrade_shows_the_diff_then_moves_every_pin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _init(tmp_path, "--venue", "aevo") == 0
    capsys.readouterr()
    assert main(["init", str(tmp_path), "--upgrade", "--pin", GIT_PIN, "--yes"]) == 0
    told = capsys.readouterr().out
    diff = told.index("-        run: python -m pip install --quiet mmp-reconciler==0.1.0")
    assert diff < told.index(f"+        run: python -m pip install --quiet {GIT_PIN}")
    assert diff < told.index("updated") and "(were: mmp-reconciler==0.1.0)" in told
    hook = YAML(typ="safe").load((tmp_path / scaffold.PRE_COMMIT).read_text())["repos"][0]
    assert hook == {
        "repo": "https://example.test/desk/mmp-reconciler",
        "rev": COMMIT,
        "hooks": [{"id": "mmp-validate"}],
    }
    desk = sync.Desk.at(tmp_path / "policies", None)
    assert sync.current_pin(desk.read(), desk) == pins.Pin(GIT_PIN)
    assert main(["init", str(tmp_path), "--upgrade", "--pin", GIT_PIN]) == 0
    assert "already at" in capsys.readouterr().out


def test_the_pinned_hook_is_our_hook() -> None:
    """The pre-commit hook `mmp init` writes for a version pin is .pre-commit-hooks.yaml's."""
    [ours] = YAML(typ="safe").load((REPO / ".pre-commit-hooks.yaml").read_text())
    config = YAML(typ="safe").load(scaffold.pre_commit(pins.parse("mmp-reconciler==1.2.3")))
    [hook] = config["repos"][0]["hooks"]
    assert hook.pop("additional_dependencies") == ["mmp-reconciler==1.2.3"]
    ours.pop("description")
    assert hook == ours

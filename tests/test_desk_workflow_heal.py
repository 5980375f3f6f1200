"""The drift workflow's heal job as the `heal:` setting narrows it (issue 19, red team 2):
it holds the trading keys of the accounts heal covers and no other (M2), runs on the heal
branch, which must be the one the schedule runs on (M5), and `mmp workflows --check` names
each way the files disagree; a narrowing that can never heal a venue is an error (LOW)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from reconciler.cli import main
from reconciler.core.errors import ConfigError
from reconciler.desk import sync
from reconciler.policy import guards
from reconciler.policy.validate import load_desired
from reconciler.venues import capabilities
from tests.test_workflows import _actionlint, _zizmor
from tests.workflow_files import REPO, WORKFLOWS

HEAL = "heal:                        # `mmp heal`"
DERIBIT_MAIN = {"DERIBIT_MAIN_CLIENT_ID", "DERIBIT_MAIN_CLIENT_SECRET"}


def _copy(tmp_path: Path, heal: str) -> sync.Desk:
    """This repository's policies and workflows, its `heal:` setting replaced by `heal`."""
    (tmp_path / ".git").mkdir()
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    shutil.copytree(WORKFLOWS, tmp_path / ".github" / "workflows")
    path = tmp_path / "policies" / "guardrails.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index(HEAL)] + heal, encoding="utf-8")
    return sync.Desk.at(tmp_path / "policies", None)


def _heal_job_keys(desk: sync.Desk) -> set[str]:
    data = YAML(typ="safe").load((desk.workflows / "mmp-drift.yml").read_text(encoding="utf-8"))
    return {
        key
        for step in data["jobs"]["heal"]["steps"]
        for key, value in (step.get("env") or {}).items()
        if str(value).startswith("${{ secrets.")
    }


def test_a_narrowed_heal_job_holds_only_the_keys_of_the_accounts_heal_covers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    desk = _copy(tmp_path, "heal:\n  enabled: true\n  accounts: [deribit-main]\n")
    problems = sync.check(desk)
    heal = [p for p in problems if ", job heal, " in p]
    assert len(heal) == 1 and len(problems) == 1, problems
    [said] = heal
    assert "stale AEVO_MM_API_KEY" in said and "OKX_MM_API_KEY" in said
    assert "DERIBIT_MAIN_CLIENT_ID" not in said
    assert "account `aevo-mm`, `binance-mm`, `bullish-mm`, `bybit-mm`, `deribit-hedge`" in said
    assert "is outside heal's venues/accounts (guardrails.yaml `heal:`)" in said
    args = ["workflows", "--policies", str(desk.policies)]
    assert main([*args, "--write", "--yes"]) == 0
    capsys.readouterr()
    assert main([*args, "--check"]) == 0
    assert _heal_job_keys(desk) == DERIBIT_MAIN
    drift = (desk.workflows / "mmp-drift.yml").read_text(encoding="utf-8")
    assert "BYBIT_MM_API_SECRET: ${{ secrets.BYBIT_MM_API_SECRET }}" in drift  # the shards
    lint = _actionlint([desk.workflows / "mmp-drift.yml"])
    assert lint.returncode == 0, lint.stdout + lint.stderr
    zizmor = _zizmor(desk.workflows)
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr

    # covered once more (the narrowing taken out): the keys it then lacks are named
    (desk.policies / "guardrails.yaml").write_text("heal:\n  enabled: true\n", encoding="utf-8")
    [missing] = sync.check(desk)
    assert ", job heal, step `Heal drift in the safe direction`: missing " in missing
    assert "OKX_MM_API_KEY" in missing and "DERIBIT_MAIN_CLIENT_ID" not in missing
    assert "heal covers it, and without its keys heal would not check it" in missing


def test_narrowed_by_venue_the_heal_job_holds_that_venues_keys(tmp_path: Path) -> None:
    desk = _copy(tmp_path, "heal:\n  enabled: true\n  venues: [deribit]\n")
    assert main(["workflows", "--policies", str(desk.policies), "--write", "--yes"]) == 0
    assert _heal_job_keys(desk) == DERIBIT_MAIN | {
        "DERIBIT_HEDGE_CLIENT_ID",
        "DERIBIT_HEDGE_CLIENT_SECRET",
    }


def test_the_heal_job_runs_on_the_heal_branch_and_check_catches_another(tmp_path: Path) -> None:
    desk = _copy(tmp_path, "heal:\n  enabled: true\n")
    drift = desk.workflows / "mmp-drift.yml"
    text = drift.read_text(encoding="utf-8")
    assert re.search(r"^  heal:\n(    .*\n)*?    if: github.ref == 'refs/heads/main'\n", text, re.M)
    drift.write_text(text.replace("refs/heads/main'", "refs/heads/prod'", 1), encoding="utf-8")
    [said] = sync.check(desk)
    assert said.endswith(
        "mmp-drift.yml, job heal: runs on `prod` only, and guardrails.yaml `heal: branch:` is "
        "`main`: heal refuses any other checkout, so it would heal nothing; `mmp workflows "
        "--write` puts it right"
    )


def test_a_heal_branch_other_than_the_scheduled_one_is_refused_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    desk = _copy(tmp_path, "heal:\n  enabled: true\n  branch: prod\n")
    for mode in (["--check"], ["--write", "--yes"]):
        before = (desk.workflows / "mmp-drift.yml").read_text(encoding="utf-8")
        assert main(["workflows", "--policies", str(desk.policies), *mode]) == 1
        err = capsys.readouterr().err
        assert (
            "guardrails.yaml:" in err and "`prod`: the generated workflows heal from `main`" in err
        )
        assert "skipped by every scheduled run" in err and "Traceback" not in err
        assert (desk.workflows / "mmp-drift.yml").read_text(encoding="utf-8") == before
    with pytest.raises(ConfigError) as raised:
        sync.check(desk)
    [problem] = raised.value.problems
    assert problem.line == 22  # `branch: prod`, under the file's other settings


def test_a_listed_venue_none_of_the_listed_accounts_is_on_is_an_error(tmp_path: Path) -> None:
    desk = _copy(
        tmp_path, "heal:\n  enabled: true\n  venues: [deribit, aevo]\n  accounts: [deribit-main]\n"
    )
    desired = load_desired(desk.policies, capabilities())
    with pytest.raises(ConfigError) as raised:
        guards.load(desk.policies, desired)
    [problem] = raised.value.problems
    assert problem.line == 22 and problem.file.endswith("guardrails.yaml")
    assert problem.message == (
        "`aevo`: none of heal.accounts (deribit-main) is a aevo account, so heal would never "
        "heal aevo: take it out of heal.venues, or add a aevo account to heal.accounts"
    )

"""The workflows are generated from the policies (reconciler/desk): this repository's own
are exactly what the generator writes for policies/, an account added to the policies makes
`mmp workflows --check` fail naming its variables until `--write`, and the pin is kept."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from reconciler import __version__
from reconciler.cli import main
from reconciler.core.errors import ReconcilerError
from reconciler.desk import changes, sync
from reconciler.desk import pin as pins
from reconciler.desk.workflows import HEAL_PARTS, NAMES, needs, render, step_secrets, template
from tests.workflow_files import REPO, WORKFLOWS

PIN = f"mmp-reconciler=={__version__}"

NEW_ACCOUNT = """
  deribit-third:
    venue: deribit
    environment: testnet
    credentials: DERIBIT_THIRD
    mmp:
      btc_usd:
        default: {window: 1s, frozen: 30s, quantity_limit: 5, max_quote_quantity: 2}
"""


def _copy(tmp_path: Path) -> sync.Desk:
    """A desk like this repository: its policies and workflows, in a Git work tree."""
    (tmp_path / ".git").mkdir()
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    shutil.copytree(WORKFLOWS, tmp_path / ".github" / "workflows")
    return sync.Desk.at(tmp_path / "policies", None)


def test_our_workflows_are_exactly_what_the_generator_writes() -> None:
    desk = sync.Desk.at(REPO / "policies", None)
    assert sync.check(desk) == []
    files = render(needs(REPO / "policies"), pins.Pin(pins.CHECKOUT))
    assert {n: (WORKFLOWS / n).read_text(encoding="utf-8") for n in NAMES} == files


def test_an_account_added_fails_the_check_until_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    desk = _copy(tmp_path)
    with (desk.policies / "desk-alpha.yaml").open("a", encoding="utf-8") as policy:
        policy.write(NEW_ACCOUNT)
    problems = sync.check(desk)
    wanted = (
        "missing DERIBIT_THIRD_CLIENT_ID, DERIBIT_THIRD_CLIENT_SECRET (account `deribit-third`)"
    )
    jobs = {p.split(":")[0] for p in problems if wanted in p}
    # plan, apply x2, drift: its heal job and its shards
    assert len(jobs) == 5 and len(problems) == 5, problems
    args = ["workflows", "--policies", str(desk.policies)]
    assert main([*args, "--check"]) == 1
    assert wanted in capsys.readouterr().err
    assert main([*args, "--write", "--yes"]) == 0
    told = capsys.readouterr().out
    assert "updated" in told and "mmp-plan.yml" in told and "unchanged" in told  # check's
    assert main([*args, "--check"]) == 0
    plan = (desk.workflows / "mmp-plan.yml").read_text(encoding="utf-8")
    assert "DERIBIT_THIRD_CLIENT_SECRET: ${{ secrets.DERIBIT_THIRD_CLIENT_SECRET }}" in plan
    assert "python -m pip install --quiet .\n" in plan  # the pin in place is kept


def test_an_account_taken_out_leaves_stale_variables_named(tmp_path: Path) -> None:
    desk = _copy(tmp_path)
    policy = desk.policies / "desk-alpha.yaml"
    text = policy.read_text(encoding="utf-8")
    policy.write_text(text[: text.index("  bullish-mm:")], encoding="utf-8")
    problems = sync.check(desk)
    shard = "mmp-drift.yml, job plan, step `Plan this shard`: stale BULLISH_MM_PUBLIC_KEY"
    assert any(shard in p for p in problems), problems
    drift = (desk.workflows / "mmp-drift.yml").read_text(encoding="utf-8")
    changes.write(sync.changes_to(desk, sync.planned(desk, sync.pin_for_write(desk, None)[0])))
    assert sync.check(desk) == []
    after = (desk.workflows / "mmp-drift.yml").read_text(encoding="utf-8")
    assert "bullish" in drift and "venue: [deribit, binance, aevo]" in after


def test_a_key_moved_to_another_step_is_named(tmp_path: Path) -> None:
    """The keys go to the one step that runs mmp: a line moved to the install step (which
    runs code from an index) or to the job's env (every step, actions too) is reported."""
    desk = _copy(tmp_path)
    apply = desk.workflows / "mmp-apply.yml"
    lines = apply.read_text().splitlines(keepends=True)
    key = "          OKX_MM_PASSPHRASE: ${{ secrets.OKX_MM_PASSPHRASE }}\n"
    last = len(lines) - 1 - lines[::-1].index(key)  # the apply job's, the trading key
    del lines[last]
    install = max(i for i, line in enumerate(lines[:last]) if "run: python -m pip" in line)
    lines[install:install] = ["        env:\n", key]
    apply.write_text("".join(lines))
    problems = [p.split("mmp-apply.yml, ")[-1] for p in sync.check(desk)]
    assert problems == [
        "job apply, step `Apply the approved plan`: missing OKX_MM_PASSPHRASE (account `okx-mm`)",
        "job apply, step `Install mmp`: given OKX_MM_PASSPHRASE, which only the step that runs "
        "mmp may hold (so `pip install` and the actions never see a key)",
    ], problems


def test_a_file_edited_by_hand_or_missing_is_named(tmp_path: Path) -> None:
    desk = _copy(tmp_path)
    (desk.workflows / "mmp-check.yml").unlink()
    apply = desk.workflows / "mmp-apply.yml"
    text = apply.read_text()
    # the line the edit lands on (its number moves with the accounts' credential lines above)
    line = text.splitlines().index("    timeout-minutes: 30") + 1
    apply.write_text(text.replace("timeout-minutes: 30", "timeout-minutes: 5"))
    problems = sync.check(desk)
    assert problems[0].endswith(
        f"mmp-apply.yml differs from what the policies give: line {line} "
        "is 'timeout-minutes: 5', expected 'timeout-minutes: 30'"
    ), problems
    assert problems[1].endswith("mmp-check.yml is missing")


def test_another_versions_files_are_not_rewritten_by_write(tmp_path: Path) -> None:
    desk = _copy(tmp_path)
    for name in NAMES:
        path = desk.workflows / name
        path.write_text(path.read_text().replace(f" {__version__} ", " 0.0.1 ", 1))
    assert any("generated by mmp-reconciler 0.0.1" in p for p in sync.check(desk))
    with pytest.raises(ReconcilerError, match="mmp init --upgrade"):
        sync.planned(desk, pins.Pin(pins.CHECKOUT))
    upgraded = sync.planned(desk, pins.parse("mmp-reconciler==" + __version__), upgrade=True)
    assert f"pip install --quiet mmp-reconciler=={__version__}\n" in upgraded["mmp-plan.yml"]


def test_workflows_that_install_different_mmp_are_named(tmp_path: Path) -> None:
    desk = _copy(tmp_path)
    plan = desk.workflows / "mmp-plan.yml"
    plan.write_text(plan.read_text().replace("--quiet .", "--quiet mmp-reconciler==0.1.0"))
    with pytest.raises(ReconcilerError, match=r"mmp-reconciler==0\.1\.0 \(mmp-plan\.yml\)"):
        sync.check(desk)


@pytest.mark.parametrize(
    "spec",
    ["mmp-reconciler==0.1.0", "git+https://example.test/desk/mmp@" + "a" * 40, "."],
)
def test_a_pin_is_one_exact_version_or_commit(spec: str) -> None:
    assert pins.parse(spec).install == f"python -m pip install --quiet {spec}"


@pytest.mark.parametrize(
    "spec",
    [
        "mmp-reconciler>=0.1",
        "mmp-reconciler",
        "git+https://example.test/desk/mmp@main",
        "git+https://example.test/desk/mmp@v0.1.0",
        "git+http://example.test/desk/mmp@" + "a" * 40,
        "mmp-reconciler==0.1.0; rm -rf /",
    ],
)
def test_a_moving_or_unsafe_pin_is_refused(spec: str) -> None:
    with pytest.raises(ReconcilerError, match="is not a pinned mmp"):
        pins.parse(spec)


def test_the_policies_must_sit_at_the_root(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    shutil.copytree(REPO / "policies", tmp_path / "desk" / "policies")
    with pytest.raises(ReconcilerError, match="move them there"):
        sync.Desk.at(tmp_path / "desk" / "policies", None)


def test_write_into_a_desk_without_workflows_pins_this_mmp(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    args = ["workflows", "--policies", str(tmp_path / "policies")]
    assert main([*args, "--check"]) == 1
    assert capsys.readouterr().err.count("is missing") == len(NAMES)
    assert main([*args, "--write", "--pin", PIN]) == 0  # new files: nothing to approve
    told = capsys.readouterr().out.splitlines()
    assert told == [f"wrote {tmp_path / '.github' / 'workflows' / n}" for n in NAMES]
    assert main([*args, "--check"]) == 0
    assert main([*args, "--check", "--pin", PIN]) == 1
    assert "--pin goes with --write" in capsys.readouterr().err
    check = (tmp_path / ".github" / "workflows" / "mmp-check.yml").read_text()
    assert f"run: python -m pip install --quiet {PIN}\n" in check


def _but_keys_venues_and_pin(text: str) -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(text)
    for job in data["jobs"].values():
        matrix = job.get("strategy", {}).get("matrix", {})
        if "venue" in matrix:
            matrix["venue"] = "VENUES"
        for step in job["steps"]:
            if pins.from_install_line(str(step.get("run", ""))):
                step["run"] = "INSTALL"
            env = step.get("env") or {}
            step["env"] = {k: v for k, v in env.items() if not str(v).startswith("${{ secrets.")}
    return data


def test_a_desks_workflows_are_ours_but_for_keys_venues_and_pin(tmp_path: Path) -> None:
    """So tests/test_github_steps.py, which runs each `mmp github` step of ours against the
    sandbox and a fake GitHub API, runs a desk's steps too, and tests/test_workflows.py's
    checks of triggers, conditions, environments and artifacts hold for them."""
    assert main(["init", str(tmp_path), "--venue", "aevo", "--pin", PIN]) == 0
    with (tmp_path / "policies" / "guardrails.yaml").open("a", encoding="utf-8") as rules:
        rules.write("heal:\n  enabled: true\n")  # as ours: the drift workflow heals first
    assert main(["workflows", "--write", "--yes", "--policies", str(tmp_path / "policies")]) == 0
    for name in NAMES:
        theirs = (tmp_path / ".github" / "workflows" / name).read_text(encoding="utf-8")
        ours = (WORKFLOWS / name).read_text(encoding="utf-8")
        assert _but_keys_venues_and_pin(theirs) == _but_keys_venues_and_pin(ours), name


def test_without_the_heal_setting_the_drift_workflow_is_read_only_as_before() -> None:
    """Ours heal (policies/guardrails.yaml enables it); a desk without the setting gets the
    drift workflow of before: ours with exactly the heal parts taken out, no heal job, no
    mmp-heal environment, no trading key, the report without --healed."""
    need = needs(REPO / "policies")
    assert need.heal
    pin = pins.Pin(pins.CHECKOUT)
    off = render(dataclasses.replace(need, heal=False), pin)["mmp-drift.yml"]
    ours = (WORKFLOWS / "mmp-drift.yml").read_text(encoding="utf-8")
    taken_out = ours
    for part in HEAL_PARTS.values():
        text = template(part).replace("@@INSTALL@@", pin.install)
        text = text.replace("@@HEAL_BRANCH@@", need.heal_branch).replace(
            "@@HEAL_SECRETS@@\n",
            render(need, pin)["mmp-drift.yml"]
            .split(
                "# Trading keys (mmp-heal) of the accounts heal covers only, for this step only.\n",
                1,
            )[1]
            .split("        run: mmp github heal", 1)[0],
        )
        assert text in taken_out, part
        taken_out = taken_out.replace(text, "", 1)
    assert taken_out.replace(" --healed .mmp/heal/heal.json", "") == off
    data = YAML(typ="safe").load(off)
    assert set(data["jobs"]) == {"plan", "report"} and "needs" not in data["jobs"]["plan"]
    assert "mmp-heal" not in off and not any(w.startswith("job heal") for w in step_secrets(off))
    assert data["jobs"]["plan"]["environment"] == "mmp-read"

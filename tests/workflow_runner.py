"""Run the jobs of our GitHub workflows here, the way a runner would, minus GitHub.

Each job gets a fresh workspace (the checkout: a copy of the policies), the environment
GitHub sets for every step, its `env:` with `${{ }}` expressions evaluated, and each `run:`
step executed with the job's shell. `uses:` steps are emulated: checkout, setup-python (the
test's own interpreter), upload-artifact and download-artifact (a dict of folders, with
upload-artifact's least-common-ancestor layout). Venue state lives outside the runners, so
the sandbox state file is carried from job to job, as a real venue would keep its settings.

Only the expression forms our workflows use are understood; anything else fails the test,
so a workflow edit that this runner cannot check is noticed instead of skipped.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"
SHELLS = {"bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"]}
INSTALL = "python -m pip install --quiet ."  # emulated: the test's venv already has mmp


def load(name: str) -> dict[str, Any]:
    data = YAML(typ="safe").load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


# -- expressions -------------------------------------------------------------------------
_TOKEN = re.compile(r"\s*(\(|\)|&&|\|\||==|!=|!|'[^']*'|[A-Za-z_][\w.\-]*\(\)|[A-Za-z_][\w.\-]*)")


def evaluate(expression: str, contexts: dict[str, Any]) -> Any:
    """GitHub's expression language, the part our workflows use: contexts, 'strings',
    ==, !=, &&, ||, !, parentheses, and always()/failure()/success()/cancelled(), with or
    without the ${{ }} around it."""
    tokens: list[str] = []
    rest = expression.strip()
    if rest.startswith("${{") and rest.endswith("}}"):
        rest = rest[3:-2].strip()
    while rest:
        match = _TOKEN.match(rest)
        if match is None:
            raise NotImplementedError(f"expression not understood: {expression!r}")
        tokens.append(match.group(1))
        rest = rest[match.end() :].lstrip()
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        position += 1
        return tokens[position - 1]

    def primary() -> Any:
        token = take()
        if token == "!":
            return not primary()
        if token == "(":
            value = either()
            assert take() == ")"
            return value
        if token.startswith("'"):
            return token[1:-1]
        if token.endswith("()"):
            return contexts["functions"][token[:-2]]
        if token in ("true", "false"):
            return token == "true"
        value: Any = contexts
        for part in token.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    def comparison() -> Any:
        left = primary()
        if peek() in ("==", "!="):
            op, right = take(), primary()
            equal = _loose(left) == _loose(right)
            return equal if op == "==" else not equal
        return left

    def both() -> Any:
        value = comparison()
        while peek() == "&&":
            take()
            right = comparison()
            value = right if value else value
        return value

    def either() -> Any:
        value = both()
        while peek() == "||":
            take()
            right = both()
            value = value if value else right
        return value

    result = either()
    if position != len(tokens):
        raise NotImplementedError(f"expression not understood: {expression!r}")
    return result


def _loose(value: Any) -> Any:
    return "" if value is None else str(value).lower() if isinstance(value, bool) else value


def substitute(text: str, contexts: dict[str, Any]) -> str:
    def one(match: re.Match[str]) -> str:
        value = evaluate(match.group(1), contexts)
        return "" if value is None else str(value)

    return re.sub(r"\$\{\{(.*?)\}\}", one, text)


# -- the runner --------------------------------------------------------------------------
@dataclass
class StepResult:
    name: str
    outcome: str  # success | failure | skipped
    stdout: str = ""
    stderr: str = ""
    summary: str = ""


@dataclass
class JobResult:
    name: str
    steps: list[StepResult] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return not self.skipped and all(s.outcome != "failure" for s in self.steps)

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.name == name)

    @property
    def output_text(self) -> str:
        return "".join(s.stdout + s.stderr + s.summary for s in self.steps)


@dataclass
class Runner:
    """One desk repository's runs: shared artifacts per workflow run, shared venue state."""

    root: Path
    github: dict[str, str]  # GITHUB_API_URL etc.
    secrets: dict[str, str]
    token: str
    artifacts: dict[str, Path] = field(default_factory=dict)
    venue_state: bytes | None = None
    policies: Path = REPO / "policies"
    runs: int = 0
    jobs: int = 0

    def new_run(self) -> None:
        self.runs += 1
        self.artifacts = {}

    def run_job(
        self,
        workflow: str,
        job_name: str,
        event_name: str,
        event: dict[str, Any],
        *,
        inputs: dict[str, str] | None = None,
        matrix: dict[str, str] | None = None,
        needs: dict[str, JobResult] | None = None,
        ref: str = "refs/heads/main",
    ) -> JobResult:
        data = load(workflow)
        job = data["jobs"][job_name]
        label = job_name + (f" ({', '.join(matrix.values())})" if matrix else "")
        self.jobs += 1
        workspace = self.root / f"run{self.runs}-job{self.jobs}-{label.replace(' ', '_')}"
        workspace.mkdir(parents=True)
        event_path = workspace.parent / f"{workspace.name}-event.json"
        event_path.write_text(json.dumps(event), encoding="utf-8")
        contexts: dict[str, Any] = {
            "github": {
                "token": self.token,
                "repository": self.github["GITHUB_REPOSITORY"],
                "event_name": event_name,
                "event": event,
                "ref": ref,
                "run_id": str(self.runs),
            },
            "secrets": self.secrets,
            "vars": {},
            "inputs": inputs or {},
            "matrix": matrix or {},
            "needs": {
                name: {"outputs": r.outputs, "result": "success" if r.ok else "failure"}
                for name, r in (needs or {}).items()
            },
            "steps": {},
            "functions": {"always": True, "success": True, "failure": False, "cancelled": False},
        }
        result = JobResult(label)
        condition = job.get("if")
        if condition is not None and not evaluate(str(condition), contexts):
            result.skipped = True
            return result
        env = self._base_env(workspace, event_name, event_path, ref)
        env.update({k: substitute(str(v), contexts) for k, v in (job.get("env") or {}).items()})
        shell = (data.get("defaults") or {}).get("run", {}).get("shell", "bash")
        failed = False
        for index, step in enumerate(job["steps"]):
            name = step.get("name") or step.get("uses") or step.get("run", "")[:40]
            contexts["functions"] = {
                "always": True,
                "success": not failed,
                "failure": failed,
                "cancelled": False,
            }
            condition = step.get("if", "success()")
            if not evaluate(str(condition), contexts):
                result.steps.append(StepResult(name, "skipped"))
                self._record(contexts, step, "skipped", {})
                continue
            outcome = self._step(step, index, workspace, env, shell, contexts, result, name)
            failed = failed or outcome == "failure"
        for key, expression in (job.get("outputs") or {}).items():
            result.outputs[key] = substitute(str(expression), contexts)
        return result

    def _base_env(
        self, workspace: Path, event_name: str, event_path: Path, ref: str
    ) -> dict[str, str]:
        env = {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": os.environ.get("HOME", str(self.root)),
            "LANG": "C.UTF-8",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": event_name,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_RUN_ID": str(self.runs),
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_REF": ref,
            "GITHUB_SHA": "0" * 40,
            "RUNNER_TEMP": str(self.root),
            "MMP_SANDBOX": "1",  # the runner's venues are the simulators
        }
        env.update(self.github)
        return env

    def _step(
        self,
        step: dict[str, Any],
        index: int,
        workspace: Path,
        env: dict[str, str],
        shell: str,
        contexts: dict[str, Any],
        result: JobResult,
        name: str,
    ) -> str:
        if "uses" in step:
            outcome = self._uses(step, workspace, contexts)
            result.steps.append(StepResult(name, outcome))
            self._record(contexts, step, outcome, {})
            return outcome
        script = str(step["run"])
        if script.strip() == INSTALL:
            result.steps.append(StepResult(name, "success"))
            return "success"
        output_file = workspace.parent / f"{workspace.name}-output-{index}"
        summary_file = workspace.parent / f"{workspace.name}-summary-{index}"
        output_file.write_text("")
        summary_file.write_text("")
        step_env = dict(env)
        step_env.update(
            {k: substitute(str(v), contexts) for k, v in (step.get("env") or {}).items()}
        )
        step_env |= {"GITHUB_OUTPUT": str(output_file), "GITHUB_STEP_SUMMARY": str(summary_file)}
        script_file = workspace.parent / f"{workspace.name}-step-{index}.sh"
        script_file.write_text(substitute(script, contexts), encoding="utf-8")
        self._carry_venue_state_in(workspace)
        done = subprocess.run(
            [*SHELLS[shell], str(script_file)],
            cwd=workspace,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        self._carry_venue_state_out(workspace)
        outputs = dict(
            line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line
        )
        outcome = "success" if done.returncode == 0 else "failure"
        summary = summary_file.read_text(encoding="utf-8")
        result.steps.append(StepResult(name, outcome, done.stdout, done.stderr, summary))
        self._record(contexts, step, outcome, outputs)
        return outcome

    @staticmethod
    def _record(
        contexts: dict[str, Any], step: dict[str, Any], outcome: str, out: dict[str, str]
    ) -> None:
        if "id" in step:
            contexts["steps"][step["id"]] = {"outcome": outcome, "outputs": out}

    def _uses(self, step: dict[str, Any], workspace: Path, contexts: dict[str, Any]) -> str:
        action = str(step["uses"]).split("@", 1)[0]
        given = {k: substitute(str(v), contexts) for k, v in (step.get("with") or {}).items()}
        if action == "actions/checkout":
            shutil.copytree(self.policies, workspace / "policies")
            return "success"
        if action == "actions/setup-python":
            return "success"  # the test's own interpreter is first on PATH
        if action == "actions/upload-artifact":
            return self._upload(given, workspace)
        if action == "actions/download-artifact":
            return self._download(given, workspace)
        raise NotImplementedError(f"no emulation for {action}")

    def _upload(self, given: dict[str, str], workspace: Path) -> str:
        files = sorted(
            {
                Path(found)
                for pattern in given["path"].split()
                for found in glob.glob(str(workspace / pattern))
                if Path(found).is_file()
            }
        )
        if not files:
            return "failure" if given.get("if-no-files-found") == "error" else "success"
        base = Path(os.path.commonpath([f.parent for f in files]))
        target = self.root / f"artifacts-run{self.runs}" / given["name"]
        assert given["name"] not in self.artifacts, f"artifact {given['name']} uploaded twice"
        for found in files:
            destination = target / found.relative_to(base)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(found, destination)
        self.artifacts[given["name"]] = target
        return "success"

    def _download(self, given: dict[str, str], workspace: Path) -> str:
        destination = workspace / given.get("path", ".")
        if "name" in given:
            chosen = {given["name"]: self.artifacts[given["name"]]}
        else:
            pattern = re.compile(given["pattern"].replace("*", ".*"))
            chosen = {n: p for n, p in self.artifacts.items() if pattern.fullmatch(n)}
        for name, folder in chosen.items():
            into = (
                destination
                if "name" in given or given.get("merge-multiple")
                else destination / name
            )
            shutil.copytree(folder, into, dirs_exist_ok=True)
        return "success"

    def _carry_venue_state_in(self, workspace: Path) -> None:
        if self.venue_state is not None:
            state = workspace / ".mmp" / "sandbox.json"
            state.parent.mkdir(exist_ok=True)
            state.write_bytes(self.venue_state)

    def _carry_venue_state_out(self, workspace: Path) -> None:
        state = workspace / ".mmp" / "sandbox.json"
        if state.exists():
            self.venue_state = state.read_bytes()

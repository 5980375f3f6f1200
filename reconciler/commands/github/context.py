"""What a workflow run tells us through the environment GitHub sets for every step."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.core.errors import GitHubError
from reconciler.core.secrets import register


@dataclass(frozen=True)
class RunContext:
    api_url: str
    repository: str  # owner/name
    token: str = field(repr=False)
    server_url: str = "https://github.com"
    run_id: str = ""
    event: Mapping[str, Any] = field(default_factory=dict)
    step_summary: Path | None = None
    step_output: Path | None = None
    event_name: str = ""
    actor: str = ""

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, api: bool = True, summary: bool = False
    ) -> RunContext:
        """The run's context. `api`: what a call to GitHub needs must be set; `summary`: the
        job summary's file must be. A command that needs neither, or the summary only, can
        run in other CI systems too."""
        env = os.environ if env is None else env
        needed: dict[str, str] = {}
        if api:
            needed |= {
                "GITHUB_API_URL": "set by GitHub for every step",
                "GITHUB_REPOSITORY": "set by GitHub for every step",
                "GITHUB_TOKEN": "pass it to the step: `env: GITHUB_TOKEN: ${{ github.token }}`",
            }
        if summary:
            needed["GITHUB_STEP_SUMMARY"] = "the file the job summary is written to"
        missing = [f"{name} ({why})" for name, why in needed.items() if not env.get(name)]
        if missing:
            raise GitHubError("not in a GitHub Actions step? missing:\n  " + "\n  ".join(missing))
        register(env.get("GITHUB_TOKEN", ""))
        event: dict[str, Any] = {}
        if env.get("GITHUB_EVENT_PATH"):
            try:
                event = json.loads(Path(env["GITHUB_EVENT_PATH"]).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise GitHubError(f"cannot read GITHUB_EVENT_PATH: {exc}") from None
        summary_file, output_file = env.get("GITHUB_STEP_SUMMARY"), env.get("GITHUB_OUTPUT")
        return cls(
            api_url=env.get("GITHUB_API_URL", "").rstrip("/"),
            repository=env.get("GITHUB_REPOSITORY", ""),
            token=env.get("GITHUB_TOKEN", ""),
            server_url=env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/"),
            run_id=env.get("GITHUB_RUN_ID", ""),
            event=event,
            step_summary=Path(summary_file) if summary_file else None,
            step_output=Path(output_file) if output_file else None,
            event_name=env.get("GITHUB_EVENT_NAME", ""),
            # who started this run: a re-run of a forced dispatch is the re-runner's doing
            actor=env.get("GITHUB_TRIGGERING_ACTOR") or env.get("GITHUB_ACTOR", ""),
        )

    @property
    def run_url(self) -> str:
        if not self.run_id or not self.repository:
            return ""
        return f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"

    def pull_request(self) -> int:
        """The pull request this run is for (from the event payload)."""
        pr = self.event.get("pull_request")
        number = pr.get("number") if isinstance(pr, dict) else self.event.get("number")
        if not isinstance(number, int):
            raise GitHubError(
                "this run is not for a pull request (no pull_request in GITHUB_EVENT_PATH); "
                "pass --pr NUMBER"
            )
        return number

    def from_fork(self) -> bool:
        pr = self.event.get("pull_request")
        if not isinstance(pr, dict):
            return False
        head = pr.get("head", {}).get("repo") or {}
        return bool(head.get("full_name")) and head.get("full_name") != self.repository

    def append_summary(self, markdown: str) -> None:
        if self.step_summary is None:
            return
        with self.step_summary.open("a", encoding="utf-8") as fh:
            fh.write(markdown if markdown.endswith("\n") else markdown + "\n")

    def set_output(self, name: str, value: str) -> None:
        """A step output (`steps.ID.outputs.NAME`), when GITHUB_OUTPUT is set."""
        if "\n" in name + value or "=" in name:
            raise GitHubError(f"a step output is one line, NAME=VALUE: {name!r}={value!r}")
        if self.step_output is not None:
            with self.step_output.open("a", encoding="utf-8") as fh:
                fh.write(f"{name}={value}\n")

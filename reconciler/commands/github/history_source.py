"""Where the journals of earlier runs come from: the `mmp-journal` artifacts of runs of our
own workflows on the branch, each checked before a line of it is trusted.

An artifact is read only if its run is a run of mmp-apply.yml or mmp-drift.yml in this
repository (never a fork's), started by a push, the schedule or a dispatch on the branch,
at a commit that is on the branch (GitHub's compare): a run of reviewed workflow code. A
tag named like the branch, a pull request's run or another workflow's upload is skipped and
counted. What a journal says decides what recovery writes back, so nothing else is read.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any

from reconciler.commands.github.api import GitHubApi
from reconciler.core.errors import GitHubError

SHA = re.compile(r"[0-9a-f]{40}")
ARTIFACT = "mmp-journal"
MEMBER = "journal.jsonl"
WORKFLOWS = ("mmp-apply.yml", "mmp-drift.yml")
EVENTS = ("push", "schedule", "workflow_dispatch")
MAX_ZIP = 32 * 1024 * 1024
MAX_JOURNAL = 32 * 1024 * 1024
ZIP_FAULTS = (
    zipfile.BadZipFile,
    zlib.error,
    RuntimeError,  # an encrypted member
    NotImplementedError,  # a compression zipfile does not know
    EOFError,
    ValueError,
    OSError,
)


@dataclass
class Found:
    """The artifacts looked at: their journals (newest first) and what was skipped, why."""

    journals: list[tuple[str, str]] = field(default_factory=list)  # ("run N", text)
    skipped: list[str] = field(default_factory=list)  # "run N: why" (unreadable ones)
    foreign: int = 0  # artifacts of runs that are not our workflows' on the branch
    expired: int = 0  # artifacts GitHub no longer keeps


def listed(api: GitHubApi, branch: str) -> tuple[list[dict[str, Any]], int]:
    """The well-formed, unexpired `mmp-journal` artifacts of this repository's runs on the
    branch, newest first (by their time: GitHub documents no order), and how many of them
    have expired."""
    found = [a for a in api.artifacts(ARTIFACT) if _well_formed(a, branch)]
    expired = sum(1 for a in found if a.get("expired") is not False)
    found = [a for a in found if a.get("expired") is False]
    newest = sorted(found, key=lambda a: (str(a["created_at"]), int(a["id"])), reverse=True)
    return newest, expired


def reviewed(api: GitHubApi, artifact: dict[str, Any], branch: str, head: str) -> bool:
    """Whether the artifact's run ran our workflows' reviewed code on the branch: at a
    commit that is the branch's head (`head`, read by its exact reference) or before it."""
    run = api.workflow_run(int(artifact["workflow_run"]["id"]))
    path, sha = str(run.get("path", "")), run.get("head_sha")
    ours = any(path == f".github/workflows/{name}" for name in WORKFLOWS)
    if not ours or run.get("event") not in EVENTS or run.get("head_branch") != branch:
        return False
    return isinstance(sha, str) and SHA.fullmatch(sha) is not None and api.contains(head, sha)


def journal_of(api: GitHubApi, artifact: dict[str, Any]) -> str | None:
    """The journal in an artifact's zip (None: it has none), or a GitHubError saying why it
    cannot be read (damaged, too large, not a zip)."""
    archive = api.artifact_zip(int(artifact["id"]), MAX_ZIP)
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
            try:
                info = zipped.getinfo(MEMBER)
            except KeyError:
                return None
            if info.file_size > MAX_JOURNAL:
                raise GitHubError(f"its journal is larger than {MAX_JOURNAL:,} bytes; not read")
            with zipped.open(info) as member:
                data = member.read(MAX_JOURNAL + 1)
    except ZIP_FAULTS as exc:
        raise GitHubError(f"not a readable zip ({type(exc).__name__}: {exc})") from None
    if len(data) > MAX_JOURNAL:
        raise GitHubError(f"its journal is larger than {MAX_JOURNAL:,} bytes; not read")
    return data.decode("utf-8", errors="replace")


def _well_formed(artifact: dict[str, Any], branch: str) -> bool:
    run = artifact.get("workflow_run")
    if (
        artifact.get("name") != ARTIFACT
        or not isinstance(artifact.get("id"), int)
        or not isinstance(artifact.get("created_at"), str)
        or not isinstance(run, dict)
        or not isinstance(run.get("id"), int)
    ):
        return False
    home = run.get("repository_id")
    same = home is not None and run.get("head_repository_id") == home
    return same and run.get("head_branch") == branch

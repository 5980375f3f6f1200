"""The journals of earlier workflow runs, carried from run to run.

Each job that runs `mmp apply` or `mmp heal` starts on a fresh runner, so its journal would
hold nothing of the runs before it: an apply killed between a reset and its set would be
unknown to the next apply and to the next heal (which would then not know what that apply
took away). So before mmp runs, the step reads the newest `mmp-journal` artifacts of earlier
runs on the branch (the apply job's, and the heal job's when it wrote something), merges
them into the journal this run appends to, and the job uploads that journal again as its
own `mmp-journal` artifact: each carries the history forward.

Only artifacts of runs on the branch named, in this repository (never a fork's or another
branch's: what a journal says decides what recovery writes back), are read. Records of
finished runs older than KEEP_DAYS are dropped, except the newest verified config of each
account (heal's empty-account warning reads it); an unfinished run's records are always
kept. When the history cannot be read, the step says so and why, and mmp runs with what
this runner has: what an earlier run left unfinished is then not known to it.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.apply import recovery
from reconciler.commands.github.api import GitHubApi
from reconciler.commands.github.context import RunContext
from reconciler.core import console
from reconciler.core.errors import GitHubError
from reconciler.core.units import loads_exact

ARTIFACT = "mmp-journal"
MEMBER = "journal.jsonl"
NEWEST = 3  # artifacts merged: each carries what its run read, so the newest hold it all
TRIES = 10  # artifacts looked at, newest first, to find NEWEST with a journal in them
MAX_ZIP = 64 * 1024 * 1024
MAX_JOURNAL = 256 * 1024 * 1024
KEEP_DAYS = 30


@dataclass
class Carried:
    """What this run knows of earlier runs: the artifacts read (`run N`), or why none."""

    path: Path
    runs: tuple[str, ...] = ()
    records: int = 0
    unknown: str | None = None  # why the history could not be read
    size: int = 0  # the journal's size once gathered: an unchanged one is not uploaded again

    def line(self) -> str:
        if self.unknown is not None:
            return (
                f"The journals of earlier runs could not be read ({self.unknown}): what an "
                "earlier apply or heal left unfinished is not known to this run."
            )
        if not self.runs:
            return "No journal of an earlier run on this branch (no `mmp-journal` artifact)."
        return (
            f"Journals of earlier runs read: {self.records:,} record(s), from the "
            f"`{ARTIFACT}` artifacts of {', '.join(self.runs)}."
        )

    def report(self) -> dict[str, Any]:
        return {"runs": list(self.runs), "records": self.records, "unknown": self.unknown}

    def settle(self) -> None:
        """After mmp ran: a journal this run added nothing to is removed, so the job keeps
        no `mmp-journal` artifact for a run that wrote nothing (the newest stay the ones
        with history in them)."""
        try:
            if self.unknown is None and self.path.stat().st_size == self.size:
                self.path.unlink()
        except OSError:
            pass


def carry(env: Mapping[str, str], into: Path, branch: str = "main") -> Carried:
    """The history gathered into the journal at `into`, said on stderr either way."""
    try:
        if not branch:
            raise GitHubError("GITHUB_REF_NAME is not set: the branch whose runs to read")
        ctx = RunContext.from_env(env)
        with GitHubApi(ctx) as api:
            texts, runs = _newest(api, branch)
        carried = _write(into, texts, runs)
    except (GitHubError, OSError, zipfile.BadZipFile) as exc:
        carried = Carried(into, unknown=_why(exc))
        console.warn(f"mmp: {carried.line()}")
        return carried
    console.note(carried.line())
    return carried


def _why(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _newest(api: GitHubApi, branch: str) -> tuple[list[str], list[str]]:
    """The journals in the newest artifacts of this branch's runs, oldest first."""
    found = [a for a in api.artifacts(ARTIFACT) if _usable(a, api.ctx.repository, branch)]
    found.sort(key=lambda a: (str(a["created_at"]), int(a["id"])), reverse=True)
    texts: list[tuple[str, str]] = []
    for artifact in found[:TRIES]:
        text = _journal_in(api.artifact_zip(int(artifact["id"]), MAX_ZIP))
        if text is not None:
            texts.append((f"run {artifact['workflow_run']['id']}", text))
        if len(texts) == NEWEST:
            break
    texts.reverse()
    return [text for _, text in texts], [run for run, _ in texts]


def _usable(artifact: dict[str, Any], repository: str, branch: str) -> bool:
    """An artifact of a run on `branch` of this repository, not expired, well formed."""
    run = artifact.get("workflow_run")
    if (
        artifact.get("name") != ARTIFACT
        or artifact.get("expired") is not False
        or not isinstance(artifact.get("id"), int)
        or not isinstance(artifact.get("created_at"), str)
        or not isinstance(run, dict)
        or not isinstance(run.get("id"), int)
    ):
        return False
    home = run.get("repository_id")
    return (
        home is not None
        and run.get("head_repository_id") == home
        and (run.get("head_branch") == branch)
    )


def _journal_in(archive: bytes) -> str | None:
    """The journal in an artifact's zip, if it has one (an apply refused before it began
    has only its output in it)."""
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        try:
            info = zipped.getinfo(MEMBER)
        except KeyError:
            return None
        with zipped.open(info) as member:
            data = member.read(MAX_JOURNAL + 1)
    if len(data) > MAX_JOURNAL:
        raise GitHubError(f"a journal artifact holds more than {MAX_JOURNAL:,} bytes; not read")
    return data.decode("utf-8", errors="replace")


def _write(into: Path, texts: list[str], runs: list[str]) -> Carried:
    """The merged, compacted history with what is at `into` already (newest) after it."""
    here = into.read_text(encoding="utf-8", errors="replace") if into.is_file() else ""
    lines = list(dict.fromkeys(line for text in [*texts, here] for line in _lines(text)))
    into.parent.mkdir(parents=True, exist_ok=True)
    staged = into.with_name(into.name + ".gathered")
    staged.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    kept = compact(lines, recovery.open_run_ids(staged), dt.datetime.now(dt.UTC))
    staged.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
    with staged.open("rb") as handle:
        os.fsync(handle.fileno())
    staged.replace(into)
    return Carried(into, tuple(runs), len(kept), size=into.stat().st_size)


def _lines(text: str) -> Iterable[str]:
    return (line for line in text.splitlines() if line.strip())


def compact(lines: list[str], open_runs: set[str], now: dt.datetime) -> list[str]:
    """The lines kept: every record of an unfinished run, every record younger than
    KEEP_DAYS, each account's newest verified config, and lines that are not records
    (counted as broken by the reader, never silently dropped)."""
    cutoff = now - dt.timedelta(days=KEEP_DAYS)
    parsed = [_parse(line) for line in lines]
    newest_verified: dict[str, int] = {}
    for index, record in enumerate(parsed):
        if record is not None and _verified(record):
            venue, account = str(record["scope"]).split("/")[:2]
            newest_verified[f"{venue}/{account}"] = index
    keep = set(newest_verified.values())
    for index, record in enumerate(parsed):
        if record is None or record.get("run") in open_runs or not _older(record, cutoff):
            keep.add(index)
    return [line for index, line in enumerate(lines) if index in keep]


def _parse(line: str) -> dict[str, Any] | None:
    try:
        record = loads_exact(line)
    except (ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("event"), str) else None


def _verified(record: dict[str, Any]) -> bool:
    scope = record.get("scope")
    applied = record.get("outcome") == "applied" and bool(record.get("live"))
    return applied and isinstance(scope, str) and scope.count("/") >= 2


def _older(record: dict[str, Any], cutoff: dt.datetime) -> bool:
    try:
        when = dt.datetime.fromisoformat(str(record.get("ts")))
    except ValueError:
        return False  # undated: kept
    when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return when < cutoff

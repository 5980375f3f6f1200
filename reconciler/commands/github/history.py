"""The journals of earlier workflow runs, carried from run to run.

Each job that runs `mmp apply` or `mmp heal` starts on a fresh runner, so its journal would
hold nothing of the runs before it: an apply killed between a reset and its set would be
unknown to the next apply and to the next heal (which would then not know what that apply
took away). So before mmp runs, the step reads the newest `mmp-journal` artifacts of earlier
runs (history_source: only our workflows' runs of reviewed code on the branch), merges them
into the journal this run appends to, and the job uploads that journal again as its own
`mmp-journal` artifact: each carries the history forward.

Each gathered journal ends with a `history` record saying whether what it read was whole:
the newest artifacts are read until NEWEST whole ones are in (a run that could not read
its history holds only its own records, and does not count). Records dated more than a
minute ahead are dropped (mmp journals when it acts). Records of finished runs older than
KEEP_DAYS are dropped, except each account's newest verified config (heal's empty-account
warning reads it); a run that left a scope in flight keeps its records. What could not be
read is said, with why, and never guessed: an artifact that cannot be read is skipped (what
that run alone journaled is then not known), and when the history cannot be read at all
mmp runs with what this runner has.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.apply import journal, recovery
from reconciler.commands.github import history_source as source
from reconciler.commands.github.api import GitHubApi
from reconciler.commands.github.context import RunContext
from reconciler.core import console
from reconciler.core.errors import GitHubError
from reconciler.core.units import dumps_exact

ARTIFACT = source.ARTIFACT
NEWEST = 3  # whole histories read: each holds what its run read, the newest hold it all
LOOK_AT = 30  # artifacts looked at, at most, to find them
MAX_MERGED = 64 * 1024 * 1024
KEEP_DAYS = 30
AHEAD = dt.timedelta(minutes=1)
MARK = "history"
MARKED = re.compile(rf'"event"\s*:\s*"{MARK}"')


@dataclass
class Carried:
    """What this run knows of earlier runs: the artifacts read (`run N`), or why not."""

    path: Path
    runs: tuple[str, ...] = ()
    records: int = 0
    unknown: str | None = None  # why the history could not be read at all
    skipped: tuple[str, ...] = ()  # "run N: why": artifacts that could not be read
    foreign: int = 0  # artifacts not trusted: not our workflows' runs on the branch
    dropped: int = 0  # records dated ahead of now
    expired: int = 0  # artifacts GitHub no longer keeps
    whole: bool = True  # NEWEST whole histories found, or every artifact read
    size: int = 0  # the journal's size once gathered: an unchanged one is not kept again

    @property
    def warning(self) -> bool:
        """Something was not read: said as a warning (stderr, the job summary)."""
        return self.unknown is not None or bool(self.skipped or self.foreign) or not self.whole

    def line(self) -> str:
        if self.unknown is not None:
            return (
                f"The journals of earlier runs could not be read ({self.unknown}): what an "
                "earlier apply or heal left unfinished is not known to this run."
            )
        said = (
            f"Journals of earlier runs read: {self.records:,} record(s), from the `{ARTIFACT}` "
            f"artifacts of {', '.join(self.runs)}."
            if self.runs
            else "No journal of an earlier run was read."
            if self.skipped or self.foreign
            else f"No journal of an earlier run on this branch (no `{ARTIFACT}` artifact)."
        )
        if not self.whole:
            said += (
                f" None of the newest {LOOK_AT} artifacts holds a whole history"
                + (f" and {self.expired} expired" if self.expired else "")
                + ": what runs before them left unfinished is not known to this run."
            )
        if self.skipped:
            said += f" Not read: {'; '.join(self.skipped)}: what those runs alone journaled "
            said += "is not known to this run."
        if self.foreign:
            said += (
                f" Not trusted: {self.foreign} artifact(s) of runs that are not this "
                "repository's mmp workflows on the branch at a commit on it (forged, or the "
                "branch was rewritten): what those runs journaled is not known to this run."
            )
        if self.dropped:
            said += f" Dropped: {self.dropped} record(s) dated ahead of now."
        return said

    def report(self) -> dict[str, Any]:
        why = self.unknown or ("; ".join(self.skipped) if self.skipped else None)
        if why is None and not self.whole:
            why = f"none of the newest {LOOK_AT} artifacts holds a whole history"
        return {"runs": list(self.runs), "records": self.records, "unknown": why}

    def settle(self) -> None:
        """After heal ran: a journal it added nothing to is removed, so the job keeps no
        `mmp-journal` artifact for a run that wrote nothing (the newest stay the ones with
        history in them)."""
        try:
            if self.unknown is None and self.path.stat().st_size == self.size:
                self.path.unlink()
        except OSError:
            pass


def carry(env: Mapping[str, str], into: Path, branch: str) -> Carried:
    """The history gathered into the journal at `into`, said on stderr either way."""
    try:
        if not branch:
            raise GitHubError("GITHUB_REF_NAME is not set: the branch whose runs to read")
        with GitHubApi(RunContext.from_env(env)) as api:
            found, whole = _gather(api, branch)
        carried = _write(into, found, whole)
    except (GitHubError, OSError) as exc:
        carried = Carried(into, unknown=_why(exc))
    (console.warn if carried.warning else console.note)(f"mmp: {carried.line()}")
    return carried


def _why(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _gather(api: GitHubApi, branch: str) -> tuple[source.Found, bool]:
    """The newest trusted journals until NEWEST whole ones; whole: they were found, or every
    artifact there is was looked at."""
    found, complete = source.Found(), 0
    artifacts, found.expired = source.listed(api, branch)
    head = api.branch_head(branch) if artifacts else ""
    for artifact in artifacts[:LOOK_AT]:
        run = f"run {artifact['workflow_run']['id']}"
        try:
            if not source.reviewed(api, artifact, branch, head):
                found.foreign += 1
                continue
            text = source.journal_of(api, artifact)
        except GitHubError as exc:
            found.skipped.append(f"{run} ({_why(exc)})")
            continue
        if text is None:
            continue
        found.journals.append((run, text))
        complete += _whole(text)
        if complete == NEWEST:
            return found, True
    return found, complete > 0 or (len(artifacts) <= LOOK_AT and not found.expired)


def _whole(text: str) -> bool:
    """Whether the run that kept this journal had read its history whole (its own mark is
    the last one in it)."""
    for line in reversed(text.split("\n")):
        if MARKED.search(line):
            record = journal.parse(line)
            return record is not None and record.get("whole") is True
    return False


def _write(into: Path, found: source.Found, whole: bool) -> Carried:
    """The merged, compacted history, then what is at `into` already, then this run's mark."""
    here = into.read_text(encoding="utf-8", errors="replace") if into.is_file() else ""
    texts = [text for _, text in reversed(found.journals)]  # oldest first
    now = dt.datetime.now(dt.UTC)
    entries, dropped = _merged([*texts, here], now)
    kept = _compacted(into, entries, now)
    runs = tuple(run for run, _ in reversed(found.journals))
    mark: dict[str, Any] = {"ts": now.isoformat(timespec="milliseconds"), "event": MARK}
    mark |= {"run": f"{MARK}-{secrets.token_hex(6)}", "read": list(runs)}
    mark["whole"] = whole and not found.skipped and not found.foreign
    _replace(into, [*kept, dumps_exact(mark, sort_keys=True)])
    return Carried(
        into,
        runs,
        len(kept),
        skipped=tuple(found.skipped),
        foreign=found.foreign,
        dropped=dropped,
        expired=found.expired,
        whole=whole,
        size=into.stat().st_size,
    )


Entry = tuple[str, dict[str, Any] | None]  # a journal line, and the record it holds


def _merged(texts: list[str], now: dt.datetime) -> tuple[list[Entry], int]:
    """Every line once, in order, with its record (parsed once, here); those dated ahead of
    now dropped (and counted)."""
    size, dropped, seen = 0, 0, dict[str, dict[str, Any] | None]()
    for text in texts:
        for line in text.split("\n"):
            if not line.strip() or line in seen:
                continue
            record = journal.parse(line)
            if record is not None and _at(record) > now + AHEAD:
                dropped += 1
                continue
            size += len(line) + 1
            if size > MAX_MERGED:
                raise GitHubError(f"the journals of earlier runs exceed {MAX_MERGED:,} bytes")
            seen[line] = record
    return list(seen.items()), dropped


def _compacted(into: Path, entries: list[Entry], now: dt.datetime) -> list[str]:
    staged = into.with_name(into.name + ".gathered")
    try:
        _replace(staged, [line for line, _ in entries], final=False)
        return compact(entries, recovery.open_run_ids(staged), now)
    finally:
        staged.unlink(missing_ok=True)


def _replace(path: Path, lines: list[str], final: bool = True) -> None:
    """The lines written whole to `path` (through a staged file when `final`), or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path.with_name(path.name + ".staged") if final else path
    try:
        with target.open("w", encoding="utf-8") as handle:
            handle.write("".join(f"{line}\n" for line in lines))
            handle.flush()
            os.fsync(handle.fileno())
        if final:
            target.replace(path)
    except OSError:
        target.unlink(missing_ok=True)
        raise


def compact(entries: list[Entry], open_runs: set[str], now: dt.datetime) -> list[str]:
    """The lines kept: every record of a run with a scope in flight, every record younger
    than KEEP_DAYS, each account's newest verified config, and lines that are not records
    (counted as broken by the reader, never silently dropped)."""
    cutoff = now - dt.timedelta(days=KEEP_DAYS)
    newest_verified: dict[str, int] = {}
    for index, (_, record) in enumerate(entries):
        if record is not None and _verified(record):
            venue, account = str(record["scope"]).split("/")[:2]
            newest_verified[f"{venue}/{account}"] = index
    keep = set(newest_verified.values())
    for index, (_, record) in enumerate(entries):
        if record is None or record.get("run") in open_runs or _at(record) >= cutoff:
            keep.add(index)
    return [line for index, (line, _) in enumerate(entries) if index in keep]


def _verified(record: dict[str, Any]) -> bool:
    scope = record.get("scope")
    applied = record.get("outcome") == "applied" and bool(record.get("live"))
    return applied and isinstance(scope, str) and scope.count("/") >= 2


def _at(record: dict[str, Any]) -> dt.datetime:
    """A record's time (an undated one counts as now: kept, never ahead)."""
    try:
        when = dt.datetime.fromisoformat(str(record.get("ts")))
    except ValueError:
        return dt.datetime.now(dt.UTC)
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)

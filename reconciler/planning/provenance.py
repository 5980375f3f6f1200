"""Where a plan was made: the policy repository's commit, whether its policies had
uncommitted changes, and which policies folder. A saved plan records it; apply refuses to
run a plan whose provenance differs from the checkout it runs in."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.core.paths import policies_id, repository_root
from reconciler.policy.loader import SKIPPED_FILES  # the guardrails files' names


@dataclass(frozen=True)
class Provenance:
    commit: str | None  # HEAD of the Git work tree holding the policies; None outside Git
    dirty: bool  # the policies have changes that are not committed
    policies: str  # the policies path, relative to the repository root

    @classmethod
    def of(cls, policies: Path) -> Provenance:
        """`dirty`: any file mmp reads with these policies has uncommitted changes: the
        policies (a folder, or one file) and the guardrails beside them (read from the
        folder of a policy file too, so an edit there counts even with `--policies FILE`)."""
        root, where = repository_root(policies), policies_id(policies)
        commit = _git(root, "rev-parse", "--verify", "HEAD")
        if commit is None:
            return cls(None, False, where)
        return cls(commit, bool(changed(policies)), where)

    def to_data(self) -> dict[str, Any]:
        return {"commit": self.commit, "dirty": self.dirty, "policies": self.policies}

    @classmethod
    def from_data(cls, data: Any) -> Provenance:
        if not isinstance(data, dict):
            raise ValueError("provenance is missing")
        commit, dirty, where = data.get("commit"), data.get("dirty"), data.get("policies")
        if commit is not None and not isinstance(commit, str):
            raise ValueError("provenance.commit is not a commit")
        if not isinstance(dirty, bool) or not isinstance(where, str):
            raise ValueError("provenance is incomplete")
        return cls(commit, dirty, where)

    def differences(self, here: Provenance) -> list[str]:
        """What differs between where a plan was made (self) and where it runs (here)."""
        found = []
        if (self.commit is None) != (here.commit is None):
            made, runs = ("outside", "inside") if self.commit is None else ("inside", "outside")
            found.append(f"it was made {made} a Git repository and runs {runs} one")
        elif self.commit != here.commit:
            assert self.commit is not None and here.commit is not None
            found.append(
                f"it was made at commit {self.commit[:12]}, the checkout is at {here.commit[:12]}"
            )
        if self.dirty and not here.dirty:
            found.append("the policies had uncommitted changes when it was made; none now")
        elif here.dirty and not self.dirty:
            found.append("the policies have uncommitted changes now; none when it was made")
        if self.policies != here.policies:
            found.append(f"it was made from the policies at {self.policies}, not {here.policies}")
        return found


def changed(policies: Path) -> list[str]:
    """The files read with these policies that have uncommitted changes (relative to the
    repository root; new, deleted and ignored files too: an ignored file in the policies
    folder is read like any other)."""
    root = repository_root(policies)
    status = _git(
        root,
        "-c",
        "core.quotePath=false",
        "status",
        "--porcelain",
        "--untracked-files=all",
        "--ignored=matching",
        "--",
        *read_with(policies),
    )
    if status is None:  # git could not tell (a broken index, a timeout): never "clean"
        return ["(`git status` failed, so uncommitted changes cannot be ruled out)"]
    # "XY path" per line (the first line's leading blank is stripped with the output's)
    return [
        part[1].strip()
        for line in status.splitlines()
        if len(part := line.strip().split(" ", 1)) == 2
    ]


def read_with(policies: Path) -> list[str]:
    """The paths (relative to the repository root) of what is read with these policies: the
    folder, or the one policy file and both names its guardrails may have beside it (a
    guardrails file deleted, or added under the other name, is a change too)."""
    if policies.is_dir():
        return [policies_id(policies)]
    folder = policies.parent
    return [policies_id(policies), *(policies_id(folder / name) for name in sorted(SKIPPED_FILES))]


def branch(policies: Path) -> str | None:
    """The branch checked out where the policies are; None outside Git or on a detached HEAD
    (in GitHub Actions, a detached checkout of GITHUB_SHA is of GITHUB_REF_NAME's branch)."""
    root = repository_root(policies)
    name = _git(root, "symbolic-ref", "--quiet", "--short", "HEAD")
    if name:
        return name
    sha, ref = os.environ.get("GITHUB_SHA"), os.environ.get("GITHUB_REF_NAME")
    if sha and ref and os.environ.get("GITHUB_REF_TYPE", "branch") == "branch":
        return ref if _git(root, "rev-parse", "--verify", "HEAD") == sha else None
    return None


@dataclass(frozen=True)
class Upstream:
    """Where a branch's commits are reviewed: its upstream (the remote branch it tracks) as
    this clone last fetched it, and how many commits of HEAD are not on it."""

    name: str  # as people name it (origin/main); '' when the branch tracks none
    ahead: int | None  # commits of HEAD not on it (0 with no upstream); None: git failed


def upstream(policies: Path, branch: str) -> Upstream:
    """`branch`'s upstream, from this clone alone (nothing is fetched: a remote branch is
    only as new as the last fetch or push), and HEAD's commits not on it."""
    root, local = repository_root(policies), f"refs/heads/{branch}"
    listed = _git(
        root, "for-each-ref", "--format=%(refname)%00%(upstream)%00%(upstream:short)", local
    )
    if listed is None:  # git could not tell: never taken for "no upstream"
        return Upstream("", None)
    rows = [line.split("\0") for line in listed.splitlines()]
    ref, name = next(
        ((row[1], row[2]) for row in rows if len(row) == 3 and row[0] == local), ("", "")
    )
    if not ref:  # no such local branch, or it tracks nothing
        return Upstream("", 0)
    count = _git(root, "rev-list", "--count", f"{ref}..HEAD", "--")
    return Upstream(name or ref, int(count) if count is not None and count.isdigit() else None)


def commit_time(policies: Path) -> dt.datetime | None:
    """When HEAD of the policies' work tree was committed (its committer date); None outside
    Git."""
    stamp = _git(repository_root(policies), "show", "-s", "--format=%ct", "HEAD")
    if stamp is None or not stamp.isdigit():
        return None
    return dt.datetime.fromtimestamp(int(stamp), dt.UTC)


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None

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
    targets, outside = _linked(policies, root)
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
        *targets,
    )
    if status is None:  # git could not tell (a broken index, a timeout): never "clean"
        return ["(`git status` failed, so uncommitted changes cannot be ruled out)"]
    # "XY path" per line (the first line's leading blank is stripped with the output's)
    return outside + [
        part[1].strip()
        for line in status.splitlines()
        if len(part := line.strip().split(" ", 1)) == 2
    ]


def _linked(policies: Path, root: Path) -> tuple[list[str], list[str]]:
    """What symbolic links among the files read point at: the targets inside the repository
    (their changes are the policies' changes too), and each link whose target is outside it
    (named: what it reads is in no commit)."""
    found = [policies] if policies.is_symlink() or not policies.is_dir() else []
    if policies.is_dir():
        for folder, dirs, files in os.walk(policies):
            found += [Path(folder) / name for name in (*dirs, *files)]
    inside, outside = [], []
    for path in (p for p in found if p.is_symlink()):
        target = path.resolve()
        try:
            inside.append(target.relative_to(root.resolve()).as_posix())
        except ValueError:
            try:
                shown = path.absolute().relative_to(root.absolute()).as_posix()
            except ValueError:
                shown = str(path)
            outside.append(f"{shown} (a link to {target}, outside the repository)")
    return inside, outside


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
    """Where `branch`'s reviews merge, from this clone alone (nothing is fetched: a remote
    branch is only as new as the last fetch or push): the remote branch of the same name,
    `REMOTE/branch`, on the remote the branch is configured with when that is a remote of
    this clone, else `origin`, else the one remote there is. Not what the branch happens to
    track: a main pushed with `-u` to another branch, or tracking itself or a URL, is still
    reviewed where main's reviews merge. No remote at all: a repository of this machine
    only (name ''). A remote whose branch this clone does not have: ahead None."""
    root = repository_root(policies)
    listed = _git(root, "remote")
    if listed is None:  # git could not tell: never taken for "no upstream"
        return Upstream("", None)
    remotes = listed.split()
    if not remotes:
        return Upstream("", 0)
    configured = _git(root, "config", "--get", f"branch.{branch}.remote")
    remote = next((r for r in (configured, "origin", *remotes[:1]) if r in remotes), remotes[0])
    name, ref = f"{remote}/{branch}", f"refs/remotes/{remote}/{branch}"
    if _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}") is None:
        return Upstream(name, None)
    count = _git(root, "rev-list", "--count", f"{ref}..HEAD", "--")
    return Upstream(name, int(count) if count is not None and count.isdigit() else None)


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

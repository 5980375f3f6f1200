"""Where mmp keeps its own files: `.mmp/` at the root of the policy repository.

The root is the Git work tree that holds the policies (found by walking up to a `.git`), or
else the folder beside the policies folder; never the current folder, so a run started from
elsewhere finds the same journal, lock and sandbox as one started at the root.
"""

from __future__ import annotations

from pathlib import Path

STATE = ".mmp"


def repository_root(policies: Path) -> Path:
    folder = (policies if policies.is_dir() or not policies.suffix else policies.parent).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return folder.parent


def state_dir(policies: Path) -> Path:
    return repository_root(policies) / STATE


def policies_id(policies: Path) -> str:
    """The policies folder as the journal names it: relative to the repository root."""
    root = repository_root(policies)
    try:
        return policies.resolve().relative_to(root).as_posix()
    except ValueError:
        return policies.resolve().as_posix()

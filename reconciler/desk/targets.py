"""Where `mmp init` writes a new desk: every path checked before anything is written, so a
refusal leaves the folder as it was.

Refused, with nothing written: DIR or a folder on the way being a file; a folder where a
file goes; a symbolic link on the way or at a file (writing through it would write outside
the desk, or where Git does not see the file); a folder that cannot be written; and
policies/ that holds policies already (the example accounts would join the desk's real
ones, even with --force: --force overwrites generated files, never merges policies).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from reconciler.core.errors import ReconcilerError

POLICIES = "policies"


def check(root: Path, paths: Iterable[str], force: bool) -> list[str]:
    """The paths that exist already (overwritten with --force); a ReconcilerError naming
    every path that cannot be written as asked, or the files that exist without --force."""
    _existing_policies(root)
    problems: list[str] = []
    taken: list[str] = []
    for path in paths:
        problem = _problem(root, path)
        if problem:
            problems.append(problem)
        elif (root / path).is_file():
            taken.append(path)
    if problems:
        raise ReconcilerError(f"{root}: nothing was written: " + "; ".join(dict.fromkeys(problems)))
    if taken and not force:
        raise ReconcilerError(
            f"{root}: these exist already, and nothing was written: {', '.join(taken)}; "
            "give --force to overwrite them, or `mmp init --upgrade` to move an existing "
            "desk to this mmp"
        )
    return taken


def _existing_policies(root: Path) -> None:
    folder = root / POLICIES
    if not folder.is_dir() or folder.is_symlink():
        return
    found = sorted(
        p.relative_to(root).as_posix()
        for p in folder.rglob("*")
        if p.suffix in (".yaml", ".yml") and (p.is_file() or p.is_symlink())
    )
    if found:
        raise ReconcilerError(
            f"{root}: policies/ holds policies already ({', '.join(found)}), and mmp init "
            "would add its example accounts and guardrails beside them (with or without "
            "--force); nothing was written. For an existing desk, `mmp workflows --write` "
            "writes the workflows from its policies; to start a new desk here, move those "
            "files out first"
        )


def _problem(root: Path, path: str) -> str:
    """Why root/path cannot be written as a new file, or ''."""
    if root.exists() and not root.is_dir():
        return f"{root} is a file, not a folder for the new desk"
    blocked = _ancestor_problem(root)
    if blocked:
        return blocked
    here = root
    parts = Path(path).parts
    for depth, part in enumerate(parts, 1):
        here = here / part
        last = depth == len(parts)
        if here.is_symlink():
            return f"{here} is a symbolic link: mmp init writes no file through one"
        if not here.exists():
            return _writable(here.parent)
        if not last and not here.is_dir():
            return f"{here} is a file where mmp init makes a folder"
        if last and here.is_dir():
            return f"{here} is a folder where mmp init writes a file"
    return _writable(root / Path(path).parent)


def _ancestor_problem(root: Path) -> str:
    """The first folder above root that exists must be a folder mmp may create root in."""
    for above in Path(os.path.abspath(root)).parents:
        if above.exists():
            return "" if above.is_dir() else f"{above} is a file, not a folder"
    return ""


def _writable(folder: Path) -> str:
    """'' when files can be made in the folder (or its first existing ancestor)."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
        return f"{folder} cannot be written (permissions)"
    return ""

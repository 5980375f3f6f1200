"""Files a desk command replaces (`mmp workflows --write`, `mmp init --upgrade`): the diff of
each one first, then the operator's yes before an existing file is replaced (asked on a
terminal; elsewhere only --yes gives it), and each file written in the line endings it had.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from reconciler.apply.interrupt import answered_yes
from reconciler.core.console import is_terminal
from reconciler.core.errors import ReconcilerError


@dataclass(frozen=True)
class Change:
    path: Path
    shown: str  # the path as the operator reads it
    after: str  # the text to write, with \n line ends
    before: str | None = None  # the text there now, with \n line ends; None: no file
    crlf: bool = False  # the file there now ends its lines with \r\n

    @property
    def replaces(self) -> bool:
        return self.before is not None and self.before != self.after

    @property
    def writes(self) -> bool:
        return self.before != self.after


def read(path: Path) -> tuple[str, bool] | None:
    """A file's text with \n line ends, and whether it had \r\n ones; None: no file."""
    if not path.is_file():
        return None
    raw = path.read_bytes().decode("utf-8", errors="replace")
    return raw.replace("\r\n", "\n"), "\r\n" in raw


def shown(path: Path) -> str:
    """A path as the operator reads it: relative to here when below it."""
    try:
        return Path(os.path.abspath(path)).relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def change(path: Path, after: str) -> Change:
    there = read(path)
    if there is None:
        return Change(path, shown(path), after)
    return Change(path, shown(path), after, there[0], there[1])


def diff(changes: Iterable[Change]) -> str:
    """A unified diff of every file replaced (a new file is listed when written)."""
    return "".join(
        "".join(
            difflib.unified_diff(
                (c.before or "").splitlines(keepends=True),
                c.after.splitlines(keepends=True),
                fromfile=_side("a", c.shown),
                tofile=_side("b", c.shown),
            )
        )
        for c in changes
        if c.replaces
    )


def _side(side: str, shown: str) -> str:
    return shown if Path(shown).is_absolute() else f"{side}/{shown}"


def approve(changes: list[Change], yes: bool, command: str) -> None:
    """Return when the files may be written; a ReconcilerError (nothing written) when not."""
    replaced = [c for c in changes if c.replaces]
    if not replaced or yes:
        return
    count = f"{len(replaced)} file(s)"
    if not is_terminal(sys.stdin):
        raise ReconcilerError(
            f"nothing was written: `{command}` would replace {count} as the diff above shows "
            "(a hand edit there would be lost); stdin is not a terminal, so nobody was asked: "
            "give --yes to write them"
        )
    if not answered_yes(f"Replace {count} as shown above?"):
        raise ReconcilerError("nothing was written: the replacement was not approved")


def write(changes: Iterable[Change]) -> list[str]:
    """Write the files that differ; one line each for what was written or left."""
    told = []
    for c in changes:
        if not c.writes:
            told.append(f"unchanged {c.shown}")
            continue
        try:
            c.path.parent.mkdir(parents=True, exist_ok=True)
            c.path.write_text(c.after, encoding="utf-8", newline="\r\n" if c.crlf else "\n")
        except OSError as exc:
            done = "; ".join(told) or "nothing"
            raise ReconcilerError(
                f"could not write {c.shown} ({exc.strerror or exc}); before it: {done}"
            ) from None
        told.append(f"{'updated' if c.before is not None else 'wrote'} {c.shown}")
    return told

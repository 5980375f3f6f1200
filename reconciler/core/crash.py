"""Where a bug's traceback goes: `.mmp/crash.log`, or a temp file when that cannot be written.

The user sees one line naming the file; the traceback (redacted) is in it.
"""

from __future__ import annotations

import os
import tempfile
import traceback
from pathlib import Path

from reconciler.core.secrets import redact

_folder: Path = Path(".mmp")


def configure(state_dir: Path) -> None:
    global _folder
    _folder = state_dir


def record(error: BaseException | None = None) -> Path:
    """Write the traceback of `error` (or of the exception being handled); return where."""
    text = redact("".join(traceback.format_exception(error)) if error else traceback.format_exc())
    for path in (
        _folder / "crash.log",
        Path(tempfile.gettempdir()) / f"mmp-crash-{os.getpid()}.log",
    ):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    return Path("(nowhere: no folder could be written)")

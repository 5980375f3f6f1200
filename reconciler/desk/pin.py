"""Which mmp the generated workflows install: exactly one version, chosen on purpose.

A pin is one of: `mmp-reconciler==X.Y.Z` (from the desk's package index), a git ref pinned
by commit, `git+https://HOST/OWNER/REPO@<40 hex digits>` (where the package is on no index),
or `.` (the checkout itself: only this project's own repository, whose workflows test the
tool they sit beside). A branch, a tag or a version range is refused: it would move under
the desk without a pull request.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import metadata

from reconciler import __version__
from reconciler.core.errors import ReconcilerError
from reconciler.desk import DISTRIBUTION

INSTALL_PREFIX = "python -m pip install --quiet "
CHECKOUT = "."
_VERSION = re.compile(re.escape(DISTRIBUTION) + r"==(\d+\.\d+\.\d+(?:[a-z0-9.+-]*))")
_GIT = re.compile(
    r"git\+(https://[A-Za-z0-9.-]+(?::\d+)?/[A-Za-z0-9._/~-]+?)(?:\.git)?@([0-9a-f]{40})"
)


@dataclass(frozen=True)
class Pin:
    spec: str  # what pip installs, one shell word

    @property
    def install(self) -> str:
        return INSTALL_PREFIX + self.spec

    @property
    def git(self) -> tuple[str, str] | None:
        """(repository URL, commit) of a git pin."""
        found = _GIT.fullmatch(self.spec)
        return (found.group(1), found.group(2)) if found else None

    @property
    def version(self) -> str | None:
        found = _VERSION.fullmatch(self.spec)
        return found.group(1) if found else None


def parse(spec: str) -> Pin:
    """A pin from what a person typed, or a ReconcilerError saying what a pin may be."""
    spec = spec.strip()
    if spec == CHECKOUT or _VERSION.fullmatch(spec) or _GIT.fullmatch(spec):
        return Pin(spec)
    raise ReconcilerError(
        f"--pin {spec!r} is not a pinned mmp: give {DISTRIBUTION}==X.Y.Z (one exact version "
        "from your package index) or git+https://HOST/OWNER/REPO@COMMIT (a full 40-digit "
        "commit, never a branch or tag: either could move under the desk)"
    )


def from_install_line(line: str) -> Pin | None:
    """The pin of a workflow's install step, or None when the line is not ours."""
    line = line.strip()
    if not line.startswith(INSTALL_PREFIX):
        return None
    try:
        return parse(line[len(INSTALL_PREFIX) :])
    except ReconcilerError:
        return None


def installed() -> tuple[Pin, str | None]:
    """The pin of the mmp running now, and a note when a desk's CI could not install it."""
    url = _direct_url()
    vcs = url.get("vcs_info") if url else None
    if isinstance(vcs, dict) and vcs.get("vcs") == "git" and url is not None:
        spec = f"git+{url.get('url')}@{vcs.get('commit_id')}"
        if _GIT.fullmatch(spec):
            return Pin(spec), None
    pin = Pin(f"{DISTRIBUTION}=={__version__}")
    if url is not None and ("dir_info" in url or str(url.get("url", "")).startswith("file:")):
        return pin, (
            f"this mmp was installed from a local file or folder: the workflows install "
            f"{pin.spec} from your package index; if it is not there, give "
            "--pin git+https://HOST/OWNER/REPO@COMMIT"
        )
    return pin, None


def _direct_url() -> dict[str, object] | None:
    """PEP 610's record of where pip installed mmp from (None: from an index)."""
    try:
        text = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if not text:
        return None
    found = json.loads(text)
    return found if isinstance(found, dict) else None

"""Which mmp the generated workflows install: exactly one version, chosen on purpose.

A pin is one of: `mmp-reconciler==X.Y.Z` (from the desk's package index), a git ref pinned
by commit, `git+https://HOST/OWNER/REPO@<40 hex digits>` or
`git+ssh://git@HOST/OWNER/REPO@<40 hex digits>` (where the package is on no index), or `.`
(the checkout itself: only this project's own repository, whose workflows test the tool
they sit beside). A branch, a tag or a version range is refused: it would move under the
desk without a pull request. Where the running mmp came from is reconciler.desk.origin's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reconciler import __version__
from reconciler.core.errors import ReconcilerError
from reconciler.desk import DISTRIBUTION

INSTALL_PREFIX = "python -m pip install --quiet "
CHECKOUT = "."
_VERSION = re.compile(re.escape(DISTRIBUTION) + r"==(\d+\.\d+\.\d+(?:[a-z0-9.+-]*))")
# scheme://[user@]host[:port]/path[.git]@commit. A pin is written into the workflows and
# the pre-commit config, where no credential may be: never a password; over https no user
# but `git` (a token passes for a user name there), over ssh any user name.
GIT_URL = (
    r"(?:https://(?:git@)?|ssh://(?:[A-Za-z0-9._-]+@)?)"
    r"[A-Za-z0-9.-]+(?::\d+)?/[A-Za-z0-9._/~-]+"
)
_GIT = re.compile(rf"git\+({GIT_URL})@([0-9a-f]{{40}})")
CHOICES = (
    f"{DISTRIBUTION}==X.Y.Z (one exact version from your package index) or "
    "git+https://HOST/OWNER/REPO@COMMIT (or git+ssh://git@HOST/OWNER/REPO@COMMIT: a full "
    "40-digit commit, never a branch or tag, either of which could move under the desk)"
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

    @property
    def kind(self) -> str:
        if self.git:
            return "a git commit"
        return "the checkout" if self.spec == CHECKOUT else "a version from the package index"


def parse(spec: str) -> Pin:
    """A pin from what a person typed, or a ReconcilerError saying what a pin may be."""
    spec = spec.strip()
    if spec == CHECKOUT or _VERSION.fullmatch(spec) or _GIT.fullmatch(spec):
        return Pin(spec)
    raise ReconcilerError(f"--pin {spec!r} is not a pinned mmp: give {CHOICES}")


def chosen(spec: str) -> Pin:
    """A pin a desk's generated files may carry, given with --pin: never the checkout (only
    this project's own repository installs itself), and never another version than the one
    running, whose files its CI's `mmp workflows --check` would fail for ever."""
    pin = parse(spec)
    if pin.spec == CHECKOUT:
        raise ReconcilerError(
            "--pin . installs the checkout itself, which only mmp's own repository is; give "
            + CHOICES
        )
    if pin.version is not None and pin.version != __version__:
        raise ReconcilerError(
            f"--pin {pin.spec}: this is mmp {__version__}, and the files it writes are "
            f"{__version__}'s; the workflows' check (run by the {pin.version} they would "
            f"install) would fail on them on every pull request. Install {pin.spec} and run "
            f"its mmp, or give --pin {DISTRIBUTION}=={__version__}"
        )
    return pin


def from_install_line(line: str) -> Pin | None:
    """The pin of a workflow's install step, or None when the line is not ours."""
    line = line.strip()
    if not line.startswith(INSTALL_PREFIX):
        return None
    try:
        return parse(line[len(INSTALL_PREFIX) :])
    except ReconcilerError:
        return None

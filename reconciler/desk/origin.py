"""Where the running mmp came from, and so what a desk's CI can install to get the same one.

pip records how it installed a distribution that did not come from an index (PEP 610,
direct_url.json). No record: an index, so `mmp-reconciler==X.Y.Z`. From git: that commit of
that repository. From a local file or folder, or any other URL: nothing a desk's CI could
install, so the operator must choose with --pin (a version a name on no index would be a
name anyone could register, and its code would run in the apply job beside the trading
keys).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import metadata
from urllib.parse import urlsplit

from reconciler import __version__
from reconciler.core.errors import ReconcilerError
from reconciler.desk import DISTRIBUTION
from reconciler.desk.pin import CHECKOUT, CHOICES, Pin, parse


@dataclass(frozen=True)
class Origin:
    pin: Pin | None  # what a desk's CI installs to get this mmp; None: nothing it can
    said: str  # where this mmp came from, for the operator (never a credential)


def origin() -> Origin:
    try:
        record = _direct_url()
    except (metadata.PackageNotFoundError, ValueError):
        return Origin(None, "this mmp was not installed by pip (or its record is unreadable)")
    if record is None:
        return Origin(
            Pin(f"{DISTRIBUTION}=={__version__}"),
            f"this mmp ({__version__}) was installed from a package index",
        )
    url = str(record.get("url", ""))
    vcs = record.get("vcs_info")
    if isinstance(vcs, dict):
        commit = str(vcs.get("commit_id", ""))
        said = f"this mmp was installed from {vcs.get('vcs')} {shown(url)}"
        said += f" at {commit}" if commit else ""
        try:
            pin = parse(f"git+{url}@{commit}") if vcs.get("vcs") == "git" else None
        except ReconcilerError:
            pin = None
        return Origin(pin, said if pin else said + " (no URL a desk's CI could pin)")
    what = "folder" if "dir_info" in record else "file"
    return Origin(None, f"this mmp was installed from the {what} {shown(url)}")


def installed() -> tuple[Pin, str]:
    """The pin of the mmp running now, and where it came from; a ReconcilerError naming
    the choices when a desk's CI could not install it."""
    here = origin()
    if here.pin is None:
        raise ReconcilerError(
            f"{here.said}, which a desk's CI cannot install, so mmp will not guess what "
            f"the workflows install: give --pin {CHOICES}"
        )
    return here.pin, here.said


def upgraded(old: Pin | None) -> tuple[Pin, str]:
    """What `mmp init --upgrade` moves a desk to without --pin: this mmp, as the kind of pin
    the desk has (a git commit stays a git commit, a version a version)."""
    if old is None:
        return installed()
    if old.spec == CHECKOUT:
        return old, ""
    here = origin()
    if here.pin is not None and (here.pin.git is None) == (old.git is None):
        return _same_repository(old, here.pin), here.said
    if old.git:
        options = (
            f"--pin git+{old.git[0]}@COMMIT (the commit this mmp was built from), or "
            f"--pin {DISTRIBUTION}=={__version__} to move the desk to its package index"
        )
    else:
        options = (
            f"--pin {DISTRIBUTION}=={__version__} (if the desk's package index holds it), or "
            "--pin git+https://HOST/OWNER/REPO@COMMIT to pin a commit instead"
        )
    raise ReconcilerError(
        f"the workflows install {old.kind} ({old.spec}), and {here.said}: --upgrade keeps "
        f"the kind of pin a desk has, and cannot tell which one this mmp is; give {options}"
    )


def _same_repository(old: Pin, new: Pin) -> Pin:
    """A new commit of the repository the desk pins keeps the desk's URL for it (its CI
    may reach the repository only that way)."""
    if old.git and new.git and _repository(old.git[0]) == _repository(new.git[0]):
        return Pin(f"git+{old.git[0]}@{new.git[1]}")
    return new


def _repository(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return (parts.hostname or "", parts.path.removesuffix(".git").rstrip("/"))


def shown(url: str) -> str:
    """A URL as it may be printed: no user or password, a file URL as its path."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return parts.path
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def _direct_url() -> dict[str, object] | None:
    """PEP 610's record of where pip installed mmp from (None: from an index)."""
    text = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    if not text:
        return None
    found = json.loads(text)
    return found if isinstance(found, dict) else None

"""`mmp workflows --check` and `--write`: the workflow files against what the policies need.

The pin (which mmp the workflows install) is the one the files already install: `--write`
keeps it, so adding an account never upgrades mmp by the way; `mmp init --upgrade` moves it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from reconciler import __version__
from reconciler.core.errors import ReconcilerError
from reconciler.desk import DISTRIBUTION, changes, origin
from reconciler.desk import pin as pins
from reconciler.desk.workflows import NAMES, Needs, generated_by, needs, render, step_secrets


@dataclass(frozen=True)
class Desk:
    """A policy repository: its policies folder and its workflows folder."""

    policies: Path
    workflows: Path

    @classmethod
    def at(cls, policies: Path, workflows: Path | None) -> Desk:
        """The desk whose policies these are. Its root is found from the path as given (a
        symbolic link is not followed: the workflows see the repository as Git does)."""
        given = Path(os.path.abspath(policies))
        root = root_of(given)
        if given != root / "policies":
            raise ReconcilerError(
                f"{policies}: the generated workflows read the policies from policies/ at the "
                f"repository's root ({root}); move them there"
            )
        if given.is_symlink():
            raise ReconcilerError(
                f"{policies} is a symbolic link (to {os.readlink(given)}): the workflows run "
                "when a pull request or a merge changes files under policies/, and Git records "
                "a change to these files at the link's target instead, so no plan or apply "
                "would run; make policies/ a real folder at the repository's root"
            )
        return cls(policies, workflows or root / ".github" / "workflows")

    def read(self) -> dict[str, str]:
        """The generated files present now, by name."""
        return {
            name: there[0]
            for name in NAMES
            if (there := changes.read(self.workflows / name)) is not None
        }

    def shown(self, name: str) -> str:
        """The file as the operator reads it: relative to here when below it."""
        return changes.shown(self.workflows / name)


def root_of(folder: Path) -> Path:
    """The Git work tree holding an absolute folder (by its path, links not followed), or
    else the folder's parent."""
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return folder.parent


def current_pin(present: dict[str, str], desk: Desk) -> pins.Pin | None:
    """The pin the present files install; one error naming each when they differ."""
    found: dict[str, list[str]] = {}
    for name, text in present.items():
        for line in text.splitlines():
            pin = pins.from_install_line(line.strip().removeprefix("run: "))
            if pin is not None:
                found.setdefault(pin.spec, []).append(name)
    if len(found) > 1:
        raise ReconcilerError(
            "the workflows install different mmp: "
            + "; ".join(f"{spec} ({', '.join(sorted(set(n)))})" for spec, n in found.items())
            + f"; give one with `mmp init --upgrade --pin SPEC` in {desk.workflows.parent.parent}"
        )
    return pins.Pin(next(iter(found))) if found else None


def check(desk: Desk) -> list[str]:
    """Every way the workflow files disagree with the policies (empty: they agree)."""
    need = needs(desk.policies)
    present = desk.read()
    pin = current_pin(present, desk)
    if pin is None:  # nothing to compare the install step with: say so, file by file
        return [
            f"{desk.shown(name)} is missing"
            if name not in present
            else f"{desk.shown(name)} installs no pinned mmp (no `{pins.INSTALL_PREFIX}SPEC` "
            "step); `mmp workflows --write --pin SPEC` writes it"
            for name in NAMES
        ]
    expected = render(need, pin)
    problems: list[str] = []
    for name, text in expected.items():
        if name not in present:
            problems.append(f"{desk.shown(name)} is missing")
            continue
        problems += _compare(desk.shown(name), present[name], text, need)
    return problems


def _compare(shown: str, have: str, want: str, need: Needs) -> list[str]:
    if have == want:
        return []
    problems: list[str] = []
    old, new = step_secrets(have), step_secrets(want)
    had_heal, wants_heal = _has_heal_job(have), _has_heal_job(want)
    if had_heal != wants_heal:
        problems.append(_heal_job(shown, wants_heal))
    elif wants_heal:
        problems += _heal_branch(shown, have, want)
    for where in sorted(set(old) | set(new)):
        if had_heal != wants_heal and where.startswith("job heal"):
            continue  # said above, as a whole
        missing = sorted(new.get(where, set()) - old.get(where, set()))
        stale = sorted(old.get(where, set()) - new.get(where, set()))
        if where.startswith("job heal"):
            problems += _heal_secrets(f"{shown}, {where}", missing, stale, need)
            continue
        if missing:
            accounts = sorted({need.secrets[name] for name in missing})
            problems.append(
                f"{shown}, {where}: missing {', '.join(missing)} "
                f"(account {', '.join(f'`{a}`' for a in accounts)})"
            )
        unread = [name for name in stale if name not in need.secrets]
        if unread:
            problems.append(
                f"{shown}, {where}: stale {', '.join(unread)} (no account in the policies reads it)"
            )
        if misplaced := [name for name in stale if name in need.secrets]:
            problems.append(
                f"{shown}, {where}: given {', '.join(misplaced)}, which only the step that "
                "runs mmp may hold (so `pip install` and the actions never see a key)"
            )
    version = generated_by(have)
    if version is not None and version != __version__:
        problems.append(
            f"{shown} was generated by {DISTRIBUTION} {version}, and this is {__version__}: "
            "check it with the mmp it installs (its CI does), or move it to this one with "
            "`mmp init --upgrade`"
        )
    elif not problems:
        problems.append(f"{shown} differs from what the policies give: {_first_change(have, want)}")
    return problems


def _heal_secrets(where: str, missing: list[str], stale: list[str], need: Needs) -> list[str]:
    """The heal job holds the trading keys of the accounts heal covers, and no other."""
    problems = []
    if missing:
        accounts = sorted({need.heal_secrets[name] for name in missing})
        problems.append(
            f"{where}: missing {', '.join(missing)} (account "
            f"{', '.join(f'`{a}`' for a in accounts)}): heal covers it, and without its keys "
            "heal would not check it, nor heal it"
        )
    if stale:
        accounts = sorted({need.secrets[name] for name in stale if name in need.secrets})
        whose = (
            f"account {', '.join(f'`{a}`' for a in accounts)} is outside heal's "
            "venues/accounts (guardrails.yaml `heal:`)"
            if accounts
            else "no account in the policies reads it"
        )
        problems.append(
            f"{where}: stale {', '.join(stale)}: {whose}, and the unattended heal job must "
            "hold no trading key it does not use; `mmp workflows --write` takes it out"
        )
    return problems


_HEAL_IF = re.compile(r"^  heal:\n(?:    .*\n)*?    if: github\.ref == 'refs/heads/(\S+)'$", re.M)


def _heal_branch(shown: str, have: str, want: str) -> list[str]:
    """The heal job runs on the heal branch (its `if:`), as guardrails.yaml says."""
    wanted, found = _HEAL_IF.search(want), _HEAL_IF.search(have)
    if wanted is None or (found is not None and found.group(1) == wanted.group(1)):
        return []
    runs = f"runs on `{found.group(1)}` only" if found else "has no `if:` naming its branch"
    return [
        f"{shown}, job heal: {runs}, and guardrails.yaml `heal: branch:` is "
        f"`{wanted.group(1)}`: heal refuses any other checkout, so it would heal nothing; "
        "`mmp workflows --write` puts it right"
    ]


def _has_heal_job(text: str) -> bool:
    return re.search(r"^  heal:\s*$", text, re.M) is not None


def _heal_job(shown: str, wanted: bool) -> str:
    if wanted:
        return (
            f"{shown} has no heal job, and guardrails.yaml enables healing (`heal:`): "
            "`mmp workflows --write` adds it (set up the mmp-heal environment first: the "
            "README says how)"
        )
    return (
        f"{shown} has a heal job, and guardrails.yaml does not enable healing: it would hold "
        "trading keys for nothing; `mmp workflows --write` takes it out"
    )


def _first_change(have: str, want: str) -> str:
    for number, (a, b) in enumerate(zip(have.splitlines(), want.splitlines(), strict=False), 1):
        if a != b:
            return f"line {number} is {a.strip()!r}, expected {b.strip()!r}"
    return "its length differs (lines added or taken out at the end)"


def pin_for_write(desk: Desk, given: pins.Pin | None) -> tuple[pins.Pin, str]:
    """The pin `--write` writes: the one given, else the one the files install, else the
    running mmp's, with where that came from (a ReconcilerError when no CI could install it)."""
    if given is not None:
        return given, ""
    present = current_pin(desk.read(), desk)
    return (present, "") if present is not None else origin.installed()


def planned(desk: Desk, pin: pins.Pin, upgrade: bool = False) -> dict[str, str]:
    """The files `--write` (or `mmp init --upgrade`) would write, installing this pin."""
    if not upgrade:
        for name, text in desk.read().items():
            version = generated_by(text)
            if version is not None and version != __version__:
                raise ReconcilerError(
                    f"{desk.shown(name)} was generated by {DISTRIBUTION} {version}, and this is "
                    f"{__version__}: `mmp init --upgrade` moves the workflows to this version "
                    "(showing the diff first); or run the mmp they install"
                )
    return render(needs(desk.policies), pin)


def changes_to(desk: Desk, files: dict[str, str]) -> list[changes.Change]:
    """What writing these files changes, file by file."""
    return [changes.change(desk.workflows / name, text) for name, text in files.items()]

"""The sandbox desk as a new user walks it: the example policies copied in, `mmp` run in
this process with --sandbox, and a venue's simulated state edited between commands."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import main
from reconciler.sandbox.desk import SimulatorDesk
from reconciler.sandbox.store import Sandbox
from reconciler.venues import VENUES

ROOT = Path(__file__).resolve().parent.parent


def seeded(where: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The example desk's policies in `where`, and its sandbox seeded (a first plan)."""
    shutil.copytree(ROOT / "policies", where / "policies")
    mmp(capsys, "plan")
    return where


def mmp(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`mmp ARGS --sandbox` (validate is offline); its exit code, stdout and stderr."""
    code = main([*args, "--no-color", *(["--sandbox"] if args[0] != "validate" else [])])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@contextmanager
def venue_account(venue: str, account: str) -> Iterator[tuple[Any, str]]:
    """(the venue's simulator, the account's key on it), to change; saved when done."""
    with Sandbox(VENUES).edit(venue) as stored:
        assert isinstance(stored, SimulatorDesk)
        yield stored.sim, stored.key(account)

"""`mmp apply` without --auto-approve asks on the terminal, and only `yes` writes.

A real mmp process on the sandbox desk, its stdin a pseudo-terminal: an answer other than
`yes`, or Ctrl-C at the prompt, writes nothing (the next plan is the same plan); `yes`
applies it (the next plan has no changes)."""

from __future__ import annotations

import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MMP = [sys.executable, "-m", "reconciler"]
PROMPT = b"Only 'yes' is accepted: "


@pytest.fixture
def desk(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    return tmp_path


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "MMP_SANDBOX")}


def _plan(desk: Path) -> str:
    done = subprocess.run(
        [*MMP, "plan", "--sandbox", "--no-color"],
        cwd=desk,
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()[-1]


def _apply_answering(desk: Path, answer: bytes | None) -> tuple[int, str]:
    """`mmp apply --sandbox` on a terminal; once it asks, type ANSWER (None: Ctrl-C)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*MMP, "apply", "--sandbox", "--no-color"],
        cwd=desk,
        env=_env(),
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    os.close(slave)
    assert proc.stdout is not None
    watchdog = threading.Timer(180, proc.kill)  # a test that hangs fails, never waits on
    watchdog.start()
    try:
        seen = _until(proc.stdout.fileno(), PROMPT)
        if answer is None:
            _reading_the_terminal(proc.pid)
            proc.send_signal(signal.SIGINT)
        else:
            os.write(master, answer)  # the terminal keeps it until mmp reads
        rest = proc.stdout.read()
        proc.stdout.close()
        code = proc.wait(timeout=120)
    finally:
        watchdog.cancel()
        os.close(master)
    return code, (seen + rest).decode(errors="replace")


def _reading_the_terminal(pid: int, timeout_s: float = 60) -> None:
    """Until mmp is blocked reading its terminal: the prompt is printed just before the read,
    and a SIGINT that lands between the two is handled with no read to interrupt (it would
    then wait for an answer nobody types). A person's Ctrl-C comes long after; this is the
    test's race, not mmp's. Where /proc cannot tell, a second."""
    wchan = Path(f"/proc/{pid}/wchan")
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            waiting = wchan.read_text() in ("wait_woken", "n_tty_read")
        except OSError:
            time.sleep(1)
            return
        if waiting:
            return
        time.sleep(0.05)


def _until(fd: int, wanted: bytes, timeout_s: float = 120) -> bytes:
    got = b""
    end = time.monotonic() + timeout_s
    while wanted not in got:
        left = end - time.monotonic()
        assert left > 0, f"mmp never asked; it printed:\n{got.decode(errors='replace')}"
        ready, _, _ = select.select([fd], [], [], left)
        chunk = os.read(fd, 65536) if ready else b""
        assert chunk or not ready, f"mmp ended without asking:\n{got.decode(errors='replace')}"
        got += chunk
    return got


@pytest.mark.parametrize("answer", [b"no\n", b"y\n", b"YES please\n", b"\n"])
def test_anything_but_yes_writes_nothing(desk: Path, answer: bytes) -> None:
    before = _plan(desk)
    code, said = _apply_answering(desk, answer)
    assert code == 1, said
    assert "not applied: approval was not given" in said
    assert "applied" not in said.split("Only 'yes' is accepted: ")[-1].replace("not applied", "")
    assert _plan(desk) == before  # nothing was written


def test_ctrl_c_at_the_prompt_writes_nothing(desk: Path) -> None:
    before = _plan(desk)
    code, said = _apply_answering(desk, None)
    assert code == 130, said
    assert _plan(desk) == before


def test_yes_applies_the_plan_it_showed(desk: Path) -> None:
    before = _plan(desk)
    assert before.startswith("Plan: ") and "to create" in before
    code, said = _apply_answering(desk, b"yes\n")
    assert code == 0, said
    asked = said.split("Only 'yes' is accepted: ")
    assert asked[0].count("Plan: ") == 1  # the plan was shown before the question
    assert "applied" in asked[1]
    # all applied; what is left is held (a Deribit create among them, so UNPROTECTED)
    assert _plan(desk).startswith(("Plan: no changes", "Plan: nothing to apply"))

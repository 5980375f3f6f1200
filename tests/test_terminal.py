"""Terminal manners: colour only on a terminal and never with NO_COLOR, progress on a
terminal only, --quiet and -v, --version, examples in every help, and a `mmp --help` that
does not import the venue clients."""

from __future__ import annotations

import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler import __version__
from reconciler.cli import build_parser
from reconciler.venues import VENUES
from tests.figures import Figures
from tests.helpers import subcommands

ROOT = Path(__file__).resolve().parent.parent
MMP = [sys.executable, "-m", "reconciler"]
ESC = "\x1b["


@pytest.fixture
def desk(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    return tmp_path


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "MMP_SANDBOX")}
    return env | extra


def _on_terminal(
    args: list[str], cwd: Path, env: dict[str, str], *, stdout_tty: bool
) -> tuple[str, str]:
    """Run mmp with stderr (and stdout if asked) on a pseudo-terminal; (stdout, terminal)."""
    master, slave = pty.openpty()
    done = subprocess.run(
        MMP + args,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=slave if stdout_tty else subprocess.PIPE,
        stderr=slave,
        timeout=120,
        check=False,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    stdout = done.stdout.decode() if done.stdout else ""
    return stdout, b"".join(chunks).decode(errors="replace")


def _piped(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MMP, *args], cwd=cwd, env=_env(), capture_output=True, text=True, check=False
    )


def test_colour_on_a_terminal_only_and_never_with_no_color(desk: Path) -> None:
    _, screen = _on_terminal(["plan", "--sandbox"], desk, _env(), stdout_tty=True)
    assert ESC + "1m" in screen  # the summary is bold
    _, plain = _on_terminal(["plan", "--sandbox"], desk, _env(NO_COLOR="1"), stdout_tty=True)
    assert "Plan: changes" in plain and ESC + "1m" not in plain and ESC + "3" not in plain
    piped = _piped(["plan", "--sandbox"], desk)
    assert "Plan: changes" in piped.stdout and ESC not in piped.stdout + piped.stderr


def test_progress_on_a_terminal_and_silent_otherwise(desk: Path, figures: Figures) -> None:
    stdout, screen = _on_terminal(["plan", "--sandbox"], desk, _env(), stdout_tty=False)
    read = re.findall(r"Reading accounts (\d+)/(\d+)", screen)
    assert read and read[-1][0] == read[-1][1], screen  # counted up to every account
    figures.check("sandbox.plan.accounts-read", int(read[-1][1]))
    assert "Reading accounts" not in stdout
    quiet_out, quiet_screen = _on_terminal(
        ["plan", "--sandbox", "-q"], desk, _env(), stdout_tty=False
    )
    assert "Reading accounts" not in quiet_screen and "Plan: changes" in quiet_out
    piped = _piped(["plan", "--sandbox"], desk)
    assert "Reading accounts" not in piped.stderr


def test_quiet_keeps_results_and_drops_notes(desk: Path) -> None:
    loud = _piped(["plan", "--sandbox", "--out", "p.json"], desk)
    assert "Saved plan to p.json" in loud.stderr
    quiet = _piped(["plan", "--sandbox", "--out", "p.json", "--quiet"], desk)
    assert "Saved plan" not in quiet.stderr and "Plan: changes" in quiet.stdout


def test_verbose_shows_each_venue_request_and_no_secret(desk: Path) -> None:
    done = _piped(["plan", "--sandbox", "-v"], desk)
    requests = [line for line in done.stderr.splitlines() if " -> " in line]
    assert any(line.startswith("deribit/deribit-main: POST /api/v2/") for line in requests), (
        done.stderr
    )
    assert all(" in " in line and line.endswith(" ms") for line in requests)
    assert {line.split("/")[0] for line in requests} == set(VENUES)
    assert "sandbox-secret" not in done.stderr


def test_version() -> None:
    done = subprocess.run([*MMP, "--version"], capture_output=True, text=True, check=False)
    assert done.stdout.strip() == f"mmp {__version__}"


def test_every_command_has_help_with_examples() -> None:
    parser = build_parser()
    commands = subcommands(parser)
    assert set(commands) >= {"validate", "plan", "apply", "status", "import", "schema", "unfreeze"}
    for name, command in commands.items():
        if name == "github":
            actions = subcommands(command)
            helps = [a.format_help() for a in actions.values()]
        else:
            helps = [command.format_help()]
        for text in helps:
            assert "examples:" in text or "example:" in text, name
    assert "examples:" in parser.format_help()


def test_help_does_not_import_the_venue_clients() -> None:
    probe = (
        "import sys\n"
        "from reconciler.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in sys.modules if m.startswith(('reconciler.venues.', 'httpx', "
        "'pydantic', 'deepdiff', 'ruamel'))]\n"
        "print(sorted(heavy), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert done.stderr.strip() == "[]", done.stderr


def test_apply_shows_each_result_as_it_ends_with_a_progress_line_on_a_terminal(
    desk: Path, figures: Figures
) -> None:
    env = _env()
    _, terminal = _on_terminal(["apply", "--sandbox", "--auto-approve"], desk, env, stdout_tty=True)
    # the sandbox's writes (Bullish's too: freeze state unknown, no trigger seen), each
    # counted on stderr as it ends
    writes = re.findall(r"Applied (\d+)/(\d+) \(", terminal)
    assert writes, terminal
    total = int(writes[-1][1])
    assert {(int(n), int(of)) for n, of in writes} >= {(1, total), (total, total)}
    figures.check("sandbox.apply.applied", total)
    first = terminal.index(f"Applied 1/{total} (")
    assert terminal.index("  applied  ") < first < terminal.index("Apply finished")

"""A new user's mistakes and odd machines: each is one clear line, never "a bug in mmp", and
never the value of a secret. (tests/test_mistakes.py walks the classic ones.)"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli import build_parser, main
from reconciler.core import crash
from tests.helpers import subcommands

ROOT = Path(__file__).resolve().parent.parent
DERIBIT = """\
accounts:
  dx:
    venue: deribit
    base_url: {url}
    credentials: DX
    mmp:
      btc_usd:
        default: {{window: 1s, frozen: 30s, quantity_limit: 5, max_quote_quantity: 2}}
"""
BULLISH = """\
accounts:
  bx:
    venue: bullish
    environment: testnet
    credentials: BX
    mmp:
      BTC: {window: 10s, frozen: 5s, quantity_limit: 8}
"""


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "a bug in mmp" not in err, err
    return err


def test_out_to_a_folder_that_does_not_exist(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(ROOT / "policies", in_tmp / "policies")
    assert main(["plan", "--sandbox", "--out", "no/such/folder/plan.json", "-q"]) == 1
    err = one_line(capsys)
    assert "cannot write the plan (No such file or directory)" in err
    assert "a folder that exists" in err


@pytest.mark.parametrize("value", ["kéy-with-accent", "two words", "tab\there", "line\nbreak"])
def test_a_credential_no_venue_takes_names_the_variable_not_the_value(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    (in_tmp / "policies").mkdir()
    (in_tmp / "policies" / "desk.yaml").write_text(BULLISH)
    monkeypatch.setenv("BX_PUBLIC_KEY", value)
    monkeypatch.setenv("BX_SECRET", "fine-secret")
    monkeypatch.setenv("BX_TRADING_ACCOUNT_ID", "111000000000001")
    assert main(["plan"]) == 1
    err = one_line(capsys)
    assert "BX_PUBLIC_KEY (account `bx`): holds a character no venue takes" in err
    assert value not in err and "the value is not shown" in err


def test_a_bullish_trading_account_id_that_is_not_one(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (in_tmp / "policies").mkdir()
    (in_tmp / "policies" / "desk.yaml").write_text(BULLISH)
    monkeypatch.setenv("BX_PUBLIC_KEY", "key")
    monkeypatch.setenv("BX_SECRET", "secret")
    monkeypatch.setenv("BX_TRADING_ACCOUNT_ID", "111&symbol=ETH")
    assert main(["plan"]) == 1
    err = one_line(capsys)
    assert "BX_TRADING_ACCOUNT_ID (account `bx`): is not a numeric trading account id" in err
    assert "symbol=ETH" not in err


def test_a_venue_that_refuses_connections_says_so_in_words(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as listener:  # a loopback port that nobody listens on
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
    (in_tmp / "policies").mkdir()
    (in_tmp / "policies" / "desk.yaml").write_text(DERIBIT.format(url=f"http://127.0.0.1:{port}"))
    monkeypatch.setenv("DX_CLIENT_ID", "id")
    monkeypatch.setenv("DX_CLIENT_SECRET", "secret")
    assert main(["plan"]) == 1
    err = one_line(capsys)
    assert "to 127.0.0.1 failed (ConnectError: " in err and "refused" in err.lower()


def test_a_crash_log_goes_to_a_temp_file_when_mmp_folder_cannot_be_written(
    tmp_path: Path,
) -> None:
    blocked = tmp_path / ".mmp"
    blocked.write_text("a file where a folder should be")
    crash.configure(blocked)
    try:
        raise RuntimeError("a bug")
    except RuntimeError as exc:
        where = crash.record(exc)
    assert where.parent != blocked and "RuntimeError: a bug" in where.read_text()
    where.unlink()


def test_mmp_folder_that_is_a_file_is_one_clear_line(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(ROOT / "policies", in_tmp / "policies")
    (in_tmp / ".mmp").write_text("not a folder")
    assert main(["apply", "--sandbox", "--auto-approve"]) == 1
    assert "make .mmp/ a writable folder at the root of the policy repository" in one_line(capsys)


def test_the_job_summary_needs_only_its_file(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MMP_"))}
    run = [sys.executable, "-m", "reconciler"]
    made = subprocess.run(
        [*run, "plan", "--sandbox", "--out", "plan.json", "-q"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    summary = tmp_path / "summary.md"
    done = subprocess.run(
        [*run, "github", "summary", "plan.json"],
        cwd=tmp_path,
        env={**env, "GITHUB_STEP_SUMMARY": str(summary)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert summary.read_text().startswith("<!-- mmp-reconciler:plan -->\n### MMP plan")


def test_the_docs_are_true() -> None:
    license_text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text()
    plan = subcommands(build_parser())["plan"]
    assert "json for machines" in plan.format_help()
    readme = (ROOT / "README.md").read_text()
    assert "rev: v0.1.0" not in readme and "a full commit SHA" in readme
    hooks = (ROOT / ".pre-commit-hooks.yaml").read_text()
    assert "id: mmp-validate" in hooks


def test_a_file_name_never_drives_the_terminal(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "policies").mkdir()
    (in_tmp / "policies" / "desk\x1b[31m.yaml").write_text("accounts:\n  a:\n    venue: derbit\n")
    assert main(["validate"]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and "desk\\x1b[31m.yaml:2:3:" in err


def test_a_desk_with_no_account_yet_says_how_to_start(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "policies").mkdir()
    (in_tmp / "policies" / "desk.yaml").write_text("accounts:\n")
    assert main(["validate"]) == 0
    shown = capsys.readouterr()
    assert "valid; 0 account(s)" in shown.out and "no account is declared yet" in shown.err

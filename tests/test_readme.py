"""The README opens with the two commands, and CI runs the second one verbatim."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.planning import planfile
from reconciler.planning.render.markdown import COMMENT_LIMIT, MARKER, document

ROOT = Path(__file__).resolve().parent.parent


def commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_readme_opens_with_the_two_commands() -> None:
    first, second = commands()[:2]
    assert "mmp plan --sandbox" in first and "mmp apply --sandbox" in first
    assert "pytest" in second


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert commands()[1] in ci


def test_the_pr_comment_shown_is_what_the_sandbox_plan_renders(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = re.search(
        r"<!-- readme:pr-comment -->\n(.+?)\n<!-- /readme:pr-comment -->",
        (ROOT / "README.md").read_text(),
        re.S,
    )
    assert shown is not None
    shutil.copytree(ROOT / "policies", in_tmp / "policies")
    assert main(["plan", "--sandbox", "--out", "plan.json"]) == 0
    capsys.readouterr()
    # as a desk on the venues sees it: the same plan, without the sandbox's own heading
    plan = dataclasses.replace(planfile.load(in_tmp / "plan.json").plan, sandbox=False)
    rendered = document(plan, limit=COMMENT_LIMIT, link="https://x")
    head, _, body = shown.group(1).partition("\n| | scope |")
    assert rendered.startswith(f"{MARKER}\n{head}\n| | scope |")
    for line in body.splitlines():  # the shortened rest: every line is in the real comment
        if line.startswith(("| `", "**`")):
            assert line in rendered.splitlines(), line

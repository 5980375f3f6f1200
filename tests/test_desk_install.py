"""mmp as a desk would use it: our wheel, built here and installed into a fresh virtual
environment outside the checkout, makes a desk with `mmp init` in an empty folder, and that
desk validates, plans and applies in the sandbox (which ships in the wheel), checks its own
workflows, and those workflows lint clean. No index is reached: the wheel is built without
build isolation and installed without dependencies, which come from this test's
environment (a .pth line: nothing of the checkout is importable there)."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler import __version__
from tests.test_workflows import _actionlint, _shellcheck, _zizmor
from tests.workflow_files import REPO

SOURCES = ("pyproject.toml", "README.md", "LICENSE", "reconciler")


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}{done.stderr}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtual environment holding our wheel, and nothing of the checkout."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"  # a copy: the build writes nothing into the checkout
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(
                REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy(REPO / name, source / name)
    wheels = work / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source)], work)
    [wheel] = wheels.glob("mmp_reconciler-*.whl")
    env = work / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(env)], work)
    _run(
        [
            *pip,
            "--python",
            str(env / "bin" / "python"),
            "install",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        work,
    )
    [packages] = (env / "lib").glob("python3*/site-packages")
    # the dependencies: this environment's site-packages, appended (a path line, so the
    # editable install's finder there is never run)
    (packages / "zz-test-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    yield env


def _env(venv: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("MMP_", "PYTHON"))}
    return {**keep, "PATH": f"{venv / 'bin'}{os.pathsep}{keep.get('PATH', '')}"}


def test_a_desk_made_by_the_installed_wheel_plans_and_applies(venv: Path, tmp_path: Path) -> None:
    env = _env(venv)
    mmp = str(venv / "bin" / "mmp")
    where = _run(
        [str(venv / "bin" / "python"), "-c", "import reconciler; print(reconciler.__file__)"],
        tmp_path,
        env,
    )
    assert where.startswith(str(venv)), where  # the wheel's, not the checkout's
    desk = tmp_path / "desk"
    # installed from a wheel file: nothing a desk's CI could install, so no guess
    refused = subprocess.run(
        [mmp, "init", str(desk)], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert refused.returncode == 1 and not desk.exists()
    assert "this mmp was installed from the file " in refused.stderr
    assert "give --pin mmp-reconciler==X.Y.Z" in refused.stderr
    told = _run([mmp, "init", str(desk), "--pin", f"mmp-reconciler=={__version__}"], tmp_path, env)
    assert f"the workflows install mmp-reconciler=={__version__}" in told
    for command in (["validate"], ["workflows", "--check"]):
        _run([mmp, *command], desk, env)
    assert "Plan: changes" in _run([mmp, "plan", "--sandbox"], desk, env)
    assert "Exit 0: every change applied and verified" in _run(
        [mmp, "apply", "--sandbox", "--auto-approve"], desk, env
    )
    assert "Plan: no changes" in _run([mmp, "plan", "--sandbox"], desk, env)
    _lint(desk / ".github" / "workflows")


def test_installed_from_git_over_ssh_the_desk_pins_that_commit(venv: Path, tmp_path: Path) -> None:
    """pip's record of an install from git over ssh (the usual way to install a private
    tool): the workflows and the pre-commit hook pin that commit of that repository."""
    [record] = (venv / "lib").glob("python3*/site-packages/mmp_reconciler-*.dist-info")
    direct_url = record / "direct_url.json"
    wheel = direct_url.read_text(encoding="utf-8")
    url, commit = (
        "ssh://git@github.com/acme/mmp-reconciler.git",
        "0123456789abcdef" * 2 + "01234567",
    )
    pip_wrote = {
        "url": url,
        "vcs_info": {"vcs": "git", "commit_id": commit, "requested_revision": "v1"},
    }
    direct_url.write_text(json.dumps(pip_wrote), encoding="utf-8")
    try:
        told = _run(
            [str(venv / "bin" / "mmp"), "init", str(tmp_path / "desk")], tmp_path, _env(venv)
        )
    finally:
        direct_url.write_text(wheel, encoding="utf-8")
    pin = f"git+{url}@{commit}"
    assert f"the workflows install {pin}" in told
    apply = (tmp_path / "desk" / ".github" / "workflows" / "mmp-apply.yml").read_text()
    assert apply.count(f"run: python -m pip install --quiet {pin}\n") == 2
    hooks = (tmp_path / "desk" / ".pre-commit-config.yaml").read_text()
    assert f"  - repo: {url}\n    rev: {commit}\n" in hooks


def _lint(folder: Path) -> None:
    from ruamel.yaml import YAML

    files = sorted(folder.glob("*.yml"))
    assert [f.name for f in files] == sorted(
        ["mmp-plan.yml", "mmp-apply.yml", "mmp-drift.yml", "mmp-check.yml"]
    )
    for path in files:
        for job in YAML(typ="safe").load(path.read_text())["jobs"].values():
            for step in job["steps"]:
                if "run" in step:
                    assert "${{" not in step["run"]
                    assert _shellcheck(step["run"]).returncode == 0, (path, step["run"])
    done = _zizmor(folder)
    assert done.returncode == 0 and "No findings to report" in done.stdout + done.stderr
    lint = _actionlint(files)
    assert lint.returncode == 0 and lint.stdout == "", lint.stdout + lint.stderr


def test_the_wheel_carries_what_an_index_shows(venv: Path) -> None:
    [metadata] = (venv / "lib").glob("python3*/site-packages/mmp_reconciler-*.dist-info/METADATA")
    text = metadata.read_text(encoding="utf-8")
    assert f"Version: {__version__}\n" in text
    assert "Description-Content-Type: text/markdown" in text
    assert "## Adopting it on a live desk" in text  # the README is the long description
    assert "Classifier: Typing :: Typed" in text and "License-Expression: Apache-2.0" in text
    assert "Project-URL: Source, https://github.com/mmp-reconciler/mmp-reconciler" in text
    [packages] = (venv / "lib").glob("python3*/site-packages")
    shipped = packages / "reconciler"
    assert sorted(p.name for p in (shipped / "desk" / "templates").iterdir()) == [
        *(f"drift-heal-{n}.yml.in" for n in ("download", "job", "needs", "note")),
        *(f"mmp-{n}.yml.in" for n in ("apply", "check", "drift", "plan")),
    ]
    assert (shipped / "py.typed").is_file() and (shipped / "sandbox" / "store.py").is_file()

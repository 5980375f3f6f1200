"""The files of a new desk repository (`mmp init`), and the pinned ones `--upgrade` moves."""

from __future__ import annotations

import tempfile
from pathlib import Path

from reconciler.desk import example, readme
from reconciler.desk.pin import Pin
from reconciler.desk.workflows import NAMES, Needs, needs, render
from reconciler.policy.schema import schema_text

POLICY = "policies/desk.yaml"
GUARDRAILS = "policies/guardrails.yaml"
SCHEMA = "schema/mmp-policy.schema.json"
PRE_COMMIT = ".pre-commit-config.yaml"
WORKFLOWS = ".github/workflows"


def paths() -> list[str]:
    """Where `files` writes, in its order (known before the pin is)."""
    return [
        POLICY,
        GUARDRAILS,
        SCHEMA,
        *(f"{WORKFLOWS}/{name}" for name in NAMES),
        PRE_COMMIT,
        ".gitignore",
        "README.md",
    ]


def files(venues: list[str], pin: Pin) -> dict[str, str]:
    """Every file of a new desk, by its path in the repository."""
    policy, guardrails = example.policies(venues), example.guardrails(venues)
    need = _needs(policy, guardrails)
    made = {
        POLICY: policy,
        GUARDRAILS: guardrails,
        SCHEMA: schema_text(),
        **{f"{WORKFLOWS}/{name}": text for name, text in render(need, pin).items()},
        PRE_COMMIT: pre_commit(pin),
        ".gitignore": ".mmp/\n",
        "README.md": readme.text(need),
    }
    return made


def _needs(policy: str, guardrails: str) -> Needs:
    """What the example policies need of the workflows, read as `mmp workflows` reads them
    (so the example is validated by the same loader)."""
    with tempfile.TemporaryDirectory(prefix="mmp-init-") as scratch:
        folder = Path(scratch) / "policies"
        folder.mkdir()
        (folder / "desk.yaml").write_text(policy, encoding="utf-8")
        (folder / "guardrails.yaml").write_text(guardrails, encoding="utf-8")
        return needs(folder)


def pre_commit(pin: Pin) -> str:
    """The mmp-validate hook, from the same mmp the workflows install."""
    head = (
        "# pre-commit (`pre-commit install` once): each commit that touches a YAML file runs\n"
        "# `mmp validate` (offline, no credentials), with the mmp the workflows pin.\n"
        "repos:\n"
    )
    git = pin.git
    if git is not None:
        url, commit = git
        return head + (
            f"  - repo: {url}\n    rev: {commit}\n    hooks:\n      - id: mmp-validate\n"
        )
    return head + (
        "  - repo: local  # mmp's own hook (.pre-commit-hooks.yaml in its repository), pinned\n"
        "    hooks:\n"
        "      - id: mmp-validate\n"
        "        name: mmp validate\n"
        "        entry: mmp validate\n"
        "        language: python\n"
        f'        additional_dependencies: ["{pin.spec}"]\n'
        "        files: \\.ya?ml$\n"
        "        pass_filenames: false\n"
        "        require_serial: true\n"
    )


def upgraded_pre_commit(text: str, old: Pin | None, new: Pin) -> str | None:
    """The desk's pre-commit config moved from one pin to another, keeping anything else it
    holds; None when it is not one `mmp init` wrote (then it is left alone)."""
    if old is None:
        return None
    if text == pre_commit(old):
        return pre_commit(new)
    if old.git and new.git:
        return text.replace(old.git[1], new.git[1]).replace(old.git[0], new.git[0])
    if not old.git and not new.git and f'"{old.spec}"' in text:
        return text.replace(f'"{old.spec}"', f'"{new.spec}"')
    return None

"""`mmp schema`, the editor modeline in every example policy, and the pre-commit hook."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from reconciler.cli import main
from reconciler.policy.schema import schema_text

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = ROOT / "schema" / "mmp-policy.schema.json"
EXAMPLES = sorted(
    [p for p in (ROOT / "policies").glob("*.yaml") if p.name != "guardrails.yaml"]
    + list((ROOT / "tests" / "cases").glob("*/policy.yaml"))
)


def _yaml(text: str) -> Any:
    return YAML(typ="safe").load(text)


def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_committed_schema_is_what_mmp_schema_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == SCHEMA_FILE.read_text() == schema_text(), (
        "regenerate: mmp schema --out schema/mmp-policy.schema.json"
    )


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_example_policy_is_valid_under_the_schema(path: Path) -> None:
    errors = sorted(_validator().iter_errors(_yaml(path.read_text())), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_the_example_desk_carries_the_editor_modeline() -> None:
    for path in (ROOT / "policies").glob("*.yaml"):
        if path.name == "guardrails.yaml":
            continue
        first = path.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        target = (path.parent / first.split("=", 1)[1]).resolve()
        assert target == SCHEMA_FILE


@pytest.mark.parametrize(
    "mistake",
    [
        "quantity_limt: 5",  # a typo of a field
        "window: 5",  # a duration without its unit
        "window: 5 seconds",
        "frozen: forever",
        "quantity_limit: lots",
    ],
)
def test_the_schema_catches_what_an_editor_should_underline(mistake: str) -> None:
    policy = _yaml(
        "accounts:\n  a:\n    venue: binance\n    environment: production\n"
        f"    credentials: BN\n    mmp:\n      BTCUSDT:\n        {mistake}\n"
    )
    assert list(_validator().iter_errors(policy))


def test_a_venue_typo_is_caught_by_the_schema_too() -> None:
    policy = _yaml("accounts:\n  a:\n    venue: derebit\n    credentials: X\n")
    assert list(_validator().iter_errors(policy))


def test_the_pre_commit_hook_runs_mmp_validate_offline(tmp_path: Path) -> None:
    [hook] = _yaml((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "mmp-validate" and hook["language"] == "python"
    assert hook["pass_filenames"] is False
    entry = hook["entry"].split()
    assert entry == ["mmp", "validate"]
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    env = {"PATH": f"{Path(sys.executable).parent}", "HOME": str(tmp_path)}  # no credentials

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            entry, cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=60
        )

    ok = run()
    assert ok.returncode == 0, ok.stderr
    policy = tmp_path / "policies" / "desk-alpha.yaml"
    policy.write_text(policy.read_text().replace("window: 60s", "window: 60"))
    broken = run()
    assert broken.returncode == 1
    assert "policies/desk-alpha.yaml:" in broken.stderr and "write 60s or 60ms" in broken.stderr


def _guardrails_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    return jsonschema.Draft202012Validator({"$defs": schema["$defs"], "$ref": "#/$defs/Guardrails"})


def test_the_guardrails_file_and_its_heal_setting_are_in_the_schema() -> None:
    """`$defs/Guardrails` describes policies/guardrails.yaml (this desk's enables healing),
    and catches what `mmp validate` refuses there too."""
    example = _yaml((ROOT / "policies" / "guardrails.yaml").read_text())
    assert example["heal"] == {"enabled": True}
    assert not list(_guardrails_validator().iter_errors(example))
    for wrong in (
        {"heal": {"enabeld": True}},  # a typo of the key
        {"heal": {"enabled": "yes"}},  # not a boolean
        {"heal": {"enabled": True, "venues": ["derbit"]}},  # not a venue
        {"heal": True},  # not the section's shape
    ):
        assert list(_guardrails_validator().iter_errors(wrong)), wrong

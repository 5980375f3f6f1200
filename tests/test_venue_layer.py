"""Nothing outside a venue's folder and the registry names a venue in code: what differs
between venues is in their capabilities, so a new venue changes no shared module."""

from __future__ import annotations

import ast
from pathlib import Path

from reconciler.venues import VENUES

PACKAGE = Path(__file__).resolve().parent.parent / "reconciler"


def _named(path: Path, names: frozenset[str]) -> list[str]:
    """String constants that are a venue's name (docstrings and comments are prose)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        f"{path.name}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.lower() in names
        and id(node) not in docstrings
    ]


def test_no_shared_module_names_a_venue() -> None:
    names = frozenset(VENUES)
    own = {PACKAGE / "venues" / name for name in names} | {PACKAGE / "venues" / "__init__.py"}
    shared = [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if not any(path == folder or folder in path.parents for folder in own)
    ]
    found = [line for path in shared for line in _named(path, names)]
    assert found == [], "say it in the venue's Capabilities or Connection instead"


def test_the_scan_finds_a_venue_named_in_code(tmp_path: Path) -> None:
    module = tmp_path / "rule.py"
    module.write_text('"""Deribit is prose here."""\nMINIMUM = {"deribit": 1000}\n')
    assert [line.split(": ", 1)[1] for line in _named(module, frozenset({"deribit"}))] == [
        "'deribit'"
    ]

"""The conformance table (tests/venues.py ROWS) is the one place a test learns a fact about a
venue: every registered venue has a row, every row is a registered venue, and no other test or
benchmark module keeps a table of its own naming every venue (a new venue would have to edit
it, or be skipped by it without a word). A venue's own tests (tests/test_<venue>.py,
tests/test_<venue>_*.py) may name it as they like."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.venues import VENUES
from reconciler.venues.base import ChangeMode, ResetMeaning
from tests.venues import ROWS

ROOT = Path(__file__).resolve().parent.parent
TABLE = Path("tests/venues.py")
LITERALS = (ast.Dict, ast.Set, ast.List, ast.Tuple)


def test_every_registered_venue_has_a_row_and_every_row_is_registered() -> None:
    assert sorted(ROWS) == sorted(VENUES), "tests/venues.py ROWS must list exactly VENUES"
    for name, row in ROWS.items():
        assert row.venue == name, f"ROWS[{name!r}] says it is {row.venue!r}"


@pytest.mark.parametrize("venue", sorted(VENUES))
def test_a_row_makes_the_credentials_its_venue_takes(venue: str) -> None:
    """The row's accounts carry exactly the variables the venue's Connection names, so a test
    can set them by those names (tests/test_canary.py does)."""
    row = ROWS[venue]
    creds = row.credentials(row.make(), "acct")
    assert sorted(creds.values) == sorted(VENUES[venue].connection.credential_vars)


@pytest.mark.parametrize("venue", sorted(VENUES))
def test_a_row_holds_what_its_capabilities_call_for(venue: str) -> None:
    """A fact only some venues have is there exactly where the venue's capabilities say the
    tests will ask for it, so a new venue's row fails here, not deep inside a test."""
    row, caps = ROWS[venue], VENUES[venue].capabilities
    replaces = caps.change is ChangeMode.RESET_THEN_SET
    assert (row.replacement_set is not None) == replaces, "replacement_set: reset-then-set"
    assert (row.make_delayed is not None) == (not caps.synchronous), "make_delayed: asynchronous"
    assert (row.reject_later is not None) == (not caps.synchronous), "reject_later: asynchronous"
    unfreezes = caps.reset_means is ResetMeaning.UNFREEZE
    assert (row.lengthen_freeze is not None) == unfreezes, "lengthen_freeze: a reset unfreezes"
    assert (row.floor.read_requests is not None) == caps.bulk_read, "floor.read_requests: bulk"
    assert {c.venue for c in row.answers} == {venue}
    for zero in row.zeros:  # a limit its docs tell of, on its scope
        assert zero.venue == venue and zero.field in row.limits_of(zero.underlying), zero
    for scope in (row.sandbox_frozen, row.sandbox_drifted):
        assert scope.startswith(f"{venue}/"), scope


def named_venues(node: ast.AST) -> set[str]:
    """The registered venues a literal names: string constants anywhere inside it (keys,
    items, the arguments of the calls it holds)."""
    return {
        inner.value
        for inner in ast.walk(node)
        if isinstance(inner, ast.Constant) and isinstance(inner.value, str)
    } & set(VENUES)


def tables(tree: ast.AST) -> Iterator[ast.expr]:
    """Each outermost dict/set/list/tuple literal that names every registered venue."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, LITERALS) and named_venues(node) >= set(VENUES):
            yield node  # what it holds is reported with it
        else:
            yield from tables(node)


def exempt(path: Path) -> bool:
    """The table itself, and a venue's own tests."""
    if path == TABLE:
        return True
    name = path.name
    return path.parent == Path("tests") and any(
        name == f"test_{venue}.py" or name.startswith(f"test_{venue}_") for venue in VENUES
    )


def modules() -> list[Path]:
    found = [*ROOT.glob("tests/**/*.py"), *ROOT.glob("benchmarks/**/*.py")]
    return sorted(p.relative_to(ROOT) for p in found)


def offences(path: Path, source: str) -> list[str]:
    tree = ast.parse(source, filename=str(path))
    return [
        f"{path}:{node.lineno}: a {type(node).__name__.lower()} literal naming every registered "
        "venue: move it into tests/venues.py ROWS (a VenueRow field), or take the venues from "
        "reconciler.venues.VENUES"
        for node in tables(tree)
    ]


def test_no_module_but_the_table_keeps_a_table_of_every_venue() -> None:
    found = [
        offence
        for path in modules()
        if not exempt(path)
        for offence in offences(path, (ROOT / path).read_text(encoding="utf-8"))
    ]
    assert not found, "\n".join(found)


def _every(template: str) -> str:
    return ", ".join(template.format(venue) for venue in VENUES)


@pytest.mark.parametrize(
    "source",
    [
        "X = {" + _every('"{}": 1') + "}",
        "X = frozenset({" + _every('"{}"') + "})",
        "def f():\n    for v in (" + _every('"{}"') + "):\n        pass",
        "@mark.parametrize('v', [" + _every('"{}"') + "])\ndef test(v): pass",
        "CALLS = (" + _every('Call("{}", "read", ("GET", "/x"))') + ",)",
        "X = {'A': (" + _every('("{}", "K")') + ")}",
    ],
    ids=["dict", "set", "loop", "parametrize", "calls", "nested"],
)
def test_the_scan_finds_a_table_in_every_shape(source: str) -> None:
    assert len(offences(Path("tests/test_x.py"), source)) == 1, source


@pytest.mark.parametrize(
    "source",
    [
        "X = {" + ", ".join(f'"{v}": 1' for v in list(VENUES)[:-1]) + "}",  # a subset
        "X = sorted(VENUES)",
        "X = {'id': 'deribit/acct/btc_usd'}",  # a venue inside other text is no name of it
    ],
    ids=["subset", "derived", "inside-text"],
)
def test_the_scan_leaves_what_names_not_every_venue(source: str) -> None:
    assert offences(Path("tests/test_x.py"), source) == [], source


def test_a_venues_own_tests_and_the_table_are_exempt_and_nothing_else() -> None:
    venue = sorted(VENUES)[0]
    assert exempt(TABLE)
    assert exempt(Path(f"tests/test_{venue}.py"))
    assert exempt(Path(f"tests/test_{venue}_client.py"))
    assert not exempt(Path("tests/test_fault_matrix.py"))
    assert not exempt(Path(f"benchmarks/test_{venue}.py"))
    assert not exempt(Path(f"tests/test_{venue}s.py"))

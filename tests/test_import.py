"""`mmp import`: live settings into the policy files, the user's own text kept byte for byte.

Import adds and updates; a declared scope the venue lacks is kept and named unless --prune;
a held scope (frozen, or its freeze state unknown after a trigger: the plan shows it `held`)
keeps its declared value, --prune or not. A scope whose freeze state is unknown with no
trigger seen (Bullish over REST) is written by the plan, so import takes the venue's value.
"""

from __future__ import annotations

import difflib
import json
import random
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.commands.importer import FileImport, import_live, notes
from reconciler.core.model import FreezeState, LiveAccount, LiveScope, MmpConfig, ScopeKey
from reconciler.policy.validate import load_desired
from reconciler.venues import VENUES, capabilities
from tests.figures import UPDATE, Figures, FirstPlan, counts, first_plan

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "import"
VALUE_LINE = re.compile(
    r"^(\s+(?:quantity_limit|delta_limit|vega_limit|max_quote_quantity): )(\S+)(.*)$"
)
FILE = "policies/desk-alpha.yaml"
HELD_NOTE = (
    "kept the declared value of {}: the scope is frozen, its live config is not what the "
    "policies want (mmp plan holds the change until it is unfrozen)"
)
UNKNOWN_NOTE = (
    "kept the declared value of {}: the venue cannot tell whether the scope is frozen, and "
    "its live config is not what the policies want (mmp plan holds the change until a person "
    "checks it and names it to --include-held)"
)
KEPT_NOTE = "kept {}: declared, but the venue has no config for it (mmp plan creates it; "
KEPT_NOTE += "--prune takes it out)"


REACH_NOTE = (
    "kept the declared value of {}: a write to it may end the freeze of {}, and its live "
    "config is not what the policies want (mmp plan holds the change until that freeze ends)"
)


def held_note(scope: str, desk: FirstPlan) -> str:
    if scope in desk.reaches:
        return REACH_NOTE.format(scope, ", ".join(desk.reaches[scope]))
    return (UNKNOWN_NOTE if scope in desk.unknown else HELD_NOTE).format(scope)


@pytest.fixture
def desk(in_tmp: Path) -> Path:
    shutil.copytree(ROOT / "policies", in_tmp / "policies")
    return in_tmp / "policies" / "desk-alpha.yaml"


def _plan(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """scope -> action of `mmp plan --sandbox`, and the summary line under 'summary'."""
    assert main(["plan", "--sandbox", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    return {**{s["scope"]: s["action"] for s in data["steps"]}, "summary": data["summary_line"]}


def _scopes(capsys: pytest.CaptureFixture[str], figures: Figures) -> FirstPlan:
    """The sandbox desk, before any import: what the venues lack, and what is held."""
    assert main(["plan", "--sandbox", "--format", "json"]) == 0
    return first_plan(figures, capsys.readouterr().out)


def _changes(plan: dict[str, str]) -> dict[str, str]:
    return {scope: action for scope, action in plan.items() if action != "unchanged"}


def _import(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, list[str]]:
    assert main(["import", "--sandbox", *args]) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err.splitlines()


def test_import_then_plan_shows_only_the_kept_and_the_held(
    desk: Path, capsys: pytest.CaptureFixture[str], figures: Figures
) -> None:
    scopes = _scopes(capsys, figures)
    _import(capsys)
    plan = _plan(capsys)
    summary = plan.pop("summary")
    assert _changes(plan) == {
        **dict.fromkeys(scopes.not_live, "create"),
        **dict.fromkeys(scopes.held, "held"),
    }
    assert counts(summary)["create"] == len(scopes.not_live)
    figures.check("import.plan.summary", summary)
    for venue in VENUES:  # each venue's scopes as imported (or held: not known unfrozen)
        assert any(scope.startswith(venue) for scope, a in plan.items() if a == "unchanged") or all(
            scope in scopes.unknown for scope in plan if scope.startswith(venue)
        )
    imported = desk.read_text()
    _, err = _import(capsys)  # a second import writes nothing and says why not everything matches
    assert desk.read_text() == imported
    assert err[0] == f"{FILE}: nothing to write"
    assert f"{FILE}: {KEPT_NOTE.format(scopes.not_live[0])}" in err
    _import(capsys, "--prune")
    pruned = _plan(capsys)
    pruned_summary = pruned.pop("summary")
    assert _changes(pruned) == dict.fromkeys(scopes.held, "held")
    # the creates taken out, nothing else
    # (a held create stays: the plan still names it UNPROTECTED)
    assert pruned_summary.startswith(("Plan: no changes; ", "Plan: nothing to apply, "))
    pruned_counts = {k: n for k, n in counts(pruned_summary).items() if k != "UNPROTECTED"}
    assert pruned_counts == {k: n for k, n in counts(summary).items() if k != "create"}
    assert main(["validate"]) == 0


@pytest.mark.parametrize(("flags", "name"), [((), "imported"), (("--prune",), "pruned")])
def test_the_desk_imported_matches_the_golden_file(
    desk: Path,
    capsys: pytest.CaptureFixture[str],
    update_golden: bool,
    flags: tuple[str, ...],
    name: str,
) -> None:
    """Values changed, two unmanaged scopes added in sorted order, the two scopes the venue
    lacks kept (or with --prune taken out), the four held values kept, and every comment and
    blank line of the original still there."""
    original = desk.read_text()
    _import(capsys, *flags)
    imported = desk.read_text()
    golden = GOLDEN / f"desk-alpha.{name}.yaml"
    if update_golden:
        golden.write_text(imported)
    assert imported == golden.read_text(), (
        f"the example desk imported differs from tests/import/{golden.name}: if the desk "
        f"({FILE}) changed on purpose, rerun `{UPDATE}` and review the diff of that file"
    )
    comments = [line.split("#", 1)[1] for line in original.splitlines() if "#" in line]
    for comment in comments:
        assert comment in imported
    assert imported.count("\n\n") == original.count("\n\n")


def test_declared_scopes_the_venue_lacks_are_kept_and_named_unless_pruned(
    desk: Path, capsys: pytest.CaptureFixture[str], figures: Figures
) -> None:
    not_live = _scopes(capsys, figures).not_live
    _, err = _import(capsys)
    text = desk.read_text()
    assert "      BNBUSDT:\n        window: 500ms\n" in text
    assert "      eth_usd:\n        default:\n          quantity_limit: 150\n" in text
    for scope in not_live:
        assert f"{FILE}: {KEPT_NOTE.format(scope)}" in err
    assert not any("took out" in line for line in err)
    _, err = _import(capsys, "--prune")
    text = desk.read_text()
    assert "BNBUSDT" not in text
    assert "      eth_usd:\n        default:\n          quantity_limit: 150\n" not in text
    assert [line for line in err if "took out" in line] == [
        f"{FILE}: took out {scope} (the venue has no config for it)" for scope in not_live
    ]
    assert not any(": kept binance" in line for line in err)


def test_a_held_tightening_keeps_its_declared_value_and_says_so(
    desk: Path, capsys: pytest.CaptureFixture[str], figures: Figures
) -> None:
    """The policies tightened three scopes held before apply could write them (two frozen,
    one after a trigger whose end the venue does not tell): import must not write the looser
    live values over them, --prune or not."""
    scopes = _scopes(capsys, figures)
    before = desk.read_text()
    for flags in ((), ("--prune",)):
        _, err = _import(capsys, *flags)
        text = desk.read_text()
        assert "          frozen: manual           # no automatic unfreeze\n" in text
        assert "MassQuoteBot7:             # a mass-quote group\n          window: 60s" in text
        for held in ("          quantity_limit: 3\n", "        quantity_limit: 0.2\n"):
            assert before.count(held) == text.count(held) == 1
        assert [line for line in err if "kept the declared value" in line] == [
            f"{FILE}: {held_note(scope, scopes)}" for scope in scopes.held
        ]
        assert _plan(capsys)["deribit/deribit-main/btc_usd/MassQuoteBot7"] == "held"


def test_a_frozen_scope_declared_as_live_is_neither_written_nor_named(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not held: the plan shows it unchanged (frozen; nothing to change), so there is
    nothing to keep and nothing to say."""
    desk.write_text(
        desk.read_text().replace("quantity_limit: 3\n", "quantity_limit: 5.0   # as live\n")
    )
    _import(capsys, "--prune")
    _, err = _import(capsys)
    assert "          quantity_limit: 5.0   # as live\n" in desk.read_text()
    # named only as the freeze the account's held writes may end
    assert not any("value of deribit/deribit-main/btc_usd/MassQuoteBot7" in line for line in err)
    assert _plan(capsys)["deribit/deribit-main/btc_usd/MassQuoteBot7"] == "unchanged"


def test_an_absent_the_venue_still_has_becomes_its_live_config_unless_held(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A removal never applied is a declared value like any other: the live config replaces
    it, and import says so; a removal a freeze holds back stays `absent`: of the frozen
    scope itself, and on Deribit of any scope of its account (a set may end that freeze)."""
    text = desk.read_text()
    hedge = "      btc_usd:\n        default:\n          quantity_limit: 12.5\n"
    hedge += (
        "          delta_limit: 4.25\n          vega_limit: 3000\n          max_quote_quantity: 5\n"
    )
    eth = "      eth_usd:\n        default:\n          quantity_limit: 300\n"
    eth += "          max_quote_quantity: 100\n"
    held = "        MassQuoteBot7:             # a mass-quote group\n          window: 60s\n"
    held += "          frozen: manual           # no automatic unfreeze\n"
    held += "          quantity_limit: 3\n          max_quote_quantity: 2.5\n"
    assert text.count(hedge) == text.count(eth) == text.count(held) == 1
    text = text.replace(hedge, "      btc_usd: absent   # take it off\n")
    text = text.replace(eth, "      eth_usd: absent   # take it off\n")
    desk.write_text(text.replace(held, "        MassQuoteBot7: absent\n"))
    _, err = _import(capsys)
    imported = desk.read_text()
    assert (
        "      btc_usd:          # take it off\n        default:\n          quantity_limit: 12.5\n"
    ) in imported
    assert "        MassQuoteBot7: absent\n      eth_usd: absent # take it off\n" in imported
    assert (
        f"{FILE}: replaced `absent` of deribit/deribit-hedge/btc_usd with its live config: the "
        "removal was never applied (declare it `absent` again to have it removed)"
    ) in err
    frozen = "deribit/deribit-main/btc_usd/MassQuoteBot7"
    assert f"{FILE}: {HELD_NOTE.format(frozen)}" in err
    assert f"{FILE}: {REACH_NOTE.format('deribit/deribit-main/eth_usd', frozen)}" in err
    plan = _plan(capsys)
    assert plan["deribit/deribit-hedge/btc_usd"] == "unchanged"
    assert plan["deribit/deribit-main/eth_usd"] == "held"


def test_dry_run_shows_exactly_what_import_writes_with_the_same_notes(
    desk: Path, capsys: pytest.CaptureFixture[str], figures: Figures
) -> None:
    scopes = _scopes(capsys, figures)
    before = desk.read_text()
    dry_out, dry_err = _import(capsys, "--dry-run")
    assert desk.read_text() == before
    out, err = _import(capsys)
    assert dry_out == out == _diff(before, desk.read_text())
    figures.check("import.written", err[0])
    written = re.fullmatch(
        rf"{re.escape(FILE)}: added (\d+) live scope\(s\), updated (\d+) to the venue's values",
        err[0],
    )
    assert written, err[0]
    assert dry_err == [
        f"{FILE}: would add {written[1]} live scope(s) and update {written[2]} to the venue's "
        "values",
        *(
            f"{FILE}: would {KEPT_NOTE.format(s).replace('kept', 'keep', 1)}"
            for s in scopes.not_live
        ),
        *(f"{FILE}: would {held_note(s, scopes).replace('kept', 'keep', 1)}" for s in scopes.held),
        "--dry-run: 1 file(s) would change; nothing written",
    ]
    assert err[1:] == [
        *(f"{FILE}: {KEPT_NOTE.format(s)}" for s in scopes.not_live),
        *(f"{FILE}: {held_note(s, scopes)}" for s in scopes.held),
    ]


def test_dry_run_of_a_prune_names_what_it_would_take_out(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = desk.read_text()
    out, err = _import(capsys, "--dry-run", "--prune")
    assert desk.read_text() == before
    assert "-      BNBUSDT:\n-        window: 500ms\n" in out
    assert (
        f"{FILE}: would take out binance/binance-mm/BNBUSDT (the venue has no config for it)" in err
    )


def _diff(before: str, after: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            f"a/{FILE}",
            f"b/{FILE}",
        )
    )


def _held_lines(lines: list[str], capsys: pytest.CaptureFixture[str]) -> set[int]:
    """The indexes of the lines inside the scopes the plan shows held, or would once changed:
    where a scope a set of it may reach is frozen (Deribit: any of its account's)."""
    assert main(["plan", "--sandbox", "--format", "json"]) == 0
    steps = json.loads(capsys.readouterr().out)["steps"]
    frozen = [ScopeKey.from_data(s["key"]) for s in steps if s["freeze"]["frozen"] is not False]
    held = set()
    for step in steps:
        key = ScopeKey.from_data(step["key"])
        reach = VENUES[key.venue].capabilities.set_reset_reach
        reached = any(other != key and reach.reaches(key, other) for other in frozen)
        if step["where"] and (step["action"] == "held" or reached):
            line, col = (int(n) for n in step["where"].rsplit(":", 2)[1:])
            index = line  # the line after the scope's key
            while index < len(lines) and len(lines[index]) - len(lines[index].lstrip()) >= col:
                held.add(index)
                index += 1
    return held


@pytest.mark.parametrize("seed", range(6))
def test_only_the_changed_values_change_byte_for_byte(
    desk: Path, capsys: pytest.CaptureFixture[str], seed: int
) -> None:
    """From a file that matches the venues, change some values (kept in odd spellings and
    with comments around them); import must give back exactly the matching file, except
    inside held scopes, where the changed values are the declared ones and stay."""
    _import(capsys, "--prune")
    matching = desk.read_text().replace(
        "mmp:\n", "mmp:   # live as of the import\n\n", 1
    )  # a comment and a blank line the tool never wrote
    desk.write_text(matching)
    lines = matching.splitlines(keepends=True)
    held = _held_lines(lines, capsys)
    expected = list(lines)
    rng = random.Random(seed)
    candidates = [i for i, line in enumerate(lines) if VALUE_LINE.match(line)]
    assert held & set(candidates)
    for index in rng.sample(candidates, k=min(8, len(candidates))):
        match = VALUE_LINE.match(lines[index])
        assert match is not None
        head = f"{match[1]}{rng.choice(['7', '0.5', '123.25'])}"
        comment = match[3].lstrip()
        if comment:  # keep the comment in its column, as a person editing the value would
            column = len(match[1]) + len(match[2]) + len(match[3]) - len(comment)
            head = head.ljust(column - 1) + " "
        lines[index] = head + comment + "\n"
        if index in held:
            expected[index] = lines[index]
    desk.write_text("".join(lines))
    _import(capsys, "--prune")
    assert desk.read_text() == "".join(expected)


def test_dry_run_writes_nothing_and_shows_the_diff(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = desk.read_text()
    out, _ = _import(capsys, "--dry-run", "--account", "aevo-mm")
    assert desk.read_text() == before
    assert "-        quantity_limit: 30\n+        quantity_limit: 40" in out
    assert "binance" not in out  # only the selected account


def test_an_underlying_filter_touches_only_that_underlying(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, err = _import(capsys, "--account", "binance-mm", "--underlying", "BTCUSDT", "--prune")
    changed = [line for line in out.splitlines()[2:] if line.startswith(("-", "+"))]
    assert [line.split("#")[0].rstrip() for line in changed] == [
        "-        window: 3s",
        "+        window: 2s",
    ]
    assert err == [f"{FILE}: updated 1 to the venue's values"]


def test_import_writes_canonical_units_and_exact_decimals(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _import(capsys, "--account", "binance-mm")
    text = desk.read_text()
    assert "      SOLUSDT:\n        window: 1s\n        frozen: 1m\n" in text  # not 1000ms
    assert "        delta_limit: 120.5\n" in text
    position = {name: text.index(f"      {name}:") for name in ("BTCUSDT", "ETHUSDT", "SOLUSDT")}
    assert position["BTCUSDT"] < position["ETHUSDT"] < position["SOLUSDT"]


# ---- the edges of frozen scopes, on live states built by hand ------------------------------

FROZEN = FreezeState(True)
LIVE = MmpConfig(1000, 30_000, quantity_limit=Decimal(9), max_quote_quantity=Decimal(2))
POLICY = """accounts:
  main:
    venue: deribit
    environment: testnet
    credentials: MAIN
    defaults: {window: 1s, frozen: 30s}
    mmp:
      btc_usd:
        default: {quantity_limit: 5, max_quote_quantity: 2}
      eth_usd: absent      # the whole underlying
      sol_usdc:
        default: absent    # one group
"""


def _scope(underlying: str, group: str | None = None) -> ScopeKey:
    return ScopeKey("deribit", "main", underlying, group)


def _import_by_hand(in_tmp: Path, scopes: list[LiveScope], prune: bool = True) -> FileImport:
    (in_tmp / "policies").mkdir()
    (in_tmp / "policies" / "desk.yaml").write_text(POLICY)
    desired = load_desired(in_tmp / "policies", capabilities())
    live = [LiveAccount("deribit", "main", tuple(scopes))]
    (result,) = import_live(desired, live, capabilities(), prune=prune)
    return result


def test_held_creates_and_held_removals_stay_as_declared_even_with_prune(in_tmp: Path) -> None:
    """A frozen scope with no config live stays declared (pruning it would hide a scope the
    plan reports UNPROTECTED); an `absent` whose removal a freeze holds stays absent."""
    result = _import_by_hand(
        in_tmp,
        [
            LiveScope(_scope("btc_usd"), None, FROZEN),
            LiveScope(_scope("eth_usd"), LIVE, FROZEN),
            LiveScope(_scope("sol_usdc"), LIVE, FROZEN),
        ],
    )
    assert result.after == result.before
    assert (result.kept, result.removed, result.written) == ([], [], 0)
    assert notes(result, dry_run=False) == [
        f"{result.path}: nothing to write",
        f"{result.path}: kept the declared value of deribit/main/btc_usd: the scope is frozen "
        "and has no config live (UNPROTECTED: mmp plan creates it once it is unfrozen; "
        "--prune leaves it)",
        f"{result.path}: {HELD_NOTE.format('deribit/main/eth_usd')}",
        f"{result.path}: {HELD_NOTE.format('deribit/main/sol_usdc')}",
    ]


def test_a_held_group_under_an_absent_underlying_stays_absent_and_its_siblings_too(
    in_tmp: Path,
) -> None:
    """On Deribit a set's reset may reach the whole account: the frozen group's siblings'
    removals are held too, so the underlying stays `absent` as declared."""
    result = _import_by_hand(
        in_tmp,
        [
            LiveScope(_scope("btc_usd"), LIVE, FROZEN),
            LiveScope(_scope("eth_usd"), LIVE),
            LiveScope(_scope("eth_usd", "Bot"), LIVE, FROZEN),
        ],
    )
    assert result.after == result.before
    assert "      eth_usd: absent      # the whole underlying\n" in result.after
    assert (result.updated, result.unremoved) == ([], [])
    held = {str(step.key): step.reaches for step in result.held}
    assert held["deribit/main/eth_usd"] == ("deribit/main/btc_usd", "deribit/main/eth_usd/Bot")


def test_an_undeclared_frozen_scope_is_added_like_any_other(in_tmp: Path) -> None:
    """Its live config is the only value there is: the next plan shows it unchanged."""
    result = _import_by_hand(
        in_tmp,
        [LiveScope(_scope("btc_usd"), LIVE), LiveScope(_scope("ada_usdc"), LIVE, FROZEN)],
        prune=False,
    )
    assert "      ada_usdc:\n        default:\n          quantity_limit: 9\n" in result.after
    assert [str(key) for key in result.added] == ["deribit/main/ada_usdc"]
    # btc_usd's change is held: a set of it may end ada_usdc's freeze (Deribit)
    assert result.updated == [] and [str(s.key) for s in result.held] == ["deribit/main/btc_usd"]
    assert "        default: {quantity_limit: 5, max_quote_quantity: 2}\n" in result.after
    assert "      eth_usd: absent      # the whole underlying\n" in result.after


def test_a_limit_the_defaults_give_is_inherited_not_written_again(in_tmp: Path) -> None:
    """Every field a scope inherits from the account's defaults counts, a limit as well as a
    duration: a scope that already matches is left alone, a new one is written without it."""
    (in_tmp / "policies").mkdir()
    text = POLICY.replace(
        "defaults: {window: 1s, frozen: 30s}",
        "defaults: {window: 1s, frozen: 30s, max_quote_quantity: 2}",
    ).replace("{quantity_limit: 5, max_quote_quantity: 2}", "{quantity_limit: 9}")
    (in_tmp / "policies" / "desk.yaml").write_text(text)
    desired = load_desired(in_tmp / "policies", capabilities())
    live = [LiveScope(_scope("btc_usd"), LIVE), LiveScope(_scope("ada_usdc"), LIVE)]
    (result,) = import_live(desired, [LiveAccount("deribit", "main", tuple(live))], capabilities())
    assert "        default: {quantity_limit: 9}\n" in result.after
    assert "      ada_usdc:\n        default:\n          quantity_limit: 9\n      btc_usd:" in (
        result.after
    )
    assert (result.updated, [str(key) for key in result.added]) == ([], ["deribit/main/ada_usdc"])

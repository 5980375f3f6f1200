"""Every open question of the venue docs is a simulator switch, and every switch is a reading
the tests run under (issue 16): README's table "Open questions: each a simulator switch"
against the simulators' constructors and tests/venues.py's rows.

- Each keyword argument of a venue's simulator (and of a settings object it takes, Bullish's
  `ws=Readings(...)`) is in the table, unless NOT_OPEN says why it is no open question: a
  switch added to a simulator fails here until the table and a reading have it.
- Each switch of the table is set by a reading of its venue's row to a value other than its
  default; where the simulator names its values (a closed set, or a bool), by one reading
  for each.
- The table's last column says where each reading is crossed, and it is so: in process for
  every reading but those of the push channel alone, and the real-process cells named.
- The simulator fixes this needed: a switch value the simulator does not know is refused,
  never played as the default."""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.simulators.zeros import ZERO_READINGS
from reconciler.venues import VENUES
from reconciler.venues.bullish import simulator as bullish_simulator
from reconciler.venues.bullish import simulator_push as bullish_push
from reconciler.venues.deribit import simulator as deribit_simulator
from reconciler.venues.deribit import simulator_push as deribit_push
from tests import fault_cells
from tests.venues import DEFAULT, ROWS, Reading, reading_cells

README = Path(__file__).resolve().parent.parent / "README.md"
HEADING = "### Open questions: each a simulator switch"

# keyword arguments of a simulator that are no open question of the docs, and why
NOT_OPEN = {
    "clock": "the test's time",
    "testnet": "which of the venue's environments it plays (the answers' testnet flag)",
    "token_ttl_s": "a token's documented lifetime, shortened by tests of its expiry",
    "request_cost": "the documented credit cost, raised by tests of the rate limit",
    "max_groups": "the documented most mass-quote groups, lowered by tests of the bound",
    "weight_limit": "the documented weight a minute, lowered by tests of the rate limit",
    "ban_after": "how soon a client that keeps going is banned, for tests of the ban",
    "ws.idle_ms": "the documented hang-up of a quiet socket (100 s), shortened by its tests",
}
# the values a switch may take, where the simulator names them (bools: both)
DOMAINS: dict[tuple[str, str], typing.Collection[Any]] = {
    ("deribit", "mmp_disabled_code"): deribit_simulator.MMP_DISABLED,
    ("deribit", "set_result"): deribit_simulator.SET_RESULTS,
    ("deribit", "set_resets"): deribit_simulator.SET_RESETS,
    ("deribit", "trigger_payload"): deribit_push.PAYLOADS,
    ("bullish", "token_refusal"): bullish_simulator.TOKEN_REFUSALS,
    ("bullish", "ws.trigger_topic"): bullish_push.TRIGGER_TOPIC_READINGS,
    ("bullish", "ws.envelope"): bullish_push.ENVELOPES,
    ("bullish", "ws.rejection_status"): bullish_push.REJECTION_STATUSES,
}
# what a live limit of "0" means, a limit of zero or no limit: every switch ending in this
# takes ZERO_READINGS, and is one its venue's row names in `zeros` (tests/venues.py)
ZERO = "_zero"
ZERO_SWITCHES = [(zero.venue, zero.switch) for row in ROWS.values() for zero in row.zeros]


def domain(venue: str, switch: str) -> typing.Collection[Any] | None:
    """The values the switch may take, where the simulator names them."""
    return ZERO_READINGS if switch.endswith(ZERO) else DOMAINS.get((venue, switch))


@dataclasses.dataclass(frozen=True)
class TableRow:
    venue: str
    switch: str  # "name", or "ws.name" for a field of the settings object it takes
    crossed: str  # the last column: where each reading is crossed


def table(text: str) -> list[TableRow]:
    section = text.split(HEADING, 1)[1].split("\n### ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or cells[0] in ("Venue", "---"):
            continue
        rows.append(TableRow(cells[0].lower(), switch_name(cells[2]), cells[4]))
    return rows


def switch_name(cell: str) -> str:
    """`DeribitSimulator(mmp_disabled_code=)`, `trigger_payload`, `underlyings=`,
    `ws=Readings(trigger_topic=)` -> mmp_disabled_code, ..., ws.trigger_topic."""
    code = cell.strip("`")
    nested = re.fullmatch(r"(\w+)=\w+\((\w+)=\)", code)
    if nested:
        return f"{nested.group(1)}.{nested.group(2)}"
    called = re.fullmatch(r"\w+\((\w+)=\)", code)
    return called.group(1) if called else code.rstrip("=")


ROWS_OF_README = table(README.read_text(encoding="utf-8"))


def simulator_class(venue: str) -> type:
    return type(ROWS[venue].make())


def switch_defaults(cls: type) -> dict[str, Any]:
    """Each keyword argument of the simulator's constructor and its default; a settings
    object it takes (a dataclass, defaulting to None) by each of its fields."""
    hints = typing.get_type_hints(cls.__init__)  # type: ignore[misc]
    found: dict[str, Any] = {}
    for name, param in inspect.signature(cls).parameters.items():
        settings = [a for a in typing.get_args(hints.get(name)) if dataclasses.is_dataclass(a)]
        if param.default is None and settings:
            for item in dataclasses.fields(settings[0]):
                found[f"{name}.{item.name}"] = item.default
        else:
            found[name] = param.default
    return found


def reading_values(reading: Reading) -> Iterator[tuple[str, Any]]:
    """(switch, value) a reading sets, a settings object by each field it does not leave at
    its default."""
    for name, value in reading.switches.items():
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            for item in dataclasses.fields(value):
                if getattr(value, item.name) != item.default:
                    yield f"{name}.{item.name}", getattr(value, item.name)
        else:
            yield name, value


@pytest.mark.parametrize("venue", sorted(VENUES))
def test_every_simulator_switch_is_in_the_table_or_said_to_be_no_open_question(
    venue: str,
) -> None:
    switches = set(switch_defaults(simulator_class(venue))) - set(NOT_OPEN)
    listed = {r.switch for r in ROWS_OF_README if r.venue == venue}
    assert switches - listed == set(), (
        f"{venue}'s simulator takes switches README's open-questions table does not list: "
        "add each to the table and a reading of it to tests/venues.py (or to NOT_OPEN, "
        "saying why it is no open question)"
    )
    assert listed - switches == set(), f"README lists switches {venue}'s simulator lacks"
    zeros = {s for s in switches if s.endswith(ZERO)}
    assert zeros == {z.switch for z in ROWS[venue].zeros}, (
        f"{venue}'s simulator plays a live \"0\" by switches {sorted(zeros)}: its row's zeros "
        "in tests/venues.py must name each"
    )


def row_defaults(venue: str) -> dict[str, Any]:
    """Each switch's value under the row's default reading: the constructor's default, or
    what the row makes it for in-process runs (Bullish: commands applied at the next call),
    as the simulator keeps it."""
    made = ROWS[venue].make()
    return {
        name: getattr(made, name, default) if "." not in name else default
        for name, default in switch_defaults(type(made)).items()
    }


@pytest.mark.parametrize("venue", sorted(VENUES))
def test_every_switch_of_the_table_is_played_by_a_reading_each_value_by_one(venue: str) -> None:
    row = ROWS[venue]
    defaults = row_defaults(venue)
    names = [r.name for r in row.readings]
    assert names[0] == DEFAULT and not row.readings[0].switches, "the default reading first"
    assert len(names) == len(set(names)), names
    played: dict[str, list[Any]] = {}
    for reading in row.readings:
        for switch, value in reading_values(reading):
            assert value != defaults[switch], f"{reading.name}: {switch} at its default"
            played.setdefault(switch, []).append(value)
        row.make(**reading.switches)  # the simulator takes it
    for switch in (r.switch for r in ROWS_OF_README if r.venue == venue):
        assert played.get(switch), f"no reading of {venue} sets {switch}"
        values = domain(venue, switch)
        if values is None and isinstance(defaults[switch], bool):
            values = (True, False)
        if values is not None:
            missing = set(values) - {defaults[switch], *played[switch]}
            assert not missing, f"{venue} {switch}: no reading plays {sorted(missing)}"


def said(crossed: str) -> dict[str, tuple[bool, set[str]]]:
    """The last column: reading -> (in process, the process cells named)."""
    found: dict[str, tuple[bool, set[str]]] = {}
    plain = re.sub(r"\([^)]*\)", "", crossed)  # notes in brackets name no reading
    for sentence in re.split(r"\.\s+(?=`)", plain.strip().rstrip(".")):
        readings, where = sentence.split(":", 1)
        parts = [p.strip() for p in where.split(";")]
        in_process = "in process" in parts
        cells = {
            cell
            for part in parts
            if part.startswith("process ")
            for cell in re.findall(r"`([^`]+)`", part)
        }
        for name in re.findall(r"`([^`]+)`", readings):
            found[name] = (in_process, cells)
    return found


@pytest.mark.parametrize("venue", sorted(VENUES))
def test_the_table_says_where_each_reading_is_crossed_and_it_is(venue: str) -> None:
    row = ROWS[venue]
    in_process = {r for v, r in reading_cells([venue])}
    process = fault_cells.process_cells()
    for entry in (r for r in ROWS_OF_README if r.venue == venue):
        setting = {
            reading.name
            for reading in row.readings
            if entry.switch in dict(reading_values(reading))
        }
        told = said(entry.crossed)
        assert set(told) == setting, f"{venue} {entry.switch}: README names {sorted(told)}"
        for name, (inside, cells) in told.items():
            assert inside == (name in in_process), f"{name}: in process is {not inside}"
            ran = {f for v, r, f in process if (v, r) == (venue, name)}
            assert cells == ran, f"{venue} {name}: process cells {sorted(ran)}"


@pytest.mark.parametrize("venue", sorted(VENUES))
def test_every_reading_is_crossed_somewhere(venue: str) -> None:
    """A reading of the push channel alone runs in no in-process test: a process cell with
    the socket served must play it."""
    for reading in ROWS[venue].readings[1:]:
        cells = [f for v, r, f in fault_cells.process_cells() if (v, r) == (venue, reading.name)]
        assert not reading.push or set(cells) & fault_cells.SOCKETED, reading.name
        assert cells or not reading.push, reading.name


# ---- the simulator fixes ------------------------------------------------------------------


def test_a_set_result_the_deribit_simulator_does_not_know_is_refused() -> None:
    """Before, any word but "array" played the documented object, so a misspelt reading ran
    the default reading under another name."""
    with pytest.raises(ValueError, match="set_result is one of"):
        deribit_simulator.DeribitSimulator(set_result="arrays")


def test_a_set_resets_the_deribit_simulator_does_not_know_is_refused() -> None:
    with pytest.raises(ValueError, match="set_resets is one of"):
        deribit_simulator.DeribitSimulator(set_resets="group")


@pytest.mark.parametrize(("venue", "switch"), ZERO_SWITCHES)
def test_a_zero_reading_the_simulator_does_not_know_is_refused(venue: str, switch: str) -> None:
    with pytest.raises(ValueError, match=f"{switch} is one of"):
        ROWS[venue].make(**{switch: "zero"})


def test_a_rejection_status_the_bullish_socket_does_not_know_is_refused() -> None:
    """Before, any word was published as a refused command's status as it was."""
    with pytest.raises(ValueError, match="rejection_status is one of"):
        bullish_push.Readings(rejection_status="rejected")


def test_the_table_is_read() -> None:
    """The parse holds: each venue has rows, and a nested switch is named by its field."""
    assert {r.venue for r in ROWS_OF_README} == set(VENUES)
    assert switch_name("`ws=Readings(trigger_topic=)`") == "ws.trigger_topic"
    assert switch_name("`DeribitSimulator(mmp_disabled_code=)`") == "mmp_disabled_code"
    assert switch_name("`underlyings=`") == "underlyings"
    assert said("`a`, `b`: in process; process `x`, `y`. `c`: process `x`") == {
        "a": (True, {"x", "y"}),
        "b": (True, {"x", "y"}),
        "c": (False, {"x"}),
    }

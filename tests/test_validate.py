"""Validate: every problem at once, each as path:line:col: message, and exact decimals."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.core.errors import ConfigError
from reconciler.core.model import ScopeKey
from reconciler.venues import VENUES
from tests.helpers import load, write_policy

KNOWN = ", ".join(sorted(VENUES))  # the registered venues, as errors list them

HEADER = """
accounts:
  main:
    venue: deribit
    environment: testnet
    credentials: DERIBIT_MAIN
"""


def problems_of(in_tmp: Path, text: str) -> list[str]:
    write_policy(in_tmp, text)
    with pytest.raises(ConfigError) as info:
        load(in_tmp)
    return [str(p) for p in info.value.problems]


def scope(fields: str, underlying: str = "btc_usd", group: str = "default") -> str:
    body = "\n".join(f"          {line}" for line in fields.strip().splitlines())
    return HEADER + f"    mmp:\n      {underlying}:\n        {group}:\n{body}\n"


GOOD = "window: 1s\nfrozen: 30s\nquantity_limit: 5\nmax_quote_quantity: 2"

CASES = {
    "unknown key": (
        scope(GOOD + "\nquantity_limt: 5"),
        "policies/desk.yaml:13:11: unknown key `quantity_limt`; did you mean `quantity_limit`?",
    ),
    "unknown account key": (
        HEADER + "    envirnoment: testnet\n",
        "policies/desk.yaml:6:5: unknown key `envirnoment`; did you mean `environment`?",
    ),
    "wrong type": (
        scope("window: 1s\nfrozen: 30s\nquantity_limit: [5]\nmax_quote_quantity: 2"),
        "policies/desk.yaml:11:27: quantity_limit: expected a number, got a list",
    ),
    "quoted number": (
        scope("window: 1s\nfrozen: 30s\nquantity_limit: '5'\nmax_quote_quantity: 2"),
        "policies/desk.yaml:11:27: quantity_limit: expected a number, got the string '5': "
        "write it without quotes",
    ),
    "duration without unit": (
        scope("window: 3\nfrozen: 30s\nquantity_limit: 5\nmax_quote_quantity: 2"),
        "policies/desk.yaml:9:19: window: duration 3 has no unit: write 3s or 3ms "
        "(units: ms, s, m, h)",
    ),
    "duration the venue cannot express": (
        scope("window: 1500ms\nfrozen: 30s\nquantity_limit: 5\nmax_quote_quantity: 2"),
        "policies/desk.yaml:9:19: window 1500ms cannot be expressed on deribit, which takes "
        "window in whole seconds; refusing to round it",
    ),
    "duration above the venue's maximum": (
        scope("window: 2h\nfrozen: 30s\nquantity_limit: 5\nmax_quote_quantity: 2"),
        "policies/desk.yaml:9:19: window 2h is above deribit's maximum of 1h",
    ),
    "zero freeze": (
        scope("window: 1s\nfrozen: 0s\nquantity_limit: 5\nmax_quote_quantity: 2"),
        "policies/desk.yaml:10:19: frozen: a freeze of 0 is ambiguous: write `frozen: manual` "
        "for no automatic unfreeze",
    ),
    "negative limit": (
        scope("window: 1s\nfrozen: 30s\nquantity_limit: -5\nmax_quote_quantity: 2"),
        "policies/desk.yaml:11:27: quantity_limit must be greater than 0 on deribit (got -5)",
    ),
    "over-precise limit": (
        scope("window: 1s\nfrozen: 30s\nquantity_limit: 0.12345\nmax_quote_quantity: 2"),
        "policies/desk.yaml:11:27: quantity_limit 0.12345 has 5 decimal places; deribit keeps "
        "at most 4, and we never round a limit",
    ),
    "unknown venue": (
        HEADER.replace("venue: deribit", "venue: derbit") + "    mmp: {}\n",
        f"policies/desk.yaml:3:12: unknown venue `derbit` (known: {KNOWN}); "
        "did you mean `deribit`?",
    ),
    "literal secret in credentials": (
        HEADER.replace("credentials: DERIBIT_MAIN", "credentials: xK9-live-Secret-value"),
        "policies/desk.yaml:5:18: credentials: credentials must be an environment-variable "
        "prefix (A-Z, 0-9, _) such as DERIBIT_MAIN; the value given is not one and may be a "
        "literal secret, so it is not shown",
    ),
    "literal secret key": (
        HEADER + "    client_secret: xK9-live-Secret-value\n",
        "policies/desk.yaml:6:5: `client_secret` looks like a literal credential: secrets "
        "never go in policies; set `credentials: PREFIX` and export PREFIX_... in the "
        "environment",
    ),
    "literal secret pasted as a key": (
        HEADER + "    token_9fQ2xK7LmZ4vB8nR1tY6: 1\n",
        "policies/desk.yaml:6:5: this key (not repeated here) looks like a literal credential: "
        "secrets never go in policies; set `credentials: PREFIX` and export PREFIX_... in the "
        "environment",
    ),
    "duplicate key": (
        scope(GOOD + "\nquantity_limit: 6"),
        "policies/desk.yaml:13:11: invalid YAML: duplicate key `quantity_limit`",
    ),
    "invalid YAML syntax": (
        HEADER + "    mmp: {btc_usd: [1\n",
        "policies/desk.yaml:7:1: invalid YAML: expected ',' or ']', but got '<stream end>'",
    ),
    "missing max_quote_quantity": (
        scope("window: 1s\nfrozen: 30s\nquantity_limit: 5"),
        "policies/desk.yaml:8:9: deribit requires `max_quote_quantity`",
    ),
    "no limit at all": (
        scope("window: 1s\nfrozen: 30s\nmax_quote_quantity: 2"),
        "policies/desk.yaml:8:9: deribit needs at least one of delta_limit, quantity_limit, "
        "vega_limit",
    ),
    "missing window": (
        scope("frozen: 30s\nquantity_limit: 5\nmax_quote_quantity: 2"),
        "policies/desk.yaml:8:9: `window` is required (set it here or in the account's defaults)",
    ),
    "unknown underlying": (
        scope(GOOD, underlying="btc_uds"),
        "policies/desk.yaml:7:7: `btc_uds` is not a deribit underlying; did you mean `btc_usd`?",
    ),
    "fields without a group": (
        HEADER + "    mmp:\n      btc_usd:\n        quantity_limit: 5\n",
        "policies/desk.yaml:8:9: deribit scopes are grouped: put these fields under "
        "`default:` (regular orders) or under a mass-quote group name",
    ),
    "group name too long": (
        scope(GOOD, group="G" * 65),
        "policies/desk.yaml:8:9: group name is 65 characters; deribit allows at most 64",
    ),
    "no environment": (
        HEADER.replace("    environment: testnet\n", ""),
        "policies/desk.yaml:2:3: set exactly one of `environment` (production | testnet) or "
        "`base_url`",
    ),
    "hexadecimal limit": (
        scope("window: 1s\nfrozen: 30s\nquantity_limit: 0x10\nmax_quote_quantity: 2"),
        "policies/desk.yaml:11:27: quantity_limit: `0x10` is in hexadecimal notation; limits "
        "take plain decimal notation only: write 16",
    ),
    "exponent limit": (
        scope("window: 1s\nfrozen: 30s\nquantity_limit: 1e3\nmax_quote_quantity: 2"),
        "policies/desk.yaml:11:27: quantity_limit: `1e3` is in exponent notation; limits take "
        "plain decimal notation only: write 1000",
    ),
    "underscored limit": (
        scope("window: 1s\nfrozen: 30s\nquantity_limit: 1_000\nmax_quote_quantity: 2"),
        "policies/desk.yaml:11:27: quantity_limit: `1_000` is written with `_` between digits; "
        "limits take plain decimal notation only: write 1000",
    ),
    "octal limit": (
        scope("window: 1s\nfrozen: 30s\nquantity_limit: 0o17\nmax_quote_quantity: 2"),
        "policies/desk.yaml:11:27: quantity_limit: `0o17` is in octal notation; limits take "
        "plain decimal notation only: write 15",
    ),
    "bare decimal point": (
        scope("window: 1s\nfrozen: 30s\nquantity_limit: .5\nmax_quote_quantity: 2"),
        "policies/desk.yaml:11:27: quantity_limit: `.5` is written with a bare decimal point; "
        "limits take plain decimal notation only: write 0.5",
    ),
    "infinite limit": (
        scope("window: 1s\nfrozen: 30s\nquantity_limit: .inf\nmax_quote_quantity: 2"),
        "policies/desk.yaml:11:27: quantity_limit: `.inf` is not a finite number: write the "
        "limit in plain decimal notation",
    ),
    "thousands separator": (
        scope("window: 1s\nfrozen: 30s\nquantity_limit: '1,000'\nmax_quote_quantity: 2"),
        "policies/desk.yaml:11:27: quantity_limit: expected a number, got the text '1,000': "
        "write 1000 (no separators)",
    ),
    "duration with a space": (
        scope("window: 1 s\nfrozen: 30s\nquantity_limit: 5\nmax_quote_quantity: 2"),
        "policies/desk.yaml:9:19: window: duration `1 s` has a space: write 1s",
    ),
    "duration with a unit word": (
        scope("window: 1s\nfrozen: 30 seconds\nquantity_limit: 5\nmax_quote_quantity: 2"),
        "policies/desk.yaml:10:19: frozen: duration `30 seconds` is not a whole number followed "
        "by ms, s, m or h: write 30s",
    ),
    "fractional duration": (
        scope("window: 1.5s\nfrozen: 30s\nquantity_limit: 5\nmax_quote_quantity: 2"),
        "policies/desk.yaml:9:19: window: duration `1.5s` is not a whole number followed by "
        "ms, s, m or h: write 1500ms",
    ),
    "unknown environment": (
        HEADER.replace("environment: testnet", "environment: prod"),
        "policies/desk.yaml:4:18: unknown environment `prod`: write 'production' or 'testnet'; "
        "did you mean `production`?",
    ),
    "credentials naming one variable": (
        HEADER.replace("credentials: DERIBIT_MAIN", "credentials: DERIBIT_X_CLIENT_ID"),
        "policies/desk.yaml:5:18: credentials: `DERIBIT_X_CLIENT_ID` names one variable, but "
        "`credentials:` is the prefix of the account's variables: write `DERIBIT_X` (mmp then "
        "reads DERIBIT_X_CLIENT_ID and DERIBIT_X_CLIENT_SECRET)",
    ),
    "a group on a venue without groups": (
        HEADER.replace("venue: deribit", "venue: binance")
        + "    mmp:\n      BTCUSDT:\n        default: {window: 1s}\n",
        "policies/desk.yaml:8:9: binance has no groups, so `default` cannot be one: put the MMP "
        "fields straight under `BTCUSDT:`",
    ),
    "an MMP field at the account level": (
        HEADER + "    window: 1s\n",
        "policies/desk.yaml:6:5: `window` is an MMP field, not an account key: put it under "
        "`defaults:` (every scope of the account) or under an underlying in `mmp:`",
    ),
    "an account with nothing under it": (
        "accounts:\n  main:\n",
        "policies/desk.yaml:2:3: account `main` has no fields: give it `venue`, `environment` "
        "(or `base_url`), `credentials` and `mmp`",
    ),
    "an underlying with nothing under it": (
        HEADER + "    mmp:\n      btc_usd:\n",
        "policies/desk.yaml:7:7: `btc_usd` has no fields: give it MMP fields, or "
        "`btc_usd: absent` to remove its config",
    ),
    "a group with nothing under it": (
        HEADER + "    mmp:\n      btc_usd:\n        Bot:\n",
        "policies/desk.yaml:8:9: group `Bot` has no fields: give it MMP fields, or "
        "`Bot: absent` to remove it",
    ),
    "an account name read as a number": (
        HEADER.replace("  main:", "  123:"),
        "policies/desk.yaml:2:3: an account name `123` is read as a number, not a name: quote "
        "it ('123')",
    ),
    "missing venue": (
        HEADER.replace("    venue: deribit\n", ""),
        f"policies/desk.yaml:2:3: `venue` is required (one of {KNOWN})",
    ),
    "empty venue": (
        HEADER.replace("venue: deribit", "venue:"),
        f"policies/desk.yaml:3:5: venue is empty: write one of {KNOWN}",
    ),
    "missing credentials": (
        HEADER.replace("    credentials: DERIBIT_MAIN\n", ""),
        "policies/desk.yaml:2:3: `credentials` is required: the prefix of the environment "
        "variables that hold this account's keys, e.g. DERIBIT_MAIN",
    ),
    "accounts as a list": (
        "accounts:\n  - main\n",
        "policies/desk.yaml:2:3: `accounts` must map each account's name to its fields "
        "(`venue`, `environment` (or `base_url`), `credentials` and `mmp`), not a list",
    ),
    "unknown top-level key": (
        "acounts:\n",
        "policies/desk.yaml:1:1: unknown key `acounts`; did you mean `accounts`?",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_names_file_line_and_column(in_tmp: Path, case: str) -> None:
    text, expected = CASES[case]
    found = problems_of(in_tmp, text)
    assert expected in found
    for problem in found:  # our words, never pydantic's
        assert "Input should be" not in problem and "validation error" not in problem
        assert "pydantic" not in problem.lower()


def test_every_problem_is_reported_at_once(in_tmp: Path) -> None:
    text = (
        HEADER + "    defaults: {window: 1s, frozen: 5s}\n    mmp:\n"
        "      btc_usd:\n        default: {window: 3, quantity_limit: 1, max_quote_quantity: 1}\n"
        "      eth_usd:\n        default: {window: 1500ms, quantity_limit: 1, "
        "max_quote_quantity: 0.00001}\n"
        "      sol_usdc:\n        default: {quantity_limit: -1, max_quote_quantity: 1}\n"
    )
    found = problems_of(in_tmp, text)
    assert [p.split(": ", 1)[0] for p in found] == [
        "policies/desk.yaml:9:27",
        "policies/desk.yaml:11:27",
        "policies/desk.yaml:11:74",
        "policies/desk.yaml:13:35",
    ]


def test_problems_across_files_are_collected(in_tmp: Path) -> None:
    write_policy(
        in_tmp, scope("window: 3\nfrozen: 1s\nquantity_limit: 5\nmax_quote_quantity: 2"), "a.yaml"
    )
    write_policy(in_tmp, "accounts: [\n", "b.yaml")
    with pytest.raises(ConfigError) as info:
        load(in_tmp)
    files = {p.file for p in info.value.problems}
    assert files == {"policies/a.yaml", "policies/b.yaml"}
    assert str(info.value).startswith("2 problems in policies\n")


def test_duplicate_account_across_files(in_tmp: Path) -> None:
    write_policy(in_tmp, scope(GOOD), "a.yaml")
    write_policy(in_tmp, scope(GOOD, underlying="eth_usd"), "b.yaml")
    with pytest.raises(ConfigError) as info:
        load(in_tmp)
    assert [str(p) for p in info.value.problems] == [
        "policies/b.yaml:2:3: account `main` is already declared at policies/a.yaml:2:3"
    ]


def test_same_venue_account_under_two_names(in_tmp: Path) -> None:
    write_policy(in_tmp, scope(GOOD), "a.yaml")
    write_policy(in_tmp, scope(GOOD).replace("  main:", "  other:"), "b.yaml")
    with pytest.raises(ConfigError) as info:
        load(in_tmp)
    assert [str(p) for p in info.value.problems] == [
        "policies/b.yaml:5:18: account `other` uses the same venue account as `main` "
        "(policies/a.yaml:2:3): the same keys reach the same account of the venue, so two "
        "policies would plan and apply its MMP against each other; one venue account must be "
        "declared once"
    ]


def test_group_bound_to_one_underlying(in_tmp: Path) -> None:
    text = (
        HEADER + "    defaults: {window: 1s, frozen: 5s}\n    mmp:\n"
        "      btc_usd:\n        Bot: {quantity_limit: 1, max_quote_quantity: 1}\n"
        "      eth_usd:\n        Bot: {quantity_limit: 1, max_quote_quantity: 1}\n"
    )
    assert problems_of(in_tmp, text) == [
        "policies/desk.yaml:11:9: group `Bot` is already bound to `btc_usd`; on deribit a "
        "group belongs to one underlying"
    ]


def test_secret_values_never_appear_in_messages(in_tmp: Path) -> None:
    canary = "CANARY-7f3a9c-secret"
    text = (
        HEADER.replace("credentials: DERIBIT_MAIN", f"credentials: {canary}")
        + f"    api_key: {canary}\n    api_key: {canary}\n"
    )
    write_policy(in_tmp, text)
    with pytest.raises(ConfigError) as info:
        load(in_tmp)
    assert canary not in str(info.value)


def test_limits_stay_exact_decimals(in_tmp: Path) -> None:
    write_policy(
        in_tmp,
        scope(
            "window: 1s\nfrozen: manual\nquantity_limit: 0.1\n"
            "delta_limit: 1000\nmax_quote_quantity: 2.50"
        ),
    )
    desired = load(in_tmp)
    config = desired.scopes[ScopeKey("deribit", "main", "btc_usd")].config
    assert config is not None
    assert config.quantity_limit == Decimal("0.1")
    assert str(config.quantity_limit) == "0.1"
    assert config.delta_limit == Decimal(1000)
    assert config.frozen_ms == "manual"


def test_defaults_merge_and_absent(in_tmp: Path) -> None:
    text = (
        HEADER + "    defaults: {window: 2s, frozen: 10s}\n    mmp:\n"
        "      btc_usd:\n        default: {quantity_limit: 1, max_quote_quantity: 1}\n"
        "        Bot: absent\n      eth_usd: absent\n"
    )
    write_policy(in_tmp, text)
    desired = load(in_tmp)
    default = desired.scopes[ScopeKey("deribit", "main", "btc_usd")]
    assert default.config is not None and default.config.window_ms == 2000
    assert desired.scopes[ScopeKey("deribit", "main", "btc_usd", "Bot")].config is None
    assert ("main", "eth_usd") in desired.absent_underlyings


def test_no_policy_files(in_tmp: Path) -> None:
    (in_tmp / "policies").mkdir()
    with pytest.raises(ConfigError, match="no policy files"):
        load(in_tmp)


def test_field_the_venue_does_not_support(in_tmp: Path) -> None:
    """A venue without vega (like Binance) refuses vega_limit, naming venue and field."""
    from dataclasses import replace

    from reconciler.policy.validate import load_desired
    from reconciler.venues import capabilities, connections
    from reconciler.venues.deribit.capabilities import CAPABILITIES

    limits = {k: v for k, v in CAPABILITIES.limits.items() if k != "vega_limit"}
    novega = replace(
        CAPABILITIES,
        venue="novega",
        limits=limits,
        groups=False,
        required_limits=frozenset(),
        at_least_one_of=frozenset(),
    )
    text = (
        HEADER.replace("venue: deribit", "venue: novega")
        + "    mmp:\n      btc_usd: {window: 1s, frozen: 1s, vega_limit: 3}\n"
    )
    write_policy(in_tmp, text)
    with pytest.raises(ConfigError) as info:
        reach = {**connections(), "novega": connections()["deribit"]}
        load_desired(in_tmp / "policies", {**capabilities(), "novega": novega}, reach)
    assert [str(p) for p in info.value.problems] == [
        "policies/desk.yaml:7:41: novega does not support `vega_limit` (it supports: window, "
        "frozen, quantity_limit, delta_limit, max_quote_quantity)"
    ]


# ---- every broken field of every scope, once, at its own place (property) -----------------

VALID = {
    "window": "1s",
    "frozen": "30s",
    "quantity_limit": "5",
    "delta_limit": "2",
    "vega_limit": "3",
    "max_quote_quantity": "2",
}
BROKEN = {  # wrong on every venue: a spelling mmp refuses, or outside every venue's bounds
    "window": ["1 s", "3", "5sec", "2h", "0s", "[1]", "true", "0x10", "'1s '"],
    "frozen": ["0s", "1 s", "forever", "3", "-1s", "{a: 1}", "1.5 m"],
    "limit": ["0x10", "1e3", "1_000", "-1", "0", "'5'", "abc", "1.123456789", "[1]", ".5", "~"],
}
LAYOUTS = {
    # venue: (underlyings, fields every scope has, the group its fields sit under)
    "deribit": (["btc_usd", "eth_usd", "sol_usdc"], list(VALID), "default"),
    "binance": (
        ["BTCUSDT", "ETHUSDT", "BNBUSDT"],
        ["window", "frozen", "quantity_limit", "delta_limit"],
        None,
    ),
}


@st.composite
def broken_desks(draw: st.DrawFn) -> tuple[str, set[tuple[int, int, str]]]:
    """A policy of one account whose scopes each break a random set of fields, in a random
    order; and where each broken value sits (line, column, field)."""
    venue = draw(st.sampled_from(sorted(LAYOUTS)))
    underlyings, names, group = LAYOUTS[venue]
    lines = [
        "accounts:",
        "  main:",
        f"    venue: {venue}",
        "    environment: testnet",
        "    credentials: MAIN",
        "    mmp:",
    ]
    broken: set[tuple[int, int, str]] = set()
    for underlying in draw(st.lists(st.sampled_from(underlyings), min_size=1, unique=True)):
        lines.append(f"      {underlying}:")
        indent = "        "
        if group is not None:
            lines.append(f"        {group}:")
            indent = "          "
        for name in draw(st.permutations(names)):
            kind = name if name in BROKEN else "limit"
            value = VALID[name]
            if draw(st.booleans()):
                value = draw(st.sampled_from(BROKEN[kind]))
                broken.add((len(lines) + 1, len(indent) + len(name) + 3, name))
            lines.append(f"{indent}{name}: {value}")
    return "\n".join(lines) + "\n", broken


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(desk=broken_desks())
def test_every_broken_field_is_reported_once_at_its_own_place(
    in_tmp: Path, desk: tuple[str, set[tuple[int, int, str]]]
) -> None:
    text, broken = desk
    write_policy(in_tmp, text)
    if not broken:
        load(in_tmp)  # nothing broken: it validates
        return
    with pytest.raises(ConfigError) as info:
        load(in_tmp)
    problems = info.value.problems
    assert [(p.line, p.col) for p in problems] == sorted((line, col) for line, col, _ in broken)
    by_place = {(line, col): name for line, col, name in broken}
    for problem in problems:
        assert by_place[(problem.line, problem.col)] in problem.message  # names its field
        assert "Input should be" not in problem.message
        assert "validation error" not in problem.message


def test_broken_fields_of_defaults_are_reported_once_not_per_scope(in_tmp: Path) -> None:
    text = (
        HEADER + "    defaults: {window: 1500ms, frozen: 1 s}\n    mmp:\n"
        "      btc_usd:\n        default: {quantity_limit: 1, max_quote_quantity: 1}\n"
        "      eth_usd:\n        default: {quantity_limit: 1, max_quote_quantity: 1}\n"
    )
    assert problems_of(in_tmp, text) == [
        "policies/desk.yaml:6:24: window 1500ms cannot be expressed on deribit, which takes "
        "window in whole seconds; refusing to round it",
        "policies/desk.yaml:6:40: frozen: duration `1 s` has a space: write 1s",
    ]


def test_every_account_of_every_file_is_checked_in_one_run(in_tmp: Path) -> None:
    """An unknown venue does not hide the other fields' problems, nor other accounts'."""
    write_policy(
        in_tmp,
        "accounts:\n  x:\n    venue: derbit\n    environment: prod\n"
        "    credentials: X_CLIENT_ID\n    mmp:\n      btc_usd:\n"
        "        default: {window: 1 s, quantity_limit: 0x10}\n",
        "a.yaml",
    )
    write_policy(
        in_tmp,
        "accounts:\n  y:\n    venue: binance\n    environment: testnet\n    credentials: Y\n"
        "    mmp:\n      BTCUSDT:\n        default: {window: 1s}\n",
        "b.yaml",
    )
    with pytest.raises(ConfigError) as info:
        load(in_tmp)
    assert [str(p).split(": ", 1)[0] for p in info.value.problems] == [
        "policies/a.yaml:3:12",  # the venue
        "policies/a.yaml:4:18",  # the environment
        "policies/a.yaml:5:18",  # the credentials prefix
        "policies/a.yaml:8:27",  # window: 1 s
        "policies/a.yaml:8:48",  # quantity_limit: 0x10
        "policies/b.yaml:8:9",  # binance has no groups
    ]


@pytest.mark.parametrize(
    "text",
    [
        "accounts:\n",
        "accounts: {}\n",
        "# nothing yet\n",
        HEADER + "    mmp:\n",
        HEADER + "    mmp: {}\n",
        HEADER + "    defaults:\n    mmp:\n",
        HEADER + "    mmp:\n  other:\n    venue: binance\n    environment: testnet\n"
        "    credentials: OTHER\n    mmp:\n",
    ],
    ids=[
        "accounts empty",
        "accounts {}",
        "comments only",
        "mmp empty",
        "mmp {}",
        "defaults and mmp empty",
        "two accounts, mmp empty",
    ],
)
def test_empty_is_allowed_where_adoption_starts(in_tmp: Path, text: str) -> None:
    write_policy(in_tmp, text)
    desired = load(in_tmp)
    assert not desired.scopes
    assert set(desired.accounts) <= {"main", "other"}


def test_the_field_parsers_and_the_schema_models_name_the_same_fields() -> None:
    from reconciler.policy.spec import SCOPE_FIELDS, SCOPE_PARSERS

    assert tuple(SCOPE_PARSERS) == SCOPE_FIELDS


def test_fields_at_the_account_level_are_said_once_not_missing_per_scope(in_tmp: Path) -> None:
    text = (
        "accounts:\n  mm:\n    venue: binance\n    environment: testnet\n    credentials: MM\n"
        "    window: 1s\n    frozen: 1s\n    mmp:\n"
        "      BTCUSDT: {quantity_limit: 1, delta_limit: 1}\n"
        "      ETHUSDT: {quantity_limit: 1, delta_limit: 1}\n"
    )
    assert [p.split(": ", 1)[0] for p in problems_of(in_tmp, text)] == [
        "policies/desk.yaml:6:5",
        "policies/desk.yaml:7:5",
    ]


def test_a_typo_of_a_required_field_is_not_also_reported_missing(in_tmp: Path) -> None:
    assert problems_of(
        in_tmp, scope("wndow: 1s\nfrozen: 30s\nquantity_limit: 5\nmax_quote_quantity: 2")
    ) == ["policies/desk.yaml:9:11: unknown key `wndow`; did you mean `window`?"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("venue", "xK9/live+Secret=="), ("environment", "xK9/live+Secret==")],
)
def test_a_value_that_is_not_a_plain_word_is_not_echoed(
    in_tmp: Path, field: str, value: str
) -> None:
    text = HEADER.replace(f"{field}: ", f"{field}: '{value}' #", 1)
    [problem] = problems_of(in_tmp, text)
    assert value not in problem and f"unknown {field}" in problem

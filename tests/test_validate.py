"""Validate: every problem at once, each as path:line:col: message, and exact decimals."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.errors import ConfigError
from reconciler.model import ScopeKey
from tests.helpers import load, write_policy

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
        "policies/desk.yaml:3:12: unknown venue `derbit` (known: aevo, binance, bullish, deribit); "
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
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_names_file_line_and_column(in_tmp: Path, case: str) -> None:
    text, expected = CASES[case]
    assert expected in problems_of(in_tmp, text)


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
        "(policies/a.yaml:2:3): one venue account must be declared once"
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
            "delta_limit: 1e3\nmax_quote_quantity: 2.50"
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

    from reconciler.validate import load_desired
    from reconciler.venues import capabilities
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
        load_desired(in_tmp / "policies", {**capabilities(), "novega": novega})
    assert [str(p) for p in info.value.problems] == [
        "policies/desk.yaml:7:41: novega does not support `vega_limit` (it supports: window, "
        "frozen, quantity_limit, delta_limit, max_quote_quantity)"
    ]

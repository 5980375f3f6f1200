"""The first hour with mmp, as a new user meets validation (issue 14): each surprise, the
exact message `mmp validate` (or `mmp plan`) now gives, and the fix it names, which then
validates. Every message names file:line:col and the field, never in pydantic's words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from reconciler.cli import main
from reconciler.core.errors import ConfigError
from reconciler.core.model import ScopeKey
from reconciler.core.units import decimal_text
from reconciler.venues import VENUES
from tests.helpers import load, write_policy
from tests.test_fastyaml import PLAIN

KNOWN = ", ".join(sorted(VENUES))  # the registered venues, as errors list them

DERIBIT = """accounts:
  deribit-main:
    venue: deribit
    environment: testnet
    credentials: DERIBIT_MAIN
    mmp:
      btc_usd:
        default:
          window: 1s
          frozen: 30s
          quantity_limit: 20
          max_quote_quantity: 2
"""
BINANCE = """accounts:
  binance-mm:
    venue: binance
    environment: testnet
    credentials: BINANCE_MM
    mmp:
      BTCUSDT:
        window: 1s
        frozen: 30s
        quantity_limit: 2
        delta_limit: 1
"""
ADOPTING = """accounts:
  deribit-main:
    venue: deribit
    environment: testnet
    credentials: DERIBIT_MAIN
    mmp:
  binance-mm:
    venue: binance
    environment: testnet
    credentials: BINANCE_MM
    mmp:
"""
PYDANTIC_WORDS = ("Input should be", "validation error", "pydantic")


@dataclass(frozen=True)
class Surprise:
    name: str
    policy: str  # what the new user wrote
    messages: list[str]  # every problem, in order, exactly
    fixed: str  # the policy once the messages were followed


def edit(text: str, *changes: tuple[str, str]) -> str:
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    return text


SURPRISES = [
    Surprise(
        "a Deribit scope broken four ways is reported four times, in one run",
        edit(
            DERIBIT,
            ("window: 1s", "frozen: 0s"),
            ("frozen: 30s", "window: 1500ms"),
            ("quantity_limit: 20", "quantity_limit: 20.123456"),
            ("max_quote_quantity: 2", "max_quote_quantity: -1"),
        ),
        [
            "policies/desk.yaml:9:19: frozen: a freeze of 0 is ambiguous: write `frozen: manual` "
            "for no automatic unfreeze",
            "policies/desk.yaml:10:19: window 1500ms cannot be expressed on deribit, which takes "
            "window in whole seconds; refusing to round it",
            "policies/desk.yaml:11:27: quantity_limit 20.123456 has 6 decimal places; deribit "
            "keeps at most 4, and we never round a limit",
            "policies/desk.yaml:12:31: max_quote_quantity must be greater than 0 on deribit "
            "(got -1)",
        ],
        edit(
            DERIBIT,
            ("window: 1s", "frozen: manual"),
            ("frozen: 30s", "window: 2s"),
            ("quantity_limit: 20", "quantity_limit: 20.1234"),
            ("max_quote_quantity: 2", "max_quote_quantity: 1"),
        ),
    ),
    Surprise(
        "a typo in the venue does not hide a typo in the environment",
        edit(DERIBIT, ("venue: deribit", "venue: derbit"), ("testnet", "prod")),
        [
            f"policies/desk.yaml:3:12: unknown venue `derbit` (known: {KNOWN}); "
            "did you mean `deribit`?",
            "policies/desk.yaml:4:18: unknown environment `prod`: write 'production' or "
            "'testnet'; did you mean `production`?",
        ],
        edit(DERIBIT, ("testnet", "production")),
    ),
    Surprise(
        "a hexadecimal limit is not read as 16",
        edit(DERIBIT, ("quantity_limit: 20", "quantity_limit: 0x10")),
        [
            "policies/desk.yaml:11:27: quantity_limit: `0x10` is in hexadecimal notation; "
            "limits take plain decimal notation only: write 16"
        ],
        edit(DERIBIT, ("quantity_limit: 20", "quantity_limit: 16")),
    ),
    Surprise(
        "a limit in exponent notation",
        edit(DERIBIT, ("quantity_limit: 20", "quantity_limit: 1e3")),
        [
            "policies/desk.yaml:11:27: quantity_limit: `1e3` is in exponent notation; limits "
            "take plain decimal notation only: write 1000"
        ],
        edit(DERIBIT, ("quantity_limit: 20", "quantity_limit: 1000")),
    ),
    Surprise(
        "a limit with digit separators",
        edit(DERIBIT, ("quantity_limit: 20", "quantity_limit: 1_000")),
        [
            "policies/desk.yaml:11:27: quantity_limit: `1_000` is written with `_` between "
            "digits; limits take plain decimal notation only: write 1000"
        ],
        edit(DERIBIT, ("quantity_limit: 20", "quantity_limit: 1000")),
    ),
    Surprise(
        "a duration with a space",
        edit(DERIBIT, ("window: 1s", "window: 1 s")),
        ["policies/desk.yaml:9:19: window: duration `1 s` has a space: write 1s"],
        DERIBIT,
    ),
    Surprise(
        "credentials: names a variable instead of the prefix",
        edit(DERIBIT, ("DERIBIT_MAIN", "DERIBIT_X_CLIENT_ID")),
        [
            "policies/desk.yaml:5:18: credentials: `DERIBIT_X_CLIENT_ID` names one variable, "
            "but `credentials:` is the prefix of the account's variables: write `DERIBIT_X` "
            "(mmp then reads DERIBIT_X_CLIENT_ID and DERIBIT_X_CLIENT_SECRET)"
        ],
        edit(DERIBIT, ("DERIBIT_MAIN", "DERIBIT_X")),
    ),
    Surprise(
        "a Deribit-style `default:` group on Binance",
        BINANCE.replace("\n        ", "\n          ").replace(
            "BTCUSDT:\n", "BTCUSDT:\n        default:\n"
        ),
        [
            "policies/desk.yaml:8:9: binance has no groups, so `default` cannot be one: put "
            "the MMP fields straight under `BTCUSDT:`"
        ],
        BINANCE,
    ),
    Surprise(
        "after an empty `mmp:`, the next account is judged on its own lines",
        ADOPTING.replace("venue: binance", "venue: binanse"),
        [
            f"policies/desk.yaml:8:12: unknown venue `binanse` (known: {KNOWN}); "
            "did you mean `binance`?"
        ],
        ADOPTING,
    ),
]


def validate(in_tmp: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    write_policy(in_tmp, text)
    code = main(["validate"])
    captured = capsys.readouterr()
    return code, captured.err + captured.out


@pytest.mark.parametrize("surprise", SURPRISES, ids=[s.name for s in SURPRISES])
def test_the_mistake_the_message_and_the_fix(
    surprise: Surprise, in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = validate(in_tmp, surprise.policy, capsys)
    assert code == 1, output
    count = len(surprise.messages)
    head = f"error: {count} problem{'s' if count != 1 else ''} in policies"
    assert output.splitlines() == [head, *surprise.messages]
    assert not any(words in output for words in PYDANTIC_WORDS)
    code, output = validate(in_tmp, surprise.fixed, capsys)
    assert code == 0, output


@pytest.mark.parametrize(
    ("text", "accounts"),
    [
        (ADOPTING, 2),  # `mmp:` empty, twice
        (ADOPTING.replace("mmp:\n", "mmp: {}\n"), 2),
        ("accounts:\n", 0),  # the file started, no account yet
        ("accounts: {}\n", 0),
    ],
    ids=["mmp empty", "mmp {}", "accounts empty", "accounts {}"],
)
def test_adoption_step_one_declares_accounts_with_an_empty_mmp(
    text: str, accounts: int, in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = validate(in_tmp, text, capsys)
    assert code == 0, output
    assert f"valid; {accounts} account(s), 0 scope(s), 0 marked absent" in output


def test_a_plan_of_a_folder_without_accounts_says_how_to_declare_one(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_policy(in_tmp, "accounts:\n")
    assert main(["plan"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "error: the policies declare no account yet: declare one under `accounts:` in a "
        "policy file, with its `venue`, `environment` and `credentials` (the prefix of its "
        "environment variables) and an empty `mmp:` to start; then run mmp validate\n"
    )
    assert "--account" not in err and "--venue" not in err  # none were given


def test_a_filter_that_matches_nothing_names_the_filter_given(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_policy(in_tmp, DERIBIT)
    assert main(["plan", "--venue", "binance"]) == 1
    err = capsys.readouterr().err
    assert err == "error: no account in the policies matches --venue binance\n"


SPELLINGS: dict[
    str, Callable[[Decimal], str | None]
] = {  # how else YAML lets a number be written, for a value that allows it
    "hexadecimal": lambda v: hex(int(v)) if v == v.to_integral_value() else None,
    "octal": lambda v: f"0o{int(v):o}" if v == v.to_integral_value() else None,
    "binary": lambda v: bin(int(v)) if v == v.to_integral_value() else None,
    "exponent": lambda v: f"{v.scaleb(-2)}e2",
    "separators": lambda v: _separated(decimal_text(v)),
    "plus sign": lambda v: f"+{decimal_text(v)}",
    "leading zeros": lambda v: f"00{decimal_text(v)}",
    "bare point": lambda v: (
        decimal_text(v).removeprefix("0")
        if v < 1
        else f"{decimal_text(v)}."
        if v == v.to_integral_value()
        else None
    ),
}


def _separated(text: str) -> str | None:
    whole, _, fraction = text.partition(".")
    if len(whole) < 2:
        return None
    return f"{whole[0]}_{whole[1:]}" + (f".{fraction}" if fraction else "")


@st.composite
def spelled_limits(draw: st.DrawFn) -> tuple[str, Decimal]:
    """A valid Deribit limit (positive, at most 4 decimal places) spelled another way."""
    value = draw(st.decimals(min_value=Decimal("0.0001"), max_value=10**6, places=4))
    name = draw(st.sampled_from(sorted(SPELLINGS)))
    text = SPELLINGS[name](value)
    assume(text is not None and not PLAIN.fullmatch(text))
    return str(text), value


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spelled=spelled_limits())
def test_the_fix_for_a_limit_spelling_is_the_same_number_in_plain_notation(
    in_tmp: Path, spelled: tuple[str, Decimal]
) -> None:
    """Whatever the spelling, the message's `write X` is the same number in plain decimal
    notation; written as the message says, it validates to exactly that number."""
    text, value = spelled
    write_policy(in_tmp, edit(DERIBIT, ("quantity_limit: 20", f"quantity_limit: {text}")))
    with pytest.raises(ConfigError) as info:
        load(in_tmp)
    [problem] = info.value.problems
    assert (problem.line, problem.col) == (11, 27)
    assert problem.message.startswith(f"quantity_limit: `{text}` is "), problem.message
    match = re.search(r"plain decimal notation only: write (\S+)$", problem.message)
    assert match is not None, problem.message
    plain = match.group(1)
    assert PLAIN.fullmatch(plain) and Decimal(plain) == value, problem.message
    write_policy(in_tmp, edit(DERIBIT, ("quantity_limit: 20", f"quantity_limit: {plain}")))
    config = load(in_tmp).scopes[ScopeKey("deribit", "deribit-main", "btc_usd")].config
    assert config is not None and config.quantity_limit == value

"""The mistakes people make most, each answered with a message that names the fix.

Venue-side mistakes run against the simulators served on loopback, with credentials from
the environment as in production; the rest need no network at all.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.simulators.common import Clock
from reconciler.simulators.server import serve
from reconciler.venues.binance.simulator import BinanceSimulator
from reconciler.venues.deribit.simulator import DeribitSimulator

DERIBIT = """accounts:
  main:
    venue: deribit
    base_url: {deribit}
    credentials: DERIBIT_MAIN
    defaults: {{window: 1s, frozen: 30s}}
    mmp:
      btc_usd:
        default: {{quantity_limit: 5, max_quote_quantity: 2}}
"""
BINANCE = """accounts:
  options:
    venue: binance
    base_url: {binance}
    credentials: BN
    mmp:
      BTCUSDT: {{window: 1s, frozen: 30s, quantity_limit: 2, delta_limit: 1}}
"""
GOOD = {"DERIBIT_MAIN_CLIENT_ID": "desk-id", "DERIBIT_MAIN_CLIENT_SECRET": "desk-secret-1"}


@dataclass(frozen=True)
class Mistake:
    name: str
    policy: str
    args: list[str]
    fix: list[str]  # what the message must say
    env: dict[str, str] = field(default_factory=dict)
    edit: tuple[str, str] = ("", "")


MISTAKES = [
    Mistake(
        "credentials not exported",
        DERIBIT,
        ["plan"],
        ["set these environment variables", "DERIBIT_MAIN_CLIENT_ID", "DERIBIT_MAIN_CLIENT_SECRET"],
    ),
    Mistake(
        "a key that expired or was revoked",
        DERIBIT,
        ["plan"],
        ["create a new key on the venue and update those variables", "DERIBIT_MAIN_CLIENT_SECRET"],
        env={**GOOD, "DERIBIT_MAIN_CLIENT_SECRET": "revoked-key-secret"},
    ),
    Mistake(
        "an account Deribit has not enabled for MMP",
        DERIBIT,
        ["plan"],
        [
            "MMP is not enabled for this account",
            "ask Deribit support to enable MMP for the account",
        ],
        env={"DERIBIT_MAIN_CLIENT_ID": "no-mmp", "DERIBIT_MAIN_CLIENT_SECRET": "no-mmp-secret"},
    ),
    Mistake(
        "an account Binance has not approved as a market maker",
        BINANCE,
        ["plan"],
        ["approved as an options market maker"],
        env={"BN_API_KEY": "no-mm-key", "BN_API_SECRET": "no-mm-secret"},
    ),
    Mistake(
        "this machine's clock is off",
        BINANCE,
        ["plan"],
        ["-1021", "check this machine's clock (NTP)"],
        env={"BN_API_KEY": "skewed-key", "BN_API_SECRET": "skewed-secret"},
    ),
    Mistake(
        "an environment that does not exist",
        DERIBIT,
        ["validate"],
        ["'production' or 'testnet'"],
        edit=("base_url: {deribit}", "environment: mainnet"),
    ),
    Mistake(
        "a typo in an underlying",
        DERIBIT,
        ["validate"],
        ["`btc_usdd` is not a deribit underlying; did you mean `btc_usd`?"],
        edit=("btc_usd:", "btc_usdd:"),
    ),
    Mistake(
        "another venue's name for an underlying",
        DERIBIT,
        ["validate"],
        ["`BTC` is not a deribit underlying; did you mean `btc_usd`?"],
        edit=("btc_usd:", "BTC:"),
    ),
    Mistake(
        "a typo in a field",
        DERIBIT,
        ["validate"],
        ["unknown key `quantity_limt`; did you mean `quantity_limit`?"],
        edit=("quantity_limit", "quantity_limt"),
    ),
    Mistake(
        "a duration without its unit",
        DERIBIT,
        ["validate"],
        ["write 1s or 1ms"],
        edit=("window: 1s", "window: 1"),
    ),
    Mistake(
        "fields straight under a Deribit underlying",
        DERIBIT,
        ["validate"],
        ["put these fields under `default:`"],
        edit=("default: {{quantity_limit", "{{quantity_limit"),
    ),
    Mistake(
        "a typo in the venue",
        DERIBIT,
        ["validate"],
        ["did you mean `deribit`?"],
        edit=("venue: deribit", "venue: derebit"),
    ),
    Mistake(
        "running from the wrong folder",
        DERIBIT,
        ["plan", "--policies", "polices"],
        ["run mmp from the root of your policy repository, or pass --policies DIR"],
    ),
    Mistake(
        "apply in a script without approval",
        DERIBIT,
        ["apply"],
        ["pass --auto-approve to apply without a prompt"],
        env=GOOD,
    ),
]


@pytest.fixture(scope="module")
def venues() -> Iterator[dict[str, str]]:
    deribit = DeribitSimulator()
    deribit.add_account("desk-id", "desk-secret-1")
    deribit.add_account("no-mmp", "no-mmp-secret", mmp_enabled=False)
    binance = BinanceSimulator()
    binance.add_account("no-mm-key", "no-mm-secret", market_maker=False)
    skewed = BinanceSimulator(clock=Clock(fixed_ms=time.time_ns() // 1_000_000 - 3_600_000))
    skewed.add_account("skewed-key", "skewed-secret")
    with serve(deribit) as d_url, serve(binance) as b_url, serve(skewed) as s_url:
        yield {"deribit": d_url, "binance": b_url, "skewed": s_url}


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.name for m in MISTAKES])
def test_the_message_names_the_fix(
    mistake: Mistake,
    venues: dict[str, str],
    in_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    binance = venues["skewed"] if "skewed" in str(mistake.env) else venues["binance"]
    old, new = mistake.edit
    text = mistake.policy.replace(old, new) if old else mistake.policy
    (in_tmp / "policies").mkdir()
    (in_tmp / "policies" / "desk.yaml").write_text(
        text.format(deribit=venues["deribit"], binance=binance)
    )
    for name in (
        "DERIBIT_MAIN_CLIENT_ID",
        "DERIBIT_MAIN_CLIENT_SECRET",
        "BN_API_KEY",
        "BN_API_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in mistake.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(mistake.args) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    for words in mistake.fix:
        assert words in err, err
    for secret in mistake.env.values():
        assert secret not in err or secret.endswith(("-id", "-key"))


def test_an_expired_saved_plan_says_to_plan_again(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "policies").mkdir()
    (in_tmp / "policies" / "desk.yaml").write_text(DERIBIT.format(deribit="http://127.0.0.1:9"))
    from reconciler.planning import planfile
    from reconciler.planning.plan import Plan
    from reconciler.planning.provenance import Provenance
    from reconciler.policy import guards
    from reconciler.policy.validate import load_desired
    from reconciler.venues import capabilities

    desired = load_desired(in_tmp / "policies", capabilities())
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    planfile.save(
        in_tmp / "old.json",
        Plan((), "sha256:x"),
        desired,
        [],
        guards.record(in_tmp / "policies"),
        Provenance.of(in_tmp / "policies"),
        now=long_ago,
    )
    assert main(["apply", "old.json", "--auto-approve"]) == 1
    assert "the plan expired at" in capsys.readouterr().err


def test_a_refusal_of_something_else_than_the_keys_never_says_replace_them() -> None:
    """A session refused after a fresh log-in with the keys (Bullish) is not a bad key."""
    from reconciler.commands.run import _explained
    from reconciler.core.errors import VenueAuthError
    from reconciler.policy.desired import AccountTarget, Location

    target = AccountTarget("bx", "bullish", "production", None, "BX", Location("p.yaml", 1, 1))
    refused = VenueAuthError("bullish/bx", "refused", hint="the keys are right")
    assert "create a new key" in str(_explained(refused, [target]))
    refused.keys_refused = False
    assert str(_explained(refused, [target])) == str(refused)

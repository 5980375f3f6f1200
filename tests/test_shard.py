"""Shards split a desk by whole accounts: together they plan exactly what one run plans,
removals included, and no shard plans (or removes) a scope another shard owns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.core.errors import ReconcilerError
from reconciler.planning.shard import parse_shard
from reconciler.venues import VENUES as REGISTERED

ROOT = Path(__file__).resolve().parent.parent
VENUES = frozenset(REGISTERED)


@pytest.fixture
def desk(in_tmp: Path) -> Path:
    policies = in_tmp / "policies"
    policies.mkdir()
    text = (ROOT / "policies" / "desk-alpha.yaml").read_text()
    # one removal, so the split must carry it to the shard that owns deribit-hedge (one of
    # deribit-main would be held: a set may end the freeze of its MassQuoteBot7)
    hedge = "      btc_usd:\n        default:\n          quantity_limit: 12.5\n"
    hedge += (
        "          delta_limit: 4.25\n          vega_limit: 3000\n          max_quote_quantity: 5\n"
    )
    assert text.count(hedge) == 1
    text = text.replace(hedge, "      btc_usd: absent\n")
    (policies / "desk-alpha.yaml").write_text(text)
    return in_tmp


def _plan(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    assert main(["plan", "--sandbox", "--format", "json", *extra]) == 0
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, dict)
    return data


def _steps(plan: dict[str, object]) -> set[tuple[str, str]]:
    steps = plan["steps"]
    assert isinstance(steps, list)
    return {(s["scope"], s["action"]) for s in steps}


@pytest.mark.parametrize(
    "split",
    [[f"{k}/{n}" for k in range(1, n + 1)] for n in (1, 2, 3, 5)]
    + [[f"venue={v}" for v in sorted(VENUES)]],
)
def test_shards_together_are_exactly_the_whole_plan(
    desk: Path, capsys: pytest.CaptureFixture[str], split: list[str]
) -> None:
    whole = _plan(capsys)
    assert ("deribit/deribit-hedge/btc_usd", "remove") in _steps(whole)
    seen: set[tuple[str, str]] = set()
    owners: dict[str, str] = {}
    for shard in split:
        part = _plan(capsys, "--shard", shard)
        assert part["filters"] == {"shard": [shard]}
        accounts = part["accounts"]
        assert isinstance(accounts, list)
        for account in accounts:
            assert account not in owners, f"{account} in {owners.get(account)} and {shard}"
            owners[account] = shard
        steps = _steps(part)
        assert not steps & seen
        seen |= steps
    assert seen == _steps(whole)
    assert sorted(owners) == whole["accounts"]


def test_a_shard_spec_is_checked() -> None:
    assert parse_shard("2/4", VENUES).owns("x", "deribit") in (True, False)
    for bad, why in [
        ("0/4", "1 <= K <= N"),
        ("5/4", "1 <= K <= N"),
        ("venue=ftx", "no venue"),
        ("half", "K/N"),
    ]:
        with pytest.raises(ReconcilerError, match=why):
            parse_shard(bad, VENUES)


def test_shard_ownership_is_stable_when_accounts_are_added() -> None:
    names = [f"acct-{n}" for n in range(200)]
    shards = [parse_shard(f"{k}/4", VENUES) for k in range(1, 5)]
    owners = {n: [s.spec for s in shards if s.owns(n, "deribit")] for n in names}
    assert all(len(o) == 1 for o in owners.values())
    counts = [sum(1 for o in owners.values() if o == [s.spec]) for s in shards]
    assert min(counts) > 25  # roughly even

"""Deribit Block RFQ MMP on the sandbox desk, walked as a user would (red team 17).

Item 4: its space is read on every account, so a live Block RFQ config or freeze on an
account whose policies declare none is reported as any unmanaged scope is, by status, plan
and import. A key that may not read it (13021, 13403) is a note on such an account, never
an error that stops the run; on an account that declares Block RFQ it stays the error it is.
Item 7: --underlying selects a Block RFQ scope by its whole name, and suggests it for its
index alone."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.sandbox_cli import mmp, seeded, venue_account

HEDGE = "deribit/deribit-hedge"  # the sandbox's Deribit account without a block_rfq section
RFQ = f"{HEDGE}/block_rfq:btc_usd"
UNREADABLE = f"{HEDGE}: Block RFQ not readable with this key: the key lacks the block_rfq:read"


@pytest.fixture
def desk(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    return seeded(in_tmp, capsys)


def edit_hedge(*, config: bool = False, scope: bool = True, account: str = "deribit-hedge") -> None:
    """On the venue: a frozen Block RFQ config on btc_usd (`config`), and whether the
    account's key has the block_rfq scope."""
    with venue_account("deribit", account) as (sim, key):
        params = {"index_name": "btc_usd", "interval": 5, "frozen_time": 0, "block_rfq": True}
        if config:
            sim.seed(key, {**params, "quantity_limit": Decimal(100), "max_quote_quantity": 50})
            sim.trigger(key, "btc_usd", block_rfq=True)
        sim.accounts[key].block_rfq_scope = scope


def test_a_live_block_rfq_scope_of_an_undeclaring_account_is_reported(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before, status exited as if nothing were frozen there, plan and import said nothing."""
    edit_hedge(config=True)
    code, out, _ = mmp(capsys, "status", "--account", "deribit-hedge")
    row = f"{RFQ}  no           yes               yes, until manual reset"
    assert row in out, out
    assert f"  {RFQ}: only a reset ends it: `mmp unfreeze {RFQ} --reason TEXT`" in out
    assert code == 4  # its eth_usd is declared and unprotected in the sandbox desk
    code, out, _ = mmp(capsys, "plan", "--account", "deribit-hedge")
    assert f"unmanaged {RFQ}" in out, out
    _, out, err = mmp(capsys, "import", "--dry-run", "--account", "deribit-hedge")
    assert "+    block_rfq:\n+      btc_usd:\n+        window: 5s\n+        frozen: manual" in out
    assert "would add 1 live scope(s)" in err


def test_a_key_that_may_not_read_it_is_a_note_where_none_is_declared(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_hedge(scope=False)
    code, out, _ = mmp(capsys, "status", "--account", "deribit-hedge")
    assert UNREADABLE in out and "could not read" not in out, out
    assert out.rstrip().endswith(
        "Not counted above: 1 part(s) of the accounts could not be read (the note(s) above "
        "say which and why); what they hold is not known."
    ), out
    assert code == 4  # as before: the unprotected eth_usd, not an unread account (1)
    code, out, _ = mmp(capsys, "plan", "--account", "deribit-hedge", "--detailed-exitcode")
    assert f"Note: {UNREADABLE}" in out and code == 2, out  # a plan, with its note
    code, _, err = mmp(capsys, "import", "--dry-run", "--account", "deribit-hedge")
    assert code == 0 and UNREADABLE in err, err  # import says what it could not see too


def test_a_key_that_may_not_read_it_stays_an_error_where_it_is_declared(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_hedge(scope=False, account="deribit-main")  # deribit-main has a block_rfq section
    code, out, _ = mmp(capsys, "status", "--account", "deribit-main")
    assert code == 1 and "could not read deribit/deribit-main:" in out, out
    assert "lacks the block_rfq scope" in out and "not readable with this key" not in out
    code, _, err = mmp(capsys, "plan", "--account", "deribit-main")
    assert code == 1 and "lacks the block_rfq scope" in err, err


def test_underlying_all_suggests_block_rfq_all_which_selects_it(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before, `--underlying all` said only 'nothing declared'."""
    code, out, err = mmp(capsys, "plan", "--underlying", "all")
    assert code == 0 and "nothing declared" in out
    assert (
        "--underlying all: the policies name no such underlying for the selected accounts; "
        "did you mean `block_rfq:all`?"
    ) in err, err
    code, out, err = mmp(capsys, "plan", "--underlying", "block_rfq:all", "--detailed-exitcode")
    # selected; held: its set may end the freeze of the account's frozen MassQuoteBot7
    assert code == 0 and "! held      deribit/deribit-main/block_rfq:all" in out, out
    assert "Plan: no changes; 1 held." in out and "did you mean" not in err

"""A declared scope with no MMP config live is unprotected: derived from the plan's steps and
said first in every plan output (text, JSON, Markdown), a frozen one (held create) included."""

from __future__ import annotations

import json
from decimal import Decimal

from reconciler.core.model import FreezeState, LiveScope, MmpConfig, ScopeKey
from reconciler.planning.plan import Action, Plan
from reconciler.planning.planner import Filters
from reconciler.planning.render import RENDERERS
from reconciler.planning.render.markdown import COMMENT_LIMIT, MARKER, document
from tests.test_planner import A, B, key, plan_for

FROZEN = FreezeState(True)  # until manual reset
WARNING = "UNPROTECTED: {n} declared scope(s) have no MMP config live: {names}"


def _first_flag(markdown: str) -> str:
    return next(line for line in markdown.splitlines() if line.startswith("- **"))


def cold(underlying: str) -> ScopeKey:
    """A scope of an account of its own: on Deribit a frozen scope holds every write of its
    account (a set may end its freeze), so the frozen ones are kept apart."""
    return key(underlying, account="cold")


def test_creates_and_held_creates_are_unprotected_in_plan_order() -> None:
    plan = plan_for(
        {cold("btc_usd"): A, key("eth_usd"): A, cold("sol_usdc"): A, key("ada_usdc"): A}
        | {key("xrp"): None},
        [
            LiveScope(cold("btc_usd"), None, FROZEN),  # frozen, no config: a held create
            LiveScope(cold("sol_usdc"), B, FROZEN),  # frozen, a config: held, not unprotected
            LiveScope(key("ada_usdc"), B),  # an update
            LiveScope(key("xrp"), A),  # a removal: not declared with a config
        ],
    )
    assert [s.action for s in plan.unprotected] == [Action.CREATE, Action.HELD]
    assert [str(s.key) for s in plan.unprotected] == [
        "deribit/main/eth_usd",
        "deribit/cold/btc_usd",
    ]
    assert plan.to_data()["unprotected"] == ["deribit/main/eth_usd", "deribit/cold/btc_usd"]
    assert [str(s.key) for s in plan.pending] == ["deribit/cold/btc_usd", "deribit/cold/sol_usdc"]


def test_a_create_held_for_a_frozen_scope_of_its_account_is_unprotected_too() -> None:
    plan = plan_for({key(): A, key("eth_usd"): A}, [LiveScope(key("eth_usd"), B, FROZEN)])
    assert [(str(s.key), s.held_action) for s in plan.unprotected] == [
        ("deribit/main/btc_usd", Action.CREATE)
    ]
    flag = _first_flag(document(plan))
    assert "(1 held: created only once the freeze their write may end is over)" in flag


def test_a_filtered_plan_reports_only_the_scopes_it_planned() -> None:
    plan = plan_for({key(): A, key("eth_usd"): A}, [], Filters(underlyings=frozenset({"eth_usd"})))
    assert [str(s.key) for s in plan.unprotected] == ["deribit/main/eth_usd"]


def test_a_saved_plan_without_the_field_loads_and_derives_it() -> None:
    plan = plan_for({key(): A}, [])
    data = plan.to_data()
    assert data["schema_version"] == 1
    del data["unprotected"]  # as saved before the field existed
    loaded = Plan.from_data(json.loads(json.dumps(data, default=str)))
    assert [str(s.key) for s in loaded.unprotected] == ["deribit/main/btc_usd"]
    assert loaded.to_data()["unprotected"] == ["deribit/main/btc_usd"]


def test_text_opens_with_the_unprotected_line() -> None:
    plan = plan_for({key(): A, key("eth_usd"): A}, [LiveScope(key("eth_usd"), B)])
    lines = RENDERERS["text"](plan, False).splitlines()
    assert lines[0] == WARNING.format(n=1, names="deribit/main/btc_usd")
    assert lines[1].startswith("Live state read from 1 account(s)")
    painted = RENDERERS["text"](plan, True).splitlines()[0]
    assert painted == f"\x1b[1;31m{lines[0]}\x1b[0m"


def test_text_names_ten_then_says_how_many_more() -> None:
    plan = plan_for({key(f"u{n:02d}"): A for n in range(13)}, [])
    first = RENDERERS["text"](plan, False).splitlines()[0]
    names = ", ".join(f"deribit/main/u{n:02d}" for n in range(10))
    assert first == WARNING.format(n=13, names=names) + " and 3 more"


def test_nothing_unprotected_leaves_the_outputs_as_they_were() -> None:
    plan = plan_for({key(): A}, [LiveScope(key(), B)])
    assert RENDERERS["text"](plan, False).startswith("Live state read from")
    assert json.loads(RENDERERS["json"](plan, False))["unprotected"] == []
    assert "Unprotected" not in document(plan)


def test_json_opens_with_the_unprotected_scopes() -> None:
    plan = plan_for({key(): A, cold("eth_usd"): A}, [LiveScope(cold("eth_usd"), None, FROZEN)])
    text = RENDERERS["json"](plan, False)
    lines = text.splitlines()
    assert lines[:2] == [
        "{",
        '  "unprotected": ["deribit/main/btc_usd", "deribit/cold/eth_usd"],',
    ]
    data = json.loads(text)
    assert list(data)[1:] == sorted(list(data)[1:])  # the rest in sorted order, as before
    assert data["has_changes"] is True


def test_markdown_first_risk_flag_is_unprotected() -> None:
    plan = plan_for(
        {key(): A, key("eth_usd"): A},
        [LiveScope(key("eth_usd"), MmpConfig(1000, 30_000, quantity_limit=Decimal(9)))],
    )
    flag = _first_flag(document(plan))
    assert flag == (
        "- **Unprotected**: 1 scope(s) are declared and have no MMP config live: "
        "`deribit/main/btc_usd`"
    )


def test_a_held_create_alone_is_not_no_changes() -> None:
    """Nothing can be written (the scope is frozen), yet it has no MMP: never a quiet 'no
    changes' one-liner, in any format."""
    plan = plan_for({key(): A}, [LiveScope(key(), None, FROZEN)])
    assert not plan.has_changes and [s.action for s in plan.steps] == [Action.HELD]
    assert plan.summary() == "Plan: nothing to apply, 1 UNPROTECTED; 1 held."
    body = document(plan, limit=COMMENT_LIMIT)
    assert body.startswith(f"{MARKER}\n### MMP plan: nothing to apply, 1 UNPROTECTED; 1 held.")
    assert "no changes" not in body
    assert _first_flag(body) == (
        "- **Unprotected**: 1 scope(s) are declared and have no MMP config live "
        "(1 frozen: created only once unfrozen): `deribit/main/btc_usd`"
    )
    text = RENDERERS["text"](plan, False)
    assert text.splitlines()[0] == WARNING.format(n=1, names="deribit/main/btc_usd")
    assert text.splitlines()[-1] == "Plan: nothing to apply, 1 UNPROTECTED; 1 held."
    data = json.loads(RENDERERS["json"](plan, False))
    assert data["unprotected"] == ["deribit/main/btc_usd"] and data["has_changes"] is False


def test_a_held_update_alone_stays_one_line() -> None:
    plan = plan_for({key(): A}, [LiveScope(key(), B, FROZEN)])
    assert document(plan) == f"{MARKER}**MMP plan: no changes**; 1 held.\n"

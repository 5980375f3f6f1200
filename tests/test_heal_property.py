"""The heal property: for random desired and live states (three venues, one that replaces,
one that tells freezes only by a trigger time; every freeze state; scopes declared, absent
or unmanaged; random guardrails, narrowing and configs an unfinished run took away), what
`mmp heal` writes (the plan it hands the executor) is only creates and tightenings of
declared scopes to their declared config, never a held or possibly frozen scope, never a
removal, never a loosened field (against the live config, or against the config a create
restores), never past a guardrail; and every drifting scope is either healed or left, with
a reason, never both and never neither."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.core.model import FreezeState, LiveAccount, LiveScope, MmpConfig, ScopeKey
from reconciler.core.units import MANUAL
from reconciler.planning.heal import select
from reconciler.planning.plan import WRITES, Action, Direction
from reconciler.planning.planner import field_changes, make_plan
from reconciler.policy import guards
from reconciler.policy.desired import AccountTarget, DesiredScope, DesiredState, Location

HERE = Location("p.yaml", 1, 1)
NOW = 1_800_000_000_000
VENUES = ("deribit", "bullish", "binance")  # upsert; reset-then-set; freeze by trigger time
UNDERLYINGS = ("u1", "u2", "u3")
LIMITS = st.one_of(st.none(), st.sampled_from([Decimal(0), Decimal("0.5"), Decimal(2), Decimal(9)]))
CONFIGS = st.builds(
    MmpConfig,
    window_ms=st.sampled_from([500, 1000, 3000]),
    frozen_ms=st.sampled_from([5_000, 30_000, 600_000, MANUAL]),
    quantity_limit=LIMITS,
    delta_limit=LIMITS,
)
FREEZES = st.sampled_from(
    [
        *[FreezeState(False)] * 6,
        FreezeState(True),
        FreezeState(True, NOW + 60_000),
        FreezeState(False, last_trigger_ms=NOW - 20_000),  # a past trigger: may freeze again
        FreezeState.unknown_because("the venue cannot tell"),
        FreezeState.unknown_because("manual freeze", last_trigger_ms=NOW - 1_000),
    ]
)
Scope = tuple[object, MmpConfig | None, FreezeState, MmpConfig | None]


@st.composite
def _near(draw: st.DrawFn, config: MmpConfig) -> MmpConfig:
    """The config with one or two fields changed: drift a person or a run might leave."""
    other = draw(CONFIGS)
    names = draw(st.lists(st.sampled_from(ATTRIBUTES), min_size=1, max_size=2, unique=True))
    return config.with_changes(**{name: getattr(other, name) for name in names})


@st.composite
def _scope(draw: st.DrawFn) -> Scope:
    """(desired: a config, `absent` or `undeclared`; live config; live freeze; the config
    an unfinished run took away, where none is live)."""
    want = draw(st.one_of(st.sampled_from(["undeclared", "absent"]), CONFIGS, CONFIGS, CONFIGS))
    have = draw(st.one_of(st.none(), CONFIGS))
    if isinstance(want, MmpConfig) and draw(st.booleans()):
        have = draw(_near(want))
    return want, have, draw(FREEZES), draw(st.one_of(st.none(), st.none(), CONFIGS))


ATTRIBUTES = ("window_ms", "frozen_ms", "quantity_limit", "delta_limit")
RULES = st.fixed_dictionaries(
    {
        "heal": st.fixed_dictionaries(
            {
                "enabled": st.just(True),
                "venues": st.one_of(
                    st.just([]), st.lists(st.sampled_from(VENUES), unique=True, max_size=2)
                ),
            }
        ),
        "fields": st.sampled_from(
            [{}, {}, {"quantity_limit": {"max": 5}}, {"window": {"min": "1s"}}]
        ),
        "coverage": st.sampled_from([{}, {}, {}, {"deribit": ["u1"]}]),
        "loosening": st.fixed_dictionaries({"shorter_freeze": st.booleans()}),
    }
)


def _desk(
    scopes: dict[ScopeKey, Scope],
) -> tuple[DesiredState, list[LiveAccount], dict[ScopeKey, MmpConfig]]:
    desired = DesiredState()
    live: dict[str, list[LiveScope]] = {}
    had = {}
    for venue in VENUES:
        name = f"a-{venue}"
        desired.accounts[name] = AccountTarget(name, venue, "production", None, "X", HERE)
    for key, (want, have, freeze, before) in scopes.items():
        if want != "undeclared":
            config = None if want == "absent" else want
            assert config is None or isinstance(config, MmpConfig)
            desired.scopes[key] = DesiredScope(key, config, HERE)
        if have is not None or freeze.may_be_frozen:
            live.setdefault(key.account, []).append(LiveScope(key, have, freeze))
        if have is None and before is not None:  # an unfinished run took it away
            had[key] = before
    accounts = [LiveAccount(v, f"a-{v}", tuple(live.get(f"a-{v}", []))) for v in VENUES]
    return desired, accounts, had


@settings(max_examples=500)
@given(
    scopes=st.dictionaries(
        st.builds(
            lambda v, u: ScopeKey(v, f"a-{v}", u),
            st.sampled_from(VENUES),
            st.sampled_from(UNDERLYINGS),
        ),
        _scope(),
        max_size=9,
    ),
    rules=RULES,
)
def test_heal_writes_only_creates_and_tightenings_of_declared_free_scopes(
    scopes: dict[ScopeKey, Scope],
    rules: dict[str, object],
) -> None:
    from reconciler.venues import capabilities

    desired, live, had = _desk(scopes)
    plan = make_plan(desired, live, capabilities(), now_ms=NOW)
    given_rules = guards.Guardrails.model_validate(rules)
    healing = select(plan, desired, given_rules, had)
    read = {scope.key: scope for account in live for scope in account.scopes}
    written = healing.plan.writes
    assert [item.step for item in healing.healed] == list(written) == list(healing.plan.steps)
    for step in written:
        declared = desired.scopes[step.key]
        assert step.action in (Action.CREATE, Action.UPDATE, Action.REPLACE)
        assert step.after is not None
        if step.after != declared.config:  # only the config an unfinished run took away,
            assert step.action is Action.CREATE and step.after == had[step.key]  # put back
            trial = dataclasses.replace(
                plan, steps=(dataclasses.replace(step, after=declared.config),)
            )
            assert guards.check(trial, given_rules, desired, had)  # where the reviewed one trips
        assert given_rules.heal.covers(step.key.venue, step.key.account)
        now = read.get(step.key)
        assert step.before == (None if now is None else now.config)
        assert now is None or not now.freeze.may_be_frozen  # never held, never maybe frozen
        assert not step.refreeze
        against = field_changes(step.before, step.after)
        assert all(c.direction is Direction.TIGHTENING for c in against)
        if step.action is Action.CREATE and step.key in had:  # made, and said if looser
            since = field_changes(had[step.key], step.after)
            looser = any(c.direction is not Direction.TIGHTENING for c in since)
            said = next(h.reason for h in healing.healed if h.step.key == step.key)
            assert looser == ("though it is looser than" in said)
    # coverage trips stop no heal step (heal never removes): each is reported instead
    uncovered = given_rules.model_copy(update={"coverage": {}})
    # heal never crosses a guardrail, a create's against the config a run took away too
    assert guards.check(healing.plan, uncovered, desired, had) == []
    assert set(guards.check(healing.plan, given_rules, desired)) <= set(healing.coverage)
    # every drifting scope is accounted for, exactly once
    drifting = {s.key for s in plan.steps if s.action in WRITES | {Action.HELD, Action.UNMANAGED}}
    healed = {item.step.key for item in healing.healed}
    left = {item.step.key for item in healing.left}
    put_back = {item.step.key for item in healing.healed if item.baseline}  # and left too
    assert healed | left == drifting and healed & left == put_back
    assert all(item.detail for item in healing.left)

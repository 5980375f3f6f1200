"""The heal property: for random desired and live states (all six venues, Deribit's Block
RFQ `all` included; every field each venue has; live limits of 0; every freeze state;
scopes declared, absent or unmanaged; random guardrails, narrowing and configs an unfinished
run took away), what `mmp heal` writes (the plan it hands the executor) is only creates and
tightenings of declared scopes to their declared config, never a held or possibly frozen
scope, never a removal, never past a guardrail; and every drifting scope is either healed or
left, with a reason, never both and never neither.

"Tightening" is judged here by an oracle written from the venues' docs (`way`, on the rows'
`limit_docs` in tests/venues.py), not by mmp's own rules (`MmpField.tightens`, the
planner): every field a healed step changes is stricter by the docs, and a scope left as
loosening, mixed or direction unknown is so by the docs too. A live 0 no venue's docs give a
meaning to is never healed from."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.core.mmpfields import FIELDS as MMP_FIELDS
from reconciler.core.model import FreezeState, LiveAccount, LiveScope, MmpConfig, ScopeKey
from reconciler.core.units import MANUAL
from reconciler.planning.heal import Why, select
from reconciler.planning.plan import WRITES, Action
from reconciler.planning.planner import make_plan
from reconciler.policy import guards
from reconciler.policy.desired import AccountTarget, DesiredScope, DesiredState, Location
from tests.venue_limits import Limit
from tests.venues import ROWS

HERE = Location("p.yaml", 1, 1)
NOW = 1_800_000_000_000


class Way(enum.Enum):
    STRICTER = "stricter"
    LOOSER = "looser"
    UNKNOWN = "unknown"  # the docs do not say what the value changed from means


# a longer window counts more fills against the limits: stricter, on every venue; a longer
# freeze is stricter, and 0 (`manual`) is "frozen until a manual reset", the longest, on
# every venue whose docs say so (its row's manual_freeze; not Bullish's)
WINDOWS = (500, 1000, 3000)
FREEZES_MS = (5_000, 30_000, 600_000)
# two scopes of each venue, and each scope whose limits are not its venue's (Deribit's Block
# RFQ `all`): what the docs say of their limits is each row's limit_docs, scope_limit_docs
SCOPES = tuple(
    (venue, underlying)
    for venue, row in ROWS.items()
    for underlying in ("u1", "u2", *row.scope_limit_docs)
)
VENUES = tuple(sorted(ROWS))

# left before its direction is judged, or for a guardrail
NOT_BY_DIRECTION = frozenset(set(Why) - {Why.LOOSENING, Why.MIXED, Why.UNKNOWN})


def _oracle(key: ScopeKey) -> Mapping[str, Limit]:
    return ROWS[key.venue].limits_of(key.underlying)


def _freeze_rank(frozen: int | str) -> float:
    return float("inf") if frozen == MANUAL else float(frozen)


def way(key: ScopeKey, field: str, before: object, after: object) -> Way:
    """Which way a field changes from `before` (as mmp read it live) to `after`, by the docs."""
    if field == "window_ms":
        assert isinstance(before, int) and isinstance(after, int)
        return Way.STRICTER if after > before else Way.LOOSER
    if field == "frozen_ms":
        if not ROWS[key.venue].manual_freeze and before == 0:
            return Way.UNKNOWN
        assert isinstance(before, int | str) and isinstance(after, int | str)
        return Way.STRICTER if _freeze_rank(after) > _freeze_rank(before) else Way.LOOSER
    limit = _oracle(key)[field]
    if before == 0 or (before is None and limit.none_is == "0"):
        return Way.UNKNOWN  # no limit, or a limit of zero: the docs do not say
    if before is None:  # never set: no limit
        return Way.STRICTER
    if after is None:
        return Way.LOOSER
    assert isinstance(before, Decimal) and isinstance(after, Decimal)
    return Way.STRICTER if after < before else Way.LOOSER


FIELDS = ("window_ms", "frozen_ms", *sorted({f for v, u in SCOPES for f in ROWS[v].limits_of(u)}))


def ways(key: ScopeKey, before: MmpConfig, after: MmpConfig) -> list[Way]:
    """Each field that differs, judged by the docs."""
    return [
        way(key, name, getattr(before, name), getattr(after, name))
        for name in FIELDS
        if getattr(before, name) != getattr(after, name)
    ]


def _config(draw: st.DrawFn, key: ScopeKey, *, live: bool) -> MmpConfig:
    """A config of the scope's venue, with only its fields: as a policy declares it, or
    (`live`) as mmp reads it from the venue (0s and the venue's own nones included)."""
    frozen: tuple[int | str, ...] = FREEZES_MS
    if ROWS[key.venue].manual_freeze:
        frozen = (*frozen, MANUAL)
    elif live:
        frozen = (*frozen, 0)
    limits = {}
    for name, limit in _oracle(key).items():
        values: list[Decimal | None] = list(limit.values)
        if live:
            values.append(Decimal(0))
        if (live and limit.none_is) or (not live and limit.optional):
            values.append(None)
        limits[name] = draw(st.sampled_from(values))
    return MmpConfig(draw(st.sampled_from(WINDOWS)), draw(st.sampled_from(frozen)), **limits)


@st.composite
def _near(draw: st.DrawFn, key: ScopeKey, config: MmpConfig) -> MmpConfig:
    """The config with one or two fields changed, as the venue reads it: drift a person or a
    run might leave."""
    other = _config(draw, key, live=True)
    names = ["window_ms", "frozen_ms", *_oracle(key)]
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True))
    return config.with_changes(**{name: getattr(other, name) for name in chosen})


Scope = tuple[object, MmpConfig | None, FreezeState, MmpConfig | None]
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


@st.composite
def _scope(draw: st.DrawFn, key: ScopeKey) -> Scope:
    """(desired: a config, `absent` or `undeclared`; live config; live freeze; the config
    an unfinished run took away, where none is live)."""
    kind = draw(st.sampled_from(["undeclared", "absent", "config", "config", "config"]))
    want = _config(draw, key, live=False) if kind == "config" else kind
    have = _config(draw, key, live=True) if draw(st.booleans()) else None
    if isinstance(want, MmpConfig) and draw(st.booleans()):
        have = draw(_near(key, want))
    before = _config(draw, key, live=True) if draw(st.integers(0, 2)) == 0 else None
    return want, have, draw(FREEZES), before


@st.composite
def _scopes(draw: st.DrawFn) -> dict[ScopeKey, Scope]:
    chosen = draw(st.lists(st.sampled_from(SCOPES), max_size=9, unique=True))
    keys = [ScopeKey(venue, f"a-{venue}", underlying) for venue, underlying in chosen]
    return {key: draw(_scope(key)) for key in keys}


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
@given(scopes=_scopes(), rules=RULES)
def test_heal_writes_only_creates_and_tightenings_of_declared_free_scopes(
    scopes: dict[ScopeKey, Scope],
    rules: dict[str, object],
) -> None:
    from reconciler.venues import capabilities

    desired, live, had = _desk(scopes)
    plan = make_plan(desired, live, capabilities(), now_ms=NOW)
    given_rules = guards.Guardrails.model_validate(rules)
    healing = select(plan, desired, given_rules, had, capabilities())
    read = {scope.key: scope for account in live for scope in account.scopes}
    written = healing.plan.writes
    assert [item.step for item in healing.healed] == list(written) == list(healing.plan.steps)
    for step in written:
        declared = desired.scopes[step.key]
        assert step.action in (Action.CREATE, Action.UPDATE, Action.REPLACE)
        assert step.after is not None
        if step.after != declared.config:  # only where an unfinished run took one away:
            assert step.action is Action.CREATE and step.key in had  # the stricter of the two
            taken, reviewed = had[step.key], declared.config
            assert reviewed is not None
            assert all(
                step.after.value(f) in (reviewed.value(f), taken.value(f)) for f in MMP_FIELDS
            )
            assert Way.LOOSER not in set(ways(step.key, reviewed, step.after))
            assert Way.LOOSER not in set(ways(step.key, taken, step.after))
            trial = dataclasses.replace(
                plan, steps=(dataclasses.replace(step, after=declared.config),)
            )
            assert guards.check(trial, given_rules, desired, had)  # where the reviewed one trips
        assert given_rules.heal.covers(step.key.venue, step.key.account)
        now = read.get(step.key)
        assert step.before == (None if now is None else now.config)
        assert now is None or not now.freeze.may_be_frozen  # never held, never maybe frozen
        assert not step.refreeze
        if step.before is not None:  # by the docs, every changed field is stricter
            assert set(ways(step.key, step.before, step.after)) == {Way.STRICTER}
        if step.action is Action.CREATE and step.key in had:  # made, and said if looser
            since = set(ways(step.key, had[step.key], step.after))
            said = next(h.reason for h in healing.healed if h.step.key == step.key)
            if Way.LOOSER in since:
                assert "though it is looser than" in said
            elif since <= {Way.STRICTER}:
                assert "though it is looser than" not in said
    for item in healing.left:  # left for its direction: so by the docs too
        step = item.step
        judged = (
            set(ways(step.key, step.before, step.after))
            if step.before is not None and step.after is not None
            else set()
        )
        if item.why is Why.LOOSENING:
            assert judged and Way.STRICTER not in judged, item.detail
        elif item.why is Why.MIXED:
            assert Way.STRICTER in judged and judged - {Way.STRICTER}, item.detail
        elif item.why is Why.UNKNOWN:
            assert Way.UNKNOWN in judged, item.detail
        if Way.UNKNOWN in judged:
            assert item.why in NOT_BY_DIRECTION | {Why.UNKNOWN}, item.detail  # said so
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


def test_the_oracle_reads_the_docs() -> None:
    """The table's own cases, a few by hand."""
    deribit, rfq = ScopeKey("deribit", "a", "u1"), ScopeKey("deribit", "a", "block_rfq:all")
    bullish, aevo = ScopeKey("bullish", "a", "u1"), ScopeKey("aevo", "a", "u1")
    two, nine = Decimal(2), Decimal(9)
    assert way(deribit, "vega_limit", None, two) is Way.STRICTER  # omitted: never set
    assert way(deribit, "max_quote_quantity", nine, two) is Way.STRICTER
    assert way(deribit, "max_quote_quantity", Decimal(0), two) is Way.UNKNOWN
    assert way(rfq, "trade_count_limit", Decimal(20), Decimal(100)) is Way.LOOSER
    assert way(bullish, "delta_limit", None, two) is Way.UNKNOWN  # GET's "0"
    assert way(aevo, "quantity_limit", Decimal(0), Decimal("1.25")) is Way.UNKNOWN
    assert way(bullish, "frozen_ms", 0, 5_000) is Way.UNKNOWN
    assert way(deribit, "frozen_ms", 600_000, MANUAL) is Way.STRICTER
    assert way(deribit, "window_ms", 3000, 1000) is Way.LOOSER

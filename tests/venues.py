"""The conformance table: every fact a test or a benchmark needs about a venue, one row per
registered venue (ROWS). How to make a simulator account, seed a config and trip a freeze;
sample scopes and configs valid on the venue; which of its requests write, read or refuse;
every answer its client parses; what the sandbox desk holds; what its API needs at least.

A test takes the venues from ROWS or reconciler.venues.VENUES and their facts from here:
adding a venue means adding its row, and tests/test_conformance_table.py fails on a table of
every venue kept anywhere else."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from hypothesis import strategies as st

from reconciler.core.model import MmpConfig, ScopeKey, split_space
from reconciler.core.units import MANUAL
from reconciler.policy.desired import DesiredState
from reconciler.venues import VENUES
from reconciler.venues.aevo import wire as aevo_wire
from reconciler.venues.aevo.simulator import DEFAULT_ASSETS, AevoSimulator
from reconciler.venues.base import Credentials, VenueClient
from reconciler.venues.binance import wire as binance_wire
from reconciler.venues.binance.simulator import DEFAULT_UNDERLYINGS, BinanceSimulator
from reconciler.venues.bullish import wire as bullish_wire
from reconciler.venues.bullish.simulator import BullishSimulator
from reconciler.venues.bullish.simulator_push import Readings
from reconciler.venues.bybit import wire as bybit_wire
from reconciler.venues.bybit.simulator import MODIFY as BYBIT_MODIFY
from reconciler.venues.bybit.simulator import RESET as BYBIT_RESET
from reconciler.venues.bybit.simulator import STATE as BYBIT_STATE
from reconciler.venues.bybit.simulator import BybitSimulator
from reconciler.venues.deribit import wire as deribit_wire
from reconciler.venues.deribit.simulator import DeribitSimulator
from reconciler.venues.limiter import Limiter
from reconciler.venues.live import Connections, connect
from reconciler.venues.okx import wire as okx_wire
from reconciler.venues.okx.simulator import OkxSimulator
from tests.venue_limits import COUNTS, SMALL_DELTA, SMALL_QUANTITY, SMALL_VEGA, Limit, Zero

Predicate = Callable[[httpx.Request], bool]
Scope = tuple[str, str | None]  # (underlying, group)
Run = Callable[[VenueClient], Coroutine[Any, Any, object]]


def declare_spaces(desired: DesiredState, account: str) -> None:
    """The account has a section for every config space its venue's row has scopes in (a
    Block RFQ one of Deribit's), so each space is read whether or not a scope is declared."""
    row = ROWS[desired.accounts[account].venue]
    spaces = {space for u, _ in row.scopes if (space := split_space(u)[0]) is not None}
    if spaces:
        desired.spaces.setdefault(account, set()).update(spaces)


def connect_to(handler: Any, desired: DesiredState, creds: dict[str, Credentials]) -> Connections:
    """Every desired account, connected to one simulator (or a fault wrapper around it)."""
    return connect(
        sorted(desired.accounts.values(), key=lambda t: t.name),
        VENUES,
        creds,
        lambda venue: httpx.MockTransport(handler),
        declared=desired.declared_underlyings(),
    )


def client_of(venue: str, account: str, creds: Credentials, http: httpx.AsyncClient) -> VenueClient:
    """One venue client made as connect() makes it: its account's own limits, and what the
    accounts of its endpoint share."""
    spec = VENUES[venue]
    limits = Limiter(spec.connection.requests_per_second, spec.connection.burst)
    return spec.client(account, creds, http, limits, spec.endpoint_state())


# ---- one answer a client parses (tests/test_malformed_answers.py) ------------------------


@dataclass(frozen=True)
class AnswerCall:
    """One client call, and the request whose answer is made malformed."""

    venue: str
    name: str
    target: tuple[str, str]  # (method, path) of the answer to break
    run: Run
    optional: frozenset[str] = frozenset()  # fields whose absence is another valid answer
    empty: bool = False  # an account with nothing set (the "no config" answers)
    make: Callable[[], Any] | None = None

    @property
    def id(self) -> str:
        return f"{self.venue}-{self.name}-{self.target[1].rsplit('/', 1)[-1]}"


def _key(venue: str, underlying: str, group: str | None = None) -> ScopeKey:
    return ScopeKey(venue, "acct", underlying, group)


def _read(only: set[str] | None = None) -> Run:
    return lambda client: client.read(frozenset(), only=None if only is None else frozenset(only))


def _set(venue: str, underlying: str, n: int, group: str | None = None) -> Run:
    return lambda client: client.set_config(_key(venue, underlying, group), ROWS[venue].sample(n))


def _remove(venue: str, underlying: str, n: int) -> Run:
    return lambda client: client.remove_config(_key(venue, underlying), ROWS[venue].sample(n))


def _reset(venue: str, underlying: str) -> Run:
    return lambda client: client.reset(_key(venue, underlying))


# ---- what its API needs at least (benchmarks/floor.py) ----------------------------------


@dataclass(frozen=True)
class RequestFloor:
    """The fewest requests the venue's API needs, not what mmp sends, so a wasteful client
    cannot lower its own bar."""

    read_chain: int  # dependent round trips to read one account (a log-in first for a token)
    read_requests: int | None  # requests to read one account; None: one per underlying
    step_chain: int  # dependent round trips of one change: its writes, each read back
    step_requests: int  # requests of one change
    async_waits: int = 0  # waits for an acknowledged command to take effect, per change
    # (requests, ms): a window on each account's writes alone, where the venue has one
    # (OKX: 2 sets per 10 s per user)
    write_window: tuple[int, int] | None = None
    # (requests, ms): a window on each account's reads alone, where the venue has one (OKX:
    # GET mmp-config 5 per 2 s per user): the account's read and a change's read-back
    read_window: tuple[int, int] | None = None
    # more requests to read each further config space an account declares, sent with the
    # others (Deribit's Block RFQ: its config and status, block_rfq: true)
    space_requests: int = 0


# ---- the readings of its docs' open questions -------------------------------------------

DEFAULT = "default"  # every reading's name for its venue's default switches
FREEZE = "freeze"  # what the venue tells of a freeze (REST isActive, a reset, its trigger push)
OUTCOME = "outcome"  # how it tells a write's outcome (a rejection's status, the envelope)
AUTH = "auth"  # how it refuses a session token it no longer takes


@dataclass(frozen=True)
class Reading:
    """One reading of what a venue's docs leave open (README, "Open questions: each a
    simulator switch"): the keyword arguments its simulator takes for it; none for the
    default reading (each switch at its default). A switch of Bullish's push channel is
    written `ws=Readings(...)`, as the simulator takes it.

    - push: only the venue's push channel plays it differently (a WebSocket reading), so it is
      crossed where that channel is served (tests/fault_cells.py); an in-process run has none.
    - tells: what the venue tells differently under it (FREEZE, OUTCOME, AUTH): the fault
      cells run by a real process on that subject run under it (tests/fault_cells.py).
    - extra_underlyings: what the venue lists under it beyond the default list; a config
      there is reported unmanaged (tests/test_conformance.py)."""

    name: str
    switches: Mapping[str, Any] = field(default_factory=dict)
    push: bool = False
    tells: frozenset[str] = frozenset()
    extra_underlyings: tuple[str, ...] = ()


# ---- the row ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class VenueRow:
    """What tests know of one venue (its key in ROWS and in reconciler.venues.VENUES)."""

    venue: str  # its name in the registry
    # (**switches) its strict simulator for in-process tests, under a reading's switches (an
    # asynchronous one applies what it acknowledged at its next call)
    make: Callable[..., Any]
    # (ms, **switches) an asynchronous venue's simulator applying each acknowledged command
    # this many ms after the ack (a real process is served one: tests/procs.py); None for a
    # synchronous venue
    make_delayed: Callable[..., Any] | None = None
    # (sim, key, secret) -> that account's credentials, creating it on the simulator if new
    open_account: Callable[[Any, str, str], Credentials]
    key_prefix: str  # a test account's key on the simulator is this and the account's name
    seed: Callable[[Any, Credentials, ScopeKey, MmpConfig], None]  # set a config, as if long ago
    trigger: Callable[[Any, Credentials, ScopeKey], None]  # trip MMP on a configured scope
    scopes: tuple[Scope, ...]  # (underlying, group) valid on the venue
    sample: Callable[[int], MmpConfig]  # a valid config, varied by n
    configs: st.SearchStrategy[MmpConfig]  # any config within its bounds (tests/test_convergence)
    # ---- its wire: which request is which
    write_paths: frozenset[str]  # paths whose POST may change its MMP state (sets, resets)
    config_read: Predicate  # the read that answers with the configs (and reads a write back)
    mmp_paths: tuple[str, ...]  # the paths (or their ends) of its MMP reads and sets
    # a reset-then-set venue's set of a replacement, sent once its reset showed; None elsewhere
    replacement_set: Predicate | None = None
    # ends every session token of its simulator now; None where it signs each request instead
    expire_session: Callable[[Any], None] | None = None
    # (sim, credentials, on): the venue takes the account's MMP requests, or (False) refuses
    # them as it does an account without MMP (Deribit: not enabled; Binance: not a market
    # maker); None where its simulator has no such account
    mmp_enabled: Callable[[Any, Credentials, bool], None] | None = None
    # its simulator acknowledges the next set and refuses it later, telling why on its push
    # channel; None where the venue answers each write at once
    reject_later: Callable[[Any], None] | None = None
    # ---- its own words: status and JSON body, as its docs show them
    rejection: tuple[int, dict[str, Any]]  # a write it refuses for its content
    auth_refusal: tuple[int, dict[str, Any]]  # a request whose credentials it does not take
    # ---- every answer its client parses, and the desk they are read from
    answers: tuple[AnswerCall, ...]  # (tests/test_malformed_answers.py)
    answer_samples: tuple[int, ...]  # sample(n) seeded on `scopes` in turn for those answers
    # where its simulator stamps a trigger with its own clock: stamp it (ms) so an answer holds
    # still; None where no answer carries the trigger's time
    pin_trigger: Callable[[Any, Credentials, ScopeKey, int], None] | None = None
    # ---- its sandbox desk (reconciler/venues/<venue>/desk.py)
    sandbox_frozen: str  # the scope it seeds frozen
    sandbox_drifted: str  # a declared scope it seeds with drift, not frozen
    # (sim, account key, underlying): that scope's next trigger freezes it for an hour; None
    # where a reset does not unfreeze (no test then freezes it for an hour)
    lengthen_freeze: Callable[[Any, str, str], None] | None = None
    # every reading of its docs' open questions: the default first, then each other value
    # of each switch (README's table) as its own reading, and a combination only where two
    # switches interact (tests/test_open_questions.py checks the table against these)
    readings: tuple[Reading, ...] = (Reading(DEFAULT),)
    # ---- its limits, as its docs tell them
    # what its docs say of each limit it has (tests/test_heal_property.py's oracle); a live 0
    # has a documented meaning on none of the six (no rule says "0 = no limit")
    limit_docs: Mapping[str, Limit]
    # the same for a scope (by its underlying) whose limits are not those (Deribit's Block
    # RFQ `all`): the heal property plays each such scope too
    scope_limit_docs: Mapping[str, Mapping[str, Limit]] = field(default_factory=dict)
    # a freeze of 0 (`manual`) is "frozen until a manual reset", the longest, by its docs;
    # False where they leave its 0 undocumented (Bullish: seed-venues.md 0)
    manual_freeze: bool = True
    # each limit whose live "0" its docs leave open: its simulator plays both readings (a
    # switch ending in `_zero`: tests/test_zero_limits.py, tests/test_open_questions.py)
    zeros: tuple[Zero, ...]
    spelt: str = ""  # its name as mmp's notes spell it, where not title case ("OKX")
    # ---- benchmarks
    desk_scopes: tuple[Scope, ...]  # one account of benchmarks/desk.py's generated desk
    # (underlying, n) a valid config for one of desk_scopes, varied by n; None: sample(n)
    desk_sample: Callable[[str, int], MmpConfig] | None = None
    floor: RequestFloor  # what its API needs at least (benchmarks/floor.py)

    def credentials(self, sim: Any, account: str) -> Credentials:
        """A test account's credentials, creating it on the simulator if new."""
        return self.open_account(sim, f"{self.key_prefix}{account}", "pw")

    def simulator(self, apply_delay_ms: int, reading: str = DEFAULT) -> Any:
        """Its strict simulator under that reading; an asynchronous venue's applies each
        acknowledged command `apply_delay_ms` after the ack (unless the reading says when)."""
        switches = self.reading(reading).switches
        if self.make_delayed is None:
            return self.make(**switches)
        return self.make_delayed(apply_delay_ms, **switches)

    @property
    def notes_name(self) -> str:
        """Its name as mmp's notes spell it."""
        return self.spelt or self.venue.title()

    def limits_of(self, underlying: str) -> Mapping[str, Limit]:
        """What its docs say of each limit a scope on that underlying has."""
        return self.scope_limit_docs.get(underlying, self.limit_docs)

    def reading(self, name: str) -> Reading:
        found = [r for r in self.readings if r.name == name]
        assert len(found) == 1, f"{self.venue} has no single reading {name!r}"
        return found[0]

    def writes(self, request: httpx.Request) -> bool:
        """Any request that may change the venue's MMP state (sets and resets)."""
        return request.method == "POST" and request.url.path in self.write_paths

    def rejection_body(self) -> bytes:
        """`rejection`'s body as the venue sends it: compact JSON."""
        return json.dumps(self.rejection[1], separators=(",", ":")).encode()

    def transport(self, sim: Any) -> httpx.AsyncBaseTransport:
        return httpx.MockTransport(sim)


def reading_cells(venues: Any = None, *, push: bool = False) -> list[tuple[str, str]]:
    """(venue, reading) for every venue (or those given) and each of its readings an
    in-process run plays: all but those of its push channel alone (push=True: those too)."""
    names = sorted(ROWS) if venues is None else sorted(venues)
    return [
        (venue, reading.name)
        for venue in names
        for reading in ROWS[venue].readings
        if push or not reading.push
    ]


def simulator_of(venue: str, reading: str) -> Any:
    """The venue's in-process simulator under that reading."""
    return ROWS[venue].make(**ROWS[venue].reading(reading).switches)


def truly_frozen(sim: Any, key: ScopeKey, reported: bool) -> bool:
    """Whether the venue has `key` frozen: its simulator's own truth where its answers may
    not show it (`is_frozen`), else what the venue reported."""
    if not hasattr(sim, "is_frozen"):
        return reported
    return bool(sim.is_frozen(ROWS[key.venue].key_prefix + key.account, key.underlying))


def _limits(places: int) -> st.SearchStrategy[Decimal]:
    return st.decimals(
        min_value=Decimal(1).scaleb(-places), max_value=Decimal(10**7), places=places
    )


def _seconds(low: int, high: int) -> st.SearchStrategy[int]:
    return st.integers(low, high).map(lambda s: s * 1000)


def _each(underlyings: tuple[str, ...]) -> tuple[Scope, ...]:
    return tuple((u, None) for u in underlyings)


# ---- Deribit ----------------------------------------------------------------------------

DERIBIT_LIMITS = frozenset({"quantity_limit", "delta_limit", "vega_limit", "max_quote_quantity"})
DERIBIT_API = "/api/v2/"


def _deribit_open(sim: DeribitSimulator, client_id: str, secret: str) -> Credentials:
    if client_id not in sim.accounts:
        sim.add_account(client_id, secret)
    return Credentials({"CLIENT_ID": client_id, "CLIENT_SECRET": secret})


@st.composite
def _deribit_configs(draw: st.DrawFn) -> MmpConfig:
    optional = st.one_of(st.none(), _limits(4))
    chosen = {
        "quantity_limit": draw(optional),
        "delta_limit": draw(optional),
        "vega_limit": draw(optional),
    }
    if all(v is None for v in chosen.values()):
        chosen["quantity_limit"] = draw(_limits(4))
    return MmpConfig(
        window_ms=draw(st.integers(1, 3600)) * 1000,
        frozen_ms=draw(st.one_of(st.just(MANUAL), _seconds(1, 3600))),
        max_quote_quantity=draw(_limits(4)),
        **chosen,
    )


def _deribit_trigger(sim: DeribitSimulator, creds: Credentials, key: ScopeKey) -> None:
    """A Block RFQ scope's trigger is its own space's (block_rfq: true)."""
    space, index = split_space(key.underlying)
    sim.trigger(creds["CLIENT_ID"], index, key.group, block_rfq=space is not None)


def _deribit_lengthen(sim: DeribitSimulator, key: str, underlying: str) -> None:
    sim.accounts[key].configs[(underlying, None)]["frozen_time"] = 3600


DERIBIT_ANSWERS = (
    AnswerCall("deribit", "read", ("POST", DERIBIT_API + "public/auth"), _read()),
    AnswerCall(
        "deribit",
        "read",
        ("POST", DERIBIT_API + "private/get_mmp_config"),
        _read(),
        DERIBIT_LIMITS | {"mmp_group"},
    ),
    AnswerCall(
        "deribit",
        "read",
        ("POST", DERIBIT_API + "private/get_mmp_status"),
        _read(),
        frozenset({"mmp_group"}),
    ),
    AnswerCall(
        "deribit",
        "read_empty",
        ("POST", DERIBIT_API + "private/get_mmp_config"),
        _read(),
        empty=True,
    ),
    AnswerCall(
        "deribit",
        "read_empty",
        ("POST", DERIBIT_API + "private/get_mmp_status"),
        _read(),
        empty=True,
    ),
    AnswerCall(
        "deribit",
        "set",
        ("POST", DERIBIT_API + "private/set_mmp_config"),
        _set("deribit", "btc_usd", 5),
    ),
    AnswerCall(
        "deribit",
        "set_group_array_answer",
        ("POST", DERIBIT_API + "private/set_mmp_config"),
        _set("deribit", "btc_usd", 5, "Bot1"),
        make=lambda: DeribitSimulator(set_result="array"),
    ),
    AnswerCall(
        "deribit",
        "remove",
        ("POST", DERIBIT_API + "private/set_mmp_config"),
        _remove("deribit", "eth_usd", 1),
    ),
    AnswerCall(
        "deribit",
        "reset",
        ("POST", DERIBIT_API + "private/reset_mmp"),
        _reset("deribit", "btc_usd"),
    ),
)
DERIBIT_DESK_INDEXES = ("btc_usd", "eth_usd", "btc_usdc", "eth_usdc")
DERIBIT_DESK_GROUPS = (None, "g1", "g2", "g3", "g4")  # the default and 4 mass-quote groups
# Block RFQ: the trade count on `all`, and the two indexes most block trades are on
DERIBIT_DESK_RFQ = ("block_rfq:all", "block_rfq:btc_usd", "block_rfq:eth_usd")


def _deribit_desk_sample(underlying: str, n: int) -> MmpConfig:
    """Block RFQ's `all` takes a trade count (and max_quote_quantity) and no other limit."""
    if underlying != "block_rfq:all":
        return DERIBIT.sample(n)
    return MmpConfig(
        (n % 5 + 1) * 1000,
        30_000,
        max_quote_quantity=Decimal(25),
        trade_count_limit=Decimal(n % 20 + 1) * 5,
    )


def _deribit_quote_refused(sim: DeribitSimulator, key: str, underlying: str) -> bool:
    return not sim.quote_fits(key, underlying, Decimal(1))


def _deribit_rfq_trips(sim: DeribitSimulator, key: str, _: str) -> bool:
    return bool(sim.fill(key, "all", quantity=Decimal(0), block_rfq=True))


DERIBIT_ZEROS = (
    *[
        Zero("deribit", "btc_usd", name, name, switch, Decimal(0), fill)
        for name, switch, fill in (
            ("quantity_limit", "quantity_zero", SMALL_QUANTITY),
            ("delta_limit", "delta_zero", SMALL_DELTA),
            ("vega_limit", "vega_zero", SMALL_VEGA),
        )
    ],
    Zero(
        "deribit",
        "btc_usd",
        "max_quote_quantity",
        "max_quote_quantity",
        "quote_zero",
        Decimal(0),
        _deribit_quote_refused,
    ),
    Zero(
        "deribit",
        "block_rfq:all",
        "trade_count_limit",
        "trade_count_limit",
        "trade_count_zero",
        Decimal(0),
        _deribit_rfq_trips,
    ),
)

DERIBIT = VenueRow(
    venue="deribit",
    make=DeribitSimulator,
    readings=(
        Reading(DEFAULT),
        # what an account without MMP gets (seed-venues.md 1; a client library: 11050)
        Reading("not-enabled-13040", {"mmp_disabled_code": 13040}),
        # a set's result: the documented example's object, or the schema's array
        Reading("set-answers-array", {"set_result": "array"}),
        # does a removal (interval 0) still need max_quote_quantity and a limit?
        Reading("remove-lenient", {"strict_remove": False}),
        # does a trigger notification name the group (Deribit's subscription page)?
        Reading("trigger-full", {"trigger_payload": "full"}, push=True, tells=frozenset({FREEZE})),
        # is there a channel for Block RFQ `all`'s trigger (user.mmp_trigger.all)?
        Reading(
            "trigger-all-channel",
            {"trigger_all_channel": True},
            push=True,
            tells=frozenset({FREEZE}),
        ),
        # does get_mmp_status take block_rfq, or list every freeze of both spaces, flagged?
        Reading("status-lists-all", {"status_lists_all": True}, tells=frozenset({FREEZE})),
        # is a live limit of 0 no limit? (by default: a limit of zero)
        Reading("quantity-zero-none", {"quantity_zero": "none"}),
        Reading("delta-zero-none", {"delta_zero": "none"}),
        Reading("vega-zero-none", {"vega_zero": "none"}),
        Reading("quote-zero-none", {"quote_zero": "none"}),
        Reading("trade-count-zero-none", {"trade_count_zero": "none"}),
        # how far does a set's "triggers MMP reset" reach? (by default: the whole account)
        Reading("set-resets-index", {"set_resets": "index"}),
        Reading("set-resets-scope", {"set_resets": "scope"}),
    ),
    # its docs (seed-venues.md 1.2): quantity, delta, vega "positive, <=4 decimals" ("at
    # least one limit parameter must be set"), max_quote_quantity required, a cap on open
    # order size; "limits that were not set appear to be omitted"
    limit_docs={
        "quantity_limit": Limit(True, "never set"),
        "delta_limit": Limit(True, "never set"),
        "vega_limit": Limit(True, "never set"),
        "max_quote_quantity": Limit(False, ""),
    },
    # Block RFQ's `all`: trade_count_limit "1..1000" (1.2), with its max_quote_quantity
    scope_limit_docs={
        "block_rfq:all": {
            "trade_count_limit": Limit(False, "", COUNTS),
            "max_quote_quantity": Limit(False, ""),
        }
    },
    zeros=DERIBIT_ZEROS,
    open_account=_deribit_open,
    key_prefix="id-",
    seed=lambda sim, c, key, cfg: sim.seed(c["CLIENT_ID"], deribit_wire.set_params(key, cfg)),
    trigger=_deribit_trigger,
    # Block RFQ MMP is a config space of Deribit's, not a venue of its own: its scopes are
    # extra scopes of this row (block_rfq:<index>), so the lifecycle, the convergence property
    # and the fault matrix's multi-scope cells cover them with the order and mass-quote ones;
    # its `all` (trade_count_limit) takes configs of its own: tests/test_block_rfq.py
    scopes=(
        ("btc_usd", None),
        ("btc_usd", "Bot1"),
        ("block_rfq:btc_usd", None),
        ("eth_usd", None),
    ),
    sample=lambda n: MmpConfig(
        (n % 5 + 1) * 1000,
        MANUAL if n % 3 == 0 else 30_000,
        quantity_limit=Decimal(n + 1) / 10,
        max_quote_quantity=Decimal("2.5"),
    ),
    configs=_deribit_configs(),
    write_paths=frozenset({"/api/v2/private/set_mmp_config", "/api/v2/private/reset_mmp"}),
    config_read=lambda r: r.url.path.endswith("get_mmp_config"),
    mmp_paths=("get_mmp_config", "get_mmp_status", "set_mmp_config"),
    expire_session=lambda sim: sim.expire_tokens(),
    mmp_enabled=lambda sim, c, on: setattr(sim.accounts[c["CLIENT_ID"]], "mmp_enabled", on),
    rejection=(
        400,
        {
            "jsonrpc": "2.0",
            "id": 1,
            "error": {
                "code": 11029,
                "message": "invalid_arguments",
                "data": {"reason": "must be positive", "param": "quantity_limit"},
            },
        },
    ),
    auth_refusal=(
        401,
        {"jsonrpc": "2.0", "id": 1, "error": {"code": 13009, "message": "unauthorized"}},
    ),
    answers=DERIBIT_ANSWERS,
    answer_samples=(0, 3, 1),
    sandbox_frozen="deribit/deribit-main/btc_usd/MassQuoteBot7",
    sandbox_drifted="deribit/deribit-main/btc_usd",
    lengthen_freeze=_deribit_lengthen,
    # Block RFQ's 3 scopes first (so an account cut short by the desk's size has them too),
    # then 4 index names x (the default group + 4 mass-quote groups): 20 scopes, 16 groups
    # (its maximum); 23 in all
    desk_scopes=(
        *_each(DERIBIT_DESK_RFQ),
        *(
            (index, None if group is None else f"{index.replace('_', '')}{group}")
            for index in DERIBIT_DESK_INDEXES
            for group in DERIBIT_DESK_GROUPS
        ),
    ),
    desk_sample=_deribit_desk_sample,
    # auth, then config and status of each space at once (order and Block RFQ: the latter is
    # read on every account, so its live scopes are reported); a change: the write, then
    # config and status of its space
    floor=RequestFloor(read_chain=2, read_requests=5, step_chain=2, step_requests=3),
)


# ---- Binance ----------------------------------------------------------------------------


def _binance_open(sim: BinanceSimulator, api_key: str, secret: str) -> Credentials:
    if api_key not in sim.accounts:
        sim.add_account(api_key, secret)
    return Credentials({"API_KEY": api_key, "API_SECRET": secret})


@st.composite
def _binance_configs(draw: st.DrawFn) -> MmpConfig:
    return MmpConfig(
        window_ms=draw(st.integers(1, 5000)),
        frozen_ms=draw(st.one_of(st.just(MANUAL), st.integers(1, 3_600_000))),
        quantity_limit=draw(_limits(8)),
        delta_limit=draw(_limits(8)),
    )


def _binance_pin(sim: BinanceSimulator, creds: Credentials, key: ScopeKey, at_ms: int) -> None:
    sim.accounts[creds["API_KEY"]].configs[key.underlying]["lastTriggerTime"] = at_ms


def _binance_lengthen(sim: BinanceSimulator, key: str, underlying: str) -> None:
    sim.accounts[key].configs[underlying]["frozenTimeInMilliseconds"] = 3_600_000


BINANCE_ANSWERS = (
    AnswerCall("binance", "read", ("GET", "/eapi/v1/mmp"), _read({"BTCUSDT"})),
    AnswerCall("binance", "read_empty", ("GET", "/eapi/v1/mmp"), _read({"ETHUSDT"}), empty=True),
    AnswerCall("binance", "set", ("POST", "/eapi/v1/mmpSet"), _set("binance", "BTCUSDT", 5)),
    AnswerCall("binance", "reset", ("POST", "/eapi/v1/mmpReset"), _reset("binance", "BTCUSDT")),
)

BINANCE = VenueRow(
    venue="binance",
    make=BinanceSimulator,
    readings=(
        Reading(DEFAULT),  # mmpReset leaves lastTriggerTime as it was; six underlyings
        # does mmpReset zero lastTriggerTime? (seed-venues.md 2.8)
        Reading("trigger-zeroed", {"reset_keeps_trigger_time": False}, tells=frozenset({FREEZE})),
        # is a live qtyLimit / deltaLimit "0" no limit? (by default: a limit of zero)
        Reading("qty-zero-none", {"qty_zero": "none"}),
        Reading("delta-zero-none", {"delta_zero": "none"}),
        # which underlyings exist: exchangeInfo lists one more than the six we knew
        Reading(
            "lists-more",
            {"underlyings": (*DEFAULT_UNDERLYINGS, "ADAUSDT")},
            extra_underlyings=("ADAUSDT",),
        ),
    ),
    # its docs (2.2): qtyLimit, deltaLimit "> 0 (FAQ)", required (EN)
    limit_docs={"quantity_limit": Limit(False, ""), "delta_limit": Limit(False, "")},
    zeros=(
        Zero(
            "binance",
            "BTCUSDT",
            "quantity_limit",
            "qtyLimit",
            "qty_zero",
            Decimal(0),
            SMALL_QUANTITY,
        ),
        Zero(
            "binance", "BTCUSDT", "delta_limit", "deltaLimit", "delta_zero", Decimal(0), SMALL_DELTA
        ),
    ),
    open_account=_binance_open,
    key_prefix="key-",
    seed=lambda sim, c, key, cfg: sim.seed(c["API_KEY"], dict(binance_wire.set_params(key, cfg))),
    trigger=lambda sim, c, key: sim.trigger(c["API_KEY"], key.underlying),
    scopes=(("BTCUSDT", None), ("ETHUSDT", None), ("BNBUSDT", None)),
    sample=lambda n: MmpConfig(
        (n % 5 + 1) * 500,
        MANUAL if n % 3 == 0 else 60_000,
        quantity_limit=Decimal(n + 1) / 10,
        delta_limit=Decimal("2.3"),
    ),
    configs=_binance_configs(),
    write_paths=frozenset({"/eapi/v1/mmpSet", "/eapi/v1/mmpReset"}),
    config_read=lambda r: r.method == "GET" and r.url.path == "/eapi/v1/mmp",
    mmp_paths=("/eapi/v1/mmp", "/eapi/v1/mmpSet"),
    mmp_enabled=lambda sim, c, on: setattr(sim.accounts[c["API_KEY"]], "market_maker", on),
    rejection=(400, {"code": -1130, "msg": "Data sent for parameter 'qtyLimit' is not valid."}),
    auth_refusal=(401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}),
    answers=BINANCE_ANSWERS,
    answer_samples=(0, 1, 2),
    pin_trigger=_binance_pin,
    sandbox_frozen="binance/binance-mm/ETHUSDT",
    sandbox_drifted="binance/binance-mm/BTCUSDT",
    lengthen_freeze=_binance_lengthen,
    desk_scopes=_each(("BNBUSDT", "BTCUSDT", "DOGEUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT")),
    # one GET per underlying (no bulk read); a change: the write, then one read
    floor=RequestFloor(read_chain=1, read_requests=None, step_chain=2, step_requests=2),
)


# ---- Aevo -------------------------------------------------------------------------------


def _aevo_open(sim: AevoSimulator, api_key: str, secret: str) -> Credentials:
    if api_key not in sim.accounts:
        sim.add_account(api_key, secret)
    return Credentials({"API_KEY": api_key, "API_SECRET": secret})


@st.composite
def _aevo_configs(draw: st.DrawFn) -> MmpConfig:
    return MmpConfig(
        window_ms=draw(st.integers(1, 3600)) * 1000,
        frozen_ms=draw(st.one_of(st.just(MANUAL), _seconds(1, 3600))),
        quantity_limit=draw(_limits(6)),
        delta_limit=draw(st.one_of(st.none(), _limits(6))),
    )


def _aevo_lengthen(sim: AevoSimulator, key: str, underlying: str) -> None:
    sim.accounts[key].configs[underlying]["frozen"] = "3600"


AEVO_ANSWERS = (
    AnswerCall("aevo", "read", ("GET", "/mmp"), _read({"BTC"})),
    AnswerCall("aevo", "read_empty", ("GET", "/mmp"), _read({"ETH"}), empty=True),
    AnswerCall("aevo", "set", ("POST", "/mmp"), _set("aevo", "ETH", 5)),
    AnswerCall("aevo", "remove", ("POST", "/mmp"), _remove("aevo", "BTC", 3)),
    AnswerCall("aevo", "reset", ("POST", "/reset-mmp"), _reset("aevo", "BTC")),
)

AEVO = VenueRow(
    venue="aevo",
    make=AevoSimulator,
    readings=(
        Reading(DEFAULT),  # a GET is signed over its path alone; BTC, ETH and SOL
        # is a GET's query string signed? (seed-venues.md 3.4) The simulator verifies one
        # reading; the client finds it (aevo/signing.py)
        Reading("with-query", {"sign_query": True}),
        # is a live amount_limit / delta_limit "0" no limit? (by default: a limit of zero)
        Reading("amount-zero-none", {"amount_zero": "none"}),
        Reading("delta-zero-none", {"delta_zero": "none"}),
        # which assets exist: GET /assets lists one more than the three we knew
        Reading("lists-more", {"assets": (*DEFAULT_ASSETS, "DOGE")}, extra_underlyings=("DOGE",)),
    ),
    # its docs (3.2): amount_limit required, delta_limit optional, no rule for either
    limit_docs={"quantity_limit": Limit(False, ""), "delta_limit": Limit(True, "0")},
    zeros=(
        Zero(
            "aevo",
            "ETH",
            "quantity_limit",
            "amount_limit",
            "amount_zero",
            Decimal(0),
            SMALL_QUANTITY,
        ),
        Zero("aevo", "ETH", "delta_limit", "delta_limit", "delta_zero", None, SMALL_DELTA),
    ),
    open_account=_aevo_open,
    key_prefix="key-",
    seed=lambda sim, c, key, cfg: sim.seed(c["API_KEY"], aevo_wire.set_body(key, cfg)),
    trigger=lambda sim, c, key: sim.trigger(c["API_KEY"], key.underlying),
    scopes=(("BTC", None), ("ETH", None), ("SOL", None)),
    sample=lambda n: MmpConfig(
        (n % 5 + 1) * 1000,
        MANUAL if n % 3 == 0 else 60_000,
        quantity_limit=Decimal(n + 1) / 8,
        delta_limit=Decimal("0.1") if n % 2 else None,
    ),
    configs=_aevo_configs(),
    write_paths=frozenset({"/mmp", "/reset-mmp"}),
    config_read=lambda r: r.method == "GET" and r.url.path == "/mmp",
    mmp_paths=("/mmp",),
    rejection=(400, {"error": "ERR_MALFORMED_REQUEST"}),
    auth_refusal=(401, {"error": "UNAUTHORIZED"}),
    answers=AEVO_ANSWERS,
    answer_samples=(3, 1, 2),
    sandbox_frozen="aevo/aevo-mm/BTC",
    sandbox_drifted="aevo/aevo-mm/SOL",
    lengthen_freeze=_aevo_lengthen,
    desk_scopes=_each(("BTC", "ETH", "SOL")),
    # one GET per asset (no bulk read); a change: the write, then one read
    floor=RequestFloor(read_chain=1, read_requests=None, step_chain=2, step_requests=2),
)


# ---- Bullish ----------------------------------------------------------------------------

BULLISH_MMP = bullish_wire.MMP_PATH


def bullish_command(command_type: str, underlying: str | None = None) -> Predicate:
    """A Bullish command by its commandType (V1ResetMMP, V1SetMMP), optionally for one asset."""

    def match(request: httpx.Request) -> bool:
        if request.method != "POST" or request.url.path != BULLISH_MMP:
            return False
        try:
            body = json.loads(request.content)
        except ValueError:
            return False
        return (
            isinstance(body, dict)
            and body.get("commandType") == command_type
            and underlying in (None, body.get("underlyingAssetSymbol"))
        )

    return match


def _bullish_open(sim: BullishSimulator, public_key: str, secret: str) -> Credentials:
    if public_key not in sim.accounts:
        sim.add_account(public_key, secret)
    account_id = sim.accounts[public_key].trading_account_id
    return Credentials(
        {"PUBLIC_KEY": public_key, "SECRET": secret, "TRADING_ACCOUNT_ID": account_id}
    )


def _bullish_seed(
    sim: BullishSimulator, creds: Credentials, key: ScopeKey, config: MmpConfig
) -> None:
    sim.seed(
        creds["PUBLIC_KEY"], bullish_wire.set_command(creds["TRADING_ACCOUNT_ID"], key, config)
    )


@st.composite
def _bullish_configs(draw: st.DrawFn) -> MmpConfig:
    optional = st.one_of(st.none(), _limits(8))
    quantity, delta = draw(optional), draw(optional)
    if quantity is None and delta is None:
        quantity = draw(_limits(8))
    return MmpConfig(
        window_ms=draw(st.integers(1, 600)) * 1000,
        frozen_ms=draw(st.integers(1, 3600)) * 1000,
        quantity_limit=quantity,
        delta_limit=delta,
    )


BULLISH_ANSWERS = (
    AnswerCall("bullish", "read", ("GET", "/trading-api/v1/users/hmac/login"), _read()),
    AnswerCall("bullish", "read", ("GET", BULLISH_MMP), _read()),
    AnswerCall("bullish", "read_empty", ("GET", BULLISH_MMP), _read(), empty=True),
    AnswerCall("bullish", "set", ("GET", "/trading-api/v1/nonce"), _set("bullish", "SOL", 2)),
    AnswerCall("bullish", "set", ("POST", BULLISH_MMP), _set("bullish", "SOL", 2)),
    AnswerCall("bullish", "reset", ("POST", BULLISH_MMP), _reset("bullish", "BTC")),
    AnswerCall("bullish", "remove", ("POST", BULLISH_MMP), _remove("bullish", "BTC", 0)),
)


def _ws(**readings: Any) -> dict[str, Any]:
    return {"ws": Readings(**readings)}


_PUSHED = frozenset({FREEZE, OUTCOME})  # what its push channel's envelope and snapshots carry
BULLISH_READINGS = (
    Reading(DEFAULT),
    # does REST isActive stay true while the scope is frozen? (seed-venues.md 4.2)
    Reading("isActive-false", {"active_while_frozen": False}, tells=frozenset({FREEZE})),
    # is a V1SetMMP taken while a config exists? (a replacement resets first either way)
    Reading("set-when-configured-taken", {"reject_set_when_configured": False}),
    # how is a JWT it no longer takes refused? (the registry's 8327, or 6105 "Invalid JWT")
    Reading("token-6105", {"token_refusal": "unauthorized_command"}, tells=frozenset({AUTH})),
    # when does an acknowledged command take effect? (in process: at the next call)
    Reading("applied-after-200ms", {"apply_delay_ms": 200}),
    # is a live quantityLimit / deltaLimit "0" no limit? (by default: a limit of zero)
    Reading("quantity-zero-none", {"quantity_zero": "none"}),
    Reading("delta-zero-none", {"delta_zero": "none"}),
    # the trigger topic's name: the topic table's, or both names
    Reading("topic-mmpTrigger", _ws(trigger_topic="mmpTrigger"), True, frozenset({FREEZE})),
    Reading("topic-both", _ws(trigger_topic="both"), True, frozenset({FREEZE})),
    # a snapshot of the active freezes and the recent requests on subscribe
    Reading("snapshots", _ws(snapshots=True), True, _PUSHED),
    # with isActive false while frozen too: both tell the same freeze to a new run
    Reading(
        "snapshots-isActive-false",
        {"active_while_frozen": False, **_ws(snapshots=True)},
        True,
        frozenset({FREEZE}),
    ),
    # the MMP topics in the private topics' documented envelope
    Reading("envelope-documented", _ws(envelope="documented"), True, _PUSHED),
    # a refused command's status: REJECTED (by default CLOSED, only statusReason tells)
    Reading("status-REJECTED", _ws(rejection_status="REJECTED"), True, frozenset({OUTCOME})),
)

BULLISH = VenueRow(
    venue="bullish",
    # acknowledged now, applied at the next call (unless a reading says when)
    make=lambda **switches: BullishSimulator(**{"apply_delay_ms": 0, **switches}),
    make_delayed=lambda ms, **switches: BullishSimulator(**{"apply_delay_ms": ms, **switches}),
    readings=BULLISH_READINGS,
    # its docs (4.2): quantityLimit "> 0 if set", deltaLimit no rule, both optional; GET
    # reports every field ("all required")
    limit_docs={"quantity_limit": Limit(True, "0"), "delta_limit": Limit(True, "0")},
    # its docs leave a freeze of 0 undocumented (seed-venues.md 0, "Freeze = 0 means")
    manual_freeze=False,
    zeros=(
        Zero(
            "bullish",
            "BTC",
            "quantity_limit",
            "quantityLimit",
            "quantity_zero",
            None,
            SMALL_QUANTITY,
        ),
        Zero("bullish", "BTC", "delta_limit", "deltaLimit", "delta_zero", None, SMALL_DELTA),
    ),
    open_account=_bullish_open,
    key_prefix="key-",
    seed=_bullish_seed,
    trigger=lambda sim, c, key: sim.trigger(c["PUBLIC_KEY"], key.underlying),
    scopes=(("BTC", None), ("ETH", None), ("SOL", None)),
    sample=lambda n: MmpConfig(
        (n % 5 + 1) * 1000,
        (n % 7 + 1) * 1000,
        quantity_limit=Decimal(n + 1) / 8,
        delta_limit=Decimal("0.1") if n % 2 else None,
    ),
    configs=_bullish_configs(),
    write_paths=frozenset({BULLISH_MMP}),
    config_read=lambda r: r.method == "GET" and r.url.path.endswith("mmp-configuration"),
    mmp_paths=(BULLISH_MMP,),
    replacement_set=bullish_command("V1SetMMP"),
    expire_session=lambda sim: sim.expire_tokens(),
    reject_later=lambda sim: setattr(sim, "reject_next_sets", 1),
    rejection=(
        400,
        {
            "message": "Bad request",
            "raw": None,
            "errorCode": 2001,
            "errorCodeName": "BAD_INCOMING_REQUEST",
        },
    ),
    auth_refusal=(
        401,
        {
            "message": "Invalid JWT",
            "raw": None,
            "errorCode": 6105,
            "errorCodeName": "UNAUTHORIZED_COMMAND",
        },
    ),
    answers=BULLISH_ANSWERS,
    answer_samples=(0, 1),
    sandbox_frozen="bullish/bullish-mm/ETH",
    sandbox_drifted="bullish/bullish-mm/BTC",
    desk_scopes=_each(("BTC", "ETH", "SOL")),
    # log-in, then one bulk GET; a change: reset and set, each read back, each waited for
    floor=RequestFloor(read_chain=2, read_requests=2, step_chain=4, step_requests=4, async_waits=2),
)


# ---- OKX --------------------------------------------------------------------------------


def _okx_open(sim: OkxSimulator, api_key: str, secret: str) -> Credentials:
    if api_key not in sim.accounts:
        sim.add_account(api_key, secret)
    passphrase = sim.accounts[api_key].passphrase
    return Credentials({"API_KEY": api_key, "API_SECRET": secret, "PASSPHRASE": passphrase})


@st.composite
def _okx_configs(draw: st.DrawFn) -> MmpConfig:
    return MmpConfig(
        window_ms=draw(st.integers(1, 600_000)),
        frozen_ms=draw(st.one_of(st.just(MANUAL), st.integers(1, 3_600_000))),
        quantity_limit=draw(_limits(2)),
    )


def _okx_lengthen(sim: OkxSimulator, key: str, underlying: str) -> None:
    sim.accounts[key].configs[underlying]["frozenInterval"] = "3600000"


OKX_MMP = okx_wire.MMP_PATH
OKX_ANSWERS = (
    AnswerCall("okx", "read", ("GET", OKX_MMP), _read()),
    AnswerCall("okx", "read_empty", ("GET", OKX_MMP), _read(), empty=True),
    AnswerCall("okx", "set", ("POST", OKX_MMP), _set("okx", "ETH-USD", 5)),
    AnswerCall("okx", "remove", ("POST", OKX_MMP), _remove("okx", "BTC-USD", 3)),
    AnswerCall("okx", "reset", ("POST", okx_wire.RESET_PATH), _reset("okx", "BTC-USD")),
)

OKX = VenueRow(
    venue="okx",
    make=OkxSimulator,
    readings=(
        Reading(DEFAULT),  # mmpFrozenUntil the ms left; 50011 at HTTP 200; disabled listed
        # is mmpFrozenUntil an epoch-ms time or the ms left? (more-venues.md 1.3, 10.1)
        Reading("frozen-until-epoch", {"frozen_until_epoch": True}, tells=frozenset({FREEZE})),
        # is 50011 answered with HTTP 429 or 200? (more-venues.md 1.6: "429 (or 200)")
        Reading("rate-limit-429", {"rate_limit_429": True}),
        # is a family disabled by timeInterval "0" still answered by GET?
        Reading("disabled-dropped", {"lists_disabled": False}),
        # does a set end a freeze (as Deribit's does)? undocumented
        Reading("set-unfreezes", {"set_unfreezes": True}, tells=frozenset({FREEZE})),
        # is a live qtyLimit "0" no limit? (by default: a limit of zero)
        Reading("qty-zero-none", {"qty_zero": "none"}),
    ),
    spelt="OKX",
    # its docs (more-venues 1.3): qtyLimit "must be > 0", required
    limit_docs={"quantity_limit": Limit(False, "")},
    zeros=(
        Zero(
            "okx", "BTC-USD", "quantity_limit", "qtyLimit", "qty_zero", Decimal(0), SMALL_QUANTITY
        ),
    ),
    open_account=_okx_open,
    key_prefix="key-",
    seed=lambda sim, c, key, cfg: sim.seed(c["API_KEY"], okx_wire.set_body(key, cfg)),
    trigger=lambda sim, c, key: sim.trigger(c["API_KEY"], key.underlying),
    scopes=(("BTC-USD", None), ("ETH-USD", None)),
    sample=lambda n: MmpConfig(
        (n % 5 + 1) * 1000,
        MANUAL if n % 3 == 0 else 60_000,
        quantity_limit=Decimal(n + 1) / 4,
    ),
    configs=_okx_configs(),
    write_paths=frozenset({OKX_MMP, okx_wire.RESET_PATH}),
    config_read=lambda r: r.method == "GET" and r.url.path == OKX_MMP,
    mmp_paths=(OKX_MMP,),
    mmp_enabled=lambda sim, c, on: setattr(sim.accounts[c["API_KEY"]], "mmp_enabled", on),
    rejection=(400, {"code": "51000", "msg": "Parameter qtyLimit error", "data": []}),
    auth_refusal=(401, {"code": "50113", "msg": "Invalid Sign.", "data": []}),
    answers=OKX_ANSWERS,
    answer_samples=(0, 1),
    sandbox_frozen="okx/okx-mm/ETH-USD",
    sandbox_drifted="okx/okx-mm/BTC-USD",
    lengthen_freeze=_okx_lengthen,
    desk_scopes=_each(("BTC-USD", "ETH-USD")),
    # one GET answers every family; a change: the set, then one read. Per user (the docs'
    # figures, not the client's): sets 2 per 10 s, reads 5 per 2 s
    floor=RequestFloor(
        read_chain=1,
        read_requests=1,
        step_chain=2,
        step_requests=2,
        write_window=(2, 10_000),
        read_window=(5, 2_000),
    ),
)


# ---- Bybit ------------------------------------------------------------------------------


def _bybit_open(sim: BybitSimulator, api_key: str, secret: str) -> Credentials:
    if api_key not in sim.accounts:
        sim.add_account(api_key, secret)
    return Credentials({"API_KEY": api_key, "API_SECRET": secret})


@st.composite
def _bybit_configs(draw: st.DrawFn) -> MmpConfig:
    return MmpConfig(
        window_ms=draw(st.integers(1, 5000)),
        frozen_ms=draw(st.one_of(st.just(MANUAL), st.integers(1, 3_600_000))),
        quantity_limit=draw(_limits(2)),
        delta_limit=draw(_limits(2)),
        vega_limit=draw(_limits(2)),
    )


def _bybit_pin(sim: BybitSimulator, creds: Credentials, key: ScopeKey, at_ms: int) -> None:
    account = sim.accounts[creds["API_KEY"]]
    period = int(account.configs[key.underlying]["frozenPeriod"])
    account.frozen[key.underlying] = at_ms + period if period else 0


def _bybit_lengthen(sim: BybitSimulator, key: str, underlying: str) -> None:
    sim.accounts[key].configs[underlying]["frozenPeriod"] = "3600000"


BYBIT_ANSWERS = (
    AnswerCall("bybit", "read", ("GET", BYBIT_STATE), _read({"BTC"})),
    AnswerCall("bybit", "read_empty", ("GET", BYBIT_STATE), _read({"ETH"}), empty=True),
    AnswerCall("bybit", "set", ("POST", BYBIT_MODIFY), _set("bybit", "BTC", 5)),
    AnswerCall("bybit", "reset", ("POST", BYBIT_RESET), _reset("bybit", "BTC")),
)


def _bybit_envelope(code: int, msg: str) -> dict[str, Any]:
    return {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": 1700000000000}


BYBIT = VenueRow(
    venue="bybit",
    make=BybitSimulator,
    readings=(
        Reading(DEFAULT),  # vegaLimit omitted: 500000; ranges assumed; unconfigured: []
        # does a modify without vegaLimit keep the stored one? (more-venues.md 2.4; we send it)
        Reading("vega-omitted-kept", {"vega_omitted_kept": True}),
        # window and frozenPeriod ranges (10.2): none documented, so any the venue takes
        Reading("open-ranges", {"open_ranges": True}),
        # mmp-state for a coin never configured (10.2): refused with 110062
        Reading("unconfigured-110062", {"unconfigured_110062": True}),
        # mmp-state of an account without MMP: refused with 110065, not mmpEnabled false
        Reading("not-enabled-110065", {"not_enabled_110065": True}),
        # does a modify end a freeze (as Deribit's set does)? undocumented
        Reading("set-unfreezes", {"set_unfreezes": True}, tells=frozenset({FREEZE})),
        # is a live qtyLimit / deltaLimit / vegaLimit "0" no limit? (by default: a limit of 0)
        Reading("qty-zero-none", {"qty_zero": "none"}),
        Reading("delta-zero-none", {"delta_zero": "none"}),
        Reading("vega-zero-none", {"vega_zero": "none"}),
    ),
    # its docs (more-venues 2.3): qtyLimit, deltaLimit, vegaLimit "positive, <=2 dp"
    limit_docs={
        "quantity_limit": Limit(False, ""),
        "delta_limit": Limit(False, ""),
        "vega_limit": Limit(False, ""),
    },
    zeros=(
        Zero("bybit", "BTC", "quantity_limit", "qtyLimit", "qty_zero", Decimal(0), SMALL_QUANTITY),
        Zero("bybit", "BTC", "delta_limit", "deltaLimit", "delta_zero", Decimal(0), SMALL_DELTA),
        Zero("bybit", "BTC", "vega_limit", "vegaLimit", "vega_zero", Decimal(0), SMALL_VEGA),
    ),
    open_account=_bybit_open,
    key_prefix="key-",
    seed=lambda sim, c, key, cfg: sim.seed(c["API_KEY"], bybit_wire.set_body(key, cfg)),
    trigger=lambda sim, c, key: sim.trigger(c["API_KEY"], key.underlying),
    scopes=(("BTC", None), ("ETH", None), ("SOL", None)),
    sample=lambda n: MmpConfig(
        (n % 5 + 1) * 500,
        MANUAL if n % 3 == 0 else 60_000,
        quantity_limit=Decimal(n + 1) / 4,
        delta_limit=Decimal("2.3"),
        vega_limit=Decimal(100 + n),
    ),
    configs=_bybit_configs(),
    write_paths=frozenset({BYBIT_MODIFY, BYBIT_RESET}),
    config_read=lambda r: r.method == "GET" and r.url.path == BYBIT_STATE,
    mmp_paths=(BYBIT_STATE, BYBIT_MODIFY),
    mmp_enabled=lambda sim, c, on: setattr(sim.accounts[c["API_KEY"]], "mmp_enabled", on),
    # business refusals come with HTTP 200 and a retCode (more-venues.md 2.6)
    rejection=(200, _bybit_envelope(10001, "params error: qtyLimit")),
    auth_refusal=(200, _bybit_envelope(10003, "API key is invalid.")),
    answers=BYBIT_ANSWERS,
    answer_samples=(0, 1, 2),
    pin_trigger=_bybit_pin,
    sandbox_frozen="bybit/bybit-mm/ETH",
    sandbox_drifted="bybit/bybit-mm/BTC",
    lengthen_freeze=_bybit_lengthen,
    desk_scopes=_each(("BTC", "ETH", "SOL")),
    # one GET per base coin (no bulk read); a change: the write, then one read
    floor=RequestFloor(read_chain=1, read_requests=None, step_chain=2, step_requests=2),
)


ROWS: dict[str, VenueRow] = {
    row.venue: row for row in (DERIBIT, BINANCE, AEVO, BULLISH, OKX, BYBIT)
}

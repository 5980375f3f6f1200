"""Every answer a venue client reads, made malformed every way we can think of.

For each registered venue and each answer its client parses (reads, and the write
acknowledgements), a valid answer comes from the venue's simulator; then (a) each field is
deleted in turn, (b) each value is replaced by values of the other JSON types, (c) the whole
body is replaced, (d) numbers and strings get values of their own type that no venue sends
(negative, fractional, too large, "NaN", an exponent, a control character). The call must
either give the result it gives on the valid answer (a field the client does not read) or
raise VenueUnavailable naming the request and the field: never KeyError, TypeError,
ValueError, decimal.InvalidOperation, AttributeError or IndexError. A documented optional
field whose absence is another valid answer (a Deribit limit that is not set) may change
the result. Deribit's answers are taken apart for an account with a block_rfq section too,
Block RFQ MMP's and order/quote MMP's each on its own (SpaceCall).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.core.errors import VenueError, VenueRejected, VenueUnavailable
from reconciler.core.model import MmpConfig, ScopeKey
from reconciler.core.units import MANUAL, dumps_exact, loads_exact
from reconciler.venues import VENUES
from reconciler.venues.answers import wire_type
from reconciler.venues.base import Credentials, RemoveMode
from tests.venues import DERIBIT_LIMITS, ROWS, AnswerCall, client_of

Path = tuple[str | int, ...]
Mutation = tuple[str, Path, Any]  # ("delete" | "replace", where in the answer, new value)
OTHER_TYPES: tuple[Any, ...] = (None, True, False, 0, 7, "", "7", [], [{}], {}, {"x": 1})
ODD_NUMBERS = (-1, Decimal("1.5"), 2**64)
ODD_DIGITS = ("NaN", "-1", "1e3", " 1", "1_000", "\u0661", "Infinity", "1" * 30)
ODD_TEXT = ("\ud800", "x\x01")  # half a surrogate pair; a control character
FIXED_TRIGGER_MS = 1_700_000_000_000


def _key(venue: str, underlying: str, group: str | None = None) -> ScopeKey:
    return ScopeKey(venue, "acct", underlying, group)


@dataclass(frozen=True)
class SpaceCall(AnswerCall):
    """A Deribit call for an account with a block_rfq section: order/quote MMP and Block RFQ
    MMP are asked for on the same paths (Block RFQ's with block_rfq: true), so only the
    answers to the requests of one space (`block_rfq`) are broken."""

    block_rfq: bool = False

    @property
    def id(self) -> str:
        return f"{super().id}-{'block_rfq' if self.block_rfq else 'orders'}"

    def breaks(self, request: httpx.Request) -> bool:
        params = loads_exact(request.content).get("params", {})
        return (params.get("block_rfq") is True) == self.block_rfq


RFQ_ALL = _key("deribit", "block_rfq:all")
RFQ_BTC = _key("deribit", "block_rfq:btc_usd")  # seeded with sample(1): the row's 3rd scope
TRADES = MmpConfig(10_000, MANUAL, max_quote_quantity=Decimal(25), trade_count_limit=Decimal(20))
SECTION = frozenset({"block_rfq:"})  # the account's block_rfq section, empty or not
API = "/api/v2/private/"


def _space_calls() -> tuple[SpaceCall, ...]:
    def read(client: Any) -> Any:
        return client.read(SECTION)

    def call(name: str, method: str, run: Any, block_rfq: bool = True, **kw: Any) -> SpaceCall:
        return SpaceCall("deribit", name, ("POST", API + method), run, block_rfq=block_rfq, **kw)

    limits = DERIBIT_LIMITS | {"mmp_group"}
    return (
        # order/quote MMP's answers, read beside Block RFQ's
        call("read", "get_mmp_config", read, False, optional=limits),
        call("read", "get_mmp_config", read, optional=DERIBIT_LIMITS | {"trade_count_limit"}),
        call("read", "get_mmp_status", read, optional=frozenset({"block_rfq"})),
        call("read_empty", "get_mmp_config", read, empty=True),
        call("read_empty", "get_mmp_status", read, empty=True),
        call("set", "set_mmp_config", lambda c: c.set_config(RFQ_ALL, TRADES)),
        call(
            "remove",
            "set_mmp_config",
            lambda c: c.remove_config(RFQ_BTC, ROWS["deribit"].sample(1)),
        ),
        call("reset", "reset_mmp", lambda c: c.reset(RFQ_ALL)),
    )


# every answer of every registered venue (VenueRow.answers), in the registry's order, and
# those of Deribit's Block RFQ MMP
CALLS = tuple(call for venue in VENUES for call in ROWS[venue].answers) + _space_calls()


def _seed_desk(venue: str, sim: Any, creds: Credentials) -> None:
    """A config on each of the venue's sample scopes; the first (and each group's) frozen
    until a manual reset, so that freeze fields are read and the result does not move with
    the clock (where the simulator stamps a trigger with its clock, the stamp is pinned)."""
    row = ROWS[venue]
    seeded = list(zip(row.scopes, row.answer_samples, strict=False))
    for (underlying, group), n in seeded:
        row.seed(sim, creds, _key(venue, underlying, group), row.sample(n))
    frozen = [scope for i, (scope, _) in enumerate(seeded) if i == 0 or scope[1] is not None]
    for underlying, group in frozen:
        row.trigger(sim, creds, _key(venue, underlying, group))
        if row.pin_trigger is not None:
            row.pin_trigger(sim, creds, _key(venue, underlying, group), FIXED_TRIGGER_MS)


def _seed_block_rfq(sim: Any, creds: Credentials) -> None:
    """Block RFQ's `all` too, with its trade count, frozen until a manual reset."""
    ROWS["deribit"].seed(sim, creds, RFQ_ALL, TRADES)
    ROWS["deribit"].trigger(sim, creds, RFQ_ALL)


class Breaking:
    """The simulator, with every successful answer to one request rewritten by `mutate`;
    with `refusal` (status, body), that request is refused so instead, and the refusal's
    body rewritten."""

    def __init__(
        self,
        app: Any,
        target: tuple[str, str],
        mutate: Callable[[Any], Any],
        refusal: tuple[int, Any] | None = None,
        only: Callable[[httpx.Request], bool] = lambda request: True,
    ) -> None:
        self.app, self.target, self.mutate, self.refusal = app, target, mutate, refusal
        self.only = only  # of the requests to `target`, those whose answers are broken
        self.seen: list[Any] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = self.app(request)
        if (request.method, request.url.path) != self.target or not self.only(request):
            return response
        if self.refusal is not None:
            status, content = self.refusal[0], dumps_exact(self.refusal[1]).encode()
            response = httpx.Response(status, content=content, headers=response.headers)
        elif response.status_code >= 400:
            return response
        body = loads_exact(response.content)
        self.seen.append(body)
        headers = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in ("content-length", "content-encoding")
        }
        # a lone surrogate goes out as the JSON escape \ud800, as a venue would send it
        content = dumps_exact(self.mutate(body)).encode("utf-8", "backslashreplace")
        return httpx.Response(response.status_code, content=content, headers=headers)


def _call(
    call: AnswerCall, mutate: Callable[[Any], Any], refusal: tuple[int, Any] | None = None
) -> tuple[object, Breaking]:
    """The call's result, or the exception it raised, against a fresh simulator."""
    row = ROWS[call.venue]
    sim = (call.make or row.make)()
    creds = row.credentials(sim, "acct")
    if not call.empty:
        _seed_desk(call.venue, sim, creds)
    if isinstance(call, SpaceCall) and not call.empty:
        _seed_block_rfq(sim, creds)
    only = call.breaks if isinstance(call, SpaceCall) else lambda request: True
    breaking = Breaking(sim, call.target, mutate, refusal, only)
    http = httpx.AsyncClient(base_url="https://venue.test", transport=httpx.MockTransport(breaking))
    client = client_of(call.venue, "acct", creds, http)

    async def go() -> object:
        try:
            return await call.run(client)
        finally:
            await client.aclose()

    try:
        return asyncio.run(go()), breaking
    except Exception as exc:  # judged by the caller: only VenueUnavailable may pass
        return exc, breaking


@cache
def _valid(call: AnswerCall) -> tuple[object, Any]:
    result, breaking = _call(call, lambda body: body)
    assert not isinstance(result, Exception), result
    assert breaking.seen, f"{call.id}: the client never asked for {call.target}"
    return result, breaking.seen[0]


def _paths(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    yield path, value
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for name, child in items:
        yield from _paths(child, (*path, name))


def _mutations(body: Any) -> Iterator[Mutation]:
    for path, value in _paths(body):
        if path and isinstance(path[-1], str):
            yield "delete", path, None  # (a); an array item is not a field
        kind = wire_type(value)
        for other in OTHER_TYPES:  # (b), and (c) at the root
            if wire_type(other) != kind or (not path and other in ([], {}, "")):
                yield "replace", path, other
        if kind == "number":  # (d); a Deribit limit may have decimals
            fraction_ok = bool(path) and path[-1] in DERIBIT_LIMITS
            odd_numbers = [n for n in ODD_NUMBERS if not (fraction_ok and n == Decimal("1.5"))]
            yield from (("replace", path, odd) for odd in odd_numbers)
        if isinstance(value, str):
            yield from (("replace", path, odd) for odd in ODD_TEXT)
        if isinstance(value, str) and re.fullmatch(r"[0-9.]+", value):
            yield from (("replace", path, odd) for odd in ODD_DIGITS)


def _apply(body: Any, mutation: Mutation) -> Any:
    """A copy of the body with the mutation applied (unchanged where its path is gone)."""
    action, path, new = mutation
    if not path:
        return new
    body = loads_exact(dumps_exact(body))
    parent = body
    for step in path[:-1]:
        parent = _child(parent, step)
    last = path[-1]
    if isinstance(parent, dict) and isinstance(last, str) and last in parent:
        if action == "delete":
            del parent[last]
        else:
            parent[last] = new
    elif isinstance(parent, list) and isinstance(last, int) and last < len(parent):
        parent[last] = new  # an array item is replaced, never deleted
    return body


def _applying(mutation: Mutation) -> Callable[[Any], Any]:
    return lambda body: _apply(body, mutation)


def _child(value: Any, step: str | int) -> Any:
    if isinstance(value, dict) and isinstance(step, str):
        return value.get(step)
    if isinstance(value, list) and isinstance(step, int) and step < len(value):
        return value[step]
    return None


def _judge(call: AnswerCall, mutations: list[Mutation], got: object, answers: list[Any]) -> str:
    """ "" when the outcome is acceptable, else what is wrong with it."""
    valid, _ = _valid(call)
    if got == valid:
        return ""
    deleted_optional = any(a == "delete" and p[-1] in call.optional for a, p, _ in mutations)
    if not isinstance(got, Exception):
        return "" if deleted_optional else f"succeeded with another result: {got!r}"
    if not isinstance(got, VenueUnavailable):
        return f"raised {type(got).__name__}: {got}"
    message = str(got)
    method, path = call.target
    if f"malformed answer to {method} {path}: " not in message:
        return f"VenueUnavailable without naming the request: {message}"
    secrets = [v for _, v in _paths(answers) if isinstance(v, str) and len(v) >= 12]
    if "{" in message or len(message) > 300 or any(s in message for s in secrets):
        return f"the message shows the answer: {message}"
    scalar = all(isinstance(new, (type(None), bool, int, Decimal, str)) for *_, new in mutations)
    if len(mutations) == 1 and scalar and not deleted_optional:  # else a field inside is named
        _, where, _ = mutations[0]
        named = (
            where[-1] if where and isinstance(where[-1], str) else f"[{where[-1]}]" if where else ""
        )
        if named not in message:
            return f"the message does not name {named}: {message}"
    return ""


def _check(call: AnswerCall, mutations: list[Mutation]) -> str:
    def mutate(body: Any) -> Any:  # the fresh simulator's answer: its own token, its own ids
        for mutation in mutations:
            body = _apply(body, mutation)
        return body

    got, breaking = _call(call, mutate)
    problem = _judge(call, mutations, got, breaking.seen)
    return f"{call.id} {mutations}: {problem}" if problem else ""


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.id)
def test_every_single_mutation_is_the_valid_result_or_venue_unavailable(call: AnswerCall) -> None:
    _, body = _valid(call)
    mutations = list(_mutations(body))
    problems = [p for m in mutations if (p := _check(call, [m]))]
    assert not problems, "\n".join(problems[:20])
    assert len(mutations) >= 8  # the answer was really taken apart


def test_every_registered_venue_and_answer_is_covered() -> None:
    assert {c.venue for c in CALLS} == set(VENUES)
    for venue in VENUES:
        assert all(c.venue == venue for c in ROWS[venue].answers), venue
        names = {c.name for c in CALLS if c.venue == venue}
        removes = VENUES[venue].capabilities.remove is not RemoveMode.UNSUPPORTED
        writes = {"set", "reset"} | ({"remove"} if removes else set())
        assert {"read", "read_empty"} | writes <= names, venue


@st.composite
def _random_mutations(draw: st.DrawFn) -> tuple[AnswerCall, list[Mutation]]:
    call = draw(st.sampled_from(CALLS))
    _, body = _valid(call)
    paths = list(_paths(body))
    chosen = []
    for _ in range(draw(st.integers(1, 3))):
        path, value = draw(st.sampled_from(paths))
        if path and isinstance(path[-1], str) and draw(st.booleans()):
            chosen.append(("delete", path, None))
            continue
        chosen.append(("replace", path, draw(_json_other_than(wire_type(value)))))
    return call, chosen


def _json_other_than(kind: str) -> st.SearchStrategy[Any]:
    return _json().filter(lambda v: wire_type(v) != kind)


def _text(size: int) -> st.SearchStrategy[str]:
    # no NUL: dumps_exact marks its exact numbers with one, so it refuses such strings
    return st.text(st.characters(exclude_characters="\x00"), max_size=size)


def _json() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.decimals(allow_nan=False, allow_infinity=False, places=4),
        _text(8),
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text(5), inner, max_size=3),
        max_leaves=6,
    )


@settings(max_examples=300)
@given(_random_mutations())
def test_random_mutations_are_the_valid_result_or_venue_unavailable(
    case: tuple[AnswerCall, list[Mutation]],
) -> None:
    call, mutations = case
    problem = _check(call, mutations)
    assert not problem, problem


def test_the_issue_case_a_binance_answer_missing_qty_limit() -> None:
    [call] = [c for c in CALLS if c.id == "binance-read-mmp"]
    got, _ = _call(call, lambda body: {k: v for k, v in body.items() if k != "qtyLimit"})
    assert isinstance(got, VenueUnavailable)
    assert str(got) == "binance/acct: malformed answer to GET /eapi/v1/mmp: qtyLimit is missing"
    assert got.retryable and got.maybe_applied


@pytest.mark.parametrize(
    ("call_id", "mutate", "message"),
    [
        # read as "no config" before: every one would make a protected scope look bare
        (
            "binance-read-mmp",
            lambda b: _drop(b, "windowTimeInMilliseconds"),
            "windowTimeInMilliseconds is missing",
        ),
        ("aevo-read-mmp", lambda b: _drop(b, "enabled"), "enabled is missing"),
        ("aevo-read-mmp", lambda b: _drop(b, "interval"), "interval is missing"),
        (
            "deribit-read-get_mmp_config",
            lambda b: {**b, "result": None},
            "result is not an array (it is null)",
        ),
        (
            "deribit-read-get_mmp_config",
            lambda b: {**b, "result": {"index_name": "btc_usd"}},
            "result is not an array (it is an object)",
        ),
        (
            "bullish-read-mmp-configuration",
            lambda b: _drop(b, "mmpConfigurations"),
            "mmpConfigurations is missing",
        ),
        # read as "not frozen", "frozen until a manual reset" or "in effect" before
        ("binance-read-mmp", lambda b: _drop(b, "lastTriggerTime"), "lastTriggerTime is missing"),
        ("aevo-read-mmp", lambda b: _drop(b, "triggered"), "triggered is missing"),
        (
            "deribit-read-get_mmp_status",
            lambda b: {**b, "result": [_drop(i, "frozen_until") for i in b["result"]]},
            "frozen_until is missing",
        ),
        (
            "bullish-read-mmp-configuration",
            lambda b: {
                **b,
                "mmpConfigurations": [_drop(i, "isActive") for i in b["mmpConfigurations"]],
            },
            "isActive is missing",
        ),
        # read as "no such limit" before
        ("aevo-read-mmp", lambda b: _drop(b, "delta_limit"), "delta_limit is missing"),
        (
            "bullish-read-mmp-configuration",
            lambda b: {
                **b,
                "mmpConfigurations": [_drop(i, "deltaLimit") for i in b["mmpConfigurations"]],
            },
            "deltaLimit is missing",
        ),
        # an answer about something else than what was asked
        (
            "binance-read-mmp",
            lambda b: {**b, "underlying": "ETHUSDT"},
            "underlying is not the one asked for",
        ),
        ("aevo-read-mmp", lambda b: {**b, "asset": "ETH"}, "asset is not the one asked for"),
        (
            "bullish-read-mmp-configuration",
            lambda b: {**b, "tradingAccountId": "1"},
            "tradingAccountId is not the trading account asked for",
        ),
        (
            "deribit-read-get_mmp_config",
            lambda b: {**b, "result": b["result"] + b["result"][:1]},
            "result lists deribit/acct/btc_usd twice",
        ),
        # a trade count is a whole number of trades (Block RFQ's `all`)
        (
            "deribit-read-get_mmp_config-block_rfq",
            lambda b: _each(b, "trade_count_limit", Decimal("1.5")),
            "trade_count_limit is not a whole number from 0 to 2^63-1 (it is a number)",
        ),
        # a set answered with the other space's config: never taken as the one asked for (a
        # read listing both spaces is a reading, status_lists_all: its items of the other
        # space are left to that space's read, tests/test_block_rfq.py)
        (
            "deribit-set-set_mmp_config-block_rfq",
            lambda b: {**b, "result": {**b["result"], "block_rfq": False}},
            "block_rfq says order/quote MMP in an answer about Block RFQ MMP",
        ),
        (
            "deribit-set-set_mmp_config",
            lambda b: {**b, "result": {**b["result"], "block_rfq": True}},
            "block_rfq says Block RFQ MMP in an answer about order/quote MMP",
        ),
        # a write acknowledged in a shape we cannot read: it may have been applied
        ("bullish-set-mmp-configuration", lambda b: _drop(b, "requestId"), "requestId is missing"),
        ("aevo-set-mmp", lambda b: {}, "success is missing"),
        (
            "deribit-reset-reset_mmp",
            lambda b: {**b, "result": "done"},
            'result is not "ok" (it is a string)',
        ),
        ("deribit-set-set_mmp_config", lambda b: _drop(b, "result"), "result is missing"),
    ],
)
def test_what_was_read_as_a_default_is_now_unavailable(
    call_id: str, mutate: Callable[[Any], Any], message: str
) -> None:
    [call] = [c for c in CALLS if c.id == call_id]
    got, _ = _call(call, mutate)
    assert isinstance(got, VenueUnavailable), got
    assert str(got).endswith(f"malformed answer to {call.target[0]} {call.target[1]}: {message}")
    assert got.maybe_applied  # on a write, read back before believing anything


def _drop(body: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != name}


def _each(body: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    """Every item of the result that has the field, with it set to `value`."""
    items = [{**i, name: value} if name in i else i for i in body["result"]]
    return {**body, "result": items}


def test_an_acknowledgement_that_says_no_is_still_a_refusal() -> None:
    [call] = [c for c in CALLS if c.id == "aevo-set-mmp"]
    got, _ = _call(call, lambda body: {"success": False})
    assert isinstance(got, VenueRejected) and "success false" in str(got)


# each venue's own refusal of a write, as documented (VenueRow.rejection), on its set
REFUSALS = {
    call.id: ROWS[call.venue].rejection
    for call in CALLS
    if call.name == "set"
    and call.target[0] == "POST"
    and call.target[1] in ROWS[call.venue].write_paths
}


@pytest.mark.parametrize("call_id", sorted(REFUSALS))
def test_a_malformed_refusal_is_still_a_venue_error(call_id: str) -> None:
    """(e) A refusal (HTTP 400) whose body is broken the same ways: the venue said no, so
    any VenueError subclass will do, never a TypeError from classifying its code."""
    [call] = [c for c in CALLS if c.id == call_id]
    status, refusal = REFUSALS[call_id]
    got, _ = _call(call, lambda body: body, (status, refusal))
    assert isinstance(got, VenueRejected), got
    problems = []
    for mutation in _mutations(refusal):
        got, _ = _call(call, _applying(mutation), (status, refusal))
        if not isinstance(got, VenueError) or "{" in str(got):
            problems.append(f"{mutation}: {got!r}")
    assert not problems, "\n".join(problems[:20])
    assert {c.venue for c in CALLS if c.id in REFUSALS} == set(VENUES)


def test_an_unreadable_aevo_retry_after_is_no_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("reconciler.venues.http.BACKOFF_MS", 1)
    [call] = [c for c in CALLS if c.id == "aevo-set-mmp"]

    def limited(request: httpx.Request) -> httpx.Response:
        headers = {"X-RETRY-AFTER": "soon"}
        return httpx.Response(429, json={"error": "RATE_LIMIT_EXCEEDED"}, headers=headers)

    http = httpx.AsyncClient(base_url="https://venue.test", transport=httpx.MockTransport(limited))
    creds = Credentials({"API_KEY": "k", "API_SECRET": "s"})
    client = client_of("aevo", "acct", creds, http)
    with pytest.raises(VenueError, match="RATE_LIMIT_EXCEEDED"):
        asyncio.run(call.run(client))

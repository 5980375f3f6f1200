"""The venue interface: what a venue can do (Capabilities) and how we talk to it (VenueClient).

The planner and the validator read nothing about a venue but its Capabilities. Each venue
package provides a `VenueSpec` (capabilities, client factory, simulator factory) and the
registry in `reconciler.venues` lists them explicitly, so mypy checks every venue conforms.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar, runtime_checkable

from reconciler.core.mmpfields import BY_NAME, FREEZE, LIMIT, MmpField
from reconciler.core.model import FreezeState, LiveAccount, MmpConfig, ScopeKey
from reconciler.core.units import MANUAL, FreezeMs

if TYPE_CHECKING:
    import httpx

    from reconciler.venues.limiter import RequestLimiter


class ChangeMode(enum.Enum):
    UPSERT = "upsert"  # one set replaces the config in place
    RESET_THEN_SET = "reset-then-set"  # clear the config, then set the new one


class RemoveMode(enum.Enum):
    SET_ZERO_WINDOW = "set-zero-window"  # a set with interval 0 removes the config
    RESET = "reset"  # the reset command clears the config
    UNSUPPORTED = "unsupported"  # the venue has no way to remove a config


class ResetMeaning(enum.Enum):
    UNFREEZE = "unfreeze"
    CLEAR = "clear"


class ResetReach(enum.Enum):
    """How far a set may reach in ending freezes: the broadest reach the venue's docs leave
    possible (Deribit: "Set config for MMP - triggers MMP reset", of what it does not say).
    A write is held while a scope it may reach, other than its own, is frozen (or may be):
    ending a freeze the venue applied after a trigger is never done silently."""

    SCOPE = "scope"  # the scope set, nothing else
    INDEX = "index"  # every scope of the same underlying in the same config space
    ACCOUNT = "account"  # every scope of the account, in every config space

    def reaches(self, key: ScopeKey, other: ScopeKey) -> bool:
        """Whether a set on `key` may end a freeze of `other` (a scope of the same account)."""
        if (key.venue, key.account) != (other.venue, other.account):
            return False
        if self is ResetReach.ACCOUNT or key == other:
            return True
        return self is ResetReach.INDEX and key.underlying == other.underlying


@dataclass(frozen=True)
class LimitBound:
    """A limit's documented range. `min_exclusive` for "must be positive". `decimals_assumed`:
    `max_decimals` is our assumption (the docs state none): a value with more is not refused
    (the venue decides, and a live one proves it takes it), only kept to by our simulator."""

    minimum: Decimal | None = Decimal(0)
    min_exclusive: bool = True
    maximum: Decimal | None = None
    max_decimals: int | None = None
    decimals_assumed: bool = False


@dataclass(frozen=True)
class DurationBound:
    """A duration the venue can express: min..max, in whole multiples of step (all ms).
    `max_assumed`: the maximum is our assumption (the docs state none): a longer duration is
    not refused (the venue decides, and a live one proves it takes it), only kept to by our
    simulator and our examples."""

    min_ms: int
    max_ms: int
    step_ms: int
    allow_manual: bool = False  # for `frozen`: "no automatic unfreeze" exists (the venue's 0)
    max_assumed: bool = False

    def unit_name(self) -> str:
        return {1: "milliseconds", 1000: "seconds", 60_000: "minutes"}.get(
            self.step_ms, f"multiples of {self.step_ms}ms"
        )

    def to_wire(self, value: FreezeMs) -> int:
        """The duration in the venue's own unit, exactly; `manual` is the venue's 0. One the
        venue cannot express is an error, never a rounding (validation refuses it first)."""
        if value == MANUAL:
            if not self.allow_manual:
                raise ValueError("this venue has no manual-reset freeze")
            return 0
        ms = int(value)
        if ms <= 0 or ms % self.step_ms:
            raise ValueError(f"{ms} ms is not a whole number of {self.unit_name()} above 0")
        return ms // self.step_ms

    def ms_from_wire(self, value: int) -> int:
        """A duration that has no `manual` (a window) back in milliseconds."""
        if value < 0:
            raise ValueError(f"a duration of {value} {self.unit_name()}")
        return value * self.step_ms

    def from_wire(self, value: int) -> FreezeMs:
        """The venue's number back in milliseconds; its 0 is `manual` where that exists."""
        if value == 0 and self.allow_manual:
            return MANUAL
        if value < 0:
            raise ValueError(f"a duration of {value} {self.unit_name()}")
        return value * self.step_ms


@dataclass(frozen=True)
class Discovery:
    """A venue that publishes its underlyings: `request` lists them, asked once per run per
    venue endpoint (reconciler.venues.discovery); mmp keeps no list of its own. Offline a
    name is only checked to be well formed: `pattern` (a regular expression it must match
    whole), said in words by `form`."""

    request: str
    pattern: str
    form: str


@dataclass(frozen=True)
class NameForm:
    """Where the underlyings a venue has are our assumption (its MMP endpoints list none):
    a name outside `Capabilities.underlyings` is taken when it matches `pattern` whole (said
    in words by `form`), so a new one the venue has, or has live, is never refused."""

    pattern: str
    form: str


# Capabilities.undocumented: field name -> a live value of undocumented meaning -> why;
# the value None stands for the field's limit missing from a live config
Undocumented = Mapping[str, Mapping[int | Decimal | str | None, str]]


@dataclass(frozen=True)
class Capabilities:
    """What a venue can express and how it behaves: all the planner and the validator's
    rules may know of it. How to reach it is its Connection."""

    venue: str
    limits: Mapping[str, LimitBound]  # supported limit fields and their bounds
    window: DurationBound
    frozen: DurationBound
    change: ChangeMode
    remove: RemoveMode
    reset_means: ResetMeaning
    synchronous: bool
    set_unfreezes: bool  # a set also resets a triggered freeze (Deribit)
    # what else a set's reset may reach, under the broadest reading the venue's docs leave
    # open: a write is held while a scope within it is frozen (Deribit: the account)
    set_reset_reach: ResetReach = ResetReach.SCOPE
    bulk_read: bool = False  # one read returns every scope of the account (Deribit, Bullish)
    # a request the venue refuses once it is this old (Binance's recvWindow, plus the 1 s its
    # clock may lag ours): a write whose answer was lost cannot land after that. None: the
    # venue refuses no request for its age, so a lost write may land at any time
    refuses_after_ms: int | None = None
    # a freeze no reset can shorten, where the venue documents one (Deribit: 1 s); None
    # where it documents none, and none is claimed
    minimum_freeze_ms: int | None = None
    # the venue tells only its last trigger time, and a freeze is read from it and the
    # configured frozen time (Binance): a write that lengthens the frozen time (or makes it
    # manual) may make a past trigger's freeze read, or be, in force again
    freeze_from_trigger: bool = False
    required_limits: frozenset[str] = frozenset()
    at_least_one_of: frozenset[str] = frozenset()
    groups: bool = False
    default_group_name: str = "default"
    max_group_name: int = 0
    max_groups_per_account: int = 0
    underlyings: frozenset[str] | None = None  # known names, None when open-ended
    names_assumed: NameForm | None = None  # `underlyings` is our assumption: others taken so
    label: str = ""  # whose rules, in messages, where not the venue's own (Block RFQ's `all`)
    discovery: Discovery | None = None  # the venue lists its underlyings: read at plan
    # an underlying whose rules differ from the others' (Deribit Block RFQ's `all`): its own
    by_underlying: Mapping[str, Capabilities] = field(default_factory=dict)
    # the venue's other MMP config spaces (Deribit's `block_rfq`), each a section of its own
    # in an account's policy, under its own rules; a scope of one is keyed `{space}:{name}`
    # (SPACE_SEPARATOR), which no underlying of the venue's own space spells
    spaces: Mapping[str, Capabilities] = field(default_factory=dict)
    undocumented: Undocumented = field(default_factory=dict)
    """Live values whose meaning the venue's docs leave open: field name -> value -> why. A
    value is one as read (a limit's Decimal 0, Bullish's freeze of int 0 ms), or None: a
    limit the live config lacks, where the venue reports one never set as a value its docs
    leave open (Bullish's "0", read as none). A change from one, or a limit added where the
    live config lacks it, has no known direction. Without a None key a limit added to a live
    config that lacks it tightens (Deribit: it omits a limit never set, no limit)."""

    def of_underlying(self, underlying: str) -> Capabilities:
        """The rules of one underlying's scopes."""
        return self.by_underlying.get(underlying, self)

    def supports(self, field_name: str) -> bool:
        """The required fields (the durations) always; a limit where the venue has it."""
        field = BY_NAME.get(field_name)
        return field is not None and (field.required or field_name in self.limits)

    def bound(self, field: MmpField) -> DurationBound:
        """The bound of a duration field: the freeze's, or the window's."""
        if field.kind is LIMIT:
            raise ValueError(f"{field.name} is a limit: see limits")
        return self.frozen if field.kind is FREEZE else self.window


@dataclass(frozen=True)
class Connection:
    """How to reach a venue: its environments, the credentials an account gives, and the
    request limits its docs set."""

    environments: Mapping[str, str]  # name -> base URL
    credential_vars: tuple[str, ...]  # env suffixes after the account's prefix
    # suffix -> (a regular expression the whole value must match, what it is): checked with
    # the variable named, before anything is sent (never the value itself)
    credential_formats: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    requests_per_second: int = 5  # the client-side limit per account, from the venue's docs
    burst: int = 10
    shared_limit: int = 0  # requests per shared_window_ms across all accounts (per IP); 0: none
    shared_window_ms: int = 0
    # headers every request to an environment carries (OKX demo trading: x-simulated-trading)
    environment_headers: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Credentials:
    """Resolved credentials; repr never shows the values."""

    values: Mapping[str, str]

    def __repr__(self) -> str:
        return f"Credentials({sorted(self.values)})"

    def __getitem__(self, name: str) -> str:
        return self.values[name]


class VenueClient(Protocol):
    """One account on one venue.

    Contract:
    - `read(underlyings)` must return every scope the account has on the venue (declared or
      not), with its config normalised to the canonical model and its freeze state; one
      pass, no writes. `underlyings` are those the policies declare for the account: a venue
      with a bulk read ignores them; a venue that reads one underlying at a time must read
      at least these and every underlying it knows of (where the venue lists them,
      Capabilities.discovery, every one it lists, and a declared one it does not list
      raises discovery.Unlisted before anything is read). With `only` (apply's read-back
      of one scope) it may read just those underlyings; a bulk read still returns everything.
    - `set_config()` must create or replace exactly one scope's config and nothing else. It
      must raise a VenueError subclass carrying the venue's code and message on refusal.
    - `remove_config()` must remove one scope's config; venues with RemoveMode.UNSUPPORTED
      raise VenueRejected (the validator stops such plans long before).
    - `reset()` is the venue's reset (Capabilities.reset_means says what that does). It is
      called only by `mmp unfreeze` and, for RESET_THEN_SET venues, by replacement steps.
    - No method may log or raise anything containing a credential.
    """

    capabilities: Capabilities
    account: str

    async def read(
        self, underlyings: frozenset[str] = frozenset(), *, only: frozenset[str] | None = None
    ) -> LiveAccount: ...

    async def set_config(self, key: ScopeKey, config: MmpConfig) -> None: ...

    async def remove_config(self, key: ScopeKey, before: MmpConfig) -> None: ...

    async def reset(self, key: ScopeKey) -> None: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class Said:
    """A venue's final word on one command, pushed on its private channel."""

    applied: bool
    reason: str  # the venue's own words (Bullish: statusReason)


class PushChannel(Protocol):
    """An account's private push channel (VenueSpec.push makes it, for an account reached
    over the network): what the venue tells the moment it happens. It closes the gap between
    apply's check before a write and the write, and on an asynchronous venue tells a
    command's outcome without polling. It is never the only way: when it cannot open or it
    drops, `down` says why and apply goes on with REST reads. No method raises a venue or
    network error."""

    @property
    def down(self) -> str:
        """Why the channel is not open ("" while it is)."""

    @property
    def since_ns(self) -> int | None:
        """When (monotonic ns) its subscriptions were confirmed: a push covers from then on."""

    async def open(self, underlyings: frozenset[str]) -> None:
        """Connect and subscribe, where the venue subscribes per underlying for these too;
        once is enough (a second call adds what the first did not cover)."""

    def frozen(self, key: ScopeKey, after_ns: int) -> FreezeState | None:
        """A freeze of `key` pushed after `after_ns` (monotonic ns), or one the channel knows
        is still in force; None when it knows of none."""

    async def confirm(self) -> None:
        """Prove the channel live now, before apply trusts it for a write: a round trip the
        venue answers after everything it pushed before (Bullish: keepalivePing). A channel
        that cannot prove it (an open socket that stopped delivering) goes down, saying why;
        one with no such round trip returns at once."""

    async def outcome(self, key: ScopeKey) -> Said | None:
        """The venue's final word on the last command sent to `key` (an asynchronous venue),
        waiting for it; None at once when the channel cannot tell (down, no such command)."""

    async def aclose(self) -> None: ...


PushFactory = Callable[[VenueClient, str], PushChannel]
"""(the account's client as VenueSpec.client made it, its base URL) -> its push channel."""


class SimulatedDesk(Protocol):
    """A venue's simulator set up for `--sandbox`: seeded desk, credentials, saved state."""

    def credentials(self, account: str) -> Credentials:
        """Sandbox credentials for an account, creating it on the simulator if new."""
        ...

    def transport(self) -> httpx.AsyncBaseTransport: ...

    def dump(self) -> dict[str, object]: ...


DeskFactory = Callable[[dict[str, object] | None], SimulatedDesk]
"""(saved state, or None to seed the example desk) -> the venue's simulated desk."""


S = TypeVar("S")

ClientFactory = Callable[[str, Credentials, "httpx.AsyncClient", "RequestLimiter", S], VenueClient]
"""(account name, credentials, http client with base_url set, the account's rate limits,
what the accounts of one venue endpoint share) -> client."""


@dataclass(frozen=True)
class VenueSpec(Generic[S]):
    """One venue: what it can do, how to make its clients (and, optionally, each account's
    push channel), its simulated desk for `--sandbox`. `S` is what the accounts of one venue
    endpoint share (Bullish: the day's nonce bounds), made once per endpoint by
    `endpoint_state`; `None` where they share nothing. The factories import their modules
    when called (start-up stays fast), each typed, so mypy checks that a client's
    constructor and the protocol match."""

    capabilities: Capabilities
    connection: Connection
    client: ClientFactory[S]
    endpoint_state: Callable[[], S]
    desk: DeskFactory
    push: PushFactory | None = None  # a private push channel, where the venue has one


def nothing() -> None:
    """The endpoint state of a venue whose accounts share nothing."""


@runtime_checkable
class Learning(Protocol):
    """An endpoint state that finds out during a run how its venue reads a point its docs
    leave open (Aevo: whether a signature covers the query string), and keeps it for the
    rest of the run: what it found, for apply's journal."""

    def learned(self) -> list[dict[str, str]]: ...

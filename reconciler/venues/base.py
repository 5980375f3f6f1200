"""The venue interface: what a venue can do (Capabilities) and how we talk to it (VenueClient).

The planner and the validator read nothing about a venue but its Capabilities. Each venue
package provides a `VenueSpec` (capabilities, client factory, simulator factory) and the
registry in `reconciler.venues` lists them explicitly, so mypy checks every venue conforms.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, cast

from reconciler.model import LiveAccount, MmpConfig, ScopeKey

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


@dataclass(frozen=True)
class LimitBound:
    """A limit's documented range. `min_exclusive` for "must be positive"."""

    minimum: Decimal | None = Decimal(0)
    min_exclusive: bool = True
    maximum: Decimal | None = None
    max_decimals: int | None = None


@dataclass(frozen=True)
class DurationBound:
    """A duration the venue can express: min..max, in whole multiples of step (all ms)."""

    min_ms: int
    max_ms: int
    step_ms: int
    allow_manual: bool = True  # for `frozen`: whether "no automatic unfreeze" exists

    def unit_name(self) -> str:
        return {1: "milliseconds", 1000: "seconds", 60_000: "minutes"}.get(
            self.step_ms, f"multiples of {self.step_ms}ms"
        )


@dataclass(frozen=True)
class Capabilities:
    """Everything the planner and validator may know about a venue."""

    venue: str
    limits: Mapping[str, LimitBound]  # supported limit fields and their bounds
    window: DurationBound
    frozen: DurationBound
    change: ChangeMode
    remove: RemoveMode
    reset_means: ResetMeaning
    synchronous: bool
    set_unfreezes: bool  # a set also resets a triggered freeze (Deribit)
    bulk_read: bool = False  # one read returns every scope of the account (Deribit, Bullish)
    required_limits: frozenset[str] = frozenset()
    at_least_one_of: frozenset[str] = frozenset()
    groups: bool = False
    default_group_name: str = "default"
    max_group_name: int = 0
    max_groups_per_account: int = 0
    underlyings: frozenset[str] | None = None  # known names, None when open-ended
    environments: Mapping[str, str] = field(default_factory=dict)  # name -> base URL
    credential_vars: tuple[str, ...] = ()  # env suffixes after the account's prefix
    # suffix -> (a regular expression the whole value must match, what it is): checked with
    # the variable named, before anything is sent (never the value itself)
    credential_formats: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    requests_per_second: int = 5  # the client-side limit per account, from the venue's docs
    burst: int = 10
    shared_limit: int = 0  # requests per shared_window_ms across all accounts (per IP); 0: none
    shared_window_ms: int = 0
    notes: str = ""

    def supports(self, field_name: str) -> bool:
        return field_name in ("window", "frozen") or field_name in self.limits


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
      at least these and every underlying it knows of. With `only` (apply's read-back of
      one scope) it may read just those underlyings; a bulk read still returns everything.
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


Shared = dict[str, Any]
"""Facts one venue endpoint gives every account alike (Bullish's nonce bounds of the day),
read once per endpoint instead of once per account; one dict per endpoint, made by connect."""

ClientFactory = Callable[
    [str, Credentials, "httpx.AsyncClient", "RequestLimiter | None", "Shared | None"],
    VenueClient,
]
"""(account name, credentials, http client with base_url set, the account's limits, what the
accounts of one venue endpoint share) -> client. Without limits a client makes its own
per-account bucket from its capabilities; without `shared`, it shares nothing."""


class VenueSandbox(Protocol):
    """A venue's simulator set up for `--sandbox`: seeded desk, credentials, saved state."""

    def credentials(self, account: str) -> Credentials:
        """Sandbox credentials for an account, creating it on the simulator if new."""
        ...

    def transport(self) -> httpx.AsyncBaseTransport: ...

    def dump(self) -> dict[str, object]: ...


SandboxFactory = Callable[[dict[str, object] | None], VenueSandbox]
"""(saved state, or None to seed the example desk) -> sandbox."""


@dataclass(frozen=True)
class VenueSpec:
    capabilities: Capabilities
    client: ClientFactory
    sandbox: SandboxFactory


def lazy_venue(capabilities: Capabilities, package: str, client_class: str) -> VenueSpec:
    """A VenueSpec whose client (`<package>.client.<client_class>`) and sandbox
    (`<package>.sandbox.make`) are imported only when used, so start-up stays fast.
    Each client module states `type[VenueClient]` conformance itself, checked by mypy."""

    def client(
        account: str,
        credentials: Credentials,
        http: httpx.AsyncClient,
        limiter: RequestLimiter | None = None,
        shared: Shared | None = None,
    ) -> VenueClient:
        factory = getattr(importlib.import_module(f"{package}.client"), client_class)
        client = factory(account, credentials, http, limiter=limiter, shared=shared)
        return cast(VenueClient, client)

    def sandbox(state: dict[str, object] | None) -> VenueSandbox:
        return cast(VenueSandbox, importlib.import_module(f"{package}.sandbox").make(state))

    return VenueSpec(capabilities=capabilities, client=client, sandbox=sandbox)

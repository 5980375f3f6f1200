"""The canonical model: one shape for desired and live MMP state, whatever the venue.

Every venue client normalises its wire format into these types, and the planner, the
renderers and apply's verification compare nothing else. Durations are milliseconds, limits
are Decimal, a field the venue reports as unset is None, and `frozen_ms` is MANUAL when the
venue needs a manual reset.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from reconciler.core.mmpfields import FIELDS, LIMITS, NAMES, FieldValue, MmpField, named
from reconciler.core.units import FreezeMs, decimal_text, dumps_exact

# the field names of reconciler.core.mmpfields, for code that takes fields by name
ALL_FIELDS: tuple[str, ...] = NAMES
LIMIT_FIELDS: tuple[str, ...] = tuple(f.name for f in LIMITS)


SPACE_SEPARATOR = ":"
"""Between a config space and an underlying: `block_rfq:all` is Deribit Block RFQ's `all`.
No venue's underlying spells it, so a scope of another space never reads as one of the
venue's own (order/quote) MMP, nor as one of its groups, which come after a `/`."""


def in_space(space: str | None, underlying: str) -> str:
    """The underlying of a ScopeKey in a venue's config space (None: its own MMP)."""
    return underlying if space is None else f"{space}{SPACE_SEPARATOR}{underlying}"


def split_space(underlying: str) -> tuple[str | None, str]:
    """in_space's inverse: (space or None, the venue's own name of the underlying)."""
    space, separator, name = underlying.partition(SPACE_SEPARATOR)
    return (space, name) if separator else (None, underlying)


@dataclass(frozen=True, order=True)
class ScopeKey:
    """venue/account/underlying[/group]; group None is the venue's default (regular orders)."""

    venue: str
    account: str
    underlying: str
    group: str | None = None

    def __str__(self) -> str:
        parts = [self.venue, self.account, self.underlying]
        if self.group is not None:
            parts.append(self.group)
        return "/".join(parts)

    def sort_key(self) -> tuple[str, str, str, int, str]:
        return (self.venue, self.account, self.underlying, self.group is not None, self.group or "")

    def to_data(self) -> dict[str, Any]:
        return {
            "venue": self.venue,
            "account": self.account,
            "underlying": self.underlying,
            "group": self.group,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> ScopeKey:
        return cls(data["venue"], data["account"], data["underlying"], data.get("group"))


@dataclass(frozen=True)
class MmpConfig:
    """One scope's MMP settings in canonical units."""

    window_ms: int
    frozen_ms: FreezeMs
    quantity_limit: Decimal | None = None
    delta_limit: Decimal | None = None
    vega_limit: Decimal | None = None
    max_quote_quantity: Decimal | None = None
    trade_count_limit: Decimal | None = None  # a count: a whole number (Deribit Block RFQ)

    def value(self, field: MmpField | str) -> FieldValue:
        """One field's value (None: not set), by its record or its name."""
        value: FieldValue = getattr(self, named(field).attribute)
        return value

    def to_data(self) -> dict[str, Any]:
        """Plain, JSON-safe, canonical: equal configs give equal data (2.50 == 2.5)."""
        values = ((f, self.value(f)) for f in FIELDS)
        return {f.attribute: f.data(v) for f, v in values if v is not None or not f.rare}

    def shown(self) -> str:
        """For people, in policy units, each field set: 'window 5s, frozen manual,
        quantity_limit 2.5' (never the raw data: milliseconds and field attributes)."""
        values = ((f, self.value(f)) for f in FIELDS)
        return ", ".join(f"{f.name} {f.show(v)}" for f, v in values if v is not None)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> MmpConfig:
        """The inverse of to_data."""
        values: dict[str, Any] = {f.attribute: f.load(data, f.attribute) for f in FIELDS}
        return cls(**values)

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> MmpConfig:
        """A config from parsed policy values by field name; a required one missing is a
        KeyError."""
        given: dict[str, Any] = {
            f.attribute: values[f.name] if f.required else values.get(f.name) for f in FIELDS
        }
        return cls(**given)

    def with_changes(self, **changes: Any) -> MmpConfig:
        return replace(self, **changes)


@dataclass(frozen=True)
class FreezeState:
    """Whether quoting is frozen after a trigger. until_ms None with frozen=True: manual reset.

    Three states: frozen, not frozen, and unknown. `unknown` (non-empty) says why the venue
    cannot tell whether the scope is frozen; `frozen` is then False. A venue that later tells
    the freeze (a trigger event, a snapshot) gives a known state instead.

    An unknown state is one of two kinds, told apart by `trigger_unresolved`:
    - with evidence of a trigger: the venue recorded one (`last_trigger_ms`) and does not
      tell whether its freeze has ended (a Binance manual freeze, whose reset the venue does
      not report). Changes to it are held (`holds_changes`) until a person checks it and
      `--include-held` names it.
    - without any (Bullish's REST read, no trigger event seen): nothing says it is frozen,
      so a change to it is written, never silently: the step says that if the scope is
      frozen the write may end the freeze, and every output flags it.
    A venue's wire module sets the kind by what it passes to `unknown_because`: the trigger
    time it recorded, or none.
    """

    frozen: bool
    until_ms: int | None = None
    detail: str = ""  # when the venue cannot say until when (Bullish)
    last_trigger_ms: int | None = None  # where the venue tells it (Binance)
    unknown: str = ""  # why the venue cannot tell whether the scope is frozen; "": it tells

    def __post_init__(self) -> None:
        if self.unknown and self.frozen:
            raise ValueError("a freeze state is frozen or unknown, not both")

    @classmethod
    def unknown_because(cls, why: str, *, last_trigger_ms: int | None = None) -> FreezeState:
        """The venue cannot tell whether the scope is frozen, for this reason. With
        `last_trigger_ms`, the trigger it recorded and does not tell the end of (changes are
        held: `trigger_unresolved`); without, there is no evidence of a freeze (written,
        flagged)."""
        if not why:
            raise ValueError("an unknown freeze state says why")
        return cls(False, last_trigger_ms=last_trigger_ms, unknown=why)

    @property
    def known(self) -> bool:
        return not self.unknown

    @property
    def may_be_frozen(self) -> bool:
        """Frozen, or the venue cannot tell: shown wherever a frozen scope is."""
        return self.frozen or bool(self.unknown)

    @property
    def trigger_unresolved(self) -> bool:
        """Unknown, and the venue recorded a trigger whose freeze it does not tell the end
        of: evidence that the scope may be frozen."""
        return bool(self.unknown) and self.last_trigger_ms is not None

    @property
    def holds_changes(self) -> bool:
        """A change to it is held (unless a person checked it: --include-held): frozen, or
        unknown with a trigger unresolved. Unknown without evidence is written, flagged."""
        return self.frozen or self.trigger_unresolved

    def to_data(self) -> dict[str, Any]:
        """`frozen` is null when the state is unknown, and `unknown` says why."""
        data: dict[str, Any] = {
            "frozen": None if self.unknown else self.frozen,
            "until_ms": self.until_ms,
        }
        if self.detail:
            data["detail"] = self.detail
        if self.last_trigger_ms is not None:
            data["last_trigger_ms"] = self.last_trigger_ms
        if self.unknown:
            data["unknown"] = self.unknown
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any] | None) -> FreezeState:
        if not data:
            return NOT_FROZEN
        unknown = str(data.get("unknown") or "")
        return cls(
            False if unknown else bool(data["frozen"]),
            data.get("until_ms"),
            data.get("detail", ""),
            data.get("last_trigger_ms"),
            unknown,
        )


NOT_FROZEN = FreezeState(False)


@dataclass(frozen=True)
class LiveScope:
    """What a venue reports for one scope: its config (None: none set) and freeze state."""

    key: ScopeKey
    config: MmpConfig | None
    freeze: FreezeState = NOT_FROZEN

    @property
    def present(self) -> bool:
        """The venue has something for this scope: a config, or a freeze (or maybe one)."""
        return self.config is not None or self.freeze.may_be_frozen

    def to_data(self) -> dict[str, Any]:
        return {
            "scope": self.key.to_data(),
            "config": None if self.config is None else self.config.to_data(),
            "freeze": self.freeze.to_data(),
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> LiveScope:
        config = data.get("config")
        return cls(
            key=ScopeKey.from_data(data["scope"]),
            config=None if config is None else MmpConfig.from_data(config),
            freeze=FreezeState.from_data(data.get("freeze")),
        )


@dataclass(frozen=True)
class LiveAccount:
    """Every scope one account has on its venue, as read in one pass. `notes`: what the read
    could not see and why, where that stops nothing (Deribit: Block RFQ MMP on an account
    that declares none, with a key that may not read it); plan and status say each."""

    venue: str
    account: str
    scopes: tuple[LiveScope, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = ()

    def by_key(self) -> dict[ScopeKey, LiveScope]:
        return {scope.key: scope for scope in self.scopes}

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "venue": self.venue,
            "account": self.account,
            "scopes": [scope.to_data() for scope in self.scopes],
        }
        if self.notes:
            data["notes"] = list(self.notes)
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> LiveAccount:
        scopes = tuple(LiveScope.from_data(scope) for scope in data["scopes"])
        notes = tuple(str(note) for note in data.get("notes", ()))
        return cls(str(data["venue"]), str(data["account"]), scopes, notes)

    def said(self) -> list[str]:
        """Its notes, each named by venue/account."""
        return [f"{self.venue}/{self.account}: {note}" for note in self.notes]


def scope_digest(scope: LiveScope) -> str:
    """What the fingerprint sees of one scope: its config and its freeze state (frozen, not
    frozen or unknown) and the last trigger where the venue tells it, so a new trigger, or a
    state that became unknown or known, moves the fingerprint.

    The frozen-until time is left out on purpose: it moves with the clock on some venues,
    while the question a saved plan must answer is whether the scope is frozen at all.
    """
    config = scope.config
    fields = "none" if config is None else ",".join(_canonical_fields(config))
    freeze = scope.freeze
    text = f"{fields};frozen={freeze.frozen}"
    if freeze.unknown:
        text += ";unknown"
    if freeze.last_trigger_ms is not None:
        text += f";trigger={freeze.last_trigger_ms}"
    return hashlib.sha256(text.encode()).hexdigest()


def _canonical_fields(config: MmpConfig) -> list[str]:
    """Each field's text; a rare field only when set (a digest without it is as before)."""
    values = ((f, config.value(f)) for f in FIELDS)
    return [_canonical(v) for f, v in values if v is not None or not f.rare]


def _canonical(value: FieldValue) -> str:
    if value is None:
        return "-"
    return decimal_text(value) if isinstance(value, Decimal) else str(value)


def live_digests(accounts: list[LiveAccount]) -> dict[str, str]:
    """scope -> digest for every scope that has a config or is frozen."""
    return {
        str(scope.key): scope_digest(scope)
        for account in accounts
        for scope in account.scopes
        if scope.present
    }


def fingerprint_of(digests: dict[str, str]) -> str:
    """sha256 over the scope digests in a fixed order. Equal live state, equal fingerprint."""
    text = dumps_exact(sorted(digests.items()), sort_keys=True)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

"""Plan types: a closed set of actions, field changes classed tightening or loosening, and
the plan as an immutable value with a fingerprint of the live state it was made from.

The `reason` of a step is for people only; apply never reads it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from reconciler.core.model import NOT_FROZEN, FreezeState, MmpConfig, ScopeKey
from reconciler.core.units import MANUAL, decimal_text

SCHEMA_VERSION = 1


class Action(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"  # reset, then set: the scope is without MMP in between
    REMOVE = "remove"
    HELD = "held"  # frozen, or may be: a write could unfreeze it, so nothing is written
    UNCHANGED = "unchanged"
    UNMANAGED = "unmanaged"  # live, not in the policies: reported, never touched

    @property
    def writes(self) -> bool:
        return self in WRITES

    @property
    def rank(self) -> int:
        return ORDER.index(self)


# Execution and display order: protection goes on before protection comes off.
ORDER = (
    Action.CREATE,
    Action.UPDATE,
    Action.REPLACE,
    Action.REMOVE,
    Action.HELD,
    Action.UNMANAGED,
    Action.UNCHANGED,
)
WRITES = frozenset({Action.CREATE, Action.UPDATE, Action.REPLACE, Action.REMOVE})


class Direction(enum.Enum):
    TIGHTENING = "tightening"
    LOOSENING = "loosening"
    # the live value's meaning is undocumented on its venue (Capabilities.undocumented): no
    # known direction; heal leaves it for a person and the guardrails count it a loosening
    UNKNOWN = "direction unknown"


FieldValue = int | str | Decimal | None


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: FieldValue
    after: FieldValue
    direction: Direction
    note: str = ""  # for UNKNOWN: why (e.g. "Bullish freeze 0 is undocumented")

    @property
    def said(self) -> str:
        """The direction as plans show it: `tightening`, or `direction unknown (why)`."""
        return f"{self.direction.value} ({self.note})" if self.note else self.direction.value

    def to_data(self) -> dict[str, Any]:
        data = {
            "field": self.field,
            "before": _value_data(self.before),
            "after": _value_data(self.after),
            "direction": self.direction.value,
        }
        return {**data, "note": self.note} if self.note else data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> FieldChange:
        def value(raw: Any) -> FieldValue:
            if raw is None or raw == MANUAL or isinstance(raw, int):
                return raw  # type: ignore[no-any-return]
            return Decimal(str(raw))

        return cls(
            data["field"],
            value(data["before"]),
            value(data["after"]),
            Direction(data["direction"]),
            data.get("note", ""),
        )


def _value_data(value: FieldValue) -> Any:
    return decimal_text(value) if isinstance(value, Decimal) else value


@dataclass(frozen=True)
class Step:
    key: ScopeKey
    action: Action
    before: MmpConfig | None
    after: MmpConfig | None
    changes: tuple[FieldChange, ...] = ()
    freeze: FreezeState = NOT_FROZEN
    held_action: Action | None = None  # for HELD: what would have been done
    where: str = ""  # policy file:line:col, for people
    reason: str = ""  # for people only; apply never reads it
    # a write that may bring a past trigger's freeze back (core.freezes.refreezes): flagged
    refreeze: str = ""
    # other scopes, frozen or that may be, whose freeze this write's set may end
    # (Capabilities.set_reset_reach): held for them, or written only by --include-held
    reaches: tuple[str, ...] = ()

    @property
    def loosening(self) -> bool:
        """A field loosens, or moves from a value of undocumented meaning (no known way)."""
        return any(c.direction is not Direction.TIGHTENING for c in self.changes)

    @property
    def unprotected(self) -> bool:
        """Declared with a config, and the venue has none: to create, or held by a freeze."""
        return self.action is Action.CREATE or (
            self.action is Action.HELD and self.held_action is Action.CREATE
        )

    @property
    def written_unknown(self) -> bool:
        """A write to a scope whose freeze state is unknown with no trigger seen: written,
        flagged (its reason says what the write may do to a freeze the scope might have)."""
        return (
            self.action.writes and bool(self.freeze.unknown) and not self.freeze.trigger_unresolved
        )

    @property
    def pending(self) -> bool:
        """Held by a freeze while its live config differs from the policies."""
        return self.action is Action.HELD and bool(self.changes)

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "scope": str(self.key),
            "key": self.key.to_data(),
            "action": self.action.value,
            "held_action": None if self.held_action is None else self.held_action.value,
            "before": None if self.before is None else self.before.to_data(),
            "after": None if self.after is None else self.after.to_data(),
            "changes": [c.to_data() for c in self.changes],
            "loosening": self.loosening,
            "freeze": self.freeze.to_data(),
            "where": self.where,
            "reason": self.reason,
            "refreeze": self.refreeze or None,
        }
        if self.reaches:  # only where a set may end another scope's freeze
            data["reaches"] = list(self.reaches)
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Step:
        return cls(
            key=ScopeKey.from_data(data["key"]),
            action=Action(data["action"]),
            before=None if data["before"] is None else MmpConfig.from_data(data["before"]),
            after=None if data["after"] is None else MmpConfig.from_data(data["after"]),
            changes=tuple(FieldChange.from_data(c) for c in data["changes"]),
            freeze=FreezeState.from_data(data["freeze"]),
            held_action=None if data["held_action"] is None else Action(data["held_action"]),
            where=data.get("where", ""),
            reason=data.get("reason", ""),
            refreeze=data.get("refreeze") or "",
            reaches=tuple(data.get("reaches", ())),
        )


@dataclass(frozen=True)
class Inclusion:
    """Held scopes a person checked on the venue and lets apply write: `--include-held
    SCOPE@TRIGGER` with `--reason TEXT`, and who planned it. Only a scope held because its
    freeze state is unknown (after a trigger the venue does not tell the end of) is written
    by it, and only while the venue's last trigger is the one the person checked
    (`triggers`: scope -> ms, as named); one whose freeze state is unknown with no trigger
    seen is written anyway, and naming it is accepted and journaled as given; one the venue
    reports frozen is refused. The plan records it, and a saved plan runs with it only when
    apply's command line names the same scopes."""

    scopes: tuple[str, ...] = ()
    reason: str = ""
    by: str = ""
    triggers: tuple[tuple[str, int], ...] = ()  # (scope, the trigger checked, ms), sorted

    def __bool__(self) -> bool:
        return bool(self.scopes)

    def said(self) -> str:
        return f"--include-held by {self.by}: {self.reason}"

    def trigger(self, scope: str) -> int | None:
        """The trigger time the person named with the scope, if any."""
        return dict(self.triggers).get(scope)

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"scopes": list(self.scopes), "reason": self.reason, "by": self.by}
        if self.triggers:
            data["triggers"] = dict(self.triggers)
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any] | None) -> Inclusion:
        if not data:
            return cls()
        scopes = data["scopes"]
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise ValueError("include_held.scopes is not a list of scopes")
        triggers = data.get("triggers") or {}
        if not isinstance(triggers, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in triggers.values()
        ):
            raise ValueError("include_held.triggers is not scope -> milliseconds")
        named = tuple(sorted((str(k), v) for k, v in triggers.items()))
        return cls(tuple(sorted(set(scopes))), str(data["reason"]), str(data["by"]), named)


NO_INCLUSION = Inclusion()


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    fingerprint: str  # of the live state the plan was made from
    digests: dict[str, str] = field(default_factory=dict)  # scope -> digest, to name what moved
    accounts: tuple[str, ...] = ()
    filters: dict[str, list[str]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    trips: tuple[str, ...] = ()  # guardrails apply refuses without --force, with the numbers
    sandbox: bool = False  # made against the simulators, not the venues
    included: Inclusion = field(default_factory=Inclusion)  # held scopes written by consent

    def counts(self) -> dict[str, int]:
        counts = {action.value: 0 for action in ORDER}
        for step in self.steps:
            counts[step.action.value] += 1
        return counts

    @property
    def writes(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if step.action.writes)

    @property
    def has_changes(self) -> bool:
        return bool(self.writes)

    @property
    def unprotected(self) -> tuple[Step, ...]:
        """Declared scopes with no MMP config live, in plan order (creates, then held creates).

        A filtered or sharded plan knows only the scopes it planned.
        """
        return tuple(step for step in self.steps if step.unprotected)

    @property
    def written_although_held(self) -> tuple[Step, ...]:
        """Writes to scopes whose venue recorded a trigger and does not tell whether its freeze
        ended, or whose set may end another scope's freeze: only ever by --include-held."""
        return tuple(step for step in self.writes if step.freeze.trigger_unresolved or step.reaches)

    @property
    def written_unknown(self) -> tuple[Step, ...]:
        """Writes to scopes whose freeze state is unknown with no trigger seen: written,
        flagged (if the scope is frozen, the write may end the freeze)."""
        return tuple(step for step in self.steps if step.written_unknown)

    @property
    def pending(self) -> tuple[Step, ...]:
        """Held scopes whose live config differs from the policies: applied once unfrozen."""
        return tuple(step for step in self.steps if step.pending)

    def summary(self) -> str:
        counts = self.counts()
        parts = [f"{counts[a.value]} to {a.value}" for a in ORDER[:4] if counts[a.value]]
        parts += [f"{counts[a.value]} {a.value}" for a in ORDER[4:] if counts[a.value]]
        head = "changes"
        if not self.has_changes:
            unprotected = len(self.unprotected)  # only held creates: nothing can be written
            head = f"nothing to apply, {unprotected} UNPROTECTED" if unprotected else "no changes"
        return f"Plan: {head}; " + (", ".join(parts) if parts else "nothing declared") + "."

    def to_data(self) -> dict[str, Any]:
        data = self._data()
        if self.included:  # only when given: a plan without keeps the same data as before
            data["include_held"] = self.included.to_data()
        return data

    def _data(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "fingerprint": self.fingerprint,
            "accounts": list(self.accounts),
            "filters": self.filters,
            "notes": list(self.notes),
            "summary": self.counts(),
            "has_changes": self.has_changes,
            "unprotected": [str(step.key) for step in self.unprotected],
            "sandbox": self.sandbox,
            "trips": list(self.trips),
            "steps": [s.to_data() for s in self.steps],
            "digests": dict(sorted(self.digests.items())),
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Plan:
        # summary, has_changes and unprotected are derived from the steps: not read back, so a
        # plan saved before a derived field existed loads the same (no schema version bump)
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(
                f"plan schema version {data.get('schema_version')} is not {SCHEMA_VERSION}"
            )
        return cls(
            steps=tuple(Step.from_data(s) for s in data["steps"]),
            fingerprint=data["fingerprint"],
            digests=dict(data.get("digests", {})),
            accounts=tuple(data.get("accounts", ())),
            filters=dict(data.get("filters", {})),
            notes=tuple(data.get("notes", ())),
            trips=tuple(str(trip) for trip in data.get("trips", ())),
            sandbox=data.get("sandbox", False) is True,
            included=Inclusion.from_data(data.get("include_held")),
        )

"""Desired state after loading and validation: what the policies ask for, with where they ask."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.model import MmpConfig, ScopeKey, in_space
from reconciler.core.units import dumps_exact


@dataclass(frozen=True)
class Location:
    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class AccountTarget:
    """One account entry: which venue, which endpoint, which environment-variable prefix."""

    name: str
    venue: str
    environment: str | None
    base_url: str | None
    credentials: str  # env prefix, e.g. DERIBIT_MAIN
    where: Location

    def endpoint(self) -> str:
        return self.base_url or f"environment:{self.environment}"


@dataclass(frozen=True)
class DesiredScope:
    """A declared scope; config None means the YAML marks it `absent` (remove it)."""

    key: ScopeKey
    config: MmpConfig | None
    where: Location


@dataclass
class DesiredState:
    accounts: dict[str, AccountTarget] = field(default_factory=dict)
    scopes: dict[ScopeKey, DesiredScope] = field(default_factory=dict)
    # (account, underlying) marked `absent` as a whole: every group of it is removed
    absent_underlyings: dict[tuple[str, str], Location] = field(default_factory=dict)
    # account -> the sections of other config spaces it has (`block_rfq`), empty ones too:
    # the venue reads such a space only for an account that has its section
    spaces: dict[str, set[str]] = field(default_factory=dict)

    def to_data(self) -> dict[str, Any]:
        return {
            "accounts": {
                name: {
                    "venue": acct.venue,
                    "environment": acct.environment,
                    "base_url": acct.base_url,
                    "credentials": acct.credentials,
                }
                for name, acct in sorted(self.accounts.items())
            },
            "scopes": [
                {
                    "scope": s.key.to_data(),
                    "config": None if s.config is None else s.config.to_data(),
                    "where": str(s.where),
                }
                for s in sorted(self.scopes.values(), key=lambda s: s.key.sort_key())
            ],
            "absent_underlyings": sorted(
                [account, underlying] for account, underlying in self.absent_underlyings
            ),
        }

    def declared_underlyings(self) -> dict[str, frozenset[str]]:
        """account -> every underlying the policies name for it (absent ones included), and
        `{space}:` for each section of another config space it has (reconciler.core.model
        in_space)."""
        found: dict[str, set[str]] = {name: set() for name in self.accounts}
        for key in self.scopes:
            found.setdefault(key.account, set()).add(key.underlying)
        for account, underlying in self.absent_underlyings:
            found.setdefault(account, set()).add(underlying)
        for account, spaces in self.spaces.items():  # `block_rfq:`: the section, if empty
            found.setdefault(account, set()).update(in_space(space, "") for space in spaces)
        return {name: frozenset(values) for name, values in found.items()}

    def managed(self) -> int:
        """How many scopes the desk manages: every declared scope, `absent` ones included."""
        return len(self.scopes) + len(self.absent_underlyings)

    def digest(self) -> str:
        data = self.to_data()
        for scope in data["scopes"]:
            scope.pop("where")  # moving a line is not a change of desired state
        return "sha256:" + hashlib.sha256(dumps_exact(data, sort_keys=True).encode()).hexdigest()

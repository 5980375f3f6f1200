"""Validate: turn policy files into DesiredState, applying each account's venue's rules.

One pass that collects: `reconciler.policy.shape` reads every field of every account on its own,
then each account is checked against its venue (its name, environment and credentials
prefix, the grouping of its scopes, the fields and bounds the venue supports, and what it
requires). Nothing is raised until every file was read, and then every problem at once,
sorted by file, line and column.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from reconciler.core.errors import Problem
from reconciler.core.mmpfields import FIELDS, NAMES
from reconciler.core.model import MmpConfig, ScopeKey, in_space
from reconciler.policy.desired import AccountTarget, DesiredScope, DesiredState, Location
from reconciler.policy.loader import (
    LocatedTree,
    guardrails_problems,
    parse_file,
    policy_files,
    raise_if,
    secret_key_problems,
)
from reconciler.policy.shape import Account, Fields, Underlying, kind, read_accounts, word_like
from reconciler.policy.venue_rules import (
    absent_problems,
    field_problems,
    group_rules,
    missing_problems,
    underlying_problems,
)
from reconciler.venues.base import Capabilities, Connection

Path_ = tuple[Any, ...]


def load_desired(
    root: Path,
    venues: Mapping[str, Capabilities],
    connections: Mapping[str, Connection] | None = None,
) -> DesiredState:
    """Load and validate every policy file under root; raise ConfigError with all problems.
    `connections`: how each venue is reached (environments, credential names); the
    registry's by default."""
    files = policy_files(root)
    misplaced = guardrails_problems(root)
    if not files and not misplaced:
        raise_if([_no_policy_files(root)])
    desk = _Desk(venues, _connections() if connections is None else connections)
    problems: list[Problem] = list(misplaced)
    for path in files:
        tree, parse_problems = parse_file(path)
        problems += parse_problems
        if tree is None:
            continue
        problems += secret_key_problems(tree)
        accounts, shape_problems = read_accounts(tree)
        problems += shape_problems
        for account in accounts:
            problems += _AccountCheck(tree, desk, account).run()
    raise_if(problems)
    return desk.state


def _no_policy_files(root: Path) -> Problem:
    if root.is_dir():
        why = (
            "has no policy files (*.yaml): declare your accounts in one, e.g. "
            f"{root / 'desk.yaml'} with `accounts:` (see the README), or pass --policies DIR"
        )
    else:
        why = "does not exist; run mmp from the root of your policy repository, or pass "
        why += "--policies DIR"
    return Problem(str(root), 0, 0, why)


@dataclass
class _Desk:
    """What the files read so far declare: accounts by name and by venue endpoint."""

    venues: Mapping[str, Capabilities]
    connections: Mapping[str, Connection]
    state: DesiredState = field(default_factory=DesiredState)
    declared: dict[str, Location] = field(default_factory=dict)
    endpoints: dict[tuple[str, str, str], tuple[str, Location]] = field(default_factory=dict)
    # credential variable -> the account that reads it, where it sends it, its location
    variables: dict[str, tuple[str, str, Location]] = field(default_factory=dict)


class _AccountCheck:
    """One account against its venue's rules; every problem is collected, none stops it."""

    def __init__(self, tree: LocatedTree, desk: _Desk, account: Account) -> None:
        self.tree, self.desk, self.account = tree, desk, account
        self.problems: list[Problem] = []
        self.named: list[ScopeKey] = []  # every scope named, valid or not

    def add(self, path: Path_, message: str, *, at_key: bool = False) -> None:
        self.problems.append(self.tree.problem(path, message, at_key=at_key))

    def run(self) -> list[Problem]:
        account = self.account
        where = self.tree.locate(account.path, at_key=True)
        first = self.desk.declared.setdefault(account.name, where)
        duplicate = first != where
        if duplicate:
            self.add(
                account.path,
                f"account `{account.name}` is already declared at {first}",
                at_key=True,
            )
        caps = self.venue()
        if caps is None:
            return self.problems
        self.problems += field_problems(self.tree, account.defaults, caps)
        scopes = self.scopes(caps)
        for space, underlyings in self.account.spaces.items():
            scopes += self.space_scopes(space, underlyings, caps)
        self.problems += group_rules(self.tree, account.path, self.named, caps)
        if not duplicate and self.endpoint(caps, where):
            self.desk.state.accounts[account.name] = AccountTarget(
                account.name,
                caps.venue,
                account.environment,
                account.base_url,
                str(account.credentials),
                where,
            )
            self.keep(scopes)
            for space in self.account.spaces:
                if space in caps.spaces:
                    self.desk.state.spaces.setdefault(account.name, set()).add(space)
        return self.problems

    def venue(self) -> Capabilities | None:
        account, venues = self.account, self.desk.venues
        known = ", ".join(sorted(venues))
        venue = account.venue
        caps = venues.get(venue) if isinstance(venue, str) else None
        self.credentials(caps)
        if caps is not None:
            return caps
        if not account.venue_given:
            self.add(account.path, f"`venue` is required (one of {known})", at_key=True)
        elif isinstance(venue, str) and venue.strip():
            match = get_close_matches(venue, list(venues), n=1)
            hint = f"; did you mean `{match[0]}`?" if match else ""
            shown = f" `{venue}`" if word_like(venue) else ""
            self.add((*account.path, "venue"), f"unknown venue{shown} (known: {known}){hint}")
        elif venue is None:
            self.add((*account.path, "venue"), f"venue is empty: write one of {known}")
        else:
            self.add((*account.path, "venue"), f"venue must be one of {known}, not {kind(venue)}")
        return None

    def credentials(self, caps: Capabilities | None) -> None:
        """`credentials: DERIBIT_X_CLIENT_ID` names one variable: the prefix is DERIBIT_X."""
        prefix = self.account.credentials
        if prefix is None:
            return
        mine = self.desk.connections.get(caps.venue) if caps else None
        every = [c.credential_vars for c in ([mine] if mine else self.desk.connections.values())]
        # only suffixes of two words or more: a prefix may well end in _KEY or _SECRET
        suffixes = sorted({s for names in every for s in names if "_" in s}, key=len)
        meant = next(
            (prefix.removesuffix(f"_{s}") for s in reversed(suffixes) if prefix.endswith(f"_{s}")),
            "",
        )
        if not meant:
            return
        self.account.endpoint_ok = False
        reads = "" if mine is None else _and(f"{meant}_{s}" for s in mine.credential_vars)
        self.add(
            (*self.account.path, "credentials"),
            f"credentials: `{prefix}` names one variable, but `credentials:` is the prefix of "
            f"the account's variables: write `{meant}`"
            + (f" (mmp then reads {reads})" if reads else ""),
        )

    def endpoint(self, caps: Capabilities, where: Location) -> bool:
        """Whether the account's endpoint is valid and declared once; register it if so."""
        account = self.account
        environment = account.environment
        environments = self.desk.connections[caps.venue].environments
        if environment is not None and environment not in environments:
            known = ", ".join(environments)
            self.add(
                (*account.path, "environment"),
                f"{caps.venue} has no `{environment}` environment ({known})",
            )
            return False
        if not account.endpoint_ok or account.credentials is None:
            return False
        endpoint = (
            caps.venue,
            account.base_url or f"environment:{environment}",
            account.credentials,
        )
        if endpoint in self.desk.endpoints:
            other, other_where = self.desk.endpoints[endpoint]
            self.add(
                (*account.path, "credentials"),
                f"account `{account.name}` uses the same venue account as `{other}` "
                f"({other_where}): the same keys reach the same account of the venue, so two "
                "policies would plan and apply its MMP against each other; one venue account "
                "must be declared once",
            )
            return False
        self.desk.endpoints[endpoint] = (account.name, where)
        return self.own_keys(caps, where)

    def own_keys(self, caps: Capabilities, where: Location) -> bool:
        """Whether no other account reads one of this account's credential variables (the
        same key would go to two venues, or to a venue's testnet and its production)."""
        account = self.account
        sends = f"{caps.venue} {account.environment or 'default environment'}"
        sends += " at its base_url" if account.base_url else ""
        clashes: dict[tuple[str, str, Location], list[str]] = {}
        for suffix in self.desk.connections[caps.venue].credential_vars:
            name = f"{account.credentials}_{suffix}"
            first = self.desk.variables.setdefault(name, (account.name, sends, where))
            if first[0] != account.name:
                clashes.setdefault(first, []).append(name)
        for (other, other_sends, other_where), names in clashes.items():
            self.add(
                (*account.path, "credentials"),
                f"account `{account.name}` ({sends}) reads {_and(names)}, as account "
                f"`{other}` ({other_sends}, {other_where}) does: one key would be sent to "
                "both, and a key must reach only the venue and environment it was made for; "
                "give each account its own `credentials:` prefix",
            )
        return not clashes

    def keep(self, scopes: list[DesiredScope]) -> None:
        state = self.desk.state
        for scope in scopes:
            if scope.key.group == "*":
                state.absent_underlyings[(self.account.name, scope.key.underlying)] = scope.where
            else:
                state.scopes[scope.key] = scope

    def scopes(self, caps: Capabilities) -> list[DesiredScope]:
        scopes: list[DesiredScope] = []
        for underlying in self.account.underlyings:
            self.problems += underlying_problems(self.tree, underlying.path, underlying.name, caps)
            if underlying.absent:
                self.problems += absent_problems(self.tree, underlying.path, caps)
                key = self.key(caps, underlying.name, "*" if caps.groups else None)
                scopes.append(DesiredScope(key, None, self.tree.locate(underlying.path)))
            elif caps.groups:
                scopes += self.grouped(underlying, caps)
            else:
                scopes += self.ungrouped(underlying, caps)
        return scopes

    def space_scopes(
        self, space: str, underlyings: list[Underlying], caps: Capabilities
    ) -> list[DesiredScope]:
        """A section of another config space of the venue (Deribit's `block_rfq`): its own
        rules, no groups, and the account's defaults (for its own MMP) do not apply."""
        own = caps.spaces.get(space)
        if own is None:
            path = (*self.account.path, space)
            self.add(path, f"{caps.venue} has no `{space}` MMP; remove this section", at_key=True)
            return []
        scopes: list[DesiredScope] = []
        for underlying in underlyings:
            self.problems += underlying_problems(self.tree, underlying.path, underlying.name, own)
            key = self.key(own, in_space(space, underlying.name))
            if underlying.absent:
                self.problems += absent_problems(self.tree, underlying.path, own)
                scopes.append(DesiredScope(key, None, self.tree.locate(underlying.path)))
                continue
            for group in underlying.groups:
                self.add(
                    group.path,
                    f"`{space}` scopes have no groups, so `{group.name}` cannot be one: put "
                    f"the MMP fields straight under `{underlying.name}:`",
                    at_key=True,
                )
            if underlying.fields is not None:
                rules = own.of_underlying(underlying.name)
                scopes += self.one_scope(key, underlying.fields, rules, Fields(()))
        return scopes

    def key(self, caps: Capabilities, underlying: str, group: str | None = None) -> ScopeKey:
        key = ScopeKey(caps.venue, self.account.name, underlying, group)
        self.named.append(key)
        return key

    def grouped(self, underlying: Underlying, caps: Capabilities) -> list[DesiredScope]:
        scopes: list[DesiredScope] = []
        stray = underlying.fields
        if stray is not None and stray.present:
            first = next(name for name in NAMES if name in stray.present)
            self.add(
                (*underlying.path, first),
                f"{caps.venue} scopes are grouped: put these fields under "
                f"`{caps.default_group_name}:` (regular orders) or under a mass-quote "
                "group name",
                at_key=True,
            )
        for group in underlying.groups:
            name = None if group.name == caps.default_group_name else group.name
            key = self.key(caps, underlying.name, name)
            if group.empty:
                self.add(
                    group.path,
                    f"group `{group.name}` has no fields: give it MMP fields, or "
                    f"`{group.name}: absent` to remove it",
                    at_key=True,
                )
            elif group.fields is None:
                self.problems += absent_problems(self.tree, group.path, caps)
                scopes.append(DesiredScope(key, None, self.tree.locate(group.path)))
            else:
                scopes += self.one_scope(key, group.fields, caps)
        return scopes

    def ungrouped(self, underlying: Underlying, caps: Capabilities) -> list[DesiredScope]:
        for group in underlying.groups:
            self.add(
                group.path,
                f"{caps.venue} has no groups, so `{group.name}` cannot be one: put the MMP "
                f"fields straight under `{underlying.name}:`",
                at_key=True,
            )
        if underlying.fields is None:
            return []
        return self.one_scope(self.key(caps, underlying.name), underlying.fields, caps)

    def one_scope(
        self, key: ScopeKey, fields: Fields, caps: Capabilities, defaults: Fields | None = None
    ) -> list[DesiredScope]:
        """`defaults`: what the scope inherits (the account's defaults unless given)."""
        before = len(self.problems)
        inherits = defaults is None
        defaults = self.account.defaults if defaults is None else defaults
        self.problems += field_problems(self.tree, fields, caps)
        self.problems += missing_problems(self.tree, fields, defaults, caps, inherits=inherits)
        merged = {**defaults.values, **fields.values}
        complete = all(f.name in merged for f in FIELDS if f.required)
        if len(self.problems) > before or fields.broken or defaults.broken or not complete:
            return []  # each reason was said where it lies
        config = MmpConfig.of(merged)
        return [DesiredScope(key, config, self.tree.locate(fields.path, at_key=True))]


def _and(names: Iterable[str]) -> str:
    listed = list(names)
    return " and ".join([", ".join(listed[:-1]), listed[-1]] if len(listed) > 1 else listed)


def _connections() -> Mapping[str, Connection]:
    from reconciler.venues import connections  # the registry imports every venue's package

    return connections()

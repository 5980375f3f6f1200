"""Read the shape of one policy file: its accounts, their fields, and their scopes' fields.

Nothing here knows a venue's rules. Every field is read on its own, whatever happens to its
neighbours, so one bad field never hides another, and each problem is placed at its own
file:line:col. What reads well is handed to `reconciler.policy.validate`, which applies the rules
of each account's venue.

Empty is allowed where adoption starts: `accounts:` with nothing after it, `mmp:` or
`defaults:` empty (or `{}`) mean none.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from difflib import get_close_matches
from typing import Any

from reconciler.core.errors import Problem
from reconciler.core.mmpfields import BY_NAME, NAMES
from reconciler.core.units import UnitError, UnplainNumber
from reconciler.policy.loader import LocatedTree, looks_secret
from reconciler.policy.spec import (
    ABSENT,
    ACCOUNT_FIELDS,
    ANY_URL,
    BASE_URL,
    ENVIRONMENTS,
    SPACES,
    credentials_problem,
)

Path_ = tuple[Any, ...]
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}\Z")
_ACCOUNT_HELP = "`venue`, `environment` (or `base_url`), `credentials` and `mmp`"


@dataclass
class Fields:
    """One mapping of MMP fields: a scope, a group, or an account's defaults."""

    path: Path_
    values: dict[str, Any] = field(default_factory=dict)  # the fields that read well
    present: set[str] = field(default_factory=set)  # every MMP field written, read well or not
    meant: set[str] = field(default_factory=set)  # fields an unknown key is a typo of
    broken: bool = False  # a field did not read, or a key is unknown


@dataclass
class Group:
    """A key under an underlying that holds a mapping or `absent`: a group on grouped venues."""

    name: str
    path: Path_
    fields: Fields | None  # None: `absent`, or nothing at all (see empty)
    empty: bool = False


@dataclass
class Underlying:
    name: str
    path: Path_
    absent: bool = False
    fields: Fields | None = None  # the fields written straight under it, if any
    groups: list[Group] = field(default_factory=list)


@dataclass
class Account:
    name: str
    path: Path_
    venue: object = None  # as written (validate says whether it names a venue)
    venue_given: bool = False
    environment: str | None = None
    base_url: str | None = None
    credentials: str | None = None
    endpoint_ok: bool = True  # environment / base_url / credentials all read well
    defaults: Fields = field(default_factory=lambda: Fields(()))
    underlyings: list[Underlying] = field(default_factory=list)
    spaces: dict[str, list[Underlying]] = field(default_factory=dict)  # e.g. `block_rfq`


def read_accounts(tree: LocatedTree) -> tuple[list[Account], list[Problem]]:
    """Every account of the file that has a name and a mapping, and every problem found."""
    reader = _Reader(tree)
    return reader.file(), reader.problems


def kind(value: object) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, Decimal, UnplainNumber)):
        return "a number"
    return "text" if isinstance(value, str) else "a value of another kind"


def word_like(value: str) -> bool:
    """Short and plain enough to echo in a message (not something pasted, like a secret)."""
    return bool(_WORD.match(value))


def _shown(key: object) -> str:
    """A key as the file spells it; a complex key (`? [a, b]`) is not spelled out."""
    if isinstance(key, bool):
        return str(key).lower()
    if isinstance(key, (str, int, Decimal, UnplainNumber)):
        return str(key)
    return f"? ... ({kind(key)} as a key)"


class _Reader:
    def __init__(self, tree: LocatedTree) -> None:
        self.tree = tree
        self.problems: list[Problem] = []

    def add(self, path: Path_, message: str, *, at_key: bool = False) -> None:
        self.problems.append(self.tree.problem(path, message, at_key=at_key))

    def unknown(self, path: Path_, key: Any, allowed: tuple[str, ...], what: str) -> str | None:
        """Report an unknown key; return the field it is likely a typo of."""
        if looks_secret(key):
            return None  # loader.secret_key_problems says what is wrong with it
        match = get_close_matches(key, allowed, n=1) if isinstance(key, str) else []
        hint = f"; did you mean `{match[0]}`?" if match else f" ({what}: {', '.join(allowed)})"
        self.add(path, f"unknown key `{_shown(key)}`{hint}", at_key=True)
        return match[0] if match else None

    def named(self, path: Path_, key: object, what: str) -> bool:
        if isinstance(key, str) and key.strip():
            return True
        if isinstance(key, str) or key is None:
            self.add(path, f"{what} name is empty", at_key=True)
        elif isinstance(key, (Mapping, list, tuple)):
            self.add(path, f"{what} name must be text, not {kind(key)}", at_key=True)
        else:
            shown = _shown(key)
            self.add(
                path,
                f"{what} name `{shown}` is read as {kind(key)}, not a name: quote it ('{shown}')",
                at_key=True,
            )
        return False

    def file(self) -> list[Account]:
        root = self.tree.root
        for key in root:
            if key != "accounts":
                self.unknown((key,), key, ("accounts",), "a policy file takes")
        accounts = root.get("accounts")
        if accounts is None:
            return []  # no accounts yet: `accounts:` with nothing after it
        if not isinstance(accounts, dict):
            self.add(
                ("accounts",),
                f"`accounts` must map each account's name to its fields ({_ACCOUNT_HELP}), "
                f"not {kind(accounts)}",
            )
            return []
        found = []
        for name, value in accounts.items():
            if self.named(("accounts", name), name, "an account"):
                account = self.account(name, value)
                if account is not None:
                    found.append(account)
        return found

    def account(self, name: str, value: Any) -> Account | None:
        base: Path_ = ("accounts", name)
        if value is None or value == {}:
            self.add(base, f"account `{name}` has no fields: give it {_ACCOUNT_HELP}", at_key=True)
            return None
        if not isinstance(value, dict):
            self.add(
                base, f"account `{name}` must hold its fields ({_ACCOUNT_HELP}), not {kind(value)}"
            )
            return None
        misplaced = set()
        for key in value:
            if key in NAMES:
                misplaced.add(key)
                self.add(
                    (*base, key),
                    f"`{key}` is an MMP field, not an account key: put it under `defaults:` "
                    "(every scope of the account) or under an underlying in `mmp:`",
                    at_key=True,
                )
            elif key not in ACCOUNT_FIELDS:
                self.unknown((*base, key), key, ACCOUNT_FIELDS, "an account takes")
        account = Account(name, base, value.get("venue"), "venue" in value)
        self.endpoint(account, value)
        self.credentials(account, value)
        account.defaults = self.defaults((*base, "defaults"), value.get("defaults"))
        account.defaults.meant |= misplaced  # said once here, not again as missing per scope
        account.defaults.broken |= bool(misplaced)
        account.underlyings = self.mmp((*base, "mmp"), value.get("mmp"))
        for space in SPACES:
            if space in value:
                account.spaces[space] = self.mmp((*base, space), value[space], space)
        return account

    def endpoint(self, account: Account, value: dict[str, Any]) -> None:
        given = [name for name in ("environment", "base_url") if name in value]
        if len(given) != 1:
            account.endpoint_ok = False
            self.add(
                account.path,
                "set exactly one of `environment` (production | testnet) or `base_url`",
                at_key=True,
            )
        environment, url = value.get("environment"), value.get("base_url")
        if "environment" in value:
            if environment in ENVIRONMENTS:
                account.environment = environment
            else:
                account.endpoint_ok = False
                self.add((*account.path, "environment"), _environment_problem(environment))
        if "base_url" in value:
            if isinstance(url, str) and BASE_URL.fullmatch(url) and not _url_problem(url):
                account.base_url = url
            else:
                account.endpoint_ok = False
                self.add((*account.path, "base_url"), _base_url_problem(url))

    def credentials(self, account: Account, value: dict[str, Any]) -> None:
        if "credentials" not in value:
            account.endpoint_ok = False
            self.add(
                account.path,
                "`credentials` is required: the prefix of the environment variables that "
                "hold this account's keys, e.g. DERIBIT_MAIN",
                at_key=True,
            )
            return
        problem = credentials_problem(value["credentials"])
        if problem:
            account.endpoint_ok = False
            self.add((*account.path, "credentials"), f"credentials: {problem}")
        else:
            account.credentials = value["credentials"]

    def defaults(self, path: Path_, value: Any) -> Fields:
        if value is None:
            return Fields(path)
        if not isinstance(value, dict):
            self.add(path, f"defaults must be a mapping of MMP fields, not {kind(value)}")
            return Fields(path, broken=True)
        return self.fields(path, value)

    def fields(self, path: Path_, value: dict[Any, Any]) -> Fields:
        """Read every MMP field of a mapping; other keys are unknown."""
        out = Fields(path)
        for key, raw in value.items():
            known = BY_NAME.get(key) if isinstance(key, str) else None
            if known is None:
                out.broken = True
                meant = self.unknown((*path, key), key, NAMES, "MMP fields are")
                out.meant.update([meant] if meant else [])
                continue
            out.present.add(key)
            try:
                out.values[key] = known.parse(raw)
            except UnitError as exc:
                out.broken = True
                self.add((*path, key), f"{key}: {exc}")
        return out

    def mmp(self, path: Path_, value: Any, section: str = "mmp") -> list[Underlying]:
        if value is None:
            return []  # `mmp:` empty: the account is declared, nothing is managed yet
        if not isinstance(value, dict):
            self.add(
                path,
                f"{section} must map each underlying to its MMP fields (or `absent`), "
                f"not {kind(value)}",
            )
            return []
        found = []
        for name, raw in value.items():
            upath = (*path, name)
            if not self.named(upath, name, "an underlying"):
                continue
            if raw == ABSENT:
                found.append(Underlying(name, upath, absent=True))
            elif raw is None or raw == {} or not isinstance(raw, dict):
                shown = f"is {kind(raw)}" if raw is not None and raw != {} else "has no fields"
                self.add(
                    upath,
                    f"`{name}` {shown}: give it MMP fields, or `{name}: absent` to remove its "
                    "config",
                    at_key=True,
                )
            else:
                found.append(self.underlying(name, upath, raw))
        return found

    def underlying(self, name: str, path: Path_, value: dict[Any, Any]) -> Underlying:
        """Split an underlying's keys: groups (a mapping or `absent` under a name that is not
        a field) and the rest, which are fields (or unknown keys, typos of fields)."""
        out = Underlying(name, path)
        rest: dict[Any, Any] = {}
        for key, raw in value.items():
            gpath = (*path, key)
            group_like = raw == ABSENT or isinstance(raw, dict)
            if key in NAMES or not group_like:
                if raw is None and key not in NAMES and not _close(key):
                    if self.named(gpath, key, "a group"):
                        out.groups.append(Group(key, gpath, None, empty=True))
                    continue
                rest[key] = raw
            elif self.named(gpath, key, "a group"):
                fields = self.fields(gpath, raw) if isinstance(raw, dict) and raw else None
                out.groups.append(Group(key, gpath, fields, empty=raw != ABSENT and not raw))
        if rest:
            out.fields = self.fields(path, rest)
        return out


def _close(key: object) -> bool:
    return bool(get_close_matches(str(key), NAMES, n=1))


def _environment_problem(value: object) -> str:
    choices = "'production' or 'testnet'"
    if value is None:
        return f"environment is empty: write {choices}"
    if not isinstance(value, str):
        return f"environment must be {choices}, not {kind(value)}"
    if not word_like(value):  # not echoed: it may be anything pasted there
        return f"unknown environment: write {choices}"
    folded = value.lower()
    match = [name for name in ENVIRONMENTS if name.startswith(folded)]
    match = match or get_close_matches(folded, ENVIRONMENTS, n=1)
    hint = f"; did you mean `{match[0]}`?" if match else ""
    return f"unknown environment `{value}`: write {choices}{hint}"


def _url_problem(url: str) -> str:
    """What the pattern lets through that no request could use: a port past 65535, an
    address that is none (127.999.1.1), or a query or fragment (the API path would land in
    it)."""
    parts = urllib.parse.urlsplit(url)
    try:
        parts.port  # noqa: B018 (raises on a port out of range)
    except ValueError:
        return "its port is not a number from 1 to 65535"
    if parts.query or parts.fragment or "?" in url or "#" in url:
        return "it has a query or a fragment (mmp appends the API path to base_url)"
    host = parts.hostname or ""
    if re.fullmatch(r"[0-9.]+", host) or ":" in host:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return "its host is not a valid IP address"
    return ""


def _base_url_problem(url: object) -> str:
    hidden = "(the value is not shown: a URL can hold a secret)"
    wrong = _url_problem(url) if isinstance(url, str) and BASE_URL.fullmatch(url) else ""
    if wrong:
        return f"base_url cannot be used: {wrong} {hidden}"
    if isinstance(url, str) and ANY_URL.fullmatch(url):
        return (
            "base_url is plain http:// to a host other than this machine: the API key, the "
            "signatures (and Deribit's client_secret) would cross the network in clear; use "
            f"https://, or http:// only to localhost, 127.0.0.1 or [::1] {hidden}"
        )
    return f"base_url must be an https:// URL with no spaces {hidden}"

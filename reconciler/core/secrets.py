"""Credentials come from the environment, and no output of ours ever contains one.

Every credential value read is registered here; `redact` replaces each occurrence in any
text before it is printed, journaled or saved, including a venue's own error text.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from reconciler.core.errors import CredentialsError

if TYPE_CHECKING:  # kept out of start-up: the CLI's error boundary imports this module
    from reconciler.policy.desired import AccountTarget
    from reconciler.venues.base import Connection, Credentials

MASK = "***"
_MIN_REDACT_LENGTH = 4
_known: set[str] = set()
_lock = threading.Lock()
# Credential values are runs of these characters; text is cut into such runs and each run is
# looked up by slices of the known lengths: one pass over the text, however many secrets
# (a plan of 10,000 scopes against 5,000 secrets took 50 s with one search per secret).
_TOKEN_CHARS = "A-Za-z0-9_\\-+/=.~:"
_RUN = re.compile(f"[{_TOKEN_CHARS}]+")
_TOKEN = re.compile(f"[{_TOKEN_CHARS}]+\\Z")


_snapshot: tuple[frozenset[str], tuple[int, ...], tuple[str, ...]] = (frozenset(), (), ())


_stale = False


def register(value: str) -> None:
    global _stale
    if len(value) >= _MIN_REDACT_LENGTH:
        with _lock:
            if value not in _known:
                _known.add(value)
                _stale = True


def _current() -> tuple[frozenset[str], tuple[int, ...], tuple[str, ...]]:
    global _snapshot, _stale
    with _lock:
        if _stale:
            known = frozenset(_known)
            lengths = tuple(sorted({len(v) for v in known}))
            odd = tuple(v for v in known if not _TOKEN.match(v))  # not a single run
            _snapshot, _stale = (known, lengths, odd), False
        return _snapshot


def redact(text: str) -> str:
    known, lengths, odd = _current()
    if not known:
        return text
    found = {value for value in odd if value in text}
    for run in _RUN.findall(text):
        if len(run) < lengths[0]:
            continue
        for size in lengths:
            if size > len(run):
                break
            found.update(
                run[i : i + size] for i in range(len(run) - size + 1) if run[i : i + size] in known
            )
    for value in sorted(found, key=len, reverse=True):  # longest first: no partial leftovers
        text = text.replace(value, MASK)
    return text


def _sendable(value: str) -> bool:
    """Keys, secrets and account ids travel in headers and signed strings: printable ASCII."""
    return value.isascii() and value.isprintable() and not any(c.isspace() for c in value)


def env_names(target: AccountTarget, connection: Connection) -> list[str]:
    return [f"{target.credentials}_{suffix}" for suffix in connection.credential_vars]


def resolve(
    targets: Iterable[AccountTarget],
    connections: Mapping[str, Connection],
    env: Mapping[str, str] | None = None,
) -> dict[str, Credentials]:
    """Every account's credentials, or one CredentialsError naming every missing variable."""
    from reconciler.venues.base import Credentials

    env = os.environ if env is None else env
    targets = list(targets)
    resolved: dict[str, Credentials] = {}
    missing: list[str] = []
    unusable: list[str] = []
    for target in targets:
        connection = connections[target.venue]
        values = {}
        for suffix, name in zip(
            connection.credential_vars, env_names(target, connection), strict=True
        ):
            value = env.get(name, "")
            if not value:
                missing.append(
                    f"{name} (account `{target.name}`, credentials: "
                    f"{target.credentials} at {target.where})"
                )
                continue
            register(value)
            form = connection.credential_formats.get(suffix)
            if form is not None and not re.fullmatch(form[0], value):
                unusable.append(
                    f"{name} (account `{target.name}`): is not {form[1]}; the value is not shown"
                )
                continue
            if not _sendable(value):
                unusable.append(
                    f"{name} (account `{target.name}`): holds a character no venue takes in a "
                    "key (only printable ASCII, no spaces); the value is not shown. Copy the "
                    "key again from the venue, without quotes or line breaks"
                )
                continue
            values[suffix] = value
        resolved[target.name] = Credentials(values)
    if unusable:
        raise CredentialsError("unusable credentials:\n  " + "\n  ".join(unusable))
    if missing:
        raise CredentialsError(
            "missing credentials: set these environment variables (or use --sandbox):\n  "
            + "\n  ".join(missing)
        )
    _one_key_one_account(targets, connections, resolved)
    return resolved


def _one_key_one_account(
    targets: Iterable[AccountTarget],
    connections: Mapping[str, Connection],
    resolved: Mapping[str, Credentials],
) -> None:
    """Two accounts of the policies whose keys are the same key (the first credential: the
    key's id) at the same venue endpoint are one venue account declared twice: their
    policies would fight on every apply (red team 17 round 3). Named, nothing read."""
    seen: dict[tuple[str, str, str], AccountTarget] = {}
    same: list[str] = []
    for target in targets:
        name = connections[target.venue].credential_vars[0]
        key_id = resolved[target.name].values.get(name)
        if key_id is None:
            continue
        first = seen.setdefault((target.venue, target.endpoint(), key_id), target)
        if first is not target:
            same.append(
                f"`{first.name}` ({first.credentials}_{name}, {first.where}) and "
                f"`{target.name}` ({target.credentials}_{name}, {target.where}) hold the same "
                f"{target.venue} key"
            )
    if same:
        raise CredentialsError(
            "one venue account declared twice: "
            + "; ".join(same)
            + ". Their policies would fight over its MMP on every apply: declare the account "
            "once (the key's value is not shown)"
        )

"""Credentials come from the environment, and no output of ours ever contains one.

Every credential value read is registered here; `redact` replaces each occurrence in any
text before it is printed, journaled or saved, including a venue's own error text.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from reconciler.errors import CredentialsError

if TYPE_CHECKING:  # kept out of start-up: the CLI's error boundary imports this module
    from reconciler.desired import AccountTarget
    from reconciler.venues.base import Capabilities, Credentials

MASK = "***"
_MIN_REDACT_LENGTH = 4
_known: set[str] = set()
_lock = threading.Lock()


def register(value: str) -> None:
    if len(value) >= _MIN_REDACT_LENGTH:
        with _lock:
            _known.add(value)


def redact(text: str) -> str:
    with _lock:
        known = sorted(_known, key=len, reverse=True)  # longest first: no partial leftovers
    for value in known:
        if value in text:
            text = text.replace(value, MASK)
    return text


def env_names(target: AccountTarget, caps: Capabilities) -> list[str]:
    return [f"{target.credentials}_{suffix}" for suffix in caps.credential_vars]


def resolve(
    targets: Iterable[AccountTarget],
    capabilities: Mapping[str, Capabilities],
    env: Mapping[str, str] | None = None,
) -> dict[str, Credentials]:
    """Every account's credentials, or one CredentialsError naming every missing variable."""
    from reconciler.venues.base import Credentials

    env = os.environ if env is None else env
    resolved: dict[str, Credentials] = {}
    missing: list[str] = []
    for target in targets:
        caps = capabilities[target.venue]
        values = {}
        for suffix, name in zip(caps.credential_vars, env_names(target, caps), strict=True):
            value = env.get(name, "")
            if not value:
                missing.append(
                    f"{name} (account `{target.name}`, credentials: "
                    f"{target.credentials} at {target.where})"
                )
                continue
            register(value)
            values[suffix] = value
        resolved[target.name] = Credentials(values)
    if missing:
        raise CredentialsError(
            "missing credentials: set these environment variables (or use --sandbox):\n  "
            + "\n  ".join(missing)
        )
    return resolved

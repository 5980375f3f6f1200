"""One error boundary for every venue: its refusals mapped to our error tree by a table.

A venue client finds the code and the message in the venue's own error body; the venue's
`ErrorTable` says what that code is; the HTTP status decides the rest, the same way on
every venue:
  429, or a rate-limit code            VenueRateLimited (the venue did not process it)
  5xx, or a code of unknown outcome    VenueUnavailable (it may have been applied)
  401/403, or a credentials code       VenueAuthError
  anything else                        VenueRejected (the venue refused; nothing done)
An answer that cannot be read at all is VenueUnavailable too (reconciler.venues.http).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.core.errors import (
    VenueAuthError,
    VenueError,
    VenueRateLimited,
    VenueRejected,
    VenueUnavailable,
)

Code = int | str


@dataclass(frozen=True)
class ErrorTable:
    auth: frozenset[Code] = frozenset()  # refused credentials, session or permission
    rate_limited: frozenset[Code] = frozenset()
    unknown_outcome: frozenset[Code] = frozenset()  # the venue failed: it may have applied it
    hints: Mapping[Code, str] = field(default_factory=dict)  # what to do about a code
    auth_hint: str = ""  # what to check when credentials are refused (without a code's own)
    keys_refused: bool = True  # False: the keys were taken; an auth refusal is about the rest

    def error(self, where: str, status: int, code: Code | None, message: str) -> VenueError:
        """The error a venue's refusal is, with its code, its words and what to do."""
        hint = self.hints.get(code, "") if code is not None else ""
        if status == 429 or code in self.rate_limited:
            return VenueRateLimited(where, message, code=code, hint=hint)
        if status >= 500 or code in self.unknown_outcome:
            text = message if status < 500 else f"{message} (HTTP {status})"
            return VenueUnavailable(where, text, code=code, hint=hint)
        if status in (401, 403) or code in self.auth:
            refused = VenueAuthError(where, message, code=code, hint=hint or self.auth_hint)
            refused.keys_refused = self.keys_refused
            return refused
        return VenueRejected(where, message, code=code, hint=hint)


def code_of(value: object) -> Code | None:
    """A venue's error code, when it is one (never a bool, a float or a structure)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    return value


def words(value: object) -> str:
    """The venue's own words, when they are words."""
    return value if isinstance(value, str) else ""

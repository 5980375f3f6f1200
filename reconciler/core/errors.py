"""The one error tree of mmp-reconciler.

    ReconcilerError                 anything the user can act on; the CLI prints one line, exit 1
    ├── ConfigError                 policies are invalid; carries every Problem at once
    ├── CredentialsError            an environment variable named by `credentials:` is missing
    ├── PlanFileError               a saved plan cannot be used (stale, expired, other commit)
    ├── ApprovalError               apply was not approved (no TTY and no --auto-approve, or "no")
    ├── GitHubError                 the GitHub API refused or failed (comment, drift issue)
    └── VenueError                  a venue call failed; carries venue, account and scope
        ├── VenueAuthError          credentials refused or token expired
        ├── VenueRateLimited        the venue's own rate-limit answer (retryable)
        ├── VenueUnavailable        network fault, timeout, 5xx, unparsable answer
        └── VenueRejected           the venue refused the request; carries its code and message

Messages are written for an operator: they name the file:line, or the venue, account and
scope, and the venue's own code and message. They never contain a credential: every message
passes through `secrets.redact` before it is printed.
"""

from __future__ import annotations

from dataclasses import dataclass


class ReconcilerError(Exception):
    """A failure the user can act on. `str(err)` is the one line the CLI prints."""


@dataclass(frozen=True)
class Problem:
    """One validation problem at a place in a policy file."""

    file: str
    line: int  # 1-based; 0 when the problem has no position
    col: int  # 1-based
    message: str

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.col}: {self.message}"
        return f"{self.file}: {self.message}"


class ConfigError(ReconcilerError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.col, p.message))
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in policies"
        super().__init__("\n".join([head, *(str(p) for p in self.problems)]))


class CredentialsError(ReconcilerError):
    pass


class PlanFileError(ReconcilerError):
    pass


class ApprovalError(ReconcilerError):
    pass


class GitHubError(ReconcilerError):
    """The GitHub API refused or failed; the message says what to change."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class VenueError(ReconcilerError):
    """A venue call failed: `where` names venue/account[/scope]; code, message are the venue's."""

    retryable = False

    def __init__(
        self,
        where: str,
        message: str,
        *,
        code: int | str | None = None,
        hint: str = "",
    ) -> None:
        self.where = where
        self.code = code
        self.venue_message = message
        self.hint = hint
        text = f"{where}: "
        text += f"venue error {code}: {message}" if code is not None else message
        if hint:
            text += f" ({hint})"
        super().__init__(text)


class VenueAuthError(VenueError):
    """The venue refused the credentials, a session or a permission. `keys_refused`: False
    when the venue took the keys (a fresh log-in worked) and refused something else, so
    nothing should tell the operator to replace them."""

    keys_refused = True


class VenueRateLimited(VenueError):
    retryable = True


class VenueUnavailable(VenueError):
    """No usable answer. `maybe_applied`: False only when the request surely never reached
    the venue (connection refused or reset before sending); a lost answer or a 5xx may
    hide an applied write, which only reading back can tell."""

    retryable = True
    maybe_applied = True
    answered = True  # False: no answer came at all, so the request may still be on its way


class VenueRejected(VenueError):
    pass

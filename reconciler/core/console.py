"""Terminal manners: notes and progress on stderr, colour only on a terminal and never with
NO_COLOR, `--quiet` for results and errors only, `-v` for each venue request.

stdout carries results (plans, tables, JSON); everything else goes to stderr.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from dataclasses import dataclass
from typing import TextIO

from reconciler.core.errors import ReconcilerError
from reconciler.core.secrets import redact

LOG = logging.getLogger("mmp")
RED, BOLD, RESET = "\x1b[31m", "\x1b[1m", "\x1b[0m"


@dataclass
class _Settings:
    quiet: bool = False
    verbose: int = 0
    colour: bool = False


settings = _Settings()


class _Redacting(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        return True


def configure(*, quiet: bool = False, verbose: int = 0, colour: bool = False) -> None:
    settings.quiet, settings.verbose, settings.colour = quiet, verbose, colour
    LOG.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_Redacting())
    handler.setFormatter(logging.Formatter("%(message)s"))
    LOG.addHandler(handler)
    LOG.propagate = False
    LOG.setLevel(
        logging.ERROR
        if quiet
        else logging.DEBUG
        if verbose > 1
        else logging.INFO
        if verbose
        else logging.WARNING
    )


class OutputError(ReconcilerError):
    """stdout could not be written (a full disk, a closed pipe): the result was not shown."""


def is_terminal(stream: TextIO | None) -> bool:
    """Whether a stream is a terminal; False when it is closed or missing (`mmp >&-`)."""
    try:
        return stream is not None and stream.isatty()
    except (OSError, ValueError):
        return False


def out(text: str) -> None:
    """A result, on stdout, with every known secret redacted. OutputError when it cannot be
    written: a plan nobody sees must not pass for a plan shown."""
    if sys.stdout is None:  # started with stdout closed
        raise OutputError("could not write the output (stdout is closed)")
    try:
        sys.stdout.write(redact(text))
        sys.stdout.flush()
    except (OSError, ValueError) as exc:
        said = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise OutputError(f"could not write the output ({said})") from None


def _say(text: str, stream: TextIO | None) -> None:
    """To stderr (or `stream`); never to stdout in its place, never raising."""
    target = stream or sys.stderr
    if target is None:  # stderr closed: the exit code still says it
        return
    with contextlib.suppress(OSError, ValueError):
        print(text, file=target, flush=True)


def error(message: str) -> None:
    label = f"{RED}{BOLD}error:{RESET}" if settings.colour else "error:"
    _say(f"{label} {message}", None)


def warn(message: str, stream: TextIO | None = None) -> None:
    """Something a person must see whatever --quiet says (signals, a journal that fails).
    The last channel there is: if even it cannot be written, there is nothing more to do."""
    _say(redact(message), stream)


def note(message: str) -> None:
    """Information for a person; dropped by --quiet."""
    if not settings.quiet:
        _say(redact(message), None)


class Progress:
    """`Reading 3/12 accounts (deribit-main)` on one stderr line, on a terminal only."""

    def __init__(self, total: int, what: str, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.total, self.what, self.done = total, what, 0
        self.active = total > 1 and not settings.quiet and is_terminal(self.stream)

    def step(self, label: str) -> None:
        self.done += 1
        self._draw(f"\r\x1b[2K{self.what} {self.done}/{self.total} ({label})")

    def clear(self) -> None:
        """Take the line away (before other output), to be drawn again by the next step."""
        if self.done:
            self._draw("\r\x1b[2K")

    def close(self) -> None:
        self._draw("\r\x1b[2K")

    def _draw(self, text: str) -> None:
        if not self.active:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # the terminal went away: a nicety, the run goes on
            self.active = False

"""SIGINT, SIGTERM, SIGHUP and SIGQUIT during apply: stop starting, finish what is under
way, say so. (A closed terminal's SIGHUP and Ctrl-\\'s SIGQUIT would otherwise end the process
between a reset and its set.)

The first signal starts no new step; each step under way finishes (a replacement between
its reset and its set is completed, or its old config restored) and is verified. A later
signal is answered with a line naming each scope still in flight and why we are still
working, and is not obeyed; it starts a deadline (GRACE_S) past which apply stops waiting,
and those scopes end "unknown" (exit 4, named, with the config to restore). GitHub Actions
sends SIGINT on cancel, SIGTERM 7.5 s later and SIGKILL 2.5 s after that: what a kill leaves
in flight, the journal names to the next run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from reconciler.core.console import warn

GRACE_S = 10
# GitHub Actions sends SIGKILL 2.5 s after its SIGTERM: be done, report printed, before it
GITHUB_GRACE_S = 2
SIGNALS = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")
    if hasattr(signal, name)
)


def grace_s() -> int:
    return GITHUB_GRACE_S if os.environ.get("GITHUB_ACTIONS") == "true" else GRACE_S


class Interrupt:
    def __init__(self, grace: int | None = None, stream: TextIO | None = None) -> None:
        self.grace_s = grace_s() if grace is None else grace
        self.signals: list[str] = []
        self.expired = asyncio.Event()  # the deadline after a second signal has passed
        self.deadline_ns: int | None = None
        self.in_flight: Callable[[], list[str]] = list  # "scope: what it is doing now"
        self.on_first: Callable[[str], None] = lambda name: None
        self._stream = stream
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def requested(self) -> bool:
        return bool(self.signals)

    @property
    def first(self) -> str:
        return self.signals[0] if self.signals else ""

    def install(self) -> None:
        """Take over SIGNALS (main thread, Unix); elsewhere, leave them be."""
        loop = asyncio.get_running_loop()
        try:
            for sig in SIGNALS:
                loop.add_signal_handler(sig, self.receive, sig)
        except (NotImplementedError, RuntimeError, ValueError):
            return  # not the main thread, or no Unix signals: default handling stays
        self._loop = loop

    def uninstall(self) -> None:
        """Apply is over: until the process ends (and `restore_defaults`), a signal is said
        and not obeyed, so a late Ctrl-C cannot turn a finished run into exit 130."""
        if self._loop is None:
            return
        for sig in SIGNALS:
            self._loop.remove_signal_handler(sig)
            signal.signal(sig, _after_apply)
        self._loop = None

    def receive(self, sig: int) -> None:
        name = signal.Signals(sig).name
        self.signals.append(name)
        working = self.in_flight()
        if len(self.signals) == 1:
            self.on_first(name)
            self._say(_first_message(name, working, self.grace_s))
            return
        if self.deadline_ns is None:
            self.deadline_ns = time.monotonic_ns() + self.grace_s * 1_000_000_000
            loop = self._loop or asyncio.get_running_loop()
            loop.call_later(self.grace_s, self.expired.set)
        left_s = max(self.deadline_ns - time.monotonic_ns(), 0) // 1_000_000_000
        self._say(_again_message(name, working, left_s))

    def _say(self, text: str) -> None:
        warn(text, self._stream)


def _after_apply(signum: int, frame: object) -> None:
    name = signal.Signals(signum).name
    warn(f"mmp: {name} received after apply ended: its report follows; nothing is running")


def restore_defaults() -> None:
    """Give SIGNALS back their usual meaning (after apply's report)."""
    if threading.current_thread() is threading.main_thread():
        for sig in SIGNALS:
            usual = signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
            signal.signal(sig, usual)


@contextmanager
def ctrl_c_answers() -> Iterator[None]:
    """While waiting at a prompt, Ctrl-C interrupts the prompt at once (asyncio's own
    handler would only cancel the run once the prompt returned)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def answered_yes(question: str) -> bool:
    """Ask QUESTION at the terminal: True only for `yes` (Ctrl-C interrupts the prompt)."""
    with ctrl_c_answers():
        answer = input(f"{question} Only 'yes' is accepted: ")
    return answer.strip() == "yes"


def _first_message(name: str, working: list[str], grace_s: int) -> str:
    if not working:
        return f"mmp: {name} received: no new step will start; apply is ending."
    return (
        f"mmp: {name} received: no new step will start; finishing the "
        f"{len(working)} step(s) under way, each verified:\n"
        + "\n".join(f"  {line}" for line in working)
        + f"\nA second signal is not obeyed while a scope is in flight; it gives them "
        f"{grace_s} s more, then apply ends with exit 4 naming them."
    )


def _again_message(name: str, working: list[str], left_s: int) -> str:
    if not working:
        return f"mmp: {name} received again: nothing is in flight; apply is ending."
    until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=left_s)
    return (
        f"mmp: {name} received again, not obeyed: still working, because stopping now "
        "could leave these scopes without the config they need:\n"
        + "\n".join(f"  {line}" for line in working)
        + f"\nWaiting for them at most until {until:%H:%M:%S} UTC ({left_s} s), then "
        "exiting with code 4 and the config to restore for each."
    )

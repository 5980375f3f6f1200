"""`--sandbox`: every venue replaced by its simulator, state kept in .mmp/sandbox.json.

The file is the venue. Every request a sandbox transport answers (and every account that
`credentials` creates) is handled under an exclusive lock on `.mmp/sandbox.json.lock`: the
state is loaded again first if another process changed the file, and a change the request
made is written (atomically, fsynced) before the answer is returned. So the file holds every
write a venue acknowledged, even after a SIGKILL, and sandbox runs side by side lose nothing.
A write that cannot be saved is undone and answered as a connection failure: nothing done.

Deleting the file starts the example desk afresh (a run still going then sees a fresh desk).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, cast

import httpx

from reconciler.core.errors import ReconcilerError
from reconciler.core.units import dumps_exact, loads_exact
from reconciler.policy.desired import AccountTarget
from reconciler.sandbox.statefile import StateFile
from reconciler.venues.base import Credentials, VenueSpec

STATE_FILE = Path(".mmp") / "sandbox.json"


class SandboxStateError(ReconcilerError):
    """The state file cannot be read or written."""


class _NotSaved(Exception):
    """A change could not be written, and was undone."""


class StoredVenue(Protocol):
    """A venue's sandbox (`reconciler.sandbox.desk.SimulatorDesk`) as the store uses it."""

    def credentials(self, account: str) -> Credentials: ...

    def handle(self, request: httpx.Request) -> httpx.Response: ...

    def dump(self) -> dict[str, object]: ...

    def load(self, state: dict[str, Any]) -> None: ...


class Sandbox:
    def __init__(self, venues: Mapping[str, VenueSpec[Any]], path: Path = STATE_FILE) -> None:
        self.path = path
        self.seeded = False  # whether this process made the state file (or a venue in it)
        self.venues: dict[str, StoredVenue] = {}
        self._specs = dict(venues)
        self._file = StateFile(path)
        self._texts: dict[str, str] = {}  # each venue's state as last read or written
        self._mutex = threading.Lock()
        with self._exclusive():
            self._file.remove_stale_temps()

    def credentials(self, targets: list[AccountTarget]) -> dict[str, Credentials]:
        """Sandbox credentials per account; a new account is created on its venue."""
        with self._exclusive():
            creds = {t.name: self.venues[t.venue].credentials(t.name) for t in targets}
            try:
                self._persist({t.venue for t in targets})
            except (_NotSaved, OSError) as exc:
                raise SandboxStateError(f"{self.path}: cannot save the sandbox: {exc}") from None
        return creds

    def transport(self, venue: str) -> httpx.AsyncBaseTransport:
        return httpx.MockTransport(lambda request: self._handle(venue, request))

    @contextmanager
    def edit(self, venue: str) -> Iterator[StoredVenue]:
        """A venue's sandbox to change directly (tests: trip a freeze), with the file's
        current state and under the lock; the change is written when the block ends, or
        undone if the block raises."""
        with self._exclusive():
            try:
                yield self.venues[venue]
            except BaseException:
                self.venues[venue].load(loads_exact(self._texts[venue]))
                raise
            try:
                self._persist({venue})
            except (_NotSaved, OSError) as exc:
                raise SandboxStateError(f"{self.path}: cannot save the sandbox: {exc}") from None

    # ---- one request ---------------------------------------------------------------------

    def _handle(self, venue: str, request: httpx.Request) -> httpx.Response:
        with self._exclusive():
            try:
                response = self.venues[venue].handle(request)
            except BaseException:  # a simulator bug: the venue did nothing
                self.venues[venue].load(loads_exact(self._texts[venue]))
                raise
            try:
                self._persist({venue})
            except _NotSaved as exc:
                raise httpx.ConnectError(
                    f"sandbox {venue}: nothing done: cannot save {self.path}: {exc}",
                    request=request,
                ) from None
            except OSError as exc:
                raise httpx.ReadError(
                    f"sandbox {venue}: done, but {self.path} may not survive a crash: {exc}",
                    request=request,
                ) from None
        return response

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """The lock, with every venue holding the file's current state."""
        with self._mutex:
            try:
                fd = self._file.lock()
            except OSError as exc:
                raise SandboxStateError(f"{self.path}: cannot lock the sandbox: {exc}") from None
            try:
                if self._file.changed():
                    self._reload()
                yield
            finally:
                self._file.unlock(fd)

    def _reload(self) -> None:
        """Every venue takes the file's state; a venue the file lacks (or a missing file)
        gets the example desk, written at once."""
        saved = self._saved()
        new = [name for name in self._specs if name not in saved]
        try:
            for name, spec in self._specs.items():
                state = spec.desk(None).dump() if name in new else saved[name]
                if name in self.venues:
                    self.venues[name].load(state)
                else:
                    self.venues[name] = cast(StoredVenue, spec.desk(state))
                self._texts[name] = _text(self.venues[name].dump())
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            self._file.forget()  # the next request reads the file again
            raise self._not_state(exc) from None
        if new:
            try:
                self._write()
                self._file.sync_folder()
            except (_NotSaved, OSError) as exc:
                raise SandboxStateError(f"{self.path}: cannot save the sandbox: {exc}") from None
            self.seeded = True

    def _saved(self) -> dict[str, Any]:
        """The state file's venues ({} when there is no file)."""
        try:
            raw = self._file.read()
        except OSError as exc:
            raise SandboxStateError(f"{self.path}: cannot read the sandbox: {exc}") from None
        try:
            saved = {} if raw is None else loads_exact(raw)
        except ValueError as exc:
            self._file.forget()
            raise self._not_state(exc) from None
        if not isinstance(saved, dict):
            self._file.forget()
            raise self._not_state(TypeError("not a JSON object"))
        return saved

    def _not_state(self, exc: Exception) -> SandboxStateError:
        return SandboxStateError(
            f"{self.path}: not a sandbox state file ({type(exc).__name__}: {exc}); "
            "delete it to start the example desk afresh"
        )

    def _persist(self, names: Iterable[str]) -> None:
        """Write the file if these venues' state changed; undo the change if it cannot be."""
        texts = {name: _text(self.venues[name].dump()) for name in names}
        changed = {name: text for name, text in texts.items() if text != self._texts[name]}
        if not changed:
            return
        try:
            self._write()
        except _NotSaved:
            for name in changed:
                self.venues[name].load(loads_exact(self._texts[name]))
            raise
        self._texts.update(changed)
        self._file.sync_folder()

    def _write(self) -> None:
        state = {name: venue.dump() for name, venue in sorted(self.venues.items())}
        try:
            self._file.write((dumps_exact(state, indent=2, sort_keys=True) + "\n").encode())
        except OSError as exc:
            raise _NotSaved(str(exc)) from exc


def _text(state: dict[str, object]) -> str:
    return dumps_exact(state, sort_keys=True)

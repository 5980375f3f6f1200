"""One sandbox for every venue: a simulator, sandbox credentials per account, saved state.

`reconciler.sandbox.store` keeps the state in a file and calls `handle` (not `transport`) for each
request, under its lock, loading the file's state with `load` when another process changed it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

import httpx

from reconciler.venues.base import Credentials


class SandboxSimulator(Protocol):
    def __call__(self, request: httpx.Request) -> httpx.Response: ...

    def add_account(self, key: str, secret: str) -> None: ...

    def dump_state(self) -> dict[str, object]: ...

    def load_state(self, state: dict[str, Any]) -> None: ...

    @property
    def accounts(self) -> dict[str, Any]: ...


S = TypeVar("S", bound=SandboxSimulator)


class SimulatorDesk(Generic[S]):
    """A venue's simulator under `--sandbox`; `seed` fills a new one with the example desk."""

    def __init__(
        self,
        sim: S,
        id_var: str,
        secret_var: str,
        state: dict[str, object] | None,
        seed: Callable[[SimulatorDesk[S]], None],
    ) -> None:
        self.sim = sim
        self._id_var, self._secret_var = id_var, secret_var
        if state is not None:
            sim.load_state(state)
        else:
            seed(self)

    def credentials(self, account: str) -> Credentials:
        creds = Credentials(
            {self._id_var: f"sandbox-id-{account}", self._secret_var: f"sandbox-secret-{account}"}
        )
        if creds[self._id_var] not in self.sim.accounts:
            self.sim.add_account(creds[self._id_var], creds[self._secret_var])
        return creds

    def key(self, account: str) -> str:
        """The simulator's account id for an account, creating it when new."""
        return self.credentials(account)[self._id_var]

    def transport(self) -> httpx.AsyncBaseTransport:
        """The simulator alone, its state in this process only."""
        return httpx.MockTransport(self.sim)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (its body already read)."""
        return self.sim(request)

    def dump(self) -> dict[str, object]:
        """The venue's durable state; nothing changes by dumping it."""
        return self.sim.dump_state()

    def load(self, state: dict[str, Any]) -> None:
        """Take a dump as the venue's state; this process's sessions (tokens) stay valid."""
        self.sim.load_state(state)

"""One error boundary: every registered venue, given the same kind of answer, raises the same
class of our error tree (reconciler/venues/errors.py), on a read and on a write alike.

    a 4xx with the venue's own refusal body      VenueRejected   (nothing was done)
    a 5xx, with or without a JSON body           VenueUnavailable (it may have been done)
    a 200 whose JSON is broken                   VenueUnavailable
    a 200 whose answer lacks a field             VenueUnavailable
    credentials or a session refused, always     VenueAuthError  (after the one resend)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reconciler.core.errors import VenueAuthError, VenueRejected, VenueUnavailable
from reconciler.core.model import ScopeKey
from reconciler.venues import VENUES
from tests.venues import ROWS


def _json(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body)


ANSWERS: dict[str, tuple[Callable[[str], httpx.Response], type[Exception]]] = {
    "4xx": (lambda venue: _json(*ROWS[venue].rejection), VenueRejected),
    "5xx-json": (
        lambda venue: _json(500, {"error": "INTERNAL_ERROR", "code": -1000}),
        VenueUnavailable,
    ),
    "5xx-html": (
        lambda venue: httpx.Response(502, content=b"<html>Bad Gateway</html>"),
        VenueUnavailable,
    ),
    "broken-json": (
        lambda venue: httpx.Response(200, content=b'{"result": [tru'),
        VenueUnavailable,
    ),
    "missing-field": (lambda venue: _json(200, {}), VenueUnavailable),
    "refused": (lambda venue: _json(*ROWS[venue].auth_refusal), VenueAuthError),
}


class Answering:
    """Answers every MMP request of the venue as told; log-in and the rest reach the venue."""

    def __init__(self, sim: Any, venue: str, answer: Callable[[str], httpx.Response]) -> None:
        self.sim, self.venue, self.answer = sim, venue, answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if any(path == p or path.endswith(p) for p in ROWS[self.venue].mmp_paths):
            return self.answer(self.venue)
        return self.sim(request)  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("reconciler.venues.http.BACKOFF_MS", 1)


@pytest.mark.parametrize("what", sorted(ANSWERS))
@pytest.mark.parametrize("venue", sorted(VENUES))
@pytest.mark.parametrize("call", ["read", "write"])
def test_the_same_answer_is_the_same_error_on_every_venue(venue: str, what: str, call: str) -> None:
    answer, expected = ANSWERS[what]
    row = ROWS[venue]
    sim = row.make()
    creds = row.credentials(sim, "acct")
    http = httpx.AsyncClient(
        base_url="http://venue.test", transport=httpx.MockTransport(Answering(sim, venue, answer))
    )
    client = VENUES[venue].client("acct", creds, http, _limits(), VENUES[venue].endpoint_state())
    underlying, group = row.scopes[0]
    key = ScopeKey(venue, "acct", underlying, group)

    async def go() -> None:
        try:
            if call == "read":
                await client.read()
            else:
                await client.set_config(key, row.sample(1))
        finally:
            await client.aclose()

    with pytest.raises(expected) as info:
        asyncio.run(go())
    assert type(info.value) is expected, info.value


def _limits() -> Any:
    from reconciler.venues.limiter import Limiter

    return Limiter(1000, 1000)

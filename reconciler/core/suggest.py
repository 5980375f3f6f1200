"""Did-you-mean: the known name a mistyped one most likely meant, for every message that
refuses a name (a venue, an account, an underlying, a scope)."""

from __future__ import annotations

from collections.abc import Iterable
from difflib import get_close_matches


def closest(name: str, known: Iterable[str]) -> str | None:
    """The same name but for case and `-`/`_`; else the first that starts with it and `_`
    (`BTC` -> `btc_usd`); else difflib's closest; None when nothing is close."""
    folded: dict[str, str] = {}
    for candidate in sorted(known):
        folded.setdefault(_fold(candidate), candidate)
    want = _fold(name)
    if want in folded:
        return folded[want]
    started = [candidate for key, candidate in folded.items() if key.startswith(want + "_")]
    if started:
        return started[0]
    match = get_close_matches(want, list(folded), n=1)
    return folded[match[0]] if match else None


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """'; did you mean `x`?' to end a message with, or '' when nothing is close."""
    match = closest(name, known)
    return f"; did you mean `{match}`?" if match else ""


def _fold(text: str) -> str:
    return text.lower().replace("-", "_")

"""Bullish's private-data WebSocket, the wire (seed-venues.md section 4.3): the JSON-RPC
commands, the MMP topics and their messages, for the client and the simulator alike.

Every value of an MMP message is a string, and the times are named `…InSecond` (singular).
Where the docs leave a point open the reader takes every reading: an update's `data` may be
an object or a list of them, the top-level `tradingAccountId` may be there or not (when it
is, it must be the account subscribed); the trigger topic is `mmpTrigger` in the topic table
and `mmpTriggered` in the POST description, so both are subscribed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconciler.core.units import dumps_exact
from reconciler.venues import answers

PRIVATE_DATA_PATH = "/trading-api/v1/private-data"
COOKIE = "JWT_COOKIE"
REQUEST_TOPIC = "mmpRequest"
TRIGGER_TOPICS = ("mmpTrigger", "mmpTriggered")  # the topic table's name, the POST text's
REQUEST_TYPE = "V1TAMMPConfigRequest"
TRIGGER_TYPE = "V1TAMMPTrigger"
# status, statusReason of a command the venue carried out: the docs' example is "Ok", and
# nothing says its case is fixed, so the words are compared without case or spaces
APPLIED = ("closed", "ok")
KEEPALIVE_MS = 30_000  # the venue hangs up after 100 s without traffic


def command(method: str, params: dict[str, str], command_id: str) -> str:
    """A JSON-RPC command: subscribe or keepalivePing (ids are strings of digits)."""
    return dumps_exact(
        {"jsonrpc": "2.0", "type": "command", "method": method, "params": params, "id": command_id}
    )


@dataclass(frozen=True)
class RequestStatus:
    """The venue's word on one command (an mmpRequest item)."""

    request_id: str
    status: str
    reason: str
    reset: bool

    @property
    def applied(self) -> bool:
        return (self.status.strip().casefold(), self.reason.strip().casefold()) == APPLIED


@dataclass(frozen=True)
class Trigger:
    """A freeze (an mmpTrigger item): until when, in ms since the epoch."""

    trigger_id: str
    underlying: str
    triggered_by: str
    start_ms: int
    until_ms: int


def items(message: dict[str, Any], account_id: str) -> list[dict[str, Any]]:
    """The items of a topic message: its data, an object or a list of objects, each about
    the account subscribed."""
    top = message.get("tradingAccountId")
    if top is not None and top != account_id:
        raise answers.Malformed("tradingAccountId is not the trading account subscribed")
    data = answers.present(message, "data")
    found = [answers.obj(data, "data")] if isinstance(data, dict) else answers.objects(data, "data")
    for item in found:
        if answers.text(item, "tradingAccountId") != account_id:
            raise answers.Malformed("an item's tradingAccountId is not the account subscribed")
    return found


def request_status(item: dict[str, Any]) -> RequestStatus:
    return RequestStatus(
        answers.text(item, "requestId"),
        answers.text(item, "status"),
        _text(item, "statusReason"),
        _flag(item, "isReset"),
    )


def trigger(item: dict[str, Any]) -> Trigger:
    return Trigger(
        _text(item, "mmpTriggerId"),
        answers.text(item, "underlyingAssetSymbol"),
        _text(item, "triggeredBy"),
        _ms(item, "frozenStartTime"),
        _ms(item, "frozenUntil"),
    )


def _text(item: dict[str, Any], name: str) -> str:
    value = item.get(name, "")
    if not isinstance(value, str):
        raise answers.wrong(name, "a string", value)
    return value


def _flag(item: dict[str, Any], name: str) -> bool:
    value = answers.text(item, name)
    if value not in ("true", "false"):
        raise answers.wrong(name, '"true" or "false"', value)
    return value == "true"


def _ms(item: dict[str, Any], name: str) -> int:
    value = answers.text(item, name)
    if not value.isdigit():
        raise answers.wrong(name, "a string of epoch milliseconds", value)
    return int(value)

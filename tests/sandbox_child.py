"""A process that uses the sandbox as `mmp` does (through `Sandbox.transport`), for the tests in
test_sandbox_store.py. It prints one line per answered request, flushed at once.

  deribit-sets STATE PREFIX ACCOUNTS GROUP [--barrier] [--writes N]
      Deribit sets (btc_usd, group GROUP): the k-th sets quantity_limit k+1 on account
      PREFIX{k % ACCOUNTS}, for k below N (default ACCOUNTS); prints `seeded True|False`,
      then `ok ACCOUNT GROUP QTY` after each answered set. With --barrier, prints `ready`
      first and waits for a line on stdin before starting.
  bullish-set STATE NOW_MS DELAY_MS ACCOUNT
      the venue's clock pinned at NOW_MS: a V1SetMMP for BTC, acknowledged and applied
      DELAY_MS later; prints `ack REQUEST_ID`.
  bullish-get STATE NOW_MS ACCOUNT
      the venue's clock pinned at NOW_MS: prints `configs JSON` (the account's MMP configs).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from reconciler.core.units import dumps_exact, loads_exact
from reconciler.policy.desired import AccountTarget, Location
from reconciler.sandbox.store import Sandbox
from reconciler.simulators.common import Clock
from reconciler.venues import VENUES
from reconciler.venues.base import VenueSpec
from reconciler.venues.bullish import desk as bullish_desk
from reconciler.venues.bullish.wire import LOGIN_PATH, MMP_PATH, command_signature, login_signature


def target(name: str, venue: str) -> AccountTarget:
    return AccountTarget(name, venue, "test", None, name.upper(), Location("child", 1, 1))


async def deribit_sets(sandbox: Sandbox, accounts: list[str], group: str, writes: int) -> None:
    creds = sandbox.credentials([target(a, "deribit") for a in accounts])
    transport = sandbox.transport("deribit")
    async with httpx.AsyncClient(transport=transport, base_url="http://deribit.sandbox") as http:
        for k in range(writes):
            account = accounts[k % len(accounts)]
            pair = f"{creds[account]['CLIENT_ID']}:{creds[account]['CLIENT_SECRET']}"
            params = {
                "index_name": "btc_usd",
                "mmp_group": group,
                "interval": 1,
                "frozen_time": 0,
                "quantity_limit": Decimal(k + 1),
                "max_quote_quantity": Decimal(1),
            }
            body = {"jsonrpc": "2.0", "id": k, "method": "private/set_mmp_config"}
            response = await http.post(
                "/api/v2/private/set_mmp_config",
                content=dumps_exact({**body, "params": params}),
                headers={"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()},
            )
            assert response.status_code == 200, response.text
            print(f"ok {account} {group} {k + 1}", flush=True)


def bullish_only(now_ms: int, delay_ms: int = 200) -> dict[str, VenueSpec[Any]]:
    def make(state: dict[str, object] | None) -> Any:
        return bullish_desk.make(state, clock=Clock(now_ms), apply_delay_ms=delay_ms)

    spec = VENUES["bullish"]
    return {"bullish": dataclasses.replace(spec, desk=make)}


async def bullish(sandbox: Sandbox, now_ms: int, account: str, command: bool) -> None:
    creds = sandbox.credentials([target(account, "bullish")])[account]
    secret, ts = creds["SECRET"], str(now_ms)
    transport = sandbox.transport("bullish")
    async with httpx.AsyncClient(transport=transport, base_url="http://bullish.sandbox") as http:
        login = await http.get(
            LOGIN_PATH,
            headers={
                "BX-PUBLIC-KEY": creds["PUBLIC_KEY"],
                "BX-TIMESTAMP": ts,
                "BX-NONCE": ts,
                "BX-SIGNATURE": login_signature(secret, ts, ts),
            },
        )
        bearer = {"Authorization": "Bearer " + login.json()["token"]}
        if command:
            body = dumps_exact(
                {
                    "commandType": "V1SetMMP",
                    "tradingAccountId": creds["TRADING_ACCOUNT_ID"],
                    "underlyingAssetSymbol": "BTC",
                    "windowTimeInSeconds": "10",
                    "frozenTimeInSeconds": "5",
                    "quantityLimit": "7",
                }
            )
            nonce = str(now_ms * 1000)
            signature = command_signature(secret, ts, nonce, "POST", MMP_PATH, body)
            sign = {"BX-TIMESTAMP": ts, "BX-NONCE": nonce, "BX-SIGNATURE": signature}
            answer = await http.post(MMP_PATH, content=body, headers={**bearer, **sign})
            assert answer.status_code == 200, answer.text
            print("ack", answer.json()["requestId"], flush=True)
            return
        params = {"tradingAccountId": creds["TRADING_ACCOUNT_ID"]}
        read = await http.get(MMP_PATH, params=params, headers=bearer)
        assert read.status_code == 200, read.text
        configs = loads_exact(read.content)["mmpConfigurations"]
        print("configs", json.dumps(configs, sort_keys=True), flush=True)


def main(argv: list[str]) -> None:
    mode, state = argv[0], Path(argv[1])
    if mode == "deribit-sets":
        prefix, count, group = argv[2], int(argv[3]), argv[4]
        if "--barrier" in argv:
            print("ready", flush=True)
            sys.stdin.readline()
        sandbox = Sandbox(VENUES, state)
        print(f"seeded {sandbox.seeded}", flush=True)
        writes = int(argv[argv.index("--writes") + 1]) if "--writes" in argv else count
        accounts = [f"{prefix}{k}" for k in range(count)]
        asyncio.run(deribit_sets(sandbox, accounts, group, writes))
    elif mode == "bullish-set":
        now_ms, delay_ms = int(argv[2]), int(argv[3])
        sandbox = Sandbox(bullish_only(now_ms, delay_ms), state)
        asyncio.run(bullish(sandbox, now_ms, argv[4], command=True))
    elif mode == "bullish-get":
        now_ms = int(argv[2])
        asyncio.run(bullish(Sandbox(bullish_only(now_ms), state), now_ms, argv[3], command=False))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv[1:])

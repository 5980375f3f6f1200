"""Shared test helpers: policy files on disk, Deribit clients wired to the simulator."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

import httpx

from reconciler.policy.desired import DesiredState
from reconciler.policy.validate import load_desired
from reconciler.venues import capabilities
from reconciler.venues.base import Credentials
from reconciler.venues.deribit.client import DeribitClient
from reconciler.venues.deribit.simulator import DeribitSimulator
from reconciler.venues.live import Connections
from tests.venues import connect_to

SECRET = "s3cr3t-for-tests"


def write_policy(root: Path, text: str, name: str = "desk.yaml") -> Path:
    folder = root / "policies"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load(root: Path) -> DesiredState:
    return load_desired(root / "policies", capabilities())


def deribit_client(sim: DeribitSimulator, account: str = "acct") -> DeribitClient:
    client_id = f"id-{account}"
    if client_id not in sim.accounts:
        sim.add_account(client_id, SECRET)
    http = httpx.AsyncClient(
        base_url="https://test.deribit.com", transport=httpx.MockTransport(sim)
    )
    return DeribitClient(
        account, Credentials({"CLIENT_ID": client_id, "CLIENT_SECRET": SECRET}), http
    )


def sim_connections(sim: DeribitSimulator, desired: DesiredState) -> Connections:
    """Connections for every desired account, each a simulator account id-<name>."""
    creds = {}
    for name in desired.accounts:
        client_id = f"id-{name}"
        if client_id not in sim.accounts:
            sim.add_account(client_id, SECRET)
        creds[name] = Credentials({"CLIENT_ID": client_id, "CLIENT_SECRET": SECRET})
    return connect_to(sim, desired, creds)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """A parser's subcommands by name (argparse keeps them in its subparsers action)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}

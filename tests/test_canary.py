"""No output of ours ever contains a credential: a canary in every credential, every command,
every file written, and a venue that echoes the request (secret included) in its error."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.cli import main
from reconciler.commands import run as commands
from reconciler.core.units import dumps_exact, loads_exact
from reconciler.policy import fastyaml
from reconciler.venues import VENUES, live
from reconciler.venues.deribit.simulator import DeribitSimulator, RpcError
from tests.venues import ROWS

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "policies" / "desk-alpha.yaml"


def example_accounts() -> dict[str, str]:
    """The example policy's accounts: credentials prefix -> venue."""
    tree = fastyaml.load(EXAMPLE.read_text(encoding="utf-8"))
    assert tree is not None, EXAMPLE
    return {str(a["credentials"]): str(a["venue"]) for a in tree["accounts"].values()}


ACCOUNTS = example_accounts()


def secret(prefix: str) -> str:
    return f"CANARY-{prefix.lower()}-9f27c1e5"


@pytest.fixture
def desk(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    (in_tmp / "policies").mkdir()
    (in_tmp / "policies" / "desk-alpha.yaml").write_text(
        (ROOT / "policies" / "desk-alpha.yaml").read_text()
    )
    sims: dict[str, Any] = {venue: ROWS[venue].make() for venue in VENUES}
    assert set(ACCOUNTS.values()) == set(VENUES), "the example desk has an account per venue"
    for prefix, venue in ACCOUNTS.items():
        # a canary as each account's secret; every variable named as the venue names it
        creds = ROWS[venue].open_account(sims[venue], f"id-{prefix.lower()}", secret(prefix))
        for suffix in VENUES[venue].connection.credential_vars:
            monkeypatch.setenv(f"{prefix}_{suffix}", creds[suffix])
    sims["deribit"].seed(
        "id-deribit_main",
        {
            "index_name": "btc_usd",
            "mmp_group": "MassQuoteBot7",
            "interval": 60,
            "frozen_time": 0,
            "quantity_limit": 5,
            "max_quote_quantity": 1,
        },
    )
    sims["deribit"].trigger("id-deribit_main", "btc_usd", "MassQuoteBot7")

    real_connect = live.connect

    def fake_connect(*args: Any, **kwargs: Any) -> Any:
        kwargs["transport"] = lambda venue: httpx.MockTransport(sims[venue])
        return real_connect(*args[:3], **kwargs)

    monkeypatch.setattr(commands, "connect", fake_connect)
    return sims


def echo_secret_in_error(sim: DeribitSimulator) -> None:
    """The venue's error text repeats the request it got, credentials and all."""
    real = sim._auth

    def auth(params: dict[str, Any]) -> Any:
        raise RpcError(13004, f"invalid_credentials for request {dumps_exact(params)}")

    sim._auth = auth  # type: ignore[method-assign]
    sim._real_auth = real  # type: ignore[attr-defined]


def test_no_secret_anywhere(
    desk: dict[str, Any], in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = []

    def run(*argv: str) -> int:
        code = main(list(argv))
        captured = capsys.readouterr()
        outputs.append(captured.out + captured.err)
        return code

    assert run("validate") == 0
    for fmt in ("text", "json", "markdown"):
        assert run("plan", "--format", fmt) == 0
    assert run("plan", "--out", "plan.json") == 0
    assert run("apply", "plan.json", "--auto-approve") == 0
    desk["binance"].accounts["id-binance_mm"].market_maker = False  # a failing apply
    (in_tmp / "policies" / "desk-alpha.yaml").write_text(
        (in_tmp / "policies" / "desk-alpha.yaml")
        .read_text()
        .replace("quantity_limit: 8", "quantity_limit: 7")
    )
    assert run("apply", "--auto-approve") == 1
    desk["binance"].accounts["id-binance_mm"].market_maker = True
    assert (
        run(
            "unfreeze",
            "deribit/deribit-main/btc_usd/MassQuoteBot7",
            "--reason",
            "ok",
            "--auto-approve",
        )
        == 0
    )
    echo_secret_in_error(desk["deribit"])
    assert run("plan", "--venue", "deribit") == 1
    assert "invalid_credentials for request" in outputs[-1]  # the venue's text is kept...

    files = [p for p in in_tmp.rglob("*") if p.is_file() and "policies" not in p.parts]
    assert {p.name for p in files} >= {"plan.json", "journal.jsonl"}
    texts = outputs + [p.read_text(errors="replace") for p in files]
    for prefix in ACCOUNTS:
        for text in texts:
            assert secret(prefix) not in text  # ...but never the secret in it
    assert "***" in outputs[-1]
    saved = loads_exact((in_tmp / "plan.json").read_bytes())
    accounts = saved["desired"]["accounts"].values()
    assert {a["credentials"] for a in accounts} <= set(ACCOUNTS)  # prefixes, never values


def test_redaction_finds_secrets_inside_other_text_and_with_any_characters() -> None:
    from reconciler.core import secrets

    inside, spaced = "Zq9-canary/inside+x=", "canary with spaces 42"
    for value in (inside, spaced, *(f"many-{n:05d}-secret-value" for n in range(3000))):
        secrets.register(value)
    text = f"url?sig=abc{inside}def&x=1 said: {spaced}. key many-02999-secret-value end"
    shown = secrets.redact(text)
    assert inside not in shown and spaced not in shown and "many-02999" not in shown
    assert shown == "url?sig=abc***def&x=1 said: ***. key *** end"


def test_no_secret_in_what_heal_prints_reports_or_journals(
    desk: dict[str, Any], in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`mmp heal` (which the drift workflow runs with the trading keys): its output, its
    report and its journal, also when the venue's error text repeats the credentials."""
    (in_tmp / "policies" / "guardrails.yaml").write_text("heal:\n  enabled: true\n")
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    for args in (["init", "-q", "-b", "main"], ["add", "policies"], ["commit", "-qm", "desk"]):
        git = ["git", "-C", str(in_tmp), *identity, "-c", "commit.gpgsign=false", *args]
        subprocess.run(git, check=True, capture_output=True)  # heal: committed policies only
    # 4: deribit-main's declared scopes, bare, are held while its MassQuoteBot7 is frozen
    assert main(["heal", "--report", "heal.json"]) == 4
    healed = capsys.readouterr()
    assert "Heal finished:" in healed.out
    echo_secret_in_error(desk["deribit"])
    # each account refused is named not checked, with the venue's error (exit 4)
    assert main(["heal", "--venue", "deribit", "--report", "refused.json"]) == 4
    refused = capsys.readouterr()
    assert "invalid_credentials for request" in refused.out and "***" in refused.out
    assert "invalid_credentials for request" in (in_tmp / "refused.json").read_text()
    files = [in_tmp / "heal.json", in_tmp / "refused.json", in_tmp / ".mmp" / "journal.jsonl"]
    texts = [healed.out, healed.err, refused.out, refused.err]
    texts += [path.read_text() for path in files]
    assert '"event":"heal"' in texts[-1]
    for prefix in ACCOUNTS:
        assert not [text for text in texts if secret(prefix) in text], prefix

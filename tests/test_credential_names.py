"""A `credentials:` prefix names the variables one account's keys come from, and those names
end up in the workflows as secret names: a value that is not wholly a prefix (a final
newline passes `^...$`), a prefix GitHub refuses, or a variable two accounts read (one key
sent to two venues, or to a venue's testnet and its production) is a validation error,
with the file:line of both accounts."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler import __version__
from reconciler.cli import main

BYBIT = "      BTC: {window: 1s, frozen: 30s, quantity_limit: 10, delta_limit: 2, vega_limit: 2}\n"
BINANCE = "      BTCUSDT: {window: 5s, frozen: 30s, quantity_limit: 10, delta_limit: 2}\n"
OKX = "      BTC-USD: {window: 1s, frozen: 30s, quantity_limit: 10}\n"
BULLISH = "      BTC: {window: 10s, frozen: 30s, max_quote_quantity: 5}\n"


def _account(name: str, venue: str, credentials: str, environment: str = "testnet") -> str:
    body = {"bybit": BYBIT, "binance": BINANCE, "okx": OKX, "bullish": BULLISH}[venue]
    return (
        f"  {name}:\n    venue: {venue}\n    environment: {environment}\n"
        f"    credentials: {credentials}\n    mmp:\n{body}"
    )


def _validate(folder: Path, capsys: pytest.CaptureFixture[str], *accounts: str) -> tuple[int, str]:
    (folder / "policies").mkdir(exist_ok=True)
    (folder / "policies" / "desk.yaml").write_text("accounts:\n" + "".join(accounts))
    capsys.readouterr()
    code = main(["validate", "--policies", str(folder / "policies")])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("value", ['"BYBIT_X\\n"', "|\n      BYBIT_X", '"BYBIT_X\\n\\n"'])
def test_a_prefix_with_a_final_newline_is_no_prefix(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    code, err = _validate(in_tmp, capsys, _account("bybit-desk", "bybit", value))
    assert code == 1
    assert (
        "policies/desk.yaml:5:18: credentials: credentials must be an environment-variable prefix"
        in err
    )
    pin = f"mmp-reconciler=={__version__}"
    assert main(["workflows", "--write", "--policies", "policies", "--pin", pin]) == 1
    assert "credentials must be an environment-variable prefix" in capsys.readouterr().err
    assert not (in_tmp / ".github").exists()


def test_a_base_url_with_a_final_newline_is_no_url(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    account = _account("bybit-desk", "bybit", "BYBIT_X")
    account = account.replace("    mmp:", '    base_url: "https://api.example.test\\n"\n    mmp:')
    code, err = _validate(in_tmp, capsys, account)
    assert code == 1 and "base_url must be an https:// URL" in err


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://192.0.2.2:9", True),  # one missing "s": the key and secret in clear
        ("http://127.0.0.1.example.test/api", True),
        ("http://localhost.example.test", True),
        ("http://127.0.0.1@example.test", True),
        ("http://127.0.0.1:8080/api", False),  # a simulator or proxy on this machine
        ("http://localhost:9", False),
        ("http://[::1]:9/", False),
        ("https://api.example.test/v2", False),
    ],
)
def test_plain_http_only_to_this_machine(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], url: str, refused: bool
) -> None:
    account = _account("bybit-desk", "bybit", "BYBIT_X")
    account = account.replace("    environment: testnet\n", f"    base_url: {url}\n")
    code, err = _validate(in_tmp, capsys, account)
    said = "plain http:// to a host other than this machine" in err
    assert (code, said) == ((1, True) if refused else (0, False)), err
    assert url not in err  # a URL can hold a secret: never repeated


@pytest.mark.parametrize("prefix", ["GITHUB", "GITHUB_BYBIT"])
def test_a_prefix_github_refuses_is_refused(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], prefix: str
) -> None:
    code, err = _validate(in_tmp, capsys, _account("bybit-desk", "bybit", prefix))
    assert code == 1 and "GitHub refuses secret names that start with GITHUB_" in err


@pytest.mark.parametrize(
    ("second", "sends", "shared"),
    [
        (
            _account("bybit-b", "bybit", "SHARED"),
            "bybit testnet",
            "SHARED_API_KEY and SHARED_API_SECRET",
        ),
        (
            _account("binance-live", "binance", "SHARED", "production"),
            "binance production",
            "SHARED_API_KEY and SHARED_API_SECRET",
        ),
        # another prefix, the same variable: bullish SHARED_API reads SHARED_API_SECRET
        (_account("bullish-b", "bullish", "SHARED_API"), "bullish testnet", "SHARED_API_SECRET"),
    ],
)
def test_one_key_for_two_venues_or_environments_is_refused(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], second: str, sends: str, shared: str
) -> None:
    first = _account("binance-a", "binance", "SHARED")
    code, err = _validate(in_tmp, capsys, first, second)
    assert code == 1
    assert (
        f"policies/desk.yaml:11:18: account `{second.split(':')[0].strip()}` ({sends}) reads "
        f"{shared}, as account `binance-a` (binance testnet, policies/desk.yaml:2:3) does: one "
        "key would be sent to both" in err
    ), err


def test_one_venue_account_under_two_names_is_refused_with_why(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Same venue, same environment, same keys: the same account of the venue, whose MMP two
    policies would then plan and apply against each other (which one wins depends on the
    order of merges), so it must be declared once."""
    first = _account("okx-a", "okx", "OKX_MAIN")
    code, err = _validate(in_tmp, capsys, first, first.replace("okx-a", "okx-b"))
    assert code == 1
    assert "account `okx-b` uses the same venue account as `okx-a` (policies/desk.yaml:2:3)" in err
    assert "two policies would plan and apply its MMP against each other" in err


def test_accounts_with_their_own_keys_validate(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    accounts = (
        _account("okx-a", "okx", "FOO_API"),  # FOO_API_API_KEY ...
        _account("bybit-b", "bybit", "FOO"),  # FOO_API_KEY ...: no variable in common
        _account("bybit-live", "bybit", "BYBIT_LIVE", "production"),
    )
    assert _validate(in_tmp, capsys, *accounts) == (0, "")


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://127.0.0.1:99999", "its port is not a number from 1 to 65535"),
        ("http://127.999.999.999:1", "its host is not a valid IP address"),
        ("https://gateway.example.test/v2?key=x", "it has a query or a fragment"),
        ("https://gateway.example.test/v2#x", "it has a query or a fragment"),
    ],
)
def test_a_base_url_no_request_could_use_is_refused_not_a_crash(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], url: str, said: str
) -> None:
    """Red team 17 round 3: these passed validation, then plan crashed ('a bug in mmp'), or
    the API path landed in the query."""
    account = _account("bybit-desk", "bybit", "BYBIT_X")
    account = account.replace("    environment: testnet\n", f"    base_url: {url}\n")
    code, err = _validate(in_tmp, capsys, account)
    assert code == 1 and f"base_url cannot be used: {said}" in err, err
    assert url not in err


def test_one_venue_account_under_two_prefixes_is_refused_before_anything_is_read(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Red team 17 round 3: okx-a and okx-b with the same key (prefixes OKXA, OKXB) planned
    two updates of one family, and apply fought itself: UNSAFE, exit 4. The same key at the
    same venue endpoint is one account declared twice; said with both places, no value."""
    for prefix in ("OKXA", "OKXB"):
        monkeypatch.setenv(f"{prefix}_API_KEY", "same-key-canary")
        monkeypatch.setenv(f"{prefix}_API_SECRET", f"secret-{prefix}")
        monkeypatch.setenv(f"{prefix}_PASSPHRASE", f"pass-{prefix}")
    accounts = (_account("okx-a", "okx", "OKXA"), _account("okx-b", "okx", "OKXB"))
    (in_tmp / "policies").mkdir()
    (in_tmp / "policies" / "desk.yaml").write_text("accounts:\n" + "".join(accounts))
    capsys.readouterr()
    code = main(["plan", "--policies", str(in_tmp / "policies")])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "one venue account declared twice: `okx-a` (OKXA_API_KEY, policies/desk.yaml:2:3)" in err
    assert "`okx-b` (OKXB_API_KEY" in err and "same-key-canary" not in err
    monkeypatch.setenv("OKXB_API_KEY", "another-key")  # two keys: two accounts, as declared
    assert main(["validate", "--policies", str(in_tmp / "policies")]) == 0

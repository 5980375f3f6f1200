"""Broken and hostile YAML always ends in clear validation errors and exit 1 (or a valid
desk and exit 0): never a traceback, never a hang, never an echoed secret, never pydantic's
wording."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from reconciler.cli import main

CANARY = "CANARY-fuzz-5e1f"
SKELETON: dict[str, object] = {
    "accounts": {
        "acct": {
            "venue": "deribit",
            "environment": "testnet",
            "credentials": "ACCT",
            "defaults": {"window": "1s", "frozen": "30s"},
            "mmp": {"btc_usd": {"default": {"quantity_limit": 1, "max_quote_quantity": 1}}},
        }
    }
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**40), 10**40),
    st.text(max_size=20),
    st.decimals(allow_nan=False, allow_infinity=False, places=8),
    st.sampled_from(
        [
            "1s",
            "0s",
            "manual",
            "absent",
            "500ms",
            "-1s",
            "1.5s",
            "1e309",
            ".nan",
            ".inf",
            CANARY,
            "deribit",
            "binance",
            "btc_usd",
            "3",
            "2h",
            "",
            "~",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.text(max_size=12)
            | st.sampled_from(
                [
                    "window",
                    "frozen",
                    "quantity_limit",
                    "mmp",
                    "venue",
                    "client_secret",
                    "default",
                    "accounts",
                    "credentials",
                ]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=20,
)
paths = st.lists(
    st.sampled_from(
        [
            "accounts",
            "acct",
            "mmp",
            "btc_usd",
            "default",
            "defaults",
            "venue",
            "credentials",
            "window",
            "quantity_limit",
            "environment",
        ]
    ),
    min_size=0,
    max_size=5,
)


def dump(data: object) -> str:
    stream = io.StringIO()
    yaml = YAML(typ="rt")
    yaml.representer.add_representer(
        Decimal, lambda r, d: r.represent_scalar("tag:yaml.org,2002:float", str(d))
    )
    yaml.dump(data, stream)
    return stream.getvalue()


def mutate(data: dict[str, object], path: list[str], value: object) -> dict[str, object]:
    import copy

    out = copy.deepcopy(data)
    node: object = out
    for part in path[:-1]:
        if not isinstance(node, dict) or part not in node:
            break
        node = node[part]
    if isinstance(node, dict) and path:
        node[path[-1]] = value
    elif not path:
        return {"accounts": value}
    return out


def run_validate(root: Path, text: str) -> tuple[int, str]:
    (root / "policies").mkdir(exist_ok=True)
    (root / "policies" / "fuzz.yaml").write_text(text, encoding="utf-8")
    err, out = io.StringIO(), io.StringIO()
    with redirect_stderr(err), redirect_stdout(out):
        code = main(["validate"])
    return code, err.getvalue() + out.getvalue()


def check(code: int, output: str) -> None:
    assert code in (0, 1), output
    assert "Traceback" not in output and "a bug in mmp" not in output, output
    assert CANARY not in output, output
    assert "Input should be" not in output and "validation error" not in output, output
    if code == 1:
        assert output.startswith("error: "), output


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=paths, value=values)
def test_structurally_wrong_yaml(in_tmp: Path, path: list[str], value: object) -> None:
    check(*run_validate(in_tmp, dump(mutate(SKELETON, path, value))))


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(alphabet=st.sampled_from(list("{}[]:,-&*!|>'\"#%@` \n\tab1.")), max_size=80))
def test_syntactically_broken_yaml(in_tmp: Path, text: str) -> None:
    check(*run_validate(in_tmp, text))


def _alias_bomb() -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 30)]
    return "\n".join(lines) + "\naccounts: {acct: {venue: deribit, mmp: {btc_usd: *a29}}}\n"


HOSTILE = {
    "alias bomb": _alias_bomb(),
    "deep nesting": "accounts: " + "[" * 5000 + "]" * 5000 + "\n",
    "deep mappings": "accounts: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    "huge integer": "accounts: {a: {venue: deribit, mmp: {x: " + "9" * 10000 + "}}}\n",
    "huge exponent": dump(
        mutate(
            SKELETON,
            ["accounts", "acct", "mmp", "btc_usd", "default", "quantity_limit"],
            Decimal("1E+999999999"),
        )
    ),
    "tiny exponent": dump(
        mutate(
            SKELETON,
            ["accounts", "acct", "mmp", "btc_usd", "default", "quantity_limit"],
            Decimal("1E-999999999"),
        )
    ),
    "huge duration": dump(
        mutate(SKELETON, ["accounts", "acct", "defaults", "window"], "9" * 5000 + "h")
    ),
    "python tag": "accounts: !!python/object:os.system {a: 1}\n",
    "binary": "accounts: !!binary aGVsbG8=\n",
    "not utf-8": "accounts: \udcff\n",
    "a list": "- 1\n- 2\n",
    "a scalar": "hello\n",
    "empty": "",
    "secret everywhere": dump(
        mutate(SKELETON, ["accounts", "acct", "credentials"], {"client_secret": CANARY})
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_yaml(in_tmp: Path, case: str) -> None:
    text = HOSTILE[case]
    if case == "not utf-8":
        (in_tmp / "policies").mkdir()
        (in_tmp / "policies" / "fuzz.yaml").write_bytes(b"accounts: \xff\xfe\n")
        err = io.StringIO()
        with redirect_stderr(err):
            code = main(["validate"])
        check(code, err.getvalue())
        return
    check(*run_validate(in_tmp, text))


def test_a_parser_assertion_is_a_yaml_error_not_a_crash(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "policies").mkdir(exist_ok=True)
    (in_tmp / "policies" / "desk.yaml").write_text("#\n> #")  # found by hypothesis
    assert main(["validate"]) == 1
    assert "invalid YAML" in capsys.readouterr().err

"""The fast C reading of policy files gives exactly what the pure round-trip reading gives:
the same values (floats as exact Decimals, numbers not in plain decimal notation as
UnplainNumber) and the same line and column for every key."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from reconciler.core.units import UnplainNumber
from reconciler.policy import fastyaml
from reconciler.policy.loader import LocatedTree, yaml_reader

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(
    [*(ROOT / "policies").glob("*.yaml"), *(ROOT / "tests" / "cases").glob("*/policy.yaml")]
)


def _same(fast: Any, pure: Any, where: str) -> None:
    assert type(fast) is type(pure) or (fast == pure and not isinstance(pure, dict | list)), where
    assert fast == pure, where
    if isinstance(pure, CommentedMap):
        assert (fast.lc.line, fast.lc.col) == (pure.lc.line, pure.lc.col), where
        for key in pure:
            assert fast.lc.key(key) == pure.lc.key(key), f"{where}.{key}"
            assert fast.lc.value(key) == pure.lc.value(key), f"{where}.{key}"
            _same(fast[key], pure[key], f"{where}.{key}")
    elif isinstance(pure, CommentedSeq):
        for index, item in enumerate(pure):
            assert fast.lc.item(index) == pure.lc.item(index), f"{where}[{index}]"
            _same(fast[index], item, f"{where}[{index}]")


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_fast_and_pure_readings_agree(path: Path) -> None:
    text = path.read_text()
    fast = fastyaml.load(text)
    if fast is None:
        pytest.skip("the C extension (ruamel.yaml.clib) is not installed")
    _same(fast, yaml_reader().load(text), path.name)


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\na: 2\n",  # duplicate key: the pure reading's message decides
        "base: &b {x: 1}\nuse:\n  <<: *b\n",  # merge key
        "a: !!python/name:os.system ''\n",  # a tag
        "a: [1, 2\n",  # broken
        "%YAML 1.1\n---\na: yes\n",  # 1.1 reads `yes` as true: the pure reading knows how
        "%TAG !e! tag:example.com,2000:\n---\na: 1\n",
        "a: 1\n---\nb: 2\n",  # two documents
        "a: &k x\n*k : 1\n",  # an alias as a key
        "[a, b]: 1\n",  # a complex key
        "a: 2026-01-01\n",  # a timestamp
        "a:\nb: 1\n",  # no value: libyaml places it elsewhere than the pure parser
        "a: !!str 5\n",  # an explicit tag: the pure reading keeps it as a tagged scalar
        "a: *nowhere\n",  # an undefined alias
        "- a\n- b\n",  # not a mapping
        "",
        "a:" + " [" * 80 + "]" * 80 + "\n",  # deeper than MAX_DEPTH
    ],
)
def test_anything_unusual_is_left_to_the_pure_reading(text: str) -> None:
    assert fastyaml.load(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "a: &x {k: 1, l: [2, 3.50]}\nb: *x\nc: &s 1e3\nd: *s\n",  # aliases point at the anchor
        "a: '5'\nb: \"1.0\"\nc: ~\nd: ''\ne: null\nf: 0x1F\ng: 0o17\nh: 1_000\ni: 1_0.5\n",
        "c: true\nd: True\ne: yes\nh: ! 5\n",
        "a: {x: [1, {y: z}], w: []}\nb:\n  - - 1\n    - 2\n  - {}\n",
        "a: |\n  two\n  lines\nb: >-\n  folded\n  text\n'quoted key': 1\n\"k\": 2\n",
        "a:" + " [" * 40 + "]" * 40 + "\n",
    ],
)
def test_unusual_but_readable_documents_read_alike(text: str) -> None:
    fast = fastyaml.load(text)
    if fast is None:
        pytest.skip("the C extension (ruamel.yaml.clib) is not installed")
    _same(fast, yaml_reader().load(text), "root")


def test_aliases_share_one_object_so_an_alias_bomb_stays_small() -> None:
    bomb = "a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: &c [*b, *b, *b]\nd: [*c, *c, *c]\n"
    data = fastyaml.load(bomb)
    if data is None:
        pytest.skip("the C extension (ruamel.yaml.clib) is not installed")
    assert data["d"][0] is data["c"]


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)
)
_KEYS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=8)
_DOCS = st.dictionaries(
    _KEYS,
    st.recursive(
        _SCALARS,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
        max_leaves=12,
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(doc=_DOCS, flow=st.booleans())
def test_any_dumped_document_reads_alike(doc: dict[str, Any], flow: bool) -> None:
    """Whatever ruamel writes (quoting, floats in every spelling, nesting, both styles),
    the fast reading gives what the pure one gives, positions included."""
    out = io.StringIO()
    writer = YAML()
    writer.default_flow_style = flow
    writer.dump(doc, out)
    text = out.getvalue()
    fast = fastyaml.load(text)
    try:
        pure = yaml_reader().load(text)
    except YAMLError:  # ruamel can write what it cannot read ("{:0: null}")
        assert fast is None, text
        return
    if fast is not None:
        _same(fast, pure, "root")


PLAIN = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")
NUMBER_TEXTS = st.one_of(
    st.integers(-(10**12), 10**12).map(str),
    st.integers(0, 10**9).map(hex),
    st.integers(0, 10**9).map(lambda n: f"0o{n:o}"),
    st.integers(0, 10**9).map(bin),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.from_regex(r"[-+]?[0-9][0-9_]{0,6}(\.[0-9_]{0,4})?([eE][-+]?[0-9]{1,2})?", fullmatch=True),
    st.from_regex(r"[-+]?\.[0-9]{1,4}([eE][-+]?[0-9]{1,2})?", fullmatch=True),
    st.sampled_from([".inf", "-.inf", "+.inf", ".nan", ".NaN", "007", "-0", "0.0", "5.", "+5"]),
)


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(NUMBER_TEXTS, min_size=1, max_size=6), flow=st.booleans())
def test_numbers_read_alike_and_only_plain_decimal_notation_is_a_number(
    texts: list[str], flow: bool
) -> None:
    """However a number is spelled, both readings give the same thing: the exact number
    when it is written in plain decimal notation, else an UnplainNumber keeping the text."""
    pairs = [f"k{i}: {text}" for i, text in enumerate(texts)]
    doc = "{" + ", ".join(pairs) + "}\n" if flow else "\n".join(pairs) + "\n"
    fast = fastyaml.load(doc)
    if fast is None:
        pytest.skip("the C extension (ruamel.yaml.clib) is not installed")
    pure = yaml_reader().load(doc)
    _same(fast, pure, "root")
    for i, text in enumerate(texts):
        value = pure[f"k{i}"]
        if isinstance(value, str):
            continue  # YAML does not read it as a number at all (`1_`, `+.5e`...)
        if PLAIN.fullmatch(text):
            assert not isinstance(value, UnplainNumber) and value == Decimal(text), text
            assert str(value) == text or isinstance(value, int), text  # 1.50 stays 1.50
        else:
            assert value == UnplainNumber(text, Decimal(0)), text


def test_an_empty_value_points_at_its_key_not_the_next_line() -> None:
    tree = LocatedTree("f.yaml", yaml_reader().load("a:\n  b:\n  c: 1\nd: ~\n"))
    assert str(tree.locate(("a", "b"))) == "f.yaml:2:3"
    assert str(tree.locate(("d",))) == "f.yaml:4:4"  # an explicit null is a value

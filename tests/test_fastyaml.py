"""The fast C reading of policy files gives exactly what the pure round-trip reading gives:
the same values (floats as exact Decimals) and the same line and column for every key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from reconciler import fastyaml
from reconciler.loader import yaml_reader

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
    ],
)
def test_anything_unusual_is_left_to_the_pure_reading(text: str) -> None:
    assert fastyaml.load(text) is None


def test_aliases_share_one_object_so_an_alias_bomb_stays_small() -> None:
    bomb = "a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: &c [*b, *b, *b]\nd: [*c, *c, *c]\n"
    data = fastyaml.load(bomb)
    if data is None:
        pytest.skip("the C extension (ruamel.yaml.clib) is not installed")
    assert data["d"][0] is data["c"]

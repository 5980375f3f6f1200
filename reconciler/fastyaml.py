"""A fast reading of a well-formed policy file: libyaml's C parser (ruamel.yaml.clib) builds
the node tree, and we build the same round-trip maps the loader's pure reading gives, with
every key's and value's line and column, and every float as an exact Decimal.

About five times faster than ruamel's pure-Python round trip (a desk of 10,000 scopes
parsed in 13 s). Only for success: on any problem the caller reads the file again the
pure way, whose error messages (with file:line) stay the one source of truth. Without the
C extension, `load` returns None and the pure way is used.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

FLOAT = "tag:yaml.org,2002:float"
MERGE = "tag:yaml.org,2002:merge"
PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "bool", "null", "float")
)


class _Unsupported(Exception):
    """Something only the pure reading should judge (merge keys, tags, duplicates)."""


def load(text: str) -> Any | None:
    """The document as round-trip maps and lists, or None: read it the pure way instead."""
    try:
        yaml = YAML(typ="safe", pure=False)
        if yaml.Parser.__name__ != "CParser":  # the pure parser is no faster than the pure way
            return None
        node = yaml.compose(text)
        if not isinstance(node, MappingNode):  # empty or odd documents: the pure way
            return None
        return _Builder(yaml.constructor).build(node)
    except Exception:  # any doubt: the pure reading decides, with its own messages
        return None


class _Builder:
    def __init__(self, constructor: Any) -> None:
        self.constructor = constructor
        self.built: dict[int, Any] = {}  # aliases share one object, as in the pure reading

    def build(self, node: Node) -> Any:
        known = self.built.get(id(node))
        if known is not None:
            return known
        if isinstance(node, MappingNode):
            return self._mapping(node)
        if isinstance(node, SequenceNode):
            return self._sequence(node)
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        raise _Unsupported(type(node).__name__)

    def _mapping(self, node: MappingNode) -> CommentedMap:
        result = CommentedMap()
        self.built[id(node)] = result
        result._yaml_set_line_col(node.start_mark.line, node.start_mark.column)
        for key_node, value_node in node.value:
            if key_node.tag == MERGE or not isinstance(key_node, ScalarNode):
                raise _Unsupported("merge key or complex key")
            key = self._scalar(key_node)
            if key in result:
                raise _Unsupported("duplicate key")
            result[key] = self.build(value_node)
            result._yaml_set_kv_line_col(
                key,
                [
                    key_node.start_mark.line,
                    key_node.start_mark.column,
                    value_node.start_mark.line,
                    value_node.start_mark.column,
                ],
            )
        return result

    def _sequence(self, node: SequenceNode) -> CommentedSeq:
        result = CommentedSeq()
        self.built[id(node)] = result
        result._yaml_set_line_col(node.start_mark.line, node.start_mark.column)
        for index, item in enumerate(node.value):
            result.append(self.build(item))
            result._yaml_set_idx_line_col(index, [item.start_mark.line, item.start_mark.column])
        return result

    def _scalar(self, node: ScalarNode) -> Any:
        if node.tag not in PLAIN_TAGS:
            raise _Unsupported(node.tag)
        if node.tag == FLOAT:
            try:
                return Decimal(str(node.value).replace("_", ""))
            except InvalidOperation:
                return Decimal("NaN")
        return self.constructor.construct_object(node, deep=True)

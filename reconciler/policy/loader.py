"""Load: read policies/**/*.yaml with ruamel.yaml, keeping the file:line:col of every value.

Numbers with a fraction are read as Decimal straight from the YAML text, so `0.1` is exactly
0.1 from the file to the wire. Every problem in every file is collected and raised at once
as one ConfigError.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import ScalarNode

from reconciler.core.errors import ConfigError, Problem
from reconciler.core.units import UnplainNumber, read_number
from reconciler.policy import fastyaml
from reconciler.policy.desired import Location

SKIPPED_FILES = frozenset({"guardrails.yaml", "guardrails.yml"})
SKIPPED_FILES_MAIN = "guardrails.yaml"
_SECRETISH_KEY = re.compile(
    r"(secret|passw|api[_-]?key|private[_-]?key|token|client[_-]?id|passphrase)", re.I
)
MAX_FILE_BYTES = 4 * 1024 * 1024


class _DecimalConstructor(RoundTripConstructor):
    """Round-trip constructor that reads floats as exact Decimals, and numbers not written
    in plain decimal notation as UnplainNumber (validation refuses them with the fix)."""


def _construct_decimal(
    constructor: RoundTripConstructor, node: ScalarNode
) -> Decimal | int | UnplainNumber:
    return read_number(str(node.value), fastyaml.exact_decimal(str(node.value)))


def _construct_int(
    constructor: RoundTripConstructor, node: ScalarNode
) -> Decimal | int | UnplainNumber:
    return read_number(str(node.value), int(constructor.construct_yaml_int(node)))


_DecimalConstructor.add_constructor(fastyaml.FLOAT, _construct_decimal)
_DecimalConstructor.add_constructor(fastyaml.INT, _construct_int)


def yaml_reader() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Constructor = _DecimalConstructor
    return yaml


class LocatedTree:
    """A parsed file and a way to point at any path inside it."""

    def __init__(self, file: str, root: Any) -> None:
        self.file = file
        self.root = root

    def locate(self, path: Sequence[str | int], *, at_key: bool = False) -> Location:
        """Where path points: the value (or the key with at_key); else the nearest parent."""
        node: Any = self.root
        line, col = 0, 0
        for index, part in enumerate(path):
            last = index == len(path) - 1
            if isinstance(node, CommentedMap) and part in node:
                key_line, key_col = node.lc.key(part)
                val_line, val_col = node.lc.value(part)
                # `key:` with nothing after it: the parser places the value at the next
                # token (often the next key's line), so point at the key instead
                empty = node[part] is None and val_line != key_line
                on_key = (at_key and last) or empty
                line, col = (key_line, key_col) if on_key else (val_line, val_col)
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
                line, col = node.lc.item(part)
                node = node[part]
            else:
                break
        return Location(self.file, line + 1, col + 1)

    def problem(self, path: Sequence[str | int], message: str, *, at_key: bool = False) -> Problem:
        where = self.locate(path, at_key=at_key)
        return Problem(where.file, where.line, where.col, message)


def policy_files(root: Path) -> list[Path]:
    """The policy files under root (guardrails files are not policies: see misplaced)."""
    if root.is_file():
        return [] if root.name in SKIPPED_FILES else [root]
    files = [*root.rglob("*.yaml"), *root.rglob("*.yml")]
    return sorted(p for p in files if p.name not in SKIPPED_FILES and p.is_file())


def guardrails_problems(root: Path) -> list[Problem]:
    """Guardrails are read from the top of the policies folder only; a guardrails file
    anywhere else would be read neither as accounts nor as guardrails: say so."""
    if root.is_file():
        if root.name not in SKIPPED_FILES:
            return []
        return [
            Problem(
                display_path(root),
                0,
                0,
                "this file holds guardrails, not accounts: pass "
                f"the policies folder instead (--policies {display_path(root.parent)})",
            )
        ]
    found = [p for name in SKIPPED_FILES for p in root.rglob(name) if p.parent != root]
    return [
        Problem(
            display_path(path),
            0,
            0,
            f"guardrails are read only from {display_path(root / SKIPPED_FILES_MAIN)}: this "
            "file is not read; move its rules there",
        )
        for path in sorted(found)
    ]


def display_path(path: Path) -> str:
    """A path as printed: relative to the current folder where it can be, and with every
    control character escaped (a file name is never a way to drive the terminal)."""
    try:
        text = str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        text = str(path)
    return printable(text)


def printable(text: str) -> str:
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def parse_file(path: Path) -> tuple[LocatedTree | None, list[Problem]]:
    name = display_path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem(name, 0, 0, f"cannot read: {exc.strerror}")]
    if len(raw) > MAX_FILE_BYTES:
        return None, [Problem(name, 0, 0, f"file is larger than {MAX_FILE_BYTES} bytes")]
    try:
        text = raw.decode("utf-8")
        data = fastyaml.load(text)  # well-formed files, quickly; None: read the pure way
        if data is None:
            data = yaml_reader().load(text)
    except UnicodeDecodeError as exc:
        return None, [Problem(name, 0, 0, f"not UTF-8 text (byte {exc.start})")]
    except MarkedYAMLError as exc:
        return None, [_yaml_problem(name, exc)]
    except (YAMLError, RecursionError) as exc:
        return None, [Problem(name, 0, 0, f"invalid YAML: {type(exc).__name__}")]
    except AssertionError:  # ruamel's scanner asserts on some malformed input ("#\n> #")
        return None, [Problem(name, 0, 0, "invalid YAML: the parser could not read it")]
    except (ValueError, OverflowError, TypeError) as exc:  # e.g. an integer of 10,000 digits
        why = "a number with thousands of digits" if "digits" in str(exc) else type(exc).__name__
        return None, [Problem(name, 0, 0, f"invalid YAML value: {why}")]
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        return None, [Problem(name, 1, 1, "a policy file must be a mapping with `accounts:`")]
    return LocatedTree(name, data), []


def _yaml_problem(name: str, exc: MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
    problem = str(exc.problem or exc.context or "invalid YAML")
    duplicate = re.match(r'found duplicate key "(.*?)" with value', problem)
    if duplicate:
        # ruamel's text quotes both values, which could be a secret: name the key only
        problem = f"duplicate key `{duplicate.group(1)}`"
    return Problem(name, line, col, f"invalid YAML: {problem}")


_PLAIN_NAME = re.compile(r"[a-z][a-z_]{0,31}")


def looks_secret(key: object) -> bool:
    """A key that looks like a literal credential (client_secret, api_key, token...)."""
    return isinstance(key, str) and bool(_SECRETISH_KEY.search(key))


def _named(key: str) -> str:
    """A plain field name is repeated; anything else may itself be the pasted secret."""
    return f"`{key}`" if _PLAIN_NAME.fullmatch(key) else "this key (not repeated here)"


def secret_key_problems(tree: LocatedTree) -> list[Problem]:
    """Keys that look like literal credentials anywhere in the file."""
    problems: list[Problem] = []
    for path, key in _walk_keys(tree.root, ()):
        if looks_secret(key):
            problems.append(
                tree.problem(
                    (*path, key),
                    f"{_named(key)} looks like a literal credential: secrets never go in policies; "
                    "set `credentials: PREFIX` and export PREFIX_... in the environment",
                    at_key=True,
                )
            )
    return problems


def _walk_keys(node: Any, path: tuple[Any, ...]) -> Iterable[tuple[tuple[Any, ...], Any]]:
    stack: list[tuple[Any, tuple[Any, ...]]] = [(node, path)]
    seen: set[int] = set()
    while stack:  # iterative: deep hostile nesting must not overflow the stack
        current, where = stack.pop()
        if id(current) in seen:
            continue  # an alias: its node was walked once already (no alias bombs)
        seen.add(id(current))
        if isinstance(current, dict):
            for key, value in current.items():
                yield where, key
                stack.append((value, (*where, key)))
        elif isinstance(current, list):
            stack.extend((value, (*where, i)) for i, value in enumerate(current))


_PYDANTIC_WORDING = {
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected text",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "list_type": "expected a list",
    "string_pattern_mismatch": "does not have the expected form",
}


def pydantic_problems(
    tree: LocatedTree, error: ValidationError, prefix: tuple[str | int, ...] = ()
) -> list[Problem]:
    """One Problem per pydantic error, at the right place, in our words (never pydantic's),
    never echoing the input value. (Policy files are read by reconciler.policy.shape; this serves
    the other files read with pydantic models, such as guardrails.yaml.)"""
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        loc = (*prefix, *(part for part in item["loc"] if isinstance(part, (str, int))))
        kind = item["type"]
        field = str(loc[-1]) if loc else ""
        if kind == "extra_forbidden":
            problems.append(tree.problem(loc, f"unknown key `{field}`", at_key=True))
            continue
        if kind == "missing":
            problems.append(tree.problem(loc[:-1], f"`{field}` is required", at_key=True))
            continue
        if kind == "value_error":
            message = str(item["msg"]).removeprefix("Value error, ")
        elif kind == "literal_error":
            message = f"expected {item.get('ctx', {}).get('expected', 'another value')}"
        else:
            message = _PYDANTIC_WORDING.get(kind, "not a valid value here")
        problems.append(tree.problem(loc, f"{field}: {message}" if field else message))
    return problems


def raise_if(problems: list[Problem]) -> None:
    if problems:
        raise ConfigError(problems)

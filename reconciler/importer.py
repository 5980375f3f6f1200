"""`mmp import`: live MMP settings into the policy files, in our format, keeping the user's own.

Each selected account's `mmp:` is merged in place in the file that declares the account,
with ruamel.yaml's round trip: every comment, key order, quote and blank line stays, and a
value is written only where it differs from the venue. Written values are canonical and
exact: durations in the most readable unit (`5s`, not `5000ms`), limits as exact decimals.
New underlyings and groups go in sorted order. A scope the file declares but the venue does
not have is taken out (a plan would create it); `absent` entries stay. Afterwards `mmp plan`
shows no changes for the imported accounts.
"""

from __future__ import annotations

import difflib
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import CommentMark
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.tokens import CommentToken

from reconciler.desired import DesiredState
from reconciler.loader import yaml_reader
from reconciler.model import ALL_FIELDS, LiveAccount, MmpConfig
from reconciler.policy import ABSENT
from reconciler.units import (
    decimal_text,
    format_duration,
    format_freeze,
    parse_duration,
    parse_freeze,
)
from reconciler.venues.base import Capabilities


def _writer() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    representer = yaml.representer
    assert isinstance(representer, RoundTripRepresenter)
    representer.add_representer(
        Decimal, lambda r, d: r.represent_scalar("tag:yaml.org,2002:float", decimal_text(d))
    )
    return yaml


@dataclass
class FileImport:
    path: Path
    before: str
    after: str = ""
    removed: list[str] = field(default_factory=list)  # scopes taken out: not on the venue
    written: int = 0  # scopes whose YAML changed

    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.before.splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                f"a/{self.path}",
                f"b/{self.path}",
            )
        )


def import_live(
    desired: DesiredState, live: list[LiveAccount], capabilities: Mapping[str, Capabilities]
) -> list[FileImport]:
    """The new text of every policy file that declares an imported account."""
    by_file: dict[Path, list[LiveAccount]] = {}
    for account in live:
        target = desired.accounts[account.account]
        by_file.setdefault(Path(target.where.file), []).append(account)
    results = []
    for path, accounts in sorted(by_file.items()):
        text = path.read_text(encoding="utf-8")
        editable = _writer().load(text)
        exact = yaml_reader().load(text)  # the same tree with exact Decimals, for comparing
        result = FileImport(path, text)
        for account in accounts:
            _merge_account(
                editable["accounts"][account.account],
                exact["accounts"][account.account],
                account,
                capabilities[account.venue],
                result,
            )
        out = io.StringIO()
        _writer().dump(editable, out)
        result.after = out.getvalue()
        results.append(result)
    return results


def _live_tree(account: LiveAccount, caps: Capabilities) -> dict[str, dict[str, MmpConfig]]:
    """underlying -> group name -> config; ungrouped venues use the group name ''."""
    tree: dict[str, dict[str, MmpConfig]] = {}
    for scope in account.scopes:
        if scope.config is None:
            continue
        group = "" if not caps.groups else scope.key.group or caps.default_group_name
        tree.setdefault(scope.key.underlying, {})[group] = scope.config
    return tree


def _merge_account(
    node: CommentedMap,
    exact: Any,
    account: LiveAccount,
    caps: Capabilities,
    result: FileImport,
) -> None:
    defaults = _defaults(exact.get("defaults"))
    live = _live_tree(account, caps)
    if not isinstance(node.get("mmp"), dict):
        node["mmp"] = CommentedMap()
        exact = {**exact, "mmp": {}}
    mmp, exact_mmp = node["mmp"], exact.get("mmp") or {}
    prefix = f"{account.venue}/{account.account}"
    for underlying in list(mmp):
        if underlying in live or mmp[underlying] == ABSENT:
            continue
        _delete(mmp, underlying)
        result.removed.append(f"{prefix}/{underlying}")
    for underlying, groups in sorted(live.items()):
        if not caps.groups:
            config = groups[""]
            result.written += _merge_scope(mmp, exact_mmp, underlying, config, defaults)
            continue
        if not isinstance(mmp.get(underlying), dict):  # new: build it whole, then insert
            fresh = CommentedMap()
            for group, config in sorted(groups.items(), key=lambda g: _group_order(g[0], caps)):
                result.written += _merge_scope(fresh, {}, group, config, defaults)
            if underlying in mmp:
                mmp[underlying] = fresh
            else:
                _insert_sorted(mmp, underlying, fresh)
            continue
        node_groups, exact_groups = mmp[underlying], exact_mmp.get(underlying) or {}
        for group in list(node_groups):
            if group not in groups and node_groups[group] != ABSENT:
                _delete(node_groups, group)
                result.removed.append(f"{prefix}/{underlying}/{group}")
        for group, config in sorted(groups.items(), key=lambda g: _group_order(g[0], caps)):
            result.written += _merge_scope(node_groups, exact_groups, group, config, defaults)


def _group_order(name: str, caps: Capabilities) -> tuple[bool, str]:
    return (name != caps.default_group_name, name)


def _defaults(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return {}
    out: dict[str, Any] = {}
    if "window" in raw:
        out["window"] = parse_duration(raw["window"])
    if "frozen" in raw:
        out["frozen"] = parse_freeze(raw["frozen"])
    return out


def _merge_scope(
    parent: CommentedMap, exact_parent: Any, name: str, config: MmpConfig, defaults: dict[str, Any]
) -> int:
    """Bring parent[name] to config, touching only what differs; 1 when anything changed."""
    node = parent.get(name)
    exact = exact_parent.get(name) if isinstance(exact_parent, dict) else None
    if not isinstance(node, CommentedMap):
        fresh = CommentedMap()
        for key in ALL_FIELDS:
            value = config.value(key)
            if value is not None and value != defaults.get(key):
                fresh[key] = _yaml_value(key, value)
        if name in parent:
            parent[name] = fresh
        else:
            _insert_sorted(parent, name, fresh)
        return 1
    changed = 0
    for position, key in enumerate(ALL_FIELDS):
        want = config.value(key)
        if key in node:
            if _parsed(key, exact.get(key) if isinstance(exact, dict) else None) == want:
                continue
            if want is None:
                _delete(node, key)
            else:
                node[key] = _yaml_value(key, want)
            changed = 1
        elif want is not None and want != defaults.get(key):
            before = sum(1 for other in ALL_FIELDS[:position] if other in node)
            node.insert(before, key, _yaml_value(key, want))
            changed = 1
    return changed


def _insert_sorted(parent: CommentedMap, key: str, value: Any) -> None:
    keys = list(parent)
    position = len(keys)
    if keys == sorted(keys, key=str):
        position = sum(1 for existing in keys if str(existing) < key)
    if position == len(keys) and keys:  # appended: the blank lines after the block follow it
        before = _tail_slot(parent)
        parent[key] = value
        after = _tail_slot(parent)
        if before is not None and after is not None:
            kept, blank = _split_tail(_token_value(*before))
            _set_token(*before, kept)
            _set_token(*after, "\n" + blank if blank else None)
        return
    parent.insert(position, key, value)


def _delete(parent: CommentedMap, key: Any) -> None:
    """Delete parent[key]; comment lines that followed it go to the entry before it."""
    keys = list(parent)
    slot = _tail_slot(parent[key]) if isinstance(parent[key], CommentedMap) else (parent, key)
    value = _token_value(*slot) if slot is not None else None
    previous = keys[keys.index(key) - 1] if keys.index(key) > 0 else None
    del parent[key]
    if previous is None or not value:
        return
    following = value.split("\n", 1)[1] if not value.startswith("\n") else value[1:]
    target = _tail_slot(parent[previous]) if isinstance(parent[previous], CommentedMap) else None
    target = target or (parent, previous)
    _set_token(*target, (_token_value(*target) or "\n") + following)


# ruamel keeps the comment lines and blank lines that follow a block in the comment token
# of the block's deepest last entry; these helpers move them when entries come and go.
def _tail_slot(node: CommentedMap) -> tuple[CommentedMap, Any] | None:
    while isinstance(node, CommentedMap) and len(node):
        last = list(node)[-1]
        child = node[last]
        if isinstance(child, CommentedMap) and len(child) and not child.fa.flow_style():
            node = child
            continue
        return node, last
    return None


def _token_value(node: CommentedMap, key: Any) -> str | None:
    item = node.ca.items.get(key)
    token = item[2] if item and len(item) > 2 else None
    return None if token is None else str(token.value)


def _set_token(node: CommentedMap, key: Any, value: str | None) -> None:
    item = node.ca.items.setdefault(key, [None, None, None, None])
    item[2] = None if value in (None, "\n") else CommentToken(value, CommentMark(0), None)


def _split_tail(value: str | None) -> tuple[str | None, str]:
    """(the comment lines, the blank lines after them)."""
    if not value:
        return value, ""
    kept = value.rstrip("\n") + "\n"
    return kept, value[len(kept) :]


def _parsed(key: str, raw: Any) -> Any:
    try:
        if key == "window":
            return parse_duration(raw)
        if key == "frozen":
            return parse_freeze(raw)
        return None if raw is None else Decimal(str(raw))
    except (ValueError, ArithmeticError):
        return object()  # unparsable: never equal, so it is rewritten


def _yaml_value(key: str, value: Any) -> Any:
    if key == "window":
        return format_duration(int(value))
    if key == "frozen":
        return format_freeze(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return value

"""`mmp import`: live MMP settings into the policy files, in our format, keeping the user's own.

Each selected account's `mmp:` is merged in place in the file that declares the account,
with ruamel.yaml's round trip: every comment, key order, quote and blank line stays, and a
value is written only where it differs from the venue. Written values are canonical and
exact: durations in the most readable unit (`5s`, not `5000ms`), limits as exact decimals.
New underlyings and groups go in sorted order.

Import adds and updates; it takes nothing out unless asked (octoDNS's dump and Terraform's
import only add), and it never writes over a change a freeze is holding back:

- A live scope the files lack is added, frozen or not: its live config is the only value
  there is, and the next plan shows it unchanged, so nothing is ever written to it.
- A declared value that differs from the venue becomes the venue's value. That includes
  an `absent` whose scope still has a config live (a removal never applied): it is named,
  and the comment lines that followed it follow the new block.
- A declared scope the venue has no config for is kept and named (the plan creates it);
  `--prune` takes it out. `absent` entries for scopes the venue lacks stay.
- A held scope (frozen, its live config not what the policies want: the plan shows it
  `held`) keeps its declared value, with `--prune` too. The policies hold a change the
  freeze only postponed, often a tightening made because the protection tripped; writing
  the live value over it would undo that change with nobody deciding to, and pruning a held
  create would turn a scope the plan reports UNPROTECTED into one it no longer mentions.
- A scope held because a write to it may end another scope's freeze (Deribit: a set's
  reset may reach the account) is held as a frozen one is: its declared value kept.
- A frozen scope whose declared value equals live is not held (the plan shows it
  unchanged): there is nothing to write and nothing to say.
- Only the selected scopes are touched: `--underlying` limits the merge as it limits a plan.
- A live config that validation would refuse (a value beyond a bound the venue documents, a
  field its rules require missing) is not written, and named with why: the file must still
  validate, or every later plan fails. The rest is written: one odd scope does not hold up
  the desk's import, and the one left out is reported by every plan (unmanaged, or its
  declared value kept), never touched. A bound that is only our assumption (the docs state
  none) refuses nothing (reconciler.venues.base: max_assumed, names_assumed): a live value
  beyond it is proof the venue takes it.

Afterwards `mmp plan` shows no changes for the imported scopes, except the kept ones (a
create each) and the held ones (still held).
"""

from __future__ import annotations

import argparse
import difflib
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import CommentMark
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.tokens import CommentToken

from reconciler.apply import runlock
from reconciler.commands.run import _read_everything
from reconciler.core import console, paths
from reconciler.core.console import out
from reconciler.core.errors import ReconcilerError
from reconciler.core.mmpfields import FIELDS, NAMES, MmpField
from reconciler.core.model import LiveAccount, MmpConfig, ScopeKey, in_space, split_space
from reconciler.core.units import decimal_text
from reconciler.planning.plan import Action, Step
from reconciler.planning.planner import Filters, make_plan
from reconciler.policy.desired import DesiredState
from reconciler.policy.fastyaml import FLOAT
from reconciler.policy.loader import yaml_reader
from reconciler.policy.spec import ABSENT
from reconciler.policy.venue_rules import live_problems
from reconciler.venues import capabilities
from reconciler.venues.base import Capabilities


def command(args: argparse.Namespace) -> int:
    """`mmp import [--dry-run] [--prune]`: the diff of each file on stdout, notes on stderr.
    Never while an apply or unfreeze runs in this repository (it would write down what that
    run is mid-way through changing); --dry-run then looks, saying so."""
    with runlock.ReadLock(paths.state_dir(args.policies), "import") as lock:
        if lock.contended is not None and not args.dry_run:
            raise ReconcilerError(
                f"{runlock.describe(lock.contended)} still holds the lock of this repository; "
                "an import now would write down configs it is mid-way through changing. "
                "Nothing was written: run import when it ends (--dry-run looks all the same)"
            )
        return _import(args)


def _import(args: argparse.Namespace) -> int:
    desired, live, filters = _read_everything(args)
    for note in (note for account in live for note in account.said()):
        console.note(note)  # what the read could not see (a Block RFQ space unreadable)
    results = import_live(desired, live, capabilities(), prune=args.prune, filters=filters)
    for result in results:
        if result.changed:
            out(result.diff())
            if not args.dry_run:
                _save(result)
        for line in notes(result, dry_run=args.dry_run):
            console.note(line)
    changed = sum(result.changed for result in results)
    if args.dry_run and changed:
        console.note(f"--dry-run: {changed} file(s) would change; nothing written")
    return 0


def _save(result: FileImport) -> None:
    tmp = result.path.with_name(result.path.name + ".mmp-import")
    try:
        tmp.write_text(result.after, encoding="utf-8")
        tmp.replace(result.path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ReconcilerError(
            f"{result.path}: cannot write the imported file ({exc.strerror or exc}); "
            "it is unchanged"
        ) from None


def notes(result: FileImport, *, dry_run: bool) -> list[str]:
    """What import did to one file (or, with dry_run, would do), for a person."""

    def verb(done: str, would: str) -> str:
        return f"would {would}" if dry_run else done

    where = str(result.path)
    lines = []
    if result.written:
        lines.append(f"{where}: {_summary(result, dry_run)}")
    elif result.kept or result.held or result.refused:
        lines.append(f"{where}: nothing to write")
    else:
        lines.append(f"{where}: already matches the venues")
    for key in _ordered(result.removed):
        lines.append(
            f"{where}: {verb('took out', 'take out')} {key} (the venue has no config for it)"
        )
    for key in _ordered(result.kept):
        lines.append(
            f"{where}: {verb('kept', 'keep')} {key}: declared, but the venue has no config for it "
            "(mmp plan creates it; --prune takes it out)"
        )
    for key in _ordered(result.unremoved):
        lines.append(
            f"{where}: {verb('replaced', 'replace')} `absent` of {key} with its live config: "
            "the removal was never applied (declare it `absent` again to have it removed)"
        )
    for step in sorted(result.held, key=lambda s: s.key.sort_key()):
        lines.append(f"{where}: {verb('kept', 'keep')} {_held(step)}")
    for key, problems in sorted(result.refused, key=lambda r: r[0].sort_key()):
        lines.append(
            f"{where}: {verb('did not write', 'not write')} {key}: validation would refuse "
            f"its live config ({'; '.join(problems)}); the policies keep what they say of it "
            "(a scope they do not declare stays unmanaged: reported by plan, never touched)"
        )
    return lines


def _summary(result: FileImport, dry_run: bool) -> str:
    done = []  # (verb, its past, what)
    if result.added:
        done.append(("add", "added", f"{len(result.added)} live scope(s)"))
    if result.updated:
        done.append(("update", "updated", f"{len(result.updated)} to the venue's values"))
    if dry_run:
        return "would " + " and ".join(f"{verb} {what}" for verb, _, what in done)
    return ", ".join(f"{past} {what}" for _, past, what in done)


def _held(step: Step) -> str:
    if not step.freeze.may_be_frozen:  # held for another scope's freeze its write may end
        return (
            f"the declared value of {step.key}: a write to it may end the freeze of "
            f"{', '.join(step.reaches)}, and its live config is not what the policies want "
            "(mmp plan holds the change until that freeze ends)"
        )
    if step.freeze.unknown:  # the venue cannot tell whether it is frozen: never guessed
        return (
            f"the declared value of {step.key}: the venue cannot tell whether the scope is "
            "frozen, and its live config is not what the policies want (mmp plan holds the "
            "change until a person checks it and names it to --include-held)"
        )
    if step.held_action is Action.CREATE:
        return (
            f"the declared value of {step.key}: the scope is frozen and has no config live "
            "(UNPROTECTED: mmp plan creates it once it is unfrozen; --prune leaves it)"
        )
    return (
        f"the declared value of {step.key}: the scope is frozen, its live config is not what "
        "the policies want (mmp plan holds the change until it is unfrozen)"
    )


def _ordered(keys: Iterable[ScopeKey]) -> list[ScopeKey]:
    return sorted(keys, key=ScopeKey.sort_key)


class _Written(str):
    """A float literal of the file as written: import dumps it back byte for byte (ruamel's
    own round trip keeps a binary float and prints it again, so 9999999999999.9999 came back
    as 10000000000000.0000: a limit import never meant to touch, rounded)."""


class _VerbatimConstructor(RoundTripConstructor):
    pass


_VerbatimConstructor.add_constructor(FLOAT, lambda _, node: _Written(node.value))


def _writer() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Constructor = _VerbatimConstructor
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    representer = yaml.representer
    assert isinstance(representer, RoundTripRepresenter)
    representer.add_representer(Decimal, lambda r, d: r.represent_scalar(FLOAT, decimal_text(d)))
    representer.add_representer(_Written, lambda r, d: r.represent_scalar(FLOAT, str(d)))
    return yaml


@dataclass
class FileImport:
    path: Path
    before: str
    after: str = ""
    added: list[ScopeKey] = field(default_factory=list)  # live scopes the file lacked
    updated: list[ScopeKey] = field(default_factory=list)  # declared values made the venue's
    kept: list[ScopeKey] = field(default_factory=list)  # declared, not on the venue: kept
    removed: list[ScopeKey] = field(default_factory=list)  # the same, taken out (--prune)
    held: list[Step] = field(default_factory=list)  # frozen: the declared value kept
    unremoved: list[ScopeKey] = field(default_factory=list)  # `absent` made the live config
    # live configs validation would refuse: not written, each with why
    refused: list[tuple[ScopeKey, list[str]]] = field(default_factory=list)

    @property
    def written(self) -> int:
        """Scopes added or updated."""
        return len(self.added) + len(self.updated)

    @property
    def changed(self) -> bool:
        return self.after != self.before

    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.before.splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                f"a/{self.path}",
                f"b/{self.path}",
            )
        )


@dataclass(frozen=True)
class _Job:
    """One account's merge: what to leave alone, and where to say what was done."""

    account: LiveAccount
    caps: Capabilities
    prune: bool
    held: frozenset[ScopeKey]
    filters: Filters
    result: FileImport
    space: str | None = None  # another config space of the venue (its own section)

    def key(self, underlying: Any, group: Any = "") -> ScopeKey:
        name = None if group in ("", self.caps.default_group_name) else str(group)
        where = in_space(self.space, str(underlying))
        return ScopeKey(self.account.venue, self.account.account, where, name)

    def selected(self, underlying: Any) -> bool:
        return self.filters.scope_selected(self.key(underlying))


def import_live(
    desired: DesiredState,
    live: list[LiveAccount],
    capabilities: Mapping[str, Capabilities],
    *,
    prune: bool = False,
    filters: Filters | None = None,
) -> list[FileImport]:
    """The new text of every policy file that declares an imported account."""
    filters = filters or Filters()
    # held is what the plan says is held, so import and plan can never disagree about it
    plan = make_plan(desired, live, capabilities, filters)
    held = [step for step in plan.steps if step.action is Action.HELD]
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
            mine = [step for step in held if step.key.account == account.account]
            result.held += mine
            job = _Job(
                account,
                capabilities[account.venue],
                prune,
                frozenset(step.key for step in mine),
                filters,
                result,
            )
            _merge_account(
                editable["accounts"][account.account], exact["accounts"][account.account], job
            )
        out = io.StringIO()
        _writer().dump(editable, out)
        result.after = out.getvalue()
        results.append(result)
    return results


def _live_tree(
    account: LiveAccount, caps: Capabilities, space: str | None = None
) -> dict[str, dict[str, MmpConfig]]:
    """underlying -> group name -> config, of one config space (None: the venue's own);
    ungrouped venues and spaces use the group name ''."""
    tree: dict[str, dict[str, MmpConfig]] = {}
    for scope in account.scopes:
        scope_space, underlying = split_space(scope.key.underlying)
        if scope.config is None or scope_space != space:
            continue
        group = "" if not caps.groups else scope.key.group or caps.default_group_name
        tree.setdefault(underlying, {})[group] = scope.config
    return tree


def _merge_account(node: CommentedMap, exact: Any, job: _Job) -> None:
    _merge_section(node, exact, "mmp", _defaults(exact.get("defaults")), job)
    for space, caps in job.caps.spaces.items():
        # a space of its own (Deribit's block_rfq): its section, no defaults inherited
        mine = replace(job, caps=caps, space=space)
        if space in node or _live_tree(job.account, caps, space):
            _merge_section(node, exact, space, {}, mine)


def _merge_section(
    node: CommentedMap, exact: Any, section: str, defaults: dict[str, Any], job: _Job
) -> None:
    live = _live_tree(job.account, job.caps, job.space)
    new = not isinstance(node.get(section), dict)
    mmp = CommentedMap() if new else node[section]
    exact_mmp = {} if new else exact.get(section) or {}
    for underlying in list(mmp):
        if job.selected(underlying):
            _not_live(mmp, underlying, live.get(str(underlying), {}), job)
    for underlying, groups in sorted(live.items()):
        if job.selected(underlying):
            _merge_underlying(mmp, exact_mmp, underlying, groups, defaults, job)
    if new and section in node:  # `block_rfq:` with nothing after it
        _replace(node, section, mmp)
    elif new and (mmp or job.space is None):  # built whole, then added: the blank lines
        _insert_sorted(node, section, mmp)  # after the account follow it


def _not_live(mmp: CommentedMap, underlying: Any, live: dict[str, MmpConfig], job: _Job) -> None:
    """The declared scopes of one underlying that the venue has no config for: kept and
    named, or with --prune taken out; a held one always stays."""
    declared = mmp[underlying]
    if declared == ABSENT:
        return
    if not job.caps.groups:
        if not live:
            _keep_or_take(mmp, underlying, job.key(underlying), job)
        return
    if not isinstance(declared, CommentedMap):
        return
    missing = {
        group: job.key(underlying, group)
        for group in declared
        if group not in live and declared[group] != ABSENT
    }
    whole = bool(missing) and len(missing) == len(declared)  # no `absent` entry to keep
    if whole and job.prune and not job.held & set(missing.values()):
        _delete(mmp, underlying)  # whole, so the comments after it move as one
        job.result.removed += missing.values()
        return
    for group, key in missing.items():
        _keep_or_take(declared, group, key, job)


def _keep_or_take(parent: CommentedMap, name: Any, key: ScopeKey, job: _Job) -> None:
    if key in job.held:
        return  # a held create: named with the held scopes
    if not job.prune:
        job.result.kept.append(key)
        return
    _delete(parent, name)
    job.result.removed.append(key)


def _merge_underlying(
    mmp: CommentedMap,
    exact_mmp: Any,
    underlying: str,
    groups: dict[str, MmpConfig],
    defaults: dict[str, Any],
    job: _Job,
) -> None:
    if not job.caps.groups:
        _merge_one(mmp, exact_mmp, underlying, groups[""], defaults, job.key(underlying), job)
        return
    order = sorted(groups.items(), key=lambda g: _group_order(g[0], job.caps))
    node = mmp.get(underlying)
    if isinstance(node, CommentedMap):
        exact_groups = exact_mmp.get(underlying) or {}
        for group, config in order:
            key = job.key(underlying, group)
            _merge_one(node, exact_groups, group, config, defaults, key, job)
        return
    # new, or `absent` as a whole: build it whole, then insert
    if node == ABSENT and all(job.key(underlying, group) in job.held for group in groups):
        return
    fresh = CommentedMap()
    for group, config in order:
        key = job.key(underlying, group)
        if key in job.held:  # its removal waits for the freeze to end: still declared absent
            fresh[group] = ABSENT
        else:
            _merge_one(fresh, {}, group, config, defaults, key, job, absent=node == ABSENT)
    if not fresh:  # every group's live config refused: nothing to write
        return
    if underlying in mmp:
        _replace(mmp, underlying, fresh)
    else:
        _insert_sorted(mmp, underlying, fresh)


def _merge_one(
    parent: CommentedMap,
    exact_parent: Any,
    name: str,
    config: MmpConfig,
    defaults: dict[str, Any],
    key: ScopeKey,
    job: _Job,
    *,
    absent: bool = False,  # its whole underlying is declared `absent`
) -> None:
    if key in job.held:
        return  # frozen: the declared value stays (see the module's docstring)
    problems = live_problems(split_space(key.underlying)[1], config, job.caps)
    if problems:  # never written: the file would no longer validate (see the docstring)
        job.result.refused.append((key, problems))
        return
    absent = absent or parent.get(name) == ABSENT
    new = name not in parent and not absent
    if _merge_scope(parent, exact_parent, name, config, defaults):
        (job.result.added if new else job.result.updated).append(key)
        if absent:  # a removal never applied: the venue's config is the value now, said so
            job.result.unremoved.append(key)


def _group_order(name: str, caps: Capabilities) -> tuple[bool, str]:
    return (name != caps.default_group_name, name)


def _defaults(raw: Any) -> dict[str, Any]:
    """What the account's defaults give each scope, by field name (validated already)."""
    if not isinstance(raw, dict):
        return {}
    return {f.name: f.parse(raw[f.name]) for f in FIELDS if f.name in raw}


def _merge_scope(
    parent: CommentedMap, exact_parent: Any, name: str, config: MmpConfig, defaults: dict[str, Any]
) -> int:
    """Bring parent[name] to config, touching only what differs; 1 when anything changed."""
    node = parent.get(name)
    exact = exact_parent.get(name) if isinstance(exact_parent, dict) else None
    if not isinstance(node, CommentedMap):
        fresh = CommentedMap()
        for f in FIELDS:
            value = config.value(f)
            if value is not None and value != defaults.get(f.name):
                fresh[f.name] = f.policy_value(value)
        if name in parent:
            _replace(parent, name, fresh)
        else:
            _insert_sorted(parent, name, fresh)
        return 1
    changed = 0
    for position, f in enumerate(FIELDS):
        want = config.value(f)
        if f.name in node:
            if _parsed(f, exact.get(f.name) if isinstance(exact, dict) else None) == want:
                continue
            if want is None:
                _delete(node, f.name)
            else:
                node[f.name] = f.policy_value(want)
            changed = 1
        elif want is not None and want != defaults.get(f.name):
            before = sum(1 for other in NAMES[:position] if other in node)
            node.insert(before, f.name, f.policy_value(want))
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


def _replace(parent: CommentedMap, key: Any, fresh: CommentedMap) -> None:
    """parent[key] (a scalar such as `absent`) becomes fresh: the comment on the key's line
    stays there, the comment lines that followed the scalar follow the new block."""
    item = parent.ca.items.get(key)
    token = item[2] if item and len(item) > 2 else None
    parent[key] = fresh
    if token is None or not len(fresh):
        return
    on_line, _, following = str(token.value).partition("\n")
    if on_line.strip():
        token.value = on_line + "\n"  # the same token: its column stays
    else:
        item[2] = None
    tail = _tail_slot(fresh)
    if following and tail is not None:
        _set_token(*tail, "\n" + following)


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


def _parsed(mmp_field: MmpField, raw: Any) -> Any:
    try:
        return mmp_field.parse(raw)
    except (ValueError, ArithmeticError):
        return object()  # unparsable: never equal, so it is rewritten

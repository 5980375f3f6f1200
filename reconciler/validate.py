"""Validate: turn parsed policy files into DesiredState, checking each venue's capabilities.

Every problem in every file is collected; nothing is raised until all files were read.
"""

from __future__ import annotations

from collections.abc import Mapping
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reconciler.desired import AccountTarget, DesiredScope, DesiredState, Location
from reconciler.errors import Problem
from reconciler.loader import (
    LocatedTree,
    guardrails_problems,
    parse_file,
    policy_files,
    pydantic_problems,
    raise_if,
    secret_key_problems,
)
from reconciler.model import LIMIT_FIELDS, MmpConfig, ScopeKey
from reconciler.policy import ABSENT, SCOPE_FIELDS, AccountSpec, PolicyFile, ScopeSpec
from reconciler.units import MANUAL, decimal_places, decimal_text, format_duration
from reconciler.venues.base import Capabilities, DurationBound, LimitBound, RemoveMode

Path_ = tuple[str | int, ...]


def load_desired(root: Path, venues: Mapping[str, Capabilities]) -> DesiredState:
    """Load and validate every policy file under root; raise ConfigError with all problems."""
    files = policy_files(root)
    misplaced = guardrails_problems(root)
    if not files and not misplaced:
        where = "does not exist" if not root.exists() else "has no policy files (*.yaml)"
        raise_if(
            [
                Problem(
                    str(root),
                    0,
                    0,
                    f"{where}; run mmp from the root of your policy repository, or pass "
                    "--policies DIR",
                )
            ]
        )
    state = DesiredState()
    problems: list[Problem] = list(misplaced)
    seen_endpoints: dict[tuple[str, str, str], tuple[str, Location]] = {}
    for path in files:
        tree, parse_problems = parse_file(path)
        problems += parse_problems
        if tree is None:
            continue
        problems += secret_key_problems(tree)
        try:
            policy = PolicyFile.model_validate(dict(tree.root))
        except ValidationError as exc:
            problems += pydantic_problems(tree, exc)
            continue
        for name, spec in policy.accounts.items():
            problems += _add_account(state, tree, name, spec, venues, seen_endpoints)
    raise_if(problems)
    return state


def _add_account(
    state: DesiredState,
    tree: LocatedTree,
    name: str,
    spec: AccountSpec,
    venues: Mapping[str, Capabilities],
    seen_endpoints: dict[tuple[str, str, str], tuple[str, Location]],
) -> list[Problem]:
    base: Path_ = ("accounts", name)
    where = tree.locate(base, at_key=True)
    if name in state.accounts:
        first = state.accounts[name].where
        return [tree.problem(base, f"account `{name}` is already declared at {first}", at_key=True)]
    caps = venues.get(spec.venue)
    if caps is None:
        match = get_close_matches(spec.venue, list(venues), n=1)
        hint = f"; did you mean `{match[0]}`?" if match else ""
        known = ", ".join(sorted(venues))
        return [
            tree.problem((*base, "venue"), f"unknown venue `{spec.venue}` (known: {known}){hint}")
        ]
    problems = _endpoint_problems(tree, base, spec, caps)
    if problems:
        return problems
    target = AccountTarget(
        name, spec.venue, spec.environment, spec.base_url, spec.credentials, where
    )
    endpoint = (spec.venue, target.endpoint(), spec.credentials)
    if endpoint in seen_endpoints:
        other, other_where = seen_endpoints[endpoint]
        return [
            tree.problem(
                (*base, "credentials"),
                f"account `{name}` uses the same venue account as `{other}` ({other_where}): "
                "one venue account must be declared once",
            )
        ]
    seen_endpoints[endpoint] = (name, where)
    state.accounts[name] = target
    problems += _field_support(tree, (*base, "defaults"), spec.defaults, caps)
    scopes, scope_problems = _scopes(tree, base, name, spec, caps)
    problems += scope_problems
    problems += _group_rules(tree, base, scopes, caps)
    for scope in scopes:
        if scope.key.group == "*":
            state.absent_underlyings[(name, scope.key.underlying)] = scope.where
        else:
            state.scopes[scope.key] = scope
    return problems


def _endpoint_problems(
    tree: LocatedTree, base: Path_, spec: AccountSpec, caps: Capabilities
) -> list[Problem]:
    if (spec.environment is None) == (spec.base_url is None):
        return [
            tree.problem(
                base,
                "set exactly one of `environment` (production | testnet) or `base_url`",
                at_key=True,
            )
        ]
    if spec.environment is not None and spec.environment not in caps.environments:
        known = ", ".join(caps.environments)
        return [
            tree.problem(
                (*base, "environment"),
                f"{caps.venue} has no `{spec.environment}` environment ({known})",
            )
        ]
    return []


def _scopes(
    tree: LocatedTree, base: Path_, account: str, spec: AccountSpec, caps: Capabilities
) -> tuple[list[DesiredScope], list[Problem]]:
    scopes: list[DesiredScope] = []
    problems: list[Problem] = []
    for underlying, value in spec.mmp.items():
        path: Path_ = (*base, "mmp", underlying)
        problems += _underlying_problems(tree, path, str(underlying), caps)
        if value == ABSENT:
            problems += _absent_problems(tree, path, caps)
            group = "*" if caps.groups else None
            key = ScopeKey(caps.venue, account, str(underlying), group)
            scopes.append(DesiredScope(key, None, tree.locate(path)))
            continue
        if not isinstance(value, dict):
            problems.append(tree.problem(path, "expected MMP fields (a mapping) or `absent`"))
            continue
        if not caps.groups:
            key = ScopeKey(caps.venue, account, str(underlying))
            problems += _one_scope(tree, path, key, value, spec.defaults, caps, scopes)
            continue
        stray = [k for k in value if k in SCOPE_FIELDS]
        if stray:
            problems.append(
                tree.problem(
                    (*path, stray[0]),
                    f"{caps.venue} scopes are grouped: put these fields under "
                    f"`{caps.default_group_name}:` (regular orders) or under a mass-quote "
                    "group name",
                    at_key=True,
                )
            )
            continue
        for group_name, group_value in value.items():
            group = None if group_name == caps.default_group_name else str(group_name)
            key = ScopeKey(caps.venue, account, str(underlying), group)
            gpath: Path_ = (*path, group_name)
            if group_value == ABSENT:
                problems += _absent_problems(tree, gpath, caps)
                scopes.append(DesiredScope(key, None, tree.locate(gpath)))
            elif isinstance(group_value, dict):
                problems += _one_scope(tree, gpath, key, group_value, spec.defaults, caps, scopes)
            else:
                problems.append(tree.problem(gpath, "expected MMP fields (a mapping) or `absent`"))
    return scopes, problems


def _one_scope(
    tree: LocatedTree,
    path: Path_,
    key: ScopeKey,
    value: dict[str, Any],
    defaults: ScopeSpec,
    caps: Capabilities,
    out: list[DesiredScope],
) -> list[Problem]:
    try:
        spec = ScopeSpec.model_validate(dict(value))
    except ValidationError as exc:
        return pydantic_problems(tree, exc, path)
    problems = _field_support(tree, path, spec, caps)
    if problems:
        return problems
    merged = {**defaults.set_fields(), **spec.set_fields()}
    for required in ("window", "frozen"):
        if required not in merged:
            problems.append(
                tree.problem(
                    path,
                    f"`{required}` is required (set it here or in the account's defaults)",
                    at_key=True,
                )
            )
    problems += _bound_problems(tree, path, spec, merged, caps)
    if problems:
        return problems
    config = MmpConfig(
        window_ms=merged["window"],
        frozen_ms=merged["frozen"],
        **{name: merged.get(name) for name in LIMIT_FIELDS},
    )
    out.append(DesiredScope(key, config, tree.locate(path, at_key=True)))
    return []


def _field_support(
    tree: LocatedTree, path: Path_, spec: ScopeSpec, caps: Capabilities
) -> list[Problem]:
    return [
        tree.problem(
            (*path, name),
            f"{caps.venue} does not support `{name}` "
            f"(it supports: {', '.join(['window', 'frozen', *caps.limits])})",
            at_key=True,
        )
        for name in spec.set_fields()
        if not caps.supports(name)
    ]


def _bound_problems(
    tree: LocatedTree, path: Path_, spec: ScopeSpec, merged: dict[str, Any], caps: Capabilities
) -> list[Problem]:
    own = spec.set_fields()

    def at(name: str) -> Path_:
        # point at the scope's own value, or at the scope when it comes from defaults
        return (*path, name) if name in own else path

    problems = []
    if "window" in merged:
        text = _duration_problem("window", merged["window"], caps.window, caps.venue)
        if text:
            problems.append(tree.problem(at("window"), text))
    if "frozen" in merged:
        frozen = merged["frozen"]
        if frozen == MANUAL and not caps.frozen.allow_manual:
            problems.append(tree.problem(at("frozen"), f"{caps.venue} has no manual-reset freeze"))
        elif frozen != MANUAL:
            text = _duration_problem("frozen", frozen, caps.frozen, caps.venue)
            if text:
                problems.append(tree.problem(at("frozen"), text))
    for name, bound in caps.limits.items():
        if name in merged:
            text = _limit_problem(name, merged[name], bound, caps.venue)
            if text:
                problems.append(tree.problem(at(name), text))
    for name in sorted(caps.required_limits):
        if name not in merged:
            problems.append(tree.problem(path, f"{caps.venue} requires `{name}`", at_key=True))
    if caps.at_least_one_of and not caps.at_least_one_of & merged.keys():
        names = ", ".join(sorted(caps.at_least_one_of))
        problems.append(
            tree.problem(path, f"{caps.venue} needs at least one of {names}", at_key=True)
        )
    return problems


def _duration_problem(name: str, ms: int, bound: DurationBound, venue: str) -> str:
    shown = format_duration(ms)
    if ms % bound.step_ms:
        return (
            f"{name} {shown} cannot be expressed on {venue}, which takes {name} in whole "
            f"{bound.unit_name()}; refusing to round it"
        )
    if ms < bound.min_ms:
        return f"{name} {shown} is below {venue}'s minimum of {format_duration(bound.min_ms)}"
    if ms > bound.max_ms:
        return f"{name} {shown} is above {venue}'s maximum of {format_duration(bound.max_ms)}"
    return ""


def _limit_problem(name: str, value: Any, bound: LimitBound, venue: str) -> str:
    shown = decimal_text(value)  # as a person writes it: 0.0000001, not 1E-7
    if bound.minimum is not None:
        if bound.min_exclusive and value <= bound.minimum:
            return f"{name} must be greater than {bound.minimum} on {venue} (got {shown})"
        if not bound.min_exclusive and value < bound.minimum:
            return f"{name} must be at least {bound.minimum} on {venue} (got {shown})"
    if bound.maximum is not None and value > bound.maximum:
        return f"{name} {shown} is above {venue}'s maximum of {bound.maximum}"
    if bound.max_decimals is not None and decimal_places(value) > bound.max_decimals:
        return (
            f"{name} {shown} has {decimal_places(value)} decimal places; {venue} keeps at "
            f"most {bound.max_decimals}, and we never round a limit"
        )
    return ""


def _underlying_problems(
    tree: LocatedTree, path: Path_, underlying: str, caps: Capabilities
) -> list[Problem]:
    if caps.underlyings is None or underlying in caps.underlyings:
        return []
    known = sorted(caps.underlyings)
    folded = underlying.lower().replace("-", "_")
    match = [k for k in known if k == folded or k.startswith(folded + "_")][:1]
    match = match or get_close_matches(folded, known, n=1)
    hint = (
        f"; did you mean `{match[0]}`?"
        if match
        else f" (known: {', '.join(known[:8])}{', ...' if len(known) > 8 else ''})"
    )
    return [
        tree.problem(path, f"`{underlying}` is not a {caps.venue} underlying{hint}", at_key=True)
    ]


def _absent_problems(tree: LocatedTree, path: Path_, caps: Capabilities) -> list[Problem]:
    if caps.remove is RemoveMode.UNSUPPORTED:
        return [
            tree.problem(
                path,
                f"{caps.venue} has no way to remove an MMP config, so `absent` cannot be applied; "
                "set the limits you want instead",
            )
        ]
    return []


def _group_rules(
    tree: LocatedTree, base: Path_, scopes: list[DesiredScope], caps: Capabilities
) -> list[Problem]:
    if not caps.groups:
        return []
    problems: list[Problem] = []
    bound_to: dict[str, str] = {}
    for scope in scopes:
        group, underlying = scope.key.group, scope.key.underlying
        if group is None or group == "*":
            continue
        path = (*base, "mmp", underlying, group)
        if not group.strip():
            problems.append(tree.problem(path, "group name is empty", at_key=True))
        if caps.max_group_name and len(group) > caps.max_group_name:
            problems.append(
                tree.problem(
                    path,
                    f"group name is {len(group)} characters; {caps.venue} allows at most "
                    f"{caps.max_group_name}",
                    at_key=True,
                )
            )
        if group in bound_to and bound_to[group] != underlying:
            problems.append(
                tree.problem(
                    path,
                    f"group `{group}` is already bound to `{bound_to[group]}`; on "
                    f"{caps.venue} a group belongs to one underlying",
                    at_key=True,
                )
            )
        bound_to.setdefault(group, underlying)
    if caps.max_groups_per_account and len(bound_to) > caps.max_groups_per_account:
        problems.append(
            tree.problem(
                (*base, "mmp"),
                f"{len(bound_to)} groups declared; {caps.venue} allows at most "
                f"{caps.max_groups_per_account} per account",
                at_key=True,
            )
        )
    return problems

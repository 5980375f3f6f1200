"""A venue's rules for the scopes of one account: supported fields, bounds, what is
required, underlying names, `absent`, and the rules of groups. Each check returns every
problem it finds, each at its own place; none stops at the first."""

from __future__ import annotations

import re
from difflib import get_close_matches
from typing import Any

from reconciler.core.errors import Problem
from reconciler.core.mmpfields import FIELDS, LIMIT, MmpField
from reconciler.core.model import MmpConfig, ScopeKey
from reconciler.core.units import MANUAL, decimal_places, decimal_text, format_duration
from reconciler.policy.loader import LocatedTree
from reconciler.policy.shape import Fields
from reconciler.venues.base import (
    Capabilities,
    Discovery,
    DurationBound,
    LimitBound,
    NameForm,
    RemoveMode,
)

Path_ = tuple[Any, ...]


def field_problems(tree: LocatedTree, fields: Fields, caps: Capabilities) -> list[Problem]:
    """The venue's rules for the fields written in one mapping, each at its own place."""
    problems = []
    for field in FIELDS:
        if field.name not in fields.present:
            continue
        path = (*fields.path, field.name)
        if not caps.supports(field.name):
            supported = ", ".join(f.name for f in FIELDS if caps.supports(f.name))
            message = f"{who(caps)} does not support `{field.name}` (it supports: {supported})"
            message += _only_on(caps, field.name)
            problems.append(tree.problem(path, message, at_key=True))
        elif field.name in fields.values:
            text = _value_problem(field, fields.values[field.name], caps)
            if text:
                problems.append(tree.problem(path, text))
    return problems


def _value_problem(field: MmpField, value: Any, caps: Capabilities) -> str:
    if field.kind is LIMIT:
        return _limit_problem(field.name, value, caps.limits[field.name], caps.venue)
    bound = caps.bound(field)
    if value == MANUAL:
        return "" if bound.allow_manual else f"{caps.venue} has no manual-reset freeze"
    return _duration_problem(field.name, value, bound, caps.venue)


def missing_problems(
    tree: LocatedTree,
    fields: Fields,
    defaults: Fields,
    caps: Capabilities,
    *,
    inherits: bool = True,
) -> list[Problem]:
    """What the venue requires of a scope, counting what the account's defaults give. A
    field written but unreadable is not missing (its own problem says why), nor is one that
    an unknown key is likely a typo of. `inherits`: the scope takes the account's defaults
    (not a scope of another config space, such as Deribit's block_rfq)."""
    given = fields.present | defaults.present | fields.meant | defaults.meant
    where = "set it here or in the account's defaults" if inherits else "set it here"
    messages = [
        f"`{f.name}` is required ({where})" for f in FIELDS if f.required and f.name not in given
    ]
    messages += [f"{who(caps)} requires `{name}`" for name in sorted(caps.required_limits - given)]
    if caps.at_least_one_of and not caps.at_least_one_of & given:
        names = ", ".join(sorted(caps.at_least_one_of))
        messages.append(f"{who(caps)} needs at least one of {names}")
    return [tree.problem(fields.path, message, at_key=True) for message in messages]


def _duration_problem(name: str, ms: int, bound: DurationBound, venue: str) -> str:
    shown = format_duration(ms)
    if ms % bound.step_ms:
        return (
            f"{name} {shown} cannot be expressed on {venue}, which takes {name} in whole "
            f"{bound.unit_name()}; refusing to round it"
        )
    if ms < bound.min_ms:
        return f"{name} {shown} is below {venue}'s minimum of {format_duration(bound.min_ms)}"
    if ms > bound.max_ms and not bound.max_assumed:  # an assumed one: the venue decides
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
    decimals = bound.max_decimals
    if decimals == 0 and decimal_places(value) and not bound.decimals_assumed:
        return f"{name} {shown} is not a whole number; {venue} takes whole numbers only"
    if decimals is not None and decimal_places(value) > decimals and not bound.decimals_assumed:
        return (
            f"{name} {shown} has {decimal_places(value)} decimal places; {venue} keeps at "
            f"most {bound.max_decimals}, and we never round a limit"
        )
    return ""


def underlying_problems(
    tree: LocatedTree, path: Path_, underlying: str, caps: Capabilities
) -> list[Problem]:
    """A name the venue does not know. Where the venue lists its underlyings (discovery),
    offline only its form is checked: the list is read at plan (policy/listed.py)."""
    text = underlying_problem(underlying, caps)
    return [tree.problem(path, text, at_key=True)] if text else []


def underlying_problem(underlying: str, caps: Capabilities) -> str:
    """What is wrong with an underlying's name on the venue ('' when nothing)."""
    if caps.discovery is not None:
        return _form_problem(underlying, caps, caps.discovery)
    if caps.underlyings is None or underlying in caps.underlyings:
        return ""
    if caps.names_assumed is not None:  # our list is an assumption: a well-formed name is taken
        return _form_problem(underlying, caps, caps.names_assumed)
    known = sorted(caps.underlyings)
    folded = underlying.lower().replace("-", "_")
    match = [k for k in known if k == folded or k.startswith(folded + "_")][:1]
    match = match or get_close_matches(folded, known, n=1)
    hint = (
        f"; did you mean `{match[0]}`?"
        if match
        else f" (known: {', '.join(known[:8])}{', ...' if len(known) > 8 else ''})"
    )
    return f"`{underlying}` is not {article(caps.venue)} {caps.venue} underlying{hint}"


def article(word: str) -> str:
    """'an' before a vowel (an okx, an aevo), else 'a'."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def _form_problem(underlying: str, caps: Capabilities, form: Discovery | NameForm) -> str:
    if re.fullmatch(form.pattern, underlying):
        return ""
    upper = underlying.upper()
    hint = f"; did you mean `{upper}`?" if re.fullmatch(form.pattern, upper) else ""
    shown = f"`{underlying}`" if underlying.isprintable() else repr(underlying)
    return f"{shown} is not a well-formed {caps.venue} underlying: {form.form}{hint}"


def live_problems(underlying: str, config: MmpConfig, caps: Capabilities) -> list[str]:
    """What validation would refuse in a live config written into the policies as it is
    (`mmp import`): its underlying's name, a value out of a documented bound, a field the
    venue does not take, a required one missing. `caps`: its space's rules."""
    own = caps.of_underlying(underlying)
    found = [underlying_problem(underlying, caps)]
    for field in FIELDS:
        value = config.value(field)
        if value is None:
            continue
        if not own.supports(field.name):
            found.append(f"{who(own)} does not support `{field.name}`")
        else:
            found.append(_value_problem(field, value, own))
    given = {f.name for f in FIELDS if config.value(f) is not None}
    found += [f"{who(own)} requires `{name}`" for name in sorted(own.required_limits - given)]
    if own.at_least_one_of and not own.at_least_one_of & given:
        found.append(f"{who(own)} needs at least one of {', '.join(sorted(own.at_least_one_of))}")
    return [text for text in found if text]


def _only_on(caps: Capabilities, name: str) -> str:
    """Where the field is taken instead, when only some underlyings of the space take it
    (Deribit Block RFQ's trade_count_limit, on `all` only)."""
    where = [f"`{u}`" for u, own in sorted(caps.by_underlying.items()) if own.supports(name)]
    return f"; `{name}` is taken on {', '.join(where)} only" if where else ""


def who(caps: Capabilities) -> str:
    """How the rules' messages name whose rules they are: the venue, or a scope of its own
    (Deribit Block RFQ's `all`)."""
    return caps.label or caps.venue


def absent_problems(tree: LocatedTree, path: Path_, caps: Capabilities) -> list[Problem]:
    if caps.remove is RemoveMode.UNSUPPORTED:
        return [
            tree.problem(
                path,
                f"{caps.venue} has no way to remove an MMP config, so `absent` cannot be applied; "
                "set the limits you want instead",
            )
        ]
    return []


def group_rules(
    tree: LocatedTree, base: Path_, declared: list[ScopeKey], caps: Capabilities
) -> list[Problem]:
    """The venue's rules for group names, over every group the account declares (whether
    or not its fields are valid)."""
    if not caps.groups:
        return []
    problems: list[Problem] = []
    bound_to: dict[str, str] = {}
    for key in declared:
        group, underlying = key.group, key.underlying
        if group is None or group == "*":
            continue
        path = (*base, "mmp", underlying, group)
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

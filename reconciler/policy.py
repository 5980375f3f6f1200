"""The policy file format: what each field takes, and the same as pydantic models for the
JSON Schema (`mmp schema`).

Validation does not run these models: `reconciler.shape` reads every field on its own with
the parsers below (so one bad field never hides another, and every message is ours), and
`reconciler.validate` applies each venue's rules. The models say the same in JSON Schema;
tests/test_schema.py checks the two agree on the example policies.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator

from reconciler.units import FreezeMs, parse_duration, parse_freeze, to_decimal

ENV_PREFIX = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
BASE_URL = re.compile(r"^https?://[^\s]+$")
ABSENT = "absent"
ENVIRONMENTS: tuple[str, ...] = ("production", "testnet")

DURATION_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": r"^\d+(ms|s|m|h)$",
    "description": "a whole number and a unit, with no space: 500ms, 5s, 1m, 1h",
}
Duration = Annotated[int, BeforeValidator(parse_duration), WithJsonSchema(DURATION_SCHEMA)]
Freeze = Annotated[
    FreezeMs,
    BeforeValidator(parse_freeze),
    WithJsonSchema(
        {"anyOf": [DURATION_SCHEMA, {"const": "manual", "description": "no automatic unfreeze"}]}
    ),
]
Limit = Annotated[
    Decimal,
    BeforeValidator(to_decimal),
    WithJsonSchema(
        {
            "type": "number",
            "description": "an exact decimal in plain notation (16, 0.5), written unquoted; "
            "not 0x10, 1e3 or 1_000",
        }
    ),
]

SCOPE_PARSERS: dict[str, Callable[[object], Any]] = {
    "window": parse_duration,
    "frozen": parse_freeze,
    "quantity_limit": to_decimal,
    "delta_limit": to_decimal,
    "vega_limit": to_decimal,
    "max_quote_quantity": to_decimal,
}
"""Each MMP field and how its value is read; a parser raises UnitError with the fix."""


def credentials_problem(value: object) -> str:
    """Why value cannot be a `credentials:` prefix, or '' when it can. Never echoes it."""
    if isinstance(value, dict):
        return (
            "credentials takes an environment-variable prefix such as DERIBIT_MAIN, "
            "not the credentials themselves; secrets never go in policies"
        )
    if not isinstance(value, str) or not ENV_PREFIX.match(value):
        return (
            "credentials must be an environment-variable prefix (A-Z, 0-9, _) such as "
            "DERIBIT_MAIN; the value given is not one and may be a literal secret, so it "
            "is not shown"
        )
    return ""


class ScopeSpec(BaseModel):
    """The MMP fields of one scope (or an account's defaults). Every field may be omitted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: Duration | None = Field(None, description="Counting window, e.g. 1s, 500ms")
    frozen: Freeze | None = Field(None, description="Freeze after a trigger, e.g. 30s, or manual")
    quantity_limit: Limit | None = None
    delta_limit: Limit | None = None
    vega_limit: Limit | None = None
    max_quote_quantity: Limit | None = None


class AccountSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    venue: str
    environment: Literal["production", "testnet"] | None = None
    base_url: str | None = Field(None, pattern=BASE_URL.pattern)
    credentials: str = Field(description="Environment-variable prefix, e.g. DERIBIT_MAIN")
    defaults: ScopeSpec | None = Field(None, description="fields every scope inherits")
    mmp: dict[str, Any] | None = Field(
        None,
        description="underlying -> fields (or group -> fields on grouped venues) or `absent`; "
        "empty while adopting",
    )

    @field_validator("credentials", mode="before")
    @classmethod
    def _env_prefix(cls, value: object) -> object:
        problem = credentials_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    accounts: dict[str, AccountSpec] | None = None


SCOPE_FIELDS: tuple[str, ...] = tuple(ScopeSpec.model_fields)
ACCOUNT_FIELDS: tuple[str, ...] = tuple(AccountSpec.model_fields)

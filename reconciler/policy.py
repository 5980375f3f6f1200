"""The policy file format as pydantic models (extra keys forbidden), and its JSON Schema.

The per-venue shape of `mmp:` (grouped or not) and the venue's bounds are checked after
these models, in `reconciler.validate`, because they depend on the account's venue.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator

from reconciler.units import FreezeMs, parse_duration, parse_freeze, to_decimal

ENV_PREFIX = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
ABSENT = "absent"

DURATION_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": r"^\s*\d+\s*(ms|s|m|h)\s*$",
    "description": "a whole number and a unit: 500ms, 5s, 1m, 1h",
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
    WithJsonSchema({"type": "number", "description": "an exact decimal, written unquoted"}),
]


class ScopeSpec(BaseModel):
    """The MMP fields of one scope (or an account's defaults). Every field may be omitted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: Duration | None = Field(None, description="Counting window, e.g. 1s, 500ms")
    frozen: Freeze | None = Field(None, description="Freeze after a trigger, e.g. 30s, or manual")
    quantity_limit: Limit | None = None
    delta_limit: Limit | None = None
    vega_limit: Limit | None = None
    max_quote_quantity: Limit | None = None

    def set_fields(self) -> dict[str, Any]:
        return {name: value for name, value in self if value is not None}


class AccountSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    venue: str
    environment: Literal["production", "testnet"] | None = None
    base_url: str | None = Field(None, pattern=r"^https?://[^\s]+$")
    credentials: str = Field(description="Environment-variable prefix, e.g. DERIBIT_MAIN")
    defaults: ScopeSpec = ScopeSpec()
    mmp: dict[str, Any] = Field(
        default_factory=dict,
        description="underlying -> fields (or group -> fields on grouped venues) or `absent`",
    )

    @field_validator("credentials", mode="before")
    @classmethod
    def _env_prefix(cls, value: object) -> object:
        if isinstance(value, dict):
            raise ValueError(
                "credentials takes an environment-variable prefix such as DERIBIT_MAIN, "
                "not the credentials themselves; secrets never go in policies"
            )
        if not isinstance(value, str) or not ENV_PREFIX.match(value):
            raise ValueError(
                "credentials must be an environment-variable prefix (A-Z, 0-9, _) such as "
                "DERIBIT_MAIN; the value given is not one and may be a literal secret, so it "
                "is not shown"
            )
        return value


class PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    accounts: dict[str, AccountSpec] = Field(default_factory=dict)


SCOPE_FIELDS: tuple[str, ...] = tuple(ScopeSpec.model_fields)
ACCOUNT_FIELDS: tuple[str, ...] = tuple(AccountSpec.model_fields)

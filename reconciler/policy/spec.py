"""The policy file format: what each field takes, and the same as pydantic models for the
JSON Schema (`mmp schema`).

Validation does not run these models: `reconciler.policy.shape` reads every field on its own with
the parsers below (so one bad field never hides another, and every message is ours), and
`reconciler.policy.validate` applies each venue's rules. The models say the same in JSON Schema;
tests/test_schema.py checks the two agree on the example policies.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    create_model,
    field_validator,
)

from reconciler.core.mmpfields import DURATION, FIELDS, FREEZE, LIMIT, Kind
from reconciler.core.units import FreezeMs

ENV_PREFIX = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
# https anywhere; plain http only to this machine (a simulator, a local proxy): over http the
# key, the signature and Deribit's client_secret would cross the network in clear
LOOPBACK = r"(?:localhost|127(?:\.[0-9]{1,3}){3}|\[::1\])(?::[0-9]{1,5})?(?:[/?#][^\s]*)?"
BASE_URL = re.compile(rf"^(?:https://[^\s]+|http://{LOOPBACK})$")
ANY_URL = re.compile(r"^https?://[^\s]+$")
ABSENT = "absent"
ENVIRONMENTS: tuple[str, ...] = ("production", "testnet")

DURATION_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": r"^\d+(ms|s|m|h)$",
    "description": "a whole number and a unit, with no space: 500ms, 5s, 1m, 1h",
}
Duration = Annotated[int, BeforeValidator(DURATION.parse), WithJsonSchema(DURATION_SCHEMA)]
Freeze = Annotated[
    FreezeMs,
    BeforeValidator(FREEZE.parse),
    WithJsonSchema(
        {"anyOf": [DURATION_SCHEMA, {"const": "manual", "description": "no automatic unfreeze"}]}
    ),
]
Limit = Annotated[
    Decimal,
    BeforeValidator(LIMIT.parse),
    WithJsonSchema(
        {
            "type": "number",
            "description": "an exact decimal in plain notation (16, 0.5), written unquoted; "
            "not 0x10, 1e3 or 1_000",
        }
    ),
]

SCHEMA_TYPES: dict[Kind, Any] = {DURATION: Duration, FREEZE: Freeze, LIMIT: Limit}
"""The JSON Schema of each kind of MMP field (reconciler.core.mmpfields)."""
SCOPE_PARSERS: dict[str, Callable[[object], Any]] = {f.name: f.parse for f in FIELDS}
"""Each MMP field and how its value is read; a parser raises UnitError with the fix."""


def credentials_problem(value: object) -> str:
    """Why value cannot be a `credentials:` prefix, or '' when it can. Never echoes it."""
    if isinstance(value, dict):
        return (
            "credentials takes an environment-variable prefix such as DERIBIT_MAIN, "
            "not the credentials themselves; secrets never go in policies"
        )
    # fullmatch: `$` alone also matches before a final newline ("X\n" is no prefix)
    if not isinstance(value, str) or not ENV_PREFIX.fullmatch(value):
        return (
            "credentials must be an environment-variable prefix (A-Z, 0-9, _) such as "
            "DERIBIT_MAIN; the value given is not one and may be a literal secret, so it "
            "is not shown"
        )
    if value == "GITHUB" or value.startswith("GITHUB_"):
        return (
            "credentials must not start with GITHUB: GitHub refuses secret names that start "
            "with GITHUB_, so the workflows could not pass these variables; choose another "
            "prefix, such as the venue's name and the account's"
        )
    return ""


def _scope_spec() -> type[BaseModel]:
    fields: dict[str, Any] = {
        f.name: (SCHEMA_TYPES[f.kind] | None, Field(None, description=f.description or None))
        for f in FIELDS
    }
    return create_model(
        "ScopeSpec",
        __config__=ConfigDict(extra="forbid", frozen=True),
        __doc__="The MMP fields of one scope (or an account's defaults). Every field may be "
        "omitted.",
        **fields,
    )


if TYPE_CHECKING:
    ScopeSpec = BaseModel
else:
    ScopeSpec = _scope_spec()  # one optional entry per MMP field, in the fields' order


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
    block_rfq: dict[str, Any] | None = Field(
        None,
        description="Deribit only: Block RFQ MMP, its own scopes (read and written with "
        "block_rfq: true): index, or `all` for trade_count_limit, -> fields or `absent`; no "
        "groups, and `defaults` do not apply here",
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


SPACES: tuple[str, ...] = ("block_rfq",)
"""Account sections of a venue's other MMP config spaces (reconciler.venues.base
Capabilities.spaces): each maps an underlying to its fields, or `absent`, like `mmp`."""
SCOPE_FIELDS: tuple[str, ...] = tuple(ScopeSpec.model_fields)
ACCOUNT_FIELDS: tuple[str, ...] = tuple(AccountSpec.model_fields)

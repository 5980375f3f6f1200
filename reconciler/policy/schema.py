"""`mmp schema`: the JSON Schema of policy files, for editors and checks.

Built from the same pydantic models the validator uses, plus what they cannot say alone:
the known venues, and the shape of `mmp:` (an underlying's fields, or on grouped venues a
group name to fields, or `absent`). `accounts:`, `defaults:` and `mmp:` may be empty (null),
as while adopting; `environment:`, `base_url:` and the MMP fields may be left out but not
left empty. The venue-specific rules (bounds, supported fields,
grouping) stay in `mmp validate`, which reports them with file:line.

The guardrails file (`policies/guardrails.yaml`, its `heal:` setting included) is described
by `$defs/Guardrails` of the same schema, from the model `mmp validate` reads it with.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.policy.guards import Guardrails
from reconciler.policy.spec import PolicyFile
from reconciler.venues import VENUES

SCHEMA_ID = "https://github.com/mmp-reconciler/mmp-reconciler/schema/mmp-policy.schema.json"


def schema() -> dict[str, Any]:
    data = PolicyFile.model_json_schema()
    defs = data.setdefault("$defs", {})
    absent = {"const": "absent", "description": "remove this scope's MMP config"}
    scope = {"$ref": "#/$defs/ScopeSpec"}
    defs["Underlying"] = {
        "anyOf": [
            absent,
            scope,
            {
                "type": "object",
                "description": "grouped venues (Deribit): group name -> fields; "
                "`default` is the regular-orders group",
                "additionalProperties": {"anyOf": [absent, scope]},
            },
        ]
    }
    properties = defs["AccountSpec"]["properties"]
    properties["venue"] = {"enum": sorted(VENUES), "description": "the venue"}
    for name in ("environment", "base_url"):  # optional, but never empty when written
        properties[name] = _without_null(properties[name])
    fields = defs["ScopeSpec"]["properties"]
    for name in fields:  # each MMP field too
        fields[name] = _without_null(fields[name])
    mapping = next(branch for branch in properties["mmp"]["anyOf"] if branch["type"] == "object")
    mapping["additionalProperties"] = {"$ref": "#/$defs/Underlying"}
    defs.update(_guardrails())
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "mmp-reconciler policy file",
        **data,
    }


def _guardrails() -> dict[str, Any]:
    """`Guardrails` (the whole guardrails file) and the definitions it refers to."""
    data = Guardrails.model_json_schema()
    defs: dict[str, Any] = data.pop("$defs")
    venues = defs["Heal"]["properties"]["venues"]
    venues["items"] = {"enum": sorted(VENUES)}
    return {**defs, "Guardrails": {**data, "title": "mmp-reconciler guardrails file"}}


def _without_null(prop: dict[str, Any]) -> dict[str, Any]:
    kept = [branch for branch in prop.pop("anyOf") if branch != {"type": "null"}]
    prop.pop("default", None)
    return {**prop, **(kept[0] if len(kept) == 1 else {"anyOf": kept})}


def schema_text() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"

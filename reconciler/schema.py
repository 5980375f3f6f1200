"""`mmp schema`: the JSON Schema of policy files, for editors and checks.

Built from the same pydantic models the validator uses, plus what they cannot say alone:
the known venues, and the shape of `mmp:` (an underlying's fields, or on grouped venues a
group name to fields, or `absent`). The venue-specific rules (bounds, supported fields,
grouping) stay in `mmp validate`, which reports them with file:line.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.policy import PolicyFile
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
    account = defs["AccountSpec"]
    account["properties"]["venue"] = {"enum": sorted(VENUES), "description": "the venue"}
    account["properties"]["mmp"].pop("default", None)
    account["properties"]["mmp"]["additionalProperties"] = {"$ref": "#/$defs/Underlying"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "mmp-reconciler policy file",
        **data,
    }


def schema_text() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"
